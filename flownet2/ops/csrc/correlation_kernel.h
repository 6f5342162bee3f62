// FlowNetC correlation, kernel_size 1, stride1 1 (NVIDIA flownet2-pytorch semantics):
//   out[b, (j+R)*D + (i+R), y, x] = sum_c in1[b,c,y+o,x+o] * in2[b,c,y+o+j*s2,x+o+i*s2] / C
// with o = max_displacement - pad_size, R = max_displacement / stride2, D = 2R+1, and zero
// outside the images. One output (or input-gradient) element per call; all tensors are
// contiguous NCHW. Products are summed in opmath_t (float; double for double inputs).
#pragma once

#include <c10/util/ArrayRef.h>

#include "kernel_common.h"

namespace flownet2 {

struct CorrGeometry {
  int B, C, H, W;  // both inputs are (B, C, H, W)
  int Ho, Wo;      // output spatial size: H + 2 * pad - 2 * max_displacement, ...
  int offset;      // o: output (y, x) reads frame 0 at (y + o, x + o)
  int radius;      // R
  int stride2;
};

// The geometry of a call, from the inputs' sizes (B, C, H, W) and the op's settings;
// shared by the CPU and CUDA hosts.
inline CorrGeometry corr_geometry(c10::IntArrayRef sizes, int64_t pad_size,
                                  int64_t max_displacement, int64_t stride2) {
  CorrGeometry g;
  g.B = static_cast<int>(sizes[0]);
  g.C = static_cast<int>(sizes[1]);
  g.H = static_cast<int>(sizes[2]);
  g.W = static_cast<int>(sizes[3]);
  g.Ho = static_cast<int>(sizes[2] + 2 * pad_size - 2 * max_displacement);
  g.Wo = static_cast<int>(sizes[3] + 2 * pad_size - 2 * max_displacement);
  g.offset = static_cast<int>(max_displacement - pad_size);
  g.radius = static_cast<int>(max_displacement / stride2);
  g.stride2 = static_cast<int>(stride2);
  return g;
}

// D: displacements per axis.
C10_HOST_DEVICE inline int corr_side(const CorrGeometry& g) { return 2 * g.radius + 1; }

C10_HOST_DEVICE inline int corr_channels(const CorrGeometry& g) {
  return corr_side(g) * corr_side(g);
}

// out[idx], idx the flat index of the (B, D*D, Ho, Wo) output.
template <typename scalar_t>
C10_HOST_DEVICE inline scalar_t correlation_forward_element(const scalar_t* in1,
                                                            const scalar_t* in2,
                                                            const CorrGeometry& g, int64_t idx) {
  using acc_t = opmath_t<scalar_t>;
  const int D = corr_side(g);
  const int64_t plane = static_cast<int64_t>(g.H) * g.W;
  const PlaneIndex pos = split_index(idx, g.Ho, g.Wo);  // lead: b * D * D + k
  const int k = static_cast<int>(pos.lead % (D * D));
  const int64_t b = pos.lead / (D * D);
  const int y1 = pos.y + g.offset, x1 = pos.x + g.offset;
  const int y2 = y1 + (k / D - g.radius) * g.stride2, x2 = x1 + (k % D - g.radius) * g.stride2;
  acc_t sum = 0;
  if (inside(y1, x1, g.H, g.W) && inside(y2, x2, g.H, g.W)) {
    const scalar_t* p1 = in1 + b * g.C * plane + static_cast<int64_t>(y1) * g.W + x1;
    const scalar_t* p2 = in2 + b * g.C * plane + static_cast<int64_t>(y2) * g.W + x2;
    for (int c = 0; c < g.C; ++c) {
      sum += static_cast<acc_t>(p1[c * plane]) * static_cast<acc_t>(p2[c * plane]);
    }
  }
  return static_cast<scalar_t>(sum / static_cast<acc_t>(g.C));
}

// grad1[idx] and grad2[idx] (either may be null), idx the flat index of a (B, C, H, W)
// input. Gather form: each element sums its own terms, so no target needs atomics.
template <typename scalar_t>
C10_HOST_DEVICE inline void correlation_backward_element(const scalar_t* grad_out,
                                                         const scalar_t* in1,
                                                         const scalar_t* in2, scalar_t* grad1,
                                                         scalar_t* grad2, const CorrGeometry& g,
                                                         int64_t idx) {
  using acc_t = opmath_t<scalar_t>;
  const int D = corr_side(g);
  const int64_t out_plane = static_cast<int64_t>(g.Ho) * g.Wo;
  const PlaneIndex pos = split_index(idx, g.H, g.W);
  const int y = pos.y, x = pos.x;
  const int64_t bc = pos.lead;  // b * C + c
  const int64_t b = bc / g.C;
  const scalar_t* go = grad_out + b * D * D * out_plane;
  const scalar_t* p1 = in1 + bc * g.H * g.W;
  const scalar_t* p2 = in2 + bc * g.H * g.W;
  acc_t sum1 = 0, sum2 = 0;
  for (int k = 0; k < D * D; ++k) {
    const int dy = (k / D - g.radius) * g.stride2, dx = (k % D - g.radius) * g.stride2;
    if (grad1 != nullptr) {
      // (y, x) as the frame-0 pixel of output (y - o, x - o).
      const int yo = y - g.offset, xo = x - g.offset, y2 = y + dy, x2 = x + dx;
      if (inside(yo, xo, g.Ho, g.Wo) && inside(y2, x2, g.H, g.W)) {
        sum1 += static_cast<acc_t>(go[k * out_plane + yo * g.Wo + xo]) *
                static_cast<acc_t>(p2[y2 * g.W + x2]);
      }
    }
    if (grad2 != nullptr) {
      // (y, x) as the frame-1 pixel of output (y - o - dy, x - o - dx).
      const int y1 = y - dy, x1 = x - dx, yo = y1 - g.offset, xo = x1 - g.offset;
      if (inside(yo, xo, g.Ho, g.Wo) && inside(y1, x1, g.H, g.W)) {
        sum2 += static_cast<acc_t>(go[k * out_plane + yo * g.Wo + xo]) *
                static_cast<acc_t>(p1[y1 * g.W + x1]);
      }
    }
  }
  if (grad1 != nullptr) grad1[idx] = static_cast<scalar_t>(sum1 / static_cast<acc_t>(g.C));
  if (grad2 != nullptr) grad2[idx] = static_cast<scalar_t>(sum2 / static_cast<acc_t>(g.C));
}

}  // namespace flownet2
