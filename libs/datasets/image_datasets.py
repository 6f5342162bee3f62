"""Still-image saliency datasets (MSRA-B / HKU-IS layout) for image pretraining.

Layout under ``<data>/<NAME>/``: ids in ``<split_dir>/<split>_id.txt`` (whitespace
separated), images ``<image_dir>/<id><image_ext>``, labels ``<label_dir>/<id><label_ext>``.
Every listed file is checked when the dataset is built.
"""
from __future__ import annotations

from pathlib import Path
from typing import Union

import torch
from torch.utils.data import Dataset

from .frames import dataset_root
from .indexing import DatasetError
from .loading import check_pair_sizes, read_pair
from .transforms import ClipTransform

__all__ = ["ImageDataset"]

PathLike = Union[str, Path]


class ImageDataset(Dataset):
    """Item: ``image (3, S, S)`` normalised; ``label (1, S, S)`` in [0, 1] (with
    ``require_labels``); ``name`` (the id) and ``dataset`` str; ``size`` long (2,) original
    (H, W). ``transform`` is a clip transform applied to a clip of one image.
    """

    def __init__(self, data_root: PathLike, spec, split: str, transform=None, require_labels: bool = True):
        if getattr(spec, "kind", None) != "image":
            raise DatasetError(f"dataset {getattr(spec, 'name', spec)!r} is not an image dataset")
        root = dataset_root(data_root, spec)
        split_dir = root / spec.split_dir
        id_file = split_dir / f"{split}_id.txt"
        if not id_file.is_file():
            found = sorted(p.name[: -len("_id.txt")] for p in split_dir.glob("*_id.txt")) if split_dir.is_dir() else []
            raise DatasetError(
                f"{id_file}: split file not found (available splits of {spec.name!r}: {', '.join(found) or 'none'})"
            )
        ids = id_file.read_text().split()
        if not ids:
            raise DatasetError(f"{id_file}: no image ids listed")
        self.name = spec.name
        self.transform = transform if transform is not None else ClipTransform(None)
        self.require_labels = require_labels
        self.items = []
        for image_id in ids:
            image = root / spec.image_dir / f"{image_id}{spec.image_ext}"
            label = root / spec.label_dir / f"{image_id}{spec.label_ext}"
            if not image.is_file():
                raise DatasetError(f"{image}: image file not found (id {image_id!r} listed in {id_file})")
            if require_labels and not label.is_file():
                raise DatasetError(f"{label}: label file not found (id {image_id!r} listed in {id_file})")
            self.items.append((image_id, image, label if require_labels else None))

    def __len__(self) -> int:
        return len(self.items)

    def validate(self) -> int:
        """Check every label's size against its image from the file headers."""
        return check_pair_sizes((image, label) for _, image, label in self.items)

    def __getitem__(self, index: int) -> dict:
        image_id, image_path, label_path = self.items[index]
        image, label = read_pair(image_path, label_path)
        size = image.shape[1:]
        images, labels = self.transform(image[None], None if label is None else label[None])
        sample = {
            "image": images[0],
            "name": image_id,
            "dataset": self.name,
            "size": torch.tensor(list(size), dtype=torch.long),
        }
        if labels is not None:
            sample["label"] = labels[0]
        return sample
