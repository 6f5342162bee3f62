"""RAFTFlow: torchvision's RAFT behind FlowNet2's interface (plumbing, loading, convention).

Random weights check the plumbing and the checkpoint handling; a stub network that
records its inputs and returns a known flow checks scaling, padding, frame order, the
crop and that the result warps frame 1 onto frame 0 as FGPLG uses it.
"""
import pytest
import torch
from torch import nn
from torchvision.models.optical_flow import raft_large, raft_small

from flownet2.ops import resample2d
from libs.networks.flow.raft import RAFTFlow, build_raft_from_state, detect_raft_variant, load_raft
from libs.utils.checkpoint import CheckpointError

BUILDERS = {"raft_large": raft_large, "raft_small": raft_small}
# torchvision's file names for Raft_*_Weights.DEFAULT, written out as the reference.
CACHE_NAMES = {"raft_large": "raft_large_C_T_SKHT_V2-ff5fadd5.pth", "raft_small": "raft_small_C_T_V2-01064c6d.pth"}


def random_raft(variant, seed=0):
    torch.manual_seed(seed)
    return BUILDERS[variant](weights=None, progress=False).eval()


def random_pair(b=1, h=60, w=90, seed=0, scale=1.0):
    """(b, 3, 2, h, w) in [0, scale]."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, 3, 2, h, w, generator=g) * scale


def replicate_pad(x, h_pad, w_pad):
    """(B, C, h, w) -> (B, C, h_pad, w_pad) by index clamping: the edge pixel repeated."""
    h, w = x.shape[-2:]
    rows = torch.arange(h_pad).clamp(max=h - 1)
    cols = torch.arange(w_pad).clamp(max=w - 1)
    return x[:, :, rows][:, :, :, cols]


class StubRAFT(nn.Module):
    """Records what RAFT would get; returns [garbage, ``field`` over the padded size]."""

    def __init__(self, field_fn):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))  # something for freeze() to freeze
        self.field_fn = field_fn
        self.calls = []

    def forward(self, image1, image2, num_flow_updates=12):
        self.calls.append(dict(image1=image1.clone(), image2=image2.clone(), iters=num_flow_updates,
                               grad=torch.is_grad_enabled(), autocast=torch.is_autocast_enabled("cpu")))
        b, _, h, w = image1.shape
        final = self.field_fn(b, h, w)
        return [torch.full_like(final, 100.0), final]


def constant_field(dx, dy):
    return lambda b, h, w: torch.tensor([dx, dy], dtype=torch.float32).view(1, 2, 1, 1).expand(b, 2, h, w).clone()


def position_field(b, h, w):
    """flow x = column index, flow y = row index: the crop's origin shows in the values."""
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32),
                            indexing="ij")
    return torch.stack((xs, ys)).expand(b, 2, h, w).clone()


# ---- plumbing with random weights -------------------------------------------------------

@pytest.mark.parametrize("variant", ["raft_small", "raft_large"])
def test_random_weights_odd_size_batch_match_raft_on_padded_frames(one_thread, variant):
    model = random_raft(variant)
    frames = random_pair(b=2, h=60, w=90)
    flow = RAFTFlow(model, iters=2)(frames)
    assert flow.shape == (2, 2, 60, 90) and flow.dtype == torch.float32
    assert torch.isfinite(flow).all()

    # Reference: RAFT called by hand on [-1, 1] frames edge-padded to its 128 x 128 minimum.
    image1 = replicate_pad(frames[:, :, 0] * 2 - 1, 128, 128)
    image2 = replicate_pad(frames[:, :, 1] * 2 - 1, 128, 128)
    with torch.no_grad():
        expected = model(image1, image2, num_flow_updates=2)[-1][:, :, :60, :90]
    torch.testing.assert_close(flow, expected, rtol=1e-4, atol=1e-4)

    # Samples are independent: the second one alone gives its batch row.
    alone = RAFTFlow(model, iters=2)(frames[1:])
    torch.testing.assert_close(alone, flow[1:], rtol=1e-4, atol=1e-4)


def test_frozen_no_grad_and_eval_after_train(one_thread):
    flow_net = RAFTFlow(random_raft("raft_large"), iters=2).freeze()
    assert isinstance(flow_net.freeze(), RAFTFlow)
    bn_before = {k: v.clone() for k, v in flow_net.state_dict().items() if "running_mean" in k}
    assert bn_before, "raft_large has BatchNorm in its context encoder"

    flow_net.train()
    assert not any(m.training for m in flow_net.modules())
    assert not any(p.requires_grad for p in flow_net.parameters())
    frames = random_pair(h=64, w=96).requires_grad_(True)
    out = flow_net(frames)
    assert not out.requires_grad
    for k, v in flow_net.state_dict().items():
        if k in bn_before:
            assert torch.equal(v, bn_before[k]), f"{k} moved in train()"


def test_parameters_registered_under_raft():
    model = random_raft("raft_small")
    keys = set(RAFTFlow(model).state_dict())
    assert keys == {f"raft.{k}" for k in model.state_dict()}


def test_bad_input_and_iters():
    flow_net = RAFTFlow(StubRAFT(constant_field(0, 0)))
    with pytest.raises(ValueError, match=r"\(B, 3, 2, H, W\)"):
        flow_net(torch.rand(1, 3, 64, 64))
    with pytest.raises(ValueError, match=r"RAFTFlow input must be a floating-point \(B, 3, 2, H, W\)"):
        flow_net(torch.zeros(1, 3, 2, 64, 64, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"RAFTFlow input is empty: \(0, 3, 2, 64, 64\)"):
        flow_net(torch.zeros(0, 3, 2, 64, 64))
    with pytest.raises(ValueError, match="raft-iters"):
        RAFTFlow(StubRAFT(constant_field(0, 0)), iters=0)


# ---- loading ----------------------------------------------------------------------------

@pytest.mark.parametrize("variant", ["raft_small", "raft_large"])
def test_saved_state_round_trips_through_load_raft(one_thread, tmp_path, variant):
    model = random_raft(variant, seed=3)
    state = model.state_dict()
    assert detect_raft_variant(state) == variant
    path = tmp_path / "raft.pth"
    torch.save(state, path)

    loaded = load_raft(path, iters=2)
    assert type(loaded.raft) is type(model) and loaded.iters == 2
    got = loaded.raft.state_dict()
    assert got.keys() == state.keys() and all(torch.equal(got[k], state[k]) for k in state)
    frames = random_pair(h=64, w=64)
    torch.testing.assert_close(loaded(frames), RAFTFlow(model, iters=2)(frames))


@pytest.mark.parametrize("variant", ["raft_small", "raft_large"])
def test_fgplg_state_dict_rebuilds_its_variant(variant):
    model = random_raft(variant, seed=4)
    fgplg_state = {f"flownet.{k}": v for k, v in RAFTFlow(model).state_dict().items()}
    fgplg_state["backbone.conv1.weight"] = torch.zeros(64, 7, 7, 7)
    assert detect_raft_variant(fgplg_state) == variant
    rebuilt = build_raft_from_state(fgplg_state, iters=3)
    assert rebuilt.iters == 3
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in rebuilt.raft.state_dict().items())


def test_other_state_dicts_give_a_one_line_error_naming_the_file(tmp_path):
    foreign = tmp_path / "resnet_like.pth"
    torch.save(nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8)).state_dict(), foreign)
    with pytest.raises(CheckpointError, match="not a torchvision RAFT") as err:
        load_raft(foreign)
    assert str(foreign) in str(err.value) and "\n" not in str(err.value)

    truncated = dict(random_raft("raft_small").state_dict())
    del truncated["update_block.flow_head.conv2.bias"]
    path = tmp_path / "truncated.pth"
    torch.save(truncated, path)
    with pytest.raises(CheckpointError, match=r"raft_small \(1 missing.*flow_head\.conv2\.bias") as err:
        load_raft(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_missing_checkpoint_and_empty_cache_name_both_places(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    cache = tmp_path / "torch" / "hub" / "checkpoints"
    with pytest.raises(CheckpointError) as err:
        load_raft(None)
    msg = str(err.value)
    assert "--raft-checkpoint" in msg and "\n" not in msg
    for name in CACHE_NAMES.values():
        assert str(cache / name) in msg

    missing = tmp_path / "nowhere.pth"
    with pytest.raises(CheckpointError) as err:
        load_raft(missing)
    msg = str(err.value)
    assert str(missing) in msg and "--raft-checkpoint" in msg and str(cache / CACHE_NAMES["raft_small"]) in msg


def test_cache_is_used_and_large_preferred(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    cache = tmp_path / "torch" / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    torch.save(random_raft("raft_small").state_dict(), cache / CACHE_NAMES["raft_small"])
    assert type(load_raft(None).raft) is type(random_raft("raft_small"))
    torch.save(random_raft("raft_large").state_dict(), cache / CACHE_NAMES["raft_large"])
    assert type(load_raft(None).raft) is type(random_raft("raft_large"))


# ---- the convention, with a stubbed network ---------------------------------------------

def test_stub_sees_scaled_padded_frames_in_order_and_output_is_cropped():
    stub = StubRAFT(position_field)
    frames = random_pair(b=2, h=60, w=90, scale=255.0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        flow = RAFTFlow(stub, iters=3, rgb_max=255.0)(frames)
    (call,) = stub.calls
    assert call["iters"] == 3 and not call["grad"] and not call["autocast"]
    for key, t in (("image1", 0), ("image2", 1)):
        image = call[key]
        assert image.shape == (2, 3, 128, 128) and image.dtype == torch.float32
        assert image.min() >= -1 and image.max() <= 1
        torch.testing.assert_close(image, replicate_pad(frames[:, :, t] / 127.5 - 1, 128, 128))

    assert flow.shape == (2, 2, 60, 90) and flow.dtype == torch.float32
    # The crop is the top-left (H, W): flow x equals the column, flow y the row.
    torch.testing.assert_close(flow, position_field(2, 60, 90))


def test_sizes_above_the_minimum_pad_to_the_next_multiple_of_8():
    stub = StubRAFT(constant_field(0, 0))
    RAFTFlow(stub)(random_pair(h=130, w=135))
    assert stub.calls[0]["image1"].shape[-2:] == (136, 136)
    RAFTFlow(stub)(random_pair(h=136, w=144))
    assert stub.calls[1]["image1"].shape[-2:] == (136, 144)


def test_flow_warps_frame1_onto_frame0_as_fgplg_uses_it():
    # Frame 1 is frame 0 with its content moved by (+3, -2): frame0(x, y) = frame1(x + 3, y - 2).
    h, w = 60, 90
    frame0 = random_pair(h=h, w=w)[:, :, 0]
    frame1 = frame0.roll(shifts=(-2, 3), dims=(-2, -1))
    flow = RAFTFlow(StubRAFT(constant_field(3.0, -2.0)))(torch.stack((frame0, frame1), dim=2))
    torch.testing.assert_close(flow, constant_field(3.0, -2.0)(1, h, w))

    warped = resample2d(frame1, flow)  # how FGPLG moves a neighbour's label onto frame t
    inner = (slice(None), slice(None), slice(2, None), slice(None, -3))  # sampled inside frame 1
    assert torch.equal(warped[inner], frame0[inner])
    assert not torch.allclose(frame1[inner], frame0[inner])
