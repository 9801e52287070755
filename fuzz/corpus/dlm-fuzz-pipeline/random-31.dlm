model m31(x: f32[1, 1, 16, 16]) {
    conv(8, kernel=1, padding=0, stride=1, bias=true)
    relu
    residual { conv(channels, kernel=3, padding=1) batchnorm relu conv(channels, kernel=3, padding=1) batchnorm }
    relu
    conv(8, kernel=5, padding=2, stride=1, bias=true)
    batchnorm
    batchnorm
    relu
    conv(4, kernel=3, padding=0, stride=1)
    batchnorm
    relu
    conv(2, kernel=3, padding=0, stride=2)
    batchnorm relu global_avgpool flatten linear(5)
}
