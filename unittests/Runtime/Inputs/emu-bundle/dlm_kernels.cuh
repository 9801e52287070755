// A hand-written stand-in for the device template library of a bundle
// (docs/bundle.md), used by the runtime's tests: a block-wide sum through
// __shared__ memory inside a device function template.
#pragma once

namespace dlm {

/// The sum of \p value over the N threads of the block (threadIdx.x).
template <int N> __device__ __forceinline__ float blockSum(float value) {
  __shared__ float partial[N];
  int t = threadIdx.x;
  partial[t] = value;
  __syncthreads();
  for (int stride = N / 2; stride > 0; stride /= 2) {
    if (t < stride)
      partial[t] += partial[t + stride];
    __syncthreads();
  }
  float sum = partial[0];
  __syncthreads();
  return sum;
}

} // namespace dlm
