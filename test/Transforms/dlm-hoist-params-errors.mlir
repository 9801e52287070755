// RUN: dlm-opt %s -split-input-file --dlm-hoist-params -verify-diagnostics

// expected-error @+1 {{dlm-hoist-params expects a func.func @forward}}
module @noforward {
  func.func @other() { return }
}

// -----

// expected-error @+1 {{dlm-hoist-params found an existing @init}}
module @twice {
  func.func @init() { return }
  func.func @forward() { return }
}
