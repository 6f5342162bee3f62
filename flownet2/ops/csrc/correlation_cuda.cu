// FlowNetC correlation, kernel_size 1, stride1 1 (NVIDIA flownet2-pytorch semantics):
//   out[b, (j+R)*D + (i+R), y, x] = sum_c in1[b,c,y+o,x+o] * in2[b,c,y+o+j*s2,x+o+i*s2] / C
// with o = max_displacement - pad_size, R = max_displacement / stride2, D = 2R+1, and zero
// outside the images. Products are accumulated in float (double for double inputs).
#include "common.cuh"

#include <vector>

namespace flownet2 {
namespace {

template <typename scalar_t>
__global__ void correlation_forward_kernel(const scalar_t* __restrict__ in1,
                                           const scalar_t* __restrict__ in2,
                                           scalar_t* __restrict__ out, int B, int C, int H,
                                           int W, int Ho, int Wo, int offset, int radius,
                                           int stride2) {
  using acc_t = at::acc_type<scalar_t, true>;
  const int D = 2 * radius + 1;
  const int64_t n = static_cast<int64_t>(B) * D * D * Ho * Wo;
  const int64_t plane = static_cast<int64_t>(H) * W;
  FLOWNET2_KERNEL_LOOP(idx, n) {
    const int x = idx % Wo;
    int64_t t = idx / Wo;
    const int y = t % Ho;
    t /= Ho;
    const int k = t % (D * D);
    const int b = t / (D * D);
    const int y1 = y + offset, x1 = x + offset;
    const int y2 = y1 + (k / D - radius) * stride2, x2 = x1 + (k % D - radius) * stride2;
    acc_t sum = 0;
    if (y1 >= 0 && y1 < H && x1 >= 0 && x1 < W && y2 >= 0 && y2 < H && x2 >= 0 && x2 < W) {
      const scalar_t* p1 = in1 + b * C * plane + static_cast<int64_t>(y1) * W + x1;
      const scalar_t* p2 = in2 + b * C * plane + static_cast<int64_t>(y2) * W + x2;
      for (int c = 0; c < C; ++c) {
        sum += static_cast<acc_t>(p1[c * plane]) * static_cast<acc_t>(p2[c * plane]);
      }
    }
    out[idx] = static_cast<scalar_t>(sum / C);
  }
}

// Gather form (no atomics): each thread owns one element of grad_in1 or grad_in2.
template <typename scalar_t>
__global__ void correlation_backward_kernel(const scalar_t* __restrict__ grad_out,
                                            const scalar_t* __restrict__ in1,
                                            const scalar_t* __restrict__ in2,
                                            scalar_t* __restrict__ grad1,
                                            scalar_t* __restrict__ grad2, int B, int C, int H,
                                            int W, int Ho, int Wo, int offset, int radius,
                                            int stride2) {
  using acc_t = at::acc_type<scalar_t, true>;
  const int D = 2 * radius + 1;
  const int64_t n = static_cast<int64_t>(B) * C * H * W;
  const int64_t out_plane = static_cast<int64_t>(Ho) * Wo;
  FLOWNET2_KERNEL_LOOP(idx, n) {
    const int x = idx % W;
    int64_t t = idx / W;
    const int y = t % H;
    t /= H;
    const int c = t % C;
    const int b = t / C;
    const scalar_t* g = grad_out + static_cast<int64_t>(b) * D * D * out_plane;
    const scalar_t* p1 = in1 + (static_cast<int64_t>(b) * C + c) * H * W;
    const scalar_t* p2 = in2 + (static_cast<int64_t>(b) * C + c) * H * W;
    acc_t sum1 = 0, sum2 = 0;
    for (int k = 0; k < D * D; ++k) {
      const int dy = (k / D - radius) * stride2, dx = (k % D - radius) * stride2;
      if (grad1 != nullptr) {
        // (y, x) as the frame-0 pixel of output (y - o, x - o).
        const int yo = y - offset, xo = x - offset, y2 = y + dy, x2 = x + dx;
        if (yo >= 0 && yo < Ho && xo >= 0 && xo < Wo && y2 >= 0 && y2 < H && x2 >= 0 && x2 < W) {
          sum1 += static_cast<acc_t>(g[k * out_plane + yo * Wo + xo]) *
                  static_cast<acc_t>(p2[y2 * W + x2]);
        }
      }
      if (grad2 != nullptr) {
        // (y, x) as the frame-1 pixel of output (y - o - dy, x - o - dx).
        const int y1 = y - dy, x1 = x - dx, yo = y1 - offset, xo = x1 - offset;
        if (yo >= 0 && yo < Ho && xo >= 0 && xo < Wo && y1 >= 0 && y1 < H && x1 >= 0 && x1 < W) {
          sum2 += static_cast<acc_t>(g[k * out_plane + yo * Wo + xo]) *
                  static_cast<acc_t>(p1[y1 * W + x1]);
        }
      }
    }
    if (grad1 != nullptr) grad1[idx] = static_cast<scalar_t>(sum1 / C);
    if (grad2 != nullptr) grad2[idx] = static_cast<scalar_t>(sum2 / C);
  }
}

}  // namespace

at::Tensor correlation_forward_cuda(const at::Tensor& input1, const at::Tensor& input2,
                                    int64_t pad_size, int64_t max_displacement,
                                    int64_t stride2) {
  const at::cuda::OptionalCUDAGuard guard(device_of(input1));
  const int B = input1.size(0), C = input1.size(1), H = input1.size(2), W = input1.size(3);
  const int radius = max_displacement / stride2, D = 2 * radius + 1;
  const int Ho = H + 2 * pad_size - 2 * max_displacement;
  const int Wo = W + 2 * pad_size - 2 * max_displacement;
  auto out = at::empty({B, D * D, Ho, Wo}, input1.options());
  const int64_t n = out.numel();
  if (n == 0) return out;
  auto stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::ScalarType::Half, at::ScalarType::BFloat16, input1.scalar_type(),
      "correlation_forward_cuda", [&] {
        correlation_forward_kernel<scalar_t><<<num_blocks(n), kThreads, 0, stream>>>(
            input1.data_ptr<scalar_t>(), input2.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(),
            B, C, H, W, Ho, Wo, max_displacement - pad_size, radius, stride2);
      });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return out;
}

std::vector<at::Tensor> correlation_backward_cuda(const at::Tensor& grad_out,
                                                  const at::Tensor& input1,
                                                  const at::Tensor& input2, int64_t pad_size,
                                                  int64_t max_displacement, int64_t stride2) {
  const at::cuda::OptionalCUDAGuard guard(device_of(input1));
  const int B = input1.size(0), C = input1.size(1), H = input1.size(2), W = input1.size(3);
  const int Ho = grad_out.size(2), Wo = grad_out.size(3);
  auto grad1 = at::empty_like(input1);
  auto grad2 = at::empty_like(input2);
  const int64_t n = input1.numel();
  if (n == 0) return {grad1.zero_(), grad2.zero_()};
  auto stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::ScalarType::Half, at::ScalarType::BFloat16, input1.scalar_type(),
      "correlation_backward_cuda", [&] {
        correlation_backward_kernel<scalar_t><<<num_blocks(n), kThreads, 0, stream>>>(
            grad_out.data_ptr<scalar_t>(), input1.data_ptr<scalar_t>(),
            input2.data_ptr<scalar_t>(), grad1.data_ptr<scalar_t>(), grad2.data_ptr<scalar_t>(),
            B, C, H, W, Ho, Wo, max_displacement - pad_size, max_displacement / stride2,
            stride2);
      });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return {grad1, grad2};
}

}  // namespace flownet2
