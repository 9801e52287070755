# RUN: not dlmc %s 2>&1 | FileCheck %s
# CHECK: missing-model.dlm:1:1: error: no model in this file; declare one with `model name(x: f32[N, C, H, W]) { ... }`

block b() { relu }
