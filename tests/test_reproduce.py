"""reproduce.py's plan: the counts against an independent count of the toy folders, every problem and
warning on data broken on purpose, the JSON schema, and that a plan (or a run stopped by its
problems) writes nothing. No stage runs here (tests/test_reproduce_runs.py runs them)."""
from collections import Counter

import numpy as np
import pytest
import yaml
from PIL import Image
from reproduce_toy import make_data, plan_of, toy_flags

import reproduce

L, M = 5, 1  # paper_table1's label budget and pseudo-labels per gap
SETS = {"TOY_VIDEO:train": ["video_00", "video_01"], "TOY_VIDEO:val": ["video_02"], "TOY_VIDEO:test": ["video_03"]}


@pytest.fixture(scope="module")
def sparse(tmp_path_factory):
    """Toy videos of 23 frames annotated on every 2nd (default_label_interval: 2, like VOS's 15)."""
    root = tmp_path_factory.mktemp("sparse")
    data = make_data(root, frames=23, label_every=2)
    weights = root / "image.pth"
    weights.write_bytes(b"the plan only checks that weights exist")
    return data, weights


def count_by_hand(data, videos, d, m=M):
    """The plan's numbers, from listing the toy folders here (not with the project's code)."""
    out = Counter()
    gaps = Counter()
    for video in videos:
        frames = sorted(p.stem for p in (data / "TOY_VIDEO" / "JPEGImages" / video).iterdir())
        labels = sorted(int(p.stem) for p in (data / "TOY_VIDEO" / "Annotations" / video).iterdir())
        kept = labels[::L]  # frame numbers of every L-th annotation (frames are numbered 0, 1, ...)
        n = len(kept)
        triplets = 0 if n < 3 else len(range(0, n - 2, 2)) + (1 if (n - 3) % 2 else 0)
        pseudo = {k + j * ((L * d) // (m + 1)) for k in kept[:-1] for j in range(1, m + 1)} - set(kept)
        gaps.update(b - a for a, b in zip(labels, labels[1:]))
        out.update(videos=1, frames=len(frames), annotated=len(labels), kept_labels=n, fgplg_triplets=triplets,
                   pseudo_labels=len([p for p in pseudo if p < len(frames)]))
    out["annotation_interval"] = gaps.most_common(1)[0][0]
    return out


@pytest.mark.parametrize("m", [1, 3])
def test_the_plans_counts_match_a_count_of_the_folders(sparse, tmp_path, capsys, m):
    data, weights = sparse
    flags = toy_flags(data, weights, tmp_path / "run", "--frame_between_label_num", str(m))
    rc, plan, text = plan_of(flags, tmp_path, capsys)
    assert rc == 0 and plan["problems"] == [] and plan["warnings"] == []
    for key, videos in SETS.items():
        expected = count_by_hand(data, videos, d=2, m=m)
        got = plan["datasets"][key]
        assert got["videos"] == got["videos_listed"] == len(videos)
        for k in ("frames", "annotated", "annotation_interval", "kept_labels", "fgplg_triplets"):
            assert got[k] == expected[k], (key, k)
        assert got["config_interval"] == 2
        # pseudo-labels are written for the train sets only (generation's --sets)
        assert got["pseudo_labels"] == (expected["pseudo_labels"] if key == "TOY_VIDEO:train" else 0)
    train = count_by_hand(data, SETS["TOY_VIDEO:train"], d=2, m=m)
    # kept at 0, 10, 20 of each video; pseudo-labels every (5 x 2) // (m + 1) frames after 0 and 10
    assert train["pseudo_labels"] == 2 * 2 * m and train["fgplg_triplets"] == 2
    assert plan["datasets"]["TOY_VIDEO:train"]["gt_read"] == pytest.approx(train["kept_labels"] / train["annotated"])
    assert plan["datasets"]["TOY_VIDEO:val"]["gt_read"] == 1.0  # train.py validates on all of the val GT
    row = next(line for line in text.splitlines() if line.strip().startswith("TOY_VIDEO:train"))
    assert row.split()[2:9] == ["2/2", str(train["frames"]), str(train["annotated"]), "2/2",
                                str(train["kept_labels"]), "2", str(4 * m)]
    assert not (tmp_path / "run").exists()  # a plan writes nothing


def break_data(data):
    """Every problem of the issue in one copy of the toy data; returns what each line must name."""
    ann, img = data / "TOY_VIDEO" / "Annotations", data / "TOY_VIDEO" / "JPEGImages"
    for d in (img, ann):
        for p in sorted((d / "video_01").iterdir()):
            p.unlink()
        (d / "video_01").rmdir()  # a listed video missing
    orphan = ann / "video_00" / "00099.png"
    orphan.write_bytes((ann / "video_00" / "00000.png").read_bytes())  # GT without a frame
    small = ann / "video_00" / "00004.png"
    Image.fromarray(np.zeros((20, 20), np.uint8)).save(small)  # a mask of another size
    garbage = ann / "video_02" / "00006.png"
    garbage.write_bytes(b"not a PNG at all")  # an unreadable file
    return {"missing": ("TOY_VIDEO:train", "video_01", str(img / "video_01")),
            "orphan": ("TOY_VIDEO:train", "video_00", str(orphan)),
            "size": ("TOY_VIDEO:train", "video_00", str(small)),
            "unreadable": ("TOY_VIDEO:val", "video_02", str(garbage))}


def test_each_problem_is_one_line_naming_dataset_video_and_file_and_stops_the_run(sparse, tmp_path, capsys):
    import shutil

    data = tmp_path / "broken"
    shutil.copytree(sparse[0], data)
    named = break_data(data)
    flags = toy_flags(data, tmp_path / "no_such_weights.pth", tmp_path / "run")
    rc, plan, text = plan_of(flags, tmp_path, capsys)
    assert rc == 1
    problems = plan["problems"]
    for what, words in named.items():
        assert any(all(w in p for w in words) for p in problems), (what, problems)
    assert any("another size" in p for p in problems) and any("unreadable" in p for p in problems)
    assert any("GT without a frame" in p for p in problems) and any("not on disk" in p for p in problems)
    missing = [p for p in problems if "weights missing" in p]
    assert len(missing) == 2 and all(str(tmp_path / "no_such_weights.pth") in p for p in missing)
    assert {p.split()[1] for p in missing} == {"fgplg", "video"}
    for p in problems:
        assert f"  - {p}" in text.splitlines()
    # the run itself stops on them before any work: no run folder
    assert reproduce.main(flags) == 1
    assert "stopped before any work" in capsys.readouterr().out and not (tmp_path / "run").exists()


def test_every_gt_file_without_a_frame_is_named_and_its_video_still_counted(sparse, tmp_path, capsys):
    import shutil

    data = tmp_path / "orphans"
    shutil.copytree(sparse[0], data)
    ann, img = data / "TOY_VIDEO" / "Annotations", data / "TOY_VIDEO" / "JPEGImages"
    orphans = [ann / "video_00" / name for name in ("00098.png", "00099.png")]
    for path in orphans:
        path.write_bytes((ann / "video_00" / "00000.png").read_bytes())
    for path in (img / "video_02").iterdir():
        path.unlink()  # the val video: its folder is there, without a frame
    rc, plan, _ = plan_of(toy_flags(data, sparse[1], tmp_path / "run"), tmp_path, capsys)
    assert rc == 1
    for path in orphans:  # both named, not only the first
        assert [p for p in plan["problems"] if str(path) in p and "GT without a frame" in p], plan["problems"]
    train = plan["datasets"]["TOY_VIDEO:train"]
    with_frame = [p for v in SETS["TOY_VIDEO:train"] for p in (ann / v).iterdir()
                  if (img / v / f"{p.stem}.jpg").is_file()]
    assert train["videos"] == 2 and train["annotated"] == len(with_frame) > 0
    empty = [p for p in plan["problems"] if "video_02" in p]
    assert len(empty) == 1 and empty[0].startswith("TOY_VIDEO:val") and str(img / "video_02") in empty[0]
    assert plan["datasets"]["TOY_VIDEO:val"]["videos"] == 0


def test_gt_every_15th_frame_under_a_config_that_says_every_frame_is_a_warning(tmp_path, capsys):
    data = make_data(tmp_path, frames=91, label_every=15)  # GT on frames 0, 15, ..., 90
    config = data / "datasets.yaml"
    raw = yaml.safe_load(config.read_text())
    raw["TOY_VIDEO"]["default_label_interval"] = 1  # as FBMS's entry says, although its GT is sparse
    config.write_text(yaml.safe_dump(raw))
    (tmp_path / "w.pth").write_bytes(b"x")
    # l = 2 keeps 0, 30, 60, 90: the pseudo-label goes (2 x 1) // 2 = 1 frame after each kept label
    rc, plan, _ = plan_of(toy_flags(data, tmp_path / "w.pth", tmp_path / "run", "--label_interval", "2"),
                          tmp_path, capsys)
    assert rc == 0 and plan["problems"] == []
    train = plan["datasets"]["TOY_VIDEO:train"]
    assert (train["annotation_interval"], train["config_interval"], train["pseudo_labels"]) == (15, 1, 6)
    warning = next(w for w in plan["warnings"] if w.startswith("TOY_VIDEO:train:") and "every 15 frames" in w)
    assert "default_label_interval: 1" in warning and "1 frame(s) after each kept label" in warning
    assert any(w.startswith("TOY_VIDEO:test:") and "every 15 frames" in w for w in plan["warnings"])


def test_gt_off_the_configs_interval_multi_object_masks_and_amp_on_cpu_are_warnings(sparse, tmp_path, capsys):
    import shutil

    data = tmp_path / "odd"
    shutil.copytree(sparse[0], data)
    ann = data / "TOY_VIDEO" / "Annotations"
    odd = ann / "video_00" / "00003.png"  # GT on frame 3 of a video annotated on every 2nd frame
    odd.write_bytes((ann / "video_00" / "00002.png").read_bytes())
    palette = np.zeros((32, 40), np.uint8)
    palette[2:10, 2:10], palette[20:30, 20:30] = 1, 2  # two objects, DAVIS-2017 style
    multi = ann / "video_03" / "00000.png"
    img = Image.fromarray(palette, mode="P")
    img.putpalette([0, 0, 0, 128, 0, 0, 0, 128, 0] + [0] * 759)
    img.save(multi)
    rc, plan, _ = plan_of(toy_flags(data, sparse[1], tmp_path / "run", "--amp"), tmp_path, capsys)
    assert rc == 0 and plan["problems"] == []
    warnings = plan["warnings"]
    assert any("video_00" in w and str(odd) in w and "does not predict" in w for w in warnings), warnings
    assert plan["datasets"]["TOY_VIDEO:train"]["annotation_interval"] == 2  # the most common gap, not 1
    multi_line = next(w for w in warnings if "more than one object" in w)
    assert multi_line.startswith("TOY_VIDEO:test:") and str(multi) in multi_line and "(2 objects)" in multi_line
    assert "1 of 3 sampled masks" in multi_line and plan["datasets"]["TOY_VIDEO:test"]["masks_sampled"] == 3
    amp = [w for w in warnings if "--amp" in w]
    assert {w.split()[1] for w in amp} == {"fgplg", "video"} and all("1.75x slower" in w for w in amp)


def test_json_schema_device_disk_and_estimates(sparse, tmp_path, capsys):
    rc, plan, text = plan_of(toy_flags(*sparse, tmp_path / "run", "--gpus", "3", "--batch-size", "2"),
                             tmp_path, capsys)
    assert rc == 0
    assert set(plan) >= {"datasets", "problems", "warnings", "device", "precision", "world_size", "disk",
                         "estimates", "stages"}
    keys = {"videos", "frames", "annotated", "annotation_interval", "config_interval", "kept_labels",
            "fgplg_triplets", "pseudo_labels"}
    for entry in plan["datasets"].values():
        assert keys <= set(entry) and all(isinstance(entry[k], int) for k in keys)
    assert plan["device"] == "cpu" and plan["precision"].startswith("fp32") and plan["world_size"] == 3
    assert plan["effective_batch"] == {"fgplg": 6, "video": 6}
    assert 0 < plan["disk"]["write_bytes"] < plan["disk"]["free_bytes"]
    est = plan["estimates"]
    assert est["video"]["seconds"] > 0 and "41.4 s per step" in est["video"]["note"]  # docs/speed.md's CPU figure
    assert est["fgplg"]["seconds"] is None and "no measured figure" in est["fgplg"]["note"]
    commands = plan["stages"]
    assert commands["video"]["commands"][0].startswith("torchrun --standalone --nproc_per_node=3 ")
    assert commands["inference"]["commands"][0].startswith("python ")  # not a training stage: one process
    assert "world size 3" in text and "effective batch" in text


def test_no_measured_figure_for_a_device_without_one(sparse, tmp_path):
    import argparse

    from libs.pipeline.reproduce.commands import StagePlan
    from libs.pipeline.reproduce.estimates import estimate_stage, load_figures
    from libs.pipeline.reproduce.stages import KINDS

    args = argparse.Namespace(all_frames=False, overlay=False, size=448)
    stage = StagePlan(KINDS["inference"], 1, 1, [[]], [args], ["X:test"], sparse[0], {})
    figures = load_figures()
    assert "no measured figure for cuda" in estimate_stage(stage, {}, {}, "cuda", 1, figures).note
    assert estimate_stage(stage, {}, {}, "cpu", 1, figures).note.startswith(f"{figures['inference_frame'].seconds:g} s")


def test_a_folder_that_is_no_run_is_refused_and_left_alone(sparse, tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert reproduce.main(toy_flags(*sparse, out)) == 2
    assert "is not a previous run" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_bad_flags_name_the_stage_or_the_experiment(sparse, tmp_path, capsys):
    flags = toy_flags(*sparse, tmp_path / "run")
    assert reproduce.main(flags + ["--set", "video.no-such-flag=1"]) == 2
    assert "stage video (train.py) has no flag --no-such-flag" in capsys.readouterr().err
    assert reproduce.main(flags + ["--set", "video.save-folder=elsewhere"]) == 2
    assert "not settable for stage video" in capsys.readouterr().err
    assert reproduce.main(flags + ["--only", "nothing"]) == 2
    assert "--only nothing: not a stage of this experiment" in capsys.readouterr().err
    assert reproduce.main(flags + ["--experiment", "no_such_experiment"]) == 2
    assert "available: paper_table1, quickstart" in capsys.readouterr().err


def test_experiment_files_are_checked(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("stages:\n  video: {}\n  fgplg: {}\n")
    assert reproduce.main(["--experiment", str(bad), "--plan"]) == 2
    assert "are not in pipeline order" in capsys.readouterr().err
    bad.write_text("stages:\n  fgplg: {}\nbogus: 1\n")
    assert reproduce.main(["--experiment", str(bad), "--plan"]) == 2
    assert "unknown key(s) bogus" in capsys.readouterr().err
    bad.write_text("stages:\n  fgplg: {label_interval: 5}\n")
    assert reproduce.main(["--experiment", str(bad), "--plan"]) == 2
    assert "stage fgplg needs sets.train" in capsys.readouterr().err


def test_data_flags_replace_the_quickstarts_toy_data_stage(sparse, tmp_path, capsys):
    data = sparse[0]
    flags = ["--experiment", "quickstart", "--data", str(data), "--dataset-config", str(data / "datasets.yaml"),
             "--out", str(tmp_path / "run")]
    rc, plan, text = plan_of(flags, tmp_path, capsys)
    assert text.startswith("stage data left out") and "data" not in plan["stages"]
    assert plan["datasets"]["TOY_VIDEO:train"]["frames"] == 2 * 23  # the given data, counted
    assert any("TOY_IMAGE:train" in p for p in plan["problems"]) and rc == 1  # pretrain's image set is not there
