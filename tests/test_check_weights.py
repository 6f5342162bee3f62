"""``python -m libs.pipeline.check_weights --models DIR``: the released weights in one command.

The files are full size, saved in the published formats with seeded random weights: bare
state dicts for ``video_best_model.pth``, ``image_pretrained_model.pth`` and
``pseudo_label_generator_5.pth`` (FlowNet2's weights inside, under ``flownet.*``), NVIDIA's dict
with ``state_dict`` (and ``arch``, ``epoch``, a numpy ``best_EPE``) for
``FlowNet2_checkpoint.pth.tar``. Broken copies (truncated, another model under a released name,
a renamed key, a tensor of another shape, NaN weights, an FGPLG without FlowNet2, garbage) must
each give one line naming the file and what is wrong and a non-zero exit status, never a
traceback. The FGPLG and FlowNet2 files (1.5 GB together) are only made by the ``slow`` tests.

``RCRNET_WEIGHTS=DIR python -m pytest -m weights`` runs the command on the real downloads.
"""
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import torch

from flownet2 import FlowNet2
from libs.networks import FGPLG, ImageModel, VideoModel
from libs.pipeline import check_weights
from libs.pipeline.check_weights import RELEASED, load_released, toy_clip

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VIDEO, IMAGE, FGPLG_FILE, FLOWNET = (r.name for r in RELEASED)
LINE = re.compile(r"^(ok|missing|FAILED) +(\S+) +(.+)$")


def params(model):
    return sum(p.numel() for p in model.parameters())


def check(capsys, *argv):
    """``main(argv)`` -> (exit status, {file: (status, rest of its line)}, stdout lines)."""
    rc = check_weights.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    lines = out.splitlines()
    per_file = {m.group(2): (m.group(1), m.group(3)) for m in map(LINE.match, lines) if m}
    return rc, per_file, err


def folder_with(tmp_path, files):
    """A models folder holding ``{released name: source file}`` as links (no copy of the bytes)."""
    folder = tmp_path / "models"
    folder.mkdir()
    for name, source in files.items():
        (folder / name).symlink_to(source)
    return folder


@pytest.fixture(autouse=True)
def _drop_checkpoints(tmp_path):
    """Broken copies of full-size files (up to 600 MB) would stay in pytest's kept temporary folders."""
    yield
    for path in tmp_path.rglob("*.pth*"):
        path.unlink()


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """Full-size ImageModel and VideoModel files (bare state dicts), seeded, plus their counts."""
    root = tmp_path_factory.mktemp("released")
    torch.manual_seed(0)
    image, video = ImageModel(), VideoModel()
    torch.save(image.state_dict(), root / IMAGE)
    torch.save(video.state_dict(), root / VIDEO)
    yield {"root": root, IMAGE: params(image), VIDEO: params(video)}
    for f in root.glob("*.pth*"):
        f.unlink()


def test_image_and_video_files_load_and_run(small, tmp_path, one_thread, capsys):
    folder = folder_with(tmp_path, {VIDEO: small["root"] / VIDEO, IMAGE: small["root"] / IMAGE})
    rc, lines, err = check(capsys, "--models", folder, "--files", VIDEO, IMAGE)  # --device auto
    assert rc == 0 and err == ""
    assert list(lines) == [VIDEO, IMAGE]
    for name, model in ((VIDEO, "VideoModel"), (IMAGE, "ImageModel")):
        status, rest = lines[name]
        assert status == "ok"
        assert rest.startswith(f"{model}, {small[name]:,} parameters; saliency ")
        lo, hi = map(float, re.search(r"saliency (\S+)\.\.(\S+) ", rest).groups())
        assert 0 <= lo <= hi <= 1
        assert re.search(r"load \d+\.\d s, run \d+\.\d s on cpu$", rest)


def test_missing_files_are_listed_and_fail_the_check(small, tmp_path, one_thread, capsys):
    folder = folder_with(tmp_path, {VIDEO: small["root"] / VIDEO})
    rc, lines, _ = check(capsys, "--models", folder)
    assert rc == 1
    assert list(lines) == [VIDEO, IMAGE, FGPLG_FILE, FLOWNET]
    assert lines[VIDEO][0] == "ok"
    for name in (IMAGE, FGPLG_FILE, FLOWNET):
        assert lines[name][0] == "missing" and str(folder) in lines[name][1], name


def _truncated(small, folder):
    data = (small["root"] / VIDEO).read_bytes()
    (folder / VIDEO).write_bytes(data[: len(data) // 2])


def _renamed_key(small, folder):
    state = torch.load(small["root"] / VIDEO, weights_only=True, mmap=True)
    state["backbone.decoder.conv2.bias_renamed"] = state.pop("backbone.decoder.conv2.bias")
    torch.save(state, folder / VIDEO)


def _other_shape(small, folder):
    state = torch.load(small["root"] / IMAGE, weights_only=True, mmap=True)
    state["backbone.decoder.conv2.weight"] = torch.zeros(2, 256, 1, 1)
    torch.save(state, folder / IMAGE)


def _nan_weights(small, folder):
    state = torch.load(small["root"] / IMAGE, weights_only=True, mmap=True)
    state["backbone.decoder.conv2.bias"] = torch.full((1,), float("nan"))
    torch.save(state, folder / IMAGE)


def _opencv_fgplg(small, folder):
    torch.save(FGPLG(flow="opencv").state_dict(), folder / FGPLG_FILE)


def _garbage(small, folder):
    (folder / FLOWNET).write_bytes(os.urandom(5000))


BROKEN = {
    # case: (file, how to break it, what its line must say)
    "truncated": (VIDEO, _truncated, ["not a readable PyTorch checkpoint", "truncated or damaged download"]),
    "image_model_as_video": (VIDEO, lambda s, f: (f / VIDEO).symlink_to(s["root"] / IMAGE),
                             ["holds the ImageModel of image_pretrained_model.pth, not the VideoModel"]),
    "video_model_as_image": (IMAGE, lambda s, f: (f / IMAGE).symlink_to(s["root"] / VIDEO),
                             ["holds the VideoModel of video_best_model.pth, not the ImageModel"]),
    "renamed_key": (VIDEO, _renamed_key, ["not the released VideoModel",
                                          "1 missing key (e.g. 'backbone.decoder.conv2.bias')",
                                          "1 unexpected key (e.g. 'backbone.decoder.conv2.bias_renamed')"]),
    "other_shape": (IMAGE, _other_shape, ["1 of another shape (e.g. 'backbone.decoder.conv2.weight' (2, 256, 1, 1), "
                                          "expected (1, 256, 1, 1))"]),
    "nan_weights": (IMAGE, _nan_weights, ["non-finite outputs"]),
    "fgplg_without_flownet2": (FGPLG_FILE, _opencv_fgplg, ["trained with --flow opencv", "flownet.*",
                                                           "220 missing keys"]),
    "garbage": (FLOWNET, _garbage, ["not a readable PyTorch checkpoint"]),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_file_gets_one_line_naming_it_and_what_is_wrong(case, small, tmp_path, one_thread, capsys):
    name, breaks, needles = BROKEN[case]
    folder = tmp_path / "models"
    folder.mkdir()
    breaks(small, folder)
    rc, lines, err = check(capsys, "--models", folder, "--files", name, "--device", "cpu")
    assert rc == 1 and err == ""
    assert list(lines) == [name]
    status, rest = lines[name]
    assert status == "FAILED"
    assert str(folder / name) in rest
    for needle in needles:
        assert needle in rest, rest


def test_command_line_exit_status_and_no_traceback(small, tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    _truncated(small, folder)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    p = subprocess.run([sys.executable, "-m", "libs.pipeline.check_weights", "--models", str(folder)], cwd=REPO,
                       env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 1 and p.stderr == ""
    lines = p.stdout.splitlines()
    assert [ln.split()[:2] for ln in lines[1:-1]] == [["FAILED", VIDEO], ["missing", IMAGE], ["missing", FGPLG_FILE],
                                                     ["missing", FLOWNET]]
    assert lines[-1] == "check_weights: 0 ok, 3 missing, 1 failed"


@pytest.mark.parametrize("argv, needle", [
    (["--size", "96"], "--size must be a multiple of 64"),
    (["--frames", "1"], "--frames must be at least 2"),
    (["--device", "tpu"], "--device tpu"),
])
def test_bad_flags_are_one_line_errors(argv, needle, tmp_path, capsys):
    assert check_weights.main(["--models", str(tmp_path), *argv]) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and err.startswith("check_weights: error: ") and needle in err, err


def test_missing_models_folder_is_a_one_line_error(tmp_path, capsys):
    assert check_weights.main(["--models", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert err == f"check_weights: error: {tmp_path / 'nowhere'}: folder not found (--models)\n"


def test_the_checked_model_is_the_model_the_scripts_build(small, one_thread):
    # check_weights skips the random initialisation (meta device, then empty tensors): after the
    # strict load it computes exactly what a normally built model with the same file does.
    spec = RELEASED[0]
    clip = toy_clip(3, 64)
    reference = VideoModel()
    reference.load_state_dict(torch.load(small["root"] / VIDEO, weights_only=True), strict=True)
    with torch.no_grad():
        want, _ = spec.run(reference.eval(), clip, torch.device("cpu"))
        got, _ = spec.run(load_released(spec, small["root"] / VIDEO), clip, torch.device("cpu"))
    assert torch.equal(got, want)


# ----------------------------------------------------------------------------- FGPLG and FlowNet2 (slow)

@pytest.fixture(scope="module")
def flow_files(tmp_path_factory):
    """Full-size FGPLG (with FlowNet2's keys, 800 MB) and FlowNet2 (NVIDIA's dict, 650 MB) files."""
    root = tmp_path_factory.mktemp("released_flow")
    torch.manual_seed(1)
    fgplg = FGPLG(flow="flownet2", allow_random_flownet=True)
    torch.save(fgplg.state_dict(), root / FGPLG_FILE)
    flownet = FlowNet2(rgb_max=1.0)
    torch.save({"arch": "FlowNet2", "epoch": 0, "best_EPE": np.float64(1.8), "state_dict": flownet.state_dict()},
               root / FLOWNET)
    yield {"root": root, FGPLG_FILE: params(fgplg), FLOWNET: params(flownet)}
    for f in root.glob("*.pth*"):
        f.unlink()


@pytest.mark.slow
def test_all_four_released_files_load_and_run(small, flow_files, tmp_path, one_thread, capsys):
    folder = folder_with(tmp_path, {VIDEO: small["root"] / VIDEO, IMAGE: small["root"] / IMAGE,
                                    FGPLG_FILE: flow_files["root"] / FGPLG_FILE,
                                    FLOWNET: flow_files["root"] / FLOWNET})
    rc, lines, err = check(capsys, "--models", folder)
    assert rc == 0 and err == ""
    assert list(lines) == [VIDEO, IMAGE, FGPLG_FILE, FLOWNET]
    assert all(status == "ok" for status, _ in lines.values())
    fgplg = lines[FGPLG_FILE][1]
    assert fgplg.startswith(f"FGPLG, {flow_files[FGPLG_FILE]:,} parameters ({flow_files[FLOWNET]:,} of them "
                            f"FlowNet2's); saliency ")
    assert lines[FLOWNET][1].startswith(f"FlowNet2, {flow_files[FLOWNET]:,} parameters; flow ")


@pytest.mark.slow
def test_flow_files_broken(small, flow_files, tmp_path, one_thread, capsys):
    folder = tmp_path / "models"
    folder.mkdir()
    # the FGPLG under FlowNet2's name, the image model under the FGPLG's, FlowNet2 truncated
    (folder / FLOWNET).symlink_to(flow_files["root"] / FGPLG_FILE)
    (folder / FGPLG_FILE).symlink_to(small["root"] / IMAGE)
    rc, lines, _ = check(capsys, "--models", folder, "--files", FGPLG_FILE, FLOWNET)
    assert rc == 1
    assert lines[FLOWNET] == ("FAILED", f"{folder / FLOWNET}: holds the FGPLG of {FGPLG_FILE}, not the FlowNet2")
    assert lines[FGPLG_FILE] == ("FAILED", f"{folder / FGPLG_FILE}: holds the ImageModel of {IMAGE}, not the FGPLG")
    (folder / FLOWNET).unlink()
    data = (flow_files["root"] / FLOWNET).read_bytes()
    (folder / FLOWNET).write_bytes(data[: len(data) * 9 // 10])
    rc, lines, _ = check(capsys, "--models", folder, "--files", FLOWNET)
    assert rc == 1 and lines[FLOWNET][0] == "FAILED" and "truncated or damaged download" in lines[FLOWNET][1]


# ----------------------------------------------------------------------------- the real downloads

@pytest.mark.weights
def test_released_weights(capsys):
    folder = os.environ.get("RCRNET_WEIGHTS")
    if not folder:
        pytest.skip("set RCRNET_WEIGHTS=DIR (the folder holding the downloaded weights) to check them")
    rc, lines, err = check(capsys, "--models", folder)
    assert list(lines) == [VIDEO, IMAGE, FGPLG_FILE, FLOWNET]
    assert rc == 0, "\n".join(f"{name}: {status} {rest}" for name, (status, rest) in lines.items())
