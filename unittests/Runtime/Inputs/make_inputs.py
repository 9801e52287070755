#!/usr/bin/python3
"""Writes the fixtures of the runtime's tensor file tests.

    /usr/bin/python3 unittests/Runtime/Inputs/make_inputs.py

The .npy files are written by numpy itself, so that the tests check the reader
against the real writer, and the writer byte for byte against numpy.save. The
.safetensors file is written here in the layout of the safetensors library
(which is not installed): a PyTorch-style checkpoint with metadata, F32 weights
and an I64 BatchNorm counter. All files are tiny; the values are exact in
float32 so that the tests can spell them out.
"""

import io
import json
import os
import struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def save(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def npy(array, version=None):
    f = io.BytesIO()
    np.lib.format.write_array(f, array, version=version, allow_pickle=False)
    return f.getvalue()


def main():
    # arange(6) * 0.5 - 1 = [-1, -0.5, 0, 0.5, 1, 1.5]
    a = (np.arange(6, dtype="<f4") * 0.5 - 1).reshape(2, 3)
    f = io.BytesIO()
    np.save(f, a)
    save("f32_2x3.npy", f.getvalue())
    save("f32_2x3_v2.npy", npy(a, (2, 0)))
    save("f32_2x3_v3.npy", npy(a, (3, 0)))
    f = io.BytesIO()
    np.save(f, np.array(2.5, dtype="<f4"))
    save("f32_scalar.npy", f.getvalue())
    f = io.BytesIO()
    np.save(f, np.arange(12, dtype="<f4").reshape(1, 3, 2, 2))
    save("f32_1x3x2x2.npy", f.getvalue())
    f = io.BytesIO()
    np.save(f, np.zeros((2, 0), dtype="<f4"))
    save("f32_2x0.npy", f.getvalue())
    # What the reader must reject.
    save("f64.npy", npy(np.arange(3, dtype="<f8")))
    save("i32.npy", npy(np.arange(3, dtype="<i4")))
    save("f32_big_endian.npy", npy(a.astype(">f4")))
    save("f32_fortran.npy", npy(np.asfortranarray(a)))

    # A safetensors checkpoint: as the safetensors library lays it out, data
    # sorted by decreasing alignment then name, header padded to 8 bytes.
    tensors = [
        ("bn.num_batches_tracked", "I64", [], struct.pack("<q", 100)),
        ("bn.bias", "F32", [2], np.array([0.5, -0.5], "<f4").tobytes()),
        ("conv.weight", "F32", [2, 1, 1, 2],
         np.array([1, 2, 3, 4], "<f4").tobytes()),
    ]
    header, data = {"__metadata__": {"format": "pt"}}, b""
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    save("checkpoint.safetensors", struct.pack("<Q", len(text)) + text + data)


if __name__ == "__main__":
    main()
