# Statements may nest 512 deep in all, counting through block calls: each
# block's nesting is within the parser's bound, the sum over the chain is not.
# One error, at the first statement too deep, then elaboration stops.
#
# RUN: %python -c 'd = 200; print("\n".join(f"block b{i}() {{ " + "residual { " * d + f"b{i + 1}()" + " }" * d + " }" for i in range(3))); print("block b3() { relu }"); print("model m(x: f32[1, 1, 4, 4]) { b0() }")' > %t.dlm
# RUN: not dlmc %t.dlm 2>&1 | FileCheck %s
# Within the bound (2 x 200 nested residuals), it compiles.
# RUN: %python -c 'd = 200; print("\n".join(f"block b{i}() {{ " + "residual { " * d + f"b{i + 1}()" + " }" * d + " }" for i in range(2))); print("block b2() { relu }"); print("model m(x: f32[1, 1, 4, 4]) { b0() }")' > %t.ok.dlm
# RUN: dlmc %t.ok.dlm --stats | FileCheck %s --check-prefix=OK

# CHECK: .dlm:3:1213: error: statements nested more than 512 deep, counting the bodies of the blocks called
# CHECK: .dlm:2:{{[0-9]+}}: note: called from
# CHECK-NOT: error:

# OK: param-bytes: 0
