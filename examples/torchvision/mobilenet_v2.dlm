# MobileNetV2 as torchvision writes it (torchvision.models.mobilenet_v2,
# width_mult=1.0), three input channels, 1000 classes, 224 x 224.
#
# Every convolution but the projections is torchvision's
# Conv2dNormActivation: conv without bias (padding (k - 1) / 2), BatchNorm2d,
# ReLU6. An inverted residual expands 1x1 by the factor t (not for t = 1),
# filters depthwise 3x3 (groups = channels), projects 1x1 without an
# activation and adds its input when the stride is 1 and the channel count
# is kept (torchvision's use_res_connect).
#
# Names: dlm names the stem conv_norm_act1, the blocks
# stage<k>.inverted_residual<i>.bottleneck1 after the rows of torchvision's
# inverted_residual_setting, the last 1x1 conv_norm_act2 and the classifier
# linear1 (scripts/torchvision_reference.py mobilenet_v2 maps torchvision's
# features.<n> onto them).
#
# Input:      1 x 3 x 224 x 224
# Output:     1 x 1000
# Parameters: 3,504,872 learnable (+ 34,112 running statistics) in 262 tensors
#
#   conv_norm_act1 3x3/2: 224 -> 112, 32 channels
#   stages (t, c, n, s): (1, 16, 1, 1) (6, 24, 2, 2) (6, 32, 3, 2)
#     (6, 64, 4, 2) (6, 96, 3, 1) (6, 160, 3, 2) (6, 320, 1, 1): 112 -> 7
#   conv_norm_act2 1x1 to 1280, global average pool, dropout 0.2, linear

# torchvision's Conv2dNormActivation(in, out, kernel, stride, groups,
# activation_layer=nn.ReLU6).
block conv_norm_act(out, kernel=3, stride=1, groups=1) {
    conv(out, kernel=kernel, stride=stride, padding=(kernel - 1) / 2,
         groups=groups, bias=false)
    batchnorm
    relu6
}

# The layers of torchvision's InvertedResidual (its `conv` Sequential):
# expand (t != 1), depthwise, linear projection.
block bottleneck(out, stride, t) {
    if t != 1 {
        conv_norm_act(channels * t, kernel=1)
    }
    conv_norm_act(channels, stride=stride, groups=channels)
    conv(out, kernel=1, bias=false)
    batchnorm
}

block inverted_residual(out, stride, t) {
    if stride == 1 and channels == out {
        residual { bottleneck(out, stride, t) }
    } else {
        bottleneck(out, stride, t)
    }
}

# One row (t, c, n, s) of torchvision's inverted_residual_setting.
block stage(t, c, n, s) {
    repeat i in 0..n {
        if i == 0 {
            inverted_residual(c, s, t)
        } else {
            inverted_residual(c, 1, t)
        }
    }
}

model mobilenet_v2(x: f32[1, 3, 224, 224]) {
    conv_norm_act(32, stride=2)
    stage(1, 16, 1, 1)
    stage(6, 24, 2, 2)
    stage(6, 32, 3, 2)
    stage(6, 64, 4, 2)
    stage(6, 96, 3, 1)
    stage(6, 160, 3, 2)
    stage(6, 320, 1, 1)
    conv_norm_act(1280, kernel=1)
    global_avgpool
    flatten
    dropout(0.2)
    linear(1000)
}
