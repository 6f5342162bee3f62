"""Compiled ops against the pure path: the per-process self-check of 'auto' and its tools.

Each op module registers one tiny case (its inputs and its call). ``self_check`` runs it
forward and backward through the compiled ops in float32 on a device and compares with
the pure path in float64 on the same device (so TF32 matmuls cannot blur the reference);
``compare`` is the same measurement for the selftest's larger cases.
"""
from __future__ import annotations

import dataclasses

import torch

__all__ = ["OPS", "TOLERANCE", "compare", "register_case", "self_check"]

OPS = ("correlation", "resample2d", "channelnorm")
# Largest error allowed, relative to max(1, largest reference value), per compiled dtype.
TOLERANCE = {torch.float32: 1e-4, torch.float64: 1e-10, torch.float16: 2e-2, torch.bfloat16: 1e-1}


@dataclasses.dataclass(frozen=True)
class Case:
    make_inputs: object  # (torch.Generator) -> list of float64 CPU tensors
    call: object  # (*tensors, backend=...) -> tensor


_CASES = {}


def register_case(op, make_inputs, call):
    """Record ``op``'s self-check case (done by each op module at import)."""
    _CASES[op] = Case(make_inputs, call)


@dataclasses.dataclass
class Comparison:
    forward: float  # max |compiled - pure| / max(1, max |pure|) of the output
    backward: float  # the same over every input gradient, worst one

    def worst(self):
        return max(self.forward, self.backward)


def _run(call, inputs, backend, grad_out_seed):
    xs = [t.detach().clone().requires_grad_() for t in inputs]
    out = call(*xs, backend=backend)
    g = torch.randn(out.shape, generator=torch.Generator().manual_seed(grad_out_seed),
                    dtype=torch.float64).to(device=out.device, dtype=out.dtype)
    out.backward(g)
    return out.detach(), [x.grad for x in xs]


def _rel_err(got, ref):
    ref = ref.double()
    return ((got.double() - ref).abs().max() / ref.abs().max().clamp(min=1.0)).item()


def compare(call, inputs, device, backend="compiled", dtype=torch.float32):
    """Forward and backward errors of ``call`` under ``backend`` in ``dtype`` on ``device``.

    ``inputs``: float64 CPU tensors; the reference is the pure path on them in float64 on
    ``device``. Runs with gradients on and autocast off whatever the caller's context.
    """
    # The reference sees the same (rounded) values as the compiled call, in float64.
    inputs = [t.to(dtype) for t in inputs]
    with torch.inference_mode(False), torch.enable_grad(), \
            torch.autocast(torch.device(device).type, enabled=False):
        ref_out, ref_grads = _run(call, [t.to(device, torch.float64) for t in inputs], "pure", 1)
        out, grads = _run(call, [t.to(device) for t in inputs], backend, 1)
    if out.shape != ref_out.shape or out.dtype != dtype:
        raise AssertionError(f"output {out.dtype} {tuple(out.shape)}, expected "
                             f"{dtype} {tuple(ref_out.shape)}")
    back = max(_rel_err(g, r) for g, r in zip(grads, ref_grads, strict=True))
    return Comparison(_rel_err(out, ref_out), back)


def self_check(op, device):
    """None when the compiled ``op`` matches the pure path on ``device``, else why not."""
    c = _CASES[op]
    inputs = c.make_inputs(torch.Generator().manual_seed(0))
    try:
        result = compare(c.call, inputs, device)
    except (RuntimeError, AssertionError) as e:
        return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    tol = TOLERANCE[torch.float32]
    if not result.worst() <= tol:  # also catches NaN
        return (f"max relative error forward {result.forward:.2e}, backward "
                f"{result.backward:.2e} > {tol:.0e}")
    return None
