# RUN: dlmc %s --emit=ast | FileCheck %s
#
# --emit=ast prints the parsed tree before elaboration: nothing is evaluated,
# no block is expanded, every node has its line:col.

block unit(out, stride=1) {
    residual {
        conv(out, kernel=3, padding=1, stride=stride) as c
    } shortcut {
        if stride != 1 { conv(out, kernel=1, stride=stride) } else { }
    }
}

model m(x: f32[1, 3, 8, 8]) {
    repeat i in 0..2 { unit(8 * (i + 1), stride=i % 2 + 1) }
    concat { branch { relu } branch { maxpool(3, padding=1, stride=1) } }
    dense { sigmoid }
}

# CHECK: block unit @6:7
# CHECK-NEXT: param out @6:12
# CHECK-NEXT: param stride = 1 @6:17
# CHECK-NEXT: residual @7:5
# CHECK: call conv as c @8:9
# CHECK: arg stride = stride @8:40
# CHECK: shortcut @9:7
# CHECK: if (stride != 1) @10:9
# CHECK: model m @14:7
# CHECK-NEXT: input x: f32[1, 3, 8, 8] @14:9
# CHECK-NEXT: repeat i in 0..2 @15:5
# CHECK-NEXT: call unit @15:24
# CHECK-NEXT: arg (8 * (i + 1)) @15:29
# CHECK-NEXT: arg stride = ((i % 2) + 1) @15:42
# CHECK: concat @16:5
# CHECK-NEXT: branch @16:14
# CHECK-NEXT: call relu @16:23
# CHECK: dense @17:5
