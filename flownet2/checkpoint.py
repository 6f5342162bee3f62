"""Strict loading of NVIDIA's Caffe-converted ``FlowNet2_checkpoint.pth.tar``.

The file is read and matched by the project's one checkpoint core
(:func:`libs.utils.checkpoint.load_checkpoint`): on the CPU with ``weights_only=True``
(numpy scalars beside the weights allowed), a bare state dict or a dict with a
``state_dict`` entry, every key required, no unexpected key, no shape mismatch.
"""
from libs.utils.checkpoint import CheckpointError, load_checkpoint

__all__ = ["FlowNet2CheckpointError", "load_flownet2_checkpoint"]


class FlowNet2CheckpointError(CheckpointError):
    """A FlowNet2 checkpoint that is missing, unreadable or does not fit the model."""


def load_flownet2_checkpoint(model, path):
    """Load ``path`` into ``model`` (a FlowNet2) strictly; return the model.

    Raises :class:`FlowNet2CheckpointError` (a one-line message naming the file) when it is
    missing or unreadable, when keys are missing or unexpected, or when shapes disagree.
    """
    try:
        load_checkpoint(model, path, strict=True, allow_channel_extension=False)
    except CheckpointError as e:
        raise FlowNet2CheckpointError(str(e)) from None
    return model
