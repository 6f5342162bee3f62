"""Strict loading of NVIDIA's Caffe-converted ``FlowNet2_checkpoint.pth.tar``."""
import pickle
from pathlib import Path

import torch

from libs.utils.checkpoint import safe_torch_load

__all__ = ["FlowNet2CheckpointError", "load_flownet2_checkpoint"]


class FlowNet2CheckpointError(ValueError):
    """A FlowNet2 checkpoint that is missing, unreadable or does not fit the model."""


def _summary(names, limit=4):
    names = sorted(names)
    more = f", ... (+{len(names) - limit})" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def load_flownet2_checkpoint(model, path):
    """Load ``path`` into ``model`` (a FlowNet2) strictly; return the model.

    ``path`` holds either ``{'state_dict': {...}, ...}`` (NVIDIA's format) or a bare state
    dict. Read on the CPU with ``weights_only=True``. Raises FlowNet2CheckpointError (a
    ValueError) naming the file when it is missing or unreadable, when keys are missing
    or unexpected, or when shapes disagree.
    """
    path = Path(path)
    if not path.is_file():
        raise FlowNet2CheckpointError(f"{path}: FlowNet2 checkpoint not found")
    try:
        obj = safe_torch_load(path)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise FlowNet2CheckpointError(f"{path}: not a loadable FlowNet2 checkpoint ({first})") from None
    state = obj.get("state_dict", obj) if isinstance(obj, dict) else None
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise FlowNet2CheckpointError(f"{path}: expected a state dict or a dict with a "
                                      f"'state_dict' entry of tensors")
    expected = model.state_dict()
    missing = expected.keys() - state.keys()
    unexpected = state.keys() - expected.keys()
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing key(s): {_summary(missing)}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected key(s): {_summary(unexpected)}")
        raise FlowNet2CheckpointError(f"{path}: does not match FlowNet2: " + "; ".join(parts))
    wrong = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in expected.items()
             if state[k].shape != v.shape]
    if wrong:
        raise FlowNet2CheckpointError(f"{path}: {len(wrong)} shape mismatch(es) with FlowNet2 "
                                      f"(checkpoint vs model): {_summary(wrong, 3)}")
    model.load_state_dict(state, strict=True)
    return model
