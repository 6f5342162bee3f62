// The op entry points of each target; flownet2_ops.cpp checks arguments and picks one.
// All tensors are contiguous, 4-D, of one dtype and one device (checked by the caller).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace flownet2 {

at::Tensor correlation_forward_cpu(const at::Tensor& input1, const at::Tensor& input2,
                                   int64_t pad_size, int64_t max_displacement, int64_t stride2);
std::vector<at::Tensor> correlation_backward_cpu(const at::Tensor& grad_out,
                                                 const at::Tensor& input1,
                                                 const at::Tensor& input2, int64_t pad_size,
                                                 int64_t max_displacement, int64_t stride2);
at::Tensor resample2d_forward_cpu(const at::Tensor& input1, const at::Tensor& flow);
std::vector<at::Tensor> resample2d_backward_cpu(const at::Tensor& grad_out,
                                                const at::Tensor& input1, const at::Tensor& flow);
at::Tensor channelnorm_forward_cpu(const at::Tensor& input1);
at::Tensor channelnorm_backward_cpu(const at::Tensor& grad_out, const at::Tensor& input1,
                                    const at::Tensor& output);

#ifdef FLOWNET2_WITH_CUDA
at::Tensor correlation_forward_cuda(const at::Tensor& input1, const at::Tensor& input2,
                                    int64_t pad_size, int64_t max_displacement, int64_t stride2);
std::vector<at::Tensor> correlation_backward_cuda(const at::Tensor& grad_out,
                                                  const at::Tensor& input1,
                                                  const at::Tensor& input2, int64_t pad_size,
                                                  int64_t max_displacement, int64_t stride2);
at::Tensor resample2d_forward_cuda(const at::Tensor& input1, const at::Tensor& flow);
std::vector<at::Tensor> resample2d_backward_cuda(const at::Tensor& grad_out,
                                                 const at::Tensor& input1, const at::Tensor& flow);
at::Tensor channelnorm_forward_cuda(const at::Tensor& input1);
at::Tensor channelnorm_backward_cuda(const at::Tensor& grad_out, const at::Tensor& input1,
                                     const at::Tensor& output);
#endif

}  // namespace flownet2
