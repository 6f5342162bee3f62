"""Checkpoints: the published formats in, atomic files out.

Reading accepts what the published code and its users produced: a bare state dict, a
dict with a ``state_dict`` entry (also ``model``), keys with the ``module.`` prefix of
``DataParallel``/``DistributedDataParallel``. Loading into a model reports missing and
unexpected keys as the published loader did, but refuses (one line naming the file)
when a shape disagrees or when nothing of the model matches. The two intended partial
loads are supported: image model -> video model (NER keys missing) and the 3 -> 7 input
channel extension of ``conv1`` for FGPLG (:func:`extend_input_channels`).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Tuple, Union

import torch
from torch import nn

from .errors import UserError
from .io import torch_save

__all__ = [
    "CheckpointError",
    "LoadReport",
    "read_checkpoint",
    "safe_torch_load",
    "read_state_dict",
    "shapes_of",
    "describe_mismatch",
    "load_checkpoint",
    "extend_input_channels",
    "init_from_imagenet",
    "unwrap_model",
    "save_model",
    "save_training_state",
    "load_training_state",
]

log = logging.getLogger(__name__)
PathLike = Union[str, Path]


class CheckpointError(UserError, ValueError):
    """A checkpoint that is missing, unreadable, or does not fit the model."""


@dataclass
class LoadReport:
    """What :func:`load_checkpoint` did; ``summary()`` is the line the scripts print."""

    source: str
    loaded: List[str] = field(default_factory=list)
    missing: List[str] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)
    adapted: List[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{self.source}: loaded {len(self.loaded)} tensors"]
        if self.adapted:
            parts.append(f"adapted {', '.join(self.adapted)}")
        if self.missing:
            parts.append(f"{len(self.missing)} missing (kept fresh): {_abbreviate(self.missing)}")
        if self.unexpected:
            parts.append(f"{len(self.unexpected)} unexpected (ignored): {_abbreviate(self.unexpected)}")
        return "; ".join(parts)


def _abbreviate(keys, limit=4):
    """Key list shortened to its first few module prefixes."""
    prefixes = []
    for k in keys:
        p = k.rsplit(".", 1)[0]
        if p not in prefixes:
            prefixes.append(p)
    shown = ", ".join(prefixes[:limit])
    return shown + (f", ... ({len(prefixes) - limit} more modules)" if len(prefixes) > limit else "")


def _strip_prefix(state: Dict[str, torch.Tensor], prefix="module.") -> Dict[str, torch.Tensor]:
    if state and all(k.startswith(prefix) for k in state):
        return {k[len(prefix):]: v for k, v in state.items()}
    return state


def _numpy_globals():
    """numpy scalar/dtype reconstructors: old checkpoints store e.g. ``best_EPE`` as a numpy
    float, which ``weights_only`` loading refuses although it cannot run code."""
    import numpy as np

    try:
        from numpy._core.multiarray import scalar
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import scalar
    dtypes = [type(np.dtype(t)) for t in (np.float16, np.float32, np.float64, np.int32, np.int64, np.bool_)]
    return [scalar, np.dtype, *dtypes]


def safe_torch_load(path: PathLike):
    """``torch.load`` on the CPU with ``weights_only=True`` (no arbitrary code), numpy scalars allowed."""
    with torch.serialization.safe_globals(_numpy_globals()):
        return torch.load(path, map_location="cpu", weights_only=True)


def read_checkpoint(path: PathLike):
    """A checkpoint file -> ``(state dict on the CPU, metadata)``.

    ``metadata`` holds the file's other top-level entries when the weights sit under
    ``state_dict`` (e.g. ``epoch``, FGPLG's ``flow``); it is empty for a bare state dict.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    try:
        obj = safe_torch_load(path)
    except Exception as e:  # torch raises many types (pickle, zip, unpickler) for a bad file
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({first})") from None
    meta = {}
    if isinstance(obj, dict):
        for key in ("state_dict", "model"):
            if key in obj and isinstance(obj[key], dict):
                meta = {k: v for k, v in obj.items() if k != key}
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{path}: expected a state dict (or a dict with a 'state_dict' entry) of tensors")
    return _strip_prefix(dict(obj)), meta


def read_state_dict(path: PathLike) -> Dict[str, torch.Tensor]:
    """A checkpoint file -> a plain ``{key: tensor}`` state dict on the CPU."""
    return read_checkpoint(path)[0]


def shapes_of(state: Mapping[str, torch.Tensor]) -> Dict[str, Tuple[int, ...]]:
    """``{key: shape}`` of a state dict: what a strict load must find."""
    return {k: tuple(v.shape) for k, v in state.items()}


def describe_mismatch(found: Mapping[str, Tuple[int, ...]], want: Mapping[str, Tuple[int, ...]]) -> str:
    """What differs between a file's ``{key: shape}`` and a model's, in a few words; '' when nothing.

    E.g. ``1 missing key (e.g. 'a.bias'); 2 of another shape (e.g. 'a.weight' (2, 3), expected (1, 3))``.
    """
    missing = [k for k in want if k not in found]
    unexpected = [k for k in found if k not in want]
    shapes = [k for k in want if k in found and tuple(found[k]) != tuple(want[k])]
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing key{'s' * (len(missing) > 1)} (e.g. {missing[0]!r})")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected key{'s' * (len(unexpected) > 1)} (e.g. {unexpected[0]!r})")
    if shapes:
        k = shapes[0]
        parts.append(f"{len(shapes)} of another shape (e.g. {k!r} {tuple(found[k])}, expected {tuple(want[k])})")
    return "; ".join(parts)


def extend_input_channels(weight: torch.Tensor, fresh: torch.Tensor) -> torch.Tensor:
    """Checkpoint conv weight ``(O, c, k, k)`` into a wider fresh one ``(O, C, k, k)``, c < C.

    Channels ``0..c-1`` come from the checkpoint, the rest keep their fresh values: how
    FGPLG's 7-channel ``conv1`` starts from the 3-channel image model.
    """
    out = fresh.detach().clone()
    out[:, : weight.shape[1]] = weight.to(out.dtype)
    return out


def _is_conv1_extension(key, ckpt, target):
    return (
        (key == "conv1.weight" or key.endswith("resnet.conv1.weight"))
        and ckpt.dim() == 4
        and ckpt.shape[0] == target.shape[0]
        and ckpt.shape[2:] == target.shape[2:]
        and ckpt.shape[1] < target.shape[1]
    )


def load_checkpoint(
    model: nn.Module,
    source: Union[PathLike, Dict[str, torch.Tensor]],
    strict: bool = False,
    optional: Optional[Callable[[str], bool]] = None,
    allow_channel_extension: bool = True,
) -> LoadReport:
    """Load ``source`` (a path or a state dict) into ``model``.

    ``strict=True`` requires every key of the model (except those for which
    ``optional(key)`` is true) and no unexpected key. Shape disagreements and checkpoints
    sharing no key with the model are always refused.
    """
    name = str(source) if not isinstance(source, dict) else "state dict"
    state = read_state_dict(source) if not isinstance(source, dict) else _strip_prefix(dict(source))
    model = unwrap_model(model)
    target = model.state_dict()
    report = LoadReport(source=name)
    merged = {}
    bad_shapes = []
    for key, value in state.items():
        if key not in target:
            report.unexpected.append(key)
            continue
        want = target[key]
        if value.shape == want.shape:
            merged[key] = value
        elif allow_channel_extension and _is_conv1_extension(key, value, want):
            merged[key] = extend_input_channels(value, want)
            report.adapted.append(f"{key} {tuple(value.shape[1:2])}->{tuple(want.shape[1:2])} input channels")
        else:
            bad_shapes.append(f"{key} {tuple(value.shape)} vs model {tuple(want.shape)}")
        report.loaded.append(key)
    if bad_shapes:
        raise CheckpointError(
            f"{name}: shapes do not match the {type(model).__name__} "
            f"({len(bad_shapes)} tensors, e.g. {bad_shapes[0]}); is this a checkpoint of another model?"
        )
    if not merged:
        raise CheckpointError(
            f"{name}: no key matches the {type(model).__name__} "
            f"(checkpoint keys look like {next(iter(state))!r}); is this a checkpoint of another model?"
        )
    report.missing = [k for k in target if k not in merged]
    if strict:
        missing = [k for k in report.missing if not (optional and optional(k))]
        if missing or report.unexpected:
            detail = []
            if missing:
                detail.append(f"{len(missing)} missing, e.g. {missing[0]!r}")
            if report.unexpected:
                detail.append(f"{len(report.unexpected)} unexpected, e.g. {report.unexpected[0]!r}")
            raise CheckpointError(
                f"{name}: does not match the {type(model).__name__} ({'; '.join(detail)}); "
                f"is this a checkpoint of another model?"
            )
    target.update(merged)
    model.load_state_dict(target, strict=True)
    if report.adapted:
        log.info("%s: %s", name, "; ".join(report.adapted))
    return report


def _find_resnet(model: nn.Module) -> nn.Module:
    model = unwrap_model(model)
    for path in ("backbone.resnet", "resnet"):
        module = model
        for part in path.split("."):
            module = getattr(module, part, None)
            if module is None:
                break
        if module is not None:
            return module
    raise CheckpointError(f"{type(model).__name__} has no ResNet backbone to initialise from ImageNet")


def init_from_imagenet(model: nn.Module, path: PathLike) -> LoadReport:
    """Initialise the dilated ResNet-50 from a torchvision ``resnet50`` checkpoint file.

    torchvision's keys (``conv1.weight``, ``layer1.0.bn1.weight``, ..., ``fc.bias``) line up
    with ``backbone.resnet.*``. Every ResNet weight must be present; BatchNorm's
    ``num_batches_tracked`` (absent from older torchvision files) may be missing. The other
    layers keep their fresh initialisation (Kaiming-normal fan_out convs, BN weight 1,
    biases 0.001; see :func:`libs.modules.init_fresh_layers`).
    """
    return load_checkpoint(
        _find_resnet(model), path, strict=True, optional=lambda key: key.endswith("num_batches_tracked")
    )


def unwrap_model(model: nn.Module) -> nn.Module:
    """The model inside ``DataParallel``/``DistributedDataParallel``/``torch.compile`` wrappers."""
    while True:
        if isinstance(model, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
            model = model.module
        elif hasattr(model, "_orig_mod"):
            model = model._orig_mod
        else:
            return model


def save_model(model: nn.Module, path: PathLike) -> None:
    """Bare state dict (the published format, no ``module.`` prefix), written atomically."""
    torch_save(unwrap_model(model).state_dict(), path)


def save_training_state(path: PathLike, model, optimizer, epoch: int, best_score: float, args: dict,
                        keep: Optional[Callable[[str], bool]] = None, **extra):
    """Everything ``--resume`` needs; ``args`` as a plain dict so ``weights_only`` loading works.

    ``epoch`` is the next epoch to run. ``keep(key)`` selects the weights stored (FGPLG
    leaves out its frozen flow network, which ``extra`` points to instead).
    """
    weights = unwrap_model(model).state_dict()
    state = {
        "state_dict": {k: v for k, v in weights.items() if keep is None or keep(k)},
        "optimizer": optimizer.state_dict(),
        "epoch": int(epoch),
        "best_score": float(best_score),
        "args": {k: v for k, v in dict(args).items() if isinstance(v, (str, int, float, bool, list, type(None)))},
    }
    state.update(extra)
    torch_save(state, path)


def load_training_state(path: PathLike) -> dict:
    """A file written by :func:`save_training_state`; a clear error for anything else."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: resume file not found")
    try:
        state = safe_torch_load(path)
    except Exception as e:  # see read_checkpoint
        raise CheckpointError(f"{path}: not a readable training state ({type(e).__name__})") from None
    needed = ("state_dict", "optimizer", "epoch", "best_score")
    if not isinstance(state, dict) or any(k not in state for k in needed):
        raise CheckpointError(
            f"{path}: not a training state (expected keys {', '.join(needed)}; "
            f"a model-only checkpoint goes to --checkpoint, not --resume)"
        )
    return state
