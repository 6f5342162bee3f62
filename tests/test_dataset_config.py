"""config/datasets.yaml: agreement with the published config, and one-line errors."""
import json

import pytest

from libs.datasets.config import DatasetConfigError, get_dataset_spec, load_dataset_config


def _as_dict(spec):
    fields = ["image_dir", "label_dir", "image_ext", "label_ext"]
    fields += ["split_dir"] if spec.kind == "image" else ["default_label_interval", "video_split"]
    return {f: getattr(spec, f) for f in fields}


@pytest.fixture(scope="module")
def shipped(repo_root):
    return load_dataset_config(repo_root / "config" / "datasets.yaml")


@pytest.fixture(scope="module")
def published(reference_dir):
    with open(reference_dir / "datasets_published.json") as f:
        return json.load(f)


def test_shipped_config_matches_published(shipped, published):
    assert sorted(shipped) == sorted(published)
    for name, entry in published.items():
        if name == "SegTrackv2":
            continue
        assert _as_dict(shipped[name]) == entry, name


def test_segtrackv2_is_the_published_entry_made_well_formed(shipped, published):
    ours, theirs = shipped["SegTrackv2"], published["SegTrackv2"]
    assert (ours.label_dir, ours.image_ext, ours.label_ext) == ("GroundTruth", ".png", ".png")
    assert ours.image_dir == theirs["image_dir"]
    assert ours.default_label_interval == theirs["default_label_interval"]
    assert ours.video_split == theirs["video_split"]


def test_published_split_sizes(shipped):
    sizes = {name: {s: len(v) for s, v in spec.video_split.items()}
             for name, spec in shipped.items() if spec.kind == "video"}
    assert sizes["DAVIS2016"] == {"train": 29, "val": 20}
    assert sizes["FBMS"] == {"train": 29, "test": 30}
    assert (sizes["VOS"]["train"], sizes["VOS"]["val"], sizes["VOS"]["test"]) == (119, 40, 40)
    assert shipped["VOS"].default_label_interval == 15
    assert all(isinstance(v, str) for v in shipped["VOS"].videos("train"))


GOOD_VIDEO = """\
MYVID:
  image_dir: "JPEGImages"
  label_dir: "Annotations"
  image_ext: ".jpg"
  label_ext: ".png"
  default_label_interval: 1
  video_split:
    train: ["a", "b"]
"""

GOOD_IMAGE = """\
MYIMG:
  image_dir: "imgs"
  label_dir: "gt"
  split_dir: "ImageSets"
  image_ext: ".jpg"
  label_ext: ".png"
"""


@pytest.mark.parametrize(
    "text, dataset, key",
    [
        (GOOD_VIDEO.replace('  label_ext: ".png"\n', ""), "MYVID", "label_ext"),
        (GOOD_IMAGE.replace('  split_dir: "ImageSets"\n', ""), "MYIMG", "split_dir"),
        (GOOD_VIDEO.replace('image_ext: ".jpg"', 'image_ext: "jpg"'), "MYVID", "image_ext"),
        (GOOD_VIDEO.replace('  label_dir: "Annotations"\n', '  label_dir: "Annotations"\n  label_dir: ".png"\n'),
         "MYVID", "label_dir"),
        (GOOD_VIDEO.replace('train: ["a", "b"]', "train: a"), "MYVID", "video_split.train"),
        (GOOD_IMAGE + '  colour: "red"\n', "MYIMG", "colour"),
        (GOOD_VIDEO.replace("default_label_interval: 1", "default_label_interval: 0"),
         "MYVID", "default_label_interval"),
    ],
    ids=["missing-key", "missing-split-dir", "bad-ext", "duplicate-key", "non-list-split", "unknown-key",
         "bad-interval"],
)
def test_malformed_entry_names_dataset_and_key(tmp_path, text, dataset, key):
    path = tmp_path / "datasets.yaml"
    path.write_text(text)
    with pytest.raises(DatasetConfigError) as err:
        load_dataset_config(path)
    msg = str(err.value)
    assert "\n" not in msg
    assert repr(dataset) in msg and key in msg and str(path) in msg


def test_good_entries_load(tmp_path):
    path = tmp_path / "datasets.yaml"
    path.write_text(GOOD_IMAGE + "\n" + GOOD_VIDEO)
    config = load_dataset_config(path)
    assert config["MYIMG"].kind == "image" and config["MYVID"].videos("train") == ["a", "b"]


def test_missing_config_file_names_it(tmp_path):
    with pytest.raises(DatasetConfigError, match="nope.yaml"):
        load_dataset_config(tmp_path / "nope.yaml")


def test_unknown_dataset_lists_available(shipped):
    with pytest.raises(DatasetConfigError) as err:
        get_dataset_spec(shipped, "DAVIS", config_path="config/datasets.yaml")
    msg = str(err.value)
    assert "'DAVIS'" in msg and "DAVIS2016" in msg and "VOS" in msg and "MSRA-B" in msg


def test_unknown_split_lists_available(shipped):
    with pytest.raises(DatasetConfigError) as err:
        shipped["FBMS"].videos("val")
    msg = str(err.value)
    assert "'val'" in msg and "train" in msg and "test" in msg


def test_wrong_kind_is_an_error(shipped):
    with pytest.raises(DatasetConfigError, match="image dataset"):
        get_dataset_spec(shipped, "MSRA-B", kind="video")
