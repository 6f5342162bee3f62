"""Post-processing of saliency probabilities: rounding, bilinear resizing, overlays."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from libs.pipeline.postprocess import overlay, probabilities_to_maps


def _constant(value, size=(4, 4)):
    return torch.full((1, 1) + size, float(value))


@pytest.mark.parametrize("level", [0, 1, 17, 127, 128, 200, 254])
def test_rounds_to_nearest_level_not_truncates(level):
    just_below = (level + 0.5 - 1e-3) / 255.0  # truncation would give `level` for both
    just_above = (level + 0.5 + 1e-3) / 255.0
    low = probabilities_to_maps(_constant(just_below), [(4, 4)])[0]
    high = probabilities_to_maps(_constant(just_above), [(4, 4)])[0]
    assert (low == level).all()
    assert (high == level + 1).all()


def test_extremes_and_out_of_range_values_are_clamped():
    prob = torch.tensor([[[[0.0, 1.0], [-0.01, 1.01]]]])
    out = probabilities_to_maps(prob, [(2, 2)])[0]
    assert out.dtype == np.uint8
    assert out.tolist() == [[0, 255], [0, 255]]


def test_same_size_is_not_resampled():
    prob = torch.rand(1, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    out = probabilities_to_maps(prob, [(8, 8)])[0]
    expected = np.clip(np.floor(prob[0, 0].double().numpy() * 255.0 + 0.5), 0, 255)
    # Only exact .5 ties may round differently (half-to-even); none occur with random floats.
    assert np.array_equal(out, expected.astype(np.uint8))


def test_resizes_bilinearly_each_item_to_its_own_size():
    gen = torch.Generator().manual_seed(1)
    prob = torch.rand(3, 1, 16, 16, generator=gen)
    sizes = [(24, 40), (7, 5), (16, 16)]
    maps = probabilities_to_maps(prob, sizes)
    assert [m.shape for m in maps] == sizes
    for b, (h, w) in enumerate(sizes):
        ref = F.interpolate(prob[b : b + 1].double(), size=(h, w), mode="bilinear", align_corners=False)
        ref = ref[0, 0].numpy() * 255.0
        assert maps[b].dtype == np.uint8
        # Nearest level of the bilinear reference (float32 vs float64 may differ by one at ties).
        assert np.abs(maps[b].astype(np.float64) - ref).max() <= 0.5 + 1e-3


def test_resizing_is_bilinear_not_nearest_or_bicubic():
    # A step edge upsampled x4: bilinear gives intermediate levels and no overshoot.
    prob = torch.tensor([[[[0.0, 1.0], [0.0, 1.0]]]])
    out = probabilities_to_maps(prob, [(8, 8)])[0].astype(int)
    row = out[0].tolist()
    assert row == sorted(row) and row[0] == 0 and row[-1] == 255
    assert len(set(row)) > 2  # nearest would give only 0 and 255
    assert out.min() >= 0 and out.max() <= 255


def test_batch_items_do_not_mix():
    prob = torch.stack([_constant(0.0)[0], _constant(1.0)[0]])
    a, b = probabilities_to_maps(prob, [(3, 9), (10, 2)])
    assert a.shape == (3, 9) and (a == 0).all()
    assert b.shape == (10, 2) and (b == 255).all()


def test_accepts_half_precision_probabilities():
    prob = torch.full((1, 1, 4, 4), 0.5, dtype=torch.bfloat16)
    out = probabilities_to_maps(prob, [(6, 6)])[0]
    assert out.dtype == np.uint8 and (out == 128).all()


def test_overlay_leaves_zero_saliency_pixels_unchanged():
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, size=(12, 20, 3), dtype=np.uint8)
    saliency = np.zeros((12, 20), np.uint8)
    saliency[3:8, 5:15] = rng.integers(1, 256, size=(5, 10), dtype=np.uint8)
    out = overlay(frame, saliency, color=(255, 40, 40))
    assert out.dtype == np.uint8 and out.shape == frame.shape
    zero = saliency == 0
    assert np.array_equal(out[zero], frame[zero])
    # Salient pixels move towards the tint colour, more for higher saliency.
    color = np.array([255, 40, 40], np.float64)
    before = np.abs(frame.astype(np.float64) - color).sum(-1)
    after = np.abs(out.astype(np.float64) - color).sum(-1)
    assert (after[~zero] <= before[~zero] + 1.5).all()
    full = overlay(frame, np.full((12, 20), 255, np.uint8), color=(255, 40, 40), strength=1.0)
    assert (full == color.astype(np.uint8)).all()
