# A convolution with a fused 3x3 average pool after it: its window (9 rows)
# does not divide the tensor-core tile's 64, so it stays on the SIMT path.
model tc_pool3(x: f32[1, 4, 12, 12]) {
    conv(8, kernel=3, padding=1)
    avgpool(kernel=3, stride=3)
}
