"""FlowNet2's call interface, which every flow source of the FGPLG keeps: the check of its input.

A flow source takes ``inputs`` (B, 3, 2, H, W): RGB, frame 0 at ``[:, :, 0]``, frame 1 at
``[:, :, 1]``. Each source (FlowNet2; RAFTFlow and OpenCVFlow in ``libs.networks.flow``)
calls :func:`check_flow_input` with its own name, so all refuse anything else with the
same one-line error. It lives here because ``flownet2`` may import only ``libs.utils``
while ``libs.networks`` may import ``flownet2``.
"""
import torch

__all__ = ["check_flow_input"]


def check_flow_input(inputs, name: str, floating: bool = True) -> None:
    """Raise a one-line ValueError naming ``name`` unless ``inputs`` is a non-empty (B, 3, 2, H, W) tensor.

    ``floating``: also require a floating-point dtype (OpenCVFlow converts any dtype to 8 bits).
    """
    if (not torch.is_tensor(inputs) or inputs.dim() != 5 or inputs.shape[1] != 3
            or inputs.shape[2] != 2 or (floating and not inputs.is_floating_point())):
        shape = tuple(inputs.shape) if torch.is_tensor(inputs) else type(inputs).__name__
        kind = "floating-point " if floating else ""
        raise ValueError(f"{name} input must be a {kind}(B, 3, 2, H, W) tensor (RGB, two frames), got {shape}")
    if inputs.shape[0] == 0 or min(inputs.shape[-2:]) < 1:
        raise ValueError(f"{name} input is empty: {tuple(inputs.shape)}")
