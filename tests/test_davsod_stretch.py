"""``evaluate.py --protocol davsod``: the min-max stretch's edge cases against the toolbox's rule.

main.m (DengPingFan/DAVSOD, EvaluateTool) stretches every map with ``mapminmax(sal(:)', 0, 1)``:
``(x - min) / (max - min)``, and MATLAB's ``mapminmax`` leaves a constant row unchanged ("If
xmax = xmin ... y = x and no change occurs", its documentation). The reference here applies
that rule in exact rational arithmetic, then main.m's per-frame numbers (``Fmeasure_calu.m``,
``mean2``) with exact thresholds k/255, on low-contrast maps (values 100..104 and 100..103)
and constant maps (0, 90, 255). S comes from the S-measure paper's loop in
tests/metric_references.py, not from pysodmetrics. Where a stretched value equals a
threshold exactly, pysodmetrics may count it one threshold lower (docs/evaluation.md, "What
the toolbox leaves open"): the one such case here is pinned as documented.
"""
from fractions import Fraction

import numpy as np
import pytest
from metric_references import s_measure_ref
from PIL import Image

from libs.metrics.saliency import SaliencyEvaluator
from libs.pipeline.evaluation import evaluate_folders


def write_png(path, arr):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def toolbox_stretch(pred_u8):
    """im2double + mapminmax(., 0, 1), exactly: Fractions ``(H, W)`` (object array)."""
    lo, hi = int(pred_u8.min()), int(pred_u8.max())
    if lo == hi:
        return np.vectorize(lambda v: Fraction(int(v), 255), otypes=[object])(pred_u8)
    return np.vectorize(lambda v: Fraction(int(v) - lo, hi - lo), otypes=[object])(pred_u8)


def toolbox_f(sal, gt, threshold):
    """Fmeasure_calu.m: ``sal >= min(threshold, 1)``, F = 0 when no GT pixel is hit."""
    label = np.vectorize(lambda s: s >= min(threshold, 1), otypes=[bool])(sal)
    num_and, num_rec, num_obj = np.count_nonzero(label & gt), np.count_nonzero(label), np.count_nonzero(gt)
    if num_and == 0:
        return 0.0
    p, r = Fraction(num_and, num_rec), Fraction(num_and, num_obj)
    return float(Fraction(13, 10) * p * r / (Fraction(3, 10) * p + r))


def toolbox_exact(pred_u8, gt_u8):
    gt = gt_u8 > 128
    sal = toolbox_stretch(pred_u8)
    mean = sum(sal.ravel()) / sal.size
    return {
        "S": s_measure_ref(sal.astype(np.float64), gt),
        "adpF": toolbox_f(sal, gt, 2 * mean),
        "MAE": float(sum(abs(Fraction(int(g)) - s) for g, s in zip(gt.ravel(), sal.ravel())) / sal.size),
        "curveF": np.array([toolbox_f(sal, gt, Fraction(k, 255)) for k in range(255, -1, -1)]),
    }


EDGE_GT = np.zeros((6, 8), np.uint8)
EDGE_GT[1:4, 2:6] = 255


def _low_contrast(top):
    """Values 100..``top`` around the GT object: contrast of 3 or 4 grey levels in 255."""
    m = np.full((6, 8), 100, np.uint8)
    m[1:4, 2:6] = top
    m[2, 3], m[4, 1], m[0, 7] = top - 1, 101, top - 2
    return m


EDGE_MAPS = {
    "low_contrast_100_104": _low_contrast(104),  # stretched to quarters: no threshold is hit exactly
    "low_contrast_100_103": _low_contrast(103),  # stretched to thirds: 1/3 = 85/255 exactly (a tie)
    "constant_90": np.full((6, 8), 90, np.uint8),
    "constant_0": np.zeros((6, 8), np.uint8),
    "constant_255": np.full((6, 8), 255, np.uint8),
}
# The documented tie (docs/evaluation.md, "What the toolbox leaves open"): for 100..103, 101
# stretches to 1/3 = 85/255; pysodmetrics computes (101/255 - 100/255) / (3/255) one ulp below
# 1/3 and counts it from threshold 84 on, the toolbox's rule as written from 85.
TIES = {"low_contrast_100_103": {85: 101}}


def _release(root, maps):
    """DAVSOD release layout, one video per map: the map is the middle of three frames (the
    first and last, which main.m skips, are all-255 maps on empty GT)."""
    gt, pred = root / "release", root / "pred"
    for video, middle in maps.items():
        for i, p in enumerate((np.full((6, 8), 255, np.uint8), middle, np.full((6, 8), 255, np.uint8))):
            write_png(gt / video / "ground-truth" / f"{video}_{i:05d}.png",
                      EDGE_GT if i == 1 else np.zeros((6, 8), np.uint8))
            write_png(pred / video / f"{video}_{i:05d}.png", p)
    return pred, gt


@pytest.mark.parametrize("video", sorted(EDGE_MAPS))
def test_stretch_edge_cases_follow_the_toolbox_rule(video, tmp_path):
    pred_u8 = EDGE_MAPS[video]
    report = evaluate_folders(*_release(tmp_path, {video: pred_u8}), protocol="davsod")
    got = report["videos"][video]
    assert got["frames"] == 1
    want = toolbox_exact(pred_u8, EDGE_GT)
    for key in ("S", "adpF", "MAE"):
        assert got[key] == pytest.approx(want[key], abs=1e-12), key
    # the frame's F curve (threshold 255 first), then the protocol's max / mean of it
    ev = SaliencyEvaluator(metrics=("maxF",))
    ev.step(pred_u8, EDGE_GT)
    curve = ev.curves()["F"]
    expected = want["curveF"].copy()
    for k, value in TIES.get(video, {}).items():
        # at the tie threshold, the pixels of that value are counted one threshold lower
        moved = np.where(pred_u8 == value, Fraction(0), toolbox_stretch(pred_u8))  # below k/255
        expected[255 - k] = toolbox_f(moved, EDGE_GT > 128, Fraction(k, 255))
        assert expected[255 - k] != want["curveF"][255 - k]  # the tie does change that threshold
    np.testing.assert_allclose(curve, expected, rtol=0, atol=1e-12)
    assert got["maxF"] == pytest.approx(expected.max(), abs=1e-12)
    assert got["meanF"] == pytest.approx(expected.mean(), abs=1e-12)
    assert report["overall"]["S"] == pytest.approx(want["S"], abs=1e-12)


def test_constant_maps_are_not_stretched():
    # A constant 90 stays 90/255 (mapminmax leaves it): MAE = mean |G - 90/255|, the F curve is
    # P = |G| / N, R = 1 up to threshold 90 and 0 above; stretching it would give 0 or NaN.
    pred = EDGE_MAPS["constant_90"]
    ev = SaliencyEvaluator(metrics=("MAE", "maxF", "adpF"))
    ev.step(pred, EDGE_GT)
    n, g = EDGE_GT.size, np.count_nonzero(EDGE_GT)
    assert ev.results()["MAE"] == pytest.approx((g * (1 - 90 / 255) + (n - g) * 90 / 255) / n, abs=1e-12)
    p = g / n
    f = 1.3 * p / (0.3 * p + 1)
    np.testing.assert_allclose(ev.curves()["F"], [0.0] * (255 - 90) + [f] * 91, rtol=0, atol=1e-12)
    assert ev.results()["adpF"] == 0.0  # threshold 2 x 90/255 is above every pixel
