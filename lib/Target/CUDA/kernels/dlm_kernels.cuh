//===- dlm_kernels.cuh - The dlm device template library -------*- CUDA -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// Every kernel of a compiled model is an instance of a template of this file
// (docs/cuda.md). kernels.cu defines one `extern "C" __global__` function per
// specialization; its body calls one device function below with every shape,
// channel offset, fusion choice and tile size as a template argument, so the
// compiler sees constant loop bounds and constant index arithmetic.
//
// The same text compiles three ways:
//   - by NVRTC, the runtime's compiler: no host headers, only NVRTC's
//     built-ins (math functions, __int_as_float);
//   - by nvcc, since a bundle is self-contained;
//   - by the host C++ compiler with -DDLM_EMU, under the emulator's shim,
//     which runs every CUDA thread of a block as a fiber.
// Hence: __shared__ arrays (static, or `extern __shared__` ones, which the
// emulator rewrites into pointers to its dynamic shared region; such a
// template's row in DeviceTemplates.def says Dynamic), no warp intrinsics,
// __syncthreads() as the only synchronization, and every thread of a block
// reaches every barrier (no early return in a kernel that has one).
//
// Tensors are NCHW f32. A tensor inside a larger buffer (a channel slice of a
// concatenation buffer) is addressed from the buffer's start: Slice<offset,
// channels> gives its first channel and the buffer's channel count. A rank-2
// tensor [N, F] is [N, F, 1, 1]: its features are channels.
//
// Requires C++17 (if constexpr), NVRTC's default.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_KERNELS_CUH
#define DLM_KERNELS_CUH

#ifdef DLM_EMU
// Host compilation under the emulator's shim, which defines __global__,
// __device__, __shared__, threadIdx, blockIdx, blockDim, gridDim and
// __syncthreads(). What CUDA has built in and the shim may not, is here.
#include <math.h>
#ifndef __forceinline__
#define __forceinline__ inline
#endif
#ifndef __launch_bounds__
#define __launch_bounds__(...)
#endif
#define DLM_UNROLL
#else
#define DLM_UNROLL _Pragma("unroll")
#endif

namespace dlm {

//===----------------------------------------------------------------------===//
// Building blocks
//===----------------------------------------------------------------------===//

/// The activations of a kernel's epilogue (the dialect's DLM_Activation,
/// DLMAttrs.td, whose PyTorch formulas these compute in f32).
enum Activation {
  kNone = 0,
  kRelu = 1,
  kSigmoid = 2,
  kRelu6 = 3,
  kHardtanh = 4,
  kTanh = 5,
  kSilu = 6,
  kHardswish = 7,
  kHardsigmoid = 8,
  kGelu = 9,
  kGeluTanh = 10,
  kLeakyRelu = 11
};

/// The float whose bit pattern is `bits`: how an activation's parameters
/// (hardtanh's min and max, leaky_relu's slope) travel as template
/// arguments, floats not being allowed there before C++20.
__device__ __forceinline__ float floatFromBits(int bits) {
#ifdef DLM_EMU
  float f;
  __builtin_memcpy(&f, &bits, sizeof f);
  return f;
#else
  return __int_as_float(bits);
#endif
}

/// `Act` applied to v; P0 and P1 are the bits of its parameters: hardtanh's
/// [min, max], leaky_relu's [negative_slope].
template <int Act, int P0 = 0, int P1 = 0>
__device__ __forceinline__ float activate(float v) {
  if constexpr (Act == kRelu) {
    return v < 0.0f ? 0.0f : v;
  } else if constexpr (Act == kSigmoid) {
    return 1.0f / (1.0f + expf(-v));
  } else if constexpr (Act == kRelu6) {
    return v < 0.0f ? 0.0f : (v > 6.0f ? 6.0f : v);
  } else if constexpr (Act == kHardtanh) {
    const float lo = floatFromBits(P0), hi = floatFromBits(P1);
    return v < lo ? lo : (v > hi ? hi : v);
  } else if constexpr (Act == kTanh) {
    return tanhf(v);
  } else if constexpr (Act == kSilu) {
    return v / (1.0f + expf(-v));
  } else if constexpr (Act == kHardswish) {
    return v * fminf(fmaxf(v + 3.0f, 0.0f), 6.0f) / 6.0f;
  } else if constexpr (Act == kHardsigmoid) {
    return fminf(fmaxf(v + 3.0f, 0.0f), 6.0f) / 6.0f;
  } else if constexpr (Act == kGelu) {
    return v * 0.5f * (1.0f + erff(v * 0.70710678118654752440f));
  } else if constexpr (Act == kGeluTanh) {
    // sqrt(2 / pi) * (v + 0.044715 v^3), PyTorch's tanh approximation.
    const float inner = 0.79788456080286535588f * (v + 0.044715f * v * v * v);
    return 0.5f * v * (1.0f + tanhf(inner));
  } else if constexpr (Act == kLeakyRelu) {
    return v > 0.0f ? v : v * floatFromBits(P0);
  } else {
    return v;
  }
}

/// -infinity, the padding of a max pool.
__device__ __forceinline__ float negativeInfinity() {
#ifdef DLM_EMU
  return -__builtin_huge_valf();
#else
  return -__int_as_float(0x7f800000);
#endif
}

/// Where a tensor lives in its buffer: from channel `Offset` of a buffer of
/// `Channels` channels (a whole tensor is Slice<0, its channels>).
template <int Offset, int Channels> struct Slice {
  static constexpr int offset = Offset;
  static constexpr int channels = Channels;
};

/// The index of element (n, c, p) of a tensor in slice `S`, with `HW`
/// elements per channel, counted from the buffer's start.
template <class S, int HW>
__device__ __forceinline__ int at(int n, int c, int p) {
  return (n * S::channels + S::offset + c) * HW + p;
}

/// An eval-mode BatchNorm's multiplier `scale / sqrt(variance + epsilon)`,
/// the square root taken in double as the reference executor (and PyTorch's
/// CPU kernel) does.
__device__ __forceinline__ float bnMultiplier(float scale, float variance,
                                              double epsilon) {
  float invStd = float(1.0 / sqrt(double(variance) + epsilon));
  return scale * invStd;
}

/// A kernel's prologue on one loaded input element of channel `c`:
/// `x * scale[c] + shift[c]` if `F::affine`, then `max(x, 0)` if
/// `F::preRelu`.
template <class F>
__device__ __forceinline__ float prologue(float x, const float *scale,
                                          const float *shift, int c) {
  if constexpr (F::affine)
    x = x * scale[c] + shift[c];
  if constexpr (F::preRelu)
    x = x < 0.0f ? 0.0f : x;
  return x;
}

//===----------------------------------------------------------------------===//
// Convolution
//===----------------------------------------------------------------------===//

/// The geometry of a convolution: input [N, C, H, W], weight
/// [O, C / G, KH, KW], stride (SH, SW), zero padding (PH, PW), G groups,
/// dilation (DH, DW): tap (kh, kw) reads the input at (kh * DH, kw * DW)
/// from the window's corner, whose extent is EH x EW.
template <int N_, int C_, int H_, int W_, int O_, int KH_, int KW_, int SH_,
          int SW_, int PH_, int PW_, int G_, int DH_ = 1, int DW_ = 1>
struct Conv {
  static constexpr int N = N_, C = C_, H = H_, W = W_, O = O_;
  static constexpr int KH = KH_, KW = KW_, SH = SH_, SW = SW_;
  static constexpr int PH = PH_, PW = PW_, G = G_;
  static constexpr int DH = DH_, DW = DW_;
  static constexpr int EH = (KH - 1) * DH + 1, EW = (KW - 1) * DW + 1;
  static constexpr int CG = C / G, OG = O / G;
  static_assert(C % G == 0 && O % G == 0, "groups must divide the channels");
};

/// What a fused_conv2d absorbed (DLMOps.td): a bias; a prologue (affine
/// BatchNorm scale/shift, then ReLU); an average pool of window and stride
/// `Pool` (1: none), before the convolution if `PoolFirst`, else after the
/// epilogue; a residual; the activation.
template <bool Bias, bool Affine, bool PreRelu, int Pool, bool PoolFirst,
          bool Residual, int Act, int ActP0 = 0, int ActP1 = 0>
struct Fuse {
  static constexpr bool bias = Bias, affine = Affine, preRelu = PreRelu;
  static constexpr int pool = Pool < 1 ? 1 : Pool;
  static constexpr bool poolFirst = PoolFirst, residual = Residual;
  static constexpr int act = Act, actP0 = ActP0, actP1 = ActP1;
};

/// The sizes a fused convolution works with.
template <class Cv, class F> struct ConvDims {
  /// The pool before the convolution (pool_first) and after it.
  static constexpr int PB = F::poolFirst ? F::pool : 1;
  static constexpr int PA = F::poolFirst ? 1 : F::pool;
  /// The convolution's input plane (after a pool-first).
  static constexpr int IH = Cv::H / PB, IW = Cv::W / PB;
  /// The convolution's output plane, which a residual has.
  static constexpr int OH = (IH + 2 * Cv::PH - Cv::EH) / Cv::SH + 1;
  static constexpr int OW = (IW + 2 * Cv::PW - Cv::EW) / Cv::SW + 1;
  /// The kernel's output plane (after a pool-after; PyTorch's floor mode).
  static constexpr int YH = OH / PA, YW = OW / PA;
};

/// The convolution's input at (n, c, y, x) of its input plane, which must be
/// in bounds: the prologue applied to the stored element or, with a
/// pool-first, the average of the prologue over its PB x PB window. Padding
/// is the caller's: it happens after this, as in PyTorch.
template <class Cv, class In, class F>
__device__ __forceinline__ float
loadConvInput(const float *in, const float *scale, const float *shift, int n,
              int c, int y, int x) {
  using D = ConvDims<Cv, F>;
  constexpr int HW = Cv::H * Cv::W;
  if constexpr (D::PB == 1) {
    return prologue<F>(in[at<In, HW>(n, c, y * Cv::W + x)], scale, shift, c);
  } else {
    float sum = 0.0f;
    for (int i = 0; i < D::PB; ++i)
      for (int j = 0; j < D::PB; ++j)
        sum += prologue<F>(
            in[at<In, HW>(n, c, (y * D::PB + i) * Cv::W + x * D::PB + j)],
            scale, shift, c);
    return sum / float(D::PB * D::PB);
  }
}

/// The epilogue of one convolution output (n, o, oh, ow) before any
/// pool-after: bias, residual, activation.
template <class Cv, class Res, class F>
__device__ __forceinline__ float convEpilogue(float acc, const float *bias,
                                              const float *residual, int n,
                                              int o, int oh, int ow) {
  using D = ConvDims<Cv, F>;
  if constexpr (F::bias)
    acc += bias[o];
  if constexpr (F::residual)
    acc += residual[at<Res, D::OH * D::OW>(n, o, oh * D::OW + ow)];
  return activate<F::act, F::actP0, F::actP1>(acc);
}

/// The direct path, for tiny convolutions and for those whose tiles would
/// not fit in shared memory: one thread per kernel output, reading input
/// and weights from global memory. Grid-stride; no barriers.
template <class Cv, class In, class Out, class Res, class F, int Threads>
__device__ __forceinline__ void
conv2dDirect(const float *in, const float *weight, const float *bias,
             const float *preScale, const float *preShift,
             const float *residual, float *out) {
  using D = ConvDims<Cv, F>;
  constexpr int Total = Cv::N * Cv::O * D::YH * D::YW;
  for (int i = blockIdx.x * Threads + threadIdx.x; i < Total;
       i += gridDim.x * Threads) {
    const int yw = i % D::YW, yh = (i / D::YW) % D::YH;
    const int o = (i / (D::YW * D::YH)) % Cv::O;
    const int n = i / (D::YW * D::YH * Cv::O);
    const int g = o / Cv::OG;
    float sum = 0.0f;
    for (int a = 0; a < D::PA; ++a)
      for (int b = 0; b < D::PA; ++b) {
        const int oh = yh * D::PA + a, ow = yw * D::PA + b;
        float acc = 0.0f;
        for (int c = 0; c < Cv::CG; ++c)
          for (int kh = 0; kh < Cv::KH; ++kh) {
            const int y = oh * Cv::SH - Cv::PH + kh * Cv::DH;
            if (y < 0 || y >= D::IH)
              continue;
            for (int kw = 0; kw < Cv::KW; ++kw) {
              const int x = ow * Cv::SW - Cv::PW + kw * Cv::DW;
              if (x < 0 || x >= D::IW)
                continue;
              acc += weight[((o * Cv::CG + c) * Cv::KH + kh) * Cv::KW + kw] *
                     loadConvInput<Cv, In, F>(in, preScale, preShift, n,
                                              g * Cv::CG + c, y, x);
            }
          }
        sum += convEpilogue<Cv, Res, F>(acc, bias, residual, n, o, oh, ow);
      }
    out[at<Out, D::YH * D::YW>(n, o, yh * D::YW + yw)] =
        D::PA == 1 ? sum : sum / float(D::PA * D::PA);
  }
}

/// A direct convolution tiled in shared memory.
///
/// Grid: x = spatial tiles of BPH x BPW kernel outputs, y = blocks of BO
/// output channels (per group, so a block reads one group's inputs), z = N.
/// Per chunk of BC input channels, the block stages in shared memory the
/// input patch its tile reads, ((BPH*PA - 1)*SH + KH) x ((BPW*PA - 1)*SW +
/// KW) per channel (the dilated extents EH, EW for KH, KW), with the
/// prologue applied and zero padding after it,
/// and the BO x BC x KH x KW weights; both loads are coalesced (consecutive
/// threads, consecutive addresses). Each thread then accumulates TO output
/// channels x RPH x RPW kernel outputs (x PA*PA window positions with a
/// pool-after) in registers; the threads' channels and pixels are
/// interleaved so that neighbouring threads read neighbouring shared
/// elements and write neighbouring outputs.
template <class Cv, class In, class Out, class Res, class F, int BO, int BPH,
          int BPW, int BC, int TO, int RPH, int RPW>
__device__ __forceinline__ void
conv2dTiled(const float *in, const float *weight, const float *bias,
            const float *preScale, const float *preShift, const float *residual,
            float *out) {
  using D = ConvDims<Cv, F>;
  static_assert(!F::poolFirst, "pool_first convolutions take the GEMM path");
  static_assert(BO % TO == 0 && BPH % RPH == 0 && BPW % RPW == 0,
                "a thread's outputs must tile the block's");
  constexpr int P = D::PA, KK = Cv::KH * Cv::KW;
  constexpr int XH = (BPH * P - 1) * Cv::SH + Cv::EH;
  constexpr int XW = (BPW * P - 1) * Cv::SW + Cv::EW;
  constexpr int TX = BPW / RPW, TY = BPH / RPH, TC = BO / TO;
  constexpr int Threads = TX * TY * TC;
  constexpr int TilesW = (D::YW + BPW - 1) / BPW;
  constexpr int OBlocks = (Cv::OG + BO - 1) / BO;

  __shared__ float xs[BC][XH][XW];
  __shared__ float ws[BO][BC][KK];

  const int tid = threadIdx.x;
  const int tx = tid % TX, ty = (tid / TX) % TY, tc = tid / (TX * TY);
  const int tileH = blockIdx.x / TilesW, tileW = blockIdx.x % TilesW;
  const int g = blockIdx.y / OBlocks;
  const int o0 = g * Cv::OG + (blockIdx.y % OBlocks) * BO;
  const int oEnd = (g + 1) * Cv::OG;
  const int n = blockIdx.z;
  const int y0 = tileH * BPH * P * Cv::SH - Cv::PH;
  const int x0 = tileW * BPW * P * Cv::SW - Cv::PW;

  float acc[TO][RPH][RPW][P * P];
  DLM_UNROLL
  for (int t = 0; t < TO; ++t) {
    DLM_UNROLL
    for (int a = 0; a < RPH; ++a) {
      DLM_UNROLL
      for (int b = 0; b < RPW; ++b) {
        DLM_UNROLL
        for (int q = 0; q < P * P; ++q) {
          acc[t][a][b][q] = 0.0f;
        }
      }
    }
  }

  for (int c0 = 0; c0 < Cv::CG; c0 += BC) {
    for (int i = tid; i < BC * XH * XW; i += Threads) {
      const int c = i / (XH * XW), y = (i / XW) % XH, x = i % XW;
      const int iy = y0 + y, ix = x0 + x;
      float v = 0.0f;
      if (c0 + c < Cv::CG && iy >= 0 && iy < D::IH && ix >= 0 && ix < D::IW)
        v = loadConvInput<Cv, In, F>(in, preScale, preShift, n,
                                     g * Cv::CG + c0 + c, iy, ix);
      xs[c][y][x] = v;
    }
    for (int i = tid; i < BO * BC * KK; i += Threads) {
      const int o = i / (BC * KK), c = (i / KK) % BC, k = i % KK;
      float v = 0.0f;
      if (o0 + o < oEnd && c0 + c < Cv::CG)
        v = weight[((o0 + o) * Cv::CG + c0 + c) * KK + k];
      ws[o][c][k] = v;
    }
    __syncthreads();
    for (int c = 0; c < BC; ++c)
      for (int kh = 0; kh < Cv::KH; ++kh)
        for (int kw = 0; kw < Cv::KW; ++kw) {
          float wv[TO];
          DLM_UNROLL
          for (int t = 0; t < TO; ++t) {
            wv[t] = ws[tc + t * TC][c][kh * Cv::KW + kw];
          }
          DLM_UNROLL
          for (int a = 0; a < RPH; ++a) {
            DLM_UNROLL
            for (int pa = 0; pa < P; ++pa) {
              const int y = ((ty + a * TY) * P + pa) * Cv::SH + kh * Cv::DH;
              DLM_UNROLL
              for (int b = 0; b < RPW; ++b) {
                DLM_UNROLL
                for (int pb = 0; pb < P; ++pb) {
                  const int x = ((tx + b * TX) * P + pb) * Cv::SW + kw * Cv::DW;
                  const float xv = xs[c][y][x];
                  DLM_UNROLL
                  for (int t = 0; t < TO; ++t) {
                    acc[t][a][b][pa * P + pb] += wv[t] * xv;
                  }
                }
              }
            }
          }
        }
    __syncthreads();
  }

  DLM_UNROLL
  for (int t = 0; t < TO; ++t) {
    const int o = o0 + tc + t * TC;
    DLM_UNROLL
    for (int a = 0; a < RPH; ++a) {
      const int yh = tileH * BPH + ty + a * TY;
      DLM_UNROLL
      for (int b = 0; b < RPW; ++b) {
        const int yw = tileW * BPW + tx + b * TX;
        if (o >= oEnd || yh >= D::YH || yw >= D::YW)
          continue;
        float sum = 0.0f;
        DLM_UNROLL
        for (int pa = 0; pa < P; ++pa) {
          DLM_UNROLL
          for (int pb = 0; pb < P; ++pb) {
            sum += convEpilogue<Cv, Res, F>(acc[t][a][b][pa * P + pb], bias,
                                            residual, n, o, yh * P + pa,
                                            yw * P + pb);
          }
        }
        out[at<Out, D::YH * D::YW>(n, o, yh * D::YW + yw)] =
            P == 1 ? sum : sum / float(P * P);
      }
    }
  }
}

/// A 1x1 unpadded convolution (any stride, one group) as a GEMM tile:
/// out[o, col] = sum_c weight[o, c] * x[c, col], M = O rows, K = C, and one
/// column per convolution output the kernel needs.
///
/// Grid: x = column blocks of BN, y = row blocks of BM, z = N. Per step of
/// BK channels the block stages the BM x BK weights and the BK x BN input
/// columns in shared memory (prologue and pool-first applied while
/// loading); each of the (BM/TM) x (BN/TN) threads accumulates TM x TN
/// outputs in registers. With a pool-after of window PA, the columns are
/// ordered (kernel output pixel, window position) and TN is a multiple of
/// PA*PA, so each thread owns whole windows and pools in registers; without
/// one, a thread's columns are interleaved across the block (conflict-free
/// shared reads, coalesced writes).
template <class Cv, class In, class Out, class Res, class F, int BM, int BN,
          int BK, int TM, int TN>
__device__ __forceinline__ void
conv2dGemm(const float *in, const float *weight, const float *bias,
           const float *preScale, const float *preShift, const float *residual,
           float *out) {
  using D = ConvDims<Cv, F>;
  static_assert(Cv::KH == 1 && Cv::KW == 1 && Cv::PH == 0 && Cv::PW == 0 &&
                    Cv::G == 1,
                "the GEMM path takes 1x1 unpadded single-group convolutions");
  constexpr int Win = D::PA * D::PA;
  static_assert(TN % Win == 0, "a thread must own whole pooling windows");
  static_assert(BM % TM == 0 && BN % TN == 0, "threads must tile the block");
  constexpr int M = Cv::O, K = Cv::C;
  constexpr int Cols = D::YH * D::YW * Win;
  constexpr int TX = BN / TN, TY = BM / TM, Threads = TX * TY;

  __shared__ float as[BK][BM];
  __shared__ float bs[BK][BN];

  const int tid = threadIdx.x;
  const int tx = tid % TX, ty = tid / TX;
  const int m0 = blockIdx.y * BM, col0 = blockIdx.x * BN;
  const int n = blockIdx.z;
  // The block column of this thread's j-th column.
  auto column = [&](int j) { return Win == 1 ? tx + j * TX : tx * TN + j; };

  float acc[TM][TN];
  DLM_UNROLL
  for (int i = 0; i < TM; ++i) {
    DLM_UNROLL
    for (int j = 0; j < TN; ++j) {
      acc[i][j] = 0.0f;
    }
  }

  for (int k0 = 0; k0 < K; k0 += BK) {
    for (int i = tid; i < BM * BK; i += Threads) {
      const int m = i / BK, k = i % BK;
      as[k][m] =
          m0 + m < M && k0 + k < K ? weight[(m0 + m) * K + k0 + k] : 0.0f;
    }
    for (int i = tid; i < BK * BN; i += Threads) {
      const int k = i / BN, j = i % BN, col = col0 + j;
      float v = 0.0f;
      if (k0 + k < K && col < Cols) {
        const int q = col / Win, r = col % Win;
        const int oh = (q / D::YW) * D::PA + r / D::PA;
        const int ow = (q % D::YW) * D::PA + r % D::PA;
        v = loadConvInput<Cv, In, F>(in, preScale, preShift, n, k0 + k,
                                     oh * Cv::SH, ow * Cv::SW);
      }
      bs[k][j] = v;
    }
    __syncthreads();
    DLM_UNROLL
    for (int k = 0; k < BK; ++k) {
      float a[TM], b[TN];
      DLM_UNROLL
      for (int i = 0; i < TM; ++i) {
        a[i] = as[k][ty + i * TY];
      }
      DLM_UNROLL
      for (int j = 0; j < TN; ++j) {
        b[j] = bs[k][column(j)];
      }
      DLM_UNROLL
      for (int i = 0; i < TM; ++i) {
        DLM_UNROLL
        for (int j = 0; j < TN; ++j) {
          acc[i][j] += a[i] * b[j];
        }
      }
    }
    __syncthreads();
  }

  DLM_UNROLL
  for (int i = 0; i < TM; ++i) {
    const int m = m0 + ty + i * TY;
    DLM_UNROLL
    for (int j = 0; j < TN; j += Win) {
      const int col = col0 + column(j);
      if (m >= M || col >= Cols)
        continue;
      const int q = col / Win, yh = q / D::YW, yw = q % D::YW;
      float sum = 0.0f;
      DLM_UNROLL
      for (int r = 0; r < Win; ++r) {
        sum += convEpilogue<Cv, Res, F>(acc[i][j + r], bias, residual, n, m,
                                        yh * D::PA + r / D::PA,
                                        yw * D::PA + r % D::PA);
      }
      out[at<Out, D::YH * D::YW>(n, m, q)] = Win == 1 ? sum : sum / float(Win);
    }
  }
}

//===----------------------------------------------------------------------===//
// Linear
//===----------------------------------------------------------------------===//

/// What a fused_linear absorbed: a bias, a prologue, a global average pool
/// of an [N, C, H, W] input, the activation.
template <bool Bias, bool Affine, bool PreRelu, bool GlobalPool, int Act,
          int ActP0 = 0, int ActP1 = 0>
struct LinearFuse {
  static constexpr bool bias = Bias, affine = Affine, preRelu = PreRelu;
  static constexpr bool globalPool = GlobalPool;
  static constexpr int act = Act, actP0 = ActP0, actP1 = ActP1;
};

/// out[n, o] = act(sum_f x[n, f] * weight[o, f] + bias[o]) for F features,
/// where x is the input with the prologue applied and, with a global pool,
/// averaged over its HW elements per channel.
///
/// Grid: x = blocks of BO outputs, y = blocks of BN batch rows. Per chunk
/// of Threads features, the block stages x (prologue and pool applied) in
/// shared memory; Threads / BO threads share each output, each reading a
/// strided part of its weight row (consecutive threads, consecutive
/// weights: coalesced) and keeping BN partial sums in registers; a tree
/// reduction in shared memory combines them.
template <int N, int F, int O, int HW, class In, class Out, class Fu, int BO,
          int BN, int Threads>
__device__ __forceinline__ void linear(const float *in, const float *weight,
                                       const float *bias, const float *preScale,
                                       const float *preShift, float *out) {
  constexpr int TPO = Threads / BO;
  static_assert(TPO * BO == Threads && (TPO & (TPO - 1)) == 0,
                "the threads of an output must be a power of two");
  static_assert(Fu::globalPool || HW == 1, "HW > 1 needs a global pool");
  __shared__ float xs[BN][Threads];
  __shared__ float partial[BN][Threads];

  const int tid = threadIdx.x;
  const int lane = tid % TPO;
  const int o = blockIdx.x * BO + tid / TPO;
  const int n0 = blockIdx.y * BN;

  float acc[BN];
  DLM_UNROLL
  for (int b = 0; b < BN; ++b) {
    acc[b] = 0.0f;
  }

  for (int k0 = 0; k0 < F; k0 += Threads) {
    for (int i = tid; i < BN * Threads; i += Threads) {
      const int b = i / Threads, k = i % Threads;
      float v = 0.0f;
      if (k0 + k < F && n0 + b < N) {
        if constexpr (HW == 1) {
          v = prologue<Fu>(in[at<In, 1>(n0 + b, k0 + k, 0)], preScale, preShift,
                           k0 + k);
        } else {
          for (int p = 0; p < HW; ++p)
            v += prologue<Fu>(in[at<In, HW>(n0 + b, k0 + k, p)], preScale,
                              preShift, k0 + k);
          v /= float(HW);
        }
      }
      xs[b][k] = v;
    }
    __syncthreads();
    if (o < O)
      for (int k = lane; k < Threads && k0 + k < F; k += TPO) {
        const float w = weight[o * F + k0 + k];
        DLM_UNROLL
        for (int b = 0; b < BN; ++b) {
          acc[b] += w * xs[b][k];
        }
      }
    __syncthreads();
  }

  DLM_UNROLL
  for (int b = 0; b < BN; ++b) {
    partial[b][tid] = acc[b];
  }
  __syncthreads();
  for (int s = TPO / 2; s > 0; s /= 2) {
    if (lane < s) {
      DLM_UNROLL
      for (int b = 0; b < BN; ++b) {
        partial[b][tid] += partial[b][tid + s];
      }
    }
    __syncthreads();
  }
  if (lane == 0 && o < O) {
    DLM_UNROLL
    for (int b = 0; b < BN; ++b) {
      if (n0 + b >= N)
        continue;
      float v = partial[b][tid];
      if constexpr (Fu::bias)
        v += bias[o];
      out[at<Out, 1>(n0 + b, o, 0)] =
          activate<Fu::act, Fu::actP0, Fu::actP1>(v);
    }
  }
}

//===----------------------------------------------------------------------===//
// Pooling
//===----------------------------------------------------------------------===//

/// A pooling window: size (KH, KW), stride (SH, SW), padding (PH, PW);
/// PyTorch's ceil_mode and (average pooling) count_include_pad.
template <int KH_, int KW_, int SH_, int SW_, int PH_, int PW_,
          bool Ceil_ = false, bool IncludePad_ = true>
struct Window {
  static constexpr int KH = KH_, KW = KW_, SH = SH_, SW = SW_;
  static constexpr int PH = PH_, PW = PW_;
  static constexpr bool ceil = Ceil_, includePad = IncludePad_;
};

/// A pool's output size along one dimension (the dialect's
/// getPoolOutputSize): floor or ceil mode, and in ceil mode no window that
/// starts past the input and its left padding.
template <int In, int K, int S, int P, bool Ceil> struct PoolOutputSize {
  static constexpr int floor = (In + 2 * P - K) / S + 1;
  static constexpr int ceil = (In + 2 * P - K + S - 1) / S + 1;
  static constexpr int value =
      !Ceil ? floor : ((ceil - 1) * S >= In + P ? ceil - 1 : ceil);
};

/// Max or average pooling of [N, C, H, W] in PyTorch's floor or ceil mode:
/// max pads with -inf (and propagates NaN), average pads with zeros and
/// divides by the window clipped to the padded input (count_include_pad)
/// or by its in-bounds elements. One thread per output (overlapping
/// windows share loads through the cache); grid-stride.
template <bool Max, int N, int C, int H, int W, class Wn, class In, class Out,
          int Threads>
__device__ __forceinline__ void pool2d(const float *in, float *out) {
  constexpr int OH = PoolOutputSize<H, Wn::KH, Wn::SH, Wn::PH, Wn::ceil>::value;
  constexpr int OW = PoolOutputSize<W, Wn::KW, Wn::SW, Wn::PW, Wn::ceil>::value;
  constexpr int Total = N * C * OH * OW;
  for (int i = blockIdx.x * Threads + threadIdx.x; i < Total;
       i += gridDim.x * Threads) {
    const int ow = i % OW, oh = (i / OW) % OH;
    const int c = (i / (OW * OH)) % C, n = i / (OW * OH * C);
    float r = Max ? negativeInfinity() : 0.0f;
    int count = 0;
    for (int kh = 0; kh < Wn::KH; ++kh) {
      const int y = oh * Wn::SH - Wn::PH + kh;
      if (y < 0 || y >= H)
        continue;
      for (int kw = 0; kw < Wn::KW; ++kw) {
        const int x = ow * Wn::SW - Wn::PW + kw;
        if (x < 0 || x >= W)
          continue;
        const float v = in[at<In, H * W>(n, c, y * W + x)];
        ++count;
        if constexpr (Max)
          r = v > r || v != v ? v : r;
        else
          r += v;
      }
    }
    if constexpr (!Max) {
      if constexpr (Wn::includePad) {
        const int ys = oh * Wn::SH - Wn::PH, xs = ow * Wn::SW - Wn::PW;
        const int ye = ys + Wn::KH < H + Wn::PH ? ys + Wn::KH : H + Wn::PH;
        const int xe = xs + Wn::KW < W + Wn::PW ? xs + Wn::KW : W + Wn::PW;
        count = (ye - ys) * (xe - xs);
      }
      r = r / float(count);
    }
    out[at<Out, OH * OW>(n, c, oh * OW + ow)] = r;
  }
}

/// Adaptive max or average pooling of [N, C, H, W] to [N, C, OH, OW], as
/// nn.AdaptiveAvgPool2d / AdaptiveMaxPool2d: output (i, j) reduces rows
/// [floor(i * H / OH), ceil((i + 1) * H / OH)) and the columns likewise.
/// One thread per output; grid-stride.
template <bool Max, int N, int C, int H, int W, int OH, int OW, class In,
          class Out, int Threads>
__device__ __forceinline__ void adaptivePool2d(const float *in, float *out) {
  constexpr int Total = N * C * OH * OW;
  for (int i = blockIdx.x * Threads + threadIdx.x; i < Total;
       i += gridDim.x * Threads) {
    const int ow = i % OW, oh = (i / OW) % OH;
    const int c = (i / (OW * OH)) % C, n = i / (OW * OH * C);
    const int y0 = oh * H / OH, y1 = ((oh + 1) * H + OH - 1) / OH;
    const int x0 = ow * W / OW, x1 = ((ow + 1) * W + OW - 1) / OW;
    float r = Max ? negativeInfinity() : 0.0f;
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x) {
        const float v = in[at<In, H * W>(n, c, y * W + x)];
        if constexpr (Max)
          r = v > r || v != v ? v : r;
        else
          r += v;
      }
    out[at<Out, OH * OW>(n, c, oh * OW + ow)] =
        Max ? r : r / float((y1 - y0) * (x1 - x0));
  }
}

/// The mean of each [HW] plane of [N, C, HW]: 32 threads per plane, each
/// summing a strided part, then a tree reduction in shared memory.
template <int N, int C, int HW, class In, class Out, int Threads>
__device__ __forceinline__ void globalAvgPool(const float *in, float *out) {
  constexpr int Lanes = 32, PlanesPerBlock = Threads / Lanes;
  static_assert(PlanesPerBlock * Lanes == Threads, "whole planes per block");
  __shared__ float partial[Threads];
  const int tid = threadIdx.x, lane = tid % Lanes;
  const int plane = blockIdx.x * PlanesPerBlock + tid / Lanes;
  const int n = plane / C, c = plane % C;
  float sum = 0.0f;
  if (plane < N * C)
    for (int p = lane; p < HW; p += Lanes)
      sum += in[at<In, HW>(n, c, p)];
  partial[tid] = sum;
  __syncthreads();
  for (int s = Lanes / 2; s > 0; s /= 2) {
    if (lane < s)
      partial[tid] += partial[tid + s];
    __syncthreads();
  }
  if (lane == 0 && plane < N * C)
    out[at<Out, 1>(n, c, 0)] = partial[tid] / float(HW);
}

//===----------------------------------------------------------------------===//
// Elementwise kernels (the unfused graph) and copies
//===----------------------------------------------------------------------===//

/// Unary elementwise operations; kCopy also serves dropout (the identity
/// at inference), a flatten that must move its input, and concat copies.
enum Unary { kCopy = 0, kReluOp = 1, kSigmoidOp = 2 };

/// out = op(in) over [N, C, HW], each side in its slice. In place when both
/// are the same elements (each thread reads its element before writing it).
template <int Op, int N, int C, int HW, class In, class Out, int Threads>
__device__ __forceinline__ void unary(const float *in, float *out) {
  constexpr int Total = N * C * HW;
  for (int i = blockIdx.x * Threads + threadIdx.x; i < Total;
       i += gridDim.x * Threads) {
    const int p = i % HW, c = (i / HW) % C, n = i / (HW * C);
    float v = in[at<In, HW>(n, c, p)];
    if constexpr (Op == kReluOp)
      v = activate<kRelu>(v);
    else if constexpr (Op == kSigmoidOp)
      v = activate<kSigmoid>(v);
    out[at<Out, HW>(n, c, p)] = v;
  }
}

/// out = Act(in) over [N, C, HW] (dlm.activation, unfused), each side in
/// its slice; P0, P1 are the bits of the activation's parameters.
template <int Act, int P0, int P1, int N, int C, int HW, class In, class Out,
          int Threads>
__device__ __forceinline__ void activation(const float *in, float *out) {
  constexpr int Total = N * C * HW;
  for (int i = blockIdx.x * Threads + threadIdx.x; i < Total;
       i += gridDim.x * Threads) {
    const int p = i % HW, c = (i / HW) % C, n = i / (HW * C);
    out[at<Out, HW>(n, c, p)] = activate<Act, P0, P1>(in[at<In, HW>(n, c, p)]);
  }
}

/// nn.Softmax(dim=1) over [N, F] (features are channels): one thread per
/// row, exp(x - max) / sum(exp(x - max)) as the reference executor computes
/// it. Grid-stride over the rows.
template <int N, int F, class In, class Out, int Threads>
__device__ __forceinline__ void softmax(const float *in, float *out) {
  for (int n = blockIdx.x * Threads + threadIdx.x; n < N;
       n += gridDim.x * Threads) {
    float m = negativeInfinity();
    for (int f = 0; f < F; ++f) {
      const float v = in[at<In, 1>(n, f, 0)];
      m = v > m ? v : m;
    }
    float sum = 0.0f;
    for (int f = 0; f < F; ++f)
      sum += expf(in[at<In, 1>(n, f, 0)] - m);
    for (int f = 0; f < F; ++f)
      out[at<Out, 1>(n, f, 0)] = expf(in[at<In, 1>(n, f, 0)] - m) / sum;
  }
}

/// out = a + b over [N, C, HW].
template <int N, int C, int HW, class A, class B, class Out, int Threads>
__device__ __forceinline__ void add(const float *a, const float *b,
                                    float *out) {
  constexpr int Total = N * C * HW;
  for (int i = blockIdx.x * Threads + threadIdx.x; i < Total;
       i += gridDim.x * Threads) {
    const int p = i % HW, c = (i / HW) % C, n = i / (HW * C);
    out[at<Out, HW>(n, c, p)] = a[at<A, HW>(n, c, p)] + b[at<B, HW>(n, c, p)];
  }
}

/// out = in * s over [N, C, HW], s [N, C, 1] broadcast over HW
/// (dlm.channel_scale: squeeze-and-excitation's gating).
template <int N, int C, int HW, class In, class S, class Out, int Threads>
__device__ __forceinline__ void channelScale(const float *in, const float *s,
                                             float *out) {
  constexpr int Total = N * C * HW;
  for (int i = blockIdx.x * Threads + threadIdx.x; i < Total;
       i += gridDim.x * Threads) {
    const int p = i % HW, c = (i / HW) % C, n = i / (HW * C);
    out[at<Out, HW>(n, c, p)] = in[at<In, HW>(n, c, p)] * s[at<S, 1>(n, c, 0)];
  }
}

/// Eval-mode BatchNorm over [N, C, HW]: x * m + (shift - mean * m) with
/// m = scale / sqrt(variance + epsilon), as the reference executor computes
/// it.
template <int N, int C, int HW, class In, class Out, int Threads>
__device__ __forceinline__ void batchNorm(const float *in, const float *scale,
                                          const float *shift, const float *mean,
                                          const float *variance, float *out,
                                          double epsilon) {
  constexpr int Total = N * C * HW;
  for (int i = blockIdx.x * Threads + threadIdx.x; i < Total;
       i += gridDim.x * Threads) {
    const int p = i % HW, c = (i / HW) % C, n = i / (HW * C);
    const float m = bnMultiplier(scale[c], variance[c], epsilon);
    out[at<Out, HW>(n, c, p)] =
        in[at<In, HW>(n, c, p)] * m + (shift[c] - mean[c] * m);
  }
}

//===----------------------------------------------------------------------===//
// Parameter derivations (the init launches)
//===----------------------------------------------------------------------===//

/// dlm.bn_scale: out[c] = scale[c] / sqrt(variance[c] + epsilon).
template <int C, int Threads>
__device__ __forceinline__ void
bnScale(const float *scale, const float *variance, float *out, double epsilon) {
  for (int c = blockIdx.x * Threads + threadIdx.x; c < C;
       c += gridDim.x * Threads)
    out[c] = bnMultiplier(scale[c], variance[c], epsilon);
}

/// dlm.fold_bn_bias: (bias[c] - mean[c]) * m + shift[c], or, without a
/// bias, shift[c] - mean[c] * m, with m = scale[c] / sqrt(variance[c] + eps).
template <int C, bool Bias, int Threads>
__device__ __forceinline__ void
foldBNBias(const float *scale, const float *shift, const float *mean,
           const float *variance, const float *bias, float *out,
           double epsilon) {
  for (int c = blockIdx.x * Threads + threadIdx.x; c < C;
       c += gridDim.x * Threads) {
    const float m = bnMultiplier(scale[c], variance[c], epsilon);
    if constexpr (Bias)
      out[c] = (bias[c] - mean[c]) * m + shift[c];
    else
      out[c] = shift[c] - mean[c] * m;
  }
}

/// dlm.fold_bn_weight: out[o, i] = weight[o, i] * scale[o] /
/// sqrt(variance[o] + epsilon) for a weight of O rows of Inner elements.
template <int O, int Inner, int Threads>
__device__ __forceinline__ void
foldBNWeight(const float *weight, const float *scale, const float *variance,
             float *out, double epsilon) {
  constexpr int Total = O * Inner;
  for (int i = blockIdx.x * Threads + threadIdx.x; i < Total;
       i += gridDim.x * Threads) {
    const int o = i / Inner;
    out[i] = weight[i] * bnMultiplier(scale[o], variance[o], epsilon);
  }
}

} // namespace dlm

#endif // DLM_KERNELS_CUH
