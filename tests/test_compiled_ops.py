"""The compiled kernels through the CPU target (the per-element code the CUDA kernels share).

Checked against the slow loops of test_flownet2_ops and against the pure path, forward and
backward, in float64, float32 and half precision, then FlowNet2's and FGPLG's reference
fixtures with FLOWNET2_OPS_BACKEND=compiled (and, marked ``cuda``, through the CUDA
kernels on a GPU: FLOWNET2_REQUIRE_CUDA_OPS=1 makes those fail rather than skip). The extension is built once per session
(reusing flownet2/ops/_build); a failed build fails these tests, it does not skip them.
"""
import collections
import warnings

import pytest
import torch

from flownet2 import FlowNet2
from flownet2.ops import _backend, channelnorm, correlation, describe_backends, resample2d
from libs.networks import FGPLG
from reference_weights import fill_reference_weights
from test_flownet2_ops import (assert_paths_agree, channelnorm_loop, correlation_loop, need_cuda_ops,
                               rand, resample_loop)


class CountingExtension:
    """The real extension, counting its calls: proof the compiled path ran."""

    def __init__(self, ext):
        self.ext = ext
        self.calls = collections.Counter()
        self.__name__ = ext.__name__

    def __getattr__(self, name):
        fn = getattr(self.ext, name)

        def call(*args):
            self.calls[name] += 1
            return fn(*args)
        return call


@pytest.fixture
def counting(cpu_ext, monkeypatch):
    ext = CountingExtension(cpu_ext)
    monkeypatch.setattr(_backend, "extension", lambda device_type: ext)
    return ext


# --- correlation -----------------------------------------------------------------------

@pytest.mark.parametrize("shape,pad,md,s2", [((2, 3, 7, 9), 2, 2, 1), ((1, 4, 9, 8), 3, 3, 2),
                                             ((2, 2, 8, 11), 4, 3, 2), ((3, 5, 5, 7), 1, 2, 1),
                                             ((1, 3, 10, 13), 4, 5, 2)])
def test_correlation_matches_loop(cpu_ext, counting, shape, pad, md, s2):
    a, b = rand(*shape, seed=1), rand(*shape, seed=2)
    out = correlation(a, b, pad_size=pad, max_displacement=md, stride2=s2, backend="compiled")
    torch.testing.assert_close(out, correlation_loop(a, b, pad, md, s2), rtol=1e-10, atol=1e-12)
    assert counting.calls["correlation_forward"] == 1


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 1e-5)])
def test_correlation_forward_backward_match_pure(cpu_ext, dtype, tol):
    a, b = rand(2, 16, 13, 17, dtype=dtype, seed=3), rand(2, 16, 13, 17, dtype=dtype, seed=4)
    assert_paths_agree(lambda x, y, backend: correlation(
        x, y, pad_size=4, max_displacement=4, stride2=2, backend=backend), [a, b], tol, "compiled")
    # FlowNetC's own settings: 441 displacements, most of them off the 12x15 image.
    a, b = rand(1, 8, 12, 15, dtype=dtype, seed=5), rand(1, 8, 12, 15, dtype=dtype, seed=6)
    assert_paths_agree(correlation, [a, b], tol, "compiled")


def test_correlation_gradcheck(cpu_ext):
    a = rand(1, 2, 5, 6, seed=7).requires_grad_()
    b = rand(1, 2, 5, 6, seed=8).requires_grad_()
    assert torch.autograd.gradcheck(lambda x, y: correlation(
        x, y, pad_size=3, max_displacement=3, stride2=2, backend="compiled"), (a, b))
    # float32: correlation is bilinear, so central differences are exact up to rounding.
    a32, b32 = (t.detach().float().requires_grad_() for t in (a, b))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "not double precision"
        assert torch.autograd.gradcheck(lambda x, y: correlation(
            x, y, pad_size=1, max_displacement=2, stride2=1, backend="compiled"),
            (a32, b32), eps=1e-2, atol=1e-3, rtol=1e-2)


# --- resample2d ------------------------------------------------------------------------

def _far_flow(b, h, w, seed):
    flow = rand(b, 2, h, w, seed=seed, scale=4.0)
    flow[0, :, 0, 0] = torch.tensor([-0.5, -0.25])  # just outside the top-left corner
    flow[-1, :, h - 1, w - 1] = 0.0  # exactly on the bottom-right corner
    flow[-1, :, h // 2, w // 2] = torch.tensor([30.0, -30.0])
    flow[0, :, h // 2, 0] = torch.tensor([-1e7 - 0.3, 1e7 + 0.6])  # absurdly far: the border
    return flow


@pytest.mark.parametrize("b,c,h,w,hf,wf", [(2, 3, 6, 7, 6, 7), (1, 2, 5, 9, 3, 4),
                                           (3, 1, 1, 5, 1, 5), (2, 4, 4, 1, 4, 1)])
def test_resample2d_matches_loop_far_outside(cpu_ext, counting, b, c, h, w, hf, wf):
    img = rand(b, c, h, w, seed=10)
    flow = _far_flow(b, hf, wf, seed=11) if hf > 1 and wf > 1 else rand(b, 2, hf, wf, seed=11, scale=3)
    out = resample2d(img, flow, backend="compiled")
    torch.testing.assert_close(out, resample_loop(img, flow), rtol=1e-10, atol=1e-12)
    assert counting.calls["resample2d_forward"] == 1


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 1e-5)])
def test_resample2d_forward_backward_match_pure(cpu_ext, dtype, tol):
    img = rand(2, 3, 17, 21, dtype=dtype, seed=12)
    # Away from integer coordinates, where the two paths' floors could disagree by rounding.
    flow = _far_flow(2, 17, 21, seed=13).to(dtype) + 0.37
    assert_paths_agree(resample2d, [img, flow], tol, "compiled")


def test_resample2d_gradcheck(cpu_ext):
    img = rand(1, 2, 4, 5, seed=14).requires_grad_()
    flow = (rand(1, 2, 4, 5, seed=15, scale=0.3) + 0.37).requires_grad_()
    assert torch.autograd.gradcheck(lambda i, f: resample2d(i, f, backend="compiled"), (img, flow))
    img32, flow32 = (t.detach().float().requires_grad_() for t in (img, flow))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        assert torch.autograd.gradcheck(lambda i, f: resample2d(i, f, backend="compiled"),
                                        (img32, flow32), eps=1e-3, atol=2e-3, rtol=1e-2)


# --- channelnorm -----------------------------------------------------------------------

def test_channelnorm_matches_loop_and_gradcheck(cpu_ext):
    x = rand(3, 5, 4, 7, seed=16)
    x[1, :, 2, 3] = 0.0
    torch.testing.assert_close(channelnorm(x, backend="compiled"), channelnorm_loop(x))
    x.requires_grad_()
    channelnorm(x, backend="compiled").sum().backward()
    assert torch.equal(x.grad[1, :, 2, 3], torch.zeros(5, dtype=x.dtype))  # 0 at the zero vector
    y = rand(2, 3, 4, 5, seed=17).requires_grad_()
    assert torch.autograd.gradcheck(lambda t: channelnorm(t, backend="compiled"), (y,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        assert torch.autograd.gradcheck(lambda t: channelnorm(t, backend="compiled"),
                                        (y.detach().float().requires_grad_(),),
                                        eps=1e-3, atol=1e-3, rtol=1e-2)


def test_channelnorm_forward_backward_match_pure(cpu_ext):
    x = rand(2, 5, 17, 21, dtype=torch.float32, seed=18)
    assert_paths_agree(channelnorm, [x], 1e-6, "compiled")


# --- half precision --------------------------------------------------------------------

@pytest.mark.parametrize("dtype,tol", [(torch.float16, 3e-3), (torch.bfloat16, 2e-2)])
def test_half_precision_close_to_float32(cpu_ext, dtype, tol):
    a, b = rand(1, 16, 9, 11, dtype=torch.float32, seed=19), rand(1, 16, 9, 11, dtype=torch.float32, seed=20)
    ref = correlation(a, b, pad_size=4, max_displacement=4, stride2=2, backend="pure")
    out = correlation(a.to(dtype), b.to(dtype), pad_size=4, max_displacement=4, stride2=2,
                      backend="compiled")
    assert out.dtype == dtype
    torch.testing.assert_close(out.float(), ref, rtol=tol, atol=tol)
    img = torch.rand(1, 3, 8, 9, generator=torch.Generator().manual_seed(21))
    flow = rand(1, 2, 8, 9, dtype=torch.float32, seed=22, scale=2.0)
    out = resample2d(img.to(dtype), flow, backend="compiled")
    assert out.dtype == dtype
    torch.testing.assert_close(out.float(), resample2d(img, flow, backend="pure"), rtol=tol, atol=tol)
    out = channelnorm(a.to(dtype), backend="compiled")
    torch.testing.assert_close(out.float(), channelnorm(a, backend="pure"), rtol=tol, atol=tol)


# --- the reference fixtures through the compiled ops -------------------------------------

def test_flownet2_fixture_with_compiled_ops(counting, reference_dir, monkeypatch, one_thread):
    fx = torch.load(reference_dir / "flownet2_64x128.pt", map_location="cpu", weights_only=True)
    with torch.device("meta"):
        model = FlowNet2(rgb_max=1.0)
    net = fill_reference_weights(model.to_empty(device="cpu").eval(), seed=fx["seed"])
    monkeypatch.setenv("FLOWNET2_OPS_BACKEND", "compiled")
    with torch.no_grad():
        flow = net(fx["input"])
    ref = fx["flow"]
    assert flow.shape == ref.shape == (1, 2, 64, 128)
    assert (flow - ref).abs().max().item() < 1e-4 * max(1.0, ref.abs().max().item())
    for op in ("correlation_forward", "resample2d_forward", "channelnorm_forward"):
        assert counting.calls[op] > 0, op


def test_fgplg_fixture_with_compiled_ops(counting, reference_dir, monkeypatch, one_thread):
    fx = torch.load(reference_dir / "fgplg_64.pt")
    model = fill_reference_weights(FGPLG(output_stride=16, flow="flownet2").eval(), fx["seed"])
    monkeypatch.setenv("FLOWNET2_OPS_BACKEND", "compiled")
    f, lab = fx["frames"], fx["labels"]
    with torch.no_grad():
        out = model.generate_pseudo_label(f[1], f[0], f[2], lab[0], lab[2])
    expected = fx["pseudo_label_logits"]
    assert (out - expected).abs().max().item() < 1e-4 * max(1.0, expected.abs().max().item())
    for op in ("correlation_forward", "resample2d_forward", "channelnorm_forward"):
        assert counting.calls[op] > 0, op


# --- the same on a GPU (tools/gpu_check.sh runs these with FLOWNET2_REQUIRE_CUDA_OPS=1) ----

@pytest.fixture
def exact_cuda(monkeypatch):
    """CUDA with fp32 convs and matmuls (no TF32), so the fixtures' tolerance means something."""
    need_cuda_ops()
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    monkeypatch.setenv("FLOWNET2_OPS_BACKEND", "cuda")


@pytest.mark.cuda
def test_auto_on_cuda_uses_the_checked_kernels():
    need_cuda_ops()
    line = describe_backends("cuda", "auto")
    for op in ("correlation", "resample2d", "channelnorm"):
        assert f"{op}=flownet2_ops_cuda" in line, line


@pytest.mark.cuda
def test_flownet2_fixture_through_cuda_kernels(exact_cuda, reference_dir):
    fx = torch.load(reference_dir / "flownet2_64x128.pt", map_location="cpu", weights_only=True)
    with torch.device("meta"):
        model = FlowNet2(rgb_max=1.0)
    net = fill_reference_weights(model.to_empty(device="cpu").eval(), seed=fx["seed"]).cuda()
    with torch.no_grad():
        flow = net(fx["input"].cuda()).cpu()
    ref = fx["flow"]
    # cuDNN sums the fp32 convolutions in another order than the CPU: 10x the CPU tolerance.
    assert (flow - ref).abs().max().item() < 1e-3 * max(1.0, ref.abs().max().item())


@pytest.mark.cuda
def test_fgplg_fixture_through_cuda_kernels(exact_cuda, reference_dir):
    fx = torch.load(reference_dir / "fgplg_64.pt")
    model = fill_reference_weights(FGPLG(output_stride=16, flow="flownet2").eval(), fx["seed"]).cuda()
    f, lab = [t.cuda() for t in fx["frames"]], [t.cuda() for t in fx["labels"]]
    with torch.no_grad():
        out = model.generate_pseudo_label(f[1], f[0], f[2], lab[0], lab[2]).cpu()
    expected = fx["pseudo_label_logits"]
    assert (out - expected).abs().max().item() < 1e-3 * max(1.0, expected.abs().max().item())
