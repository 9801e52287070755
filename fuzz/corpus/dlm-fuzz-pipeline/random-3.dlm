model m3(x: f32[2, 1, 9, 9]) {
    repeat 3 { dense { batchnorm relu conv(2, kernel=3, padding=1) } }
    residual { conv(channels, kernel=3, padding=1) batchnorm relu conv(channels, kernel=3, padding=1) batchnorm }
    relu
    concat { branch { conv(2, kernel=1) relu } branch { conv(3, kernel=3, padding=1) } branch { maxpool(kernel=3, stride=1, padding=1) conv(2, kernel=1) } }
    repeat 3 { dense { batchnorm relu conv(2, kernel=3, padding=1) } }
    conv(8, kernel=5, padding=2, stride=1, bias=false)
    batchnorm
    sigmoid
    batchnorm relu conv(channels, kernel=1) avgpool(kernel=2)
    flatten linear(3) batchnorm sigmoid linear(4)
}
