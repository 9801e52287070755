# Convolutions for the tensor-core tests: one the tensor cores take (grouped,
# not depthwise), one they refuse (depthwise).
model tc_fallback(x: f32[1, 8, 9, 9]) {
    conv(12, kernel=3, padding=1, groups=4)
    conv(12, kernel=3, padding=1, groups=12)
}
