// CUDA launch of the correlation: one thread per element, the per-element arithmetic
// of correlation_kernel.h (the same functions the CPU target runs in CI).
#include "common.cuh"
#include "correlation_kernel.h"
#include "ops.h"

#include <vector>

namespace flownet2 {
namespace {

template <typename scalar_t>
__global__ void correlation_forward_kernel(const scalar_t* __restrict__ in1,
                                           const scalar_t* __restrict__ in2,
                                           scalar_t* __restrict__ out, CorrGeometry g,
                                           int64_t n) {
  FLOWNET2_KERNEL_LOOP(idx, n) { out[idx] = correlation_forward_element(in1, in2, g, idx); }
}

template <typename scalar_t>
__global__ void correlation_backward_kernel(const scalar_t* __restrict__ grad_out,
                                            const scalar_t* __restrict__ in1,
                                            const scalar_t* __restrict__ in2,
                                            scalar_t* __restrict__ grad1,
                                            scalar_t* __restrict__ grad2, CorrGeometry g,
                                            int64_t n) {
  FLOWNET2_KERNEL_LOOP(idx, n) {
    correlation_backward_element(grad_out, in1, in2, grad1, grad2, g, idx);
  }
}

}  // namespace

at::Tensor correlation_forward_cuda(const at::Tensor& input1, const at::Tensor& input2,
                                    int64_t pad_size, int64_t max_displacement,
                                    int64_t stride2) {
  const at::cuda::OptionalCUDAGuard guard(device_of(input1));
  const CorrGeometry g = corr_geometry(input1.sizes(), pad_size, max_displacement, stride2);
  auto out = at::empty({g.B, corr_channels(g), g.Ho, g.Wo}, input1.options());
  FLOWNET2_DISPATCH_FLOATING_TYPES(input1.scalar_type(), "correlation_forward_cuda", [&] {
    launch(correlation_forward_kernel<scalar_t>, out.numel(), input1.const_data_ptr<scalar_t>(),
           input2.const_data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), g);
  });
  return out;
}

std::vector<at::Tensor> correlation_backward_cuda(const at::Tensor& grad_out,
                                                  const at::Tensor& input1,
                                                  const at::Tensor& input2, int64_t pad_size,
                                                  int64_t max_displacement, int64_t stride2) {
  const at::cuda::OptionalCUDAGuard guard(device_of(input1));
  const CorrGeometry g = corr_geometry(input1.sizes(), pad_size, max_displacement, stride2);
  auto grad1 = at::empty_like(input1);
  auto grad2 = at::empty_like(input2);
  FLOWNET2_DISPATCH_FLOATING_TYPES(input1.scalar_type(), "correlation_backward_cuda", [&] {
    launch(correlation_backward_kernel<scalar_t>, input1.numel(),
           grad_out.const_data_ptr<scalar_t>(), input1.const_data_ptr<scalar_t>(),
           input2.const_data_ptr<scalar_t>(), grad1.data_ptr<scalar_t>(),
           grad2.data_ptr<scalar_t>(), g);
  });
  return {grad1, grad2};
}

}  // namespace flownet2
