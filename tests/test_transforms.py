"""Transforms: normalisation, resizing, and augmentation that moves image and label together."""
import numpy as np
import pytest
import torch

from libs.datasets.transforms import (
    FLIPS,
    IMAGENET_MEAN,
    IMAGENET_STD,
    AugmentParams,
    ClipTransform,
    apply_augment,
    denormalize,
    draw_augment_params,
    eval_transform,
    image_train_transform,
    normalize,
    random_crop_box,
    video_train_transform,
)


def _scene(h=30, w=40):
    """A gray image with an asymmetric white 'L' on black, and its exact label."""
    label = torch.zeros(1, 1, h, w)
    label[..., 4:20, 5:11] = 1.0
    label[..., 14:20, 5:30] = 1.0
    image = 0.15 + 0.7 * label.expand(1, 3, h, w).clone()
    return image, label


def test_normalize_constants_and_round_trip():
    assert IMAGENET_MEAN == (0.485, 0.456, 0.406) and IMAGENET_STD == (0.229, 0.224, 0.225)
    x = torch.rand(2, 4, 3, 5, 6)
    y = normalize(x)
    assert torch.allclose(y[:, :, 1], (x[:, :, 1] - 0.456) / 0.224)
    assert torch.allclose(denormalize(y), x, atol=1e-6)


def test_eval_transform_resizes_non_square_and_keeps_labels_soft():
    images, labels = torch.rand(3, 3, 12, 20), torch.zeros(3, 1, 12, 20)
    labels[..., :, 7:] = 1.0
    out_images, out_labels = eval_transform(8)(images, labels)
    assert out_images.shape == (3, 3, 8, 8) and out_labels.shape == (3, 1, 8, 8)
    assert out_labels.min() >= 0 and out_labels.max() <= 1
    soft = ((out_labels > 0.01) & (out_labels < 0.99)).any()
    assert soft, "labels must be resized bilinearly, not thresholded"
    same, lab = ClipTransform(None)(images, labels)
    assert same.shape == images.shape and torch.equal(lab, labels)


def test_fixed_params_give_known_geometry():
    image, label = _scene()
    full = (0, 0, 30, 40)
    for flip, dims in (("none", []), ("horizontal", [-1]), ("vertical", [-2]), ("both", [-2, -1])):
        p = AugmentParams(1.0, 1.0, 1.0, (0, 1, 2), full, flip)
        out_image, out_label = apply_augment(image, label, p, size=None)
        assert torch.allclose(out_label, label.flip(dims) if dims else label)
        assert torch.allclose(out_image, image.flip(dims) if dims else image, atol=1e-6)
    p = AugmentParams(1.0, 1.0, 1.0, (0, 1, 2), (4, 5, 16, 6), "none")  # the L's vertical bar
    _, out_label = apply_augment(image, label, p, size=None)
    assert out_label.shape == (1, 1, 16, 6) and bool((out_label == 1).all())


def test_image_train_transform_moves_image_and_label_together():
    image, label = _scene()
    transform = image_train_transform(24)
    outputs = []
    for seed in range(16):
        g = torch.Generator().manual_seed(seed)
        out_image, out_label = transform(image, label, generator=g)
        assert out_image.shape == (1, 3, 24, 24) and out_label.shape == (1, 1, 24, 24)
        # Jitter keeps a black/white image ordered, so its bright pixels are still the label.
        gray = denormalize(out_image).mean(dim=1, keepdim=True)
        bright = gray > (gray.min() + gray.max()) / 2
        fg = out_label > 0.5
        iou = (bright & fg).sum().item() / max((bright | fg).sum().item(), 1)
        assert iou > 0.9, (seed, iou)
        outputs.append(out_label)
    assert len({tuple(o.flatten().round(decimals=3).tolist()) for o in outputs}) > 8


def test_draws_cover_all_flips_and_respect_ranges():
    g = torch.Generator().manual_seed(0)
    flips = set()
    for _ in range(200):
        p = draw_augment_params(60, 80, generator=g)
        flips.add(p.flip)
        top, left, h, w = p.crop
        assert 0 <= top and top + h <= 60 and 0 <= left and left + w <= 80
        assert 0.65 <= h * w / (60 * 80) <= 1.0
        assert 0.7 <= p.brightness <= 1.3 and 0.7 <= p.contrast <= 1.3 and 0.7 <= p.saturation <= 1.3
        assert sorted(p.order) == [0, 1, 2, 3] and -0.3 <= p.hue <= 0.3
    assert flips == set(FLIPS)


def test_crop_box_falls_back_inside_the_image():
    g = torch.Generator().manual_seed(0)
    top, left, h, w = random_crop_box(10, 200, scale=(0.99, 1.0), ratio=(1.0, 1.0), generator=g)
    assert (h, w) == (10, 10) and top == 0 and left == 95


def test_clip_augmentation_is_drawn_once_per_clip():
    frame = torch.rand(1, 3, 20, 30)
    label = (torch.rand(1, 1, 20, 30) > 0.5).float()
    transform = video_train_transform(16, augment=True)
    images, labels = transform(frame.expand(5, -1, -1, -1), label.expand(5, -1, -1, -1),
                               generator=torch.Generator().manual_seed(3))
    assert all(torch.equal(images[0], images[t]) and torch.equal(labels[0], labels[t]) for t in range(5))


def test_augmentation_is_deterministic_given_a_generator():
    frame = torch.rand(2, 3, 20, 30)
    transform = image_train_transform(16)
    a, _ = transform(frame, None, generator=torch.Generator().manual_seed(7))
    b, _ = transform(frame, None, generator=torch.Generator().manual_seed(7))
    c, _ = transform(frame, None, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_video_transform_has_no_augmentation_by_default():
    frame = torch.rand(2, 3, 16, 16)
    out, _ = video_train_transform(16)(frame, None)
    assert torch.allclose(denormalize(out), frame, atol=1e-6)


def test_hue_is_jittered_by_up_to_0_3_as_published():
    g = torch.Generator().manual_seed(0)
    hues = [draw_augment_params(20, 20, generator=g).hue for _ in range(200)]
    assert min(hues) < -0.2 and max(hues) > 0.2 and all(-0.3 <= h <= 0.3 for h in hues)


@pytest.mark.parametrize("shift", [0.25, -0.1])
def test_hue_shift_matches_colorsys(shift):
    import colorsys

    arr = np.random.default_rng(1).random((4, 5, 3)).astype(np.float32)
    expected = np.empty_like(arr)
    for y in range(4):
        for x in range(5):
            h, s_, v = colorsys.rgb_to_hsv(*arr[y, x])
            expected[y, x] = colorsys.hsv_to_rgb((h + shift) % 1.0, s_, v)
    x = torch.from_numpy(arr).permute(2, 0, 1)[None]
    p = AugmentParams(1.0, 1.0, 1.0, (3, 0, 1, 2), (0, 0, 4, 5), "none", hue=shift)
    out, _ = apply_augment(x, None, p, size=None)
    assert np.abs(out[0].permute(1, 2, 0).numpy() - expected).max() < 1e-4


@pytest.mark.parametrize("factor", [0.7, 1.3])
def test_brightness_matches_pil(factor):
    from PIL import Image, ImageEnhance

    arr = (np.random.default_rng(0).random((6, 7, 3)) * 255).astype(np.uint8)
    expected = np.asarray(ImageEnhance.Brightness(Image.fromarray(arr)).enhance(factor), np.float32) / 255
    x = torch.from_numpy(arr).permute(2, 0, 1)[None].float() / 255
    p = AugmentParams(factor, 1.0, 1.0, (0, 1, 2), (0, 0, 6, 7), "none")
    out, _ = apply_augment(x, None, p, size=None)
    assert np.abs(out[0].permute(1, 2, 0).numpy() - expected).max() <= 1.5 / 255
