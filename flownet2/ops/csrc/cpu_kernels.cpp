// The CPU target: at::parallel_for loops over the per-element functions of *_kernel.h,
// the same functions the CUDA kernels call. Needs only a C++ compiler.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>

#include "channelnorm_kernel.h"
#include "correlation_kernel.h"
#include "ops.h"
#include "resample2d_kernel.h"

namespace flownet2 {
namespace {

// Elements per task: about 32768 multiply-adds (ATen's own grain size), so tiny calls
// stay on one thread.
int64_t grain(int64_t work_per_element) {
  return std::max<int64_t>(1, 32768 / std::max<int64_t>(1, work_per_element));
}

// element(i) for every i in [0, n), in parallel tasks of grain(work_per_element) elements.
template <typename F>
void for_each_element(int64_t n, int64_t work_per_element, const F& element) {
  at::parallel_for(0, n, grain(work_per_element), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) element(i);
  });
}

}  // namespace

at::Tensor correlation_forward_cpu(const at::Tensor& input1, const at::Tensor& input2,
                                   int64_t pad_size, int64_t max_displacement, int64_t stride2) {
  const CorrGeometry g = corr_geometry(input1.sizes(), pad_size, max_displacement, stride2);
  auto out = at::empty({g.B, corr_channels(g), g.Ho, g.Wo}, input1.options());
  FLOWNET2_DISPATCH_FLOATING_TYPES(input1.scalar_type(), "correlation_forward_cpu", [&] {
    const scalar_t* in1 = input1.const_data_ptr<scalar_t>();
    const scalar_t* in2 = input2.const_data_ptr<scalar_t>();
    scalar_t* o = out.data_ptr<scalar_t>();
    for_each_element(out.numel(), g.C,
                     [&](int64_t i) { o[i] = correlation_forward_element(in1, in2, g, i); });
  });
  return out;
}

std::vector<at::Tensor> correlation_backward_cpu(const at::Tensor& grad_out,
                                                 const at::Tensor& input1,
                                                 const at::Tensor& input2, int64_t pad_size,
                                                 int64_t max_displacement, int64_t stride2) {
  const CorrGeometry g = corr_geometry(input1.sizes(), pad_size, max_displacement, stride2);
  auto grad1 = at::empty_like(input1);
  auto grad2 = at::empty_like(input2);
  FLOWNET2_DISPATCH_FLOATING_TYPES(input1.scalar_type(), "correlation_backward_cpu", [&] {
    const scalar_t* go = grad_out.const_data_ptr<scalar_t>();
    const scalar_t* in1 = input1.const_data_ptr<scalar_t>();
    const scalar_t* in2 = input2.const_data_ptr<scalar_t>();
    scalar_t* g1 = grad1.data_ptr<scalar_t>();
    scalar_t* g2 = grad2.data_ptr<scalar_t>();
    for_each_element(input1.numel(), 2 * corr_channels(g), [&](int64_t i) {
      correlation_backward_element(go, in1, in2, g1, g2, g, i);
    });
  });
  return {grad1, grad2};
}

at::Tensor resample2d_forward_cpu(const at::Tensor& input1, const at::Tensor& flow) {
  const ResampleGeometry g = resample_geometry(input1.sizes(), flow.sizes());
  auto out = at::empty({g.B, g.C, g.Hf, g.Wf}, input1.options());
  if (out.numel() == 0 || g.H == 0 || g.W == 0) return out.zero_();
  FLOWNET2_DISPATCH_FLOATING_TYPES(input1.scalar_type(), "resample2d_forward_cpu", [&] {
    const scalar_t* in1 = input1.const_data_ptr<scalar_t>();
    const scalar_t* f = flow.const_data_ptr<scalar_t>();
    scalar_t* o = out.data_ptr<scalar_t>();
    for_each_element(out.numel(), 16,
                     [&](int64_t i) { o[i] = resample2d_forward_element(in1, f, g, i); });
  });
  return out;
}

std::vector<at::Tensor> resample2d_backward_cpu(const at::Tensor& grad_out,
                                                const at::Tensor& input1, const at::Tensor& flow) {
  const ResampleGeometry g = resample_geometry(input1.sizes(), flow.sizes());
  auto grad_flow = at::zeros_like(flow);
  const auto acc_type = at::toOpMathType(input1.scalar_type());
  auto grad1_acc = at::zeros(input1.sizes(), input1.options().dtype(acc_type));
  if (grad_out.numel() == 0 || g.H == 0 || g.W == 0) {
    return {grad1_acc.to(input1.scalar_type()), grad_flow};
  }
  FLOWNET2_DISPATCH_FLOATING_TYPES(input1.scalar_type(), "resample2d_backward_cpu", [&] {
    using acc_t = opmath_t<scalar_t>;
    const scalar_t* go = grad_out.const_data_ptr<scalar_t>();
    const scalar_t* in1 = input1.const_data_ptr<scalar_t>();
    const scalar_t* f = flow.const_data_ptr<scalar_t>();
    acc_t* g1 = grad1_acc.data_ptr<acc_t>();
    scalar_t* gf = grad_flow.data_ptr<scalar_t>();
    const int64_t fplane = static_cast<int64_t>(g.Hf) * g.Wf;
    // One task per (b, c) plane: an output plane only scatters into its own input
    // plane, so the plain adds never race (the GPU needs atomics instead).
    at::parallel_for(0, static_cast<int64_t>(g.B) * g.C, grain(16 * fplane),
                     [&](int64_t begin, int64_t end) {
      for (int64_t i = begin * fplane; i < end * fplane; ++i) {
        const auto s = resample2d_backward_input_element(go, f, g, i);
        for (int k = 0; k < 4; ++k) g1[s.offset[k]] += s.value[k];
      }
    });
    for_each_element(static_cast<int64_t>(g.B) * fplane, 16 * g.C, [&](int64_t p) {
      resample2d_backward_flow_element(go, in1, f, gf, g, p);
    });
  });
  return {grad1_acc.to(input1.scalar_type()), grad_flow};
}

at::Tensor channelnorm_forward_cpu(const at::Tensor& input1) {
  const int C = input1.size(1);
  const int64_t plane = input1.size(2) * input1.size(3);
  auto out = at::empty({input1.size(0), 1, input1.size(2), input1.size(3)}, input1.options());
  FLOWNET2_DISPATCH_FLOATING_TYPES(input1.scalar_type(), "channelnorm_forward_cpu", [&] {
    const scalar_t* in = input1.const_data_ptr<scalar_t>();
    scalar_t* o = out.data_ptr<scalar_t>();
    for_each_element(out.numel(), C,
                     [&](int64_t i) { o[i] = channelnorm_forward_element(in, C, plane, i); });
  });
  return out;
}

at::Tensor channelnorm_backward_cpu(const at::Tensor& grad_out, const at::Tensor& input1,
                                    const at::Tensor& output) {
  const int C = input1.size(1);
  const int64_t plane = input1.size(2) * input1.size(3);
  auto grad_in = at::empty_like(input1);
  FLOWNET2_DISPATCH_FLOATING_TYPES(input1.scalar_type(), "channelnorm_backward_cpu", [&] {
    const scalar_t* go = grad_out.const_data_ptr<scalar_t>();
    const scalar_t* in = input1.const_data_ptr<scalar_t>();
    const scalar_t* out = output.const_data_ptr<scalar_t>();
    scalar_t* gi = grad_in.data_ptr<scalar_t>();
    for_each_element(grad_in.numel(), 4, [&](int64_t i) {
      gi[i] = channelnorm_backward_element(go, in, out, C, plane, i);
    });
  });
  return grad_in;
}

}  // namespace flownet2
