// RUN: dlm-opt %s -split-input-file --dlm-prepare-for-cuda -verify-diagnostics

// The plan dlm-plan-memory records is read back (MemoryPlan::get) by the
// report and the CUDA target, here through dlm-prepare-for-cuda, and
// checked against the IR: a plan that a later pass or a hand edit left
// inconsistent is an error, not a silent recomputation.

// A recorded plan needs both function attributes.
// expected-error @+1 {{@forward has no memory plan (dlm.arena_bytes, dlm.concat_copies): run dlm-plan-memory}}
func.func @forward(%x: tensor<1x4xf32>) -> tensor<1x4xf32> attributes {dlm.arena_bytes = 256 : i64} {
  %a = dlm.relu %x {dlm.arena_offset = 0 : i64, dlm.buffer = 1 : i64} : tensor<1x4xf32>
  return %a : tensor<1x4xf32>
}

// -----

// An op added after planning has no placement.
func.func @forward(%x: tensor<1x4xf32>) -> tensor<1x4xf32> attributes {dlm.arena_bytes = 256 : i64, dlm.concat_copies = 0 : i64} {
  %a = dlm.relu %x {dlm.arena_offset = 0 : i64, dlm.buffer = 1 : i64} : tensor<1x4xf32>
  // expected-error @+1 {{the memory plan of @forward is stale or edited: the op has no dlm.buffer and dlm.arena_offset; rerun dlm-plan-memory}}
  %b = dlm.sigmoid %a : tensor<1x4xf32>
  return %b : tensor<1x4xf32>
}

// -----

func.func @forward(%x: tensor<1x4x2x2xf32>) -> tensor<1x4x2x2xf32> attributes {dlm.arena_bytes = 256 : i64, dlm.concat_copies = 0 : i64} {
  // expected-error @+1 {{the memory plan of @forward is stale or edited: dlm.channel_slice does not hold the 4 channels of the result}}
  %a = dlm.relu %x {dlm.arena_offset = 0 : i64, dlm.buffer = 1 : i64, dlm.channel_slice = array<i64: 2, 4>} : tensor<1x4x2x2xf32>
  return %a : tensor<1x4x2x2xf32>
}

// -----

func.func @forward(%x: tensor<1x4xf32>) -> tensor<1x4xf32> attributes {dlm.arena_bytes = 512 : i64, dlm.concat_copies = 0 : i64} {
  %a = dlm.relu %x {dlm.arena_offset = 0 : i64, dlm.buffer = 1 : i64} : tensor<1x4xf32>
  // expected-error @+1 {{the memory plan of @forward is stale or edited: buffer 1 has another offset or size at an earlier op}}
  %b = dlm.sigmoid %a {dlm.arena_offset = 256 : i64, dlm.buffer = 1 : i64} : tensor<1x4xf32>
  return %b : tensor<1x4xf32>
}

// -----

func.func @forward(%x: tensor<1x4xf32>) -> tensor<1x4xf32> attributes {dlm.arena_bytes = 256 : i64, dlm.concat_copies = 0 : i64} {
  // expected-error @+1 {{the memory plan of @forward is stale or edited: dlm.in_place is only for concats}}
  %a = dlm.relu %x {dlm.arena_offset = 0 : i64, dlm.buffer = 1 : i64, dlm.in_place} : tensor<1x4xf32>
  return %a : tensor<1x4xf32>
}

// -----

func.func @forward(%x: tensor<1x2x2x2xf32>) -> tensor<1x4x2x2xf32> attributes {dlm.arena_bytes = 768 : i64, dlm.concat_copies = 0 : i64} {
  %a = dlm.relu %x {dlm.arena_offset = 0 : i64, dlm.buffer = 1 : i64} : tensor<1x2x2x2xf32>
  %b = dlm.sigmoid %x {dlm.arena_offset = 256 : i64, dlm.buffer = 2 : i64} : tensor<1x2x2x2xf32>
  // expected-error @+1 {{the memory plan of @forward is stale or edited: an operand of the in-place concat is not in its slice of the concat's buffer}}
  %c = dlm.concat %a, %b {dlm.arena_offset = 512 : i64, dlm.buffer = 3 : i64, dlm.in_place} : (tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>) -> tensor<1x4x2x2xf32>
  return %c : tensor<1x4x2x2xf32>
}

// -----

// expected-error @+1 {{the memory plan of @forward is stale or edited: a buffer lies outside the arena of 128 bytes}}
func.func @forward(%x: tensor<1x4xf32>) -> tensor<1x4xf32> attributes {dlm.arena_bytes = 128 : i64, dlm.concat_copies = 0 : i64} {
  %a = dlm.relu %x {dlm.arena_offset = 0 : i64, dlm.buffer = 1 : i64} : tensor<1x4xf32>
  return %a : tensor<1x4xf32>
}

// -----

// %a is still read when %b is written, but both were put at offset 0.
// expected-error @+1 {{the memory plan of @forward is stale or edited: two buffers live at the same time overlap in the arena}}
func.func @forward(%x: tensor<1x4xf32>) -> tensor<1x4xf32> attributes {dlm.arena_bytes = 256 : i64, dlm.concat_copies = 0 : i64} {
  %a = dlm.relu %x {dlm.arena_offset = 0 : i64, dlm.buffer = 1 : i64} : tensor<1x4xf32>
  %b = dlm.sigmoid %a {dlm.arena_offset = 0 : i64, dlm.buffer = 2 : i64} : tensor<1x4xf32>
  %c = dlm.add %a, %b {dlm.arena_offset = 0 : i64, dlm.buffer = 2 : i64} : tensor<1x4xf32>
  return %c : tensor<1x4xf32>
}
