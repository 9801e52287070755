#!/usr/bin/python3
"""Writes the seed corpora of the tensor file fuzzers.

    /usr/bin/python3 fuzz/make_seeds.py

fuzz/corpus/dlm-fuzz-npy/ gets small arrays saved by numpy (format versions
1.0, 2.0 and 3.0, and some that the reader must reject: other dtypes, Fortran
order); fuzz/corpus/dlm-fuzz-safetensors/ gets small hand-written files in the
layout the safetensors library writes; fuzz/corpus/dlm-fuzz-idx/ small IDX
files, raw and gzipped. Each seed is a few hundred bytes at
most, so that the fuzzers mutate structure rather than data.
"""

import gzip
import io
import json
import os
import struct

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def write(target, name, data):
    os.makedirs(os.path.join(ROOT, target), exist_ok=True)
    with open(os.path.join(ROOT, target, name), "wb") as f:
        f.write(data)


def npy(array, version=None):
    f = io.BytesIO()
    np.lib.format.write_array(f, array, version=version, allow_pickle=False)
    return f.getvalue()


def safetensors(tensors, metadata=None, align=8):
    """tensors: list of (name, dtype, shape, raw bytes), laid out in order."""
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": list(shape),
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-(8 + len(text)) % align)
    return struct.pack("<Q", len(text)) + text + data


def idx(dims, data):
    return bytes([0, 0, 8, len(dims)]) + struct.pack(">" + "I" * len(dims), *dims) + data


def f32(values):
    return np.asarray(values, dtype="<f4").tobytes()


def main():
    a = np.arange(6, dtype="<f4").reshape(2, 3)
    write("dlm-fuzz-npy", "f32_2x3_v1.npy", npy(a))
    write("dlm-fuzz-npy", "f32_2x3_v2.npy", npy(a, (2, 0)))
    write("dlm-fuzz-npy", "f32_2x3_v3.npy", npy(a, (3, 0)))
    write("dlm-fuzz-npy", "f32_scalar.npy", npy(np.float32(1.5)))
    write("dlm-fuzz-npy", "f32_empty.npy", npy(np.zeros((0, 3), "<f4")))
    write("dlm-fuzz-npy", "f32_4d.npy", npy(np.ones((1, 2, 2, 2), "<f4")))
    write("dlm-fuzz-npy", "f8.npy", npy(np.arange(2, dtype="<f8")))
    write("dlm-fuzz-npy", "f32_big_endian.npy", npy(a.astype(">f4")))
    write("dlm-fuzz-npy", "f32_fortran.npy", npy(np.asfortranarray(a)))
    # Labels, for the integer reader (readNpyInt).
    write("dlm-fuzz-npy", "i8_labels.npy", npy(np.asarray([9, 0, 3], "<i8")))
    write("dlm-fuzz-npy", "i4_labels.npy", npy(np.asarray([1, 2], "<i4")))
    write("dlm-fuzz-npy", "u1_labels.npy", npy(np.asarray([7], "u1")))

    write("dlm-fuzz-safetensors", "two.safetensors", safetensors([
        ("conv.weight", "F32", [2, 1, 1, 1], f32([1, -2])),
        ("conv.bias", "F32", [2], f32([0.5, 0.25])),
    ], metadata={"format": "pt"}))
    write("dlm-fuzz-safetensors", "scalar_and_empty.safetensors", safetensors([
        ("scale", "F32", [], f32([3])),
        ("nothing", "F32", [0, 4], b""),
    ]))
    write("dlm-fuzz-safetensors", "mixed_dtypes.safetensors", safetensors([
        ("bn.num_batches_tracked", "I64", [], struct.pack("<q", 7)),
        ("bn.weight", "F32", [2], f32([1, 1])),
        ("half", "F16", [2], np.asarray([1, 2], "<f2").tobytes()),
        ("brain", "BF16", [1], b"\x80\x3f"),
    ]))
    write("dlm-fuzz-safetensors", "misaligned.safetensors", safetensors([
        ("w", "F32", [3], f32([1, 2, 3])),
    ], align=1))
    write("dlm-fuzz-safetensors", "empty.safetensors", safetensors([]))

    # IDX as MNIST stores it: magic 00 00 08 R, R big-endian dimensions, bytes;
    # gzipped (mtime 0, so the seeds are reproducible) and raw.
    images = idx([2, 3, 3], bytes(range(18)))
    labels = idx([4], bytes([9, 0, 3, 1]))
    write("dlm-fuzz-idx", "images_2x3x3.idx3", images)
    write("dlm-fuzz-idx", "labels_4.idx1", labels)
    write("dlm-fuzz-idx", "images_2x3x3.idx3.gz", gzip.compress(images, mtime=0))
    write("dlm-fuzz-idx", "labels_4.idx1.gz", gzip.compress(labels, mtime=0))
    write("dlm-fuzz-idx", "two_members.gz",
          gzip.compress(labels[:5], mtime=0) + gzip.compress(labels[5:], mtime=0))
    write("dlm-fuzz-idx", "empty_0.idx1", idx([0], b""))


if __name__ == "__main__":
    main()
