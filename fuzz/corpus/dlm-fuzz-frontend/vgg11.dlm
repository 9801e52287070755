# VGG-11, as "Dive into Deep Learning" writes it (PyTorch version, section 8.2
# "Networks Using Blocks (VGG)"): vgg(conv_arch) with
#     conv_arch = ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))
# at full width (not the book's reduced `ratio = 4` training variant), one
# input channel, ten classes.
#
# The language has no tuples or lists, so the book's loop over conv_arch is
# written out as five vgg_block calls; each block is the book's
# vgg_block(num_convs, out_channels).
#
# Input:      1 x 1 x 224 x 224 (Fashion-MNIST resized, batch 1)
# Output:     1 x 10
# Parameters: 128,806,154 in 22 tensors
#   (five 2x2 max pools: 224 -> 7, so linear1 sees 512 * 7 * 7 = 25088 features)

block vgg_block(num_convs, out) {
    repeat num_convs {
        conv(out, kernel=3, padding=1)
        relu
    }
    maxpool(kernel=2, stride=2)
}

model vgg11(x: f32[1, 1, 224, 224]) {
    vgg_block(1, 64)
    vgg_block(1, 128)
    vgg_block(2, 256)
    vgg_block(2, 512)
    vgg_block(2, 512)
    flatten
    linear(4096)
    relu
    dropout(0.5)
    linear(4096)
    relu
    dropout(0.5)
    linear(10)
}
