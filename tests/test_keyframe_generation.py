"""``generate_pseudo_labels.py --input FRAMES --labels MASKS --out DIR``: key frames at any
spacing, the three methods, the outputs and manifest, inputs never touched, bad input.

The toy videos have key frames at irregular positions (0, 3, 11, 12, 20: a gap of 1 that
labels nothing), frame names that sort differently as strings (f2, f10), masks in five
formats (0/255, 0/1, a two-object DAVIS palette, coloured RGB, JPEG) and a video file.
Expected masks are computed here, independently: copy from the mask arrays, warp with OpenCV's
DIS flow and grid_sample, fgplg by calling the model directly.
"""
import json
import shutil

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from keyframe_toys import (
    H,
    W,
    error_line,
    expected_u8,
    files,
    independent_warp,
    make_user_video,
    make_video_file,
    read_png,
    remove_checkpoint,
    run,
    save_mask,
    save_random_fgplg,
    stat_all,
)
from PIL import Image

from libs.datasets.keyframes import gap_positions
from libs.datasets.user_videos import list_user_videos

KEYS = {0: "gray", 3: "palette", 11: "rgb", 12: "01", 20: "jpeg"}  # walk: 21 frames f0..f20
CLIP_KEYS = (0, 4, 9)  # clip.avi: 10 frames
TINY = ["--size", "32", "--device", "cpu"]


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("keyframes")
    frames_root, masks_root = root / "FRAMES", root / "MASKS"
    walk = make_user_video(frames_root, masks_root, "walk", 21, KEYS, seed=1)
    clip_frames, clip_masks = make_user_video(root / "scratch", root / "scratch_masks", "clip", 10, {}, seed=2)
    make_video_file(frames_root / "clip.avi", clip_frames)
    for k in CLIP_KEYS:
        save_mask(clip_masks[k], masks_root / "clip" / f"{k:05d}.png", "gray")
    make_user_video(frames_root, masks_root, "lonely", 4, {1: "gray"}, seed=3)  # one key frame: skipped
    return {"root": root, "frames": frames_root, "masks": masks_root, "walk": walk}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = save_random_fgplg(tmp_path_factory.mktemp("fgplg") / "fgplg.pth")
    yield path
    remove_checkpoint(path)


def argv(toy, out, *extra):
    return ["--input", toy["frames"], "--labels", toy["masks"], "--out", out, *TINY, *extra]


def rgb(toy, video, stem):
    return np.asarray(Image.open(toy["frames"] / video / f"{stem}.jpg").convert("RGB"))


def key_u8(toy, k):
    path = next((toy["masks"] / "walk").glob(f"f{k}.*"))
    return expected_u8(path, toy["walk"][1][k])


def interior(keys):
    return [p for a, b in zip(keys, keys[1:]) for p in range(a + 1, b)]


def test_copy_labels_every_frame_between_key_frames_and_leaves_inputs_untouched(toy, tmp_path, capsys):
    before = stat_all(toy["root"])
    out = tmp_path / "out"
    result = run(argv(toy, out, "--method", "copy"), capsys)
    assert result.rc == 0, result.err
    assert stat_all(toy["root"]) == before  # bytes and mtimes of every input

    walk_keys = sorted(KEYS)
    generated = interior(walk_keys)
    assert generated == [1, 2, 4, 5, 6, 7, 8, 9, 10, 13, 14, 15, 16, 17, 18, 19]  # nothing between f11 and f12
    key_names = [f"f{k}{'.jpg' if KEYS[k] == 'jpeg' else '.png'}" for k in walk_keys]
    clip_names = [f"{k:05d}.png" for k in CLIP_KEYS] + [f"{p:05d}.png" for p in interior(list(CLIP_KEYS))]
    assert files(out) == sorted(["keyframe_labels.json"] + [f"walk/{n}" for n in key_names]
                                + [f"walk/f{p}.png" for p in generated] + [f"clip/{n}" for n in clip_names])
    for name in key_names:  # byte for byte, under their own names (a .jpg stays .jpg)
        assert (out / "walk" / name).read_bytes() == (toy["masks"] / "walk" / name).read_bytes()
    for p in generated:  # the nearer key frame's mask, the left one on a tie (f7: 4 from f3 and f11)
        a = max(k for k in walk_keys if k < p)
        b = min(k for k in walk_keys if k > p)
        nearer = a if p - a <= b - p else b
        got = read_png(out / "walk" / f"f{p}.png")
        assert got.shape == (H, W) and np.array_equal(got, key_u8(toy, nearer)), p
    # The palette key (two objects, indices 1 and 2) is foreground everywhere it is not index 0.
    assert np.array_equal(read_png(out / "walk" / "f2.png") > 0, toy["walk"][1][3] > 0)
    assert "video 'lonely' skipped: 1 key frame(s)" in result.out and not (out / "lonely").exists()

    manifest = json.loads((out / "keyframe_labels.json").read_text())
    assert manifest["complete"] is True and manifest["format"] == 1
    assert manifest["settings"]["method"] == "copy" and manifest["settings"]["frame_between_label_num"] is None
    entry = manifest["videos"]["walk"]
    assert entry["key_frames"] == [{"stem": f"f{k}", "file": n} for k, n in zip(walk_keys, key_names)]
    assert entry["generated"][5] == {"stem": "f7", "file": "f7.png", "from": ["f3", "f11"]}
    assert [g["stem"] for g in entry["generated"]] == [f"f{p}" for p in generated]
    assert sorted(entry["files"]) == sorted(f"walk/{n}" for n in key_names + [f"f{p}.png" for p in generated])
    assert list(manifest["skipped_videos"]) == ["lonely"]
    # DIR is what train.py --labels reads: its listing finds every frame between key frames labelled.
    listing = list_user_videos(toy["frames"], out).by_name()
    assert list(listing["walk"].labels) == list(range(21))


def test_warp_equals_an_independent_warp_and_a_video_file_reads_like_its_frames(toy, tmp_path, capsys):
    out = tmp_path / "out"
    assert run(argv(toy, out, "--method", "warp", "--batch-size", "3"), capsys).rc == 0
    masks = toy["walk"][1]
    for p, nearer in [(1, 0), (2, 3), (7, 3), (8, 11), (13, 12), (19, 20)]:
        key_mask = masks[nearer] if KEYS[nearer] != "jpeg" else key_u8(toy, nearer) / 255.0
        expected = independent_warp(rgb(toy, "walk", f"f{p}"), rgb(toy, "walk", f"f{nearer}"), key_mask, 32)
        assert np.abs(read_png(out / "walk" / f"f{p}.png").astype(int) - expected).max() <= 1, p
    # The video file, read forward by two cursors, gives the masks its decoded frames give as a folder.
    decoded = tmp_path / "decoded"
    from libs.datasets.video_files import iter_video_file

    for i, frame in iter_video_file(toy["frames"] / "clip.avi"):
        (decoded / "clip").mkdir(parents=True, exist_ok=True)
        Image.fromarray(frame).save(decoded / "clip" / f"{i:05d}.png")
    shutil.copytree(toy["masks"] / "clip", tmp_path / "clipmasks" / "clip")
    out2 = tmp_path / "out2"
    result = run(["--input", decoded, "--labels", tmp_path / "clipmasks", "--out", out2, *TINY, "--method", "warp"],
                 capsys)
    assert result.rc == 0, result.err
    for p in interior(list(CLIP_KEYS)):
        assert np.array_equal(read_png(out / "clip" / f"{p:05d}.png"), read_png(out2 / "clip" / f"{p:05d}.png"))


def test_fgplg_equals_the_model_called_directly(toy, tmp_path, checkpoint, capsys, one_thread):
    from libs.datasets import eval_transform
    from libs.networks import FGPLG
    from libs.utils.checkpoint import read_state_dict

    out = tmp_path / "out"
    result = run(argv(toy, out, "--checkpoint", checkpoint, "--batch-size", "4"), capsys)
    assert result.rc == 0, result.err
    model = FGPLG(flow="opencv")
    model.load_state_dict(read_state_dict(checkpoint))
    model.eval()
    transform = eval_transform(32)
    masks = toy["walk"][1]

    def prepared(stem, mask01=None):
        image = torch.from_numpy(rgb(toy, "walk", stem).copy()).permute(2, 0, 1)[None].float() / 255
        label = None if mask01 is None else torch.from_numpy(np.asarray(mask01, np.float32))[None, None]
        return transform(image, label)

    (left, ll), (right, lr) = prepared("f3", masks[3]), prepared("f11", masks[11])
    for p in (4, 7, 10):
        frame, _ = prepared(f"f{p}")
        with torch.no_grad():
            prob = torch.sigmoid(model.generate_pseudo_label(frame, left, right, ll, lr))
        expected = (F.interpolate(prob, size=(H, W), mode="bilinear", align_corners=False)[0, 0] * 255).round()
        got = read_png(out / "walk" / f"f{p}.png").astype(int)
        assert np.abs(got - expected.numpy().astype(int)).max() <= 1, p
    assert json.loads((out / "keyframe_labels.json").read_text())["settings"]["flow"] == "opencv"
    # warp uses the checkpoint's flow: another --flow is refused, before anything is written.
    error_line(run(argv(toy, tmp_path / "other", "--checkpoint", checkpoint, "--method", "warp", "--flow", "raft"),
                   capsys), "--flow raft", "opencv")
    assert not (tmp_path / "other").exists()


def test_a_frame_truncated_mid_run_leaves_no_partial_file(toy, tmp_path, capsys):
    frames_root, masks_root, out = tmp_path / "F", tmp_path / "M", tmp_path / "out"
    make_user_video(frames_root, masks_root, "v", 8, {0: "gray", 7: "gray"}, seed=6)
    bad = frames_root / "v" / "f5.jpg"
    bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])  # the header still reads: found when decoded
    error_line(run(["--input", frames_root, "--labels", masks_root, "--out", out, *TINY, "--method", "warp"],
                   capsys), bad)
    assert json.loads((out / "keyframe_labels.json").read_text())["complete"] is False
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    assert (out / "v" / "f0.png").read_bytes() == (masks_root / "v" / "f0.png").read_bytes()


def test_m_spacing_and_extrapolation(toy, tmp_path, capsys):
    out = tmp_path / "out"
    assert run(argv(toy, out, "--method", "copy", "--frame_between_label_num", "2"), capsys).rc == 0
    walk = [n for n in files(out / "walk")]
    expected = [1, 2, 5, 7, 14, 16]  # (0,3): step 1; (3,11): step 2 -> 5, 7; (11,12): none; (12,20): 14, 16
    assert expected == [p for a, b in [(0, 3), (3, 11), (11, 12), (12, 20)] for p in gap_positions(a, b, 2)]
    assert sorted(walk) == sorted([f"f{p}.png" for p in expected] + ["f0.png", "f3.png", "f11.png", "f12.png",
                                                                      "f20.jpg"])
    # Key frames 2 and 5 of 8 frames: 0, 1, 6, 7 only with --extrapolate, from the one key frame.
    frames_root, masks_root = tmp_path / "F", tmp_path / "M"
    _, masks = make_user_video(frames_root, masks_root, "mid", 8, {2: "gray", 5: "gray"}, seed=4)
    plain, extra = tmp_path / "plain", tmp_path / "extra"
    result = run(["--input", frames_root, "--labels", masks_root, "--out", plain, *TINY, "--method", "copy"], capsys)
    assert files(plain / "mid") == ["f2.png", "f3.png", "f4.png", "f5.png"]
    assert "4 before the first / after the last key frame: --extrapolate labels them" in result.out
    assert run(["--input", frames_root, "--labels", masks_root, "--out", extra, *TINY, "--method", "copy",
                "--extrapolate"], capsys).rc == 0
    assert files(extra / "mid") == [f"f{i}.png" for i in range(8)]
    for p, k in [(0, 2), (1, 2), (6, 5), (7, 5)]:
        assert np.array_equal(read_png(extra / "mid" / f"f{p}.png"), masks[k] * 255)
    generated = json.loads((extra / "keyframe_labels.json").read_text())["videos"]["mid"]["generated"]
    assert generated[0]["from"] == ["f2", "f2"] and generated[-1]["from"] == ["f5", "f5"]


def test_overlays_mp4_and_a_rerun_that_replaces_only_its_own_files(toy, tmp_path, capsys):
    out = tmp_path / "out"
    assert run(argv(toy, out, "--method", "copy", "--overlay", "--video"), capsys).rc == 0
    labelled = sorted(KEYS) + interior(sorted(KEYS))
    assert sorted(files(out / "overlays" / "walk")) == sorted(f"f{p}.jpg" for p in labelled)
    assert Image.open(out / "overlays" / "walk" / "f7.jpg").size == (W, H)
    import cv2

    cap = cv2.VideoCapture(str(out / "overlays" / "walk.mp4"))
    count = 0
    while cap.read()[0]:
        count += 1
    assert count == 21 and cap.get(cv2.CAP_PROP_FRAME_WIDTH) == W
    (out / "notes.txt").write_text("mine")
    # A re-run with M = 1 and no review outputs: the files it no longer writes are removed, others kept.
    result = run(argv(toy, out, "--method", "copy", "--frame_between_label_num", "1"), capsys)
    assert result.rc == 0 and "stale file(s) of an earlier run removed" in result.out
    assert not (out / "overlays").exists() and (out / "notes.txt").read_text() == "mine"
    assert files(out / "walk") == sorted(["f0.png", "f1.png", "f3.png", "f7.png", "f11.png", "f12.png", "f16.png",
                                          "f20.jpg"])


def test_a_folder_holding_a_report_is_accepted_unless_a_video_would_write_into_it(tmp_path, capsys):
    frames_root, masks_root, out = tmp_path / "F", tmp_path / "M", tmp_path / "out"
    make_user_video(frames_root, masks_root, "v", 4, {0: "gray", 3: "gray"}, seed=7)
    report_mask = out / "holdout" / "v" / "f1.png"
    save_mask(np.ones((H, W)), report_mask, "gray")  # what --holdout --out DIR wrote
    before = report_mask.read_bytes()
    assert run(["--input", frames_root, "--labels", masks_root, "--out", out, *TINY, "--method", "copy"],
               capsys).rc == 0
    assert report_mask.read_bytes() == before and (out / "v" / "f1.png").is_file()
    make_user_video(frames_root, masks_root, "holdout", 4, {0: "gray", 3: "gray"}, seed=8)
    error_line(run(["--input", frames_root, "--labels", masks_root, "--out", out, *TINY, "--method", "copy"], capsys),
               frames_root / "holdout", out / "holdout")
    assert report_mask.read_bytes() == before


@pytest.mark.parametrize("case", ["mask_without_frame", "empty_mask", "unreadable_mask", "mixed_sizes",
                                  "out_inside_frames", "out_inside_masks", "undecodable_video", "no_video_with_two",
                                  "video_named_overlays", "foreign_out", "fgplg_without_checkpoint", "mask_size"])
def test_bad_input_is_one_line_and_writes_nothing(case, tmp_path, capsys):
    frames_root, masks_root, out = tmp_path / "F", tmp_path / "M", tmp_path / "out"
    make_user_video(frames_root, masks_root, "v", 6, {0: "gray", 5: "gray"}, seed=5)
    extra, named = ["--method", "copy"], None
    if case == "mask_without_frame":
        named = masks_root / "v" / "f9.png"
        save_mask(np.zeros((H, W)), named, "gray")
    elif case == "empty_mask":
        named = masks_root / "v" / "f0.png"
        named.write_bytes(b"")
    elif case == "unreadable_mask":
        named = masks_root / "v" / "f5.png"
        named.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    elif case == "mixed_sizes":
        named = frames_root / "v" / "f3.jpg"
        Image.new("RGB", (W + 2, H)).save(named)
    elif case == "out_inside_frames":
        out = named = frames_root / "v" / "out"
    elif case == "out_inside_masks":
        out = named = masks_root / "out"
    elif case == "undecodable_video":
        named = frames_root / "broken.mp4"
        named.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 200)
    elif case == "no_video_with_two":
        (masks_root / "v" / "f5.png").unlink()
        named = "no video has 2 or more key frames"
    elif case == "video_named_overlays":
        (frames_root / "v").rename(frames_root / "overlays")
        (masks_root / "v").rename(masks_root / "overlays")
        named, extra = frames_root / "overlays", ["--method", "copy", "--overlay"]
    elif case == "foreign_out":
        out.mkdir()
        (out / "mine.txt").write_text("x")
        named = out
    elif case == "fgplg_without_checkpoint":
        named, extra = "--checkpoint", ["--checkpoint", "none"]
    elif case == "mask_size":
        named = masks_root / "v" / "f5.png"
        save_mask(np.zeros((H, W + 1)), named, "gray")
    before = stat_all(tmp_path)
    error_line(run(["--input", frames_root, "--labels", masks_root, "--out", out, *TINY, *extra], capsys), named)
    assert stat_all(tmp_path) == before  # nothing written, nothing changed
    assert case == "foreign_out" or not out.exists() or not any(out.iterdir())


def test_flags_of_the_mode_are_refused_elsewhere(tmp_path, capsys):
    error_line(run(["--out", tmp_path / "o", *TINY], capsys), "--out", "--input")
    error_line(run(["--input", tmp_path, "--labels", tmp_path, *TINY], capsys), "--out")
    error_line(run(["--input", tmp_path, "--labels", tmp_path, "--out", tmp_path / "o", "--holdout", "2",
                    "--extrapolate", *TINY], capsys), "--extrapolate", "--holdout")
