"""FlowNet2 ops (correlation, resample2d, channelnorm) against slow loop references.

The pure path here; the compiled CPU kernels in test_compiled_ops.py; the CUDA kernels in
the tests marked ``cuda`` below, which skip without a GPU unless FLOWNET2_REQUIRE_CUDA_OPS=1
(then a missing GPU or CUDA build fails them: tools/gpu_check.sh sets it).
"""
import math
import os

import pytest
import torch

from flownet2.ops import (BuildError, ChannelNorm, Correlation, Resample2d, channelnorm,
                          correlation, cuda_ops_available, extension, resample2d)


# --- slow, obviously correct references (written from NVIDIA's kernel formulas) ---------

def correlation_loop(in1, in2, pad, md, s2):
    b, c, h, w = in1.shape
    r = md // s2
    d = 2 * r + 1
    off = md - pad  # output (y, x) reads frame 0 at (y + off, x + off)
    ho, wo = h + 2 * pad - 2 * md, w + 2 * pad - 2 * md
    out = torch.zeros(b, d * d, ho, wo, dtype=in1.dtype)
    for j in range(-r, r + 1):
        for i in range(-r, r + 1):
            for y in range(ho):
                for x in range(wo):
                    y1, x1 = y + off, x + off
                    y2, x2 = y1 + j * s2, x1 + i * s2
                    if 0 <= y1 < h and 0 <= x1 < w and 0 <= y2 < h and 0 <= x2 < w:
                        out[:, (j + r) * d + (i + r), y, x] = (
                            in1[:, :, y1, x1] * in2[:, :, y2, x2]).sum(1) / c
    return out


def resample_loop(img, flow):
    b, c, h, w = img.shape
    hf, wf = flow.shape[-2:]
    out = torch.zeros(b, c, hf, wf, dtype=img.dtype)
    for n in range(b):
        for y in range(hf):
            for x in range(wf):
                xf = x + float(flow[n, 0, y, x])
                yf = y + float(flow[n, 1, y, x])
                ax, ay = xf - math.floor(xf), yf - math.floor(yf)
                xl = min(max(math.floor(xf), 0), w - 1)
                xr = min(max(math.floor(xf) + 1, 0), w - 1)
                yt = min(max(math.floor(yf), 0), h - 1)
                yb = min(max(math.floor(yf) + 1, 0), h - 1)
                out[n, :, y, x] = ((1 - ax) * (1 - ay) * img[n, :, yt, xl]
                                   + ax * (1 - ay) * img[n, :, yt, xr]
                                   + (1 - ax) * ay * img[n, :, yb, xl]
                                   + ax * ay * img[n, :, yb, xr])
    return out


def channelnorm_loop(x):
    b, c, h, w = x.shape
    out = torch.zeros(b, 1, h, w, dtype=x.dtype)
    for n in range(b):
        for y in range(h):
            for xx in range(w):
                out[n, 0, y, xx] = math.sqrt(sum(float(x[n, k, y, xx]) ** 2 for k in range(c)))
    return out


def rand(*shape, dtype=torch.float64, seed=0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=dtype) * scale


# --- correlation -----------------------------------------------------------------------

@pytest.mark.parametrize("pad,md,s2", [(2, 2, 1), (3, 3, 2), (4, 3, 2), (1, 2, 1), (4, 5, 2)])
def test_correlation_matches_loop_odd_sizes(pad, md, s2):
    a, b = rand(2, 3, 7, 9, seed=1), rand(2, 3, 7, 9, seed=2)
    out = correlation(a, b, pad_size=pad, max_displacement=md, stride2=s2, backend="pure")
    ref = correlation_loop(a, b, pad, md, s2)
    assert out.shape == ref.shape
    torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-12)


def test_correlation_published_settings_shape_and_channel_order():
    # Frame 1 = frame 0 shifted right by 4 px (2 steps of stride2) and down by 2 (1 step).
    a = rand(1, 4, 12, 13, seed=3)
    b = torch.zeros_like(a)
    b[:, :, 2:, 4:] = a[:, :, :-2, :-4]
    out = Correlation()(a, b)
    assert out.shape == (1, 441, 12, 13)
    # The channel whose (j, i) = (1, 2) pairs in1[y, x] with in2[y+2, x+4] == in1[y, x].
    k = (1 + 10) * 21 + (2 + 10)
    torch.testing.assert_close(out[0, k, :-2, :-4], (a[0, :, :-2, :-4] ** 2).mean(0))


def test_correlation_gradcheck_both_inputs():
    a = rand(1, 2, 5, 6, seed=4).requires_grad_()
    b = rand(1, 2, 5, 6, seed=5).requires_grad_()
    assert torch.autograd.gradcheck(
        lambda x, y: correlation(x, y, pad_size=3, max_displacement=3, stride2=2, backend="pure"),
        (a, b))
    assert torch.autograd.gradcheck(
        lambda x, y: correlation(x, y, pad_size=1, max_displacement=2, stride2=1, backend="pure"),
        (a, b))


def test_correlation_saves_only_its_inputs_for_backward():
    # A naive (B, D*D, C, H, W) formulation would keep D*D = 441 shifted copies.
    a = rand(1, 8, 16, 16, dtype=torch.float32, seed=6).requires_grad_()
    b = rand(1, 8, 16, 16, dtype=torch.float32, seed=7).requires_grad_()
    saved = []

    def pack(t):
        saved.append(t.numel())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = correlation(a, b, backend="pure")
    assert out.shape == (1, 441, 16, 16)
    assert sum(saved) <= 2 * a.numel()


def test_correlation_low_precision_close_to_fp32():
    a, b = rand(1, 16, 9, 11, dtype=torch.float32, seed=8), rand(1, 16, 9, 11, dtype=torch.float32, seed=9)
    ref = correlation(a, b, pad_size=4, max_displacement=4, stride2=2)
    for dtype, tol in ((torch.float16, 2e-3), (torch.bfloat16, 2e-2)):
        out = correlation(a.to(dtype), b.to(dtype), pad_size=4, max_displacement=4, stride2=2)
        assert out.dtype == dtype
        torch.testing.assert_close(out.float(), ref, rtol=tol, atol=tol)


def test_correlation_stays_fp32_under_autocast():
    a, b = rand(1, 16, 9, 11, dtype=torch.float32, seed=26), rand(1, 16, 9, 11, dtype=torch.float32, seed=27)
    ref = correlation(a, b, pad_size=4, max_displacement=4, stride2=2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = correlation(a, b, pad_size=4, max_displacement=4, stride2=2)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, ref, rtol=1e-6, atol=1e-6)


def test_correlation_rejects_unsupported_arguments():
    a = rand(1, 2, 8, 8)
    with pytest.raises(NotImplementedError, match="kernel_size"):
        correlation(a, a, kernel_size=3)
    with pytest.raises(ValueError, match="shape"):
        correlation(a, rand(1, 2, 8, 9))
    with pytest.raises(ValueError, match="too small"):
        correlation(a, a, pad_size=0, max_displacement=4)


# --- resample2d ------------------------------------------------------------------------

def test_resample2d_matches_loop_at_and_past_borders():
    img = rand(2, 3, 6, 7, seed=10)
    flow = rand(2, 2, 6, 7, seed=11, scale=4.0)  # many samples land outside the image
    flow[0, 0, 0, 0], flow[0, 1, 0, 0] = -0.5, -0.25  # just outside the top-left corner
    flow[1, 0, 5, 6], flow[1, 1, 5, 6] = 0.0, 0.0  # exactly on the bottom-right corner
    flow[1, 0, 2, 3], flow[1, 1, 2, 3] = 30.0, -30.0  # far outside
    flow[1, 0, 3, 3], flow[1, 1, 3, 3] = -1e7 - 0.3, 1e7 + 0.6  # absurdly far: still the border
    out = resample2d(img, flow, backend="pure")
    torch.testing.assert_close(out, resample_loop(img, flow), rtol=1e-10, atol=1e-12)


def test_resample2d_zero_and_integer_flow_are_exact_shifts():
    img = rand(1, 2, 5, 6, seed=12)
    assert torch.equal(resample2d(img, torch.zeros(1, 2, 5, 6, dtype=img.dtype)), img)
    flow = torch.zeros(1, 2, 5, 6, dtype=img.dtype)
    flow[:, 0] = 1.0  # sample one pixel to the right; the last column repeats the border
    out = resample2d(img, flow)
    torch.testing.assert_close(out[..., :-1], img[..., 1:])
    torch.testing.assert_close(out[..., -1], img[..., -1])


@pytest.mark.parametrize("h,w", [(1, 5), (4, 1), (1, 1)])
def test_resample2d_single_row_or_column(h, w):
    img = rand(1, 2, h, w, seed=13)
    flow = rand(1, 2, h, w, seed=14, scale=2.0)
    out = resample2d(img, flow)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, resample_loop(img, flow), rtol=1e-10, atol=1e-12)


def test_resample2d_equals_grid_sample_border_align_corners():
    img = rand(2, 3, 6, 7, seed=24)
    flow = rand(2, 2, 6, 7, seed=25, scale=3.0)
    ys, xs = torch.meshgrid(torch.arange(6.0, dtype=img.dtype), torch.arange(7.0, dtype=img.dtype),
                            indexing="ij")
    grid = torch.stack(((xs + flow[:, 0]) / 6 * 2 - 1, (ys + flow[:, 1]) / 5 * 2 - 1), dim=-1)
    ref = torch.nn.functional.grid_sample(img, grid, mode="bilinear", padding_mode="border",
                                          align_corners=True)
    torch.testing.assert_close(resample2d(img, flow), ref)


def test_resample2d_flow_of_another_size():
    img, flow = rand(1, 2, 5, 6, seed=15), rand(1, 2, 3, 4, seed=16)
    torch.testing.assert_close(resample2d(img, flow), resample_loop(img, flow))


def test_resample2d_gradcheck_both_inputs():
    img = rand(1, 2, 4, 5, seed=17).requires_grad_()
    # Keep samples away from integer coordinates, where bilinear is not differentiable.
    flow = (rand(1, 2, 4, 5, seed=18, scale=0.3) + 0.37).requires_grad_()
    assert torch.autograd.gradcheck(lambda i, f: resample2d(i, f, backend="pure"), (img, flow))


def test_resample2d_low_precision_close_to_fp32():
    img = torch.rand(1, 3, 8, 9, generator=torch.Generator().manual_seed(19))
    flow = rand(1, 2, 8, 9, dtype=torch.float32, seed=20, scale=2.0)
    ref = Resample2d()(img, flow)
    for dtype, tol in ((torch.float16, 2e-3), (torch.bfloat16, 1e-2)):
        out = Resample2d()(img.to(dtype), flow)
        assert out.dtype == dtype
        torch.testing.assert_close(out.float(), ref, rtol=tol, atol=tol)


def test_resample2d_rejects_bad_shapes():
    with pytest.raises(ValueError, match="flow"):
        resample2d(rand(1, 3, 4, 4), rand(1, 3, 4, 4))
    with pytest.raises(NotImplementedError, match="kernel_size"):
        resample2d(rand(1, 3, 4, 4), rand(1, 2, 4, 4), kernel_size=3)


# --- channelnorm -----------------------------------------------------------------------

def test_channelnorm_matches_loop_and_gradcheck():
    x = rand(2, 3, 4, 5, seed=21).requires_grad_()
    out = ChannelNorm()(x)
    assert out.shape == (2, 1, 4, 5)
    torch.testing.assert_close(out, channelnorm_loop(x.detach()))
    assert torch.autograd.gradcheck(lambda t: channelnorm(t, backend="pure"), (x,))


def test_channelnorm_gradient_at_zero_is_finite():
    x = rand(1, 3, 2, 2, seed=22)
    x[:, :, 0, 0] = 0.0
    x.requires_grad_()
    channelnorm(x).sum().backward()
    assert torch.isfinite(x.grad).all()
    assert torch.equal(x.grad[:, :, 0, 0], torch.zeros(1, 3, dtype=x.dtype))


def test_channelnorm_low_precision_close_to_fp32():
    x = rand(1, 11, 6, 7, dtype=torch.float32, seed=23)
    ref = channelnorm(x)
    for dtype, tol in ((torch.float16, 2e-3), (torch.bfloat16, 1e-2)):
        out = channelnorm(x.to(dtype))
        assert out.dtype == dtype
        torch.testing.assert_close(out.float(), ref, rtol=tol, atol=tol)


# --- backend selection -----------------------------------------------------------------

def test_backend_selection_errors(monkeypatch):
    a = rand(1, 2, 6, 6)
    with pytest.raises(ValueError, match="backend"):
        channelnorm(a, backend="fast")
    with pytest.raises(ValueError, match="CUDA tensors"):
        channelnorm(a, backend="cuda")
    monkeypatch.setenv("FLOWNET2_OPS_BACKEND", "cuda")
    with pytest.raises(ValueError, match="CUDA tensors"):
        channelnorm(a)
    monkeypatch.setenv("FLOWNET2_OPS_BACKEND", "pure")
    torch.testing.assert_close(channelnorm(a), channelnorm_loop(a))


def test_no_cuda_probe_is_false_without_gpu():
    if torch.cuda.is_available():
        pytest.skip("a GPU is visible")
    assert cuda_ops_available() is False


# --- CUDA fast path against the pure path -----------------------------------------------

def need_cuda_ops():
    """Skip (or fail, with FLOWNET2_REQUIRE_CUDA_OPS=1) unless the CUDA kernels can run."""
    skip = pytest.fail if os.environ.get("FLOWNET2_REQUIRE_CUDA_OPS") == "1" else pytest.skip
    if not torch.cuda.is_available():
        skip("no CUDA device")
    try:
        extension("cuda")
    except BuildError as e:
        skip(f"the CUDA extension is unavailable: {e}")


def assert_paths_agree(fn, inputs, tol, backend):
    """``fn`` under ``backend`` against the pure path: the same output dtype and shape, and the
    output and every input gradient (for one fixed random output gradient) within ``tol``,
    compared in float32 or wider."""
    results = []
    for path in ("pure", backend):
        xs = [t.detach().clone().requires_grad_() for t in inputs]
        out = fn(*xs, backend=path)
        out.backward(torch.randn(out.shape, generator=torch.Generator().manual_seed(0)).to(out))
        results.append([out.detach()] + [x.grad for x in xs])
    pure, other = results
    assert other[0].dtype == pure[0].dtype and other[0].shape == pure[0].shape
    for got, ref in zip(other, pure, strict=True):
        wide = torch.promote_types(ref.dtype, torch.float32)
        torch.testing.assert_close(got.to(wide), ref.to(wide), rtol=tol, atol=tol)


@pytest.mark.cuda
@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-4), (torch.float16, 3e-2)])
def test_cuda_correlation_matches_pure(dtype, tol):
    need_cuda_ops()
    a = rand(2, 32, 23, 29, dtype=torch.float32, seed=30).cuda().to(dtype)
    b = rand(2, 32, 23, 29, dtype=torch.float32, seed=31).cuda().to(dtype)
    assert_paths_agree(correlation, [a, b], tol, "cuda")
    assert_paths_agree(lambda x, y, backend: correlation(
        x, y, pad_size=3, max_displacement=4, stride2=1, backend=backend), [a, b], tol, "cuda")


@pytest.mark.cuda
@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-4), (torch.float16, 3e-2)])
def test_cuda_resample2d_matches_pure(dtype, tol):
    need_cuda_ops()
    img = rand(2, 3, 17, 21, dtype=torch.float32, seed=32).cuda().to(dtype)
    flow = (rand(2, 2, 17, 21, dtype=torch.float32, seed=33, scale=5.0) + 0.37).cuda().to(dtype)
    assert_paths_agree(resample2d, [img, flow], tol, "cuda")


@pytest.mark.cuda
@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.float16, 3e-3)])
def test_cuda_channelnorm_matches_pure(dtype, tol):
    need_cuda_ops()
    x = rand(2, 5, 17, 21, dtype=torch.float32, seed=34).cuda().to(dtype)
    assert_paths_agree(channelnorm, [x], tol, "cuda")


def test_require_cuda_ops_turns_the_skip_into_a_failure(monkeypatch):
    if torch.cuda.is_available():
        pytest.skip("a GPU is visible")
    monkeypatch.setenv("FLOWNET2_REQUIRE_CUDA_OPS", "1")
    with pytest.raises(pytest.fail.Exception, match="no CUDA device"):
        need_cuda_ops()
    monkeypatch.delenv("FLOWNET2_REQUIRE_CUDA_OPS")
    with pytest.raises(pytest.skip.Exception, match="no CUDA device"):
        need_cuda_ops()
