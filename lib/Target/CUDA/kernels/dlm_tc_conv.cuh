//===- dlm_tc_conv.cuh - Tensor-core convolutions ---------------*- CUDA
//-*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// Implicit-GEMM convolutions on tensor cores (docs/cuda.md, "Tensor-core
// convolutions"), after dlm_kernels.cuh (Conv, Fuse, ConvDims,
// loadConvInput, convEpilogue) and dlm_tc.cuh (the mma.sync primitives).
// The embedded device library is dlm_kernels.cuh, then dlm_tc.cuh and this
// file inside `#if` that keeps them from architectures older than sm_80.
//
// Per group, the convolution is the GEMM
//
//   Y[m][j] = sum_k A[m][k] * B[k][j]
//
// with rows m the convolution outputs (image n, output pixel, position in
// the pool-after window; M = N * OH * OW), columns j the group's output
// channels (OG) and K = CG * KH * KW: A is the im2col of the input (the
// prologue applied, zero padding after it, a pool-first averaged in) and
// B[k][j] = weight[j][k], which is how the weight is stored.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_TC_CONV_CUH
#define DLM_TC_CONV_CUH

namespace dlm {
namespace tc {

/// The precisions of the tensor-core operands; the accumulation is FP32.
enum MmaPrecision {
  /// mma.m16n8k8.tf32: operands rounded by cvt.rna.tf32.f32.
  kTF32 = 0,
  /// mma.m16n8k16.bf16: operands rounded to nearest even by
  /// cvt.rn.bf16x2.f32.
  kBF16 = 1,
  /// mma.m16n8k16.f16: operands rounded to nearest even by
  /// cvt.rn.f16x2.f32 (subnormals kept, beyond 65504 infinite).
  kFP16 = 2,
};

/// Two floats as the 16-bit operand register of precision \p Prec (kBF16 or
/// kFP16): \p lo in the lower half.
template <int Prec>
__device__ __forceinline__ unsigned pack16x2(float lo, float hi) {
  if constexpr (Prec == kFP16)
    return pack_f16x2(lo, hi);
  else
    return pack_bf16x2(lo, hi);
}

__device__ __forceinline__ unsigned floatBits(float x) {
#ifdef DLM_EMU
  unsigned u;
  __builtin_memcpy(&u, &x, sizeof u);
  return u;
#else
  return __float_as_uint(x);
#endif
}

/// The implicit-GEMM convolution: a block computes a BM x BN tile of Y with
/// (BM / 32) x (BN / 32) x KS warps: KS slices of K (in-block split-K; 1
/// for none), each of (BM / 32) x (BN / 32) warps of 32 x 32. A step covers
/// BK x KS of K: slice s multiplies its columns [s BK, (s + 1) BK) of the
/// stage, and the slices' sums meet in shared memory before the epilogue,
/// added in slice order. More warps on the same tile: a grid too small to
/// fill the SMs keeps their tensor cores busier.
///
/// Grid: x = blocks of BM rows, y = groups x blocks of BN output channels.
/// Per step of BK x KS, every thread loads its share of the BM x BK A tile
/// (consecutive threads, consecutive rows: neighbouring output pixels, so
/// neighbouring addresses) and of the BN x BK B tile (consecutive k:
/// contiguous weights) into registers, and stores them into one of two
/// shared stages while the warps multiply the other: one __syncthreads a
/// step. When K is a multiple of 4, the B tile goes by cp.async instead
/// (16-byte chunks of weight rows, committed and waited for before the
/// step's barrier). TF32 operands are rounded (cvt.rna) as they are stored,
/// or as the fragments are read for cp.async'ed weights; BF16 and FP16 ones
/// are rounded as the fragments are packed. A row of a stage holds BK + 4
/// floats, so the eight rows a fragment load touches fall in distinct
/// banks. Tails (M, OG, K not multiples of the tile) load zeros and store
/// nothing.
///
/// The epilogue stages the accumulators in shared memory ([BM][BN + 1])
/// and then each thread produces whole outputs: bias, residual and
/// activation per convolution output (convEpilogue, as the SIMT kernels),
/// the average of the PA x PA window with a pool-after (its rows are
/// consecutive, BM % (PA * PA) == 0), one store, consecutive threads on
/// consecutive pixels.
template <class Cv, class In, class Out, class Res, class F, int Prec, int BM,
          int BN, int BK, int KS>
__device__ __forceinline__ void
conv2dMma(const float *in, const float *weight, const float *bias,
          const float *preScale, const float *preShift, const float *residual,
          float *out) {
  using D = ConvDims<Cv, F>;
  constexpr int Win = D::PA * D::PA;
  constexpr int KK = Cv::KH * Cv::KW;
  constexpr int K = Cv::CG * KK;
  constexpr int Pix = D::YH * D::YW;
  constexpr int M = Cv::N * Pix * Win;
  constexpr int WM = 32, WN = 32;
  constexpr int WarpsM = BM / WM, WarpsN = BN / WN;
  constexpr int Threads = 32 * WarpsM * WarpsN * KS;
  constexpr int MT = WM / 16, NT = WN / 8;
  constexpr int KStep = Prec == kTF32 ? 8 : 16;
  // The columns of K a step stages: BK for each slice.
  constexpr int BKS = BK * KS;
  constexpr int LDA = BKS + 4, LDB = BKS + 4, LDC = BN + 1;
  // BF16 / FP16: the A stage holds the rounded 16-bit operands, rows of
  // BKS + 8 (a multiple of 16 bytes, and the 8 rows of an ldmatrix matrix
  // in distinct banks), read by ldmatrix.x4: one instruction a fragment.
  constexpr bool HalfA = Prec != kTF32;
  constexpr int LDA16 = BKS + 8;
  constexpr int AFloats = HalfA ? BM * LDA16 / 2 : BM * LDA;
  constexpr int StageFloats = AFloats + BN * LDB;
  constexpr int SmemFloats =
      2 * StageFloats > KS * BM * LDC ? 2 * StageFloats : KS * BM * LDC;
  constexpr int EA = BM * BKS / Threads, EB = BN * BKS / Threads;
  constexpr int NBlocks = (Cv::OG + BN - 1) / BN;
  constexpr int KTiles = (K + BKS - 1) / BKS;
  static_assert(BM % WM == 0 && BN % WN == 0, "warps must tile the block");
  static_assert(BK % KStep == 0, "BK must be a multiple of the mma's k");
  static_assert(KS >= 1, "at least one slice of K");
  static_assert(BM * BKS % Threads == 0 && BN * BKS % Threads == 0,
                "threads must share the tiles' loads evenly");
  static_assert(BM % Win == 0, "a block must own whole pooling windows");
  // Weight rows of whole 16-byte chunks (and the runtime's 256-byte aligned
  // tensors) let the B tile travel by cp.async, straight into its stage;
  // it is rounded to TF32 as the fragments are read.
  constexpr bool AsyncB = K % 4 == 0;
  constexpr int ChunksB = BN * BKS / 4;

  __shared__ __align__(16) float smem[SmemFloats];

  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const int wm = warp % WarpsM, wn = warp / WarpsM % WarpsN;
  const int ws = warp / (WarpsM * WarpsN); // this warp's slice of K
  const int g = lane >> 2, t = lane & 3;
  const int m0 = blockIdx.x * BM;
  const int grp = blockIdx.y / NBlocks;
  const int j0 = (blockIdx.y % NBlocks) * BN;

  // Element e of this thread's share of the A tile is row ar = i % BM and
  // column ak + e * (Threads / BM) of the tile, with i = tid + e * Threads:
  // Threads = BM * (BN / 32) * KS is a multiple of BM, so a thread keeps
  // one row (one convolution output) for the whole kernel, and its
  // decomposition (image, input window corner) is computed once. B alike:
  // column bk = tid % BKS, rows bj + e * (Threads / BKS).
  static_assert(Threads % BM == 0 && Threads % BKS == 0,
                "a thread keeps its row of A and its column of B");
  constexpr int AStride = Threads / BM, BStride = Threads / BKS;
  const int ar = tid % BM, ak = tid / BM;
  const int bk = tid % BKS, bj = tid / BKS;
  const int am = m0 + ar;
  const bool aValid = am < M;
  int an = 0, ay0 = 0, ax0 = 0;
  {
    const int q = am / Win, w = am % Win;
    const int p = q % Pix;
    an = q / Pix;
    ay0 = ((p / D::YW) * D::PA + w / D::PA) * Cv::SH - Cv::PH;
    ax0 = ((p % D::YW) * D::PA + w % D::PA) * Cv::SW - Cv::PW;
  }

  float ra[EA], rb[EB];
  auto loadTiles = [&](int k0) {
    DLM_UNROLL
    for (int e = 0; e < EA; ++e) {
      const int k = k0 + ak + e * AStride;
      float v = 0.0f;
      if (aValid && k < K) {
        const int c = k / KK, kh = (k / Cv::KW) % Cv::KH, kw = k % Cv::KW;
        const int y = ay0 + kh, x = ax0 + kw;
        if (y >= 0 && y < D::IH && x >= 0 && x < D::IW)
          v = loadConvInput<Cv, In, F>(in, preScale, preShift, an,
                                       grp * Cv::CG + c, y, x);
      }
      ra[e] = v;
    }
    if constexpr (!AsyncB) {
      DLM_UNROLL
      for (int e = 0; e < EB; ++e) {
        const int j = j0 + bj + e * BStride, k = k0 + bk;
        rb[e] = j < Cv::OG && k < K ? weight[(grp * Cv::OG + j) * K + k] : 0.0f;
      }
    }
  };
  // cp.async of the B tile of step k0 into `stage`; one commit group. Past
  // the tails (k0 + kk >= K, a multiple of 4, or a column past OG) the
  // chunk is zeros, stored directly.
  auto copyB = [&](int stage, int k0) {
    float *bs = smem + stage * StageFloats + AFloats;
    for (int i = tid; i < ChunksB; i += Threads) {
      const int jj = i / (BKS / 4), kk = i % (BKS / 4) * 4;
      const int j = j0 + jj, k = k0 + kk;
      float *dst = bs + jj * LDB + kk;
      if (j < Cv::OG && k < K) {
        cp_async_16(dst, weight + (grp * Cv::OG + j) * K + k);
      } else {
        dst[0] = dst[1] = dst[2] = dst[3] = 0.0f;
      }
    }
    cp_async_commit();
  };
  auto storeTiles = [&](int stage) {
    float *as = smem + stage * StageFloats, *bs = as + AFloats;
    DLM_UNROLL
    for (int e = 0; e < EA; ++e) {
      const float v = ra[e];
      if constexpr (HalfA)
        reinterpret_cast<unsigned short *>(as)[ar * LDA16 + ak + e * AStride] =
            (unsigned short)(pack16x2<Prec>(v, 0.0f) & 0xffffu);
      else
        as[ar * LDA + ak + e * AStride] = cvt_rna_tf32(v);
    }
    if constexpr (!AsyncB) {
      DLM_UNROLL
      for (int e = 0; e < EB; ++e) {
        const float v = rb[e];
        bs[(bj + e * BStride) * LDB + bk] = Prec == kTF32 ? cvt_rna_tf32(v) : v;
      }
    }
  };

  float acc[MT][NT][4];
  DLM_UNROLL
  for (int i = 0; i < MT; ++i) {
    DLM_UNROLL
    for (int j = 0; j < NT; ++j) {
      DLM_UNROLL
      for (int r = 0; r < 4; ++r) {
        acc[i][j][r] = 0.0f;
      }
    }
  }

  loadTiles(0);
  storeTiles(0);
  if constexpr (AsyncB) {
    copyB(0, 0);
    cp_async_wait<0>();
  }
  __syncthreads();
  for (int kt = 0; kt < KTiles; ++kt) {
    // The next tile's global loads (and copies) are in flight during this
    // tile's mmas; the stage they go to was last read before the previous
    // barrier.
    if (kt + 1 < KTiles) {
      loadTiles((kt + 1) * BKS);
      if constexpr (AsyncB)
        copyB((kt + 1) % 2, (kt + 1) * BKS);
    }
    const float *as = smem + (kt % 2) * StageFloats, *bs = as + AFloats;
    DLM_UNROLL
    for (int kk = 0; kk < BK; kk += KStep) {
      const int ks = ws * BK + kk;
      unsigned a[MT][4], b[NT][2];
      DLM_UNROLL
      for (int i = 0; i < MT; ++i) {
        if constexpr (HalfA) {
          // Lanes 8q..8q+7 address the rows of matrix q: rows 0-7 / 8-15
          // (q odd) at columns 0-7 / 8-15 (q >= 2), so a[i][q] is the
          // fragment register q (rows g / g + 8, columns 2t / 2t + 8).
          const unsigned short *p =
              reinterpret_cast<const unsigned short *>(as) +
              (wm * WM + i * 16 + (lane & 15)) * LDA16 + ks + (lane >> 4) * 8;
          ldmatrix_x4(a[i], p);
        } else {
          const float *p = as + (wm * WM + i * 16 + g) * LDA + ks;
          a[i][0] = floatBits(p[t]);
          a[i][1] = floatBits(p[8 * LDA + t]);
          a[i][2] = floatBits(p[t + 4]);
          a[i][3] = floatBits(p[8 * LDA + t + 4]);
        }
      }
      DLM_UNROLL
      for (int j = 0; j < NT; ++j) {
        const float *p = bs + (wn * WN + j * 8 + g) * LDB + ks;
        if constexpr (Prec == kTF32 && AsyncB) {
          // Raw FP32 weights from cp.async: round them here.
          b[j][0] = floatBits(cvt_rna_tf32(p[t]));
          b[j][1] = floatBits(cvt_rna_tf32(p[t + 4]));
        } else if constexpr (Prec == kTF32) {
          b[j][0] = floatBits(p[t]);
          b[j][1] = floatBits(p[t + 4]);
        } else {
          b[j][0] = pack16x2<Prec>(p[2 * t], p[2 * t + 1]);
          b[j][1] = pack16x2<Prec>(p[2 * t + 8], p[2 * t + 9]);
        }
      }
      DLM_UNROLL
      for (int i = 0; i < MT; ++i) {
        DLM_UNROLL
        for (int j = 0; j < NT; ++j) {
          if constexpr (Prec == kTF32)
            mma_m16n8k8_tf32(acc[i][j], a[i], b[j], acc[i][j]);
          else if constexpr (Prec == kFP16)
            mma_m16n8k16_f16(acc[i][j], a[i], b[j], acc[i][j]);
          else
            mma_m16n8k16_bf16(acc[i][j], a[i], b[j], acc[i][j]);
        }
      }
    }
    // The other stage was last read before the previous barrier.
    if (kt + 1 < KTiles)
      storeTiles((kt + 1) % 2);
    if constexpr (AsyncB)
      cp_async_wait<0>();
    __syncthreads();
  }

  // The accumulators through shared memory (both stages are free now), a
  // BM x LDC region per slice.
  float *cs = smem + ws * (BM * LDC);
  DLM_UNROLL
  for (int i = 0; i < MT; ++i) {
    DLM_UNROLL
    for (int j = 0; j < NT; ++j) {
      const int row = wm * WM + i * 16 + g, col = wn * WN + j * 8 + 2 * t;
      cs[row * LDC + col] = acc[i][j][0];
      cs[row * LDC + col + 1] = acc[i][j][1];
      cs[(row + 8) * LDC + col] = acc[i][j][2];
      cs[(row + 8) * LDC + col + 1] = acc[i][j][3];
    }
  }
  __syncthreads();
  constexpr int Rows = BM / Win;
  for (int i = tid; i < Rows * BN; i += Threads) {
    const int r = i % Rows, jj = i / Rows;
    const int q = m0 / Win + r, j = j0 + jj;
    if (q >= M / Win || j >= Cv::OG)
      continue;
    const int n = q / Pix, p = q % Pix, yh = p / D::YW, yw = p % D::YW;
    const int o = grp * Cv::OG + j;
    float sum = 0.0f;
    DLM_UNROLL
    for (int w = 0; w < Win; ++w) {
      // The slices' sums of this output, in slice order.
      float y = smem[(r * Win + w) * LDC + jj];
      DLM_UNROLL
      for (int s = 1; s < KS; ++s)
        y += smem[s * (BM * LDC) + (r * Win + w) * LDC + jj];
      sum += convEpilogue<Cv, Res, F>(y, bias, residual, n, o,
                                      yh * D::PA + w / D::PA,
                                      yw * D::PA + w % D::PA);
    }
    out[at<Out, Pix>(n, o, p)] = Win == 1 ? sum : sum / float(Win);
  }
}

} // namespace tc

/// The TF32 tensor-core convolution (mma.m16n8k8, FP32 accumulation).
template <class Cv, class In, class Out, class Res, class F, int BM, int BN,
          int BK, int KS>
__device__ __forceinline__ void
conv2dTF32(const float *in, const float *weight, const float *bias,
           const float *preScale, const float *preShift, const float *residual,
           float *out) {
  tc::conv2dMma<Cv, In, Out, Res, F, tc::kTF32, BM, BN, BK, KS>(
      in, weight, bias, preScale, preShift, residual, out);
}

/// The BF16 tensor-core convolution (mma.m16n8k16, FP32 accumulation);
/// tensors stay FP32 in memory and are rounded to BF16 on their way into
/// the mma.
template <class Cv, class In, class Out, class Res, class F, int BM, int BN,
          int BK, int KS>
__device__ __forceinline__ void
conv2dBF16(const float *in, const float *weight, const float *bias,
           const float *preScale, const float *preShift, const float *residual,
           float *out) {
  tc::conv2dMma<Cv, In, Out, Res, F, tc::kBF16, BM, BN, BK, KS>(
      in, weight, bias, preScale, preShift, residual, out);
}

/// The FP16 tensor-core convolution (mma.m16n8k16, FP32 accumulation);
/// tensors stay FP32 in memory and are rounded to FP16 on their way into
/// the mma: 3 more mantissa bits than BF16, but |x| > 65504 overflows.
template <class Cv, class In, class Out, class Res, class F, int BM, int BN,
          int BK, int KS>
__device__ __forceinline__ void
conv2dFP16(const float *in, const float *weight, const float *bias,
           const float *preScale, const float *preShift, const float *residual,
           float *out) {
  tc::conv2dMma<Cv, In, Out, Res, F, tc::kFP16, BM, BN, BK, KS>(
      in, weight, bias, preScale, preShift, residual, out);
}

} // namespace dlm

#endif // DLM_TC_CONV_CUH
