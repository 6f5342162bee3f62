// ChannelNorm: out[b, 0, y, x] = sqrt(sum_c in[b, c, y, x]^2), summed in opmath_t (float;
// double for double); the gradient at a zero vector is taken as zero. One element per
// call; tensors are contiguous NCHW, plane = H * W.
#pragma once

#include "kernel_common.h"

namespace flownet2 {

// out[idx], idx the flat index of the (B, 1, H, W) output.
template <typename scalar_t>
C10_HOST_DEVICE inline scalar_t channelnorm_forward_element(const scalar_t* in, int C,
                                                            int64_t plane, int64_t idx) {
  using acc_t = opmath_t<scalar_t>;
  const int64_t b = idx / plane, p = idx % plane;
  const scalar_t* src = in + b * C * plane + p;
  acc_t sum = 0;
  for (int c = 0; c < C; ++c) {
    const acc_t v = static_cast<acc_t>(src[c * plane]);
    sum += v * v;
  }
  return static_cast<scalar_t>(sqrt_of(sum));
}

// grad_in[idx], idx the flat index of the (B, C, H, W) input.
template <typename scalar_t>
C10_HOST_DEVICE inline scalar_t channelnorm_backward_element(const scalar_t* grad_out,
                                                             const scalar_t* in,
                                                             const scalar_t* out, int C,
                                                             int64_t plane, int64_t idx) {
  using acc_t = opmath_t<scalar_t>;
  const int64_t p = idx % plane, b = idx / (C * plane);
  const acc_t norm = static_cast<acc_t>(out[b * plane + p]);
  const acc_t gv = static_cast<acc_t>(grad_out[b * plane + p]);
  return norm > 0 ? static_cast<scalar_t>(gv * static_cast<acc_t>(in[idx]) / norm)
                  : static_cast<scalar_t>(0);
}

}  // namespace flownet2
