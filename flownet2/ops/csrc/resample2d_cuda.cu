// CUDA launch of resample2d: one thread per element, the per-element arithmetic of
// resample2d_kernel.h (the same functions the CPU target runs in CI). The input
// gradient is a scatter, accumulated with atomics into an opmath_t buffer.
#include "common.cuh"
#include "ops.h"
#include "resample2d_kernel.h"

#include <ATen/OpMathType.h>
#include <ATen/cuda/Atomic.cuh>

#include <vector>

namespace flownet2 {
namespace {

template <typename scalar_t>
__global__ void resample2d_forward_kernel(const scalar_t* __restrict__ in1,
                                          const scalar_t* __restrict__ flow,
                                          scalar_t* __restrict__ out, ResampleGeometry g,
                                          int64_t n) {
  FLOWNET2_KERNEL_LOOP(idx, n) { out[idx] = resample2d_forward_element(in1, flow, g, idx); }
}

template <typename scalar_t, typename acc_t>
__global__ void resample2d_backward_input_kernel(const scalar_t* __restrict__ grad_out,
                                                 const scalar_t* __restrict__ flow,
                                                 acc_t* __restrict__ grad1, ResampleGeometry g,
                                                 int64_t n) {
  FLOWNET2_KERNEL_LOOP(idx, n) {
    const auto s = resample2d_backward_input_element(grad_out, flow, g, idx);
#pragma unroll
    for (int k = 0; k < 4; ++k) gpuAtomicAdd(grad1 + s.offset[k], s.value[k]);
  }
}

template <typename scalar_t>
__global__ void resample2d_backward_flow_kernel(const scalar_t* __restrict__ grad_out,
                                                const scalar_t* __restrict__ in1,
                                                const scalar_t* __restrict__ flow,
                                                scalar_t* __restrict__ grad_flow,
                                                ResampleGeometry g, int64_t n) {
  FLOWNET2_KERNEL_LOOP(pix, n) {
    resample2d_backward_flow_element(grad_out, in1, flow, grad_flow, g, pix);
  }
}

}  // namespace

at::Tensor resample2d_forward_cuda(const at::Tensor& input1, const at::Tensor& flow) {
  const at::cuda::OptionalCUDAGuard guard(device_of(input1));
  const ResampleGeometry g = resample_geometry(input1.sizes(), flow.sizes());
  auto out = at::empty({g.B, g.C, g.Hf, g.Wf}, input1.options());
  if (out.numel() == 0 || g.H == 0 || g.W == 0) return out.zero_();
  FLOWNET2_DISPATCH_FLOATING_TYPES(input1.scalar_type(), "resample2d_forward_cuda", [&] {
    launch(resample2d_forward_kernel<scalar_t>, out.numel(), input1.const_data_ptr<scalar_t>(),
           flow.const_data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), g);
  });
  return out;
}

std::vector<at::Tensor> resample2d_backward_cuda(const at::Tensor& grad_out,
                                                 const at::Tensor& input1,
                                                 const at::Tensor& flow) {
  const at::cuda::OptionalCUDAGuard guard(device_of(input1));
  const ResampleGeometry g = resample_geometry(input1.sizes(), flow.sizes());
  auto grad_flow = at::zeros_like(flow);
  const auto acc_type = at::toOpMathType(input1.scalar_type());
  auto grad1_acc = at::zeros(input1.sizes(), input1.options().dtype(acc_type));
  if (grad_out.numel() == 0 || g.H == 0 || g.W == 0) {
    return {grad1_acc.to(input1.scalar_type()), grad_flow};
  }
  FLOWNET2_DISPATCH_FLOATING_TYPES(input1.scalar_type(), "resample2d_backward_cuda", [&] {
    using acc_t = opmath_t<scalar_t>;
    launch(resample2d_backward_input_kernel<scalar_t, acc_t>, grad_out.numel(),
           grad_out.const_data_ptr<scalar_t>(), flow.const_data_ptr<scalar_t>(),
           grad1_acc.data_ptr<acc_t>(), g);
    launch(resample2d_backward_flow_kernel<scalar_t>, static_cast<int64_t>(g.B) * g.Hf * g.Wf,
           grad_out.const_data_ptr<scalar_t>(), input1.const_data_ptr<scalar_t>(),
           flow.const_data_ptr<scalar_t>(), grad_flow.data_ptr<scalar_t>(), g);
  });
  return {grad1_acc.to(input1.scalar_type()), grad_flow};
}

}  // namespace flownet2
