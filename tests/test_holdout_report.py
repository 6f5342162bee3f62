"""``generate_pseudo_labels.py --holdout K``: which key frames are hidden, from which pair each
is labelled, and the scores, checked against a computation written here (the written PNGs read
back; J by NumPy, MAE and S by pysodmetrics directly), on user videos and on a benchmark split.
"""
import json

import numpy as np
import pytest
from keyframe_toys import (
    error_line,
    files,
    make_user_video,
    read_png,
    remove_checkpoint,
    run,
    save_random_fgplg,
    score,
    stat_all,
)

from libs.datasets.keyframes import holdout_split
from libs.datasets.toy import make_toy_data
from libs.metrics.boundary import boundary_f_measure
from libs.pipeline.keyframes.report import ranking, verdict

TINY = ["--size", "32", "--device", "cpu"]
# Key frames numbered 0..7: --holdout 2 hides numbers 2, 4, 6 = frames 5, 9, 14, each from the
# remaining key frames around it: (2, 6), (6, 13), (13, 20).
LONG = {0: "gray", 2: "palette", 5: "palette", 6: "rgb", 9: "gray", 13: "01", 14: "gray", 20: "gray"}
SHORT = {0: "gray", 4: "gray", 7: "gray", 12: "gray"}  # hides number 2 = frame 7, from (4, 12)
PAIRS = {"long": [(2, 5, 6), (6, 9, 13), (13, 14, 20)], "short": [(4, 7, 12)]}
KEYS = {"long": LONG, "short": SHORT}


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("holdout")
    long = make_user_video(root / "F", root / "M", "long", 21, LONG, seed=11)
    short = make_user_video(root / "F", root / "M", "short", 13, SHORT, seed=12)
    make_user_video(root / "F", root / "M", "pair", 5, {0: "gray", 4: "gray"}, seed=13)  # < 3 key frames
    return {"root": root, "long": long, "short": short}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = save_random_fgplg(tmp_path_factory.mktemp("fgplg") / "fgplg.pth", seed=1)
    yield path
    remove_checkpoint(path)


def input_argv(toy, *extra):
    return ["--input", toy["root"] / "F", "--labels", toy["root"] / "M", *TINY, *extra]


def expected_scores(pred_u8, gt_u8):
    s = score(pred_u8, gt_u8)
    s["F"] = boundary_f_measure(pred_u8 >= 128, gt_u8 > 128)
    return s


def close(a: dict, b: dict):
    assert set(a) == set(b) == {"J", "F", "S", "MAE"}
    for key in a:
        assert a[key] == pytest.approx(b[key], abs=1e-9), key


def test_hidden_frames_and_their_pairs():
    assert holdout_split(sorted(LONG), 2) == ([0, 2, 6, 13, 20], [5, 9, 14])
    assert holdout_split(sorted(LONG), 3) == ([0, 2, 5, 9, 13, 20], [6, 14])
    assert holdout_split([0, 4, 9], 1) == ([0, 9], [4])  # never the first or the last
    assert holdout_split([0, 4, 9], 2) == ([0, 4, 9], [])


def test_report_matches_an_independent_scorer(toy, tmp_path, checkpoint, capsys, one_thread):
    out, report_file = tmp_path / "out", tmp_path / "report.json"
    before = stat_all(toy["root"])
    result = run(input_argv(toy, "--holdout", "2", "--checkpoint", checkpoint, "--out", out, "--json", report_file,
                            "--batch-size", "2"), capsys)
    assert result.rc == 0, result.err
    assert stat_all(toy["root"]) == before
    report = json.loads(report_file.read_text())
    assert set(report) == {"holdout", "videos", "overall"} and report["holdout"] == 2
    assert list(report["videos"]) == ["long", "short"]  # 'pair' has 2 key frames: nothing to hide
    assert "video 'pair' skipped" in result.out
    # Only the hidden frames' FGPLG masks are written, and nothing else under DIR.
    assert files(out) == ["holdout/long/f14.png", "holdout/long/f5.png", "holdout/long/f9.png",
                          "holdout/short/f7.png"]
    for video, pairs in PAIRS.items():
        entry = report["videos"][video]
        assert set(entry) == {"frames", "fgplg", "copy", "warp"}
        assert entry["frames"] == [f"f{p}" for _, p, _ in pairs]
        masks = toy[video][1]
        per = {"fgplg": [], "copy": []}
        for left, p, right in pairs:
            gt = masks[p] * 255
            per["fgplg"].append(expected_scores(read_png(out / "holdout" / video / f"f{p}.png"), gt))
            nearer = left if p - left <= right - p else right
            per["copy"].append(expected_scores(masks[nearer] * 255, gt))
        for method, frames in per.items():
            close(entry[method], {k: float(np.mean([f[k] for f in frames])) for k in frames[0]})
    for method in ("fgplg", "copy", "warp"):  # overall: the mean over videos
        close(report["overall"][method], {k: (report["videos"]["long"][method][k] + report["videos"]["short"][method][k])
                                          / 2 for k in ("J", "F", "S", "MAE")})
    assert "| long | 3 | fgplg |" in result.out
    best = ranking(report["overall"])[0]
    assert f"label your frames with --method {best}" in result.out


def test_a_new_report_replaces_the_masks_of_the_last_one_and_nothing_else(toy, tmp_path, checkpoint, capsys,
                                                                            one_thread):
    out = tmp_path / "out"
    assert run(input_argv(toy, "--holdout", "2", "--checkpoint", checkpoint, "--out", out), capsys).rc == 0
    result = run(input_argv(toy, "--holdout", "3", "--checkpoint", checkpoint, "--out", out), capsys)
    assert result.rc == 0, result.err
    # K = 3 hides key numbers 3 and 6 of 'long' (frames 6 and 14); 'short' has no interior multiple of 3.
    assert files(out) == ["holdout/long/f14.png", "holdout/long/f6.png"]
    assert "video 'short': nothing to hide with --holdout 3" in result.out
    (out / "holdout" / "notes.txt").write_text("mine")  # not a mask of a report: the folder is no longer ours
    error_line(run(input_argv(toy, "--holdout", "2", "--checkpoint", checkpoint, "--out", out), capsys),
               out / "holdout" / "notes.txt")
    assert files(out) == ["holdout/long/f14.png", "holdout/long/f6.png", "holdout/notes.txt"]


def test_warp_baseline_is_what_method_warp_writes(toy, tmp_path, capsys):
    """Scored without a checkpoint; its warp numbers equal the scores of the masks that
    ``--method warp`` writes for the same frames once their masks are hidden by hand."""
    report_file = tmp_path / "report.json"
    result = run(input_argv(toy, "--holdout", "2", "--checkpoint", "none", "--json", report_file), capsys)
    assert result.rc == 0, result.err
    report = json.loads(report_file.read_text())
    assert report["videos"]["long"]["fgplg"] is None and report["overall"]["fgplg"] is None
    assert "The FGPLG was not scored (--checkpoint none)" in result.out
    # The same frames labelled by generation, their masks removed from a copy of MASKS.
    for video, pairs in PAIRS.items():
        frames_root, masks_root, out = tmp_path / video / "F", tmp_path / video / "M", tmp_path / video / "out"
        keep = {k: kind for k, kind in KEYS[video].items() if k not in [p for _, p, _ in pairs]}
        make_user_video(frames_root, masks_root, video, len(toy[video][0]), keep,
                        seed={"long": 11, "short": 12}[video])
        assert run(["--input", frames_root, "--labels", masks_root, "--out", out, *TINY, "--method", "warp"],
                   capsys).rc == 0
        scores = [expected_scores(read_png(out / video / f"f{p}.png"), toy[video][1][p] * 255) for _, p, _ in pairs]
        close(report["videos"][video]["warp"], {k: float(np.mean([s[k] for s in scores])) for k in scores[0]})


def test_benchmark_split_reads_only_the_kept_labels(tmp_path, capsys):
    data = tmp_path / "toy"
    make_toy_data(data, train_videos=1, val_videos=1, test_videos=0, frames=9, train_images=0, val_images=0,
                  height=32, width=40)
    labels = data / "TOY_VIDEO" / "Annotations" / "video_00"
    for name in ("00001.png", "00003.png", "00005.png", "00007.png"):  # not kept at l = 2: never opened
        (labels / name).write_bytes(b"")
    report_file, out = tmp_path / "report.json", tmp_path / "out"
    result = run(["--data", data, "--dataset-config", data / "datasets.yaml", "--sets", "TOY_VIDEO:train",
                  "--label_interval", "2", "--holdout", "2", "--checkpoint", "none", "--json", report_file,
                  "--out", out, *TINY], capsys)
    assert result.rc == 0, result.err
    report = json.loads(report_file.read_text())
    # kept labels 0, 2, 4, 6, 8 = key numbers 0..4: --holdout 2 hides 4 (number 2), labelled from (2, 6).
    assert report["videos"]["TOY_VIDEO/video_00"]["frames"] == ["00004"]
    from PIL import Image

    gt = np.asarray(Image.open(labels / "00004.png"))
    copy = np.asarray(Image.open(labels / "00002.png"))  # the tie goes to the left key frame
    close(report["videos"]["TOY_VIDEO/video_00"]["copy"], expected_scores(copy, gt))
    assert not out.exists() or files(out) == []  # no FGPLG, nothing to write


def test_verdict_names_the_metrics_the_fgplg_lost():
    good = {"J": 0.9, "F": 0.8, "S": 0.9, "MAE": 0.01}
    results = {"fgplg": good, "copy": {"J": 0.5, "F": 0.5, "S": 0.5, "MAE": 0.1},
               "warp": {"J": 0.6, "F": 0.6, "S": 0.6, "MAE": 0.2}}
    lines = verdict(results)
    assert lines[0].startswith("The FGPLG beat both baselines") and "--method fgplg" in lines[1]
    results["fgplg"] = dict(good, MAE=0.15)  # worse than copy's 0.1 only
    lines = verdict(results)
    assert "did NOT beat both baselines; not on MAE (copy 0.1000 vs fgplg 0.1500)." in lines[0]
    assert ranking(results) == ["fgplg", "warp", "copy"]


def test_bad_holdout_input(toy, tmp_path, capsys):
    error_line(run(input_argv(toy, "--holdout", "2", "--checkpoint", tmp_path / "missing.pth"), capsys),
               tmp_path / "missing.pth", "--checkpoint none")
    error_line(run(input_argv(toy, "--holdout", "9", "--checkpoint", "none"), capsys), "--holdout 9",
               "smaller K")
    error_line(run(input_argv(toy, "--holdout", "2", "--checkpoint", "none", "--json", toy["root"] / "M" / "r.json"),
                   capsys), "--json", toy["root"] / "M")
    error_line(run(input_argv(toy, "--json", tmp_path / "r.json"), capsys), "--json", "--holdout")
    assert not (toy["root"] / "M" / "r.json").exists()
