# RUN: dlmc %s --emit=mlir --mlir-print-debuginfo | FileCheck %s
#
# Every op points into the .dlm source; ops expanded from a block call carry a
# callsite location: the statement in the block, called from the model line.

block unit(n) {
    conv(n, kernel=1)
    relu
}

model m(x: f32[1, 2, 4, 4]) {
    unit(3)
    flatten
}

# CHECK: dlm.param "unit1.conv1.weight" : tensor<3x2x1x1xf32> loc(#[[CONV:loc[0-9]+]])
# CHECK: dlm.conv2d {{.*}} loc(#[[CONV]])
# CHECK: dlm.relu {{.*}} loc(#[[RELU:loc[0-9]+]])
# CHECK: dlm.flatten {{.*}} loc(#[[FLATTEN:loc[0-9]+]])
# CHECK-DAG: #[[CONVLINE:loc[0-9]+]] = loc("{{.*}}locations.dlm":7:5)
# CHECK-DAG: #[[RELULINE:loc[0-9]+]] = loc("{{.*}}locations.dlm":8:5)
# CHECK-DAG: #[[CALL:loc[0-9]+]] = loc("{{.*}}locations.dlm":12:5)
# CHECK-DAG: #[[FLATTEN]] = loc("{{.*}}locations.dlm":13:5)
# CHECK-DAG: #[[CONV]] = loc(callsite(#[[CONVLINE]] at #[[CALL]]))
# CHECK-DAG: #[[RELU]] = loc(callsite(#[[RELULINE]] at #[[CALL]]))
