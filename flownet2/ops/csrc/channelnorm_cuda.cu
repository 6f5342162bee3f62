// ChannelNorm: out[b, 0, y, x] = sqrt(sum_c in[b, c, y, x]^2), accumulated in float
// (double for double); the gradient at a zero vector is taken as zero.
#include "common.cuh"

namespace flownet2 {
namespace {

template <typename scalar_t>
__global__ void channelnorm_forward_kernel(const scalar_t* __restrict__ in,
                                           scalar_t* __restrict__ out, int B, int C,
                                           int64_t plane) {
  using acc_t = at::acc_type<scalar_t, true>;
  const int64_t n = static_cast<int64_t>(B) * plane;
  FLOWNET2_KERNEL_LOOP(idx, n) {
    const int64_t b = idx / plane, p = idx % plane;
    const scalar_t* src = in + b * C * plane + p;
    acc_t sum = 0;
    for (int c = 0; c < C; ++c) {
      const acc_t v = static_cast<acc_t>(src[c * plane]);
      sum += v * v;
    }
    out[idx] = static_cast<scalar_t>(sqrt(sum));
  }
}

template <typename scalar_t>
__global__ void channelnorm_backward_kernel(const scalar_t* __restrict__ grad_out,
                                            const scalar_t* __restrict__ in,
                                            const scalar_t* __restrict__ out,
                                            scalar_t* __restrict__ grad_in, int B, int C,
                                            int64_t plane) {
  using acc_t = at::acc_type<scalar_t, true>;
  const int64_t n = static_cast<int64_t>(B) * C * plane;
  FLOWNET2_KERNEL_LOOP(idx, n) {
    const int64_t p = idx % plane, b = idx / (C * plane);
    const acc_t norm = static_cast<acc_t>(out[b * plane + p]);
    const acc_t g = static_cast<acc_t>(grad_out[b * plane + p]);
    grad_in[idx] = norm > 0 ? static_cast<scalar_t>(g * static_cast<acc_t>(in[idx]) / norm)
                            : static_cast<scalar_t>(0);
  }
}

}  // namespace

at::Tensor channelnorm_forward_cuda(const at::Tensor& input1) {
  const at::cuda::OptionalCUDAGuard guard(device_of(input1));
  const int B = input1.size(0), C = input1.size(1);
  const int64_t plane = input1.size(2) * input1.size(3);
  auto out = at::empty({B, 1, input1.size(2), input1.size(3)}, input1.options());
  const int64_t n = out.numel();
  if (n == 0) return out;
  auto stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::ScalarType::Half, at::ScalarType::BFloat16, input1.scalar_type(),
      "channelnorm_forward_cuda", [&] {
        channelnorm_forward_kernel<scalar_t><<<num_blocks(n), kThreads, 0, stream>>>(
            input1.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), B, C, plane);
      });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return out;
}

at::Tensor channelnorm_backward_cuda(const at::Tensor& grad_out, const at::Tensor& input1,
                                     const at::Tensor& output) {
  const at::cuda::OptionalCUDAGuard guard(device_of(input1));
  const int B = input1.size(0), C = input1.size(1);
  const int64_t plane = input1.size(2) * input1.size(3);
  auto grad_in = at::empty_like(input1);
  const int64_t n = grad_in.numel();
  if (n == 0) return grad_in;
  auto stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::ScalarType::Half, at::ScalarType::BFloat16, input1.scalar_type(),
      "channelnorm_backward_cuda", [&] {
        channelnorm_backward_kernel<scalar_t><<<num_blocks(n), kThreads, 0, stream>>>(
            grad_out.data_ptr<scalar_t>(), input1.data_ptr<scalar_t>(),
            output.data_ptr<scalar_t>(), grad_in.data_ptr<scalar_t>(), B, C, plane);
      });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return grad_in;
}

}  // namespace flownet2
