"""FGPLG: state-dict layout, the published numerics, batches, training step, checkpoints."""
import pytest
import torch
import torch.nn.functional as F

from libs.networks import FGPLG, ImageModel
from libs.networks.pseudo_label_generator import flow_magnitude, read_fgplg_checkpoint
from libs.utils.checkpoint import CheckpointError, load_checkpoint, save_model
from reference_weights import fill_reference_weights


def shapes(module):
    return {k: list(v.shape) for k, v in module.state_dict().items()}


@pytest.fixture(scope="module")
def reference(reference_dir):
    fx = torch.load(reference_dir / "fgplg_64.pt")
    model = fill_reference_weights(FGPLG(output_stride=16, flow="flownet2").eval(), fx["seed"])
    return model, fx


def test_matches_manifest(reference, manifest):
    assert shapes(reference[0]) == manifest["FGPLG"]


def test_reproduces_reference(reference):
    model, fx = reference
    f, lab = fx["frames"], fx["labels"]
    with torch.no_grad():
        out = model.generate_pseudo_label(f[1], f[0], f[2], lab[0], lab[2])
        via_forward = model(f, lab)
    expected = fx["pseudo_label_logits"]
    scale = max(1.0, expected.abs().max().item())
    assert (out - expected).abs().max().item() < 1e-4 * scale
    assert torch.equal(out, via_forward)


def test_every_batch_element_is_labelled(reference):
    model, fx = reference
    f, lab = fx["frames"], fx["labels"]
    g = torch.Generator().manual_seed(3)
    other = [torch.randn(f[0].shape, generator=g) for _ in range(3)]
    other_lab = [torch.rand(lab[0].shape, generator=g) for _ in range(3)]
    both = [torch.cat(p) for p in zip(f, other)], [torch.cat(p) for p in zip(lab, other_lab)]
    with torch.no_grad():
        batched = model(*both)
        second = model(other, other_lab)
    assert torch.allclose(batched[:1], fx["pseudo_label_logits"], atol=1e-4)
    assert torch.allclose(batched[1:], second, atol=1e-4)


def test_flow_magnitude_is_normalised_by_the_frame_size():
    flow = torch.zeros(1, 2, 4, 8)
    flow[:, 0] = 8.0  # one frame width to the right
    flow[:, 1] = 2.0  # half the frame height down
    assert torch.allclose(flow_magnitude(flow), torch.full((1, 1, 4, 8), (1.0 + 0.25) ** 0.5))


def test_training_step_moves_the_backbone_only():
    torch.manual_seed(0)
    model = FGPLG(output_stride=16, flow="flownet2").train()
    assert not model.flownet.training and all(not p.requires_grad for p in model.flownet.parameters())
    assert all(not m.training for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    flownet_before = {k: v.clone() for k, v in model.flownet.state_dict().items()}
    backbone_before = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    frames = [torch.randn(2, 3, 64, 64) for _ in range(3)]
    labels = [(torch.rand(2, 1, 64, 64) > 0.5).float() for _ in range(3)]
    loss = F.binary_cross_entropy_with_logits(model(frames, labels), labels[1])
    assert torch.isfinite(loss)
    loss.backward()
    optimizer.step()
    assert all(torch.equal(v, flownet_before[k]) for k, v in model.flownet.state_dict().items())
    changed = [k for k, v in model.backbone.state_dict().items() if not torch.equal(v, backbone_before[k])]
    assert "resnet.conv1.weight" in changed and "decoder.conv2.weight" in changed
    assert not any("running_" in k for k in changed)  # frozen BatchNorm statistics


def test_opencv_flow_source_has_no_flownet_weights_and_is_read_off_the_keys(tmp_path):
    model = FGPLG(output_stride=16, flow="opencv").eval()
    assert not any(k.startswith("flownet.") for k in model.state_dict())
    frames = [torch.randn(1, 3, 48, 56) for _ in range(3)]
    labels = [torch.rand(1, 1, 48, 56) for _ in range(3)]
    with torch.no_grad():
        assert model(frames, labels).shape == (1, 1, 48, 56)
    save_model(model, tmp_path / "fgplg.pth")  # a bare state dict, as published
    assert "state_dict" not in torch.load(tmp_path / "fgplg.pth", weights_only=True)
    state, flow = read_fgplg_checkpoint(tmp_path / "fgplg.pth")
    assert flow == "opencv"
    load_checkpoint(FGPLG(flow="opencv"), state, strict=True)
    torch.save({"state_dict": state, "flow": "opencv"}, tmp_path / "older.pth")  # our earlier format
    assert read_fgplg_checkpoint(tmp_path / "older.pth")[1] == "opencv"


def test_published_bare_checkpoint_means_flownet2_and_others_are_refused(tmp_path, reference):
    torch.save(reference[0].state_dict(), tmp_path / "published.pth")
    assert read_fgplg_checkpoint(tmp_path / "published.pth")[1] == "flownet2"
    save_model(ImageModel(), tmp_path / "image.pth")
    with pytest.raises(CheckpointError, match="image.pth.*not an FGPLG checkpoint"):
        read_fgplg_checkpoint(tmp_path / "image.pth")
