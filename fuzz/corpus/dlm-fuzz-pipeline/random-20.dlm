model m20(x: f32[2, 4, 9, 9]) {
    residual { conv(channels, kernel=3, padding=1) batchnorm relu conv(channels, kernel=3, padding=1) batchnorm }
    relu
    concat { branch { conv(2, kernel=1) relu } branch { conv(3, kernel=3, padding=1) } branch { maxpool(kernel=3, stride=1, padding=1) conv(2, kernel=1) } }
    maxpool(kernel=3, stride=2, padding=1)
    repeat 1 { dense { batchnorm relu conv(2, kernel=3, padding=1) } }
    batchnorm
    relu
    conv(4, kernel=1, padding=0, stride=1)
    repeat 3 { dense { batchnorm relu conv(3, kernel=3, padding=1) } }
    batchnorm
    relu
    conv(6, kernel=3, padding=1, stride=2)
    batchnorm relu global_avgpool flatten linear(5)
}
