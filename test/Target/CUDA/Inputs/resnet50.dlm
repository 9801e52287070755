# ResNet-50's shape (torchvision's resnet50: bottlenecks with the stride on
# the 3x3, v1.5), 1000 classes, 224 x 224, batch 8: the convolutions a
# tensor-core test should see (1x1 reductions and expansions, strided 3x3s,
# projected shortcuts, a 7x7 stem).

block bottleneck(width, out, stride) {
    residual {
        conv(width, kernel=1, bias=false)
        batchnorm
        relu
        conv(width, kernel=3, stride=stride, padding=1, bias=false)
        batchnorm
        relu
        conv(out, kernel=1, bias=false)
        batchnorm
    } shortcut {
        if stride != 1 or channels != out {
            conv(out, kernel=1, stride=stride, bias=false)
            batchnorm
        }
    }
    relu
}

block stage(width, n, stride) {
    bottleneck(width, width * 4, stride)
    repeat n - 1 {
        bottleneck(width, width * 4, 1)
    }
}

model resnet50(x: f32[8, 3, 224, 224]) {
    conv(64, kernel=7, stride=2, padding=3, bias=false)
    batchnorm
    relu
    maxpool(3, stride=2, padding=1)
    stage(64, 3, 1)
    stage(128, 4, 2)
    stage(256, 6, 2)
    stage(512, 3, 2)
    global_avgpool
    flatten
    linear(1000)
}
