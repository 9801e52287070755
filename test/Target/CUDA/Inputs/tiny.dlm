# A small model for the bundle tests: a conv with a BatchNorm to fold (so
# the bundle has init launches), a pool and a classifier.
model tiny(x: f32[1, 2, 8, 8]) {
    conv(4, kernel=3, padding=1)
    batchnorm
    relu
    maxpool(kernel=2, stride=2)
    flatten
    linear(3)
}
