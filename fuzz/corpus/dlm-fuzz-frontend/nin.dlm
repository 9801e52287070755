# Network in Network, as "Dive into Deep Learning" writes it (PyTorch version,
# section 8.3 "Network in Network (NiN)"): each nin_block is a spatial
# convolution followed by two 1x1 convolutions, all with ReLU; no fully
# connected layer at all — the last block has one output channel per class and
# a global average pool turns them into the logits.
#
# Input:      1 x 1 x 224 x 224 (Fashion-MNIST resized, batch 1)
# Output:     1 x 10
# Parameters: 1,992,166 in 24 tensors
#
#   nin_block1 96 11x11 s4:  224 -> 54, maxpool 3 s2 -> 26
#   nin_block2 256 5x5 p2:   26 -> 26,  maxpool 3 s2 -> 12
#   nin_block3 384 3x3 p1:   12 -> 12,  maxpool 3 s2 -> 5
#   nin_block4 10 3x3 p1:    5 -> 5, global average pool -> 10 logits

block nin_block(out, kernel, strides, padding) {
    conv(out, kernel=kernel, stride=strides, padding=padding)
    relu
    conv(out, kernel=1)
    relu
    conv(out, kernel=1)
    relu
}

model nin(x: f32[1, 1, 224, 224]) {
    nin_block(96, kernel=11, strides=4, padding=0)
    maxpool(kernel=3, stride=2)
    nin_block(256, kernel=5, strides=1, padding=2)
    maxpool(kernel=3, stride=2)
    nin_block(384, kernel=3, strides=1, padding=1)
    maxpool(kernel=3, stride=2)
    dropout(0.5)
    nin_block(10, kernel=3, strides=1, padding=1)
    global_avgpool
    flatten
}
