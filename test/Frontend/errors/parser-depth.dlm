# Bodies and expressions nest at most 256 levels in one declaration; deeper is
# an error at the first level too deep, also for 100,000 levels (under the
# default stack, not a crash).
#
# RUN: %python -c 'import sys; d = int(sys.argv[1]); print("model m(x: f32[1, 1, 4, 4]) {\n    " + "residual { " * d + "relu" + " }" * d + "\n}")' 300 > %t.bodies.dlm
# RUN: not dlmc %t.bodies.dlm 2>&1 | FileCheck %s --check-prefix=BODIES
# RUN: %python -c 'import sys; d = int(sys.argv[1]); print("model m(x: f32[1, 1, 4, 4]) {\n    " + "residual { " * d + "relu" + " }" * d + "\n}")' 100000 > %t.bodies-long.dlm
# RUN: not dlmc %t.bodies-long.dlm 2>&1 | FileCheck %s --check-prefix=BODIES
# RUN: %python -c 'import sys; d = int(sys.argv[1]); print("model m(x: f32[1, 1, 4, 4]) {\n    repeat " + "(" * d + "1" + ")" * d + " { relu }\n}")' 300 > %t.parens.dlm
# RUN: not dlmc %t.parens.dlm 2>&1 | FileCheck %s --check-prefix=PARENS
# RUN: %python -c 'import sys; d = int(sys.argv[1]); print("model m(x: f32[1, 1, 4, 4]) {\n    repeat " + "(" * d + "1" + ")" * d + " { relu }\n}")' 100000 > %t.parens-long.dlm
# RUN: not dlmc %t.parens-long.dlm 2>&1 | FileCheck %s --check-prefix=PARENS

# The model's body is the first level: the 256th `residual {` opens the 257th,
# column 5 + 255 * 11 + 11.
# BODIES: .dlm:2:2821: error: nesting too deep: bodies nest at most 256 levels
# BODIES-NOT: error:

# The 257th `(`: column 12 + 256.
# PARENS: .dlm:2:268: error: nesting too deep: expressions nest at most 256 levels
# PARENS-NOT: error:
