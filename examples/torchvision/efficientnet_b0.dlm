# EfficientNet-B0 as torchvision writes it (torchvision.models.
# efficientnet_b0), three input channels, 1000 classes, 224 x 224: SiLU,
# MBConv blocks with squeeze-and-excitation (`scale { }`, a sigmoid gate
# after a SiLU), depthwise 3x3 and 5x5 convolutions. Stochastic depth is
# the identity in eval mode.
#
# Every convolution is torchvision's Conv2dNormActivation: conv without bias
# (padding (k - 1) / 2), BatchNorm2d, then SiLU or nothing. An MBConv
# expands 1x1 by the ratio t (t != 1), filters depthwise, gates its channels
# with max(1, in / 4) squeezed ones, projects 1x1 without an activation and
# adds its input when the stride is 1 and the channel count is kept.
#
# Names: the stem is stem, stage k's blocks stage<k>.mbconv<i> (torchvision's
# features.<k>.<i - 1>) with their layers stage<k>.mbconv<i>.layers1.expand,
# .depthwise, .se (fc1, fc2) and .project, the last 1x1 conv last, the classifier linear1
# (scripts/torchvision_reference.py efficientnet_b0 maps torchvision's
# state_dict onto them).

# torchvision's Conv2dNormActivation, with SiLU if act.
block cna(out, kernel=1, stride=1, groups=1, act=true) {
    conv(out, kernel=kernel, stride=stride, padding=(kernel - 1) / 2,
         groups=groups, bias=false)
    batchnorm
    if act {
        silu
    }
}

# torchvision's SqueezeExcitation(c, squeezed, activation=nn.SiLU).
block gate(squeezed, c=channels) {
    scale {
        adaptive_avgpool(1)
        conv(squeezed, kernel=1) as fc1
        silu
        conv(c, kernel=1) as fc2
        sigmoid
    }
}

# torchvision's MBConv; the squeezed width comes from the block's input.
block layers(t, kernel, stride, out, squeezed=max(1, channels / 4)) {
    if t != 1 {
        cna(channels * t) as expand
    }
    cna(channels, kernel=kernel, stride=stride, groups=channels) as depthwise
    gate(squeezed) as se
    cna(out, act=false) as project
}

block mbconv(t, kernel, stride, out) {
    if stride == 1 and channels == out {
        residual {
            layers(t, kernel, stride, out)
        }
    } else {
        layers(t, kernel, stride, out)
    }
}

# One row of torchvision's MBConvConfig list: expand ratio, kernel, stride,
# output width, layers (the first with the stride).
block stage(t, kernel, stride, out, n) {
    repeat i in 0..n {
        if i == 0 {
            mbconv(t, kernel, stride, out)
        } else {
            mbconv(t, kernel, 1, out)
        }
    }
}

model efficientnet_b0(x: f32[1, 3, 224, 224]) {
    cna(32, kernel=3, stride=2) as stem
    stage(1, 3, 1, 16, 1)
    stage(6, 3, 2, 24, 2)
    stage(6, 5, 2, 40, 2)
    stage(6, 3, 2, 80, 3)
    stage(6, 5, 1, 112, 3)
    stage(6, 5, 2, 192, 4)
    stage(6, 3, 1, 320, 1)
    cna(1280) as last
    adaptive_avgpool(1)
    flatten
    dropout(0.2)
    linear(1000)
}
