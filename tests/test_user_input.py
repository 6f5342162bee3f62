"""``inference.py --input``: a folder of frames or a video file, streamed in clips.

The frames written here are solid colours whose red level encodes the frame index, so a
test can tell which frames the model saw in each clip without trusting the code under
test. Runs in-process through ``inference.main`` with a fresh (random) VideoModel.
"""
import importlib
import time

import numpy as np
import pytest
import torch
from PIL import Image

import libs.pipeline.inference as inference_stage
from libs.datasets import IMAGENET_MEAN, IMAGENET_STD, clip_indices
from libs.datasets.toy import make_toy_data
from libs.datasets.user_input import open_user_input, stream_clips
from libs.networks import VideoModel
from libs.utils.checkpoint import save_model

H, W = 40, 56  # non-square, and not the model's input size
SIZE = 32


def _red_level(i):
    return 30 + 40 * i


def _solid(i, h=H, w=W):
    arr = np.empty((h, w, 3), np.uint8)
    arr[...] = (_red_level(i), 100, 200)
    return arr


def _frame_index(tensor):
    """Index of the solid frame a normalised ``(1, 3, S, S)`` tensor shows (by its red level)."""
    red = (tensor[0, 0].float().mean().item() * IMAGENET_STD[0] + IMAGENET_MEAN[0]) * 255.0
    i = round((red - 30) / 40)
    assert abs(red - _red_level(i)) < 8, f"not one of the solid test frames (red {red:.1f})"
    return i


def _inference_main():
    return importlib.import_module("inference").main


@pytest.fixture(scope="module")
def video_checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "video.pth"
    save_model(VideoModel(), path)
    yield path
    path.unlink()  # ~200 MB that pytest would keep for a few runs


@pytest.fixture
def frame_folder(tmp_path):
    folder = tmp_path / "my_clip"
    folder.mkdir()
    for i in range(6):
        # Mixed formats and extension case; sorted by file name they are in index order.
        ext = (".png", ".jpg", ".PNG", ".jpeg", ".png", ".JPG")[i]
        Image.fromarray(_solid(i)).save(folder / f"frame_{i:02d}{ext}", quality=98)
    (folder / "notes.txt").write_text("not a frame")
    (folder / ".frame_99.png").write_bytes(b"hidden editor file, not a frame")
    return folder


def _record_clips(monkeypatch):
    """Wrap the stage's ``predict_clip`` to record, per call, the frame indices it was given."""
    seen = []
    real = inference_stage.predict_clip

    def recording(model, frames, *args, **kwargs):
        seen.append([_frame_index(f) for f in frames])
        return real(model, frames, *args, **kwargs)

    monkeypatch.setattr(inference_stage, "predict_clip", recording)
    return seen


# ------------------------------------------------------------------ stream_clips (unit)
@pytest.mark.parametrize("clip_len", [1, 2, 3, 4])
@pytest.mark.parametrize("n", range(1, 10))
def test_stream_clips_matches_clip_indices(n, clip_len):
    frames = ((f"{i:05d}", np.full((2, 2, 3), i, np.uint8)) for i in range(n))  # a one-shot stream
    clips = list(stream_clips(frames, clip_len))
    as_indices = [[int(stem) for stem, _ in clip] for clip in clips]
    assert as_indices == clip_indices(n, clip_len, training=False)
    for clip in clips:  # the frame array travels with its stem
        assert all(int(rgb[0, 0, 0]) == int(stem) for stem, rgb in clip)


def test_stream_clips_of_an_empty_stream_and_bad_clip_len():
    assert list(stream_clips(iter([]), 4)) == []
    with pytest.raises(ValueError, match="--clip_len"):
        list(stream_clips(iter([("a", None)]), 0))


def test_open_user_input_lists_only_visible_image_files(frame_folder):
    name, frames, count = open_user_input(frame_folder)
    stems = [stem for stem, _ in frames]
    assert name == "my_clip" and count == 6
    assert stems == [f"frame_{i:02d}" for i in range(6)]


# ------------------------------------------------------------- inference.py --input
def test_input_folder_writes_one_map_per_frame_at_original_size(tmp_path, frame_folder, video_checkpoint,
                                                                  monkeypatch, one_thread, capsys):
    seen = _record_clips(monkeypatch)
    results = tmp_path / "results"
    rc = _inference_main()(["--input", str(frame_folder), "--checkpoint", str(video_checkpoint),
                            "--results-folder", str(results), "--size", str(SIZE), "--clip_len", "4",
                            "-j", "0", "--device", "cpu", "--overlay"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "inference.py: wrote 6 maps" in out
    # Non-overlapping clips, the last one aligned to the end (it overlaps the one before).
    assert seen == [[0, 1, 2, 3], [2, 3, 4, 5]]
    maps = sorted((results / "my_clip").iterdir())
    assert [p.name for p in maps] == [f"frame_{i:02d}.png" for i in range(6)]
    for p in maps:
        with Image.open(p) as img:
            assert img.format == "PNG" and img.mode == "L" and img.size == (W, H)
    overlays = sorted((results / "overlays" / "my_clip").iterdir())
    assert [p.name for p in overlays] == [f"frame_{i:02d}.jpg" for i in range(6)]
    with Image.open(overlays[0]) as img:
        assert img.format == "JPEG" and img.size == (W, H)
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]


def test_input_video_file(tmp_path, video_checkpoint, one_thread, capsys):
    cv2 = pytest.importorskip("cv2")
    video = tmp_path / "walk.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (W, H))
    if not writer.isOpened():
        pytest.skip("OpenCV cannot write an MJPG .avi here")
    n = 5
    for i in range(n):
        writer.write(cv2.cvtColor(_solid(i), cv2.COLOR_RGB2BGR))
    writer.release()
    cap = cv2.VideoCapture(str(video))
    readable = cap.read()[0]
    cap.release()
    if not readable:
        pytest.skip("OpenCV cannot decode the .avi it wrote")

    results = tmp_path / "results"
    rc = _inference_main()(["--input", str(video), "--checkpoint", str(video_checkpoint),
                            "--results-folder", str(results), "--size", str(SIZE), "--clip_len", "4",
                            "-j", "0", "--device", "cpu"])
    assert rc == 0
    assert f"wrote {n} maps" in capsys.readouterr().out
    maps = sorted((results / "walk").iterdir())
    assert [p.name for p in maps] == [f"{i:05d}.png" for i in range(n)]
    for p in maps:
        arr = np.asarray(Image.open(p))
        assert arr.dtype == np.uint8 and arr.shape == (H, W)


# --------------------------------------------- overlapping clips: the last prediction wins
CLIP_PROBS = (0.2, 0.8)  # constant probability predicted for every frame of clip 0, clip 1


def _fake_predictions(monkeypatch):
    """``predict_clip`` -> a constant per call, so a map tells which clip it came from."""
    calls = []

    def fake(model, frames, *args, **kwargs):
        value = CLIP_PROBS[min(len(calls), len(CLIP_PROBS) - 1)]
        calls.append(value)
        b, _, s, _ = frames[0].shape
        return torch.full((b, len(frames), 1, s, s), value)

    monkeypatch.setattr(inference_stage, "predict_clip", fake)
    return calls


def _slow_first_write_of(monkeypatch, stem):
    """Delay the first write of ``<stem>.png`` so a later write of the same file could overtake it."""
    real, delayed = inference_stage.save_png, []

    def slow(array, path):
        if path.stem == stem and not delayed:
            delayed.append(path)
            time.sleep(0.5)
        real(array, path)

    monkeypatch.setattr(inference_stage, "save_png", slow)
    return delayed


def _level(p):
    return round(p * 255)


def test_input_frame_in_two_clips_keeps_the_last_prediction(tmp_path, frame_folder, video_checkpoint,
                                                             monkeypatch, one_thread, capsys):
    _fake_predictions(monkeypatch)
    delayed = _slow_first_write_of(monkeypatch, "frame_02")
    results = tmp_path / "results"
    rc = _inference_main()(["--input", str(frame_folder), "--checkpoint", str(video_checkpoint),
                            "--results-folder", str(results), "--size", str(SIZE), "--clip_len", "4",
                            "-j", "0", "--device", "cpu"])
    assert rc == 0 and delayed
    levels = [int(np.asarray(Image.open(results / "my_clip" / f"frame_{i:02d}.png")).mean()) for i in range(6)]
    first, last = _level(CLIP_PROBS[0]), _level(CLIP_PROBS[1])
    # Clips [0..3] then [2..5]: frames 2 and 3 are predicted twice; the second prediction wins.
    assert levels == [first, first, last, last, last, last]


def test_split_frame_in_two_clips_keeps_the_last_prediction(tmp_path, video_checkpoint, monkeypatch, one_thread,
                                                             capsys):
    config = make_toy_data(tmp_path / "toy", train_videos=0, val_videos=0, test_videos=1, frames=6,
                           train_images=0, val_images=0, height=16, width=24)
    _fake_predictions(monkeypatch)
    delayed = _slow_first_write_of(monkeypatch, "00002")
    results = tmp_path / "results"
    rc = _inference_main()(["--data", str(tmp_path / "toy"), "--dataset-config", str(config),
                            "--dataset", "TOY_VIDEO", "--split", "test", "--checkpoint", str(video_checkpoint),
                            "--results-folder", str(results), "--size", str(SIZE), "--clip_len", "4",
                            "-j", "0", "--device", "cpu"])
    assert rc == 0 and delayed
    video_dir = results / "TOY_VIDEO" / "video_00"
    levels = [int(np.asarray(Image.open(video_dir / f"{i:05d}.png")).mean()) for i in range(6)]
    first, last = _level(CLIP_PROBS[0]), _level(CLIP_PROBS[1])
    assert levels == [first, first, last, last, last, last]
