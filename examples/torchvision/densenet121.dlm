# DenseNet-121 as torchvision writes it (torchvision.models.densenet121:
# growth_rate=32, block_config=(6, 12, 24, 16), num_init_features=64,
# bn_size=4, drop_rate=0), three input channels, 1000 classes, 224 x 224.
#
# What differs from the book's DenseNet (examples/densenet.dlm):
#   - every dense layer is a bottleneck: BN -> ReLU -> 1x1 conv to
#     bn_size * growth_rate = 128 channels -> BN -> ReLU -> 3x3 conv to 32;
#   - no convolution has a bias;
#   - the transitions halve the channels (1x1 conv) and average-pool 2x2;
#   - the features end with a BatchNorm (norm5), then F.relu, the adaptive
#     average pool to 1 x 1 and the classifier.
#
# `dense { }` is torchvision's torch.cat([x, new_features], 1): the features
# of a dense block are concatenated in torchvision's order. The names are
# torchvision's state_dict keys: the layers are aliased with its attribute
# names (`as norm1`, ...) and the blocks are named so that dlm's counting
# gives torchvision's: the calls of `denseblock` are denseblock1..4, of
# `denselayer` denselayer1, 2, ..., of `transition` transition1..3, all
# inside `features` (scripts/torchvision_reference.py densenet121 checks that
# the mapping is the identity).
#
# Input:      1 x 3 x 224 x 224
# Output:     1 x 1000
# Parameters: 7,978,856 learnable (+ 83,648 running statistics) in 606 tensors
#
#   conv0 7x7/2: 224 -> 112, pool0 3/2: 56, 64 channels
#   denseblock1: 6 layers, 64 -> 256 channels, transition1: 128, 28 x 28
#   denseblock2: 12 layers, 128 -> 512 channels, transition2: 256, 14 x 14
#   denseblock3: 24 layers, 256 -> 1024 channels, transition3: 512, 7 x 7
#   denseblock4: 16 layers, 512 -> 1024 channels, norm5, ReLU, average pool,
#   classifier

# torchvision's _DenseLayer(num_input_features, growth_rate, bn_size).
block denselayer(growth_rate, bn_size) {
    batchnorm as norm1
    relu
    conv(bn_size * growth_rate, kernel=1, bias=false) as conv1
    batchnorm as norm2
    relu
    conv(growth_rate, kernel=3, padding=1, bias=false) as conv2
}

# torchvision's _DenseBlock(num_layers, ...): every layer reads the
# concatenation of the block's input and all earlier layers' outputs.
block denseblock(num_layers, growth_rate, bn_size) {
    repeat num_layers {
        dense { denselayer(growth_rate, bn_size) }
    }
}

# torchvision's _Transition(num_input_features, num_output_features).
block transition(out) {
    batchnorm as norm
    relu
    conv(out, kernel=1, bias=false) as conv
    avgpool(2, stride=2)
}

# torchvision's DenseNet.features.
block features(growth_rate, bn_size) {
    conv(64, kernel=7, stride=2, padding=3, bias=false) as conv0
    batchnorm as norm0
    relu
    maxpool(3, stride=2, padding=1)
    denseblock(6, growth_rate, bn_size)
    transition(channels / 2)
    denseblock(12, growth_rate, bn_size)
    transition(channels / 2)
    denseblock(24, growth_rate, bn_size)
    transition(channels / 2)
    denseblock(16, growth_rate, bn_size)
    batchnorm as norm5
}

model densenet121(x: f32[1, 3, 224, 224]) {
    features(32, 4) as features
    relu
    global_avgpool
    flatten
    linear(1000) as classifier
}
