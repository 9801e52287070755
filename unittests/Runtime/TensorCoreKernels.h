//===- TensorCoreKernels.h - Test kernels of dlm_tc.cuh --------*- C++ -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// The kernels of EmuTensorCoreTest, in CUDA C++ after dlm_tc.cuh: the
// emulator runs them, NVRTC compiles them (NvrtcTensorCoreTest), so they are
// ready to run on a GPU too.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_UNITTESTS_RUNTIME_TENSORCOREKERNELS_H
#define DLM_UNITTESTS_RUNTIME_TENSORCOREKERNELS_H

namespace dlm {
namespace test {

inline constexpr const char *kTensorCoreKernels = R"cu(
// g = lane / 4, t = lane % 4. A 16x8 row-major, B 8x8 (B[k][n] at k * 8 + n),
// C and D 16x8. TF32 m16n8k8: a0 (g, t), a1 (g+8, t), a2 (g, t+4),
// a3 (g+8, t+4); b0 (k t, n g), b1 (k t+4, n g); c0 c1 (g, 2t / 2t+1),
// c2 c3 (g+8, 2t / 2t+1). With round == 0 the raw FP32 bits go in.
extern "C" __global__ void mma_tf32(const float *A, const float *B,
                                    const float *C, float *D, int round) {
  int lane = threadIdx.x, g = lane / 4, t = lane % 4;
  float av[4] = {A[g * 8 + t], A[(g + 8) * 8 + t], A[g * 8 + t + 4],
                 A[(g + 8) * 8 + t + 4]};
  float bv[2] = {B[t * 8 + g], B[(t + 4) * 8 + g]};
  unsigned a[4], b[2];
  for (int i = 0; i < 4; ++i)
    a[i] = __float_as_uint(round ? dlm::tc::cvt_rna_tf32(av[i]) : av[i]);
  for (int i = 0; i < 2; ++i)
    b[i] = __float_as_uint(round ? dlm::tc::cvt_rna_tf32(bv[i]) : bv[i]);
  float c[4] = {C[g * 8 + 2 * t], C[g * 8 + 2 * t + 1],
                C[(g + 8) * 8 + 2 * t], C[(g + 8) * 8 + 2 * t + 1]};
  float d[4];
  dlm::tc::mma_m16n8k8_tf32(d, a, b, c);
  D[g * 8 + 2 * t] = d[0];
  D[g * 8 + 2 * t + 1] = d[1];
  D[(g + 8) * 8 + 2 * t] = d[2];
  D[(g + 8) * 8 + 2 * t + 1] = d[3];
}

// m16n8k16, A 16x16 row-major, B 16x8 (B[k][n] at k * 8 + n). Two elements
// a register, the lower column (row of B) in the lower half: a0 (g, 2t),
// a1 (g+8, 2t), a2 (g, 2t+8), a3 (g+8, 2t+8); b0 (k 2t, n g),
// b1 (k 2t+8, n g). kind 1: BF16, 2: FP16.
extern "C" __global__ void mma_16(const float *A, const float *B,
                                  const float *C, float *D, int kind) {
  int lane = threadIdx.x, g = lane / 4, t = lane % 4;
  const int arow[4] = {g, g + 8, g, g + 8}, acol[4] = {2 * t, 2 * t,
                                                       2 * t + 8, 2 * t + 8};
  unsigned a[4], b[2];
  for (int i = 0; i < 4; ++i) {
    float lo = A[arow[i] * 16 + acol[i]], hi = A[arow[i] * 16 + acol[i] + 1];
    a[i] = kind == 1 ? dlm::tc::pack_bf16x2(lo, hi)
                     : dlm::tc::pack_f16x2(lo, hi);
  }
  for (int i = 0; i < 2; ++i) {
    int k = 2 * t + 8 * i;
    float lo = B[k * 8 + g], hi = B[(k + 1) * 8 + g];
    b[i] = kind == 1 ? dlm::tc::pack_bf16x2(lo, hi)
                     : dlm::tc::pack_f16x2(lo, hi);
  }
  float c[4] = {C[g * 8 + 2 * t], C[g * 8 + 2 * t + 1],
                C[(g + 8) * 8 + 2 * t], C[(g + 8) * 8 + 2 * t + 1]};
  float d[4];
  if (kind == 1)
    dlm::tc::mma_m16n8k16_bf16(d, a, b, c);
  else
    dlm::tc::mma_m16n8k16_f16(d, a, b, c);
  D[g * 8 + 2 * t] = d[0];
  D[g * 8 + 2 * t + 1] = d[1];
  D[(g + 8) * 8 + 2 * t] = d[2];
  D[(g + 8) * 8 + 2 * t + 1] = d[3];
}

// Conversions of in[i] by thread i.
extern "C" __global__ void convert(const float *in, float *tf32,
                                   unsigned *bf16, unsigned *f16, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n)
    return;
  tf32[i] = dlm::tc::cvt_rna_tf32(in[i]);
  bf16[i] = dlm::tc::pack_bf16x2(in[i], -in[i]);
  f16[i] = dlm::tc::pack_f16x2(in[i], -in[i]);
}

// Four 8x8 b16 matrices in shared memory, rows 32 bytes apart; lane l gives
// row l % 8 of matrix l / 8 to ldmatrix .x4. The tile comes in by
// cp.async, 16 bytes a lane and step.
extern "C" __global__ void ldmatrix(const unsigned short *in, unsigned *out) {
  __shared__ __align__(16) unsigned short tile[4][8][16];
  int lane = threadIdx.x;
  for (int chunk = lane; chunk < 4 * 8 * 2; chunk += 32)
    dlm::tc::cp_async_16(&tile[0][0][0] + 8 * chunk, in + 8 * chunk);
  dlm::tc::cp_async_commit();
  dlm::tc::cp_async_wait<0>();
  __syncthreads();
  unsigned r[4];
  dlm::tc::ldmatrix_x4(r, &tile[lane / 8][lane % 8][0]);
  for (int i = 0; i < 4; ++i)
    out[4 * lane + i] = r[i];
}

// C (32x16) = A (32x32) B (32x16) in TF32 by four warps, each a 16x8 tile
// of C, over four k steps of 8: A's and B's slices staged in shared memory
// by cp.async between barriers, the mma accumulating in its registers.
extern "C" __global__ void gemm_tf32(const float *A, const float *B,
                                     float *C) {
  __shared__ __align__(16) float As[32][8];
  __shared__ __align__(16) float Bs[8][16];
  const float *Ab = A + blockIdx.x * 32 * 32;
  const float *Bb = B + blockIdx.x * 32 * 16;
  int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  int g = lane / 4, t = lane % 4, m0 = (warp / 2) * 16, n0 = (warp % 2) * 8;
  float acc[4] = {0, 0, 0, 0};
  for (int k0 = 0; k0 < 32; k0 += 8) {
    if (tid < 64) // A: 32 rows of 8, two chunks of 4 a row
      dlm::tc::cp_async_16(&As[tid / 2][4 * (tid % 2)],
                           Ab + (tid / 2) * 32 + k0 + 4 * (tid % 2));
    else if (tid < 96) // B: 8 rows of 16, four chunks a row
      dlm::tc::cp_async_16(&Bs[(tid - 64) / 4][4 * (tid % 4)],
                           Bb + (k0 + (tid - 64) / 4) * 16 + 4 * (tid % 4));
    dlm::tc::cp_async_commit();
    dlm::tc::cp_async_wait<0>();
    __syncthreads();
    unsigned a[4], b[2];
    a[0] = __float_as_uint(dlm::tc::cvt_rna_tf32(As[m0 + g][t]));
    a[1] = __float_as_uint(dlm::tc::cvt_rna_tf32(As[m0 + g + 8][t]));
    a[2] = __float_as_uint(dlm::tc::cvt_rna_tf32(As[m0 + g][t + 4]));
    a[3] = __float_as_uint(dlm::tc::cvt_rna_tf32(As[m0 + g + 8][t + 4]));
    b[0] = __float_as_uint(dlm::tc::cvt_rna_tf32(Bs[t][n0 + g]));
    b[1] = __float_as_uint(dlm::tc::cvt_rna_tf32(Bs[t + 4][n0 + g]));
    dlm::tc::mma_m16n8k8_tf32(acc, a, b, acc);
    __syncthreads();
  }
  float *Cb = C + blockIdx.x * 32 * 16;
  Cb[(m0 + g) * 16 + n0 + 2 * t] = acc[0];
  Cb[(m0 + g) * 16 + n0 + 2 * t + 1] = acc[1];
  Cb[(m0 + g + 8) * 16 + n0 + 2 * t] = acc[2];
  Cb[(m0 + g + 8) * 16 + n0 + 2 * t + 1] = acc[3];
}

// Lane 31 returns: the mma never has its whole warp.
extern "C" __global__ void mma_missing_lane(float *D) {
  if (threadIdx.x == 31)
    return;
  unsigned a[4] = {0, 0, 0, 0}, b[2] = {0, 0};
  float c[4] = {0, 0, 0, 0}, d[4];
  dlm::tc::mma_m16n8k8_tf32(d, a, b, c);
  D[threadIdx.x] = d[0];
}

// A cp.async to a shared address 4 bytes past a 16-byte boundary (the
// hardware requires both addresses 16-byte aligned).
extern "C" __global__ void cp_async_misaligned(const float *in, float *out) {
  __shared__ __align__(16) float s[8];
  dlm::tc::cp_async_16(s + 1, in);
  dlm::tc::cp_async_commit();
  dlm::tc::cp_async_wait<0>();
  __syncthreads();
  out[threadIdx.x] = s[1];
}

#ifdef DLM_EMU
extern "C" void cp_async_misaligned_emu(void **a) {
  cp_async_misaligned((const float *)a[0], (float *)a[1]);
}
extern "C" void mma_tf32_emu(void **a) {
  mma_tf32((const float *)a[0], (const float *)a[1], (const float *)a[2],
           (float *)a[3], *(int *)a[4]);
}
extern "C" void mma_16_emu(void **a) {
  mma_16((const float *)a[0], (const float *)a[1], (const float *)a[2],
         (float *)a[3], *(int *)a[4]);
}
extern "C" void convert_emu(void **a) {
  convert((const float *)a[0], (float *)a[1], (unsigned *)a[2],
          (unsigned *)a[3], *(int *)a[4]);
}
extern "C" void ldmatrix_emu(void **a) {
  ldmatrix((const unsigned short *)a[0], (unsigned *)a[1]);
}
extern "C" void gemm_tf32_emu(void **a) {
  gemm_tf32((const float *)a[0], (const float *)a[1], (float *)a[2]);
}
extern "C" void mma_missing_lane_emu(void **a) {
  mma_missing_lane((float *)a[0]);
}
#endif
)cu";

} // namespace test
} // namespace dlm

#endif // DLM_UNITTESTS_RUNTIME_TENSORCOREKERNELS_H
