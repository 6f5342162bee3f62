"""Datasets: config, frame indexing rules, video/image datasets, transforms, toy data.

Submodules: ``config`` (datasets.yaml), ``indexing`` (pure position/clip rules of the
semi-supervised protocol), ``frames`` (files on disk), ``loading`` (decoding + size
checks), ``video_datasets`` (clips and frames for RCRNet+NER), ``fgplg_datasets``
(FGPLG triplets and pseudo-label generation jobs), ``pseudo_label_folder`` (the
``<root>/<m>_<l>`` folder and its manifest), ``image_datasets``, ``transforms``, ``toy``
(``python -m libs.datasets.toy``).
"""
from .config import DatasetConfigError, get_dataset_spec, load_dataset_config
from .fgplg_datasets import PseudoLabelDataset, TripletDataset
from .image_datasets import ImageDataset
from .indexing import (
    DatasetError,
    check_clip_len,
    check_frame_between_label_num,
    check_label_interval,
    clip_indices,
    kept_indices,
    pseudo_label_positions,
    pseudo_label_step,
    triplet_indices,
)
from .pseudo_label_folder import folder_name, pseudo_label_path
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
from .video_datasets import VideoClipDataset, VideoFrameDataset

__all__ = [
    "DatasetConfigError",
    "DatasetError",
    "load_dataset_config",
    "get_dataset_spec",
    "check_clip_len",
    "check_frame_between_label_num",
    "check_label_interval",
    "clip_indices",
    "kept_indices",
    "pseudo_label_positions",
    "pseudo_label_step",
    "triplet_indices",
    "folder_name",
    "pseudo_label_path",
    "ImageDataset",
    "VideoClipDataset",
    "VideoFrameDataset",
    "TripletDataset",
    "PseudoLabelDataset",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "ClipTransform",
    "normalize",
    "denormalize",
    "eval_transform",
    "image_train_transform",
    "video_train_transform",
]
