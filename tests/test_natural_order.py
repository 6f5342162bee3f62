"""Frames in natural order (``f2`` before ``f10``) everywhere: the dataset loaders,
``inference.py --input`` and evaluation list frames the same way."""
import numpy as np
from PIL import Image

from libs.datasets import load_dataset_config
from libs.datasets.frames import list_video
from libs.datasets.user_input import open_user_input
from libs.pipeline.evaluation import collect_folder_jobs
from libs.utils.natural_sort import natural_key, natural_sorted

# Unpadded names whose string order is not their frame order.
NAMES = ["f0", "f1", "f2", "f9", "f10", "f11", "f100"]


def _frame(path, code):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((4, 6, 3), code, np.uint8)).save(path)


def test_natural_key():
    shuffled = ["f10", "f100", "f2", "f0", "f11", "f9", "f1"]
    assert natural_sorted(shuffled) == NAMES
    assert sorted(shuffled) != NAMES  # string order differs: the test can fail
    assert natural_sorted(["b2_10", "b2_9", "a10_1", "a9_1"]) == ["a9_1", "a10_1", "b2_9", "b2_10"]
    assert natural_key("f01") != natural_key("f1")  # a total order, ties broken by the text


def test_dataset_loader_lists_frames_and_labels_in_natural_order(tmp_path):
    for i, name in enumerate(NAMES):
        _frame(tmp_path / "D" / "JPEGImages" / "v" / f"{name}.png", i)
    for name in ("f2", "f10", "f100"):
        _frame(tmp_path / "D" / "Annotations" / "v" / f"{name}.png", 255)
    (tmp_path / "d.yaml").write_text('D:\n  image_dir: "JPEGImages"\n  label_dir: "Annotations"\n'
                                     '  image_ext: ".png"\n  label_ext: ".png"\n  default_label_interval: 1\n'
                                     '  video_split:\n    "train": ["v"]\n')
    spec = load_dataset_config(tmp_path / "d.yaml")["D"]
    vf = list_video(tmp_path, spec, "v")
    assert [f.stem for f in vf.frames] == NAMES
    assert [vf.frames[k].stem for k in vf.labels] == ["f2", "f10", "f100"]


def test_inference_input_streams_frames_in_natural_order(tmp_path):
    for i, name in enumerate(NAMES):
        _frame(tmp_path / "video" / f"{name}.jpg", 30 * i)
    name, frames, count = open_user_input(tmp_path / "video")
    assert count == len(NAMES)
    assert [stem for stem, _ in frames] == NAMES


def test_evaluation_orders_frames_naturally(tmp_path):
    for name in NAMES:
        _frame(tmp_path / "gt" / "v" / f"{name}.png", 255)
        _frame(tmp_path / "pred" / "v" / f"{name}.png", 255)
    (job,) = collect_folder_jobs(tmp_path / "pred", tmp_path / "gt")
    assert [f.gt.stem for f in job.frames] == NAMES
