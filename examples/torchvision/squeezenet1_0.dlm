# SqueezeNet 1.0 as torchvision writes it (torchvision.models.squeezenet1_0),
# three input channels, 1000 classes, 224 x 224.
#
# torchvision's max pools use ceil_mode=True, which matters at 224: the
# second pool takes 54 to 27 (floor mode: 26). The classifier is dropout,
# a 1x1 convolution to the classes, ReLU and a global average pool.
#
# Names: torchvision's features.0 is conv1, its Fire modules
# features.3 .. features.12 are fire1 .. fire8 (with torchvision's
# squeeze / expand1x1 / expand3x3 through `as`), classifier.1 is conv2
# (scripts/torchvision_reference.py squeezenet1_0 maps one onto the other).
#
# Input:      1 x 3 x 224 x 224
# Output:     1 x 1000
# Parameters: 1,248,424 in 52 tensors
#
#   conv1 7x7/2: 224 -> 109, maxpool 3/2 ceil: 54
#   fire1..3: 128 -> 256 channels, maxpool: 27
#   fire4..7: 256 -> 512 channels, maxpool: 13
#   fire8, dropout, conv2 1x1 to 1000, global average pool

# torchvision's Fire(inplanes, squeeze_planes, expand1x1_planes,
# expand3x3_planes); the input channel count is inferred.
block fire(squeeze_planes, expand1x1_planes, expand3x3_planes) {
    conv(squeeze_planes, kernel=1) as squeeze
    relu
    concat {
        branch {
            conv(expand1x1_planes, kernel=1) as expand1x1
            relu
        }
        branch {
            conv(expand3x3_planes, kernel=3, padding=1) as expand3x3
            relu
        }
    }
}

model squeezenet1_0(x: f32[1, 3, 224, 224]) {
    conv(96, kernel=7, stride=2)
    relu
    maxpool(3, stride=2, ceil_mode=true)
    fire(16, 64, 64)
    fire(16, 64, 64)
    fire(32, 128, 128)
    maxpool(3, stride=2, ceil_mode=true)
    fire(32, 128, 128)
    fire(48, 192, 192)
    fire(48, 192, 192)
    fire(64, 256, 256)
    maxpool(3, stride=2, ceil_mode=true)
    fire(64, 256, 256)
    # classifier
    dropout(0.5)
    conv(1000, kernel=1)
    relu
    global_avgpool
    flatten
}
