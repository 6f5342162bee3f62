"""Bad inputs to the four scripts: exit code 2, one ``<script>: error: ...`` line naming the
path or flag, and no output written.

Most cases run in-process through each script's ``main(argv)`` (the same code path as
the command line, without paying the interpreter and torch start-up); a few run as real
subprocesses to check the exit status and stderr end to end. Settings are tiny and most
errors happen before any model is built.
"""
import collections
import importlib
import os
import re
import shutil
import subprocess
import sys

import pytest
import torch
from PIL import Image

from libs.datasets.toy import make_toy_data
from libs.networks import FGPLG, VideoModel
from libs.utils.checkpoint import save_model

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# tqdm progress lines ("name:  33%|███▎ | 1/3 [00:00<...]") may precede an error found mid-run.
PROGRESS = re.compile(r"\d+%\||\d+/\d+ \[|\d+it \[")
TINY = ["--size", "32", "-j", "0", "--device", "cpu"]
TRAIN_TINY = TINY + ["--epochs", "0", "--max-iters", "1", "--val-max-items", "1", "--backup-epochs", "0"]


Result = collections.namedtuple("Result", "rc out err")


def run_inprocess(script, argv, capsys):
    """``<script>.main(argv)`` -> Result (an argparse error's SystemExit becomes the exit code)."""
    main = importlib.import_module(script[: -len(".py")]).main
    try:
        rc = main(argv)
    except SystemExit as e:
        rc = e.code
    out, err = capsys.readouterr()
    return Result(rc, out, err)


def run_subprocess(script, argv):
    env = dict(os.environ, OMP_NUM_THREADS="1")  # spinning OpenMP threads of several processes on 2 cores
    p = subprocess.run([sys.executable, script, *argv], cwd=REPO, env=env, capture_output=True, text=True,
                       timeout=300)
    return Result(p.returncode, p.stdout, p.stderr)


def expect_error(result, script, *needles, usage=False):
    """Exit code 2 and exactly one ``<script>: error:`` line (the last), naming every needle.

    Other stderr lines may only be progress bars, or argparse's usage block when ``usage``.
    """
    assert result.rc == 2, f"exit code {result.rc}; stderr:\n{result.err}"
    lines = [ln for ln in result.err.splitlines() if ln.strip() and not PROGRESS.search(ln)]
    prefix = f"{script}: error: "
    errors = [ln for ln in lines if ln.startswith(prefix)]
    assert len(errors) == 1 and lines[-1] == errors[0], f"stderr:\n{result.err}"
    others = lines[:-1]
    if usage:
        assert others and others[0].startswith("usage:") and all(ln.startswith(" ") for ln in others[1:]), others
    else:
        assert not others, f"unexpected stderr lines: {others}"
    line = errors[0]
    for needle in needles:
        assert str(needle) in line, f"{needle!r} not named in: {line}"
    assert "Traceback" not in result.err
    return line


def assert_no_outputs(*folders):
    for folder in folders:
        files = [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []
        assert not files, f"{folder}: files written: {files}"


def no_temp_files(root):
    return not [p for p in root.rglob("*") if p.name.endswith(".tmp")]


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """Small toy data (every frame labelled): train video_00, video_01; val video_02; test video_03."""
    root = tmp_path_factory.mktemp("pristine") / "toy"
    make_toy_data(root, train_videos=2, val_videos=1, test_videos=1, frames=11, train_images=0, val_images=0,
                  height=32, width=48)
    return root


@pytest.fixture
def data(pristine, tmp_path):
    """A private copy of the toy data that a test may damage."""
    root = tmp_path / "data"
    shutil.copytree(pristine, root)
    return root


@pytest.fixture
def out(tmp_path):
    return tmp_path / "out"


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """A VideoModel checkpoint, an FGPLG (OpenCV flow) checkpoint and a garbage .pth file."""
    folder = tmp_path_factory.mktemp("checkpoints")
    torch.manual_seed(0)
    save_model(VideoModel(), folder / "video.pth")
    save_model(FGPLG(flow="opencv"), folder / "fgplg.pth")
    (folder / "garbage.pth").write_bytes(os.urandom(4096))
    yield folder
    for checkpoint in folder.glob("*.pth"):  # ~400 MB that pytest would keep for a few runs
        checkpoint.unlink()


def data_args(root):
    return ["--data", str(root), "--dataset-config", str(root / "datasets.yaml")]


def fgplg_argv(root, out, *extra):
    return [*data_args(root), "--train-sets", "TOY_VIDEO:train", "--val-sets", "TOY_VIDEO:val",
            "--checkpoint", "none", "--flow", "opencv", "--save-folder", str(out), *TRAIN_TINY, *extra]


def generate_argv(root, out, checkpoint, *extra):
    return [*data_args(root), "--sets", "TOY_VIDEO:train", "--checkpoint", str(checkpoint),
            "--pseudo-label-folder", str(out), *TINY, *extra]


def train_argv(root, out, *extra):
    return [*data_args(root), "--train-sets", "TOY_VIDEO:train", "--val-sets", "TOY_VIDEO:val",
            "--checkpoint", "none", "--save-folder", str(out), *TRAIN_TINY, *extra]


def inference_argv(root, out, checkpoint, *extra):
    return [*data_args(root), "--dataset", "TOY_VIDEO", "--split", "test", "--checkpoint", str(checkpoint),
            "--results-folder", str(out), *TINY, *extra]


def argv_for(script, root, out, checkpoints, *extra):
    if script == "train_fgplg.py":
        return fgplg_argv(root, out, *extra)
    if script == "generate_pseudo_labels.py":
        return generate_argv(root, out, checkpoints / "fgplg.pth", *extra)
    if script == "train.py":
        return train_argv(root, out, *extra)
    return inference_argv(root, out, checkpoints / "video.pth", *extra)


ALL_SCRIPTS = ["train_fgplg.py", "generate_pseudo_labels.py", "train.py", "inference.py"]
TRAINING_SCRIPTS = ["train_fgplg.py", "generate_pseudo_labels.py", "train.py"]


# ---------------------------------------------------------------------- data problems
@pytest.mark.parametrize("script", ALL_SCRIPTS)
def test_missing_data_root(script, pristine, tmp_path, out, checkpoints, capsys):
    missing = tmp_path / "no_such_data"
    argv = argv_for(script, pristine, out, checkpoints)
    argv[argv.index("--data") + 1] = str(missing)  # the config stays valid: only the root is wrong
    expect_error(run_inprocess(script, argv, capsys), script, missing, "--data")
    assert_no_outputs(out)


@pytest.mark.slow
def test_missing_data_root_subprocess(tmp_path, out, pristine):
    missing = tmp_path / "no_such_data"
    argv = train_argv(pristine, out)
    argv[argv.index("--data") + 1] = str(missing)
    expect_error(run_subprocess("train.py", argv), "train.py", missing, "--data")
    assert_no_outputs(out)


def test_missing_dataset_config(pristine, out, checkpoints, tmp_path, capsys):
    argv = inference_argv(pristine, out, checkpoints / "video.pth")
    argv[argv.index("--dataset-config") + 1] = str(tmp_path / "nope.yaml")
    expect_error(run_inprocess("inference.py", argv, capsys), "inference.py", tmp_path / "nope.yaml")
    assert_no_outputs(out)


def test_unknown_dataset(pristine, out, checkpoints, capsys):
    argv = inference_argv(pristine, out, checkpoints / "video.pth")
    argv[argv.index("--dataset") + 1] = "NOPE"
    expect_error(run_inprocess("inference.py", argv, capsys), "inference.py", "'NOPE'", pristine / "datasets.yaml")
    assert_no_outputs(out)

    argv = train_argv(pristine, out)
    argv[argv.index("--train-sets") + 1] = "NOPE:train"
    expect_error(run_inprocess("train.py", argv, capsys), "train.py", "'NOPE'", "TOY_VIDEO")
    assert_no_outputs(out)


def test_unknown_split(pristine, out, checkpoints, capsys):
    argv = inference_argv(pristine, out, checkpoints / "video.pth")
    argv[argv.index("--split") + 1] = "nope"
    expect_error(run_inprocess("inference.py", argv, capsys), "inference.py", "'nope'", "'TOY_VIDEO'")
    assert_no_outputs(out)

    argv = generate_argv(pristine, out, checkpoints / "fgplg.pth")
    argv[argv.index("--sets") + 1] = "TOY_VIDEO:nope"
    expect_error(run_inprocess("generate_pseudo_labels.py", argv, capsys), "generate_pseudo_labels.py", "'nope'")
    assert_no_outputs(out)


def test_malformed_sets_flag(pristine, out, capsys):
    argv = train_argv(pristine, out)
    argv[argv.index("--val-sets") + 1] = "TOY_VIDEO"
    expect_error(run_inprocess("train.py", argv, capsys), "train.py", "--val-sets")
    assert_no_outputs(out)


@pytest.mark.parametrize("script, video", [("inference.py", "video_03"), ("train_fgplg.py", "video_01"),
                                           ("train.py", "video_02")])
def test_missing_video_folder(script, video, data, out, checkpoints, capsys):
    folder = data / "TOY_VIDEO" / "JPEGImages" / video
    shutil.rmtree(folder)
    expect_error(run_inprocess(script, argv_for(script, data, out, checkpoints), capsys), script, folder)
    assert_no_outputs(out)


@pytest.mark.parametrize("script", TRAINING_SCRIPTS)
def test_label_size_differs_from_frame(script, data, out, checkpoints, capsys):
    label = data / "TOY_VIDEO" / "Annotations" / "video_01" / "00005.png"
    frame = data / "TOY_VIDEO" / "JPEGImages" / "video_01" / "00005.jpg"
    Image.open(label).resize((47, 32)).save(label)
    line = expect_error(run_inprocess(script, argv_for(script, data, out, checkpoints), capsys), script, label, frame)
    assert "32x47" in line and "32x48" in line
    assert_no_outputs(out)


@pytest.mark.parametrize("script", TRAINING_SCRIPTS)
def test_video_without_labels_where_labels_are_needed(script, data, out, checkpoints, capsys):
    shutil.rmtree(data / "TOY_VIDEO" / "Annotations" / "video_00")
    result = run_inprocess(script, argv_for(script, data, out, checkpoints), capsys)
    expect_error(result, script, data / "TOY_VIDEO" / "Annotations" / "video_00")
    assert_no_outputs(out)


def test_inference_needs_no_labels(data, out, checkpoints, one_thread, capsys):
    # The counterpart of the test above: inference runs on a test video without labels...
    shutil.rmtree(data / "TOY_VIDEO" / "Annotations" / "video_03")
    result = run_inprocess("inference.py", inference_argv(data, out, checkpoints / "video.pth", "--all-frames"),
                           capsys)
    assert result.rc == 0, result.err
    assert len(list((out / "TOY_VIDEO" / "video_03").glob("*.png"))) == 11
    # ...but without --all-frames there is no annotated frame to run on, which is said clearly.
    result = run_inprocess("inference.py", inference_argv(data, out / "again", checkpoints / "video.pth"), capsys)
    expect_error(result, "inference.py", data / "TOY_VIDEO" / "Annotations" / "video_03")
    assert_no_outputs(out / "again")


# ------------------------------------------------------------------------ checkpoints
@pytest.mark.parametrize("script", ["generate_pseudo_labels.py", "train.py", "inference.py"])
def test_missing_checkpoint(script, pristine, out, checkpoints, tmp_path, one_thread, capsys):
    missing = tmp_path / "missing.pth"
    argv = argv_for(script, pristine, out, checkpoints)
    argv[argv.index("--checkpoint") + 1] = str(missing)
    expect_error(run_inprocess(script, argv, capsys), script, missing)
    assert_no_outputs(out)


@pytest.mark.parametrize("script", ["generate_pseudo_labels.py", "train.py", "inference.py"])
def test_garbage_checkpoint(script, pristine, out, checkpoints, one_thread, capsys):
    argv = argv_for(script, pristine, out, checkpoints)
    argv[argv.index("--checkpoint") + 1] = str(checkpoints / "garbage.pth")
    expect_error(run_inprocess(script, argv, capsys), script, checkpoints / "garbage.pth")
    assert_no_outputs(out)


def test_fgplg_checkpoint_given_to_inference(pristine, out, checkpoints, one_thread, capsys):
    argv = inference_argv(pristine, out, checkpoints / "fgplg.pth")
    line = expect_error(run_inprocess("inference.py", argv, capsys), "inference.py", checkpoints / "fgplg.pth")
    assert "another model" in line
    assert_no_outputs(out)


def test_video_checkpoint_given_to_train_fgplg(pristine, out, checkpoints, one_thread, capsys):
    argv = fgplg_argv(pristine, out)
    argv[argv.index("--checkpoint") + 1] = str(checkpoints / "video.pth")
    line = expect_error(run_inprocess("train_fgplg.py", argv, capsys), "train_fgplg.py", checkpoints / "video.pth")
    assert "another model" in line
    assert_no_outputs(out)


@pytest.mark.slow
def test_video_checkpoint_given_to_generate_pseudo_labels_subprocess(pristine, out, checkpoints):
    argv = generate_argv(pristine, out, checkpoints / "video.pth")
    line = expect_error(run_subprocess("generate_pseudo_labels.py", argv), "generate_pseudo_labels.py",
                        checkpoints / "video.pth")
    assert "not an FGPLG checkpoint" in line
    assert_no_outputs(out)


@pytest.mark.parametrize("script, checkpoint", [("train.py", "video.pth"), ("train_fgplg.py", "fgplg.pth")])
def test_resume_from_a_model_only_checkpoint(script, checkpoint, pristine, out, checkpoints, one_thread, capsys):
    argv = argv_for(script, pristine, out, checkpoints, "--resume", str(checkpoints / checkpoint))
    expect_error(run_inprocess(script, argv, capsys), script, checkpoints / checkpoint, "--resume")
    assert_no_outputs(out)


def test_flownet2_without_its_checkpoint(pristine, out, tmp_path, checkpoints, capsys):
    missing = tmp_path / "FlowNet2_checkpoint.pth.tar"
    argv = fgplg_argv(pristine, out, "--flow", "flownet2", "--flownet-checkpoint", str(missing))
    expect_error(run_inprocess("train_fgplg.py", argv, capsys), "train_fgplg.py", missing, "--flownet-checkpoint")
    assert_no_outputs(out)


# ------------------------------------------------------------------ unreadable images
@pytest.mark.slow
def test_truncated_frame_found_mid_run_by_a_loader_worker_subprocess(data, out, checkpoints):
    bad = data / "TOY_VIDEO" / "JPEGImages" / "video_03" / "00006.jpg"  # in the second clip
    _truncate(bad)
    argv = inference_argv(data, out, checkpoints / "video.pth")
    argv[argv.index("-j") + 1] = "1"  # the error crosses a DataLoader worker process
    line = expect_error(run_subprocess("inference.py", argv), "inference.py", bad)
    assert "truncated" in line
    assert no_temp_files(out)


def test_truncated_frame_found_mid_run_in_process(data, out, checkpoints, one_thread, capsys):
    bad = data / "TOY_VIDEO" / "JPEGImages" / "video_01" / "00007.jpg"  # middle frame (l=5, m=1: 2, 7)
    _truncate(bad)
    result = run_inprocess("generate_pseudo_labels.py", generate_argv(data, out, checkpoints / "fgplg.pth"), capsys)
    line = expect_error(result, "generate_pseudo_labels.py", bad)
    assert "truncated" in line
    assert no_temp_files(out)


def test_truncated_label_header(data, out, checkpoints, capsys):
    label = data / "TOY_VIDEO" / "Annotations" / "video_00" / "00005.png"
    label.write_bytes(label.read_bytes()[:10])  # not even a header: found before any work
    expect_error(run_inprocess("train.py", train_argv(data, out), capsys), "train.py", label)
    assert_no_outputs(out)


# ---------------------------------------------------------------------- bad flag values
def test_clip_len_zero(pristine, out, checkpoints, capsys):
    expect_error(run_inprocess("train.py", train_argv(pristine, out, "--clip_len", "0"), capsys),
                 "train.py", "--clip_len")
    assert_no_outputs(out)
    # inference.py checks it while parsing: argparse's usage block, then the one error line.
    argv = inference_argv(pristine, out, checkpoints / "video.pth", "--clip_len", "0")
    expect_error(run_inprocess("inference.py", argv, capsys), "inference.py", "--clip_len", usage=True)
    assert_no_outputs(out)


@pytest.mark.parametrize("script", TRAINING_SCRIPTS)
def test_label_interval_zero(script, pristine, out, checkpoints, capsys):
    argv = argv_for(script, pristine, out, checkpoints, "--label_interval", "0")
    expect_error(run_inprocess(script, argv, capsys), script, "--label_interval")
    assert_no_outputs(out)


@pytest.mark.parametrize("script", TRAINING_SCRIPTS)
@pytest.mark.parametrize("m", ["3", "4"])
def test_frame_between_label_num_refused_or_not_below_the_limit(script, m, pristine, out, checkpoints, capsys):
    # generate_pseudo_labels.py: m < l x d = 3 x 1; train_fgplg.py and train.py do not take m at all.
    argv = argv_for(script, pristine, out, checkpoints, "--label_interval", "3", "--frame_between_label_num", m)
    expect_error(run_inprocess(script, argv, capsys), script, "--frame_between_label_num")
    assert_no_outputs(out)


def test_pseudo_label_folder_without_generated_labels(pristine, out, tmp_path, capsys):
    root = tmp_path / "pseudo"
    root.mkdir()
    argv = train_argv(pristine, out, "--pseudo-label-folder", str(root / "1_5"))
    expect_error(run_inprocess("train.py", argv, capsys), "train.py", root / "1_5", "--pseudo-label-folder")
    (root / "1_5").mkdir()
    expect_error(run_inprocess("train.py", argv, capsys), "train.py", root / "1_5" / "TOY_VIDEO")
    assert_no_outputs(out)


# ------------------------------------------------------------------- outputs and devices
@pytest.mark.parametrize("script", ["train.py", "inference.py"])
def test_output_folder_is_a_file(script, pristine, tmp_path, checkpoints, one_thread, capsys):
    taken = tmp_path / "taken"
    taken.write_text("a file where the output folder should go")
    result = run_inprocess(script, argv_for(script, pristine, taken, checkpoints), capsys)
    expect_error(result, script, taken)
    assert taken.read_text() == "a file where the output folder should go"


def test_unknown_device(pristine, out, checkpoints, capsys):
    argv = inference_argv(pristine, out, checkpoints / "video.pth", "--device", "nonsense")
    expect_error(run_inprocess("inference.py", argv, capsys), "inference.py", "--device")
    assert_no_outputs(out)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_device_without_cuda(pristine, out, capsys):
    argv = train_argv(pristine, out, "--device", "cuda")
    expect_error(run_inprocess("train.py", argv, capsys), "train.py", "--device cuda")
    assert_no_outputs(out)
