"""Benchmark releases as they ship: per-video GT subfolders, {video} dataset configs, and
config/benchmarks.yaml (layouts and video lists of DengPingFan/DAVSOD, EvaluateTool/main.m)."""
import numpy as np
import pytest
from PIL import Image

import evaluate
from libs.datasets import load_dataset_config
from libs.pipeline.evaluation import EvaluationError, collect_folder_jobs, evaluate_folders, evaluate_split

H, W = 16, 20


def write_png(path, arr):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def make_release(root, sub="ground-truth", videos=("bear", "dog"), frames=3, seed=0, gt_ext=".png"):
    """<root>/release/<video>/{Imgs,<sub>}/<video>_<i><gt_ext> and <root>/pred/<video>/<video>_<i>.png."""
    rng = np.random.default_rng(seed)
    for video in videos:
        for i in range(frames):
            gt = np.zeros((H, W), np.uint8)
            gt[3 : 3 + rng.integers(4, 10), 4 : 4 + rng.integers(4, 12)] = 255
            pred = np.clip(gt * 0.7 + rng.normal(50, 40, (H, W)), 0, 255).astype(np.uint8)
            write_png(root / "release" / video / sub / f"{video}_{i:05d}{gt_ext}", gt)
            write_png(root / "release" / video / "Imgs" / f"{video}_{i:05d}.jpg", np.dstack([pred] * 3))
            write_png(root / "pred" / video / f"{video}_{i:05d}.png", pred)
    return root / "pred", root / "release"


def nested_copy(release, sub, target):
    """The same GT as plain <video>/<frame>.png folders: the layout evaluate.py always read."""
    for f in sorted(release.glob(f"*/{sub}/*.png")):
        write_png(target / f.parent.parent.name / f.name, np.asarray(Image.open(f)))
    return target


# ----------------------------------------------------------------------------- config/benchmarks.yaml

def test_benchmarks_config_loads_with_placeholders(repo_root):
    config = load_dataset_config(repo_root / "config" / "benchmarks.yaml")
    assert set(config) == {"DAVIS", "FBMS", "SegTrack-V2"}
    for spec in config.values():
        assert spec.kind == "video"
        assert spec.image_dir == "{video}/Imgs" and spec.label_dir == "{video}/ground-truth"
        assert spec.video_label_dir("/data", "x").as_posix() == f"/data/{spec.name}/x/ground-truth"
        assert spec.video_image_dir("/data", "x").as_posix() == f"/data/{spec.name}/x/Imgs"
    # main.m's lists, written out by hand
    assert config["SegTrack-V2"].videos("test") == ["bird_of_paradise", "bmx", "girl", "monkey", "parachute", "soldier"]
    assert config["FBMS"].videos("vsop") == ["giraffes01", "horses04", "horses05", "marple6", "marple9"]
    # DAVIS_list of main.m is DAVIS 2016's validation split
    davis2016 = load_dataset_config(repo_root / "config" / "datasets.yaml")["DAVIS2016"]
    assert config["DAVIS"].videos("test") == davis2016.videos("val")
    assert len(config["DAVIS"].videos("test")) == 20


def test_split_mode_reads_a_placeholder_layout(tmp_path):
    pred, release = make_release(tmp_path)
    for folder in ("results", "data"):
        (tmp_path / folder).mkdir()
    pred.rename(tmp_path / "results" / "REL")  # <results>/<NAME>/<video>/
    release.rename(tmp_path / "data" / "REL")  # <data>/<NAME>/<video>/ground-truth/
    config = tmp_path / "bench.yaml"
    config.write_text('REL:\n  image_dir: "{video}/Imgs"\n  label_dir: "{video}/ground-truth"\n'
                      '  image_ext: ".jpg"\n  label_ext: ".png"\n  default_label_interval: 1\n'
                      '  video_split:\n    "test": ["bear", "dog"]\n')
    split = evaluate_split(tmp_path / "data", config, "REL", "test", tmp_path / "results")
    folders = evaluate_folders(tmp_path / "results" / "REL", tmp_path / "data" / "REL")
    assert split == folders
    assert split["videos"]["bear"]["frames"] == 3
    davsod = evaluate_split(tmp_path / "data", config, "REL", "test", tmp_path / "results", protocol="davsod")
    assert davsod["videos"]["dog"]["frames"] == 1


# ----------------------------------------------------------------------------- --gt release folders

@pytest.mark.parametrize("sub", ["ground-truth", "GT_object_level", "GT"])
def test_release_subfolder_is_detected(tmp_path, sub):
    pred, release = make_release(tmp_path, sub)
    jobs = collect_folder_jobs(pred, release)
    assert [j.name for j in jobs] == ["bear", "dog"]
    assert jobs[0].frames[1].gt == release / "bear" / sub / "bear_00001.png"
    assert jobs[0].frames[1].pred == pred / "bear" / "bear_00001.png"
    nested = nested_copy(release, sub, tmp_path / "nested")
    for protocol in ("per-video", "davsod"):
        assert evaluate_folders(pred, release, protocol=protocol) == evaluate_folders(pred, nested, protocol=protocol)


def test_cli_reads_a_release_with_a_named_subfolder(tmp_path, capsys):
    pred, release = make_release(tmp_path, "Masks")
    args = ["--pred", str(pred), "--gt", str(release), "-j", "0", "--no-progress"]
    assert evaluate.main(args) == 2  # Masks is not a known name: nothing found
    err = capsys.readouterr().err
    assert "--gt-subdir" in err and "ground-truth" in err
    assert evaluate.main(args + ["--gt-subdir", "Masks", "--videos", "dog"]) == 0
    out = capsys.readouterr().out
    assert "dog" in out and "bear" not in out


def test_two_candidate_subfolders_are_ambiguous(tmp_path, capsys):
    pred, release = make_release(tmp_path, "ground-truth")
    make_release(tmp_path, "GT", videos=("dog",))
    args = ["--pred", str(pred), "--gt", str(release), "-j", "0", "--no-progress"]
    assert evaluate.main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'dog'" in err[0] and "ground-truth, GT" in err[0] and "--gt-subdir" in err[0]
    assert evaluate.main(args + ["--gt-subdir", "GT", "--videos", "dog"]) == 0


def test_videos_with_different_or_missing_subfolders_are_errors(tmp_path):
    pred, release = make_release(tmp_path, "ground-truth", videos=("bear",))
    make_release(tmp_path, "GT", videos=("dog",))
    with pytest.raises(EvaluationError, match="different GT subfolders"):
        collect_folder_jobs(pred, release)
    with pytest.raises(EvaluationError, match=r"--gt-subdir GT: no folder .*bear.GT"):
        collect_folder_jobs(pred, release, gt_subdir="GT")
    (release / "cat" / "Imgs").mkdir(parents=True)
    with pytest.raises(EvaluationError, match="'cat' has no GT subfolder"):
        collect_folder_jobs(pred, release, videos=["bear", "cat"])


def test_prediction_may_carry_the_gt_file_name(tmp_path):
    # The toolbox reads [resPath name] with the GT's own name; <stem>.png is preferred.
    pred, release = make_release(tmp_path, "GT", gt_ext=".bmp")
    for f in sorted(pred.glob("bear/*.png")):
        f.rename(f.with_suffix(".bmp"))
    jobs = collect_folder_jobs(pred, release, gt_ext=".bmp")
    assert jobs[0].frames[0].pred == pred / "bear" / "bear_00000.bmp"
    assert jobs[1].frames[0].pred == pred / "dog" / "dog_00000.png"
    report = evaluate_folders(pred, release, gt_ext=".bmp")
    assert report["videos"]["bear"]["frames"] == 3
