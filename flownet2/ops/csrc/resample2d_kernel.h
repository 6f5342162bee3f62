// Resample2d, kernel_size 1 (NVIDIA flownet2-pytorch semantics): bilinear sample of
// input1 (B, C, H, W) at (x + flow_x, y + flow_y) for each pixel of flow (B, 2, Hf, Wf),
// both neighbour indices clamped to the image (= grid_sample, border, align_corners).
// One element per call; tensors are contiguous NCHW; arithmetic in opmath_t.
#pragma once

#include <c10/util/ArrayRef.h>

#include "kernel_common.h"

namespace flownet2 {

struct ResampleGeometry {
  int B, C, H, W;  // input1 (B, C, H, W)
  int Hf, Wf;      // flow (B, 2, Hf, Wf) and output (B, C, Hf, Wf)
};

// The geometry of a call, from the sizes of input1 and flow; shared by the CPU and CUDA hosts.
inline ResampleGeometry resample_geometry(c10::IntArrayRef input1, c10::IntArrayRef flow) {
  return {static_cast<int>(input1[0]), static_cast<int>(input1[1]), static_cast<int>(input1[2]),
          static_cast<int>(input1[3]), static_cast<int>(flow[2]), static_cast<int>(flow[3])};
}

template <typename acc_t>
struct Taps {
  int64_t tl, tr, bl, br;  // offsets of the four clamped neighbours in an H x W plane
  acc_t ax, ay;            // fractional offsets from the unclamped floor, in [0, 1)
};

template <typename acc_t>
C10_HOST_DEVICE inline Taps<acc_t> make_taps(acc_t xf, acc_t yf, int H, int W) {
  Taps<acc_t> t;
  acc_t fx = floor_of(xf), fy = floor_of(yf);
  t.ax = xf - fx;
  t.ay = yf - fy;
  // Clamp in floating point first so huge or NaN coordinates never overflow an int.
  fx = (fx >= static_cast<acc_t>(-1)) ? fx : static_cast<acc_t>(-1);
  fx = (fx <= static_cast<acc_t>(W)) ? fx : static_cast<acc_t>(W);
  fy = (fy >= static_cast<acc_t>(-1)) ? fy : static_cast<acc_t>(-1);
  fy = (fy <= static_cast<acc_t>(H)) ? fy : static_cast<acc_t>(H);
  const int ix = static_cast<int>(fx), iy = static_cast<int>(fy);
  const int x0 = clamp_int(ix, 0, W - 1), x1 = clamp_int(ix + 1, 0, W - 1);
  const int64_t y0 = clamp_int(iy, 0, H - 1), y1 = clamp_int(iy + 1, 0, H - 1);
  t.tl = y0 * W + x0;
  t.tr = y0 * W + x1;
  t.bl = y1 * W + x0;
  t.br = y1 * W + x1;
  return t;
}

// The taps of flow pixel (b, y, x) = pix (a flat index over B * Hf * Wf).
template <typename scalar_t>
C10_HOST_DEVICE inline Taps<opmath_t<scalar_t>> taps_at(const scalar_t* flow,
                                                        const ResampleGeometry& g,
                                                        int64_t pix) {
  using acc_t = opmath_t<scalar_t>;
  const int64_t fplane = static_cast<int64_t>(g.Hf) * g.Wf;
  const PlaneIndex pos = split_index(pix, g.Hf, g.Wf);  // lead: b
  const scalar_t* f = flow + pos.lead * 2 * fplane + static_cast<int64_t>(pos.y) * g.Wf + pos.x;
  return make_taps<acc_t>(static_cast<acc_t>(pos.x) + static_cast<acc_t>(f[0]),
                          static_cast<acc_t>(pos.y) + static_cast<acc_t>(f[fplane]), g.H, g.W);
}

// out[idx], idx the flat index of the (B, C, Hf, Wf) output.
template <typename scalar_t>
C10_HOST_DEVICE inline scalar_t resample2d_forward_element(const scalar_t* in1,
                                                           const scalar_t* flow,
                                                           const ResampleGeometry& g,
                                                           int64_t idx) {
  using acc_t = opmath_t<scalar_t>;
  const int64_t fplane = static_cast<int64_t>(g.Hf) * g.Wf;
  const int64_t bc = idx / fplane;  // b * C + c
  const auto tp = taps_at(flow, g, (bc / g.C) * fplane + idx % fplane);
  const scalar_t* img = in1 + bc * g.H * g.W;
  const acc_t v = (1 - tp.ax) * (1 - tp.ay) * static_cast<acc_t>(img[tp.tl]) +
                  tp.ax * (1 - tp.ay) * static_cast<acc_t>(img[tp.tr]) +
                  (1 - tp.ax) * tp.ay * static_cast<acc_t>(img[tp.bl]) +
                  tp.ax * tp.ay * static_cast<acc_t>(img[tp.br]);
  return static_cast<scalar_t>(v);
}

// What output element idx adds to the input gradient: value[i] at offset[i] of the
// (B, C, H, W) gradient, for its four neighbours. The caller accumulates (an atomic add
// on a GPU, a plain one in a CPU loop that owns the plane).
template <typename acc_t>
struct Scatter4 {
  int64_t offset[4];
  acc_t value[4];
};

template <typename scalar_t>
C10_HOST_DEVICE inline Scatter4<opmath_t<scalar_t>> resample2d_backward_input_element(
    const scalar_t* grad_out, const scalar_t* flow, const ResampleGeometry& g, int64_t idx) {
  using acc_t = opmath_t<scalar_t>;
  const int64_t fplane = static_cast<int64_t>(g.Hf) * g.Wf;
  const int64_t bc = idx / fplane;
  const auto tp = taps_at(flow, g, (bc / g.C) * fplane + idx % fplane);
  const acc_t gv = static_cast<acc_t>(grad_out[idx]);
  const int64_t base = bc * g.H * g.W;
  Scatter4<acc_t> s;
  s.offset[0] = base + tp.tl;
  s.offset[1] = base + tp.tr;
  s.offset[2] = base + tp.bl;
  s.offset[3] = base + tp.br;
  s.value[0] = (1 - tp.ax) * (1 - tp.ay) * gv;
  s.value[1] = tp.ax * (1 - tp.ay) * gv;
  s.value[2] = (1 - tp.ax) * tp.ay * gv;
  s.value[3] = tp.ax * tp.ay * gv;
  return s;
}

// grad_flow at flow pixel pix (flat over B * Hf * Wf): the derivative of the bilinear
// weights, summed over channels; zero along an axis whose two neighbours were clamped
// onto one pixel (as grid_sample's border mode).
template <typename scalar_t>
C10_HOST_DEVICE inline void resample2d_backward_flow_element(const scalar_t* grad_out,
                                                             const scalar_t* in1,
                                                             const scalar_t* flow,
                                                             scalar_t* grad_flow,
                                                             const ResampleGeometry& g,
                                                             int64_t pix) {
  using acc_t = opmath_t<scalar_t>;
  const int64_t fplane = static_cast<int64_t>(g.Hf) * g.Wf;
  const int64_t b = pix / fplane, p = pix % fplane;
  const auto tp = taps_at(flow, g, pix);
  acc_t gx = 0, gy = 0;
  for (int c = 0; c < g.C; ++c) {
    const int64_t bc = b * g.C + c;
    const scalar_t* img = in1 + bc * g.H * g.W;
    const acc_t gv = static_cast<acc_t>(grad_out[bc * fplane + p]);
    const acc_t tl = static_cast<acc_t>(img[tp.tl]), tr = static_cast<acc_t>(img[tp.tr]);
    const acc_t bl = static_cast<acc_t>(img[tp.bl]), br = static_cast<acc_t>(img[tp.br]);
    gx += gv * ((1 - tp.ay) * (tr - tl) + tp.ay * (br - bl));
    gy += gv * ((1 - tp.ax) * (bl - tl) + tp.ax * (br - tr));
  }
  grad_flow[b * 2 * fplane + p] = static_cast<scalar_t>(gx);
  grad_flow[b * 2 * fplane + fplane + p] = static_cast<scalar_t>(gy);
}

}  // namespace flownet2
