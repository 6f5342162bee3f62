"""The saliency measures the project reports, pinned to their papers' formulas.

Every expected number here comes from the slow loops of tests/metric_references.py, written
from each paper's definition; neither pysodmetrics nor ``libs.metrics`` is called to get it
(its docstring lists the conventions the papers leave open and where each is taken from). The
project's numbers (:class:`~libs.metrics.saliency.SaliencyEvaluator` and
:func:`~libs.metrics.saliency.summarize`, i.e. pysodmetrics 1.6.2 underneath) must agree to
1e-12 on hand-made 12x16 maps: empty GT, full GT, a constant prediction, a single-pixel
object, a low-contrast map, GT values around the 128 rule, and random maps. A release of
pysodmetrics that changed a constant (alpha of S, beta of F, sigma of wF, the E-measure's
enhancement or its N - 1) fails here. Which paper and formula each test follows is in its
docstring and in the loop it calls.
"""
import re
import warnings
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path

import numpy as np
import py_sod_metrics as sod
import pytest
from metric_references import (
    THRESHOLDS,
    enhanced_alignment,
    f_beta,
    f_curve_ref,
    gaussian_7x7,
    mae_ref,
    object_score,
    prepare,
    quantised,
    reference,
    s_measure_ref,
    weighted_f_ref,
)

from libs.metrics.saliency import SaliencyEvaluator, summarize

H, W = 12, 16
TOL = 1e-12


# ----------------------------------------------------------------------------- hand-made maps

def _rect(top, left, height, width, value=255):
    m = np.zeros((H, W), np.uint8)
    m[top : top + height, left : left + width] = value
    return m


def _cases():
    rng = np.random.default_rng(2024)
    yy, xx = np.mgrid[0:H, 0:W]
    cases = {}
    # Empty GT (every metric has its own convention for it), a non-constant prediction.
    cases["empty_gt"] = (np.clip(20 + 10 * xx + 60 * ((yy - 6) ** 2 + (xx - 5) ** 2 < 9), 0, 255).astype(np.uint8),
                         np.zeros((H, W), np.uint8))
    # Full GT.
    cases["full_gt"] = (rng.integers(40, 230, (H, W)).astype(np.uint8), np.full((H, W), 255, np.uint8))
    # Constant prediction: never stretched.
    cases["constant_pred"] = (np.full((H, W), 77, np.uint8), _rect(3, 4, 5, 7))
    # A single-pixel object, away from the last row/column (its centroid must leave four
    # non-empty S-measure quadrants).
    single = np.clip(rng.normal(30, 12, (H, W)), 0, 255).astype(np.uint8)
    single[4:7, 8:11] = 130
    single[5, 9] = 220
    cases["single_pixel"] = (single, _rect(5, 9, 1, 1))
    # Low contrast: values 100..103 stretch to thirds (the 1-ulp tie case at threshold 85).
    low = np.full((H, W), 100, np.uint8)
    low[2:8, 5:12] = 103
    low[7:10, 3:7] = 102
    low[rng.random((H, W)) < 0.1] = 101
    cases["low_contrast"] = (low, _rect(3, 6, 6, 7))
    # GT values around the 128 rule: 128 is background, 129 foreground.
    soft_gt = _rect(2, 2, 6, 8, 200)
    soft_gt[2:8, 2:4] = 129
    soft_gt[8:10, 2:10] = 128
    soft_pred = np.clip(soft_gt.astype(float) * 0.8 + rng.normal(30, 25, (H, W)), 0, 255).astype(np.uint8)
    cases["gt_128_rule"] = (soft_pred, soft_gt)
    # Random maps (rectangular GT: every background pixel has one nearest GT pixel, see wF).
    cases["random_noise"] = (rng.integers(0, 256, (H, W)).astype(np.uint8), _rect(4, 5, 6, 8))
    gt_b = _rect(1, 7, 8, 6)
    cases["random_smooth"] = (np.clip(gt_b * 0.55 + rng.normal(70, 45, (H, W)), 0, 255).astype(np.uint8), gt_b)
    return cases


CASES = _cases()


def project(frames):
    ev = SaliencyEvaluator(metrics=("MAE", "maxF", "meanF", "adpF", "S", "maxE", "meanE", "wF"))
    for pred, gt in frames:
        ev.step(pred, gt)
    return ev


@lru_cache(maxsize=None)
def _numbers(case):
    """(the project's numbers, the loops' numbers) for one hand-made map."""
    frames = [CASES[case]]
    return project(frames).results(), reference(frames)


def _check(key, case):
    got, want = _numbers(case)
    assert got[key] == pytest.approx(float(want[key]), rel=0, abs=TOL), (key, case)


# ----------------------------------------------------------------------------- the tests

@pytest.mark.parametrize("case", sorted(CASES))
def test_mae(case):
    """Perazzi et al. 2012: mean |S - G| over the stretched map."""
    _check("MAE", case)


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("key", ["maxF", "meanF", "adpF"])
def test_f_measure(key, case):
    """Achanta et al. 2009: F_beta with beta^2 = 0.3; max / mean over the 256 thresholds; adaptive
    threshold 2 x mean."""
    _check(key, case)


@pytest.mark.parametrize("case", sorted(CASES))
def test_s_measure(case):
    """Fan et al. 2017: S = 0.5 S_o + 0.5 S_r, with the empty / full GT cases."""
    _check("S", case)


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("key", ["maxE", "meanE"])
def test_e_measure(key, case):
    """Fan et al. 2018: mean enhanced alignment (x N / (N - 1)); max / mean over the thresholds."""
    _check(key, case)


@pytest.mark.parametrize("case", sorted(CASES))
def test_weighted_f(case):
    """Margolin et al. 2014: weighted F with the sigma-5 Gaussian dependency and beta = 1."""
    _check("wF", case)


def test_hand_values_of_the_loops_themselves():
    # The loops, checked on numbers worked out by hand, so a slip in them cannot hide.
    gt = np.zeros((2, 2), bool)
    gt[0, 0] = True
    p = np.array([[1.0, 0.0], [0.0, 0.0]])
    assert mae_ref(p, gt) == 0.0
    assert f_beta(p >= 0.5, gt) == pytest.approx(1.0)
    # P = 1/4, R = 1: 1.3 * 0.25 / (0.3 * 0.25 + 1)
    assert f_beta(np.ones((2, 2), bool), gt) == pytest.approx(0.325 / 1.075)
    # perfect binary map: every pixel's xi = 1, f = 1; 4 / (4 - 1)
    assert enhanced_alignment(p >= 0.5, gt) == pytest.approx(4 / 3)
    # all-background prediction on that GT: phi_FM = 0 everywhere -> xi = 0, f = 1/4 per pixel
    assert enhanced_alignment(np.zeros((2, 2), bool), gt) == pytest.approx(1 / 3)
    # empty GT: pixels predicted background over N - 1
    assert enhanced_alignment(np.array([[True, False], [False, False]]), ~np.ones((2, 2), bool)) == pytest.approx(1.0)
    # object score of a perfect foreground: 2 / (1 + 1 + 0)
    assert object_score([1.0, 1.0]) == pytest.approx(1.0)
    assert sum(map(sum, gaussian_7x7())) == pytest.approx(1.0)
    # S of a perfect map is 1; weighted F of a perfect map is 1
    big = np.zeros((6, 6), bool)
    big[1:3, 1:4] = True
    assert s_measure_ref(big.astype(float), big) == pytest.approx(1.0)
    assert weighted_f_ref(big.astype(float), big) == pytest.approx(1.0)


def test_constants_matter_on_these_maps():
    # Each constant the papers fix moves the loops' numbers on the maps above by far more
    # than the tolerance, so a library that changed one cannot pass the tests above.
    pred, gt = CASES["random_smooth"]
    p, g = prepare(pred, gt)
    assert abs(s_measure_ref(p, g, alpha=0.6) - s_measure_ref(p, g)) > 1e-4
    q = quantised(p)
    assert max(abs(f_beta(q >= t, g, beta2=0.35) - f_beta(q >= t, g)) for t in THRESHOLDS) > 1e-4
    assert abs(weighted_f_ref(p, g, sigma=4.0) - weighted_f_ref(p, g)) > 1e-6
    assert abs(weighted_f_ref(p, g, beta=2.0) - weighted_f_ref(p, g)) > 1e-4


def test_video_and_overall_averaging():
    """Curves are averaged over a video's frames before the max / mean; "overall" is the mean
    over videos of the per-video numbers; "pooled" runs all frames as one video."""
    videos = {"a": [CASES["random_noise"], CASES["single_pixel"]],
              "b": [CASES["low_contrast"], CASES["empty_gt"], CASES["random_smooth"]]}
    report = summarize({name: project(frames) for name, frames in videos.items()})
    per_video = {name: reference(frames) for name, frames in videos.items()}
    pooled = reference(videos["a"] + videos["b"])
    for key in per_video["a"]:
        for name in videos:
            assert report["videos"][name][key] == pytest.approx(float(per_video[name][key]), abs=TOL), (name, key)
        overall = (per_video["a"][key] + per_video["b"][key]) / 2
        assert report["overall"][key] == pytest.approx(float(overall), abs=TOL), key
        assert report["pooled"][key] == pytest.approx(float(pooled[key]), abs=TOL), key
    # the max of the mean curve is not the mean of the frames' maxima
    frame_max = np.mean([f_curve_ref(*prepare(*fr)).max() for fr in videos["a"]])
    assert per_video["a"]["maxF"] < frame_max - 1e-3


def test_pysodmetrics_is_the_pinned_release_with_the_papers_defaults():
    """requirements.txt pins the release docs/evaluation.md cites; the installed one is it, and
    its defaults are the papers' constants. The project relies on the defaults of ``Smeasure``,
    ``Emeasure`` and ``WeightedFmeasure`` and passes beta^2 = 0.3 to ``FmeasureHandler`` itself;
    other code (and this suite's older tests) use ``Fmeasure`` / ``FmeasureHandler`` defaults."""
    root = Path(__file__).resolve().parent.parent
    pins = re.findall(r"^pysodmetrics==([\w.]+)\s*$", (root / "requirements.txt").read_text(), re.M)
    assert pins == [version("pysodmetrics")] == ["1.6.2"]
    assert "pysodmetrics 1.6.2" in (root / "docs" / "evaluation.md").read_text()
    pred, gt = CASES["random_smooth"]
    p, g = prepare(pred, gt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        classic = sod.Fmeasure()
    handler = sod.FmeasureV2({"fm": sod.FmeasureHandler(with_dynamic=True, with_adaptive=True)})
    s, w = sod.Smeasure(), sod.WeightedFmeasure()
    for acc in (classic, handler, s, w):
        acc.step(pred=pred, gt=gt)
    curve = f_curve_ref(p, g)
    np.testing.assert_allclose(classic.get_results()["fm"]["curve"], curve, rtol=0, atol=TOL)
    np.testing.assert_allclose(handler.get_results()["fm"]["dynamic"], curve, rtol=0, atol=TOL)
    assert s.get_results()["sm"] == pytest.approx(s_measure_ref(p, g), abs=TOL)
    assert w.get_results()["wfm"] == pytest.approx(weighted_f_ref(p, g), abs=TOL)
