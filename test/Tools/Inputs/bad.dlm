# A model that parses but does not elaborate: the error comes after dlmc has
# opened -o.
model bad(x: f32[1, 1, 4, 4]) {
    nope
}
