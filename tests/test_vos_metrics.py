"""DAVIS J / F statistics (davis2017-evaluation), against hand counts and transcriptions.

The transcriptions below copy the formulas of davisvideochallenge/davis2017-evaluation
(davis2017/utils.py ``db_statistics``, davis2017/metrics.py ``f_measure`` / ``_seg2bmap``) into
the test, so our implementation is compared with an independent copy of theirs.
"""
import json
import math

import cv2
import numpy as np
import pytest
from PIL import Image

import evaluate
from libs.metrics.boundary import boundary_f_measure
from libs.metrics.vos import VOS_KEYS, db_statistics, overall_vos, video_vos_stats


def davis_db_statistics(per_frame_values):
    """davis2017/utils.py db_statistics, as published (uint8 quarter boundaries)."""
    m = np.nanmean(per_frame_values)
    o = np.nanmean(per_frame_values > 0.5)
    ids = np.round(np.linspace(1, len(per_frame_values), 4 + 1) + 1e-10) - 1
    ids = ids.astype(np.uint8)
    bins = [per_frame_values[ids[i] : ids[i + 1] + 1] for i in range(0, 4)]
    return m, o, np.nanmean(bins[0]) - np.nanmean(bins[3])


def sk_disk(radius):
    """skimage.morphology.disk (default strict radius): x^2 + y^2 <= r^2 (skimage is not a
    requirement; test_metrics compares with it when installed)."""
    grid = np.arange(-radius, radius + 1)
    x, y = np.meshgrid(grid, grid)
    return (x ** 2 + y ** 2 <= radius ** 2).astype(np.uint8)


def davis_seg2bmap(seg):
    seg = seg.astype(bool)
    e, s, se = np.zeros_like(seg), np.zeros_like(seg), np.zeros_like(seg)
    e[:, :-1] = seg[:, 1:]
    s[:-1, :] = seg[1:, :]
    se[:-1, :-1] = seg[1:, 1:]
    b = seg ^ e | seg ^ s | seg ^ se
    b[-1, :] = seg[-1, :] ^ e[-1, :]
    b[:, -1] = seg[:, -1] ^ s[:, -1]
    b[-1, -1] = 0
    return b


def davis_f_measure(foreground_mask, gt_mask, bound_th=0.008):
    """davis2017/metrics.py f_measure without void pixels (disk, cv2.dilate)."""
    bound_pix = bound_th if bound_th >= 1 else np.ceil(bound_th * np.linalg.norm(foreground_mask.shape))
    fg_boundary, gt_boundary = davis_seg2bmap(foreground_mask), davis_seg2bmap(gt_mask)
    fg_dil = cv2.dilate(fg_boundary.astype(np.uint8), sk_disk(int(bound_pix)).astype(np.uint8))
    gt_dil = cv2.dilate(gt_boundary.astype(np.uint8), sk_disk(int(bound_pix)).astype(np.uint8))
    gt_match, fg_match = gt_boundary * fg_dil, fg_boundary * gt_dil
    n_fg, n_gt = np.sum(fg_boundary), np.sum(gt_boundary)
    if n_fg == 0 and n_gt > 0:
        precision, recall = 1, 0
    elif n_fg > 0 and n_gt == 0:
        precision, recall = 0, 1
    elif n_fg == 0 and n_gt == 0:
        precision, recall = 1, 1
    else:
        precision, recall = np.sum(fg_match) / float(n_fg), np.sum(gt_match) / float(n_gt)
    return 0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


# ----------------------------------------------------------------------------- db_statistics

def test_four_frames_by_hand():
    # n = 4: boundaries round(1, 1.75, 2.5, 3.25, 4) - 1 = 0, 1, 2, 2, 3 -> quarters
    # [v0 v1], [v1 v2], [v2], [v2 v3]; decay = 0.9 - 0.5
    m, r, d = db_statistics([1.0, 0.8, 0.6, 0.4])
    assert m == pytest.approx(0.7, abs=1e-15)
    assert r == 0.75  # 1.0, 0.8 and 0.6 are > 0.5
    assert d == pytest.approx(0.4, abs=1e-15)


def test_recall_is_strictly_above_one_half():
    assert db_statistics([0.5, 0.5, 0.51, 0.2])[1] == 0.25


def test_eight_frames_round_the_half_up():
    # linspace(1, 8, 5) = 1, 2.75, 4.5, 6.25, 8: the 1e-10 makes 4.5 round to 5 (np.round alone
    # gives 4), boundaries 0, 2, 4, 5, 7: first quarter v0..v2, last quarter v5..v7.
    v = [1.0, 0.9, 0.8, 0.7, 0.6, 0.3, 0.2, 0.1]
    assert db_statistics(v)[2] == pytest.approx(0.9 - 0.2, abs=1e-15)


def test_one_frame_has_no_decay():
    assert db_statistics([0.7]) == (0.7, 1.0, 0.0)


@pytest.mark.parametrize("n", [2, 3, 5, 17, 50, 104, 255])
def test_equals_the_published_code_up_to_255_frames(n):
    # at 256 frames the published uint8 boundary 255 + 1 wraps to 0 under NumPy 2 (decay NaN)
    v = np.random.default_rng(n).random(n)
    np.testing.assert_allclose(db_statistics(v), davis_db_statistics(v), rtol=0, atol=1e-15)


def test_long_sequences_use_plain_integer_quarters():
    # n = 300: boundaries round(1, 75.75, 150.5, 225.25, 300) - 1 = 0, 75, 150, 224, 299;
    # the published uint8 cast would wrap 299 to 43.
    for n in (256, 300):
        v = np.random.default_rng(n).random(n)
        assert np.isfinite(db_statistics(v)[2])
    v = np.random.default_rng(300).random(300)
    assert db_statistics(v)[2] == pytest.approx(v[0:76].mean() - v[224:300].mean(), abs=1e-15)


def test_rejects_empty():
    with pytest.raises(ValueError, match="non-empty"):
        db_statistics([])


def test_video_and_overall_statistics():
    a = video_vos_stats([1.0, 0.8, 0.6, 0.4], [0.2, 0.4, 0.6, 0.8])
    assert list(a) == list(VOS_KEYS)
    assert a["J&F-Mean"] == pytest.approx((0.7 + 0.5) / 2)
    assert a["F-Decay"] == pytest.approx(0.3 - 0.7)
    b = video_vos_stats([0.0], [1.0])
    overall = overall_vos({"a": a, "b": b})
    assert overall["J-Mean"] == pytest.approx((0.7 + 0.0) / 2)
    assert overall["F-Recall"] == pytest.approx((0.5 + 1.0) / 2)
    assert overall["J&F-Mean"] == pytest.approx((overall["J-Mean"] + overall["F-Mean"]) / 2)


# ----------------------------------------------------------------------------- boundary F

def blob(shape, rng):
    """A few overlapping discs: boundaries with every orientation."""
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    m = np.zeros(shape, bool)
    for _ in range(3):
        cy, cx, r = rng.integers(0, shape[0]), rng.integers(0, shape[1]), rng.integers(3, min(shape) // 3)
        m |= (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
    return m


@pytest.mark.parametrize("shape", [(48, 64), (120, 200), (30, 30)])  # bound_pix 1, 2, 1
def test_boundary_f_equals_davis2017_f_measure(shape):
    rng = np.random.default_rng(sum(shape))
    for _ in range(6):
        p, g = blob(shape, rng), blob(shape, rng)
        assert boundary_f_measure(p, g) == pytest.approx(davis_f_measure(p, g), abs=1e-15)
    g = blob(shape, rng)
    assert boundary_f_measure(np.zeros(shape, bool), g) == davis_f_measure(np.zeros(shape, bool), g) == 0
    assert boundary_f_measure(np.zeros(shape, bool), np.zeros(shape, bool)) == 1.0
    assert math.ceil(0.008 * math.hypot(*shape)) == {(48, 64): 1, (120, 200): 2, (30, 30): 1}[shape]


# ----------------------------------------------------------------------------- through evaluate.py

def test_evaluate_reports_vos_statistics_per_video_and_overall(tmp_path):
    rng = np.random.default_rng(3)
    gt_root, pred_root = tmp_path / "gt", tmp_path / "pred"
    expected = {}
    for video, n in (("a", 5), ("b", 3)):
        js, fs = [], []
        for i in range(n):
            g, p = blob((24, 32), rng), blob((24, 32), rng)
            for root, m in ((gt_root, g), (pred_root, p)):
                (root / video).mkdir(parents=True, exist_ok=True)
                Image.fromarray(m.astype(np.uint8) * 255).save(root / video / f"{i:05d}.png")
            union = np.count_nonzero(p | g)
            js.append(1.0 if union == 0 else np.count_nonzero(p & g) / union)
            fs.append(davis_f_measure(p, g))
        jm, jr, jd = davis_db_statistics(np.array(js))
        fm, fr, fd = davis_db_statistics(np.array(fs))
        expected[video] = {"J-Mean": jm, "J-Recall": jr, "J-Decay": jd, "F-Mean": fm, "F-Recall": fr,
                           "F-Decay": fd, "J&F-Mean": (jm + fm) / 2}
    out = tmp_path / "r.json"
    assert evaluate.main(["--pred", str(pred_root), "--gt", str(gt_root), "-j", "0", "--no-progress",
                          "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    for video, stats in expected.items():
        for k, v in stats.items():
            assert report["videos"][video][k] == pytest.approx(v, abs=1e-12), (video, k)
    for k in VOS_KEYS[1:]:
        assert report["overall"][k] == pytest.approx(np.mean([expected[v][k] for v in expected]), abs=1e-12)
    assert report["overall"]["J&F-Mean"] == pytest.approx(
        (report["overall"]["J-Mean"] + report["overall"]["F-Mean"]) / 2, abs=1e-15)
    assert "J-Mean" not in report["pooled"]
