"""``evaluate.py --protocol davsod``: the DAVSOD toolbox's maths (DengPingFan/DAVSOD,
EvaluateTool/main.m and Fmeasure_calu.m) on tiny maps, and MATLAB-style imresize.

Expected numbers are derived by hand in the comments, or by slow loops written here from the
toolbox's formulas; per-frame S and E curves come from pysodmetrics' own classes. The stretch's
edge cases (low-contrast and constant maps) are in tests/test_davsod_stretch.py.
"""
import json
import math

import numpy as np
import py_sod_metrics as sod
import pytest
from PIL import Image

import evaluate
from libs.metrics.boundary import boundary_f_measure
from libs.metrics.davsod import aggregate_sequences, inner_frames
from libs.metrics.matlab_imresize import imresize
from libs.pipeline.evaluation import EvaluationError, evaluate_folders


def write_png(path, arr):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


# ----------------------------------------------------------------------------- references

def toolbox_frame(pred_u8, gt_u8):
    """main.m + Fmeasure_calu.m for one frame, as loops. Only for maps spanning 0..255, where
    mapminmax is the identity and ``sal >= t/255`` is exact (no tie rounding question)."""
    assert pred_u8.min() == 0 and pred_u8.max() == 255
    gt = gt_u8 > 128
    sal = pred_u8.astype(np.float64) / 255

    def fmeasure(threshold):
        threshold = min(threshold, 1.0)
        label = sal >= threshold
        num_rec, num_and, num_obj = label.sum(), (label & gt).sum(), gt.sum()
        if num_and == 0:
            return 0.0
        p, r = num_and / num_rec, num_and / num_obj
        return 1.3 * p * r / (0.3 * p + r)

    s = sod.Smeasure()
    s.step(pred=pred_u8, gt=gt_u8)
    e = sod.Emeasure()
    e.step(pred=pred_u8, gt=gt_u8)
    union = np.count_nonzero((pred_u8 >= 128) | gt)
    return {
        "S": float(s.get_results()["sm"]),
        "adpF": fmeasure(2 * sal.mean()),
        "MAE": float(np.abs(gt.astype(np.float64) - sal).mean()),
        "curveF": np.array([fmeasure(t / 255) for t in range(256)]),
        "curveE": np.asarray(e.get_results()["em"]["curve"], dtype=np.float64),
        "J": 1.0 if union == 0 else np.count_nonzero((pred_u8 >= 128) & gt) / union,
        "F_boundary": boundary_f_measure(pred_u8 >= 128, gt),
    }


def toolbox_dataset(videos):
    """``videos = {name: [(pred, gt), ...]}`` (evaluated frames only) -> (overall, per video)."""
    per_video, curves = {}, {}
    for name, frames in videos.items():
        fr = [toolbox_frame(p, g) for p, g in frames]
        cf, ce = np.mean([f["curveF"] for f in fr], axis=0), np.mean([f["curveE"] for f in fr], axis=0)
        per_video[name] = {k: float(np.mean([f[k] for f in fr])) for k in ("S", "adpF", "MAE", "J", "F_boundary")}
        per_video[name].update(maxF=cf.max(), meanF=cf.mean(), maxE=ce.max(), meanE=ce.mean())
        curves[name] = (cf, ce)
    overall = {k: float(np.mean([v[k] for v in per_video.values()])) for k in ("S", "adpF", "MAE", "J", "F_boundary")}
    mf, me = np.mean([c[0] for c in curves.values()], axis=0), np.mean([c[1] for c in curves.values()], axis=0)
    overall.update(maxF=mf.max(), meanF=mf.mean(), maxE=me.max(), meanE=me.mean())
    return overall, per_video


def cubic_scalar(x):
    ax = abs(x)
    if ax <= 1:
        return 1.5 * ax ** 3 - 2.5 * ax ** 2 + 1
    if ax <= 2:
        return -0.5 * ax ** 3 + 2.5 * ax ** 2 - 4 * ax + 2
    return 0.0


def slow_resize_1d(vec, out_len):
    """One output sample at a time, from imresize.m's contributions() formulas."""
    n = len(vec)
    scale = out_len / n
    kernel = (lambda t: scale * cubic_scalar(scale * t)) if scale < 1 else cubic_scalar
    width = 4 / scale if scale < 1 else 4
    out = []
    for x in range(1, out_len + 1):
        u = x / scale + 0.5 * (1 - 1 / scale)
        left = math.floor(u - width / 2)
        taps = [left + j for j in range(math.ceil(width) + 2)]
        ws = [kernel(u - i) for i in taps]
        acc = 0.0
        for i, w in zip(taps, ws):
            m = (i - 1) % (2 * n)  # mirror [1..n, n..1]
            acc += w / sum(ws) * vec[m if m < n else 2 * n - 1 - m]
        out.append(acc)
    return out


def slow_imresize_u8(img, shape):
    scales = [shape[0] / img.shape[0], shape[1] / img.shape[1]]
    out = img.astype(np.float64)
    for dim in sorted(range(2), key=lambda d: scales[d]):  # stable: rows first on a tie
        if dim == 0:
            out = np.array([slow_resize_1d(out[:, j], shape[0]) for j in range(out.shape[1])]).T
        else:
            out = np.array([slow_resize_1d(out[i, :], shape[1]) for i in range(out.shape[0])])
        out = np.floor(np.clip(out, 0, 255) + 0.5)  # uint8 after each pass, halves up
    return out.astype(np.uint8)


# ----------------------------------------------------------------------------- MATLAB imresize

def test_imresize_hand_values():
    # 4 -> 2 with antialiasing (scale 0.5, kernel 0.5 * cubic(x / 2), width 8): output 1 draws on
    # inputs 3 2 1 1 2 3 4 4 (mirrored) with weights -3/256 -9/256 29/256 111/256 111/256 29/256
    # -9/256 -3/256, i.e. 0.546875 a1 + 0.3984375 a2 + 0.1015625 a3 - 0.046875 a4.
    col = np.array([0, 64, 128, 255], np.uint8)
    out = imresize(np.repeat(col[:, None], 4, axis=1), (2, 2))
    # 0.3984375 * 64 + 0.1015625 * 128 - 0.046875 * 255 = 26.546875 -> 27; mirrored: 196.953125 -> 197
    np.testing.assert_array_equal(out, [[27, 27], [197, 197]])
    # 2 -> 4 (scale 2, cubic, width 4): 1.09375 a1 - 0.09375 a2, 0.796875 a1 + 0.203125 a2, ...
    np.testing.assert_allclose(imresize(np.array([[0.0, 1.0]]), (1, 4)), [[-0.09375, 0.203125, 0.796875, 1.09375]],
                               rtol=0, atol=1e-15)
    assert imresize(np.array([[0, 255]], np.uint8), (1, 4)).tolist() == [[0, 52, 203, 255]]  # saturated


@pytest.mark.parametrize("shape_in, shape_out", [((8, 8), (5, 11)), ((12, 7), (6, 14)), ((6, 10), (8, 8)),
                                                 ((9, 9), (9, 4))])
def test_imresize_uint8_equals_slow_loops(shape_in, shape_out):
    img = np.random.default_rng(sum(shape_in + shape_out)).integers(0, 256, shape_in, dtype=np.uint8)
    np.testing.assert_array_equal(imresize(img, shape_out), slow_imresize_u8(img, shape_out))


@pytest.mark.parametrize("shape_out", [(9, 13), (40, 70), (7, 30)])
def test_imresize_interior_equals_pillow_antialiased_bicubic(shape_out):
    # Pillow's BICUBIC is the same a = -0.5 kernel with the same antialiased support; it clips
    # the window at the border where MATLAB mirrors, so only the interior is compared.
    x = np.random.default_rng(0).random((20, 30)).astype(np.float32)
    ours = imresize(x.astype(np.float64), shape_out)
    pil = np.asarray(Image.fromarray(x, mode="F").resize(shape_out[::-1], Image.BICUBIC), dtype=np.float64)
    margins = [math.ceil(2 * max(o / i, 1)) + 1 for i, o in zip(x.shape, shape_out)]
    inner = (slice(margins[0], -margins[0]), slice(margins[1], -margins[1]))
    np.testing.assert_allclose(ours[inner], pil[inner], rtol=0, atol=1e-6)


def test_imresize_same_size_is_identity_and_bad_input_is_refused():
    img = np.random.default_rng(1).integers(0, 256, (5, 6), dtype=np.uint8)
    np.testing.assert_array_equal(imresize(img, (5, 6)), img)
    with pytest.raises(TypeError, match="uint8 or floating"):
        imresize(img.astype(np.int32), (3, 3))
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        imresize(np.zeros((2, 2, 3), np.uint8), (3, 3))


# ----------------------------------------------------------------------------- protocol pieces

def test_inner_frames_skip_first_and_last():
    assert inner_frames(["a", "b", "c", "d"]) == ["b", "c"]
    assert inner_frames(("a", "b", "c")) == ("b",)
    with pytest.raises(ValueError, match="at least 3"):
        inner_frames(["a", "b"])


def test_aggregation_takes_the_max_of_the_mean_curve():
    # mean curve (0.55, 0.45, 0.45): maxF 0.55, meanF 29/60; the mean of the videos' maxF is 0.85.
    per_video = {"a": {"maxF": 0.8, "MAE": 0.1, "S": 0.5}, "b": {"maxF": 0.9, "MAE": 0.3, "S": 0.7}}
    curves = {"a": {"F": np.array([0.2, 0.8, 0.4])}, "b": {"F": np.array([0.9, 0.1, 0.5])}}
    out = aggregate_sequences(per_video, curves)
    assert list(out) == ["MAE", "maxF", "S"]
    assert out["maxF"] == pytest.approx(0.55, abs=1e-15)
    assert out["MAE"] == pytest.approx(0.2) and out["S"] == pytest.approx(0.6)
    per_video["a"]["meanF"] = per_video["b"]["meanF"] = 0.0
    assert aggregate_sequences(per_video, curves)["meanF"] == pytest.approx(29 / 60, abs=1e-15)


# ----------------------------------------------------------------------------- end to end

A = np.array([[255, 204, 0, 0], [153, 102, 0, 0], [51, 0, 0, 0], [0, 0, 0, 0]], np.uint8)
B = np.array([[51, 51, 0, 0], [51, 51, 0, 0], [0, 0, 0, 255], [0, 0, 0, 0]], np.uint8)
GT = np.zeros((4, 4), np.uint8)
GT[:2, :2] = 255


def hand_release(root, drop_outer_predictions=False):
    """Release layout <gt>/<video>/ground-truth/ with videos a (A) and b (B) as middle frames;
    the outer frames have all-255 predictions that would change every number."""
    gt, pred = root / "release", root / "pred"
    for video, middle in (("a", A), ("b", B)):
        for i, p in enumerate((np.full((4, 4), 255, np.uint8), middle, np.full((4, 4), 255, np.uint8))):
            write_png(gt / video / "ground-truth" / f"{video}_{i:05d}.png", GT)
            if not (drop_outer_predictions and i != 1):
                write_png(pred / video / f"{video}_{i:05d}.png", p)
    return pred, gt


def test_hand_computed_numbers(tmp_path):
    pred, gt = hand_release(tmp_path)
    report = evaluate_folders(pred, gt, protocol="davsod")
    a, b = report["videos"]["a"], report["videos"]["b"]
    assert a["frames"] == b["frames"] == 1
    # A: s = 1 .8 .6 .4 | .2 (background) | 0; MAE = (0 + .2 + .4 + .6 + .2) / 16
    assert a["MAE"] == pytest.approx(1.4 / 16, abs=1e-15)
    # threshold 2 * 3 / 16 = .375 keeps exactly the 4 GT pixels
    assert a["adpF"] == pytest.approx(1.0, abs=1e-15)
    # curve: t = 0: P = 1/4 -> .325/1.075; t 1..51: P = 4/5 -> 1.04/1.24; t 52..102: 1;
    # t 103..153: R = 3/4 -> .975/1.05; t 154..204: R = 1/2 -> .65/.8; t 205..255: R = 1/4 -> .325/.55
    curve_a = [0.325 / 1.075] + [1.04 / 1.24] * 51 + [1.0] * 51 + [0.975 / 1.05] * 51 + [0.8125] * 51 + [0.325 / 0.55] * 51
    assert a["maxF"] == pytest.approx(1.0, abs=1e-15)
    assert a["meanF"] == pytest.approx(np.mean(curve_a), abs=1e-12)
    assert a["J"] == pytest.approx(3 / 4)  # 255, 204, 153 >= 128
    # B: GT pixels at .2, one background pixel at 1: MAE = (4 * .8 + 1) / 16; threshold
    # 2 * 1.8 / 16 = .225 keeps only the background pixel -> adpF 0
    assert b["MAE"] == pytest.approx(4.2 / 16, abs=1e-15)
    assert b["adpF"] == 0.0
    curve_b = [0.325 / 1.075] + [1.04 / 1.24] * 51 + [0.0] * 204
    assert b["maxF"] == pytest.approx(1.04 / 1.24, abs=1e-15)
    o = report["overall"]
    assert o["MAE"] == pytest.approx(2.8 / 16, abs=1e-15)
    assert o["adpF"] == pytest.approx(0.5, abs=1e-15)
    # max of the mean curve (1.04 / 1.24 at t 1..51), not the mean of the maxima (0.919...)
    assert o["maxF"] == pytest.approx(1.04 / 1.24, abs=1e-15)
    assert o["maxF"] < (a["maxF"] + b["maxF"]) / 2 - 0.08
    assert o["meanF"] == pytest.approx(np.mean((np.array(curve_a) + np.array(curve_b)) / 2), abs=1e-12)
    assert o["S"] == pytest.approx((a["S"] + b["S"]) / 2, abs=1e-15)
    ref = toolbox_frame(A, GT)
    assert a["S"] == pytest.approx(ref["S"], abs=1e-15)


def test_first_and_last_predictions_are_never_read(tmp_path):
    pred, gt = hand_release(tmp_path, drop_outer_predictions=True)
    full = evaluate_folders(*hand_release(tmp_path / "full"), protocol="davsod")
    assert evaluate_folders(pred, gt, protocol="davsod") == full
    # the per-video protocol reads them: a missing one is an error there
    with pytest.raises(EvaluationError, match="prediction not found"):
        evaluate_folders(pred, gt)


def random_pair(rng, shape=(8, 8)):
    gt = np.zeros(shape, np.uint8)
    t, l = rng.integers(0, shape[0] // 2), rng.integers(0, shape[1] // 2)
    gt[t : t + rng.integers(2, shape[0] // 2 + 1), l : l + rng.integers(2, shape[1] // 2 + 1)] = 255
    pred = np.clip(gt * 0.6 + rng.normal(60, 50, shape), 0, 255).astype(np.uint8)
    pred.flat[0], pred.flat[-1] = 0, 255  # spans 0..255: see toolbox_frame
    return pred, gt


def test_random_maps_with_a_resized_video_equal_the_toolbox_loops(tmp_path, capsys):
    rng = np.random.default_rng(5)
    gt_root, pred_root = tmp_path / "gt", tmp_path / "pred"
    evaluated = {}
    for video, n in (("v1", 5), ("v2", 4), ("v3", 3)):
        evaluated[video] = []
        for i in range(n):
            pred, gt = random_pair(rng)
            write_png(gt_root / video / f"{i:03d}.png", gt)
            if video == "v2":  # predictions at another size: resized like MATLAB imresize
                pred = np.zeros((6, 11), np.uint8)
                pred[:, 6:] = 255  # flat regions keep 0 and 255 after resizing
                pred[:, 4:6] = rng.integers(0, 256, (6, 2))
                write_png(pred_root / video / f"{i:03d}.png", pred)
                pred = slow_imresize_u8(pred, gt.shape)
            else:
                write_png(pred_root / video / f"{i:03d}.png", pred)
            if 0 < i < n - 1:
                evaluated[video].append((pred, gt))
    out = tmp_path / "r.json"
    assert evaluate.main(["--pred", str(pred_root), "--gt", str(gt_root), "--protocol", "davsod", "-j", "0",
                          "--no-progress", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["protocol"] == "davsod" and set(report) == {"protocol", "overall", "videos"}
    overall, per_video = toolbox_dataset(evaluated)
    for k, v in overall.items():
        assert report["overall"][k] == pytest.approx(v, abs=1e-12), k
    for video, numbers in per_video.items():
        assert report["videos"][video]["frames"] == len(evaluated[video])
        for k, v in numbers.items():
            assert report["videos"][video][k] == pytest.approx(v, abs=1e-12), (video, k)
    table = capsys.readouterr().out
    assert "pooled" not in table and "DAVSOD toolbox protocol" in table


def test_too_short_video_is_a_one_line_error(tmp_path, capsys):
    for i in range(2):
        pred, gt = random_pair(np.random.default_rng(i))
        write_png(tmp_path / "gt" / "short" / f"{i}.png", gt)
        write_png(tmp_path / "pred" / "short" / f"{i}.png", pred)
    args = ["--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "gt"), "--protocol", "davsod", "-j", "0"]
    assert evaluate.main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'short'" in err[0] and "at least 3" in err[0]


def test_worker_processes_give_identical_numbers(tmp_path):
    pred, gt = hand_release(tmp_path)
    assert evaluate_folders(pred, gt, protocol="davsod", num_workers=2) == evaluate_folders(pred, gt, protocol="davsod")
