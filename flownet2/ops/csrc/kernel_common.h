// Helpers for the per-element functions that the CPU loops and the CUDA kernels share.
//
// Everything here is C10_HOST_DEVICE: compiled by g++ into the CPU kernels and by nvcc
// into the CUDA kernels, so the arithmetic CI checks on the CPU is the arithmetic a GPU
// runs (the scheme of ATen's GridSampler). Only c10 headers: no tensors, no CUDA API.
#pragma once

#include <ATen/OpMathType.h>
#include <c10/macros/Macros.h>

#include <cmath>
#include <cstdint>

namespace flownet2 {

// float for half/bfloat16/float, double for double: on both targets alike.
template <typename scalar_t>
using opmath_t = at::opmath_type<scalar_t>;

C10_HOST_DEVICE inline float floor_of(float v) { return ::floorf(v); }
C10_HOST_DEVICE inline double floor_of(double v) { return ::floor(v); }
C10_HOST_DEVICE inline float sqrt_of(float v) { return ::sqrtf(v); }
C10_HOST_DEVICE inline double sqrt_of(double v) { return ::sqrt(v); }

C10_HOST_DEVICE inline int clamp_int(int v, int lo, int hi) {
  return v < lo ? lo : (v > hi ? hi : v);
}

C10_HOST_DEVICE inline bool inside(int y, int x, int h, int w) {
  return y >= 0 && y < h && x >= 0 && x < w;
}

// A flat index into a contiguous (..., h, w) tensor: its column, its row, and its index
// over the leading dimensions.
struct PlaneIndex {
  int x, y;
  int64_t lead;
};

C10_HOST_DEVICE inline PlaneIndex split_index(int64_t idx, int h, int w) {
  PlaneIndex p;
  p.x = static_cast<int>(idx % w);
  const int64_t rows = idx / w;
  p.y = static_cast<int>(rows % h);
  p.lead = rows / h;
  return p;
}

}  // namespace flownet2
