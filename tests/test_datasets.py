"""Frame indexing rules, video/image datasets and their one-line errors.

The synthetic datasets built here encode each frame's index in its pixels (red = 5*i)
and in its label (gray = 5*i), so a test can tell which frame and which label a sample
holds without trusting the code under test.
"""

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from libs.datasets import (
    DatasetConfigError,
    DatasetError,
    ImageDataset,
    VideoClipDataset,
    VideoFrameDataset,
    clip_indices,
    denormalize,
    eval_transform,
    load_dataset_config,
)
from libs.utils.io import ImageReadError

H, W = 6, 8
PSEUDO_VALUE = 250  # pseudo-label files hold this gray level, GT labels hold 5*i


# ----------------------------------------------------------------------------- helpers
def _write_frame(path, code, size=(H, W)):
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.zeros(size + (3,), np.uint8)
    arr[..., 0], arr[..., 1], arr[..., 2] = code, 100, 200
    Image.fromarray(arr).save(path)


def _write_label(path, value, size=(H, W)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full(size, value, np.uint8), mode="L").save(path)


def make_videos(data, videos, labelled=lambda i: True, name="VID", splits=None):
    """``videos = {video: n_frames}``; PNG frames and labels; returns the loaded config."""
    for video, n in videos.items():
        for i in range(n):
            _write_frame(data / name / "JPEGImages" / video / f"{i:05d}.png", 5 * i)
            if labelled(i):
                _write_label(data / name / "Annotations" / video / f"{i:05d}.png", 5 * i)
    splits = splits or {"train": list(videos)}
    lines = [f"{name}:", '  image_dir: "JPEGImages"', '  label_dir: "Annotations"', '  image_ext: ".png"',
             '  label_ext: ".png"', "  default_label_interval: 1", "  video_split:"]
    for split, vids in splits.items():
        lines.append(f'    "{split}": [{", ".join(repr(v) for v in vids)}]')
    cfg = data / "datasets.yaml"
    cfg.write_text("\n".join(lines) + "\n")
    return load_dataset_config(cfg)


def frame_codes(images):
    """``(T, 3, h, w)`` normalised -> the frame index encoded in red."""
    return [round(float(v) * 255 / 5) for v in denormalize(images)[:, 0].mean(dim=(-2, -1))]


def label_codes(labels):
    return [round(float(v) * 255 / 5) if round(float(v) * 255) != PSEUDO_VALUE else "P"
            for v in labels[:, 0].mean(dim=(-2, -1))]


def stems(idx):
    return [f"{i:05d}" for i in idx]


def one_line(err):
    msg = str(err.value)
    assert "\n" not in msg
    return msg


# ----------------------------------------------------------------------- pure rules
def test_clip_rules_on_17_frames():
    assert clip_indices(17, 4, training=True) == [
        [0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9], [9, 10, 11, 12], [12, 13, 14, 15], [13, 14, 15, 16]]
    assert clip_indices(17, 4, training=False) == [
        [0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11], [12, 13, 14, 15], [13, 14, 15, 16]]


def test_clip_len_1_and_exact_fits():
    assert clip_indices(3, 1, training=True) == [[0], [1], [2]]
    assert clip_indices(3, 1, training=False) == [[0], [1], [2]]
    assert clip_indices(7, 4, training=True) == [[0, 1, 2, 3], [3, 4, 5, 6]]  # no duplicate end clip
    assert clip_indices(8, 4, training=False) == [[0, 1, 2, 3], [4, 5, 6, 7]]


@pytest.mark.parametrize("training", [True, False])
def test_short_video_repeats_last_frame(training):
    assert clip_indices(2, 4, training) == [[0, 1, 1, 1]]
    assert clip_indices(4, 4, training) == [[0, 1, 2, 3]]
    assert clip_indices(0, 4, training) == []


@pytest.mark.parametrize("training", [True, False])
def test_clips_cover_every_frame(training):
    for n in range(1, 30):
        for clip_len in range(1, 7):
            clips = clip_indices(n, clip_len, training)
            assert all(len(c) == clip_len for c in clips)
            assert sorted({i for c in clips for i in c}) == list(range(n))
            assert all(c == list(range(c[0], c[0] + clip_len)) for c in clips if n >= clip_len)


# -------------------------------------------------------------------- video datasets
def test_only_labelled_frames_unless_all_frames(tmp_path):
    config = make_videos(tmp_path, {"v": 10}, labelled=lambda i: i % 2 == 0)
    ds = VideoFrameDataset(tmp_path, config, [("VID", "train")])
    assert [ds[k]["frame"] for k in range(len(ds))] == stems([0, 2, 4, 6, 8])
    item = ds[1]
    assert frame_codes(item["image"][None]) == [2] and label_codes(item["label"][None]) == [2]
    allf = VideoFrameDataset(tmp_path, config, [("VID", "train")], all_frames=True, require_labels=False)
    assert len(allf) == 10 and "label" not in allf[3] and frame_codes(allf[3]["image"][None]) == [3]
    with pytest.raises(DatasetError) as err:  # every frame as training data needs every label
        VideoFrameDataset(tmp_path, config, [("VID", "train")], all_frames=True)
    assert "00001.png" in one_line(err)


def test_clip_dataset_follows_clip_rules(tmp_path):
    config = make_videos(tmp_path, {"v": 17})
    train = VideoClipDataset(tmp_path, config, [("VID", "train")], clip_len=4, training=True)
    starts = [int(train.clip_info(i)[2][0]) for i in range(len(train))]
    assert starts == [0, 3, 6, 9, 12, 13]
    infer = VideoClipDataset(tmp_path, config, [("VID", "train")], clip_len=4, training=False, require_labels=False)
    assert [int(infer.clip_info(i)[2][0]) for i in range(len(infer))] == [0, 4, 8, 12, 13]
    sample = train[1]
    assert sample["frames"] == stems([3, 4, 5, 6]) and frame_codes(sample["images"]) == [3, 4, 5, 6]
    assert label_codes(sample["labels"]) == [3, 4, 5, 6]
    assert sample["sizes"].tolist() == [[H, W]] * 4 and sample["sizes"].dtype == torch.long
    assert (sample["dataset"], sample["video"], sample["reversed"]) == ("VID", "v", False)
    assert "labels" not in infer[0]


def test_short_video_clip_repeats_last_frame(tmp_path):
    config = make_videos(tmp_path, {"v": 2})
    ds = VideoClipDataset(tmp_path, config, [("VID", "train")], clip_len=4)
    assert len(ds) == 1 and ds[0]["frames"] == stems([0, 1, 1, 1])
    assert frame_codes(ds[0]["images"]) == [0, 1, 1, 1]
    one = VideoClipDataset(tmp_path, config, [("VID", "train")], clip_len=1)
    assert [one[i]["frames"] for i in range(len(one))] == [stems([0]), stems([1])]


def test_pseudo_label_folder_replaces_the_gt(tmp_path):
    config = make_videos(tmp_path / "data", {"v": 9})
    for path in (tmp_path / "data" / "VID" / "Annotations" / "v").iterdir():
        path.write_bytes(b"the dataset's own GT must not be read")
    folder = tmp_path / "pseudo" / "1_4"
    for i in (0, 4, 8):  # kept GT copies
        _write_label(folder / "VID" / "v" / f"{i:05d}.png", 5 * i)
    for i in (2, 6):
        _write_label(folder / "VID" / "v" / f"{i:05d}.png", PSEUDO_VALUE)
    ds = VideoClipDataset(tmp_path / "data", config, [("VID", "train")], clip_len=5, label_folder=folder)
    assert len(ds) == 1 and ds.validate() == 5
    sample = ds[0]
    assert sample["frames"] == stems([0, 2, 4, 6, 8]) and frame_codes(sample["images"]) == [0, 2, 4, 6, 8]
    assert label_codes(sample["labels"]) == [0, "P", 4, "P", 8]
    frames = VideoFrameDataset(tmp_path / "data", config, [("VID", "train")], label_folder=folder)
    assert [frames[k]["frame"] for k in range(len(frames))] == stems([0, 2, 4, 6, 8])


def test_pseudo_label_folder_errors_name_the_folder(tmp_path):
    config = make_videos(tmp_path / "data", {"v": 9})
    folder = tmp_path / "pseudo" / "1_4"
    with pytest.raises(DatasetError) as err:  # not generated yet
        VideoClipDataset(tmp_path / "data", config, [("VID", "train")], label_folder=folder)
    assert str(folder) in one_line(err) and "--pseudo-label-folder" in one_line(err)
    (folder / "VID" / "v").mkdir(parents=True)
    with pytest.raises(DatasetError) as err:  # a video without labels in the folder
        VideoClipDataset(tmp_path / "data", config, [("VID", "train")], label_folder=folder)
    assert str(folder / "VID" / "v") in one_line(err)
    _write_label(folder / "VID" / "v" / "00042.png", 0)
    with pytest.raises(DatasetError) as err:  # a label whose frame does not exist
        VideoClipDataset(tmp_path / "data", config, [("VID", "train")], label_folder=folder)
    assert "00042.png" in one_line(err) and "without a frame" in one_line(err)
    with pytest.raises(DatasetError) as err:  # the root instead of <root>/<m>_<l>
        (folder / "pseudo_labels.json").write_text('{"label_interval": 4, "frame_between_label_num": 1, '
                                                   '"datasets": {}, "complete": true}')
        VideoClipDataset(tmp_path / "data", config, [("VID", "train")], label_folder=folder.parent)
    assert "1_4" in one_line(err)


def test_random_reverse_reverses_images_and_labels_together(tmp_path):
    config = make_videos(tmp_path, {"v": 5})
    ds = VideoClipDataset(tmp_path, config, [("VID", "train")], clip_len=4, random_reverse_clip=True)
    seen = set()
    for seed in range(12):
        torch.manual_seed(seed)
        s = ds[0]
        order = [3, 2, 1, 0] if s["reversed"] else [0, 1, 2, 3]
        assert s["frames"] == stems(order)
        assert frame_codes(s["images"]) == order and label_codes(s["labels"]) == order
        seen.add(s["reversed"])
    assert seen == {True, False}


def test_dataloader_batches_clips(tmp_path):
    config = make_videos(tmp_path, {"a": 7, "b": 5})
    ds = VideoClipDataset(tmp_path, config, [("VID", "train")], clip_len=3, transform=eval_transform(8))
    batch = next(iter(DataLoader(ds, batch_size=2, shuffle=False)))
    assert batch["images"].shape == (2, 3, 3, 8, 8) and batch["labels"].shape == (2, 3, 1, 8, 8)
    assert batch["sizes"].shape == (2, 3, 2) and batch["video"] == ["a", "a"]
    assert batch["frames"][1] == ("00001", "00003")
    assert batch["reversed"].tolist() == [False, False]


# ------------------------------------------------------------------------ bad inputs
def test_missing_root_dataset_and_video_folders(tmp_path):
    config = make_videos(tmp_path / "data", {"v": 3}, splits={"train": ["v", "gone"]})
    with pytest.raises(DatasetError) as err:
        VideoClipDataset(tmp_path / "nowhere", config, [("VID", "train")])
    assert str(tmp_path / "nowhere") in one_line(err) and "--data" in one_line(err)
    with pytest.raises(DatasetError) as err:
        VideoClipDataset(tmp_path, config, [("VID", "train")])
    assert str(tmp_path / "VID") in one_line(err)
    with pytest.raises(DatasetError) as err:
        VideoClipDataset(tmp_path / "data", config, [("VID", "train")])
    assert str(tmp_path / "data" / "VID" / "JPEGImages" / "gone") in one_line(err)


def test_unknown_dataset_or_split(tmp_path):
    config = make_videos(tmp_path, {"v": 3})
    with pytest.raises(DatasetConfigError) as err:
        VideoClipDataset(tmp_path, config, [("VID", "val")])
    assert "'val'" in one_line(err) and "train" in one_line(err)
    with pytest.raises(DatasetConfigError) as err:
        VideoClipDataset(tmp_path, config, [("DAVIS2016", "train")])
    assert "VID" in one_line(err)


def test_video_without_labels(tmp_path):
    config = make_videos(tmp_path, {"v": 3}, labelled=lambda i: False)
    with pytest.raises(DatasetError) as err:
        VideoClipDataset(tmp_path, config, [("VID", "train")])
    assert str(tmp_path / "VID" / "Annotations" / "v") in one_line(err)
    ds = VideoClipDataset(tmp_path, config, [("VID", "train")], training=False, all_frames=True, require_labels=False)
    assert len(ds) == 1


def test_bad_clip_len_fails_at_construction(tmp_path):
    config = make_videos(tmp_path, {"v": 3})
    with pytest.raises(DatasetError) as err:
        VideoClipDataset(tmp_path, config, [("VID", "train")], clip_len=0)
    assert "--clip_len" in one_line(err)


def test_truncated_frame_is_named(tmp_path):
    config = make_videos(tmp_path, {"v": 3})
    bad = tmp_path / "VID" / "JPEGImages" / "v" / "00001.png"
    bad.write_bytes(bad.read_bytes()[:40])
    ds = VideoClipDataset(tmp_path, config, [("VID", "train")], clip_len=3)
    with pytest.raises(ImageReadError) as err:
        ds[0]
    assert str(bad) in one_line(err)


def test_label_size_mismatch_names_both_files(tmp_path):
    config = make_videos(tmp_path, {"v": 3})
    label = tmp_path / "VID" / "Annotations" / "v" / "00002.png"
    _write_label(label, 10, size=(H + 1, W))
    ds = VideoClipDataset(tmp_path, config, [("VID", "train")], clip_len=3)
    frame = tmp_path / "VID" / "JPEGImages" / "v" / "00002.png"
    for call in (ds.validate, lambda: ds[0]):
        with pytest.raises(DatasetError) as err:
            call()
        assert str(label) in one_line(err) and str(frame) in one_line(err)


# ---------------------------------------------------------------------- image dataset
def _image_dataset(root, ids, split="train"):
    for i, image_id in enumerate(ids):
        _write_frame(root / "IMG" / "imgs" / f"{image_id}.jpg", 5 * i, size=(10, 14))
        _write_label(root / "IMG" / "gt" / f"{image_id}.png", 5 * i, size=(10, 14))
    (root / "IMG" / "ImageSets").mkdir(parents=True, exist_ok=True)
    (root / "IMG" / "ImageSets" / f"{split}_id.txt").write_text("\n".join(ids) + "\n")
    cfg = root / "datasets.yaml"
    cfg.write_text('IMG:\n  image_dir: "imgs"\n  label_dir: "gt"\n  split_dir: "ImageSets"\n'
                   '  image_ext: ".jpg"\n  label_ext: ".png"\n')
    return load_dataset_config(cfg)["IMG"]


def test_image_dataset_items(tmp_path):
    spec = _image_dataset(tmp_path, ["a", "b", "c"])
    ds = ImageDataset(tmp_path, spec, "train", transform=eval_transform(8))
    item = ds[2]
    assert len(ds) == 3 and item["name"] == "c" and item["dataset"] == "IMG"
    assert item["image"].shape == (3, 8, 8) and item["label"].shape == (1, 8, 8)
    assert item["size"].tolist() == [10, 14]
    assert abs(float(item["label"].mean()) * 255 - 10) < 0.5
    assert ds.validate() == 3


def test_image_dataset_errors(tmp_path):
    spec = _image_dataset(tmp_path, ["a", "b"])
    with pytest.raises(DatasetError) as err:
        ImageDataset(tmp_path, spec, "val")
    assert "val_id.txt" in one_line(err) and "train" in one_line(err)
    (tmp_path / "IMG" / "imgs" / "b.jpg").unlink()
    with pytest.raises(DatasetError) as err:
        ImageDataset(tmp_path, spec, "train")
    assert str(tmp_path / "IMG" / "imgs" / "b.jpg") in one_line(err)


# --------------------------------------------------------- per-video layouts ({video})
def test_video_placeholder_layout_for_training_and_inference(tmp_path):
    # A benchmark release: <video>/Imgs/ and <video>/ground-truth/ side by side.
    for i in range(5):
        _write_frame(tmp_path / "REL" / "bear" / "Imgs" / f"bear_{i:05d}.png", 5 * i)
        if i % 2 == 0:
            _write_label(tmp_path / "REL" / "bear" / "ground-truth" / f"bear_{i:05d}.png", 5 * i)
    cfg = tmp_path / "rel.yaml"
    cfg.write_text('REL:\n  image_dir: "{video}/Imgs"\n  label_dir: "{video}/ground-truth"\n  image_ext: ".png"\n'
                   '  label_ext: ".png"\n  default_label_interval: 2\n  video_split:\n    test: [bear]\n')
    config = load_dataset_config(cfg)
    train = VideoClipDataset(tmp_path, config, [("REL", "test")], clip_len=3)
    assert [train.clip_info(i)[2] for i in range(len(train))] == [["bear_00000", "bear_00002", "bear_00004"]]
    assert label_codes(train[0]["labels"]) == [0, 2, 4] and frame_codes(train[0]["images"]) == [0, 2, 4]
    infer = VideoClipDataset(tmp_path, config, [("REL", "test")], clip_len=5, training=False, all_frames=True,
                             require_labels=False)
    assert frame_codes(infer[0]["images"]) == [0, 1, 2, 3, 4]


def test_only_the_video_placeholder_is_allowed(tmp_path):
    cfg = tmp_path / "rel.yaml"
    cfg.write_text('REL:\n  image_dir: "{name}/Imgs"\n  label_dir: "GT"\n  image_ext: ".png"\n'
                   '  label_ext: ".png"\n  default_label_interval: 1\n  video_split:\n    test: [bear]\n')
    with pytest.raises(DatasetConfigError) as err:
        load_dataset_config(cfg)
    assert "{video}" in one_line(err) and "image_dir" in one_line(err)
