# The model of the binding and driver tests: two tensors, conv1.weight
# f32[2,1,1,1] and conv1.bias f32[2].
model tiny(x: f32[1, 1, 2, 2]) {
    conv(2, kernel=1)
}
