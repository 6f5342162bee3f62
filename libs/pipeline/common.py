"""Pieces every stage shares: flag groups (published names and defaults), data loaders,
model loading with the right strictness, and tensor helpers for clips.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import List, Optional

import torch
from torch.utils.data import DataLoader, DistributedSampler

from libs.datasets import load_dataset_config
from libs.utils.checkpoint import LoadReport, load_checkpoint
from libs.utils.cli import UsageError, nonnegative_int, parse_sets, positive_float, positive_int
from libs.utils.distributed import DistributedContext

__all__ = [
    "add_data_args",
    "add_model_args",
    "add_runtime_args",
    "add_training_args",
    "require_file",
    "load_config",
    "make_loader",
    "load_model_weights",
    "clip_from_batch",
    "set_aspp_dropout",
]

DEFAULT_TRAIN_SETS = "DAVIS2016:train,FBMS:train,VOS:train"
DEFAULT_VAL_SETS = "VOS:val"


def add_data_args(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("data")
    g.add_argument("--data", default="data/datasets", metavar="DIR",
                   help="data root holding one folder per dataset (default: %(default)s)")
    g.add_argument("--dataset-config", default="config/datasets.yaml", metavar="YAML",
                   help="dataset layouts and splits (default: %(default)s)")


def add_model_args(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("model")
    g.add_argument("--size", type=positive_int, default=448, metavar="S",
                   help="frames are resized to S x S (default: %(default)s)")
    g.add_argument("--os", type=int, choices=(8, 16), default=16, dest="os",
                   help="output stride of the dilated ResNet-50 (default: %(default)s)")


def add_runtime_args(parser: argparse.ArgumentParser, batch_size: int = 1, workers: int = 4,
                     channels_last: bool = False) -> None:
    g = parser.add_argument_group("runtime")
    g.add_argument("-j", "--num_workers", type=nonnegative_int, default=workers, metavar="N",
                   help="data loading worker processes (default: %(default)s)")
    g.add_argument("--batch-size", type=positive_int, default=batch_size, metavar="B",
                   help="clips (or images) per batch, per process (default: %(default)s)")
    g.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: %(default)s)")
    g.add_argument("--amp", action="store_true",
                   help="mixed precision: bf16 autocast (fp16 on GPUs without bf16) (default: off)")
    g.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=channels_last,
                   help="channels_last memory format for the convolutions (default: %(default)s)")
    g.add_argument("--seed", type=int, default=0, help="random seed; rank r uses seed + r (default: %(default)s)")


def add_training_args(parser: argparse.ArgumentParser, *, checkpoint: str, save_folder: str, lr: float,
                      epochs: int, train_sets: str = DEFAULT_TRAIN_SETS, val_sets: str = DEFAULT_VAL_SETS,
                      backup_epochs: int = 1, prefix: str = "<prefix>") -> None:
    g = parser.add_argument_group("training")
    g.add_argument("--checkpoint", default=checkpoint, metavar="PTH",
                   help="initial weights; 'none' starts from a fresh model (default: %(default)s)")
    g.add_argument("--save-folder", default=save_folder, metavar="DIR",
                   help="where checkpoints are written (default: %(default)s)")
    g.add_argument("--resume", metavar="STATE",
                   help=f"continue an interrupted run from its {prefix}_last_state.pth (model, optimizer, "
                        "next epoch, best score); overrides --checkpoint and --start-epoch")
    g.add_argument("--epochs", type=nonnegative_int, default=epochs,
                   help="last epoch: epochs --start-epoch..EPOCHS run, inclusive, as published "
                        "(the default runs %(default)s + 1 epochs) (default: %(default)s)")
    g.add_argument("--start-epoch", type=nonnegative_int, default=0,
                   help="number of the first epoch (default: %(default)s)")
    g.add_argument("--backup-epochs", type=nonnegative_int, default=backup_epochs,
                   help=f"also save {prefix}_epoch-N.pth after every epoch N > 0 divisible by this; "
                        f"0 disables (default: %(default)s)")
    g.add_argument("--eval-first", action="store_true", help="validate once before training (default: off)")
    g.add_argument("--lr", "--learning-rate", type=positive_float, default=lr, help="Adam learning rate (default: %(default)s)")
    g.add_argument("--train-sets", default=train_sets, metavar="NAME:SPLIT,...",
                   help="datasets and splits to train on (default: %(default)s)")
    g.add_argument("--val-sets", default=val_sets, metavar="NAME:SPLIT,...",
                   help="datasets and splits to validate on (default: %(default)s)")
    g.add_argument("--max-iters", type=positive_int, default=None, metavar="N",
                   help="stop each epoch after N iterations, for quick tries (default: the whole epoch)")
    g.add_argument("--val-max-items", type=positive_int, default=None, metavar="N",
                   help="validate on the first N clips/items only (default: all)")
    g.add_argument("--aspp-dropout", type=float, default=0.1, metavar="P",
                   help="Dropout2d probability after ASPP during training (default: %(default)s, as published)")


def require_file(path: Optional[str], flag: str, what: str) -> Path:
    if not path:
        raise UsageError(f"{flag}: a {what} file is required")
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"{p}: {what} file not found ({flag})")
    return p


def load_config(args) -> dict:
    return load_dataset_config(args.dataset_config)


def sets_from(args, attr: str, config=None) -> List[tuple]:
    """``NAME:SPLIT,...`` of flag ``--<attr>``, checked against ``config`` when given."""
    flag = "--" + attr.replace("_", "-")
    sets = parse_sets(getattr(args, attr), flag)
    for name, split in sets if config is not None else ():
        if name not in config:
            raise UsageError(f"{flag}: no dataset {name!r} in {args.dataset_config} "
                             f"(available: {', '.join(sorted(config))})")
        videos = getattr(config[name], "video_split", None)
        if videos is not None and split not in videos:
            raise UsageError(f"{flag}: dataset {name!r} has no split {split!r} in {args.dataset_config} "
                             f"(available: {', '.join(sorted(videos))})")
    return sets


def _seed_worker(worker_id: int) -> None:
    import random

    import numpy as np

    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def make_loader(dataset, *, batch_size: int, shuffle: bool, num_workers: int, ctx: DistributedContext,
                seed: int = 0, drop_last: bool = False, distributed: Optional[bool] = None) -> DataLoader:
    """A DataLoader with per-rank sharding under torchrun, pinned memory on GPU, seeded workers.

    Shuffling always goes through a ``DistributedSampler`` (one replica in a single
    process): its order depends only on ``seed`` and the epoch (``fit`` calls
    ``set_epoch``), so a resumed run sees the same data order as an uninterrupted one.
    """
    sampler = None
    sharded = ctx.distributed if distributed is None else distributed
    if shuffle or sharded:
        replicas, rank = (ctx.world_size, ctx.rank) if sharded else (1, 0)
        sampler = DistributedSampler(dataset, num_replicas=replicas, rank=rank, shuffle=shuffle,
                                     seed=seed, drop_last=drop_last)
        shuffle = False
    generator = torch.Generator().manual_seed(seed + ctx.rank)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        sampler=sampler,
        num_workers=num_workers,
        pin_memory=ctx.device.type == "cuda",
        drop_last=drop_last,
        persistent_workers=num_workers > 0,
        worker_init_fn=_seed_worker,
        generator=generator,
    )


def subset(dataset, n: Optional[int]):
    """The first ``n`` items (all when ``n`` is None)."""
    if n is None or n >= len(dataset):
        return dataset
    return torch.utils.data.Subset(dataset, range(n))


def load_model_weights(model, path: str, *, strict: bool, optional=None, log=print) -> Optional[LoadReport]:
    """Load ``path`` unless it is 'none'; print the published-style report line."""
    if path is None or str(path).lower() == "none":
        log("starting from freshly initialised weights (--checkpoint none)")
        return None
    report = load_checkpoint(model, path, strict=strict, optional=optional)
    log(report.summary())
    return report


def set_aspp_dropout(model, p: float) -> None:
    """Set the ASPP ``fire.dropout`` probability of every RCRNet inside ``model``."""
    if not 0.0 <= p < 1.0:
        raise UsageError(f"--aspp-dropout must be in [0, 1), got {p}")
    for module in model.modules():
        if hasattr(module, "aspp") and hasattr(module.aspp, "fire"):
            module.aspp.fire.dropout.p = p


def clip_from_batch(images: torch.Tensor, device, channels_last: bool = False) -> List[torch.Tensor]:
    """``(B, T, 3, S, S)`` -> list of T ``(B, 3, S, S)`` on ``device``."""
    images = images.to(device, non_blocking=True)
    frames = list(images.unbind(1))
    if channels_last:
        frames = [f.contiguous(memory_format=torch.channels_last) for f in frames]
    return frames
