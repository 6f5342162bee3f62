// Resample2d, kernel_size 1 (NVIDIA flownet2-pytorch semantics): bilinear sample of
// input1 (B, C, H, W) at (x + flow_x, y + flow_y) for each pixel of flow (B, 2, Hf, Wf),
// both neighbour indices clamped to the image (= grid_sample, border, align_corners).
#include "common.cuh"

#include <ATen/cuda/Atomic.cuh>

#include <vector>

namespace flownet2 {
namespace {

template <typename acc_t>
struct Taps {
  int x0, x1, y0, y1;  // clamped left/right, top/bottom neighbours
  acc_t ax, ay;        // fractional offsets from the unclamped floor
};

template <typename acc_t>
__device__ __forceinline__ Taps<acc_t> make_taps(acc_t xf, acc_t yf, int H, int W) {
  Taps<acc_t> t;
  acc_t fx = floor(xf), fy = floor(yf);
  t.ax = xf - fx;
  t.ay = yf - fy;
  // Clamp in floating point first so huge or NaN coordinates never overflow an int.
  fx = (fx >= static_cast<acc_t>(-1)) ? fx : static_cast<acc_t>(-1);
  fx = (fx <= static_cast<acc_t>(W)) ? fx : static_cast<acc_t>(W);
  fy = (fy >= static_cast<acc_t>(-1)) ? fy : static_cast<acc_t>(-1);
  fy = (fy <= static_cast<acc_t>(H)) ? fy : static_cast<acc_t>(H);
  const int ix = static_cast<int>(fx), iy = static_cast<int>(fy);
  t.x0 = min(max(ix, 0), W - 1);
  t.x1 = min(max(ix + 1, 0), W - 1);
  t.y0 = min(max(iy, 0), H - 1);
  t.y1 = min(max(iy + 1, 0), H - 1);
  return t;
}

template <typename scalar_t>
__global__ void resample2d_forward_kernel(const scalar_t* __restrict__ in1,
                                          const scalar_t* __restrict__ flow,
                                          scalar_t* __restrict__ out, int B, int C, int H,
                                          int W, int Hf, int Wf) {
  using acc_t = at::acc_type<scalar_t, true>;
  const int64_t n = static_cast<int64_t>(B) * C * Hf * Wf;
  const int64_t fplane = static_cast<int64_t>(Hf) * Wf;
  FLOWNET2_KERNEL_LOOP(idx, n) {
    const int x = idx % Wf;
    int64_t t = idx / Wf;
    const int y = t % Hf;
    t /= Hf;
    const int c = t % C;
    const int b = t / C;
    const scalar_t* f = flow + static_cast<int64_t>(b) * 2 * fplane + y * Wf + x;
    const auto tp = make_taps<acc_t>(x + static_cast<acc_t>(f[0]), y + static_cast<acc_t>(f[fplane]), H, W);
    const scalar_t* img = in1 + (static_cast<int64_t>(b) * C + c) * H * W;
    const acc_t v = (1 - tp.ax) * (1 - tp.ay) * static_cast<acc_t>(img[tp.y0 * W + tp.x0]) +
                    tp.ax * (1 - tp.ay) * static_cast<acc_t>(img[tp.y0 * W + tp.x1]) +
                    (1 - tp.ax) * tp.ay * static_cast<acc_t>(img[tp.y1 * W + tp.x0]) +
                    tp.ax * tp.ay * static_cast<acc_t>(img[tp.y1 * W + tp.x1]);
    out[idx] = static_cast<scalar_t>(v);
  }
}

// Scatter of the output gradient onto input1 (atomics into an acc_t buffer).
template <typename scalar_t, typename acc_t>
__global__ void resample2d_backward_input_kernel(const scalar_t* __restrict__ grad_out,
                                                 const scalar_t* __restrict__ flow,
                                                 acc_t* __restrict__ grad1, int B, int C, int H,
                                                 int W, int Hf, int Wf) {
  const int64_t n = static_cast<int64_t>(B) * C * Hf * Wf;
  const int64_t fplane = static_cast<int64_t>(Hf) * Wf;
  FLOWNET2_KERNEL_LOOP(idx, n) {
    const int x = idx % Wf;
    int64_t t = idx / Wf;
    const int y = t % Hf;
    t /= Hf;
    const int c = t % C;
    const int b = t / C;
    const scalar_t* f = flow + static_cast<int64_t>(b) * 2 * fplane + y * Wf + x;
    const auto tp = make_taps<acc_t>(x + static_cast<acc_t>(f[0]), y + static_cast<acc_t>(f[fplane]), H, W);
    const acc_t g = static_cast<acc_t>(grad_out[idx]);
    acc_t* gi = grad1 + (static_cast<int64_t>(b) * C + c) * H * W;
    gpuAtomicAdd(gi + tp.y0 * W + tp.x0, (1 - tp.ax) * (1 - tp.ay) * g);
    gpuAtomicAdd(gi + tp.y0 * W + tp.x1, tp.ax * (1 - tp.ay) * g);
    gpuAtomicAdd(gi + tp.y1 * W + tp.x0, (1 - tp.ax) * tp.ay * g);
    gpuAtomicAdd(gi + tp.y1 * W + tp.x1, tp.ax * tp.ay * g);
  }
}

// Flow gradient: derivative of the bilinear weights; zero along an axis whose two
// neighbours were clamped onto one pixel (as grid_sample's border mode).
template <typename scalar_t>
__global__ void resample2d_backward_flow_kernel(const scalar_t* __restrict__ grad_out,
                                                const scalar_t* __restrict__ in1,
                                                const scalar_t* __restrict__ flow,
                                                scalar_t* __restrict__ grad_flow, int B, int C,
                                                int H, int W, int Hf, int Wf) {
  using acc_t = at::acc_type<scalar_t, true>;
  const int64_t n = static_cast<int64_t>(B) * Hf * Wf;
  const int64_t fplane = static_cast<int64_t>(Hf) * Wf;
  FLOWNET2_KERNEL_LOOP(idx, n) {
    const int x = idx % Wf;
    const int y = (idx / Wf) % Hf;
    const int b = idx / fplane;
    const int64_t pix = static_cast<int64_t>(y) * Wf + x;
    const scalar_t* f = flow + static_cast<int64_t>(b) * 2 * fplane + pix;
    const auto tp = make_taps<acc_t>(x + static_cast<acc_t>(f[0]), y + static_cast<acc_t>(f[fplane]), H, W);
    acc_t gx = 0, gy = 0;
    for (int c = 0; c < C; ++c) {
      const scalar_t* img = in1 + (static_cast<int64_t>(b) * C + c) * H * W;
      const acc_t g = static_cast<acc_t>(grad_out[(static_cast<int64_t>(b) * C + c) * fplane + pix]);
      const acc_t tl = static_cast<acc_t>(img[tp.y0 * W + tp.x0]);
      const acc_t tr = static_cast<acc_t>(img[tp.y0 * W + tp.x1]);
      const acc_t bl = static_cast<acc_t>(img[tp.y1 * W + tp.x0]);
      const acc_t br = static_cast<acc_t>(img[tp.y1 * W + tp.x1]);
      gx += g * ((1 - tp.ay) * (tr - tl) + tp.ay * (br - bl));
      gy += g * ((1 - tp.ax) * (bl - tl) + tp.ax * (br - tr));
    }
    grad_flow[static_cast<int64_t>(b) * 2 * fplane + pix] = static_cast<scalar_t>(gx);
    grad_flow[static_cast<int64_t>(b) * 2 * fplane + fplane + pix] = static_cast<scalar_t>(gy);
  }
}

}  // namespace

at::Tensor resample2d_forward_cuda(const at::Tensor& input1, const at::Tensor& flow) {
  const at::cuda::OptionalCUDAGuard guard(device_of(input1));
  const int B = input1.size(0), C = input1.size(1), H = input1.size(2), W = input1.size(3);
  const int Hf = flow.size(2), Wf = flow.size(3);
  auto out = at::empty({B, C, Hf, Wf}, input1.options());
  const int64_t n = out.numel();
  if (n == 0 || H == 0 || W == 0) return out.zero_();
  auto stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::ScalarType::Half, at::ScalarType::BFloat16, input1.scalar_type(),
      "resample2d_forward_cuda", [&] {
        resample2d_forward_kernel<scalar_t><<<num_blocks(n), kThreads, 0, stream>>>(
            input1.data_ptr<scalar_t>(), flow.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(),
            B, C, H, W, Hf, Wf);
      });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return out;
}

std::vector<at::Tensor> resample2d_backward_cuda(const at::Tensor& grad_out,
                                                 const at::Tensor& input1,
                                                 const at::Tensor& flow) {
  const at::cuda::OptionalCUDAGuard guard(device_of(input1));
  const int B = input1.size(0), C = input1.size(1), H = input1.size(2), W = input1.size(3);
  const int Hf = flow.size(2), Wf = flow.size(3);
  auto grad_flow = at::zeros_like(flow);
  const auto acc_type = at::toAccumulateType(input1.scalar_type(), /*is_cuda=*/true);
  auto grad1_acc = at::zeros(input1.sizes(), input1.options().dtype(acc_type));
  const int64_t n = grad_out.numel();
  if (n == 0 || H == 0 || W == 0) return {grad1_acc.to(input1.scalar_type()), grad_flow};
  auto stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::ScalarType::Half, at::ScalarType::BFloat16, input1.scalar_type(),
      "resample2d_backward_cuda", [&] {
        using acc_t = at::acc_type<scalar_t, true>;
        resample2d_backward_input_kernel<scalar_t, acc_t><<<num_blocks(n), kThreads, 0, stream>>>(
            grad_out.data_ptr<scalar_t>(), flow.data_ptr<scalar_t>(),
            grad1_acc.data_ptr<acc_t>(), B, C, H, W, Hf, Wf);
        C10_CUDA_KERNEL_LAUNCH_CHECK();
        const int64_t m = static_cast<int64_t>(B) * Hf * Wf;
        resample2d_backward_flow_kernel<scalar_t><<<num_blocks(m), kThreads, 0, stream>>>(
            grad_out.data_ptr<scalar_t>(), input1.data_ptr<scalar_t>(),
            flow.data_ptr<scalar_t>(), grad_flow.data_ptr<scalar_t>(), B, C, H, W, Hf, Wf);
        C10_CUDA_KERNEL_LAUNCH_CHECK();
      });
  return {grad1_acc.to(input1.scalar_type()), grad_flow};
}

}  // namespace flownet2
