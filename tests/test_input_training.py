"""``train_fgplg.py`` and ``train.py`` on a user's own videos: ``--input FRAMES --labels MASKS``.

Toy videos made here with :mod:`input_toys` (frames ``f0 .. f20`` unpadded, so string order is
not frame order; a video as an ``.avi``; masks as 8-bit gray, 0/1, BMP and multi-object DAVIS
palette PNGs).
Expected triplets, clips, held-out videos and targets are written by hand from the layout the
test chose. Most tests stop each script where training would start (its ``_fit`` is replaced
by a recorder) and look at the datasets the script built; two run the real thing.
"""
import input_toys as toys
import numpy as np
import pytest
import torch
from PIL import Image

import train
import train_fgplg
from libs.datasets.user_videos import GENERATED_MANIFEST
from libs.pipeline import fgplg_training, video_training
from libs.pipeline.user_data import held_out_positions

QUICK = ["--size", "32", "-j", "0", "--device", "cpu", "--checkpoint", "none", "--backup-epochs", "0"]
TRAIN_QUICK = QUICK + ["--epochs", "0", "--max-iters", "1"]


# Key frames of each video of the folder ``own``: irregular spacing, a gap of 1 (11, 12).
KEYS = {"v1": [0, 3, 11, 12, 20], "v2": [1, 5, 9], "v3": [0, 4]}
KINDS = ["gray", "palette", "binary", "palette", "gray"]


@pytest.fixture(scope="module")
def own(tmp_path_factory):
    """FRAMES/{clip.avi, v1, v2, v3} (32x40) and MASKS mirroring them; v3 has 2 key frames only."""
    root = tmp_path_factory.mktemp("own")
    toys.frames(root / "F" / "v1", 21)
    toys.frames(root / "F" / "v2", 13, seed=2)
    toys.frames(root / "F" / "v3", 13, seed=3)
    toys.video_file(root / "F" / "clip.avi", 8)
    for video, keys in KEYS.items():
        for j, i in enumerate(keys):
            ext = ".bmp" if KINDS[j] == "binary" else ".png"
            toys.save_mask(root / "M" / video / f"f{i}{ext}", toys.object_ids(i, 32, 40), KINDS[j])
    for i in (0, 3, 7):
        toys.save_mask(root / "M" / "clip" / f"{i:05d}.png", toys.object_ids(i, 32, 40), "palette")
    return root


@pytest.fixture(scope="module")
def square(tmp_path_factory):
    """One 32x32 video (no resize at --size 32): key frames f0, f4 (palette), f10, f12."""
    root = tmp_path_factory.mktemp("square")
    toys.frames(root / "F" / "sq", 13, h=32, w=32, seed=4)
    fg = {i: toys.save_mask(root / "M" / "sq" / f"f{i}.png", toys.object_ids(i, 32, 32), kind)
          for i, kind in ((0, "gray"), (4, "palette"), (10, "gray"), (12, "binary"))}
    return root, fg


@pytest.fixture(scope="module")
def dense(tmp_path_factory):
    """Videos a, b (f0..f12, 32x40) and a DENSE folder as generation writes it: masks for every
    frame but f5 (b) or but f5..f8 (a), keyframe_labels.json, overlays/ and holdout/."""
    root = tmp_path_factory.mktemp("dense")
    toys.frames(root / "F" / "a", 13)
    toys.frames(root / "F" / "b", 13, seed=5)
    out = root / "DENSE"
    for video, missing in (("a", {5, 6, 7, 8}), ("b", {5})):
        for i in range(13):
            if i not in missing:
                kind = "palette" if i % 3 == 0 else "gray"
                toys.save_mask(out / video / f"f{i}.png", toys.object_ids(i, 32, 40), kind)
    (out / GENERATED_MANIFEST).write_text('{"complete": true}')
    toys.save_mask(out / "overlays" / "a" / "f0.png", toys.object_ids(0, 32, 40), "gray")
    (out / "overlays" / "a.mp4").write_bytes(b"an overlay video")
    toys.save_mask(out / "holdout" / "b" / "f3.png", toys.object_ids(3, 32, 40), "gray")
    return root


def _fgplg_argv(root, save, *extra):
    return ["--input", root / "F", "--labels", root / "M", "--flow", "opencv", "--save-folder", save, *TRAIN_QUICK,
            *extra]


def _train_argv(root, save, *extra):
    return ["--input", root / "F", "--labels", root / "DENSE", "--save-folder", save, *TRAIN_QUICK, *extra]


# ------------------------------------------------------------------------- train_fgplg.py
def test_fgplg_triplets_of_consecutive_key_frames_at_any_spacing(own, tmp_path, monkeypatch, capsys):
    seen = toys.record_fit(monkeypatch, fgplg_training)
    out = toys.ok(train_fgplg, _fgplg_argv(own, tmp_path / "s"), capsys)
    # Every key frame (--label_interval defaults to 1 here): v1's 0, 3, 11, 12, 20 give two triplets
    # sharing f11; v2's 1, 5, 9 one; v3 (2 key frames) none; clip.avi's 0, 3, 7 one.
    assert seen["args"].label_interval == 1
    assert toys.triplets(seen["train"]) == [("v1", ("f0", "f3", "f11")), ("v1", ("f11", "f12", "f20")),
                                        ("v2", ("f1", "f5", "f9"))]
    # 3 usable videos (clip, v1, v2 in natural order): round(0.2 x 3) = 1 held out, the first.
    assert toys.triplets(seen["val"]) == [("clip", ("00000", "00003", "00007"))]
    lines = out.splitlines()
    assert "val: 1 of 3 videos held out (--val-share 0.2): clip" in lines
    (warning,) = [ln for ln in lines if ln.startswith("warning:")]
    assert "'v3'" in warning and str(own / "M" / "v3") in warning
    assert any(ln.startswith("train: 3 triplets of consecutive key frames from 2 video(s)") for ln in lines)
    assert not (tmp_path / "s").exists()

    # What the generator trains on: the three key frames in order or reversed, the target
    # being the middle key frame's mask (palette objects are foreground: 1.0).
    train_set = seen["train"]
    torch.manual_seed(0)
    orders, triplets = set(), toys.triplets(train_set)
    for i in range(len(train_set)):
        for _ in range(6):
            item = train_set[i]
            trip = next(t for v, t in triplets if v == item["video"] and set(t) == set(item["frames"]))
            assert item["frames"] in (list(trip), list(trip[::-1]))
            assert item["frames"][1] == trip[1]
            for k, stem in enumerate(item["frames"]):  # each label is its own frame's mask
                assert torch.allclose(item["labels"][k], toys.target(stem), atol=1e-5)
            orders.add(item["reversed"])
            assert item["images"].shape == (3, 3, 32, 32) and item["labels"].shape == (3, 1, 32, 32)
            assert item["sizes"].tolist() == [[32, 40]] * 3
    assert orders == {True, False}  # played backwards sometimes, as published
    val = seen["val"][0]
    assert val["reversed"] is False and val["frames"] == ["00000", "00003", "00007"]
    assert float(val["labels"][1].max()) == 1.0  # palette foreground, from a frame of a video file


def test_fgplg_label_interval_keeps_every_lth_key_frame(own, tmp_path, monkeypatch, capsys):
    seen = toys.record_fit(monkeypatch, fgplg_training)
    out = toys.ok(train_fgplg, _fgplg_argv(own, tmp_path / "s", "--label_interval", "2"), capsys)
    # l = 2: v1 keeps 0, 11, 20; v2 keeps 1, 9; clip keeps 0, 7; v3 keeps 0.
    assert toys.triplets(seen["train"]) == [("v1", ("f0", "f11", "f20"))]
    assert toys.triplets(seen["val"]) == toys.triplets(seen["train"])  # one video: validated on itself
    assert "val: the training video itself (one video; give --val-input for an independent check)" in out
    assert len([ln for ln in out.splitlines() if ln.startswith("warning:")]) == 3


def test_fgplg_validation_choices(own, square, tmp_path, monkeypatch, capsys):
    seen = toys.record_fit(monkeypatch, fgplg_training)
    out = toys.ok(train_fgplg, _fgplg_argv(own, tmp_path / "s", "--val-share", "0.5"), capsys)
    # round(0.5 x 3) = 2 held out, spread: positions 0 and 3 // 2 = 1 of (clip, v1, v2).
    assert "val: 2 of 3 videos held out (--val-share 0.5): clip, v1" in out
    assert [v for v, _ in toys.triplets(seen["train"])] == ["v2"]
    sq = square[0]
    out = toys.ok(train_fgplg, _fgplg_argv(own, tmp_path / "s", "--val-input", sq / "F" / "sq", "--val-labels",
                                       sq / "M"), capsys)
    assert f"val: --val-input {sq / 'F' / 'sq'} (1 video(s), masks in --val-labels {sq / 'M'})" in out
    assert toys.triplets(seen["val"]) == [("sq", ("f0", "f4", "f10")), ("sq", ("f4", "f10", "f12"))]
    assert len(toys.triplets(seen["train"])) == 4  # nothing held out of --input


def test_held_out_positions():
    assert held_out_positions(10, 0.2) == [0, 5]
    assert held_out_positions(10, 0.3) == [0, 3, 6]
    assert held_out_positions(4, 0.2) == [0]  # round(0.8) = 1
    assert held_out_positions(4, 0.125) == [0]  # round(0.5): at least one
    assert held_out_positions(5, 0.5) == [0, 1, 3]  # round(2.5) = 3, halves up
    assert held_out_positions(3, 0.9) == [0, 1]  # never all
    assert held_out_positions(1, 0.5) == []


def test_fgplg_trains_on_the_middle_key_frames_mask(square, tmp_path, monkeypatch, capsys, one_thread):
    """The real run: its training loss is computed against the middle key frame's mask."""
    root, fg = square
    served, targets = [], []
    getitem = fgplg_training.TripletDataset.__getitem__

    def recording_getitem(self, index):
        item = getitem(self, index)
        served.append(item["frames"])
        return item

    bce = torch.nn.functional.binary_cross_entropy_with_logits

    def recording_bce(logits, target, *a, **k):
        if torch.is_grad_enabled():  # the training step, not validation
            targets.append(target.detach().clone())
        return bce(logits, target, *a, **k)

    monkeypatch.setattr(fgplg_training.TripletDataset, "__getitem__", recording_getitem)
    monkeypatch.setattr(fgplg_training.F, "binary_cross_entropy_with_logits", recording_bce)
    out = toys.ok(train_fgplg, _fgplg_argv(root, tmp_path / "s", "--max-iters", "2"), capsys)
    assert "val: the training video itself" in out
    assert len(targets) == 2 and len(served) == 4  # 2 trained, then 2 validated
    for frames, target in zip(served, targets):
        middle = int(frames[1][1:])
        assert middle in (4, 10)
        assert torch.equal(target[0, 0], torch.from_numpy(fg[middle]))
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["fgplg_current_best_model.pth",
                                                                  "fgplg_last_state.pth"]
    for checkpoint in tmp_path.rglob("*.pth"):
        checkpoint.unlink()


def test_fgplg_help_says_both_label_interval_defaults():
    text = " ".join(fgplg_training.build_parser().format_help().split())
    assert "(default: 5; with --input: 1, every key frame)" in text
    assert "--val-share" in text and "--val-input" in text


# ------------------------------------------------------------------------------- train.py
def test_train_clips_of_a_dense_folder(dense, tmp_path, monkeypatch, capsys):
    seen = toys.record_fit(monkeypatch, video_training)
    out = toys.ok(train, _train_argv(dense, tmp_path / "s"), capsys)
    # b's labelled frames: f0..f12 but f5, in natural order; clips of 4 overlapping by one
    # (starts 0, 3, 6, and 8 aligned to the end).
    assert toys.clips(seen["train"]) == [("b", ("f0", "f1", "f2", "f3")), ("b", ("f3", "f4", "f6", "f7")),
                                     ("b", ("f7", "f8", "f9", "f10")), ("b", ("f9", "f10", "f11", "f12"))]
    # a (2 videos: round(0.4) -> at least 1 held out, the first): f0..f4, f9..f12 labelled.
    assert toys.clips(seen["val"]) == [("a", ("f0", "f1", "f2", "f3")), ("a", ("f3", "f4", "f9", "f10")),
                                   ("a", ("f9", "f10", "f11", "f12"))]
    assert "val: 1 of 2 videos held out (--val-share 0.2): a" in out.splitlines()
    assert "train: 4 clips, 12 labelled frames from 1 video(s)" in out and "generate_pseudo_labels.py" in out
    torch.manual_seed(0)
    for i in range(len(seen["train"])):
        item = seen["train"][i]
        assert item["labels"].shape == (4, 1, 32, 32)
        for k, stem in enumerate(item["frames"]):  # palette and gray masks alike: foreground is 1.0
            assert torch.allclose(item["labels"][k], toys.target(stem), atol=1e-5)


def test_train_validates_on_val_input_or_the_single_video(dense, tmp_path, monkeypatch, capsys):
    seen = toys.record_fit(monkeypatch, video_training)
    out = toys.ok(train, ["--input", dense / "F" / "b", "--labels", dense / "DENSE", "--save-folder", tmp_path / "s",
                      *TRAIN_QUICK, "--clip_len", "3"], capsys)
    assert "val: the training video itself" in out
    assert toys.clips(seen["val"]) == toys.clips(seen["train"]) and len(seen["train"]) == 6  # 12 frames, 3 per clip
    out = toys.ok(train, _train_argv(dense, tmp_path / "s", "--val-input", dense / "F", "--val-labels",
                                 dense / "DENSE"), capsys)
    assert f"val: --val-input {dense / 'F'} (2 video(s)" in out
    assert {v for v, _ in toys.clips(seen["train"])} == {"a", "b"}


@pytest.mark.slow
def test_train_runs_and_resumes_on_a_dense_folder(dense, tmp_path, capsys, one_thread):
    first, resumed = tmp_path / "first", tmp_path / "resumed"
    out = toys.ok(train, _train_argv(dense, first, "--val-max-items", "1"), capsys)
    assert "epoch 0/0" in out and (first / "video_current_best_model.pth").is_file()
    state = torch.load(first / "video_last_state.pth", map_location="cpu", weights_only=True, mmap=True)
    assert state["epoch"] == 1 and state["args"]["labels"] == str(dense / "DENSE")
    del state
    out = toys.ok(train, _train_argv(dense, resumed, "--val-max-items", "1", "--epochs", "1", "--resume",
                                 first / "video_last_state.pth"), capsys)
    assert f"resuming {first / 'video_last_state.pth'}: epochs up to 0 done" in out
    assert "epoch 1/1" in out and "epoch 0/1" not in out
    state = torch.load(resumed / "video_last_state.pth", map_location="cpu", weights_only=True, mmap=True)
    assert state["epoch"] == 2 and state["args"]["resume"] == str(first / "video_last_state.pth")
    del state
    for checkpoint in tmp_path.rglob("*.pth"):
        checkpoint.unlink()


# ------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("script", [train_fgplg, train])
def test_flag_combinations(script, own, tmp_path, capsys):
    frames, masks, save = own / "F", own / "M", tmp_path / "s"
    common = [*TRAIN_QUICK, "--save-folder", save] + (["--flow", "opencv"] if script is train_fgplg else [])
    toys.error(script, ["--labels", masks, *common], capsys, "--labels", "--input")
    toys.error(script, ["--input", frames, *common], capsys, "--input", "--labels")
    base = ["--input", frames, "--labels", masks, *common]
    toys.error(script, [*base, "--train-sets", "DAVIS2016:train"], capsys, "--train-sets")
    toys.error(script, [*base, "--val-sets", "VOS:val"], capsys, "--val-sets")
    toys.error(script, [*base, "--val-labels", masks], capsys, "--val-labels", "--val-input")
    toys.error(script, [*base, "--val-input", frames], capsys, "--val-input", "--val-labels")
    toys.error(script, [*base, "--val-input", frames, "--val-labels", masks, "--val-share", "0.3"], capsys,
           "--val-share")
    toys.error(script, [*common, "--val-input", frames], capsys, "--val-input", "--input")
    assert "--val-share" in toys.run_script(script, [*base, "--val-share", "1.5"], capsys)[2]  # argparse: exit 2
    if script is train:
        toys.error(script, [*base, "--pseudo-label-folder", tmp_path], capsys, "--pseudo-label-folder")
    assert not save.exists()


def _copy(src, dst):
    import shutil

    shutil.copytree(src, dst)
    return dst


@pytest.mark.parametrize("script", [train_fgplg, train])
def test_bad_masks_and_frames_are_named_before_training(script, own, tmp_path, capsys):
    root = _copy(own, tmp_path / "own")
    save = tmp_path / "s"
    if script is train_fgplg:
        def argv():
            return _fgplg_argv(root, save)
    else:
        def argv():
            return ["--input", root / "F", "--labels", root / "M", "--save-folder", save, *TRAIN_QUICK]

    def refused(*needles):
        toys.error(script, argv(), capsys, *needles)
        assert not save.exists()  # found before any training: the save folder is made when training starts

    stray = root / "M" / "v1" / "f99.png"
    toys.save_mask(stray, toys.object_ids(0, 32, 40), "gray")
    refused(stray, "without a matching frame")
    stray.unlink()

    bad = root / "M" / "v2" / "f5.png"
    data = bad.read_bytes()
    bad.write_bytes(b"")
    refused(bad)
    bad.write_bytes(data)
    toys.truncate_pixels(bad)
    with Image.open(bad) as img:
        assert img.size == (40, 32)
    refused(bad, "truncated")
    bad.write_bytes(data)

    odd = root / "F" / "v1" / "f7.jpg"
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(odd)
    refused(odd, "differs")
    toys.frames(root / "F" / "v1", 21)

    broken = root / "F" / "clip.avi"
    broken.write_bytes(b"\x00" * 256)
    refused(broken, "OpenCV cannot decode")


def test_fgplg_without_any_video_of_three_key_frames(own, tmp_path, capsys):
    line = toys.error(train_fgplg, ["--input", own / "F" / "v3", "--labels", own / "M", "--flow", "opencv",
                                "--save-folder", tmp_path / "s", *TRAIN_QUICK], capsys, "no video has 3")
    assert str(own / "M") in line


def test_train_without_any_mask(dense, tmp_path, capsys):
    empty = tmp_path / "EMPTY"
    empty.mkdir()
    toys.error(train, ["--input", dense / "F", "--labels", empty, "--save-folder", tmp_path / "s", *TRAIN_QUICK],
           capsys, empty, "no mask")


def test_a_mask_that_fails_to_decode_during_training_is_one_line(dense, tmp_path, monkeypatch, capsys, one_thread):
    # Beyond DECODE_CHECK_LIMIT masks only headers are checked up front: a mask whose pixels do
    # not decode is found by the loader, and still reported as one line naming it.
    root = _copy(dense, tmp_path / "dense")
    bad = root / "DENSE" / "b" / "f1.png"
    toys.truncate_pixels(bad)
    monkeypatch.setattr(video_training, "DECODE_CHECK_LIMIT", 0)
    toys.error(train, _train_argv(root, tmp_path / "s", "--clip_len", "13"), capsys, bad, "truncated")
    assert (tmp_path / "s").is_dir() and not list((tmp_path / "s").iterdir())  # training had started
    for checkpoint in tmp_path.rglob("*.pth"):
        checkpoint.unlink()
