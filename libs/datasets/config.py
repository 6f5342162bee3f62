"""Dataset configuration (``config/datasets.yaml``): loading and validation.

The schema is the published one: one top-level entry per dataset, paths relative to
``<data>/<dataset name>/``.

- image datasets: ``image_dir``, ``label_dir``, ``image_ext``, ``label_ext``, ``split_dir``
  (holding ``<split>_id.txt``);
- video datasets: ``image_dir``, ``label_dir``, ``image_ext``, ``label_ext``,
  ``default_label_interval`` and ``video_split: {split: [video, ...]}``.

Every problem is reported as one :class:`DatasetConfigError` line naming the file, the
dataset and the key.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Union

import yaml

from libs.utils.errors import UserError

__all__ = [
    "DatasetConfigError",
    "ImageDatasetSpec",
    "VideoDatasetSpec",
    "load_dataset_config",
    "get_dataset_spec",
]


class DatasetConfigError(UserError, ValueError):
    """A malformed dataset configuration, or a dataset/split it does not have."""


@dataclass(frozen=True)
class ImageDatasetSpec:
    name: str
    image_dir: str
    label_dir: str
    image_ext: str
    label_ext: str
    split_dir: str

    kind = "image"

    def root(self, data_root: Union[str, Path]) -> Path:
        return Path(data_root) / self.name


@dataclass(frozen=True)
class VideoDatasetSpec:
    name: str
    image_dir: str
    label_dir: str
    image_ext: str
    label_ext: str
    default_label_interval: int
    video_split: Dict[str, List[str]] = field(default_factory=dict)

    kind = "video"

    def root(self, data_root: Union[str, Path]) -> Path:
        return Path(data_root) / self.name

    def video_image_dir(self, data_root: Union[str, Path], video: str) -> Path:
        """Folder of ``video``'s frames: ``<data>/<NAME>/<image_dir>/<video>``, or ``image_dir``
        with ``{video}`` filled in when it has that placeholder (benchmark releases that keep
        ``<video>/Imgs/`` and ``<video>/GT/`` side by side)."""
        return self.root(data_root) / _video_path(self.image_dir, video)

    def video_label_dir(self, data_root: Union[str, Path], video: str) -> Path:
        """Folder of ``video``'s labels, as :meth:`video_image_dir` for ``label_dir``."""
        return self.root(data_root) / _video_path(self.label_dir, video)

    def videos(self, split: str) -> List[str]:
        """Video names of ``split``; a clear error if the dataset has no such split."""
        if split not in self.video_split:
            raise DatasetConfigError(
                f"dataset {self.name!r} has no split {split!r} "
                f"(available: {', '.join(sorted(self.video_split))})"
            )
        return list(self.video_split[split])


VIDEO_PLACEHOLDER = "{video}"


def _video_path(template: str, video: str) -> str:
    if VIDEO_PLACEHOLDER in template:
        return template.replace(VIDEO_PLACEHOLDER, video)
    return f"{template}/{video}"


_COMMON_KEYS = ("image_dir", "label_dir", "image_ext", "label_ext")
_IMAGE_KEYS = _COMMON_KEYS + ("split_dir",)
_VIDEO_KEYS = _COMMON_KEYS + ("default_label_interval", "video_split")


def _fail(path, name, msg):
    raise DatasetConfigError(f"{path}: dataset {name!r}: {msg}")


def _str_value(path, name, key, value):
    if not isinstance(value, str) or not value:
        _fail(path, name, f"key {key!r} must be a non-empty string, got {value!r}")
    return value


def _ext_value(path, name, key, value):
    value = _str_value(path, name, key, value)
    if not value.startswith("."):
        _fail(path, name, f"key {key!r} must be a file extension starting with '.', got {value!r}")
    return value


def _parse_entry(path, name, entry):
    if not isinstance(entry, dict):
        _fail(path, name, f"expected a mapping of keys, got {type(entry).__name__}")
    is_video = "video_split" in entry or "default_label_interval" in entry
    allowed = _VIDEO_KEYS if is_video else _IMAGE_KEYS
    unknown = sorted(set(entry) - set(allowed))
    if unknown:
        _fail(path, name, f"unknown key(s) {', '.join(map(repr, unknown))} (allowed: {', '.join(allowed)})")
    missing = [k for k in allowed if k not in entry]
    if missing:
        _fail(path, name, f"missing key(s) {', '.join(map(repr, missing))}")
    common = dict(
        name=name,
        image_dir=_str_value(path, name, "image_dir", entry["image_dir"]),
        label_dir=_str_value(path, name, "label_dir", entry["label_dir"]),
        image_ext=_ext_value(path, name, "image_ext", entry["image_ext"]),
        label_ext=_ext_value(path, name, "label_ext", entry["label_ext"]),
    )
    for key in ("image_dir", "label_dir"):
        template = common[key]
        rest = template.replace(VIDEO_PLACEHOLDER, "")
        if is_video and ("{" in rest or "}" in rest):
            _fail(path, name, f"key {key!r}: the only placeholder allowed is {VIDEO_PLACEHOLDER}, got {template!r}")
        if not is_video and VIDEO_PLACEHOLDER in template:
            _fail(path, name, f"key {key!r}: {VIDEO_PLACEHOLDER} is only for video datasets, got {template!r}")
    if not is_video:
        return ImageDatasetSpec(split_dir=_str_value(path, name, "split_dir", entry["split_dir"]), **common)

    interval = entry["default_label_interval"]
    if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
        _fail(path, name, f"key 'default_label_interval' must be an integer >= 1, got {interval!r}")
    splits = entry["video_split"]
    if not isinstance(splits, dict) or not splits:
        _fail(path, name, "key 'video_split' must be a non-empty mapping {split: [video, ...]}")
    video_split = {}
    for split, videos in splits.items():
        if not isinstance(videos, list) or not videos:
            _fail(path, name, f"key 'video_split.{split}' must be a non-empty list of video names")
        names = []
        for v in videos:
            # VOS videos are numbers: an unquoted YAML entry arrives as int; keep it as text.
            if isinstance(v, bool) or not isinstance(v, (str, int)):
                _fail(path, name, f"key 'video_split.{split}' has a non-name entry {v!r}")
            names.append(str(v))
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            _fail(path, name, f"key 'video_split.{split}' lists video(s) twice: {', '.join(dup)}")
        video_split[str(split)] = names
    return VideoDatasetSpec(default_label_interval=interval, video_split=video_split, **common)


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (the published SegTrackv2 entry had one)."""


def _enclosing_dataset(loader, node) -> str:
    """``"dataset 'X': "`` when ``node`` sits inside top-level entry X, else ``""``."""
    root = getattr(loader, "_root_node", None)
    if root is None or node is root or not isinstance(root, yaml.MappingNode):
        return ""
    for key_node, value_node in root.value:
        if value_node.start_mark.index <= node.start_mark.index < value_node.end_mark.index:
            return f"dataset {key_node.value!r}: "
    return ""


def _construct_mapping(loader, node, deep=False):
    # The first mapping constructed is the document root: remember it to name the dataset.
    if not hasattr(loader, "_root_node"):
        loader._root_node = node
    seen = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise DatasetConfigError(
                f"{loader.name}: {_enclosing_dataset(loader, node)}key {key!r} appears twice "
                f"(line {seen[key] + 1} and line {key_node.start_mark.line + 1})"
            )
        seen[key] = key_node.start_mark.line
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_dataset_config(path: Union[str, Path]) -> Dict[str, Union[ImageDatasetSpec, VideoDatasetSpec]]:
    """Parse and validate a datasets YAML file -> ``{name: spec}``."""
    path = Path(path)
    if not path.is_file():
        raise DatasetConfigError(f"{path}: dataset config file not found")
    try:
        with open(path) as f:
            loader = _UniqueKeyLoader(f)
            loader.name = str(path)
            try:
                raw = loader.get_single_data()
            finally:
                loader.dispose()
    except yaml.YAMLError as e:
        raise DatasetConfigError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(raw, dict) or not raw:
        raise DatasetConfigError(f"{path}: expected a mapping of dataset name -> entry")
    return {str(name): _parse_entry(path, str(name), entry) for name, entry in raw.items()}


def get_dataset_spec(config, name: str, kind: str = None, config_path: Union[str, Path] = "dataset config"):
    """Look up ``name``; ``kind`` ('image' or 'video') checks what the caller needs."""
    if name not in config:
        raise DatasetConfigError(
            f"{config_path}: no dataset {name!r} (available: {', '.join(sorted(config))})"
        )
    spec = config[name]
    if kind is not None and spec.kind != kind:
        raise DatasetConfigError(
            f"{config_path}: dataset {name!r} is an {spec.kind} dataset, expected a {kind} dataset"
        )
    return spec
