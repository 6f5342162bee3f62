"""Deterministic, variance-preserving weights and inputs (verbatim from ``shared/reference/weights.py``).

The numerical fixtures in ``tests/fixtures/reference`` were produced by the published RCRNet
implementation with exactly these functions, so a model whose state-dict keys and shapes
match the manifests and whose forward pass is faithful reproduces them. The benchmark uses
them too: conv weights ``(O, I, k...)`` ~ N(0, 1/(I*prod(k))) keep activations at their
scale through the network (the fresh-training initialisation does not: its logits reach the
thousands), so output differences between execution orders are meaningful.
"""
import torch


def fill_reference_weights(module, seed=0):
    """Overwrite every floating-point tensor of module.state_dict() in sorted-key order."""
    g = torch.Generator().manual_seed(seed)
    state = module.state_dict()
    with torch.no_grad():
        for name in sorted(state):
            t = state[name]
            if not t.is_floating_point():
                continue
            leaf = name.rsplit(".", 1)[-1]
            if leaf == "running_var":
                v = torch.rand(t.shape, generator=g) * 0.5 + 0.75
            elif leaf == "running_mean":
                v = torch.randn(t.shape, generator=g) * 0.1
            elif t.dim() >= 2:
                v = torch.randn(t.shape, generator=g) * (1.0 / t[0].numel()) ** 0.5
            elif leaf == "weight":
                v = torch.randn(t.shape, generator=g) * 0.1 + 1.0
            else:
                v = torch.randn(t.shape, generator=g) * 0.1
            t.copy_(v)
    return module


def reference_clip(frames, batch, height, width, seed=1):
    """A list of `frames` ImageNet-normalised-looking tensors of shape (batch, 3, height, width)."""
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, 3, height, width, generator=g) for _ in range(frames)]
