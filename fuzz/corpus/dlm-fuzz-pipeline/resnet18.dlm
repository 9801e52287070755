# ResNet-18, as "Dive into Deep Learning" writes it (PyTorch version, section
# 8.6 "Residual Networks (ResNet) and ResNeXt"): the book's Residual class,
# resnet_block and stages b1 .. b5, one input channel, ten classes.
#
# As in the book, every convolution keeps nn.Conv2d's default bias=True (even
# the ones followed by batch normalization), and the 1x1 projection shortcut
# (use_1x1conv) is a bare convolution without batch normalization.
#
# Input:      1 x 1 x 96 x 96 (Fashion-MNIST resized, batch 1)
# Output:     1 x 10
# Parameters: 11,178,378 learnable (+ 7,808 running statistics) in 110 tensors
#
#   b1: 96 -> 48 (conv 7x7 s2) -> 24 (maxpool), 64 channels
#   b2: resnet_block1, 64 channels, 24x24
#   b3: resnet_block2, 128 channels, 12x12
#   b4: resnet_block3, 256 channels, 6x6
#   b5: resnet_block4, 512 channels, 3x3, then global average pool

# The book's Residual(num_channels, use_1x1conv, strides). Its names inside a
# unit match the book's attributes: conv1, batchnorm1 (bn1), conv2,
# batchnorm2 (bn2), and conv3 for the projection.
block residual_unit(num_channels, use_1x1conv=false, strides=1) {
    residual {
        conv(num_channels, kernel=3, padding=1, stride=strides)
        batchnorm
        relu
        conv(num_channels, kernel=3, padding=1)
        batchnorm
    } shortcut {
        if use_1x1conv {
            conv(num_channels, kernel=1, stride=strides)
        }
    }
    relu
}

# The book's resnet_block(input_channels, num_channels, num_residuals,
# first_block): the first unit of every stage but the first halves the
# resolution and projects the shortcut.
block resnet_block(num_channels, num_residuals, first_block=false) {
    repeat i in 0..num_residuals {
        if i == 0 and not first_block {
            residual_unit(num_channels, use_1x1conv=true, strides=2)
        } else {
            residual_unit(num_channels)
        }
    }
}

model resnet18(x: f32[1, 1, 96, 96]) {
    # b1
    conv(64, kernel=7, stride=2, padding=3)
    batchnorm
    relu
    maxpool(kernel=3, stride=2, padding=1)
    # b2 .. b5
    resnet_block(64, 2, first_block=true)
    resnet_block(128, 2)
    resnet_block(256, 2)
    resnet_block(512, 2)
    global_avgpool
    flatten
    linear(10)
}
