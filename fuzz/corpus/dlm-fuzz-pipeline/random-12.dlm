model m12(x: f32[2, 3, 12, 12]) {
    batchnorm
    relu
    conv(6, kernel=3, padding=1, stride=1)
    maxpool(kernel=3, stride=2, padding=1)
    residual { conv(channels, kernel=3, padding=1) batchnorm relu conv(channels, kernel=3, padding=1) batchnorm }
    relu
    flatten linear(3) batchnorm sigmoid linear(4)
}
