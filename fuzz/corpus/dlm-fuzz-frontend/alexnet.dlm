# AlexNet, as "Dive into Deep Learning" writes it (PyTorch version, section 8.1
# "Deep Convolutional Neural Networks (AlexNet)"): one input channel for
# Fashion-MNIST resized to 224x224, ten classes, dropout 0.5 after the two
# hidden fully connected layers (identity at inference).
#
# Input:      1 x 1 x 224 x 224 (Fashion-MNIST resized, batch 1)
# Output:     1 x 10
# Parameters: 46,764,746 in 16 tensors
#
#   conv1 96 11x11 s4 p1: 224 -> 54, maxpool 3 s2 -> 26
#   conv2 256 5x5 p2:     26 -> 26,  maxpool 3 s2 -> 12
#   conv3..conv5 3x3 p1:  12 -> 12,  maxpool 3 s2 -> 5
#   flatten: 256 * 5 * 5 = 6400 -> linear1 4096 -> linear2 4096 -> linear3 10

model alexnet(x: f32[1, 1, 224, 224]) {
    conv(96, kernel=11, stride=4, padding=1)
    relu
    maxpool(kernel=3, stride=2)
    conv(256, kernel=5, padding=2)
    relu
    maxpool(kernel=3, stride=2)
    conv(384, kernel=3, padding=1)
    relu
    conv(384, kernel=3, padding=1)
    relu
    conv(256, kernel=3, padding=1)
    relu
    maxpool(kernel=3, stride=2)
    flatten
    linear(4096)
    relu
    dropout(0.5)
    linear(4096)
    relu
    dropout(0.5)
    linear(10)
}
