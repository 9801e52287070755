# LeNet-5, as "Dive into Deep Learning" writes it (PyTorch version, section 7.6
# "Convolutional Neural Networks (LeNet)"): sigmoid activations and 2x2 average
# pooling, with padding=2 on the first convolution so that a 28x28 Fashion-MNIST
# image keeps its size through it.
#
# Input:      1 x 1 x 28 x 28 (Fashion-MNIST, batch 1)
# Output:     1 x 10
# Parameters: 61,706 in 10 tensors
#
#   conv1    6x1x5x5 (+6)         28x28 -> 28x28, pool -> 14x14
#   conv2    16x6x5x5 (+16)       14x14 -> 10x10, pool -> 5x5
#   linear1  120x400 (+120)
#   linear2  84x120 (+84)
#   linear3  10x84 (+10)

model lenet(x: f32[1, 1, 28, 28]) {
    conv(6, kernel=5, padding=2)
    sigmoid
    avgpool(kernel=2, stride=2)
    conv(16, kernel=5)
    sigmoid
    avgpool(kernel=2, stride=2)
    flatten                     # 16 * 5 * 5 = 400 features
    linear(120)
    sigmoid
    linear(84)
    sigmoid
    linear(10)
}
