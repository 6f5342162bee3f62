// The op entry points of each target; flownet2_ops.cpp checks arguments and picks one.
// All tensors are contiguous, 4-D, of one dtype and one device (checked by the caller).
#pragma once

#include <ATen/Dispatch.h>
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

// The dtypes every op takes (half and bfloat16 are computed in opmath_t, kernel_common.h).
#define FLOWNET2_DISPATCH_FLOATING_TYPES(type, name, ...)                                   \
  AT_DISPATCH_FLOATING_TYPES_AND2(at::ScalarType::Half, at::ScalarType::BFloat16, type, name, \
                                  __VA_ARGS__)

// The entry points of one target, <op>_<forward|backward>_<device> (device: cpu or cuda).
#define FLOWNET2_DECLARE_OPS(device)                                                            \
  at::Tensor correlation_forward_##device(const at::Tensor& input1, const at::Tensor& input2,    \
                                          int64_t pad_size, int64_t max_displacement,           \
                                          int64_t stride2);                                     \
  std::vector<at::Tensor> correlation_backward_##device(                                        \
      const at::Tensor& grad_out, const at::Tensor& input1, const at::Tensor& input2,           \
      int64_t pad_size, int64_t max_displacement, int64_t stride2);                             \
  at::Tensor resample2d_forward_##device(const at::Tensor& input1, const at::Tensor& flow);     \
  std::vector<at::Tensor> resample2d_backward_##device(                                         \
      const at::Tensor& grad_out, const at::Tensor& input1, const at::Tensor& flow);            \
  at::Tensor channelnorm_forward_##device(const at::Tensor& input1);                            \
  at::Tensor channelnorm_backward_##device(const at::Tensor& grad_out, const at::Tensor& input1, \
                                           const at::Tensor& output);

namespace flownet2 {

FLOWNET2_DECLARE_OPS(cpu)
#ifdef FLOWNET2_WITH_CUDA
FLOWNET2_DECLARE_OPS(cuda)
#endif

}  // namespace flownet2
