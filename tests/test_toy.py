"""Toy dataset generator: layout, schema, determinism, safety of the output folder."""

import numpy as np
import pytest
from PIL import Image

from libs.datasets import ImageDataset, VideoClipDataset, load_dataset_config
from libs.datasets.toy import ToyDataError, main, make_toy_data

SMALL = dict(train_videos=2, val_videos=1, test_videos=1, frames=4, train_images=3, val_images=2)


def _files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """The default-size toy dataset, generated once."""
    out = tmp_path_factory.mktemp("toy") / "toy"
    return out, make_toy_data(out, seed=0)


def test_default_layout_and_schema(toy):
    out, config_path = toy
    assert config_path == out / "datasets.yaml"
    config = load_dataset_config(config_path)
    video, image = config["TOY_VIDEO"], config["TOY_IMAGE"]
    assert {s: len(v) for s, v in video.video_split.items()} == {"train": 6, "val": 2, "test": 2}
    for split in ("train", "val", "test"):
        for name in video.videos(split):
            frames = sorted((out / "TOY_VIDEO" / "JPEGImages" / name).glob("*.jpg"))
            masks = sorted((out / "TOY_VIDEO" / "Annotations" / name).glob("*.png"))
            assert len(frames) == 20 and [p.stem for p in frames] == [p.stem for p in masks]
            assert frames[0].name == "00000.jpg"
    first = Image.open(out / "TOY_VIDEO" / "JPEGImages" / "video_00" / "00000.jpg")
    assert first.size == (128, 96) and first.mode == "RGB"  # non-square: 96 high, 128 wide
    train_ids = (out / "TOY_IMAGE" / "ImageSets" / "train_id.txt").read_text().split()
    val_ids = (out / "TOY_IMAGE" / "ImageSets" / "val_id.txt").read_text().split()
    assert len(train_ids) == 60 and len(val_ids) == 20 and not set(train_ids) & set(val_ids)
    assert all((out / "TOY_IMAGE" / "imgs" / f"{i}.jpg").is_file() for i in train_ids + val_ids)
    assert all((out / "TOY_IMAGE" / "gt" / f"{i}.png").is_file() for i in train_ids + val_ids)
    assert image.kind == "image" and image.split_dir == "ImageSets"


def test_masks_are_binary_and_cover_10_to_30_percent(toy):
    out = toy[0]
    fractions = []
    for path in sorted(out.rglob("*.png")):
        mask = np.asarray(Image.open(path))
        assert mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 255}
        fractions.append((mask > 0).mean())
    assert len(fractions) == 200 + 80
    assert 0.08 <= min(fractions) and max(fractions) <= 0.32


def _best_threshold_accuracy(values, fg):
    order = np.argsort(values, kind="stable")
    fg_sorted = fg[order]
    fg_below = np.cumsum(fg_sorted)
    n, total = len(values), fg.sum()
    below = np.arange(1, n + 1)
    acc = ((below - fg_below) + (total - fg_below)) / n  # predict fg above the threshold
    return max(acc.max(), (1 - acc).max())


def test_objects_differ_from_background_but_not_on_one_channel(toy):
    out = toy[0]
    rgb, fg = [], []
    for path in sorted((out / "TOY_VIDEO" / "JPEGImages").rglob("*.jpg"))[::3]:
        rgb.append(np.asarray(Image.open(path), np.float32).reshape(-1, 3)[::5] / 255)
        mask_path = out / "TOY_VIDEO" / "Annotations" / path.parent.name / f"{path.stem}.png"
        fg.append(np.asarray(Image.open(mask_path)).reshape(-1)[::5] > 0)
    rgb, fg = np.concatenate(rgb), np.concatenate(fg)
    saturation = (rgb.max(1) - rgb.min(1)) / np.maximum(rgb.max(1), 1e-6)
    assert _best_threshold_accuracy(saturation, fg) > 0.97
    for c in range(3):
        assert _best_threshold_accuracy(rgb[:, c], fg) < 0.96, f"channel {c} alone separates the objects"


def test_datasets_load_the_toy_data(toy):
    out, config_path = toy
    config = load_dataset_config(config_path)
    clips = VideoClipDataset(out, config, [("TOY_VIDEO", "val")], clip_len=4, training=False)
    assert len(clips) == 2 * 5
    sample = clips[0]
    assert sample["images"].shape == (4, 3, 96, 128) and sample["labels"].shape == (4, 1, 96, 128)
    assert clips.validate() == 40
    images = ImageDataset(out, config["TOY_IMAGE"], "val")
    assert len(images) == 20 and images[0]["size"].tolist() == [96, 128]


def test_same_seed_same_bytes(tmp_path):
    a = make_toy_data(tmp_path / "a", seed=3, **SMALL).parent
    b = make_toy_data(tmp_path / "b", seed=3, **SMALL).parent
    c = make_toy_data(tmp_path / "c", seed=4, **SMALL).parent
    files_a = _files(a)
    assert files_a == _files(b)
    assert len(files_a) == 2 + 2 * 4 * 4 + 2 * 5 + 2
    files_c = _files(c)
    assert files_a.keys() == files_c.keys()
    assert files_a["TOY_VIDEO/JPEGImages/video_00/00000.jpg"] != files_c["TOY_VIDEO/JPEGImages/video_00/00000.jpg"]


def test_output_folder_safety(tmp_path):
    user = tmp_path / "user"
    user.mkdir()
    (user / "notes.txt").write_text("mine")
    with pytest.raises(ToyDataError) as err:
        make_toy_data(user, **SMALL)
    assert str(user) in str(err.value) and "--force" in str(err.value)
    assert sorted(p.name for p in user.iterdir()) == ["notes.txt"]
    make_toy_data(user, force=True, **SMALL)
    assert (user / "notes.txt").read_text() == "mine" and (user / "datasets.yaml").is_file()
    # a previous toy dataset is replaced: no stale video from a larger earlier run survives
    toy = tmp_path / "toy"
    make_toy_data(toy, **dict(SMALL, train_videos=3))
    make_toy_data(toy, **SMALL)
    assert not (toy / "TOY_VIDEO" / "JPEGImages" / "video_04").exists()
    assert sorted(p.name for p in (toy / "TOY_VIDEO" / "JPEGImages").iterdir()) == [
        "video_00", "video_01", "video_02", "video_03"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "temporary folders left behind"


def test_cli(tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["--out", str(out), "--seed", "1", "--train-videos", "1", "--val-videos", "1",
                 "--test-videos", "0", "--frames", "3", "--train-images", "1", "--val-images", "1"]) == 0
    config = load_dataset_config(out / "datasets.yaml")
    assert sorted(config["TOY_VIDEO"].video_split) == ["train", "val"]
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("")
    with pytest.raises(SystemExit) as exit_info:
        main(["--out", str(tmp_path / "busy")])
    assert exit_info.value.code == 2 and "not a toy dataset" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path / "bad"), "--frames", "0"])


def test_label_every_annotates_every_nth_frame_and_says_so(tmp_path):
    config = load_dataset_config(make_toy_data(tmp_path / "t", train_videos=1, val_videos=0, test_videos=0,
                                               frames=10, train_images=0, val_images=0, label_every=4))
    assert config["TOY_VIDEO"].default_label_interval == 4
    masks = sorted(p.name for p in (tmp_path / "t" / "TOY_VIDEO" / "Annotations" / "video_00").iterdir())
    assert masks == ["00000.png", "00004.png", "00008.png"]
    assert len(list((tmp_path / "t" / "TOY_VIDEO" / "JPEGImages" / "video_00").iterdir())) == 10
