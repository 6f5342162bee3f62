// CUDA launch of channelnorm: one thread per element, the per-element arithmetic of
// channelnorm_kernel.h (the same functions the CPU target runs in CI).
#include "channelnorm_kernel.h"
#include "common.cuh"
#include "ops.h"

namespace flownet2 {
namespace {

template <typename scalar_t>
__global__ void channelnorm_forward_kernel(const scalar_t* __restrict__ in,
                                           scalar_t* __restrict__ out, int C, int64_t plane,
                                           int64_t n) {
  FLOWNET2_KERNEL_LOOP(idx, n) { out[idx] = channelnorm_forward_element(in, C, plane, idx); }
}

template <typename scalar_t>
__global__ void channelnorm_backward_kernel(const scalar_t* __restrict__ grad_out,
                                            const scalar_t* __restrict__ in,
                                            const scalar_t* __restrict__ out,
                                            scalar_t* __restrict__ grad_in, int C, int64_t plane,
                                            int64_t n) {
  FLOWNET2_KERNEL_LOOP(idx, n) {
    grad_in[idx] = channelnorm_backward_element(grad_out, in, out, C, plane, idx);
  }
}

}  // namespace

at::Tensor channelnorm_forward_cuda(const at::Tensor& input1) {
  const at::cuda::OptionalCUDAGuard guard(device_of(input1));
  const int C = input1.size(1);
  const int64_t plane = input1.size(2) * input1.size(3);
  auto out = at::empty({input1.size(0), 1, input1.size(2), input1.size(3)}, input1.options());
  FLOWNET2_DISPATCH_FLOATING_TYPES(input1.scalar_type(), "channelnorm_forward_cuda", [&] {
    launch(channelnorm_forward_kernel<scalar_t>, out.numel(), input1.const_data_ptr<scalar_t>(),
           out.data_ptr<scalar_t>(), C, plane);
  });
  return out;
}

at::Tensor channelnorm_backward_cuda(const at::Tensor& grad_out, const at::Tensor& input1,
                                     const at::Tensor& output) {
  const at::cuda::OptionalCUDAGuard guard(device_of(input1));
  const int C = input1.size(1);
  const int64_t plane = input1.size(2) * input1.size(3);
  auto grad_in = at::empty_like(input1);
  FLOWNET2_DISPATCH_FLOATING_TYPES(input1.scalar_type(), "channelnorm_backward_cuda", [&] {
    launch(channelnorm_backward_kernel<scalar_t>, grad_in.numel(),
           grad_out.const_data_ptr<scalar_t>(), input1.const_data_ptr<scalar_t>(),
           output.const_data_ptr<scalar_t>(), grad_in.data_ptr<scalar_t>(), C, plane);
  });
  return grad_in;
}

}  // namespace flownet2
