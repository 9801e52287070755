# VGG-11 with batch normalization as torchvision writes it
# (torchvision.models.vgg11_bn, configuration "A"), three input channels,
# 1000 classes, at 64 x 64: the five 2x2 pools take 64 to 2, and
# torchvision's AdaptiveAvgPool2d((7, 7)) takes 2 x 2 to the 7 x 7 the
# classifier expects (each of the 2 x 2 values repeated over a 4 x 4 or
# 3 x 3 window of rows and columns). At 224 the pool would be the identity.
#
# Names: torchvision's features.<n> convolutions and batch norms are
# vgg_stage<k>.conv_bn_relu<j>.conv1 / .batchnorm1 (the j-th convolution
# before the k-th "M"), its classifier.0/3/6 are linear1 .. linear3
# (scripts/torchvision_reference.py vgg11_bn maps one onto the other).
#
# Input:      1 x 3 x 64 x 64
# Output:     1 x 1000
# Parameters: 132,868,840 learnable (+ 5,504 running statistics) in 54 tensors
#
#   convs (64) M (128) M (256 256) M (512 512) M (512 512) M: 64 -> 2
#   adaptive_avgpool(7): 2 -> 7, flatten 25,088, linear 4096, 4096, 1000

block conv_bn_relu(out) {
    conv(out, kernel=3, padding=1)
    batchnorm
    relu
}

# `n` convolutions of `out` channels, then torchvision's "M".
block vgg_stage(n, out) {
    repeat n { conv_bn_relu(out) }
    maxpool(2, stride=2)
}

model vgg11_bn(x: f32[1, 3, 64, 64]) {
    vgg_stage(1, 64)
    vgg_stage(1, 128)
    vgg_stage(2, 256)
    vgg_stage(2, 512)
    vgg_stage(2, 512)
    adaptive_avgpool(7)
    flatten
    linear(4096)
    relu
    dropout(0.5)
    linear(4096)
    relu
    dropout(0.5)
    linear(1000)
}
