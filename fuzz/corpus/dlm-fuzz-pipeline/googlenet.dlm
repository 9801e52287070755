# GoogLeNet, as "Dive into Deep Learning" writes it (PyTorch version, section
# 8.4 "Multi-Branch Networks (GoogLeNet)"): stages b1 .. b5 of the book, nine
# Inception blocks, one input channel, ten classes.
#
# The book's Inception(c1, c2, c3, c4) takes c2 and c3 as pairs; the language
# has no tuples, so the block takes the six numbers flat:
#     Inception(c1, (c2a, c2b), (c3a, c3b), c4) == inception(c1, c2a, c2b, c3a, c3b, c4)
# Its four paths become the four branches of a `concat`, in the book's order
# p1, p2, p3, p4; the output has c1 + c2b + c3b + c4 channels.
#
# Input:      1 x 1 x 96 x 96 (Fashion-MNIST resized, batch 1)
# Output:     1 x 10
# Parameters: 5,977,530 in 116 tensors
#
#   b1: 96 -> 48 (conv 7x7 s2) -> 24 (maxpool)
#   b2: 24 -> 12 (maxpool), 192 channels
#   b3: inception1..2, 256 -> 480 channels, maxpool -> 6
#   b4: inception3..7, 512 -> 832 channels, maxpool -> 3
#   b5: inception8..9, 832 -> 1024 channels, global average pool

block inception(c1, c2a, c2b, c3a, c3b, c4) {
    concat {
        branch {                                # p1: 1x1 conv
            conv(c1, kernel=1)
            relu
        }
        branch {                                # p2: 1x1 conv, 3x3 conv
            conv(c2a, kernel=1)
            relu
            conv(c2b, kernel=3, padding=1)
            relu
        }
        branch {                                # p3: 1x1 conv, 5x5 conv
            conv(c3a, kernel=1)
            relu
            conv(c3b, kernel=5, padding=2)
            relu
        }
        branch {                                # p4: 3x3 max pool, 1x1 conv
            maxpool(kernel=3, stride=1, padding=1)
            conv(c4, kernel=1)
            relu
        }
    }
}

model googlenet(x: f32[1, 1, 96, 96]) {
    # b1
    conv(64, kernel=7, stride=2, padding=3)
    relu
    maxpool(kernel=3, stride=2, padding=1)
    # b2
    conv(64, kernel=1)
    relu
    conv(192, kernel=3, padding=1)
    relu
    maxpool(kernel=3, stride=2, padding=1)
    # b3
    inception(64, 96, 128, 16, 32, 32)
    inception(128, 128, 192, 32, 96, 64)
    maxpool(kernel=3, stride=2, padding=1)
    # b4
    inception(192, 96, 208, 16, 48, 64)
    inception(160, 112, 224, 24, 64, 64)
    inception(128, 128, 256, 24, 64, 64)
    inception(112, 144, 288, 32, 64, 64)
    inception(256, 160, 320, 32, 128, 128)
    maxpool(kernel=3, stride=2, padding=1)
    # b5
    inception(256, 160, 320, 32, 128, 128)
    inception(384, 192, 384, 48, 128, 128)
    global_avgpool
    flatten
    linear(10)
}
