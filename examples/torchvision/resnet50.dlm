# ResNet-50 as torchvision writes it (torchvision.models.resnet50: the
# Bottleneck block, layers [3, 4, 6, 3], groups=1, width_per_group=64),
# three input channels, 1000 classes, 224 x 224.
#
# What differs from the book's ResNet (examples/resnet18.dlm):
#   - the bottleneck block: 1x1 to `planes`, 3x3, 1x1 to 4 * planes, each
#     conv without bias and followed by BatchNorm2d, ReLU after the sum;
#   - the stride is on the 3x3 convolution (ResNet v1.5), not on the first
#     1x1;
#   - the projection shortcut (torchvision's `downsample`) is a 1x1 conv
#     without bias and a BatchNorm2d, wherever the stride is not 1 or the
#     channels change (also in layer1: 64 -> 256 channels at stride 1).
#
# Names follow torchvision's state_dict through `as`: conv1.weight,
# bn1.weight, layer1..layer4 (the four calls of the block `layer`), fc; a
# layer's blocks are bottleneck1, bottleneck2, ... where torchvision has the
# nn.Sequential indices 0, 1, ..., and downsample.0 / downsample.1 are
# downsample_0 / downsample_1 (scripts/torchvision_reference.py resnet50 maps
# layer1.0.downsample.0.weight onto layer1.bottleneck1.downsample_0.weight).
#
# Input:      1 x 3 x 224 x 224
# Output:     1 x 1000
# Parameters: 25,557,032 learnable (+ 53,120 running statistics) in 267 tensors
#
#   conv1 7x7/2: 224 -> 112, maxpool 3/2: 56
#   layer1: 3 bottlenecks, 256 channels, 56 x 56
#   layer2: 4 bottlenecks, 512 channels, 28 x 28
#   layer3: 6 bottlenecks, 1024 channels, 14 x 14
#   layer4: 3 bottlenecks, 2048 channels, 7 x 7, global average pool, fc

# torchvision's Bottleneck(inplanes, planes, stride, downsample), expansion
# 4; the input channel count is inferred.
block bottleneck(planes, stride=1) {
    residual {
        conv(planes, kernel=1, bias=false) as conv1
        batchnorm as bn1
        relu
        conv(planes, kernel=3, stride=stride, padding=1, bias=false) as conv2
        batchnorm as bn2
        relu
        conv(planes * 4, kernel=1, bias=false) as conv3
        batchnorm as bn3
    } shortcut {
        if stride != 1 or channels != planes * 4 {
            conv(planes * 4, kernel=1, stride=stride, bias=false)
                as downsample_0
            batchnorm as downsample_1
        }
    }
    relu
}

# torchvision's ResNet._make_layer(Bottleneck, planes, blocks, stride): the
# first block strides (and projects), the others keep the shape.
block layer(planes, blocks, stride=1) {
    repeat i in 0..blocks {
        if i == 0 {
            bottleneck(planes, stride=stride)
        } else {
            bottleneck(planes)
        }
    }
}

model resnet50(x: f32[1, 3, 224, 224]) {
    conv(64, kernel=7, stride=2, padding=3, bias=false) as conv1
    batchnorm as bn1
    relu
    maxpool(3, stride=2, padding=1)

    layer(64, 3)
    layer(128, 4, stride=2)
    layer(256, 6, stride=2)
    layer(512, 3, stride=2)

    global_avgpool
    flatten
    linear(1000) as fc
}
