# DenseNet, as "Dive into Deep Learning" writes it (PyTorch version, section
# 8.7 "Densely Connected Networks (DenseNet)"): b1 as in ResNet, then four
# dense blocks of four conv blocks each with growth rate 32, a transition block
# halving the channels (and the resolution) between dense blocks, and
# BN -> ReLU -> global average pool -> linear at the end. One input channel,
# ten classes.
#
# Channels: 64 -> 192 -> 96 -> 224 -> 112 -> 240 -> 120 -> 248.
#
# Input:      1 x 1 x 96 x 96 (Fashion-MNIST resized, batch 1)
# Output:     1 x 10
# Parameters: 758,226 learnable (+ 6,608 running statistics) in 126 tensors
#
#   b1: 96 -> 48 (conv 7x7 s2) -> 24 (maxpool)
#   dense_block1 24x24, transition_block1 -> 12x12
#   dense_block2 12x12, transition_block2 -> 6x6
#   dense_block3 6x6,   transition_block3 -> 3x3
#   dense_block4 3x3

# The book's conv_block(input_channels, num_channels): pre-activation
# BN -> ReLU -> 3x3 conv. The input channel count is implicit.
block conv_block(num_channels) {
    batchnorm
    relu
    conv(num_channels, kernel=3, padding=1)
}

# The book's DenseBlock(num_convs, input_channels, num_channels): each conv
# block's output is concatenated to its input along channels.
block dense_block(num_convs, growth_rate) {
    repeat num_convs {
        dense { conv_block(growth_rate) }
    }
}

# The book's transition_block(input_channels, num_channels).
block transition_block(num_channels) {
    batchnorm
    relu
    conv(num_channels, kernel=1)
    avgpool(kernel=2, stride=2)
}

model densenet(x: f32[1, 1, 96, 96]) {
    # b1
    conv(64, kernel=7, stride=2, padding=3)
    batchnorm
    relu
    maxpool(kernel=3, stride=2, padding=1)
    # num_convs_in_dense_blocks = [4, 4, 4, 4], growth_rate = 32
    repeat i in 0..4 {
        dense_block(4, 32)
        if i != 3 {
            transition_block(channels / 2)
        }
    }
    batchnorm
    relu
    global_avgpool
    flatten
    linear(10)
}
