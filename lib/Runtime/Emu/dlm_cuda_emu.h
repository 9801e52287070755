//===- dlm_cuda_emu.h - Running CUDA kernels on the host CPU ----*- C++ -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// The shim of the CPU emulator (docs/runtime.md, "The CPU emulator"). The
// runtime force-includes it (`c++ -DDLM_EMU -include dlm_cuda_emu.h`) into a
// bundle's kernels.cu, which then compiles with the host C++ compiler into a
// shared library, and calls the library's `dlm_emu_run_blocks` to run the
// blocks of a launch.
//
// Every CUDA thread of a block is a fiber with a stack of its own; the fibers
// of a block run on one host thread, one at a time, resumed in turn by a
// round-robin scheduler. `__syncthreads()` switches back to the scheduler,
// which resumes the next fiber, so a round ends when every live fiber of the
// block has reached the barrier (or returned): exactly the barrier's meaning
// on a GPU. `__shared__` variables are `static thread_local`: one copy per
// host thread, shared by the fibers of the block that thread runs, private
// to the blocks other host threads run at the same time.
//
// Dynamic shared memory: the runtime rewrites each `extern __shared__ T
// name[];` of the source into `static thread_local T *const name =
// ::dlm_emu::DynamicShared();` (compileEmuKernels), a pointer to the host
// thread's dynamic shared region: mapped once per host thread at a fixed
// address, DLM_EMU_MAX_SHARED_BYTES long and page aligned, of which each
// launch makes its `sharedBytes` (rounded up to pages) accessible; an access
// beyond them faults. As on a GPU, every such array of a kernel starts at
// the same address, and a block must not expect any contents at its start.
//
// Warps: the threads of a block form warps of 32 consecutive linear thread
// ids (threadIdx.x fastest), as on a GPU. The warp primitives (`__syncwarp`,
// `__shfl*_sync`, `__ballot_sync`, `__any_sync`, `__all_sync`) are a
// rendezvous: each lane deposits a pointer to its own data (on its fiber's
// stack) and waits until every lane named in the mask that has not returned
// has arrived at a rendezvous with the same mask and the same operation; the
// lane that arrives last runs the operation over all the lanes' data and
// makes them runnable again (warpRendezvous). A fiber waiting at a warp
// rendezvous does not count as waiting at a __syncthreads barrier, so warps
// and barriers interleave as on a GPU. Lanes that have returned are left out
// of a rendezvous (reading from one gives the reader its own value). If
// every live fiber waits and some wait at a warp rendezvous that cannot
// complete (lanes of the warp at a __syncthreads, or at a rendezvous with
// another mask), the launch fails with an error instead of hanging.
// The emulator has no notion of divergence: `__activemask()` is a
// rendezvous of the warp's lanes that have not returned, and returns them
// (so call it where the warp is converged).
//
// Supported: static `__shared__` arrays, dynamic `extern __shared__` arrays,
// `__syncthreads` (and its _count, _and, _or forms), the warp primitives
// above, threadIdx / blockIdx / blockDim / gridDim, dim3 and the small
// vector types, the float math functions and intrinsics kernels use,
// min / max, atomics (real atomics: blocks run on several host threads), the
// memory fences. Not supported (they do not compile): `__match*_sync`,
// `__reduce*_sync`, cooperative groups, textures; warp-synchronous code that
// relies on the threads of a warp running in lockstep without a `_sync`
// primitive computes wrong results.
//
// This header is compiled into exactly one translation unit (kernels.cu), so
// it may define the scheduler's functions and data, not only declare them.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_CUDA_EMU_H
#define DLM_CUDA_EMU_H

// The host headers come first: the macros below must not rewrite them.
#include <assert.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

// The fibers switch with a few instructions of assembly on x86-64 and with
// ucontext elsewhere (or when DLM_EMU_UCONTEXT is defined): swapcontext also
// saves the signal mask, a system call per switch.
#if defined(__x86_64__) && !defined(DLM_EMU_UCONTEXT)
#define DLM_EMU_ASM_SWITCH 1
#else
#include <ucontext.h>
#endif

/// The version of the interface between this library and the runtime
/// (dlm_emu_abi_version, dlm_emu_run_blocks, dlm_emu_release_thread).
#define DLM_EMU_ABI_VERSION 2

/// The most dynamic shared memory a launch may have: 227 KiB, the per-block
/// limit of sm_90 (dlm::kMaxSharedBytesPerBlock, which the runtime checks
/// first).
#define DLM_EMU_MAX_SHARED_BYTES (227u * 1024u)

//===----------------------------------------------------------------------===//
// Qualifiers
//===----------------------------------------------------------------------===//

#define __global__
#define __device__
#define __host__
#define __constant__
#define __managed__
#define __forceinline__ __inline__ __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
/// One copy per host thread; a host thread runs one block at a time with all
/// its fibers, so the copy is the block's.
#define __shared__ static thread_local

//===----------------------------------------------------------------------===//
// Vector types
//===----------------------------------------------------------------------===//

struct uint3 {
  unsigned int x, y, z;
};

struct dim3 {
  unsigned int x, y, z;
  constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1)
      : x(vx), y(vy), z(vz) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
  constexpr operator uint3() const { return uint3{x, y, z}; }
};

#define DLM_EMU_VECTOR2(T, N, A)                                               \
  struct __attribute__((aligned(A))) N {                                       \
    T x, y;                                                                    \
  };                                                                           \
  static inline N make_##N(T x, T y) { return N{x, y}; }
#define DLM_EMU_VECTOR3(T, N)                                                  \
  static inline N make_##N(T x, T y, T z) { return N{x, y, z}; }
#define DLM_EMU_VECTOR4(T, N, A)                                               \
  struct __attribute__((aligned(A))) N {                                       \
    T x, y, z, w;                                                              \
  };                                                                           \
  static inline N make_##N(T x, T y, T z, T w) { return N{x, y, z, w}; }

struct float3 {
  float x, y, z;
};
struct int3 {
  int x, y, z;
};
DLM_EMU_VECTOR2(float, float2, 8)
DLM_EMU_VECTOR3(float, float3)
DLM_EMU_VECTOR4(float, float4, 16)
DLM_EMU_VECTOR2(int, int2, 8)
DLM_EMU_VECTOR3(int, int3)
DLM_EMU_VECTOR4(int, int4, 16)
DLM_EMU_VECTOR2(unsigned int, uint2, 8)
DLM_EMU_VECTOR3(unsigned int, uint3)
DLM_EMU_VECTOR4(unsigned int, uint4, 16)
#undef DLM_EMU_VECTOR2
#undef DLM_EMU_VECTOR3
#undef DLM_EMU_VECTOR4

static constexpr int warpSize = 32;

//===----------------------------------------------------------------------===//
// Fibers and the block scheduler
//===----------------------------------------------------------------------===//

namespace dlm_emu {

/// The `_emu` entry of a kernel: unpacks the argument array and calls it.
typedef void (*Entry)(void **);

/// The operation of a warp rendezvous: run once by the lane that arrives
/// last (or by the scheduler when a lane returns), with the slot of every
/// lane of the warp that takes part (null for the others) and the mask of
/// those lanes.
typedef void (*WarpFn)(void *const *slots, unsigned group);

/// What a suspended fiber waits for.
enum Wait : unsigned char {
  /// Nothing: it runs when next resumed.
  Runnable,
  /// A __syncthreads barrier: every live fiber of the block.
  AtBarrier,
  /// A warp rendezvous: the lanes of its mask (warpRendezvous).
  AtWarp,
};

/// One CUDA thread of the block being run.
struct Fiber {
#if DLM_EMU_ASM_SWITCH
  /// The saved stack pointer while suspended (dlm_emu_switch's frame).
  void *sp;
#else
  ucontext_t context;
#endif
  uint3 threadIdx;
  /// Whether the thread has returned from the kernel.
  bool done;
  Wait wait;
  /// The rendezvous this fiber waits at (wait == AtWarp): the lanes it
  /// waits for (its own included), its data and the operation.
  unsigned warpMask;
  void *warpSlot;
  WarpFn warpFn;
};

/// The scheduler's state of one host thread.
struct State {
  /// The running fiber (null between fibers).
  Fiber *current = nullptr;
  uint3 blockIdx = {0, 0, 0};
  dim3 blockDim, gridDim;
  Entry entry = nullptr;
  void **args = nullptr;

  /// Fibers and their stacks, reused across blocks and launches.
  Fiber *fibers = nullptr;
  unsigned capacity = 0;
  char *stacks = nullptr;
  size_t stackSlot = 0; // bytes per fiber: guard page + stack
  size_t stacksBytes = 0;

#if DLM_EMU_ASM_SWITCH
  void *schedulerSp = nullptr;
  /// MXCSR and the x87 control word that new fibers start with.
  uint64_t fpState = 0;
#else
  ucontext_t scheduler;
#endif

  /// The dynamic shared region (reserved on first use, never moved) and how
  /// many of its bytes are accessible (whole pages).
  char *dynamicShared = nullptr;
  size_t dynamicSharedBytes = 0, dynamicSharedAccessible = 0;

  /// __syncthreads_count/_and/_or: what the fibers contribute at the barrier
  /// being reached, and the result of the barrier last passed.
  int pendingCount = 0, pendingAnd = 1, pendingOr = 0;
  int passedCount = 0, passedAnd = 1, passedOr = 0;

  /// The threads of the block being run.
  unsigned numThreads = 0;
  /// Set by a warp operation that cannot run (e.g. an mma whose warp is not
  /// complete): the block stops and the launch fails with this message.
  const char *fault = nullptr;
};

static thread_local State state;

#if DLM_EMU_ASM_SWITCH
// Saves the callee-saved registers, MXCSR and the x87 control word on the
// current stack, stores the stack pointer in *from, switches to the stack `to`
// and restores what is saved there. The layout is the one startFiber() builds.
__asm__(".text\n"
        ".p2align 4\n"
        ".type dlm_emu_switch,@function\n"
        "dlm_emu_switch:\n"
        "  pushq %rbp\n"
        "  pushq %rbx\n"
        "  pushq %r12\n"
        "  pushq %r13\n"
        "  pushq %r14\n"
        "  pushq %r15\n"
        "  subq $8, %rsp\n"
        "  stmxcsr (%rsp)\n"
        "  fnstcw 4(%rsp)\n"
        "  movq %rsp, (%rdi)\n"
        "  movq %rsi, %rsp\n"
        "  ldmxcsr (%rsp)\n"
        "  fldcw 4(%rsp)\n"
        "  addq $8, %rsp\n"
        "  popq %r15\n"
        "  popq %r14\n"
        "  popq %r13\n"
        "  popq %r12\n"
        "  popq %rbx\n"
        "  popq %rbp\n"
        "  ret\n"
        ".size dlm_emu_switch, .-dlm_emu_switch\n");
extern "C" void dlm_emu_switch(void **from, void *to);
#endif

/// Suspends the running fiber and resumes the scheduler.
static inline void yield() {
  __asm__ __volatile__("" ::: "memory");
  Fiber *fiber = state.current;
#if DLM_EMU_ASM_SWITCH
  dlm_emu_switch(&fiber->sp, state.schedulerSp);
#else
  swapcontext(&fiber->context, &state.scheduler);
#endif
  __asm__ __volatile__("" ::: "memory");
}

/// The first function of every fiber: runs the kernel's thread, marks it
/// done and returns to the scheduler for good.
static void fiberMain() {
  state.entry(state.args);
  state.current->done = true;
  yield();
  __builtin_trap(); // a finished fiber is never resumed
}

/// Makes fiber \p index start at fiberMain() when next resumed.
static inline void startFiber(unsigned index) {
  Fiber &fiber = state.fibers[index];
  char *top = state.stacks + (size_t)(index + 1) * state.stackSlot;
#if DLM_EMU_ASM_SWITCH
  // From the top: a null return address for fiberMain (so that fiberMain
  // starts with rsp = 8 mod 16, as after a call), fiberMain's address for
  // dlm_emu_switch's `ret`, six callee-saved registers, the FP state.
  uint64_t *frame = (uint64_t *)((uintptr_t)top & ~(uintptr_t)15);
  frame[-1] = 0;
  frame[-2] = (uint64_t)(uintptr_t)&fiberMain;
  for (int i = 3; i <= 8; ++i)
    frame[-i] = 0;
  frame[-9] = state.fpState;
  fiber.sp = &frame[-9];
#else
  getcontext(&fiber.context);
  fiber.context.uc_stack.ss_sp = top - (state.stackSlot - getpagesize());
  fiber.context.uc_stack.ss_size = state.stackSlot - getpagesize();
  fiber.context.uc_link = nullptr;
  makecontext(&fiber.context, (void (*)())fiberMain, 0);
#endif
  fiber.done = false;
  fiber.wait = Runnable;
}

/// Resumes \p fiber until it reaches a barrier or returns.
static inline void resume(Fiber &fiber) {
  state.current = &fiber;
#if DLM_EMU_ASM_SWITCH
  dlm_emu_switch(&state.schedulerSp, fiber.sp);
#else
  swapcontext(&state.scheduler, &fiber.context);
#endif
  state.current = nullptr;
}

/// The dynamic shared region of this host thread, reserved (inaccessible)
/// on first use; null if it cannot be mapped.
static char *dynamicSharedRegion() {
  if (!state.dynamicShared) {
    size_t page = (size_t)getpagesize();
    size_t bytes = (DLM_EMU_MAX_SHARED_BYTES + page - 1) / page * page;
    void *region = mmap(nullptr, bytes, PROT_NONE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (region == MAP_FAILED)
      return nullptr;
    state.dynamicShared = (char *)region;
    state.dynamicSharedBytes = bytes;
    state.dynamicSharedAccessible = 0;
  }
  return state.dynamicShared;
}

/// Makes the first \p bytes (rounded up to pages) of the dynamic shared
/// region accessible and the rest not. Returns an error message, or null.
static const char *reserveDynamicShared(unsigned long long bytes) {
  if (bytes > DLM_EMU_MAX_SHARED_BYTES)
    return "more dynamic shared memory than a block may have";
  size_t page = (size_t)getpagesize();
  size_t want = (size_t)(bytes + page - 1) / page * page;
  if (want == state.dynamicSharedAccessible)
    return nullptr;
  char *region = dynamicSharedRegion();
  if (!region)
    return "cannot map the dynamic shared memory";
  size_t have = state.dynamicSharedAccessible;
  int failed =
      want > have ? mprotect(region + have, want - have, PROT_READ | PROT_WRITE)
                  : mprotect(region + want, have - want, PROT_NONE);
  if (failed)
    return "cannot map the dynamic shared memory";
  state.dynamicSharedAccessible = want;
  return nullptr;
}

/// What an `extern __shared__` array becomes: converts to a pointer of any
/// type to the dynamic shared region.
struct DynamicShared {
  template <typename T> operator T *() const {
    return static_cast<T *>((void *)dynamicSharedRegion());
  }
};

/// Frees this host thread's fibers and stacks.
static void releaseFibers() {
  if (state.stacks)
    munmap(state.stacks, state.stacksBytes);
  free(state.fibers);
  state.stacks = nullptr;
  state.fibers = nullptr;
  state.capacity = 0;
  state.stacksBytes = 0;
}

/// Makes room for \p count fibers with stacks of \p stackBytes each, each
/// stack above a guard page that faults on overflow. Returns an error
/// message, or null.
static const char *reserveFibers(unsigned count, size_t stackBytes) {
  size_t page = (size_t)getpagesize();
  size_t slot = page + (stackBytes + page - 1) / page * page;
  if (count <= state.capacity && slot == state.stackSlot)
    return nullptr;
  releaseFibers();
  size_t bytes = slot * count;
  void *stacks = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (stacks == MAP_FAILED)
    return "cannot map the fibers' stacks";
  // Each guard page splits the mapping; if the process runs out of mappings
  // (vm.max_map_count), the stacks go without guards rather than fail.
  for (unsigned i = 0; i < count; ++i)
    if (mprotect((char *)stacks + (size_t)i * slot, page, PROT_NONE) != 0) {
      mprotect(stacks, bytes, PROT_READ | PROT_WRITE);
      break;
    }
  state.fibers = (Fiber *)calloc(count, sizeof(Fiber));
  if (!state.fibers) {
    munmap(stacks, bytes);
    return "cannot allocate the fibers";
  }
  state.stacks = (char *)stacks;
  state.stacksBytes = bytes;
  state.stackSlot = slot;
  state.capacity = count;
  return nullptr;
}

/// Completes the rendezvous with \p mask and operation \p fn of the warp
/// whose first fiber is \p base if every live lane of the mask waits at it:
/// runs \p fn and makes those lanes runnable. Returns whether it did.
static bool tryCompleteWarp(unsigned base, unsigned mask, WarpFn fn) {
  unsigned lanes = state.numThreads - base < 32 ? state.numThreads - base : 32;
  unsigned group = 0;
  void *slots[32];
  for (unsigned lane = 0; lane < 32; ++lane) {
    slots[lane] = nullptr;
    if (lane >= lanes || !(mask >> lane & 1))
      continue;
    Fiber &fiber = state.fibers[base + lane];
    if (fiber.done)
      continue;
    if (fiber.wait != AtWarp || fiber.warpMask != mask || fiber.warpFn != fn)
      return false;
    slots[lane] = fiber.warpSlot;
    group |= 1u << lane;
  }
  fn(slots, group);
  for (unsigned lane = 0; lane < lanes; ++lane)
    if (group >> lane & 1)
      state.fibers[base + lane].wait = Runnable;
  return true;
}

/// The running fiber's warp rendezvous: waits until every live lane of
/// \p mask (the caller's own lane always included) has arrived with the
/// same mask and \p fn, which then runs once over every lane's \p slot.
static inline void warpRendezvous(unsigned mask, void *slot, WarpFn fn) {
  Fiber *self = state.current;
  unsigned index = (unsigned)(self - state.fibers);
  unsigned lane = index & 31;
  self->warpMask = mask | 1u << lane;
  self->warpSlot = slot;
  self->warpFn = fn;
  self->wait = AtWarp;
  if (!tryCompleteWarp(index - lane, self->warpMask, fn))
    yield();
  __asm__ __volatile__("" ::: "memory");
}

/// After fiber \p index returned: completes the rendezvous of its warp that
/// waited for it only.
static void laneReturned(unsigned index) {
  unsigned base = index & ~31u;
  unsigned end = base + 32 < state.numThreads ? base + 32 : state.numThreads;
  for (unsigned t = base; t < end; ++t) {
    Fiber &fiber = state.fibers[t];
    if (!fiber.done && fiber.wait == AtWarp &&
        (fiber.warpMask >> (index & 31) & 1))
      tryCompleteWarp(base, fiber.warpMask, fiber.warpFn);
  }
}

/// Runs one block: every thread a fiber, resumed while any is runnable.
/// When none is, every live fiber waits at a barrier, which is passed, or
/// some wait at a warp rendezvous that cannot complete: an error. Returns an
/// error message, or null.
static const char *runBlock(unsigned numThreads) {
  for (unsigned t = 0; t < numThreads; ++t)
    startFiber(t);
  state.numThreads = numThreads;
  state.fault = nullptr;
  state.pendingCount = 0;
  state.pendingAnd = 1;
  state.pendingOr = 0;
  unsigned live = numThreads;
  while (live) {
    bool progress;
    do {
      progress = false;
      for (unsigned t = 0; t < numThreads; ++t) {
        Fiber &fiber = state.fibers[t];
        if (fiber.done || fiber.wait != Runnable)
          continue;
        resume(fiber);
        progress = true;
        if (state.fault)
          return state.fault;
        if (fiber.done) {
          --live;
          laneReturned(t);
          if (state.fault)
            return state.fault;
        }
      }
    } while (progress);
    if (!live)
      break;
    for (unsigned t = 0; t < numThreads; ++t)
      if (!state.fibers[t].done && state.fibers[t].wait == AtWarp)
        return "a warp primitive waits for lanes that never reach it (at a "
               "__syncthreads, at another warp primitive or mask)";
    // Every live fiber waits at the barrier: it is passed.
    for (unsigned t = 0; t < numThreads; ++t)
      state.fibers[t].wait = Runnable;
    state.passedCount = state.pendingCount;
    state.passedAnd = state.pendingAnd;
    state.passedOr = state.pendingOr;
    state.pendingCount = 0;
    state.pendingAnd = 1;
    state.pendingOr = 0;
  }
  return nullptr;
}

} // namespace dlm_emu

/// Runs blocks [first, first + count) of a launch of \p entry (linear block
/// ids, x fastest) with \p sharedBytes of dynamic shared memory on the
/// calling host thread, one after another. Returns 0, or 1 with a message in
/// \p error.
extern "C" __attribute__((visibility("default"))) int
dlm_emu_run_blocks(dlm_emu::Entry entry, void **args, const unsigned *grid,
                   const unsigned *block, unsigned long long sharedBytes,
                   unsigned long long first, unsigned long long count,
                   unsigned long long stackBytes, char *error,
                   unsigned long long errorSize) {
  using namespace dlm_emu;
  unsigned long long numThreads =
      (unsigned long long)block[0] * block[1] * block[2];
  if (numThreads == 0 || numThreads > 1024) {
    snprintf(error, errorSize, "a block of %llu threads (1 to 1024 allowed)",
             numThreads);
    return 1;
  }
  if (const char *message = reserveFibers((unsigned)numThreads, stackBytes)) {
    snprintf(error, errorSize, "%s", message);
    return 1;
  }
  if (const char *message = reserveDynamicShared(sharedBytes)) {
    snprintf(error, errorSize, "%s (%llu bytes)", message, sharedBytes);
    return 1;
  }
#if DLM_EMU_ASM_SWITCH
  uint32_t mxcsr;
  uint16_t fpucw;
  __asm__ __volatile__("stmxcsr %0" : "=m"(mxcsr));
  __asm__ __volatile__("fnstcw %0" : "=m"(fpucw));
  state.fpState = (uint64_t)mxcsr | ((uint64_t)fpucw << 32);
#endif
  state.entry = entry;
  state.args = args;
  state.gridDim = dim3(grid[0], grid[1], grid[2]);
  state.blockDim = dim3(block[0], block[1], block[2]);
  for (unsigned t = 0; t < numThreads; ++t)
    state.fibers[t].threadIdx =
        uint3{t % block[0], t / block[0] % block[1], t / (block[0] * block[1])};
  for (unsigned long long b = first; b < first + count; ++b) {
    state.blockIdx =
        uint3{(unsigned)(b % grid[0]), (unsigned)(b / grid[0] % grid[1]),
              (unsigned)(b / ((unsigned long long)grid[0] * grid[1]))};
    if (const char *message = runBlock((unsigned)numThreads)) {
      snprintf(error, errorSize, "block (%u, %u, %u): %s", state.blockIdx.x,
               state.blockIdx.y, state.blockIdx.z, message);
      state.entry = nullptr;
      state.args = nullptr;
      return 1;
    }
  }
  state.entry = nullptr;
  state.args = nullptr;
  return 0;
}

/// Frees the calling host thread's fibers and dynamic shared memory; call
/// before the thread exits.
extern "C" __attribute__((visibility("default"))) void
dlm_emu_release_thread() {
  using namespace dlm_emu;
  releaseFibers();
  if (state.dynamicShared)
    munmap(state.dynamicShared, state.dynamicSharedBytes);
  state.dynamicShared = nullptr;
  state.dynamicSharedBytes = 0;
  state.dynamicSharedAccessible = 0;
}

/// DLM_EMU_ABI_VERSION, for the runtime to check.
extern "C" __attribute__((visibility("default"))) int dlm_emu_abi_version() {
  return DLM_EMU_ABI_VERSION;
}

//===----------------------------------------------------------------------===//
// Built-in variables and barriers
//===----------------------------------------------------------------------===//

#define threadIdx                                                              \
  (static_cast<const uint3 &>(::dlm_emu::state.current->threadIdx))
#define blockIdx (static_cast<const uint3 &>(::dlm_emu::state.blockIdx))
#define blockDim (static_cast<const dim3 &>(::dlm_emu::state.blockDim))
#define gridDim (static_cast<const dim3 &>(::dlm_emu::state.gridDim))

namespace dlm_emu {
/// Waits at the block's barrier.
static inline void barrier() {
  state.current->wait = AtBarrier;
  yield();
}
} // namespace dlm_emu

static inline void __syncthreads() { ::dlm_emu::barrier(); }

static inline int __syncthreads_count(int predicate) {
  ::dlm_emu::state.pendingCount += predicate != 0;
  ::dlm_emu::barrier();
  return ::dlm_emu::state.passedCount;
}

static inline int __syncthreads_and(int predicate) {
  ::dlm_emu::state.pendingAnd &= predicate != 0;
  ::dlm_emu::barrier();
  return ::dlm_emu::state.passedAnd;
}

static inline int __syncthreads_or(int predicate) {
  ::dlm_emu::state.pendingOr |= predicate != 0;
  ::dlm_emu::barrier();
  return ::dlm_emu::state.passedOr;
}

//===----------------------------------------------------------------------===//
// Warp primitives (warpRendezvous)
//===----------------------------------------------------------------------===//

namespace dlm_emu {

/// A lane's part in a shfl.sync: its value, the PTX operands b (lane or
/// offset) and c (clamp and segment mask), and the value it receives.
struct ShflSlot {
  unsigned long long value, result;
  unsigned b, c;
};

/// shfl.sync in mode \p Mode (0 up, 1 down, 2 bfly, 3 idx), as the PTX ISA
/// defines it; a source lane that does not take part gives the reader its
/// own value.
template <int Mode> static void shflFn(void *const *slots, unsigned group) {
  for (unsigned lane = 0; lane < 32; ++lane) {
    if (!(group >> lane & 1))
      continue;
    ShflSlot &slot = *static_cast<ShflSlot *>(slots[lane]);
    int bval = (int)(slot.b & 31), clamp = (int)(slot.c & 31);
    int segmask = (int)(slot.c >> 8 & 31);
    int minLane = (int)lane & segmask;
    int maxLane = minLane | (clamp & ~segmask);
    int j;
    bool inRange;
    if (Mode == 0) {
      j = (int)lane - bval;
      inRange = j >= maxLane;
    } else if (Mode == 1) {
      j = (int)lane + bval;
      inRange = j <= maxLane;
    } else if (Mode == 2) {
      j = (int)lane ^ bval;
      inRange = j <= maxLane;
    } else {
      j = minLane | (bval & ~segmask);
      inRange = j <= maxLane;
    }
    if (!inRange || j < 0 || j > 31 || !(group >> j & 1))
      j = (int)lane;
    slot.result = static_cast<ShflSlot *>(slots[j])->value;
  }
}

template <int Mode, typename T>
static inline T shfl(unsigned mask, T var, unsigned b, unsigned c) {
  static_assert(sizeof(T) <= sizeof(unsigned long long), "too wide a shfl");
  ShflSlot slot;
  slot.value = 0;
  memcpy(&slot.value, &var, sizeof(T));
  slot.b = b;
  slot.c = c;
  warpRendezvous(mask, &slot, shflFn<Mode>);
  T result;
  memcpy(&result, &slot.result, sizeof(T));
  return result;
}

/// A lane's part in a vote: its predicate, and the ballot of the group and
/// the group it receives.
struct VoteSlot {
  int predicate;
  unsigned ballot, group;
};

static void voteFn(void *const *slots, unsigned group) {
  unsigned ballot = 0;
  for (unsigned lane = 0; lane < 32; ++lane)
    if (group >> lane & 1 && static_cast<VoteSlot *>(slots[lane])->predicate)
      ballot |= 1u << lane;
  for (unsigned lane = 0; lane < 32; ++lane)
    if (group >> lane & 1) {
      static_cast<VoteSlot *>(slots[lane])->ballot = ballot;
      static_cast<VoteSlot *>(slots[lane])->group = group;
    }
}

static inline VoteSlot vote(unsigned mask, int predicate) {
  VoteSlot slot = {predicate != 0, 0, 0};
  warpRendezvous(mask, &slot, voteFn);
  return slot;
}

static void syncwarpFn(void *const *, unsigned) {}

} // namespace dlm_emu

static inline void __syncwarp(unsigned mask = 0xffffffffu) {
  ::dlm_emu::warpRendezvous(mask, nullptr, ::dlm_emu::syncwarpFn);
}

/// The lanes of the caller's warp that have not returned, once all of them
/// have called it: a rendezvous, valid where the warp is converged.
static inline unsigned __activemask() {
  return ::dlm_emu::vote(0xffffffffu, 1).group;
}

static inline unsigned __ballot_sync(unsigned mask, int predicate) {
  return ::dlm_emu::vote(mask, predicate).ballot;
}
static inline int __any_sync(unsigned mask, int predicate) {
  return ::dlm_emu::vote(mask, predicate).ballot != 0;
}
static inline int __all_sync(unsigned mask, int predicate) {
  ::dlm_emu::VoteSlot slot = ::dlm_emu::vote(mask, predicate);
  return slot.ballot == slot.group;
}

// The overloads of CUDA's sm_30_intrinsics.h, with its operands c.
#define DLM_EMU_SHFL(T)                                                        \
  static inline T __shfl_sync(unsigned mask, T var, int srcLane,               \
                              int width = warpSize) {                          \
    return ::dlm_emu::shfl<3>(mask, var, (unsigned)srcLane,                    \
                              ((warpSize - width) << 8) | 0x1f);               \
  }                                                                            \
  static inline T __shfl_up_sync(unsigned mask, T var, unsigned delta,         \
                                 int width = warpSize) {                       \
    return ::dlm_emu::shfl<0>(mask, var, delta, (warpSize - width) << 8);      \
  }                                                                            \
  static inline T __shfl_down_sync(unsigned mask, T var, unsigned delta,       \
                                   int width = warpSize) {                     \
    return ::dlm_emu::shfl<1>(mask, var, delta,                                \
                              ((warpSize - width) << 8) | 0x1f);               \
  }                                                                            \
  static inline T __shfl_xor_sync(unsigned mask, T var, int laneMask,          \
                                  int width = warpSize) {                      \
    return ::dlm_emu::shfl<2>(mask, var, (unsigned)laneMask,                   \
                              ((warpSize - width) << 8) | 0x1f);               \
  }
DLM_EMU_SHFL(int)
DLM_EMU_SHFL(unsigned int)
DLM_EMU_SHFL(long)
DLM_EMU_SHFL(unsigned long)
DLM_EMU_SHFL(long long)
DLM_EMU_SHFL(unsigned long long)
DLM_EMU_SHFL(float)
DLM_EMU_SHFL(double)
#undef DLM_EMU_SHFL

// Blocks run concurrently on host threads, so device-wide fences are real.
static inline void __threadfence_block() {
  __asm__ __volatile__("" ::: "memory");
}
static inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
static inline void __threadfence_system() {
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

//===----------------------------------------------------------------------===//
// Math
//===----------------------------------------------------------------------===//

static inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
static inline double rsqrt(double x) { return 1.0 / sqrt(x); }
// glibc declares its own __expf, __logf, ...: macros, not functions.
#define __expf(x) expf(x)
#define __exp10f(x) powf(10.0f, (x))
#define __logf(x) logf(x)
#define __log2f(x) log2f(x)
#define __log10f(x) log10f(x)
#define __sinf(x) sinf(x)
#define __cosf(x) cosf(x)
#define __tanf(x) tanf(x)
#define __powf(x, y) powf((x), (y))
static inline float __fdividef(float x, float y) { return x / y; }
static inline float fdividef(float x, float y) { return x / y; }
static inline float __frcp_rn(float x) { return 1.0f / x; }
static inline float __fsqrt_rn(float x) { return sqrtf(x); }
static inline float __frsqrt_rn(float x) { return 1.0f / sqrtf(x); }
static inline float __fadd_rn(float x, float y) { return x + y; }
static inline float __fsub_rn(float x, float y) { return x - y; }
static inline float __fmul_rn(float x, float y) { return x * y; }
static inline float __fdiv_rn(float x, float y) { return x / y; }
static inline float __fmaf_rn(float x, float y, float z) {
  return fmaf(x, y, z);
}
static inline float __saturatef(float x) {
  return x != x ? 0.0f : fminf(fmaxf(x, 0.0f), 1.0f);
}
static inline int __float2int_rn(float x) { return (int)nearbyintf(x); }
static inline int __float2int_rz(float x) { return (int)x; }
static inline int __float2int_rd(float x) { return (int)floorf(x); }
static inline int __float2int_ru(float x) { return (int)ceilf(x); }
static inline float __int2float_rn(int x) { return (float)x; }
static inline int __float_as_int(float x) {
  int i;
  memcpy(&i, &x, sizeof i);
  return i;
}
static inline unsigned int __float_as_uint(float x) {
  unsigned int i;
  memcpy(&i, &x, sizeof i);
  return i;
}
static inline float __int_as_float(int i) {
  float x;
  memcpy(&x, &i, sizeof x);
  return x;
}
static inline float __uint_as_float(unsigned int i) {
  float x;
  memcpy(&x, &i, sizeof x);
  return x;
}
static inline int __popc(unsigned int x) { return __builtin_popcount(x); }
static inline int __popcll(unsigned long long x) {
  return __builtin_popcountll(x);
}
static inline int __clz(int x) {
  return x == 0 ? 32 : __builtin_clz((unsigned int)x);
}
static inline int __ffs(int x) { return __builtin_ffs(x); }
static inline int __mul24(int x, int y) { return x * y; }
static inline unsigned int __umul24(unsigned int x, unsigned int y) {
  return x * y;
}

template <typename T> static inline T __ldg(const T *p) { return *p; }

// CUDA's min and max overloads (crt/math_functions.hpp): same-type ones and
// the mixed signed/unsigned and float/double ones.
#define DLM_EMU_MINMAX(R, A, B)                                                \
  static inline R min(A a, B b) { return (R)a < (R)b ? (R)a : (R)b; }          \
  static inline R max(A a, B b) { return (R)a > (R)b ? (R)a : (R)b; }
DLM_EMU_MINMAX(int, int, int)
DLM_EMU_MINMAX(unsigned int, unsigned int, unsigned int)
DLM_EMU_MINMAX(unsigned int, int, unsigned int)
DLM_EMU_MINMAX(unsigned int, unsigned int, int)
DLM_EMU_MINMAX(long, long, long)
DLM_EMU_MINMAX(unsigned long, unsigned long, unsigned long)
DLM_EMU_MINMAX(unsigned long, long, unsigned long)
DLM_EMU_MINMAX(unsigned long, unsigned long, long)
DLM_EMU_MINMAX(long long, long long, long long)
DLM_EMU_MINMAX(unsigned long long, unsigned long long, unsigned long long)
DLM_EMU_MINMAX(unsigned long long, long long, unsigned long long)
DLM_EMU_MINMAX(unsigned long long, unsigned long long, long long)
#undef DLM_EMU_MINMAX
static inline float min(float a, float b) { return fminf(a, b); }
static inline float max(float a, float b) { return fmaxf(a, b); }
static inline double min(double a, double b) { return fmin(a, b); }
static inline double max(double a, double b) { return fmax(a, b); }
static inline double min(float a, double b) { return fmin(a, b); }
static inline double max(float a, double b) { return fmax(a, b); }
static inline double min(double a, float b) { return fmin(a, b); }
static inline double max(double a, float b) { return fmax(a, b); }

//===----------------------------------------------------------------------===//
// Atomics (blocks run on several host threads: these are real atomics)
//===----------------------------------------------------------------------===//

#define DLM_EMU_INT_ATOMICS(T)                                                 \
  static inline T atomicAdd(T *p, T v) {                                       \
    return __atomic_fetch_add(p, v, __ATOMIC_RELAXED);                         \
  }                                                                            \
  static inline T atomicSub(T *p, T v) {                                       \
    return __atomic_fetch_sub(p, v, __ATOMIC_RELAXED);                         \
  }                                                                            \
  static inline T atomicExch(T *p, T v) {                                      \
    return __atomic_exchange_n(p, v, __ATOMIC_RELAXED);                        \
  }                                                                            \
  static inline T atomicCAS(T *p, T compare, T v) {                            \
    __atomic_compare_exchange_n(p, &compare, v, false, __ATOMIC_RELAXED,       \
                                __ATOMIC_RELAXED);                             \
    return compare;                                                            \
  }                                                                            \
  static inline T atomicMax(T *p, T v) {                                       \
    T old = __atomic_load_n(p, __ATOMIC_RELAXED);                              \
    while (old < v &&                                                          \
           !__atomic_compare_exchange_n(p, &old, v, true, __ATOMIC_RELAXED,    \
                                        __ATOMIC_RELAXED)) {                   \
    }                                                                          \
    return old;                                                                \
  }                                                                            \
  static inline T atomicMin(T *p, T v) {                                       \
    T old = __atomic_load_n(p, __ATOMIC_RELAXED);                              \
    while (old > v &&                                                          \
           !__atomic_compare_exchange_n(p, &old, v, true, __ATOMIC_RELAXED,    \
                                        __ATOMIC_RELAXED)) {                   \
    }                                                                          \
    return old;                                                                \
  }
DLM_EMU_INT_ATOMICS(int)
DLM_EMU_INT_ATOMICS(unsigned int)
DLM_EMU_INT_ATOMICS(unsigned long long)
#undef DLM_EMU_INT_ATOMICS

static inline float atomicAdd(float *p, float v) {
  float old;
  __atomic_load(p, &old, __ATOMIC_RELAXED);
  float desired;
  do
    desired = old + v;
  while (!__atomic_compare_exchange(p, &old, &desired, true, __ATOMIC_RELAXED,
                                    __ATOMIC_RELAXED));
  return old;
}

static inline float atomicExch(float *p, float v) {
  float old;
  __atomic_exchange(p, &v, &old, __ATOMIC_RELAXED);
  return old;
}

#endif // DLM_CUDA_EMU_H
