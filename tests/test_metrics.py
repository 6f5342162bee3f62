"""Metric accumulators: pysodmetrics' own numbers, DAVIS J / boundary F on hand-made shapes.

Expected values come from pysodmetrics run directly in the test, or from hand counts.
"""
import warnings

import numpy as np
import py_sod_metrics as sod
import pytest

from libs.metrics.boundary import boundary_f_measure, boundary_tolerance, disk, seg2bmap
from libs.metrics.saliency import (
    METRIC_KEYS,
    SaliencyEvaluator,
    mae,
    mean_over_videos,
    prob_to_uint8,
    region_similarity,
    s_measure,
    summarize,
)

H, W = 32, 40
EPS = np.spacing(1)


def square(top, left, size, shape=(H, W)):
    m = np.zeros(shape, dtype=bool)
    m[top : top + size, left : left + size] = True
    return m


def u8(mask):
    return mask.astype(np.uint8) * 255


def random_frames(seed, n):
    """Varied uint8 (pred, gt) pairs: noise, smooth maps, a constant map, soft GT values."""
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n):
        gt = np.zeros((H, W), np.uint8)
        t, l = rng.integers(0, 16), rng.integers(0, 20)
        gt[t : t + rng.integers(4, 16), l : l + rng.integers(4, 20)] = 255
        gt[rng.random((H, W)) < 0.03] = 128  # exactly 128 is background for pysodmetrics
        if i % 3 == 0:
            pred = rng.integers(0, 256, (H, W), dtype=np.uint8)
        elif i % 3 == 1:
            pred = np.clip(gt.astype(float) * 0.7 + rng.normal(40, 30, (H, W)), 0, 255).astype(np.uint8)
        else:
            pred = np.full((H, W), 90, np.uint8)  # constant: pysodmetrics does not stretch it
        frames.append((pred, gt))
    return frames


def pysod_reference(frames):
    """The ten numbers computed with pysodmetrics' classes (the classic Fmeasure class, an
    independent code path from the FmeasureV2 the evaluator uses) over ``frames``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fm = sod.Fmeasure(beta=0.3)
    m, s, e, w = sod.MAE(), sod.Smeasure(), sod.Emeasure(), sod.WeightedFmeasure()
    for pred, gt in frames:
        for acc in (fm, m, s, e, w):
            acc.step(pred=pred, gt=gt)
    f_res, e_curve = fm.get_results()["fm"], e.get_results()["em"]["curve"]
    return {
        "MAE": m.get_results()["mae"],
        "maxF": f_res["curve"].max(),
        "meanF": f_res["curve"].mean(),
        "adpF": f_res["adp"],
        "S": s.get_results()["sm"],
        "maxE": e_curve.max(),
        "meanE": e_curve.mean(),
        "wF": w.get_results()["wfm"],
    }


def run(frames, **kw):
    ev = SaliencyEvaluator(**kw)
    for pred, gt in frames:
        ev.step(pred, gt)
    return ev


# ----------------------------------------------------------------------------- pysodmetrics parity

def test_results_keys_exactly():
    res = run(random_frames(0, 2)).results()
    assert list(res) == list(METRIC_KEYS)
    assert set(METRIC_KEYS) == {"MAE", "maxF", "meanF", "adpF", "S", "maxE", "meanE", "wF", "J", "F_boundary"}
    assert all(isinstance(v, float) for v in res.values())


def test_evaluator_equals_pysodmetrics_on_random_maps():
    frames = random_frames(1, 7)
    got = run(frames).results()
    expected = pysod_reference(frames)
    for k, v in expected.items():
        assert got[k] == pytest.approx(float(v), abs=1e-12), k


def test_merge_equals_one_accumulator_over_all_frames():
    a, b = random_frames(2, 3), random_frames(3, 4)
    merged = SaliencyEvaluator.merge([run(a), run(b)])
    assert merged.num_frames == 7
    assert merged.results() == run(a + b).results()


def test_summarize_overall_is_mean_over_videos_and_pooled_is_all_frames():
    videos = {"v1": random_frames(4, 2), "v2": random_frames(5, 5)}
    report = summarize({name: run(fr) for name, fr in videos.items()})
    assert set(report) == {"overall", "pooled", "videos"}
    per_video = {name: pysod_reference(fr) for name, fr in videos.items()}
    pooled = pysod_reference(videos["v1"] + videos["v2"])
    for k in pooled:
        assert report["videos"]["v1"][k] == pytest.approx(float(per_video["v1"][k]), abs=1e-12)
        assert report["overall"][k] == pytest.approx(
            (float(per_video["v1"][k]) + float(per_video["v2"][k])) / 2, abs=1e-12
        ), k
        assert report["pooled"][k] == pytest.approx(float(pooled[k]), abs=1e-12), k
    assert report["videos"]["v1"]["frames"] == 2 and report["videos"]["v2"]["frames"] == 5
    # the video with more frames weighs more in "pooled" than in "overall": they differ
    assert report["overall"]["MAE"] != report["pooled"]["MAE"]


def test_mean_over_videos_ignores_frames_key():
    out = mean_over_videos({"a": {"MAE": 0.1, "S": 0.5, "frames": 3}, "b": {"MAE": 0.3, "S": 0.7, "frames": 9}})
    assert out == pytest.approx({"MAE": 0.2, "S": 0.6})


def test_metric_subset_gives_the_same_numbers():
    frames = random_frames(6, 3)
    full = run(frames).results()
    sub = run(frames, metrics=("S", "MAE")).results()
    assert list(sub) == ["MAE", "S"]
    assert sub == {"MAE": full["MAE"], "S": full["S"]}
    with pytest.raises(ValueError, match="unknown metric"):
        SaliencyEvaluator(metrics=("Sm",))


def test_step_refuses_float_and_mismatched_maps():
    ev = SaliencyEvaluator()
    with pytest.raises(TypeError, match="prob_to_uint8"):
        ev.step(np.zeros((H, W), np.float32), np.zeros((H, W), np.uint8))
    with pytest.raises(ValueError):
        ev.step(np.zeros((H, W), np.uint8), np.zeros((H, W + 1), np.uint8))
    with pytest.raises(ValueError, match="no frames"):
        ev.results()


# ----------------------------------------------------------------------------- known answers

def test_perfect_map():
    gt = u8(square(5, 7, 12))
    res = run([(gt.copy(), gt)]).results()
    assert res["MAE"] == 0.0
    assert res["S"] == pytest.approx(1.0, abs=1e-12)
    assert res["maxF"] == pytest.approx(1.0, abs=1e-12)
    assert res["J"] == 1.0
    assert res["F_boundary"] == 1.0
    # E-measure: every pixel perfectly aligned -> sum = N, divided by (N - 1) as pysodmetrics does
    assert res["maxE"] == pytest.approx(H * W / (H * W - 1 + EPS), abs=1e-12)
    assert res["wF"] == pytest.approx(1.0, abs=1e-9)


def test_all_zero_map_on_nonempty_gt():
    gt_m = square(4, 4, 10)
    res = run([(np.zeros((H, W), np.uint8), u8(gt_m))]).results()
    assert res["MAE"] == pytest.approx(100 / (H * W), abs=1e-15)
    assert res["J"] == 0.0
    assert res["F_boundary"] == 0.0  # P = 1, R = 0
    # adaptive threshold 2 x mean = 0 keeps every pixel: P = GT fraction, R = 1
    p = 100 / (H * W)
    assert res["adpF"] == pytest.approx(1.3 * p / (0.3 * p + 1), abs=1e-12)


def test_empty_gt_and_empty_prediction():
    zeros = np.zeros((H, W), np.uint8)
    res = run([(zeros, zeros)]).results()
    assert res["MAE"] == 0.0
    assert res["S"] == 1.0  # 1 - mean(pred)
    assert res["J"] == 1.0 and res["F_boundary"] == 1.0  # DAVIS: both empty
    assert res["wF"] == 0.0  # pysodmetrics: empty GT
    assert res["maxF"] == 0.0 and res["adpF"] == 0.0  # recall is 0 without foreground


def test_empty_gt_with_predicted_object():
    pred = u8(square(0, 0, 8))
    res = run([(pred, np.zeros((H, W), np.uint8))]).results()
    frac = 64 / (H * W)
    assert res["MAE"] == pytest.approx(frac, abs=1e-15)
    assert res["S"] == pytest.approx(1 - frac, abs=1e-15)
    assert res["J"] == 0.0
    assert res["F_boundary"] == 0.0  # P = 0, R = 1


def test_region_similarity_of_overlapping_squares():
    a, b = square(5, 5, 10), square(7, 8, 10)
    # overlap rows 7..14 (8) x cols 8..14 (7) = 56; union = 100 + 100 - 56 = 144
    assert region_similarity(b, a) == pytest.approx(56 / 144, abs=1e-15)
    res = run([(u8(b), u8(a))]).results()
    assert res["J"] == pytest.approx(56 / 144, abs=1e-15)


def test_binarisation_thresholds():
    gt = np.zeros((H, W), np.uint8)
    gt[:, :20] = 129  # > 128: foreground
    gt[:, 20:] = 128  # == 128: background (pysodmetrics' rule)
    pred_hi = np.where(np.arange(W) < 20, 128, 0).astype(np.uint8)[None].repeat(H, 0)
    pred_lo = np.where(np.arange(W) < 20, 127, 0).astype(np.uint8)[None].repeat(H, 0)
    assert run([(pred_hi, gt)]).results()["J"] == 1.0  # 128 is foreground
    assert run([(pred_lo, gt)]).results()["J"] == 0.0  # 127 is not


# ----------------------------------------------------------------------------- boundary F

def test_seg2bmap_of_a_square_is_the_half_pixel_shifted_ring():
    m = square(10, 6, 8)  # rows 10..17, cols 6..13
    ring = np.zeros((H, W), bool)
    ring[9:18, 5:14] = True
    ring[10:17, 6:13] = False  # the perimeter of the box rows 9..17, cols 5..13
    assert np.array_equal(seg2bmap(m), ring)
    assert np.count_nonzero(ring) == 4 * 8
    # a mask filling the image has no boundary under DAVIS' convention
    assert not seg2bmap(np.ones((H, W), bool)).any()


def test_disk_matches_skimage():
    skimage_morph = pytest.importorskip("skimage.morphology")
    for r in range(0, 9):
        assert np.array_equal(disk(r), skimage_morph.disk(r).astype(np.uint8)), r


def test_boundary_tolerance():
    assert boundary_tolerance((32, 40)) == 1  # ceil(0.008 * 51.2)
    assert boundary_tolerance((480, 854)) == 8  # ceil(0.008 * 979.6)
    assert boundary_tolerance((480, 854), bound_th=3) == 3


def test_boundary_f_identical_and_within_tolerance():
    gt = square(10, 6, 8)
    assert boundary_f_measure(gt, gt) == 1.0
    # shifted by one pixel = the tolerance at 32x40: every boundary pixel has a match
    assert boundary_f_measure(square(10, 7, 8), gt) == 1.0
    assert boundary_f_measure(square(11, 6, 8), gt) == 1.0


def test_boundary_f_shift_beyond_tolerance_hand_count():
    gt = square(10, 6, 8)
    pred = square(10, 10, 8)  # 4 pixels to the right, tolerance 1 (a plus-shaped disk)
    # Rings (32 pixels each) are boxes rows 9..17 with cols 5..13 (GT) and 9..17 (pred).
    # Pred pixels within 1 of the GT ring: top and bottom rows cols 9..14 (6 each: 9..13 on
    # the GT rows, 14 next to col 13), and the left column at rows 10 and 16 (next to the GT
    # top/bottom rows): 6 + 6 + 2 = 14. The same count holds for recall by symmetry.
    assert boundary_f_measure(pred, gt) == pytest.approx(14 / 32, abs=1e-15)
    # far apart: nothing matches
    assert boundary_f_measure(square(10, 28, 8), gt) == 0.0


def test_boundary_f_empty_conventions():
    empty, obj = np.zeros((H, W), bool), square(3, 3, 5)
    assert boundary_f_measure(empty, empty) == 1.0
    assert boundary_f_measure(empty, obj) == 0.0
    assert boundary_f_measure(obj, empty) == 0.0


# ----------------------------------------------------------------------------- float helpers

def test_prob_to_uint8_rounding():
    # 0.5 * 255 = 127.5 exactly; halves round to even -> 128, so ">= 128" means "p >= 0.5"
    p = np.array([0.0, 0.5, 0.4999, 1.0, 1.2, -0.1, 100 / 255])
    assert prob_to_uint8(p).tolist() == [0, 128, 127, 255, 255, 0, 100]
    with pytest.raises(ValueError):
        prob_to_uint8(np.array([np.nan]))
    with pytest.raises(TypeError):
        prob_to_uint8(np.array([1], np.int64))


def test_s_measure_and_mae_helpers_equal_the_evaluator():
    rng = np.random.default_rng(7)
    prob = rng.random((H, W)) * 0.6
    prob[8:20, 10:30] += 0.35
    gt_f = square(8, 10, 12).astype(np.float32)
    gt_f[8:20, 22:30] = 1.0
    pred_u8 = np.round(prob * 255).astype(np.uint8)  # the documented conversion, done here by hand
    gt_u8 = np.round(gt_f * 255).astype(np.uint8)
    res = run([(pred_u8, gt_u8)]).results()
    assert s_measure(prob, gt_f) == res["S"]
    assert mae(prob, gt_f) == res["MAE"]
    # and pysodmetrics directly
    sm = sod.Smeasure()
    sm.step(pred=pred_u8, gt=gt_u8)
    assert s_measure(prob, gt_f) == pytest.approx(float(sm.get_results()["sm"]), abs=1e-12)


def test_helpers_accept_tensors():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    prob = rng.random((H, W)).astype(np.float32)
    gt = square(4, 4, 12).astype(np.float32)
    t_prob = torch.from_numpy(prob)[None, None]
    t_gt = torch.from_numpy(gt)[None]
    assert s_measure(t_prob, t_gt) == s_measure(prob, gt)
    assert mae(t_prob, t_gt) == mae(prob, gt)


# ----------------------------------------------------------------------------- curves and per-frame values

def test_curves_are_pysodmetrics_frame_mean_curves():
    frames = random_frames(7, 5)
    ev = run(frames)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fm = sod.Fmeasure(beta=0.3)
    e = sod.Emeasure()
    for pred, gt in frames:
        fm.step(pred=pred, gt=gt)
        e.step(pred=pred, gt=gt)
    curves = ev.curves()
    assert set(curves) == {"F", "E"}
    # the classic Fmeasure class: an independent code path, same threshold order (255 .. 0)
    np.testing.assert_allclose(curves["F"], fm.get_results()["fm"]["curve"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(curves["E"], e.get_results()["em"]["curve"], rtol=0, atol=1e-12)
    assert curves["F"].max() == pytest.approx(ev.results()["maxF"], abs=0)
    assert set(run(frames, metrics=("MAE", "maxF")).curves()) == {"F"}


def test_frame_values_are_per_frame_j_and_boundary_f_in_order():
    a, b = square(4, 4, 10), square(6, 6, 10)
    frames = [(u8(a), u8(a)), (u8(b), u8(a)), (np.zeros((H, W), np.uint8), u8(a))]
    ev = run(frames, metrics=("J", "F_boundary"))
    inter, union = 8 * 8, 2 * 100 - 64
    np.testing.assert_array_equal(ev.frame_values("J"), [1.0, inter / union, 0.0])
    np.testing.assert_array_equal(ev.frame_values("F_boundary"),
                                  [1.0, boundary_f_measure(b, a), 0.0])
    with pytest.raises(ValueError, match="only 'J' and 'F_boundary'"):
        ev.frame_values("S")
    with pytest.raises(ValueError, match="does not compute 'J'"):
        run(frames, metrics=("MAE",)).frame_values("J")
