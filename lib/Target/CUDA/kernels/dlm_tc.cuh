//===- dlm_tc.cuh - Tensor-core primitives for generated kernels -*- CUDA
//-*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// Warp-level tensor-core primitives (docs/cuda.md, "Tensor-core
// primitives"), one source for both back ends:
//
// - Under NVRTC (`__CUDA_ARCH__` >= 800) each is the inline PTX of the
//   instruction: mma.sync m16n8k8 TF32 and m16n8k16 BF16 / FP16 with FP32
//   accumulators, ldmatrix .x4, cp.async .cg 16 bytes with its groups,
//   cvt.rna.tf32.f32, cvt.rn.{bf16x2,f16x2}.f32.
// - Under the CPU emulator (`DLM_EMU`, after dlm_cuda_emu.h) the warp-wide
//   ones are a warp rendezvous (dlm_emu::warpRendezvous): every lane hands
//   in its fragment registers, the lane that arrives last assembles the
//   matrices with the PTX ISA's fragment layout, computes the product and
//   hands every lane its D fragment. Inputs are read as the hardware reads
//   them (a TF32 operand's low 13 bits are ignored; BF16 / FP16 exactly),
//   products and sums are exact in double and rounded once to FP32.
//   cp.async is a plain 16-byte copy, so commit and wait are no-ops.
//
// Fragment layouts (PTX ISA, "Matrix fragments for mma.m16n8k8" and
// "...m16n8k16"), with g = lane >> 2 and t = lane % 4:
//   TF32 m16n8k8:  A 16x8 row: a0 (g, t), a1 (g+8, t), a2 (g, t+4),
//                  a3 (g+8, t+4); B 8x8 col: b0 (t, g), b1 (t+4, g).
//   16-bit m16n8k16: A 16x16 row, two elements a register (lower half =
//                  lower column): a0 (g, 2t..2t+1), a1 (g+8, 2t..),
//                  a2 (g, 2t+8..), a3 (g+8, 2t+8..); B 16x8 col:
//                  b0 (2t..2t+1, g), b1 (2t+8..2t+9, g).
//   C / D 16x8 (both): c0, c1 (g, 2t and 2t+1), c2, c3 (g+8, same).
//
//===----------------------------------------------------------------------===//

#ifndef DLM_TC_CUH
#define DLM_TC_CUH

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
#error "dlm_tc.cuh needs sm_80 or newer"
#endif

namespace dlm {
namespace tc {

#if defined(__CUDA_ARCH__)

/// FP32 to TF32, round to nearest with ties away from zero; the result is
/// an FP32 value with the low 13 mantissa bits zero.
__device__ __forceinline__ float cvt_rna_tf32(float x) {
  unsigned r;
  asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(x));
  return __uint_as_float(r);
}

/// Two floats to a bf16x2 / f16x2 register, round to nearest even: \p lo in
/// the lower half.
__device__ __forceinline__ unsigned pack_bf16x2(float lo, float hi) {
  unsigned r;
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
  return r;
}
__device__ __forceinline__ unsigned pack_f16x2(float lo, float hi) {
  unsigned r;
  asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
  return r;
}

/// D = A * B + C over a warp, m16n8k8, TF32 inputs, FP32 accumulators.
__device__ __forceinline__ void mma_m16n8k8_tf32(float d[4],
                                                 const unsigned a[4],
                                                 const unsigned b[2],
                                                 const float c[4]) {
  asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 "
               "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
               "{%10, %11, %12, %13};"
               : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]),
                 "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]));
}

/// D = A * B + C over a warp, m16n8k16, BF16 inputs, FP32 accumulators.
__device__ __forceinline__ void mma_m16n8k16_bf16(float d[4],
                                                  const unsigned a[4],
                                                  const unsigned b[2],
                                                  const float c[4]) {
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
               "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
               "{%10, %11, %12, %13};"
               : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]),
                 "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]));
}

/// D = A * B + C over a warp, m16n8k16, FP16 inputs, FP32 accumulators.
__device__ __forceinline__ void mma_m16n8k16_f16(float d[4],
                                                 const unsigned a[4],
                                                 const unsigned b[2],
                                                 const float c[4]) {
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
               "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
               "{%10, %11, %12, %13};"
               : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]),
                 "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]));
}

/// The shared-state-space address of a generic pointer into shared memory.
__device__ __forceinline__ unsigned shared_address(const void *p) {
  unsigned r;
  asm("{ .reg .u64 t; cvta.to.shared.u64 t, %1; cvt.u32.u64 %0, t; }"
      : "=r"(r)
      : "l"(p));
  return r;
}

/// ldmatrix .x4: lanes 8i..8i+7 give the rows (16 bytes each, in shared
/// memory, 16-byte aligned) of 8x8 b16 matrix i; every lane receives in r[i]
/// the elements (lane / 4, 2 (lane % 4) .. +1) of matrix i.
__device__ __forceinline__ void ldmatrix_x4(unsigned r[4], const void *row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, "
               "[%4];"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(shared_address(row)));
}

/// Copies 16 bytes from global to shared memory asynchronously (both 16-byte
/// aligned), bypassing L1.
__device__ __forceinline__ void cp_async_16(void *shared, const void *global) {
  asm volatile(
      "cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(shared_address(shared)),
      "l"(global)
      : "memory");
}
/// Ends the group of the cp.async issued since the last commit.
__device__ __forceinline__ void cp_async_commit() {
  asm volatile("cp.async.commit_group;" ::: "memory");
}
/// Waits until at most \p N committed groups are pending.
template <int N> __device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;" ::"n"(N) : "memory");
}

#elif defined(DLM_EMU)

namespace detail {

inline unsigned bits(float x) {
  unsigned u;
  memcpy(&u, &x, sizeof u);
  return u;
}
inline float fromBits(unsigned u) {
  float x;
  memcpy(&x, &u, sizeof x);
  return x;
}

/// The value of a TF32 operand: the FP32 bits with the low 13 ignored.
inline double tf32Value(unsigned u) { return fromBits(u & 0xffffe000u); }
inline double bf16Value(unsigned h) { return fromBits((h & 0xffffu) << 16); }
inline double f16Value(unsigned h) {
  unsigned sign = h >> 15 & 1, exponent = h >> 10 & 31, mantissa = h & 0x3ff;
  double v;
  if (exponent == 0)
    v = ldexp((double)mantissa, -24);
  else if (exponent == 31)
    v = mantissa ? NAN : INFINITY;
  else
    v = ldexp((double)(mantissa | 0x400), (int)exponent - 25);
  return sign ? -v : v;
}

inline unsigned short toBf16(float x) {
  unsigned u = bits(x);
  if ((u & 0x7fffffffu) > 0x7f800000u)
    return (unsigned short)(u >> 16 | 0x40); // a quiet NaN
  u += 0x7fffu + (u >> 16 & 1);
  return (unsigned short)(u >> 16);
}

inline unsigned short toF16(float x) {
  unsigned u = bits(x);
  unsigned sign = u >> 16 & 0x8000u, magnitude = u & 0x7fffffffu;
  if (magnitude > 0x7f800000u) // NaN: quiet, payload's top bits kept
    return (unsigned short)(sign | 0x7e00u | (magnitude >> 13 & 0x3ffu));
  if (magnitude >= 0x477ff000u) // 65520 and above round to infinity
    return (unsigned short)(sign | 0x7c00u);
  if (magnitude < 0x38800000u) { // below 2^-14: a subnormal (or 2^-14)
    // |x| * 2^24 is exact; nearbyint rounds to nearest even.
    double units = nearbyint(ldexp((double)fabsf(x), 24));
    return (unsigned short)(sign | (unsigned)units);
  }
  unsigned v = magnitude - 0x38000000u; // exponent bias 127 to 15
  v += 0xfffu + (v >> 13 & 1);
  return (unsigned short)(sign | v >> 13);
}

/// The operands of one lane.
struct MmaSlot {
  unsigned a[4], b[2];
  float c[4], d[4];
};

/// The element of a 16-bit operand register: element \p half (0 lower) of
/// register \p r.
inline unsigned half16(unsigned r, int half) {
  return r >> (16 * half) & 0xffff;
}

/// Runs D = A B + C, m16n8kK, over the 32 lanes' slots; \p Kind 0 TF32,
/// 1 BF16, 2 FP16.
template <int Kind> void mmaFn(void *const *slots, unsigned group) {
  if (group != 0xffffffffu) {
    ::dlm_emu::state.fault = "an mma.sync without all 32 lanes of its warp";
    return;
  }
  const int K = Kind == 0 ? 8 : 16;
  double A[16][16], B[16][8], C[16][8];
  for (int lane = 0; lane < 32; ++lane) {
    const MmaSlot &s = *static_cast<const MmaSlot *>(slots[lane]);
    int g = lane >> 2, t = lane & 3;
    if (Kind == 0) {
      A[g][t] = tf32Value(s.a[0]);
      A[g + 8][t] = tf32Value(s.a[1]);
      A[g][t + 4] = tf32Value(s.a[2]);
      A[g + 8][t + 4] = tf32Value(s.a[3]);
      B[t][g] = tf32Value(s.b[0]);
      B[t + 4][g] = tf32Value(s.b[1]);
    } else {
      for (int r = 0; r < 4; ++r)
        for (int h = 0; h < 2; ++h) {
          unsigned e = half16(s.a[r], h);
          A[g + 8 * (r & 1)][2 * t + 8 * (r >> 1) + h] =
              Kind == 1 ? bf16Value(e) : f16Value(e);
        }
      for (int r = 0; r < 2; ++r)
        for (int h = 0; h < 2; ++h) {
          unsigned e = half16(s.b[r], h);
          B[2 * t + 8 * r + h][g] = Kind == 1 ? bf16Value(e) : f16Value(e);
        }
    }
    for (int i = 0; i < 4; ++i)
      C[g + 8 * (i >> 1)][2 * t + (i & 1)] = s.c[i];
  }
  for (int lane = 0; lane < 32; ++lane) {
    MmaSlot &s = *static_cast<MmaSlot *>(slots[lane]);
    int g = lane >> 2, t = lane & 3;
    for (int i = 0; i < 4; ++i) {
      int row = g + 8 * (i >> 1), col = 2 * t + (i & 1);
      double sum = C[row][col];
      for (int k = 0; k < K; ++k)
        sum += A[row][k] * B[k][col];
      s.d[i] = (float)sum;
    }
  }
}

template <int Kind>
inline void mma(float d[4], const unsigned a[4], const unsigned b[2],
                const float c[4]) {
  MmaSlot slot;
  memcpy(slot.a, a, sizeof slot.a);
  memcpy(slot.b, b, sizeof slot.b);
  memcpy(slot.c, c, sizeof slot.c);
  memset(slot.d, 0, sizeof slot.d);
  ::dlm_emu::warpRendezvous(0xffffffffu, &slot, mmaFn<Kind>);
  memcpy(d, slot.d, sizeof slot.d);
}

struct LdmatrixSlot {
  const unsigned char *row;
  unsigned r[4];
};

inline void ldmatrixFn(void *const *slots, unsigned group) {
  if (group != 0xffffffffu) {
    ::dlm_emu::state.fault = "an ldmatrix without all 32 lanes of its warp";
    return;
  }
  for (int lane = 0; lane < 32; ++lane) {
    LdmatrixSlot &s = *static_cast<LdmatrixSlot *>(slots[lane]);
    for (int i = 0; i < 4; ++i) {
      const unsigned char *row =
          static_cast<LdmatrixSlot *>(slots[8 * i + lane / 4])->row;
      memcpy(&s.r[i], row + 4 * (lane % 4), 4);
    }
  }
}

} // namespace detail

inline float cvt_rna_tf32(float x) {
  unsigned u = detail::bits(x);
  if ((u & 0x7fffffffu) > 0x7f800000u)
    return detail::fromBits((u | 0x00400000u) & 0xffffe000u); // quiet NaN
  // Half a TF32 unit added to the magnitude, then truncated: ties away from
  // zero; a carry moves into the exponent (to infinity past the largest).
  return detail::fromBits((u + 0x1000u) & 0xffffe000u);
}

inline unsigned pack_bf16x2(float lo, float hi) {
  return (unsigned)detail::toBf16(lo) | (unsigned)detail::toBf16(hi) << 16;
}
inline unsigned pack_f16x2(float lo, float hi) {
  return (unsigned)detail::toF16(lo) | (unsigned)detail::toF16(hi) << 16;
}

inline void mma_m16n8k8_tf32(float d[4], const unsigned a[4],
                             const unsigned b[2], const float c[4]) {
  detail::mma<0>(d, a, b, c);
}
inline void mma_m16n8k16_bf16(float d[4], const unsigned a[4],
                              const unsigned b[2], const float c[4]) {
  detail::mma<1>(d, a, b, c);
}
inline void mma_m16n8k16_f16(float d[4], const unsigned a[4],
                             const unsigned b[2], const float c[4]) {
  detail::mma<2>(d, a, b, c);
}

inline void ldmatrix_x4(unsigned r[4], const void *row) {
  detail::LdmatrixSlot slot = {static_cast<const unsigned char *>(row), {}};
  ::dlm_emu::warpRendezvous(0xffffffffu, &slot, detail::ldmatrixFn);
  memcpy(r, slot.r, sizeof slot.r);
}

/// A plain copy: the data is there when cp_async_16 returns. Both
/// addresses must be 16-byte aligned, as the hardware requires.
inline void cp_async_16(void *shared, const void *global) {
  if ((uintptr_t)shared % 16 || (uintptr_t)global % 16) {
    ::dlm_emu::state.fault = "a cp.async of 16 bytes from or to an address "
                             "that is not 16-byte aligned";
    return;
  }
  memcpy(shared, global, 16);
}
inline void cp_async_commit() {}
template <int N> inline void cp_async_wait() {}

#elif defined(__CUDACC__)
// nvcc's host pass over a bundle's kernels.cu: declarations only, the
// device passes compile the definitions above.
__device__ float cvt_rna_tf32(float x);
__device__ unsigned pack_bf16x2(float lo, float hi);
__device__ unsigned pack_f16x2(float lo, float hi);
__device__ void mma_m16n8k8_tf32(float d[4], const unsigned a[4],
                                 const unsigned b[2], const float c[4]);
__device__ void mma_m16n8k16_bf16(float d[4], const unsigned a[4],
                                  const unsigned b[2], const float c[4]);
__device__ void mma_m16n8k16_f16(float d[4], const unsigned a[4],
                                 const unsigned b[2], const float c[4]);
__device__ void ldmatrix_x4(unsigned r[4], const void *row);
__device__ void cp_async_16(void *shared, const void *global);
__device__ void cp_async_commit();
template <int N> __device__ void cp_async_wait();
#else
#error "dlm_tc.cuh is for NVRTC (sm_80 or newer) or the CPU emulator"
#endif

} // namespace tc
} // namespace dlm

#endif // DLM_TC_CUH
