# MobileNetV3-Small as torchvision writes it (torchvision.models.
# mobilenet_v3_small, width_mult=1.0), three input channels, 1000 classes,
# 224 x 224: hardswish, squeeze-and-excitation with a hardsigmoid gate
# (`scale { }`), depthwise 3x3 and 5x5 convolutions.
#
# Every convolution is torchvision's Conv2dNormActivation: conv without bias
# (padding (k - 1) / 2), BatchNorm2d(eps=0.001, momentum=0.01), then ReLU,
# hardswish or nothing. An inverted residual expands 1x1 (when the expanded
# width differs from the input's), filters depthwise, gates its channels
# (use_se), projects 1x1 without an activation and adds its input when the
# stride is 1 and the channel count is kept.
#
# Names: the stem is stem, the blocks bneck1 ... bneck11 (torchvision's
# features.1 ... features.11) with their layers bneck<i>.layers1.expand,
# .depthwise, .squeeze.se (fc1, fc2) and .project, the last 1x1 conv last, the classifier linear1 and
# linear2 (scripts/torchvision_reference.py mobilenet_v3_small maps
# torchvision's state_dict onto them).

# torchvision's Conv2dNormActivation; act: 0 none, 1 ReLU, 2 Hardswish.
block cna(out, kernel=1, stride=1, groups=1, act=0) {
    conv(out, kernel=kernel, stride=stride, padding=(kernel - 1) / 2,
         groups=groups, bias=false)
    batchnorm(eps=0.001, momentum=0.01)
    if act == 1 {
        relu
    } else if act == 2 {
        hardswish
    }
}

# torchvision's SqueezeExcitation(c, squeezed, scale_activation=Hardsigmoid).
block gate(squeezed, c=channels) {
    scale {
        adaptive_avgpool(1)
        conv(squeezed, kernel=1) as fc1
        relu
        conv(c, kernel=1) as fc2
        hardsigmoid
    }
}

# The squeezed width: torchvision's _make_divisible(expanded // 4, 8).
block se(v=channels / 4, r=max(8, int(channels / 4 + 4) / 8 * 8)) {
    if r < 0.9 * v {
        gate(r + 8) as se
    } else {
        gate(r) as se
    }
}

block layers(kernel, expanded, out, use_se, act, stride) {
    if expanded != channels {
        cna(expanded, act=act) as expand
    }
    cna(expanded, kernel=kernel, stride=stride, groups=expanded, act=act)
        as depthwise
    if use_se {
        se as squeeze
    }
    cna(out) as project
}

# One row of torchvision's inverted_residual_setting: kernel, expanded
# width, output width, use_se, activation (1 ReLU, 2 Hardswish), stride.
block bneck(kernel, expanded, out, use_se, act, stride) {
    if stride == 1 and channels == out {
        residual {
            layers(kernel, expanded, out, use_se, act, stride)
        }
    } else {
        layers(kernel, expanded, out, use_se, act, stride)
    }
}

model mobilenet_v3_small(x: f32[1, 3, 224, 224]) {
    cna(16, kernel=3, stride=2, act=2) as stem
    bneck(3, 16, 16, true, 1, 2)
    bneck(3, 72, 24, false, 1, 2)
    bneck(3, 88, 24, false, 1, 1)
    bneck(5, 96, 40, true, 2, 2)
    bneck(5, 240, 40, true, 2, 1)
    bneck(5, 240, 40, true, 2, 1)
    bneck(5, 120, 48, true, 2, 1)
    bneck(5, 144, 48, true, 2, 1)
    bneck(5, 288, 96, true, 2, 2)
    bneck(5, 576, 96, true, 2, 1)
    bneck(5, 576, 96, true, 2, 1)
    cna(576, act=2) as last
    adaptive_avgpool(1)
    flatten
    linear(1024)
    hardswish
    dropout(0.2)
    linear(1000)
}
