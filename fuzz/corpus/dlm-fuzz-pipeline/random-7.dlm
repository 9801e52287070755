model m7(x: f32[2, 3, 9, 9]) {
    conv(2, kernel=1, padding=0, stride=2, bias=false)
    batchnorm
    sigmoid
    conv(8, kernel=1, padding=0, stride=1, bias=true)
    batchnorm
    concat { branch { conv(2, kernel=1) relu } branch { conv(3, kernel=3, padding=1) } branch { maxpool(kernel=3, stride=1, padding=1) conv(2, kernel=1) } }
    repeat 2 { dense { batchnorm relu conv(2, kernel=3, padding=1) } }
    concat { branch { conv(2, kernel=1) relu } branch { conv(3, kernel=3, padding=1) } branch { maxpool(kernel=3, stride=1, padding=1) conv(2, kernel=1) } }
    conv(2, kernel=3, padding=1, stride=1, bias=true)
    batchnorm
    relu
    conv(8, kernel=3, padding=1, stride=1, bias=false)
    batchnorm
    batchnorm relu global_avgpool flatten linear(5)
}
