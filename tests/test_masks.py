"""The one mask decoder (:mod:`libs.utils.masks`), a test per row of its table in
docs/pipeline.md, and the same decoding in training, evaluation and generation."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from libs.datasets.loading import read_label
from libs.utils.io import load_map_u8, load_mask
from libs.utils.masks import decode_mask, mask_kind, mask_object_count

# The first entries of the DAVIS 2017 palette: background, then objects 1, 2, 3.
DAVIS_PALETTE = [0, 0, 0, 128, 0, 0, 0, 128, 0, 128, 128, 0, 0, 0, 128]


def _objects():
    """A 6x8 id map: background 0, objects 1, 2, 3."""
    ids = np.zeros((6, 8), np.uint8)
    ids[1:3, 1:3] = 1
    ids[3:5, 4:6] = 2
    ids[0, 7] = 3
    return ids


def _palette(ids, palette=DAVIS_PALETTE):
    img = Image.fromarray(ids, mode="P")
    img.putpalette(palette + [0, 0, 0] * (256 - len(palette) // 3))
    return img


def _save(img, path):
    img.save(path)
    return path


def test_gray_8bit_is_the_published_rule(tmp_path):
    soft = np.array([[0, 51, 128, 255]], np.uint8)
    assert np.allclose(load_mask(_save(Image.fromarray(soft, "L"), tmp_path / "s.png")), soft / 255.0)
    ones = np.array([[0, 1, 1, 0]], np.uint8)  # a 0/1 mask: used as it is, not / 255
    assert np.array_equal(load_mask(_save(Image.fromarray(ones, "L"), tmp_path / "b.png")), ones.astype(np.float32))
    assert mask_kind(Image.fromarray(ones, "L")) == "gray"


def test_one_bit_mask(tmp_path):
    ids = _objects()
    img = Image.fromarray(ids > 0).convert("1")
    assert mask_kind(img) == "1-bit"
    assert np.array_equal(load_mask(_save(img, tmp_path / "m.png")), (ids > 0).astype(np.float32))


@pytest.mark.parametrize("objects", [1, 3])
def test_palette_every_object_is_foreground_whatever_the_colours(tmp_path, objects):
    ids = np.minimum(_objects(), objects)
    expected = (ids > 0).astype(np.float32)
    assert np.array_equal(load_mask(_save(_palette(ids), tmp_path / "davis.png")), expected)
    # Luminance would have made DAVIS object 1 (128, 0, 0) a soft label of 0.149: not foreground.
    assert np.asarray(_palette(ids).convert("L")).max() < 129
    # Another palette entirely (index 1 drawn black, index 0 white): the indices decide.
    odd = [255, 255, 255, 0, 0, 0, 10, 10, 10, 200, 0, 200]
    assert np.array_equal(load_mask(_save(_palette(ids, odd), tmp_path / "odd.png")), expected)
    assert mask_object_count(_palette(ids)) == objects


def test_rgb_with_equal_channels_is_gray(tmp_path):
    gray = np.array([[0, 64, 255, 1]], np.uint8)
    rgb = np.repeat(gray[..., None], 3, axis=2)
    img = Image.fromarray(rgb, "RGB")
    assert mask_kind(img) == "rgb-gray"
    assert np.allclose(load_mask(_save(img, tmp_path / "g.png")), gray / 255.0)
    rgba = np.concatenate([rgb, np.full_like(rgb[..., :1], 255)], axis=2)  # opaque alpha: ignored
    assert np.allclose(load_mask(_save(Image.fromarray(rgba, "RGBA"), tmp_path / "ga.png")), gray / 255.0)
    ones = np.repeat(np.array([[0, 1, 1]], np.uint8)[..., None], 3, axis=2)  # 0/1 in RGB: the published rule
    assert np.array_equal(load_mask(_save(Image.fromarray(ones, "RGB"), tmp_path / "o.png")), [[0, 1, 1]])


def test_rgb_with_coloured_ids_every_non_black_pixel_is_foreground(tmp_path):
    ids = _objects()
    colours = np.array([[0, 0, 0], [128, 0, 0], [0, 128, 0], [0, 0, 3]], np.uint8)
    img = Image.fromarray(colours[ids], "RGB")
    assert mask_kind(img) == "rgb-coloured"
    assert np.array_equal(load_mask(_save(img, tmp_path / "c.png")), (ids > 0).astype(np.float32))
    rgba = np.concatenate([colours[ids], np.full(ids.shape + (1,), 7, np.uint8)], axis=2)
    assert np.array_equal(load_mask(_save(Image.fromarray(rgba, "RGBA"), tmp_path / "ca.png")),
                          (ids > 0).astype(np.float32))
    assert mask_object_count(img) == 3


def test_transparency_mask_reads_its_alpha(tmp_path):
    alpha = np.array([[0, 255, 128, 0]], np.uint8)
    rgba = np.zeros((1, 4, 4), np.uint8)
    rgba[..., 3] = alpha
    img = Image.fromarray(rgba, "RGBA")
    assert mask_kind(img) == "alpha"
    assert np.allclose(load_mask(_save(img, tmp_path / "t.png")), alpha / 255.0)
    la = np.stack([np.zeros_like(alpha), alpha], axis=2)
    assert np.allclose(load_mask(_save(Image.fromarray(la, "LA"), tmp_path / "la.png")), alpha / 255.0)


def test_sixteen_bit_maps_are_scaled_by_their_depth(tmp_path):
    import cv2

    values = np.array([[0, 257, 32768, 65535]], np.uint16)
    cv2.imwrite(str(tmp_path / "m16.png"), values)
    assert np.allclose(load_mask(tmp_path / "m16.png"), values / 65535.0)
    # A 16-bit map whose values stay under 256 is still 16-bit: not divided by 255.
    low = np.array([[0, 100, 200, 255]], np.uint16)
    cv2.imwrite(str(tmp_path / "low16.png"), low)
    assert np.allclose(load_mask(tmp_path / "low16.png"), low / 65535.0)


def test_float_maps_follow_the_gray_rule_clipped():
    # 32-bit float (e.g. a TIFF): as they are when the maximum is <= 1, else / 255; clipped, NaN as 0.
    soft = np.array([[0.0, 0.25, 1.0, np.nan]], np.float32)
    img = Image.fromarray(soft, "F")
    assert mask_kind(img) == "float"
    assert decode_mask(img).tolist() == [[0.0, 0.25, 1.0, 0.0]]
    big = np.array([[-5.0, 51.0, 255.0, 510.0]], np.float32)
    np.testing.assert_allclose(decode_mask(Image.fromarray(big, "F")), [[0.0, 0.2, 1.0, 1.0]], rtol=0, atol=1e-7)


def test_predictions_are_maps_not_masks(tmp_path):
    # A nearly black prediction (max 1 of 255) must not be read as a 0/1 mask.
    pred = np.array([[0, 1, 0, 1]], np.uint8)
    assert load_map_u8(_save(Image.fromarray(pred, "L"), tmp_path / "p.png")).tolist() == [[0, 1, 0, 1]]
    assert load_mask(tmp_path / "p.png").max() == 1.0  # as a mask, the published rule applies


def test_training_label_reads_palette_objects_as_foreground(tmp_path):
    ids = _objects()
    frame = _save(Image.new("RGB", (8, 6)), tmp_path / "f.jpg")
    label = read_label(_save(_palette(ids), tmp_path / "f.png"), frame, (6, 8))
    assert torch.equal(label[0], torch.from_numpy((ids > 0).astype(np.float32)))


def test_evaluation_counts_palette_objects_as_foreground(tmp_path):
    """A perfect prediction against multi-object palette GT scores MAE 0 and J 1 (read as
    luminance, the objects were background and it scored MAE > 0)."""
    from libs.pipeline.evaluation import evaluate_folders

    ids = np.zeros((32, 40), np.uint8)
    ids[4:12, 4:14], ids[16:28, 20:36] = 1, 3
    (tmp_path / "gt" / "v").mkdir(parents=True)
    (tmp_path / "pred" / "v").mkdir(parents=True)
    for name in ("00000", "00001"):
        _save(_palette(ids), tmp_path / "gt" / "v" / f"{name}.png")
        _save(Image.fromarray(((ids > 0) * 255).astype(np.uint8), "L"), tmp_path / "pred" / "v" / f"{name}.png")
    report = evaluate_folders(tmp_path / "pred", tmp_path / "gt", num_workers=0)
    assert report["overall"]["MAE"] == 0.0
    assert report["overall"]["J"] == 1.0
    json.dumps(report)  # plain numbers


def test_size_mismatch_names_both_files(tmp_path):
    from libs.datasets import DatasetError

    frame = _save(Image.new("RGB", (8, 6)), tmp_path / "f.jpg")
    mask = _save(_palette(np.zeros((5, 8), np.uint8)), tmp_path / "f.png")
    with pytest.raises(DatasetError) as e:
        read_label(mask, frame, (6, 8))
    assert str(mask) in str(e.value) and str(frame) in str(e.value)


def test_empty_mask_file_is_named_as_empty(tmp_path):
    from libs.datasets.loading import header_size
    from libs.utils.io import ImageReadError

    empty = tmp_path / "f3.png"
    empty.write_bytes(b"")
    for read in (load_mask, header_size):
        with pytest.raises(ImageReadError, match=r"f3\.png: empty file \(0 bytes\)"):
            read(empty)
