# A chain of distinct blocks, each calling the next, may nest 256 calls deep;
# deeper is an error at the call that goes too deep, naming the chain. A long
# chain (8,000 blocks) is the same error, under the default stack, not a crash.
#
# RUN: %python -c 'import sys; n = int(sys.argv[1]); print("\n".join(f"block b{i}() {{ b{i + 1}() }}" for i in range(n))); print(f"block b{n}() {{ relu }}"); print("model m(x: f32[1, 1, 4, 4]) { b0() }")' 255 > %t.ok.dlm
# RUN: dlmc %t.ok.dlm --stats | FileCheck %s --check-prefix=OK
# RUN: %python -c 'import sys; n = int(sys.argv[1]); print("\n".join(f"block b{i}() {{ b{i + 1}() }}" for i in range(n))); print(f"block b{n}() {{ relu }}"); print("model m(x: f32[1, 1, 4, 4]) { b0() }")' 300 > %t.deep.dlm
# RUN: not dlmc %t.deep.dlm 2>&1 | FileCheck %s
# RUN: %python -c 'import sys; n = int(sys.argv[1]); print("\n".join(f"block b{i}() {{ b{i + 1}() }}" for i in range(n))); print(f"block b{n}() {{ relu }}"); print("model m(x: f32[1, 1, 4, 4]) { b0() }")' 8000 > %t.long.dlm
# RUN: not dlmc %t.long.dlm 2>&1 | FileCheck %s

# OK: kernels: 1

# CHECK: .dlm:256:16: error: block calls nested more than 256 deep: 'b0' -> 'b1' -> 'b2' -> ... -> 'b253' -> 'b254' -> 'b255' -> 'b256'
# CHECK-NEXT: block b255() { b256() }
# CHECK-NEXT: {{^}}               ^
# CHECK-NEXT: .dlm:255:16: note: called from
# CHECK-NOT: error:
