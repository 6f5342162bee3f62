// Python bindings of the FlowNet2 CUDA ops; argument checks live here, kernels in *.cu.
#include <torch/extension.h>

#include <vector>

namespace flownet2 {

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

namespace {

void check(const at::Tensor& t, const at::Tensor& like, const char* name) {
  TORCH_CHECK(t.is_cuda(), name, " must be a CUDA tensor");
  TORCH_CHECK(t.dim() == 4, name, " must be 4-D (B, C, H, W), got ", t.dim(), "-D");
  TORCH_CHECK(t.is_contiguous(), name, " must be contiguous");
  TORCH_CHECK(t.scalar_type() == like.scalar_type(), name, " has dtype ", t.scalar_type(),
              ", expected ", like.scalar_type());
  TORCH_CHECK(t.device() == like.device(), name, " is on ", t.device(), ", expected ",
              like.device());
}

void check_corr_geometry(const at::Tensor& input1, int64_t pad_size, int64_t max_displacement,
                         int64_t stride2) {
  TORCH_CHECK(stride2 >= 1 && max_displacement >= 0 && pad_size >= 0,
              "correlation: invalid pad_size/max_displacement/stride2");
  TORCH_CHECK(std::min(input1.size(2), input1.size(3)) + 2 * pad_size - 2 * max_displacement >= 1,
              "correlation: input too small for pad_size and max_displacement");
}

at::Tensor correlation_forward(const at::Tensor& input1, const at::Tensor& input2,
                               int64_t pad_size, int64_t max_displacement, int64_t stride2) {
  check(input1, input1, "input1");
  check(input2, input1, "input2");
  TORCH_CHECK(input1.sizes() == input2.sizes(), "correlation: input shapes differ");
  check_corr_geometry(input1, pad_size, max_displacement, stride2);
  return correlation_forward_cuda(input1, input2, pad_size, max_displacement, stride2);
}

std::vector<at::Tensor> correlation_backward(const at::Tensor& grad_out, const at::Tensor& input1,
                                             const at::Tensor& input2, int64_t pad_size,
                                             int64_t max_displacement, int64_t stride2) {
  check(input1, input1, "input1");
  check(input2, input1, "input2");
  check(grad_out, input1, "grad_output");
  check_corr_geometry(input1, pad_size, max_displacement, stride2);
  return correlation_backward_cuda(grad_out, input1, input2, pad_size, max_displacement, stride2);
}

at::Tensor resample2d_forward(const at::Tensor& input1, const at::Tensor& flow) {
  check(input1, input1, "input1");
  check(flow, input1, "flow");
  TORCH_CHECK(flow.size(1) == 2 && flow.size(0) == input1.size(0),
              "resample2d: flow must be (B, 2, H, W)");
  return resample2d_forward_cuda(input1, flow);
}

std::vector<at::Tensor> resample2d_backward(const at::Tensor& grad_out, const at::Tensor& input1,
                                            const at::Tensor& flow) {
  check(input1, input1, "input1");
  check(flow, input1, "flow");
  check(grad_out, input1, "grad_output");
  return resample2d_backward_cuda(grad_out, input1, flow);
}

at::Tensor channelnorm_forward(const at::Tensor& input1) {
  check(input1, input1, "input1");
  return channelnorm_forward_cuda(input1);
}

at::Tensor channelnorm_backward(const at::Tensor& grad_out, const at::Tensor& input1,
                                const at::Tensor& output) {
  check(input1, input1, "input1");
  check(grad_out, input1, "grad_output");
  check(output, input1, "output");
  return channelnorm_backward_cuda(grad_out, input1, output);
}

}  // namespace
}  // namespace flownet2

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("correlation_forward", &flownet2::correlation_forward, "Correlation forward (CUDA)");
  m.def("correlation_backward", &flownet2::correlation_backward, "Correlation backward (CUDA)");
  m.def("resample2d_forward", &flownet2::resample2d_forward, "Resample2d forward (CUDA)");
  m.def("resample2d_backward", &flownet2::resample2d_backward, "Resample2d backward (CUDA)");
  m.def("channelnorm_forward", &flownet2::channelnorm_forward, "ChannelNorm forward (CUDA)");
  m.def("channelnorm_backward", &flownet2::channelnorm_backward, "ChannelNorm backward (CUDA)");
}
