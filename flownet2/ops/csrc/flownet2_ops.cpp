// Python bindings of the FlowNet2 ops: argument checks, then the CPU or the CUDA target
// by the tensors' device. Built twice: flownet2_ops_cpu (this file + cpu_kernels.cpp,
// any C++ compiler) and flownet2_ops_cuda (plus the *.cu files, with FLOWNET2_WITH_CUDA).
#include <torch/extension.h>

#include <algorithm>
#include <vector>

#include "correlation_kernel.h"
#include "ops.h"

namespace flownet2 {
namespace {

void check(const at::Tensor& t, const at::Tensor& like, const char* name) {
  TORCH_CHECK(t.dim() == 4, name, " must be 4-D (B, C, H, W), got ", t.dim(), "-D");
  TORCH_CHECK(t.is_contiguous(), name, " must be contiguous");
  TORCH_CHECK(t.scalar_type() == like.scalar_type(), name, " has dtype ", t.scalar_type(),
              ", expected ", like.scalar_type());
  TORCH_CHECK(t.device() == like.device(), name, " is on ", t.device(), ", expected ",
              like.device());
#ifdef FLOWNET2_WITH_CUDA
  TORCH_CHECK(t.is_cuda() || t.is_cpu(), name, " must be a CPU or CUDA tensor, got ", t.device());
#else
  TORCH_CHECK(t.is_cpu(), name, " is on ", t.device(),
              ": this build (flownet2_ops_cpu) has only the CPU kernels");
#endif
}

void check_correlation(const at::Tensor& input1, const at::Tensor& input2, int64_t pad_size,
                       int64_t max_displacement, int64_t stride2) {
  check(input1, input1, "input1");
  check(input2, input1, "input2");
  TORCH_CHECK(input1.sizes() == input2.sizes(), "correlation: input shapes differ");
  TORCH_CHECK(stride2 >= 1 && max_displacement >= 0 && pad_size >= 0,
              "correlation: invalid pad_size/max_displacement/stride2");
  TORCH_CHECK(std::min(input1.size(2), input1.size(3)) + 2 * pad_size - 2 * max_displacement >= 1,
              "correlation: input too small for pad_size and max_displacement");
}

void check_resample2d(const at::Tensor& input1, const at::Tensor& flow) {
  check(input1, input1, "input1");
  check(flow, input1, "flow");
  TORCH_CHECK(flow.size(1) == 2 && flow.size(0) == input1.size(0),
              "resample2d: flow must be (B, 2, H, W)");
}

// The CUDA entry point for CUDA tensors (only in the CUDA build), else the CPU one.
#ifdef FLOWNET2_WITH_CUDA
#define FLOWNET2_PICK(t, op, ...) ((t).is_cuda() ? op##_cuda(__VA_ARGS__) : op##_cpu(__VA_ARGS__))
#else
#define FLOWNET2_PICK(t, op, ...) op##_cpu(__VA_ARGS__)
#endif

at::Tensor correlation_forward(const at::Tensor& input1, const at::Tensor& input2,
                               int64_t pad_size, int64_t max_displacement, int64_t stride2) {
  check_correlation(input1, input2, pad_size, max_displacement, stride2);
  return FLOWNET2_PICK(input1, correlation_forward, input1, input2, pad_size, max_displacement,
                       stride2);
}

std::vector<at::Tensor> correlation_backward(const at::Tensor& grad_out, const at::Tensor& input1,
                                             const at::Tensor& input2, int64_t pad_size,
                                             int64_t max_displacement, int64_t stride2) {
  check_correlation(input1, input2, pad_size, max_displacement, stride2);
  check(grad_out, input1, "grad_output");
  const CorrGeometry g = corr_geometry(input1.sizes(), pad_size, max_displacement, stride2);
  TORCH_CHECK(grad_out.sizes() == c10::IntArrayRef({g.B, corr_channels(g), g.Ho, g.Wo}),
              "correlation: grad_output has shape ", grad_out.sizes(), ", not the output's");
  return FLOWNET2_PICK(input1, correlation_backward, grad_out, input1, input2, pad_size,
                       max_displacement, stride2);
}

at::Tensor resample2d_forward(const at::Tensor& input1, const at::Tensor& flow) {
  check_resample2d(input1, flow);
  return FLOWNET2_PICK(input1, resample2d_forward, input1, flow);
}

std::vector<at::Tensor> resample2d_backward(const at::Tensor& grad_out, const at::Tensor& input1,
                                            const at::Tensor& flow) {
  check_resample2d(input1, flow);
  check(grad_out, input1, "grad_output");
  TORCH_CHECK(grad_out.size(0) == input1.size(0) && grad_out.size(1) == input1.size(1) &&
                  grad_out.size(2) == flow.size(2) && grad_out.size(3) == flow.size(3),
              "resample2d: grad_output has shape ", grad_out.sizes(), ", not the output's");
  return FLOWNET2_PICK(input1, resample2d_backward, grad_out, input1, flow);
}

at::Tensor channelnorm_forward(const at::Tensor& input1) {
  check(input1, input1, "input1");
  return FLOWNET2_PICK(input1, channelnorm_forward, input1);
}

at::Tensor channelnorm_backward(const at::Tensor& grad_out, const at::Tensor& input1,
                                const at::Tensor& output) {
  check(input1, input1, "input1");
  check(grad_out, input1, "grad_output");
  check(output, input1, "output");
  TORCH_CHECK(grad_out.sizes() == output.sizes() && output.size(0) == input1.size(0) &&
                  output.size(1) == 1 && output.size(2) == input1.size(2) &&
                  output.size(3) == input1.size(3),
              "channelnorm: grad_output and output must be (B, 1, H, W)");
  return FLOWNET2_PICK(input1, channelnorm_backward, grad_out, input1, output);
}

}  // namespace
}  // namespace flownet2

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
#ifdef FLOWNET2_WITH_CUDA
  m.attr("with_cuda") = true;
#else
  m.attr("with_cuda") = false;
#endif
  m.def("correlation_forward", &flownet2::correlation_forward, "Correlation forward");
  m.def("correlation_backward", &flownet2::correlation_backward, "Correlation backward");
  m.def("resample2d_forward", &flownet2::resample2d_forward, "Resample2d forward");
  m.def("resample2d_backward", &flownet2::resample2d_backward, "Resample2d backward");
  m.def("channelnorm_forward", &flownet2::channelnorm_forward, "ChannelNorm forward");
  m.def("channelnorm_backward", &flownet2::channelnorm_backward, "ChannelNorm backward");
}
