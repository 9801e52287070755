// A hand-written bundle for the runtime's tests (the emitter writes real
// ones). The model: y[c] = sum_i relu(x[c, i] * 2 * scale.weight[c] +
// scale.bias[c]) over the 16 pixels of each channel of a [1, 2, 4, 4] input.
#include "dlm_kernels.cuh"

// init: the doubled weight, a derived tensor.
extern "C" __global__ void __launch_bounds__(32)
    dlm_k0(const float *__restrict__ weight, float *__restrict__ doubled) {
  unsigned c = threadIdx.x;
  if (c < 2)
    doubled[c] = 2.0f * weight[c];
}

// forward: scale, shift and relu, one block per channel, 4x4 threads.
extern "C" __global__ void dlm_k1(const float *__restrict__ x,
                                  const float *__restrict__ doubled,
                                  const float *__restrict__ bias,
                                  float *__restrict__ y) {
  unsigned c = blockIdx.x;
  unsigned i = c * 16 + threadIdx.y * 4 + threadIdx.x;
  y[i] = fmaxf(x[i] * doubled[c] + bias[c], 0.0f);
}

// forward: the sum of each channel, one block of 16 threads per channel.
extern "C" __global__ void dlm_k2(const float *__restrict__ x,
                                  float *__restrict__ y) {
  float sum = dlm::blockSum<16>(x[blockIdx.x * 16 + threadIdx.x]);
  if (threadIdx.x == 0)
    y[blockIdx.x] = sum;
}

#ifdef DLM_EMU
extern "C" void dlm_k0_emu(void **args) {
  dlm_k0((const float *)args[0], (float *)args[1]);
}
extern "C" void dlm_k1_emu(void **args) {
  dlm_k1((const float *)args[0], (const float *)args[1], (const float *)args[2],
         (float *)args[3]);
}
extern "C" void dlm_k2_emu(void **args) {
  dlm_k2((const float *)args[0], (float *)args[1]);
}
#endif

// The kernel table dlmc appends (docs/bundle.md, "The kernel table").
// dlm-kernel dlm_k0 grid=1,1,1 block=32,1,1 bytes=8,8
// dlm-kernel dlm_k1 grid=2,1,1 block=4,4,1 bytes=128,8,8,128
// dlm-kernel dlm_k2 grid=2,1,1 block=16,1,1 bytes=128,8
