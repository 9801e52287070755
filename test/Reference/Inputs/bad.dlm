# A model with an error on line 3 (run-errors.test).
model bad(x: f32[1, 1, 2, 2]) {
    convv(2, kernel=1)
}
