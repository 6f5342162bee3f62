"""The weight-free OpenCV flow source: FlowNet2's interface, correct sign and units."""
import numpy as np
import pytest
import torch

from libs.networks.flow import OpenCVFlow, build_flow_estimator
from flownet2.ops import resample2d


def shifted_pair(dx=3, dy=-2, h=96, w=128, seed=0):
    """(1, 3, 2, h, w) in [0, 1]: frame 1 is frame 0 with its content moved by (dx, dy)."""
    g = torch.Generator().manual_seed(seed)
    noise = torch.rand(1, 3, h + 40, w + 40, generator=g)
    texture = torch.nn.functional.avg_pool2d(noise, 5, stride=1, padding=2)  # smooth blobs
    texture = (texture - texture.min()) / (texture.max() - texture.min())
    frame0 = texture[..., 20:20 + h, 20:20 + w]
    frame1 = texture.roll(shifts=(dy, dx), dims=(-2, -1))[..., 20:20 + h, 20:20 + w]
    return torch.stack((frame0, frame1), dim=2)


@pytest.mark.parametrize("method", ["dis", "farneback"])
def test_shift_gives_its_flow_and_warping_reconstructs_frame0(method):
    frames = shifted_pair()
    flow = OpenCVFlow(method=method)(frames)
    assert flow.shape == (1, 2, 96, 128) and flow.dtype == torch.float32
    inner = (slice(None), slice(None), slice(16, -16), slice(16, -16))
    med = flow[inner].flatten(2).median(dim=-1).values[0]
    assert abs(med[0].item() - 3.0) < 0.5 and abs(med[1].item() + 2.0) < 0.5, med

    frame0, frame1 = frames[:, :, 0], frames[:, :, 1]
    warped = resample2d(frame1, flow)
    err_warp = (warped - frame0)[inner].abs().mean()
    err_none = (frame1 - frame0)[inner].abs().mean()
    assert err_warp < 0.5 * err_none


def test_rgb_max_and_batch():
    frames = shifted_pair(dx=-2, dy=1)
    both = torch.cat((frames, shifted_pair(dx=2, dy=0, seed=1)))
    flow = OpenCVFlow(rgb_max=255.0)(both * 255.0)
    assert flow.shape == (2, 2, 96, 128)
    med = flow[:, :, 16:-16, 16:-16].flatten(2).median(dim=-1).values
    np.testing.assert_allclose(med.numpy(), [[-2.0, 1.0], [2.0, 0.0]], atol=0.5)


def test_no_parameters_and_factory():
    est = build_flow_estimator("opencv")
    assert isinstance(est, OpenCVFlow)
    assert len(est.state_dict()) == 0 and len(list(est.parameters())) == 0
    with pytest.raises(ValueError, match="method"):
        OpenCVFlow(method="lk")
    with pytest.raises(ValueError, match=r"\(B, 3, 2, H, W\)"):
        est(torch.zeros(1, 6, 32, 32))
    with pytest.raises(ValueError, match=r"OpenCVFlow input is empty: \(1, 3, 2, 0, 32\)"):
        est(torch.zeros(1, 3, 2, 0, 32))
    with pytest.raises(ValueError, match="checkpoint"):
        build_flow_estimator("opencv", checkpoint="x.pth")


def test_8_bit_frames_give_the_flow_of_the_same_values_as_floats():
    # Any dtype is accepted (only FlowNet2 and RAFT need floats): the frames are made 8-bit anyway.
    frames = (shifted_pair() * 255.0).round().to(torch.uint8)
    net = OpenCVFlow(rgb_max=255.0)
    torch.testing.assert_close(net(frames), net(frames.float()), rtol=0, atol=0)
