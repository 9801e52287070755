# LeNet with batch normalization, as "Dive into Deep Learning" writes it
# (PyTorch version, section 8.5 "Batch Normalization", the concise
# implementation): every convolution and every hidden fully connected layer is
# followed by batch normalization before its sigmoid. Unlike plain LeNet, the
# first convolution has no padding (28x28 -> 24x24), so the flattened features
# are 16 * 4 * 4 = 256.
#
# `batchnorm` after a convolution is BatchNorm2d (per channel of NCHW); after a
# linear layer it is BatchNorm1d (per feature of [N, F]). Both count as calls of
# the same layer, so they are named batchnorm1 ... batchnorm4 in program order.
#
# Input:      1 x 1 x 28 x 28 (Fashion-MNIST, batch 1)
# Output:     1 x 10
# Parameters: 44,878 learnable (+ 452 running statistics) in 26 tensors

model bn_lenet(x: f32[1, 1, 28, 28]) {
    conv(6, kernel=5)           # 28x28 -> 24x24
    batchnorm
    sigmoid
    avgpool(kernel=2, stride=2) # -> 12x12
    conv(16, kernel=5)          # -> 8x8
    batchnorm
    sigmoid
    avgpool(kernel=2, stride=2) # -> 4x4
    flatten                     # 16 * 4 * 4 = 256 features
    linear(120)
    batchnorm                   # BatchNorm1d(120)
    sigmoid
    linear(84)
    batchnorm                   # BatchNorm1d(84)
    sigmoid
    linear(10)
}
