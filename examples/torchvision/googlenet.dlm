# GoogLeNet as torchvision writes it (torchvision.models.googlenet, with
# aux_logits=False and transform_input=False: the eval-mode network), three
# input channels, 1000 classes, 224 x 224.
#
# What differs from the book's GoogLeNet (examples/googlenet.dlm):
#   - every convolution is torchvision's BasicConv2d: conv without bias,
#     BatchNorm2d(eps=0.001), ReLU;
#   - the max pools use ceil_mode=True (at 224 it matters: 112 -> 56, not 55);
#   - the "5x5" branch is torchvision's 3x3 convolution (pytorch/vision#906);
#   - the last stage-4 pool is 2x2, and a dropout (p = 0.2) precedes fc.
#
# Names follow torchvision's state_dict through `as`: conv1.conv.weight,
# inception3a.branch1.conv.weight, ...; torchvision's nn.Sequential
# indices become `_`: branch2.0 is branch2_0
# (scripts/torchvision_reference.py googlenet maps one onto the other).
#
# Input:      1 x 3 x 224 x 224
# Output:     1 x 1000
# Parameters: 6,624,904 learnable (+ 14,560 running statistics) in 287 tensors
#
#   conv1 7x7/2: 224 -> 112, maxpool 3/2 ceil: 56
#   conv2 1x1, conv3 3x3: 192 channels, maxpool: 28
#   inception3a..3b: 256 -> 480 channels, maxpool: 14
#   inception4a..4e: 512 -> 832 channels, maxpool 2/2: 7
#   inception5a..5b: 832 -> 1024 channels, global average pool, fc

# torchvision's BasicConv2d.
block basic_conv(out, kernel, stride=1, padding=0) {
    conv(out, kernel=kernel, stride=stride, padding=padding, bias=false) as conv
    batchnorm(eps=0.001) as bn
    relu
}

# torchvision's Inception(in, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5,
# pool_proj); the input channel count is inferred.
block inception(ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj) {
    concat {
        branch {
            basic_conv(ch1x1, kernel=1) as branch1
        }
        branch {
            basic_conv(ch3x3red, kernel=1) as branch2_0
            basic_conv(ch3x3, kernel=3, padding=1) as branch2_1
        }
        branch {
            basic_conv(ch5x5red, kernel=1) as branch3_0
            basic_conv(ch5x5, kernel=3, padding=1) as branch3_1   # sic: 3x3
        }
        branch {
            maxpool(3, stride=1, padding=1, ceil_mode=true)
            basic_conv(pool_proj, kernel=1) as branch4_1
        }
    }
}

model googlenet(x: f32[1, 3, 224, 224]) {
    basic_conv(64, kernel=7, stride=2, padding=3) as conv1
    maxpool(3, stride=2, ceil_mode=true)
    basic_conv(64, kernel=1) as conv2
    basic_conv(192, kernel=3, padding=1) as conv3
    maxpool(3, stride=2, ceil_mode=true)

    inception(64, 96, 128, 16, 32, 32) as inception3a
    inception(128, 128, 192, 32, 96, 64) as inception3b
    maxpool(3, stride=2, ceil_mode=true)

    inception(192, 96, 208, 16, 48, 64) as inception4a
    inception(160, 112, 224, 24, 64, 64) as inception4b
    inception(128, 128, 256, 24, 64, 64) as inception4c
    inception(112, 144, 288, 32, 64, 64) as inception4d
    inception(256, 160, 320, 32, 128, 128) as inception4e
    maxpool(2, stride=2, ceil_mode=true)

    inception(256, 160, 320, 32, 128, 128) as inception5a
    inception(384, 192, 384, 48, 128, 128) as inception5b

    global_avgpool
    flatten
    dropout(0.2)
    linear(1000) as fc
}
