"""FlowNet2: state-dict layout, the published code's numbers, checkpoints, shapes."""
import pytest
import torch
from torch import nn

from flownet2 import FlowNet2, FlowNet2CheckpointError, load_flownet2_checkpoint
from libs.networks.flow import build_flow_estimator
from reference_weights import fill_reference_weights


@pytest.fixture(scope="module")
def net():
    """One FlowNet2 with the fixture's weights (162M parameters: built once).

    Built on the meta device and materialised empty: the fill overwrites every tensor,
    so the fresh init would be wasted time.
    """
    with torch.device("meta"):
        model = FlowNet2(rgb_max=1.0)
    return fill_reference_weights(model.to_empty(device="cpu").eval(), seed=2)


@pytest.fixture(scope="module")
def fixture(reference_dir):
    return torch.load(reference_dir / "flownet2_64x128.pt", map_location="cpu", weights_only=True)


def test_state_dict_matches_manifest(net, manifest):
    expected = manifest["FlowNet2"]["keys"]
    got = {k: list(v.shape) for k, v in net.state_dict().items()}
    assert sorted(got) == sorted(expected)
    assert got == expected


def test_reproduces_published_flow(net, fixture):
    assert fixture["seed"] == 2
    with torch.no_grad():
        flow = net(fixture["input"])
    ref = fixture["flow"]
    assert flow.shape == ref.shape == (1, 2, 64, 128)
    tol = 1e-4 * max(1.0, ref.abs().max().item())
    assert (flow - ref).abs().max().item() < tol


def test_batch_of_two_equals_single_runs(net):
    g = torch.Generator().manual_seed(3)
    x = torch.rand(2, 3, 2, 64, 64, generator=g)
    x[1] = x[1] * 0.5 + 0.25  # different per-sample means
    with torch.no_grad():
        both = net(x)
        singles = torch.cat([net(x[:1]), net(x[1:])])
    assert both.shape == (2, 2, 64, 64)
    torch.testing.assert_close(both, singles, rtol=1e-4, atol=1e-4)


def test_non_multiple_of_64_is_padded_and_cropped(net):
    g = torch.Generator().manual_seed(4)
    x = torch.rand(1, 3, 2, 50, 60, generator=g)
    with torch.no_grad():
        flow = net(x)
        # By hand: mean of the unpadded frames, replicate pad right/bottom to 64x64.
        mean = x.view(1, 3, -1).mean(-1).view(1, 3, 1, 1, 1)
        x6 = torch.cat(((x - mean)[:, :, 0], (x - mean)[:, :, 1]), 1)
        ref = net._flow(torch.nn.functional.pad(x6, (0, 4, 0, 14), mode="replicate"))
    assert flow.shape == (1, 2, 50, 60)
    torch.testing.assert_close(flow, ref[:, :, :50, :60])


@pytest.mark.parametrize("shape", [(1, 3, 64, 64), (1, 6, 64, 64), (1, 3, 3, 64, 64),
                                   (1, 4, 2, 64, 64)])
def test_bad_input_shape_is_refused(net, shape):
    with pytest.raises(ValueError, match=r"\(B, 3, 2, H, W\)"):
        net(torch.zeros(shape))


def _cheap_state(model, offset):
    """A full state dict of distinct constants (expanded views: a few bytes on disk each)."""
    return {k: torch.full((1,), offset + i / 1000.0).expand(v.shape)
            for i, (k, v) in enumerate(sorted(model.state_dict().items()))}


def test_checkpoint_loads_strictly_in_both_formats(manifest, tmp_path):
    with torch.device("meta"):
        model = FlowNet2()
    model = model.to_empty(device="cpu")  # a fresh model without the cost of its init
    nested, bare = _cheap_state(model, 1.0), _cheap_state(model, -1.0)
    torch.save({"state_dict": nested, "epoch": 0, "best_EPE": 0.0}, tmp_path / "ck.pth.tar")
    torch.save(bare, tmp_path / "bare.pth")
    for path, state in ((tmp_path / "ck.pth.tar", nested), (tmp_path / "bare.pth", bare)):
        assert load_flownet2_checkpoint(model, path) is model
        loaded = model.state_dict()
        assert sorted(loaded) == sorted(manifest["FlowNet2"]["keys"])
        for k, v in state.items():
            assert torch.equal(loaded[k], v), k


def test_checkpoint_errors_name_the_file(net, tmp_path):
    missing = tmp_path / "nope.pth.tar"
    with pytest.raises(FlowNet2CheckpointError, match="nope.pth.tar.*not found"):
        load_flownet2_checkpoint(net, missing)

    state = {k: torch.zeros(v.shape) for k, v in net.flownetfusion.state_dict().items()}
    partial = tmp_path / "partial.pth.tar"
    torch.save({"state_dict": {f"flownetfusion.{k}": v for k, v in state.items()}}, partial)
    with pytest.raises(FlowNet2CheckpointError, match=r"partial\.pth\.tar.*missing"):
        load_flownet2_checkpoint(net, partial)

    full = {k: torch.zeros(v.shape) for k, v in net.state_dict().items()}
    full["extra.weight"] = torch.zeros(1)
    extra = tmp_path / "extra.pth.tar"
    torch.save({"state_dict": full}, extra)
    with pytest.raises(FlowNet2CheckpointError, match=r"extra\.pth\.tar.*unexpected.*extra\.weight"):
        load_flownet2_checkpoint(net, extra)

    full = {k: torch.zeros(0) for k in net.state_dict()}  # right keys, wrong shapes
    shapes = tmp_path / "shapes.pth.tar"
    torch.save(full, shapes)
    with pytest.raises(FlowNet2CheckpointError, match=r"shapes\.pth\.tar.*shapes do not match"):
        load_flownet2_checkpoint(net, shapes)

    garbage = tmp_path / "garbage.pth.tar"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="garbage.pth.tar"):
        load_flownet2_checkpoint(net, garbage)
    # The refused files left the weights alone.
    assert net.state_dict()["flownetc.conv1.0.weight"].abs().sum() > 0


def test_frozen_parameters_are_untouched_by_training_step(net):
    net.freeze()
    assert not net.training and not any(p.requires_grad for p in net.parameters())
    sums = {k: p.sum().item() for k, p in net.named_parameters()}
    head = nn.Conv2d(2, 1, 3, padding=1)
    params = [p for p in list(net.parameters()) + list(head.parameters()) if p.requires_grad]
    opt = torch.optim.SGD(params, lr=1.0, momentum=0.9, weight_decay=0.1)
    x = torch.rand(1, 3, 2, 64, 64, generator=torch.Generator().manual_seed(5))
    head_before = head.weight.detach().clone()
    loss = head(net(x)).square().mean()
    loss.backward()
    opt.step()
    assert not torch.equal(head.weight.detach(), head_before)
    assert all(p.grad is None for p in net.parameters())
    assert {k: p.sum().item() for k, p in net.named_parameters()} == sums


def test_build_flow_estimator():
    with pytest.raises(ValueError, match="checkpoint"):
        build_flow_estimator("flownet2")
    with pytest.raises(ValueError, match="kind"):
        build_flow_estimator("pwcnet")
