"""The self-contained pseudo-label folder ``<root>/<m>_<l>/`` and its manifest.

Layout (what ``generate_pseudo_labels.py`` writes and ``train.py --pseudo-label-folder
<root>/<m>_<l>`` reads)::

    <root>/<m>_<l>/pseudo_labels.json            manifest: l, m, dataset entries, files written
    <root>/<m>_<l>/<DATASET>/<video>/<stem><label_ext>   kept GT, copied byte for byte
    <root>/<m>_<l>/<DATASET>/<video>/<stem>.png          pseudo-labels (8-bit, frame size)

With m = 0 the folder holds the kept GT alone: the paper's baseline trained on 20% of the
annotations (l = 5). Training reads exactly the label files found in the folder (the
published ``_reset_files``), never the dataset's own GT.

The manifest lets generation refuse a folder made with other l/m or another dataset
config, and lists every file generation wrote, so that it never deletes anything else.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, Iterable, Optional, Union

from libs.utils.io import save_json

from .indexing import DatasetError

__all__ = [
    "MANIFEST",
    "PSEUDO_EXT",
    "folder_name",
    "video_label_folder",
    "pseudo_label_path",
    "dataset_entry",
    "read_manifest",
    "check_generation_target",
    "check_training_folder",
    "Manifest",
]

PathLike = Union[str, Path]
MANIFEST = "pseudo_labels.json"
PSEUDO_EXT = ".png"
FORMAT = 1


def folder_name(m: int, l: int) -> str:
    """``"<m>_<l>"``, the published name of the folder for ``m`` pseudo-labels per gap, budget ``l``."""
    return f"{m}_{l}"


def video_label_folder(folder: PathLike, dataset: str, video: str) -> Path:
    return Path(folder) / dataset / video


def pseudo_label_path(folder: PathLike, dataset: str, video: str, stem: str) -> Path:
    """``<folder>/<DATASET>/<video>/<stem>.png``."""
    return video_label_folder(folder, dataset, video) / f"{stem}{PSEUDO_EXT}"


def dataset_entry(spec) -> Dict[str, object]:
    """What of a dataset's config entry decides which labels go where (its video lists do not)."""
    return {"image_dir": spec.image_dir, "label_dir": spec.label_dir, "image_ext": spec.image_ext,
            "label_ext": spec.label_ext, "default_label_interval": spec.default_label_interval}


@dataclass
class Manifest:
    """The content of ``pseudo_labels.json``.

    ``datasets[NAME] = {"entry": dataset_entry(spec), "videos": {video: {"kept": [file
    names], "pseudo": [file names]}}}``; ``complete`` is False while generation runs.
    """

    label_interval: int
    frame_between_label_num: int
    datasets: Dict[str, dict]
    complete: bool = False
    format: int = FORMAT

    def files(self, dataset: str, video: str) -> list:
        entry = self.datasets.get(dataset, {}).get("videos", {}).get(video, {})
        return list(entry.get("kept", [])) + list(entry.get("pseudo", []))

    def save(self, folder: PathLike) -> None:
        save_json(asdict(self), Path(folder) / MANIFEST)


def read_manifest(folder: PathLike) -> Optional[Manifest]:
    """The folder's manifest, ``None`` when it has none; a clear error when it is damaged."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return None
    try:
        raw = json.loads(path.read_text())
        manifest = Manifest(**raw)
        int(manifest.label_interval), int(manifest.frame_between_label_num), dict(manifest.datasets)
    except (OSError, ValueError, TypeError) as e:
        raise DatasetError(f"{path}: not a pseudo-label manifest ({e})") from None
    return manifest


def _refuse(folder: Path, why: str) -> DatasetError:
    return DatasetError(f"{folder}: {why}; choose another --pseudo-label-folder")


def check_generation_target(root: PathLike, l: int, m: int, specs: Iterable) -> Manifest:
    """The manifest to extend for writing into ``<root>/<m>_<l>`` (a fresh one if new).

    Refuses a ``root`` that is itself a pseudo-label folder (the published command passes
    the root), a non-empty folder that generation did not make, and a folder made with
    other l/m or with another config entry for one of ``specs``.
    """
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise DatasetError(f"{root}: exists and is not a folder (--pseudo-label-folder)")
    if (root / MANIFEST).is_file():
        raise DatasetError(f"{root}: is a pseudo-label folder itself; --pseudo-label-folder takes its parent "
                           f"(the root), and generation writes into <root>/{folder_name(m, l)}")
    folder = root / folder_name(m, l)
    if folder.exists() and not folder.is_dir():
        raise DatasetError(f"{folder}: exists and is not a folder")
    manifest = read_manifest(folder) if folder.is_dir() else None
    if manifest is None:
        if folder.is_dir() and any(folder.iterdir()):
            raise _refuse(folder, f"not empty and has no {MANIFEST} (it was not made by generate_pseudo_labels.py)")
        return Manifest(label_interval=l, frame_between_label_num=m, datasets={})
    if (manifest.label_interval, manifest.frame_between_label_num) != (l, m):
        raise _refuse(folder, f"made with --label_interval {manifest.label_interval} --frame_between_label_num "
                              f"{manifest.frame_between_label_num}, not {l} and {m}")
    for spec in specs:
        made = manifest.datasets.get(spec.name, {}).get("entry")
        if made is not None and made != dataset_entry(spec):
            raise _refuse(folder, f"dataset {spec.name!r} was generated with another dataset config entry "
                                  f"({made}, now {dataset_entry(spec)})")
    return manifest


def check_training_folder(folder: PathLike, specs: Iterable) -> Optional[Manifest]:
    """Check ``train.py --pseudo-label-folder``: a folder holding ``<DATASET>/`` per training set.

    Returns its manifest (``None`` for a folder made by other means, which is allowed).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: pseudo-label folder not found (--pseudo-label-folder; the published "
                           f"command passes <root>/<m>_<l>, e.g. data/pseudo-labels/1_5)")
    manifest = read_manifest(folder)
    if manifest is None and any(p.name.count("_") == 1 and (p / MANIFEST).is_file() for p in folder.iterdir()
                                if p.is_dir()):
        raise DatasetError(f"{folder}: holds pseudo-label folders <m>_<l>; pass one of them "
                           f"(e.g. {next(p for p in sorted(folder.iterdir()) if (p / MANIFEST).is_file())})")
    if manifest is not None and not manifest.complete:
        raise DatasetError(f"{folder}: generation into this folder did not finish (see {MANIFEST}); "
                           f"run generate_pseudo_labels.py again")
    for spec in specs:
        if not (folder / spec.name).is_dir():
            raise DatasetError(f"{folder / spec.name}: no labels of dataset {spec.name!r} in the pseudo-label "
                               f"folder (generate_pseudo_labels.py --sets {spec.name}:<split>)")
        made = manifest.datasets.get(spec.name, {}).get("entry") if manifest else None
        if made is not None and made != dataset_entry(spec):
            raise DatasetError(f"{folder}: dataset {spec.name!r} was generated with another dataset config "
                               f"entry ({made}, now {dataset_entry(spec)})")
    return manifest
