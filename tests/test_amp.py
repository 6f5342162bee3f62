"""Mixed precision on CPU (bf16 autocast via ``autocast_context``): training steps and inference maps.

Tiny inputs (2 frames of 32x32) with the reference fixtures' deterministic weights
(variance-preserving, so activations keep their scale). Measured on CPU with those weights
and inputs: bf16 maps differ from fp32 by at most 0.0023 (2/255 = 0.0078), 100% of pixels
within 1/255; one bf16 Adam step (lr 1e-5, no dropout) takes the loss from 1.420 to 1.405
(two more: 1.395, 1.389).
"""
import torch
from reference_weights import fill_reference_weights, reference_clip

from libs.networks import VideoModel
from libs.pipeline.common import set_aspp_dropout
from libs.pipeline.fit import build_adam, training_step
from libs.pipeline.inference import predict_clip
from libs.pipeline.video_training import video_loss
from libs.utils.precision import autocast_context

CPU = torch.device("cpu")


def _model(seed=0):
    model = VideoModel()
    fill_reference_weights(model, seed)
    return model


def test_autocast_context_picks_bf16_on_cpu_and_nothing_when_disabled():
    x = torch.randn(2, 4)
    with autocast_context(CPU, True):
        assert (x @ x.T).dtype == torch.bfloat16
    with autocast_context(CPU, False):
        assert (x @ x.T).dtype == torch.float32


def test_a_bf16_training_step_reduces_the_loss_on_a_fixed_batch():
    model = _model()
    set_aspp_dropout(model, 0.0)  # the same batch must give the same loss but for the update
    model.train()  # BatchNorm stays frozen
    for name, p in model.named_parameters():
        if name.startswith("backbone.resnet.fc."):
            p.requires_grad_(False)
    g = torch.Generator().manual_seed(1)
    labels = (torch.rand(1, 2, 1, 32, 32, generator=g) > 0.5).float()
    batch = {"clip": reference_clip(2, 1, 32, 32, seed=1), "labels": labels}
    dtypes = []

    def step(m, b):
        preds = m(b["clip"])
        dtypes.append(preds[0].dtype)
        return video_loss(preds, b["labels"])

    optimizer = build_adam(model, 1e-5)
    before = training_step(model, optimizer, step, batch, device=CPU, amp=True).item()
    with torch.no_grad(), autocast_context(CPU, True):
        after = step(model, batch).item()
    assert dtypes == [torch.bfloat16] * 2, "autocast was not active in the training step"
    assert torch.isfinite(torch.tensor([before, after])).all()
    assert after < before - 1e-3, (before, after)
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and g.dtype == torch.float32 for g in grads), "gradients must stay fp32 (master weights)"


def test_bf16_inference_maps_are_close_to_fp32():
    model = _model(seed=1).eval()
    clip = reference_clip(2, 1, 32, 32, seed=2)
    with torch.inference_mode():
        fp32 = predict_clip(model, clip, amp=False)
        bf16 = predict_clip(model, clip, amp=True)
    assert fp32.shape == bf16.shape == (1, 2, 1, 32, 32)
    assert fp32.dtype == bf16.dtype == torch.float32
    diff = (fp32 - bf16).abs()
    assert diff.max() > 0, "--amp changed nothing: autocast was not applied"
    assert (diff <= 2 / 255).float().mean() >= 0.99
    assert diff.max() < 8 / 255
