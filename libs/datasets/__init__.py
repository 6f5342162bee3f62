"""Datasets: config, frame indexing rules, video/image datasets, transforms, toy data.

Submodules: ``config`` (datasets.yaml), ``indexing`` (pure position/clip rules),
``frames`` (files on disk), ``loading`` (decoding + size checks), ``video_datasets``,
``image_datasets``, ``transforms``, ``toy`` (``python -m libs.datasets.toy``).
"""
from .config import DatasetConfigError, get_dataset_spec, load_dataset_config
from .frames import pseudo_label_path
from .image_datasets import ImageDataset
from .indexing import (
    DatasetError,
    check_sampling_args,
    clip_indices,
    kept_label_positions,
    label_gaps,
    pseudo_label_positions,
    triplet_positions,
    used_positions,
)
from .transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    ClipTransform,
    denormalize,
    eval_transform,
    image_train_transform,
    normalize,
    video_train_transform,
)
from .video_datasets import TripletDataset, VideoClipDataset, VideoFrameDataset

__all__ = [
    "DatasetConfigError",
    "DatasetError",
    "load_dataset_config",
    "get_dataset_spec",
    "pseudo_label_path",
    "check_sampling_args",
    "clip_indices",
    "kept_label_positions",
    "label_gaps",
    "pseudo_label_positions",
    "triplet_positions",
    "used_positions",
    "ImageDataset",
    "VideoClipDataset",
    "VideoFrameDataset",
    "TripletDataset",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "ClipTransform",
    "normalize",
    "denormalize",
    "eval_transform",
    "image_train_transform",
    "video_train_transform",
]
