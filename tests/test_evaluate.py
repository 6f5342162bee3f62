"""evaluate.py end to end on a tiny fake dataset (32x40 maps), plus its error paths.

Expected numbers are computed here with pysodmetrics directly (and NumPy for J).
"""
import csv
import json
import logging
import warnings

import cv2
import numpy as np
import py_sod_metrics as sod
import pytest
from PIL import Image

import evaluate
from libs.metrics.boundary import boundary_f_measure
from libs.metrics.saliency import METRIC_KEYS
from libs.metrics.vos import VOS_KEYS
from libs.pipeline.evaluation import EvaluationError, evaluate_folders, evaluate_split

H, W = 32, 40
VIDEOS = {"vid_a": ["00000", "00005", "00010"], "vid_b": ["00000", "00001"]}

YAML = """\
TOY:
  image_dir: "JPEGImages"
  label_dir: "Annotations"
  image_ext: ".jpg"
  label_ext: ".png"
  default_label_interval: 1
  video_split:
    "val": ["vid_a", "vid_b"]
    "train": ["vid_c"]
"""


def write_png(path, arr):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def make_frame(rng):
    gt = np.zeros((H, W), np.uint8)
    t, l = rng.integers(2, 14), rng.integers(2, 18)
    gt[t : t + rng.integers(6, 16), l : l + rng.integers(6, 18)] = 255
    pred = np.clip(gt * 0.6 + rng.normal(50, 40, (H, W)), 0, 255).astype(np.uint8)
    return pred, gt


@pytest.fixture
def toy(tmp_path):
    """data/TOY/Annotations/<video>/<frame>.png, results/TOY/<video>/<frame>.png, datasets.yaml.

    Returns a namespace with the paths and ``frames = {video: [(pred, gt), ...]}``.
    """
    rng = np.random.default_rng(0)
    data, results = tmp_path / "data", tmp_path / "results"
    frames = {}
    for video, stems in VIDEOS.items():
        frames[video] = []
        for stem in stems:
            pred, gt = make_frame(rng)
            write_png(data / "TOY" / "Annotations" / video / f"{stem}.png", gt)
            write_png(results / "TOY" / video / f"{stem}.png", pred)
            frames[video].append((pred, gt))
    # a prediction for a frame without GT is not evaluated
    write_png(results / "TOY" / "vid_a" / "00003.png", np.full((H, W), 255, np.uint8))
    config = tmp_path / "datasets.yaml"
    config.write_text(YAML)

    class Toy:
        pass

    t = Toy()
    t.root, t.data, t.results, t.config, t.frames = tmp_path, data, results, config, frames
    t.split_args = ["--data", str(data), "--dataset-config", str(config), "--dataset", "TOY",
                    "--split", "val", "--results-folder", str(results), "-j", "0", "--no-progress"]
    return t


def expected_numbers(frames):
    """Reference numbers of one group of (pred uint8, gt uint8) frames."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fm = sod.Fmeasure(beta=0.3)
    m, s, e, w = sod.MAE(), sod.Smeasure(), sod.Emeasure(), sod.WeightedFmeasure()
    js, fbs = [], []
    for pred, gt in frames:
        for acc in (fm, m, s, e, w):
            acc.step(pred=pred, gt=gt)
        p, g = pred >= 128, gt > 128
        union = np.count_nonzero(p | g)
        js.append(1.0 if union == 0 else np.count_nonzero(p & g) / union)
        fbs.append(boundary_f_measure(p, g))
    f_res, e_curve = fm.get_results()["fm"], e.get_results()["em"]["curve"]
    return {
        "MAE": float(m.get_results()["mae"]), "maxF": float(f_res["curve"].max()),
        "meanF": float(f_res["curve"].mean()), "adpF": float(f_res["adp"]),
        "S": float(s.get_results()["sm"]), "maxE": float(e_curve.max()), "meanE": float(e_curve.mean()),
        "wF": float(w.get_results()["wfm"]), "J": float(np.mean(js)), "F_boundary": float(np.mean(fbs)),
    }


def assert_report_matches(report, frames_by_video):
    per_video = {v: expected_numbers(fr) for v, fr in frames_by_video.items()}
    pooled = expected_numbers([f for fr in frames_by_video.values() for f in fr])
    assert list(report["videos"]) == list(frames_by_video)
    for k in METRIC_KEYS:
        for v in frames_by_video:
            assert report["videos"][v][k] == pytest.approx(per_video[v][k], abs=1e-12), (v, k)
        assert report["overall"][k] == pytest.approx(np.mean([per_video[v][k] for v in per_video]), abs=1e-12), k
        assert report["pooled"][k] == pytest.approx(pooled[k], abs=1e-12), k


def one_error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


# ----------------------------------------------------------------------------- happy paths

def test_cli_end_to_end_json_csv_and_table(toy, capsys):
    out_json, out_csv = toy.root / "out" / "m.json", toy.root / "out" / "m.csv"
    rc = evaluate.main(toy.split_args + ["--json", str(out_json), "--csv", str(out_csv)])
    assert rc == 0
    report = json.loads(out_json.read_text())
    assert list(report) == ["protocol", "overall", "pooled", "videos"]
    assert report["protocol"] == "per-video"
    assert list(report["overall"]) == list(METRIC_KEYS) + list(VOS_KEYS)
    assert list(report["pooled"]) == list(METRIC_KEYS)  # decay/recall of "all frames as one video": no
    for v, stems in VIDEOS.items():
        assert set(report["videos"][v]) == set(METRIC_KEYS) | set(VOS_KEYS) | {"frames"}
        assert report["videos"][v]["frames"] == len(stems)  # the GT-less 00003 is not counted
        assert report["videos"][v]["J-Mean"] == report["videos"][v]["J"]  # all frames: the same mean
    assert_report_matches(report, toy.frames)

    rows = list(csv.reader(out_csv.open()))
    assert rows[0] == ["video", "frames", *METRIC_KEYS, *VOS_KEYS]
    assert [r[0] for r in rows[1:]] == ["vid_a", "vid_b", "overall", "pooled"]
    assert float(rows[3][2]) == pytest.approx(report["overall"]["MAE"], abs=1e-15)
    assert rows[4][-1] == ""  # pooled has no J/F statistics

    table = capsys.readouterr().out
    for label in ("vid_a", "vid_b", "overall", "pooled", "maxF", "F_bnd", "J&F", "J-Decay"):
        assert label in table
    assert f"{report['pooled']['S']:.4f}" in table


def test_library_function_returns_the_same_report(toy):
    report = evaluate_split(toy.data, toy.config, "TOY", "val", toy.results)
    assert_report_matches(report, toy.frames)


def test_videos_restriction(toy, tmp_path):
    out = tmp_path / "r.json"
    assert evaluate.main(toy.split_args + ["--videos", "vid_b", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert list(report["videos"]) == ["vid_b"]
    assert_report_matches(report, {"vid_b": toy.frames["vid_b"]})


def test_workers_give_identical_numbers(toy):
    serial = evaluate_split(toy.data, toy.config, "TOY", "val", toy.results, num_workers=0)
    parallel = evaluate_split(toy.data, toy.config, "TOY", "val", toy.results, num_workers=2)
    assert parallel == serial


def test_size_mismatch_is_resized_with_one_warning_per_video(toy, caplog):
    small = {}
    for stem, (pred, _) in zip(VIDEOS["vid_a"], toy.frames["vid_a"]):
        small[stem] = cv2.resize(pred, (W // 2, H // 2), interpolation=cv2.INTER_AREA)
        write_png(toy.results / "TOY" / "vid_a" / f"{stem}.png", small[stem])
    with caplog.at_level(logging.WARNING):
        report = evaluate_split(toy.data, toy.config, "TOY", "val", toy.results)
    warns = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warns) == 1, [r.getMessage() for r in warns]
    assert "vid_a" in warns[0].getMessage() and "3 of 3" in warns[0].getMessage()
    # expected: bilinear (cv2 INTER_LINEAR) on the float32 map in [0, 1], then
    # round(p * 255) computed in float64
    resized = []
    for s in VIDEOS["vid_a"]:
        up = cv2.resize(small[s].astype(np.float32) / 255, (W, H), interpolation=cv2.INTER_LINEAR)
        resized.append(np.round(np.clip(up.astype(np.float64), 0, 1) * 255).astype(np.uint8))
    frames = {"vid_a": [(p, g) for p, (_, g) in zip(resized, toy.frames["vid_a"])], "vid_b": toy.frames["vid_b"]}
    assert_report_matches(report, frames)


def test_allow_missing_counts_all_zero_map(toy, tmp_path, caplog):
    (toy.results / "TOY" / "vid_b" / "00001.png").unlink()
    out = tmp_path / "r.json"
    with caplog.at_level(logging.WARNING):
        assert evaluate.main(toy.split_args + ["--allow-missing", "--json", str(out)]) == 0
    assert any("vid_b" in r.getMessage() and "missing" in r.getMessage() for r in caplog.records)
    report = json.loads(out.read_text())
    gt = toy.frames["vid_b"][1][1]
    frames = dict(toy.frames, vid_b=[toy.frames["vid_b"][0], (np.zeros_like(gt), gt)])
    assert_report_matches(report, frames)


def test_folders_mode_nested_and_flat(toy, tmp_path):
    gt_root = toy.data / "TOY" / "Annotations"
    nested = evaluate_folders(toy.results / "TOY", gt_root)
    assert_report_matches(nested, toy.frames)
    flat = evaluate_folders(toy.results / "TOY" / "vid_a", gt_root / "vid_a")
    assert list(flat["videos"]) == ["vid_a"]
    assert_report_matches(flat, {"vid_a": toy.frames["vid_a"]})
    out = tmp_path / "f.csv"
    assert evaluate.main(["--pred", str(toy.results / "TOY"), "--gt", str(gt_root), "-j", "0",
                          "--no-progress", "--csv", str(out)]) == 0
    assert [r[0] for r in csv.reader(out.open())][1:] == ["vid_a", "vid_b", "overall", "pooled"]


def test_help_explains_averaging(capsys):
    assert evaluate.main(["--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "mean over videos" in text and "pooled" in text and "overall" in text


# ----------------------------------------------------------------------------- errors

def test_missing_prediction_is_an_error_naming_the_file(toy, tmp_path, capsys):
    missing = toy.results / "TOY" / "vid_b" / "00001.png"
    missing.unlink()
    out_json, out_csv = tmp_path / "r.json", tmp_path / "r.csv"
    assert evaluate.main(toy.split_args + ["--json", str(out_json), "--csv", str(out_csv)]) == 2
    line = one_error_line(capsys)
    assert str(missing) in line and "--allow-missing" in line
    assert not out_json.exists() and not out_csv.exists()
    with pytest.raises(EvaluationError, match="00001.png"):
        evaluate_split(toy.data, toy.config, "TOY", "val", toy.results)


@pytest.mark.parametrize(
    "change, needle",
    [
        (lambda t, a: a.__setitem__(a.index("--data") + 1, str(t.root / "nope")), "nope"),
        (lambda t, a: (t.data / "TOY" / "Annotations").rename(t.data / "TOY" / "Labels"), "Annotations"),
        (lambda t, a: a.__setitem__(a.index("--dataset") + 1, "DAVIS9"), "DAVIS9"),
        (lambda t, a: a.__setitem__(a.index("--split") + 1, "test"), "'test'"),
        (lambda t, a: a.__setitem__(a.index("--results-folder") + 1, str(t.root / "res2")), "res2"),
        (lambda t, a: a.extend(["--videos", "vid_z"]), "vid_z"),
    ],
    ids=["data-root", "gt-folder", "dataset", "split", "results-folder", "video"],
)
def test_bad_arguments_are_one_line_errors(toy, tmp_path, capsys, change, needle):
    args = list(toy.split_args) + ["--json", str(tmp_path / "r.json")]
    change(toy, args)
    assert evaluate.main(args) == 2
    assert needle in one_error_line(capsys)
    assert not (tmp_path / "r.json").exists()


def test_unreadable_png_is_an_error_naming_it(toy, tmp_path, capsys):
    bad = toy.results / "TOY" / "vid_a" / "00005.png"
    bad.write_bytes(b"not a png at all")
    assert evaluate.main(toy.split_args + ["--json", str(tmp_path / "r.json")]) == 2
    assert str(bad) in one_error_line(capsys)
    assert not (tmp_path / "r.json").exists()


def test_usage_errors_exit_2(capsys):
    assert evaluate.main(["--pred", "x"]) == 2
    assert "--pred and --gt" in capsys.readouterr().err
    assert evaluate.main(["--dataset", "TOY"]) == 2
    assert "--split" in capsys.readouterr().err
    assert evaluate.main(["--dataset", "TOY", "--split", "val", "--results-folder", "r", "--gt-subdir", "GT"]) == 2
    assert "--gt-subdir goes with --pred/--gt" in capsys.readouterr().err
    assert evaluate.main(["--pred", "x", "--gt", "y", "--protocol", "matlab"]) == 2
    assert "invalid choice" in capsys.readouterr().err
