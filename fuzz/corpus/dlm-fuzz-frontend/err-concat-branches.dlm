# RUN: not dlmc %s 2>&1 | FileCheck %s

model m(x: f32[1, 4, 8, 8]) {
    concat {
        branch { conv(2, kernel=1) }
        branch { conv(2, kernel=3, padding=1) }
# CHECK: concat-branches.dlm:[[@LINE+1]]:9: error: branch 3 of concat produces f32[1, 4, 4, 4] but branch 1 produces f32[1, 2, 8, 8]; branches must agree in all but the channel dimension
        branch { maxpool(kernel=2) }
    }
}
