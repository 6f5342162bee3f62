// Launch helpers of the CUDA target (the arithmetic lives in the *_kernel.h headers).
#pragma once

#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>

#include <algorithm>
#include <cstdint>

namespace flownet2 {

constexpr int kThreads = 256;

// Grid-stride loops let one capped grid cover any tensor size.
inline int num_blocks(int64_t n) {
  return static_cast<int>(std::min<int64_t>((n + kThreads - 1) / kThreads, 65535LL * 16));
}

#define FLOWNET2_KERNEL_LOOP(i, n)                                              \
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; \
       i < (n); i += static_cast<int64_t>(blockDim.x) * gridDim.x)

// kernel(args..., n) on the current stream, over n elements (nothing for n == 0: an empty
// grid is a launch error).
template <typename... KernelArgs, typename... Args>
void launch(void (*kernel)(KernelArgs...), int64_t n, Args... args) {
  if (n == 0) return;
  kernel<<<num_blocks(n), kThreads, 0, at::cuda::getCurrentCUDAStream()>>>(args..., n);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

}  // namespace flownet2
