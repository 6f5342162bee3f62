"""Inference fast paths against the direct forms: BatchNorm folding, the low-resolution decoder conv."""
import copy

import pytest
import torch

from libs.modules import fold_batchnorm
from libs.modules.upsample_conv import upsample_conv3x3, upsample_conv3x3_reference
from libs.networks import ImageModel, VideoModel
from reference_weights import fill_reference_weights, reference_clip


@pytest.mark.parametrize("low, size", [((16, 16), (64, 64)), ((13, 18), (50, 70)), ((5, 7), (17, 27))])
def test_low_resolution_conv_equals_conv_of_the_upsampled_map(low, size):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 6, *low, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, 6, 3, 3, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(4, generator=g, dtype=torch.float64, requires_grad=True)
    fast, direct = upsample_conv3x3(x, w, size, b), upsample_conv3x3_reference(x, w, size, b)
    assert torch.allclose(fast, direct, atol=1e-10)
    grad = torch.randn(direct.shape, generator=g, dtype=torch.float64)
    for a, r in zip(torch.autograd.grad(fast, (x, w, b), grad), torch.autograd.grad(direct, (x, w, b), grad)):
        assert torch.allclose(a, r, atol=1e-9)


def test_low_resolution_decoder_gives_the_same_logits():
    model = fill_reference_weights(ImageModel().eval(), 2)
    x = torch.randn(1, 3, 64, 80)
    with torch.no_grad():
        direct = model(x)
        model.backbone.low_res_decoder = True
        fast = model(x)
    assert torch.allclose(fast, direct, atol=1e-4 * max(1.0, direct.abs().max().item()))


def test_folding_batchnorm_keeps_the_outputs_and_removes_every_batchnorm():
    model = fill_reference_weights(VideoModel().eval(), 6)
    folded = fold_batchnorm(copy.deepcopy(model))
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    clip = reference_clip(frames=2, batch=1, height=48, width=48, seed=4)
    with torch.no_grad():
        for a, b in zip(model(clip), folded(clip)):
            assert torch.allclose(a, b, atol=1e-4 * max(1.0, a.abs().max().item()))
    folded.backbone.low_res_decoder = True  # the folded decoder conv has a bias now
    with torch.no_grad():
        for a, b in zip(model(clip), folded(clip)):
            assert torch.allclose(a, b, atol=1e-4 * max(1.0, a.abs().max().item()))


def test_folding_refuses_training_mode():
    with pytest.raises(ValueError, match="eval"):
        fold_batchnorm(ImageModel().train())
