#!/usr/bin/env python3
"""Writes and reads the small tensor files of the test/Reference lit tests.

Independent of dlm's own readers and writers (only the standard library), so
that a test checks dlm against the file formats, not against itself.

    mktensors.py safetensors OUT SPEC...   one tensor per SPEC
    mktensors.py npy OUT SPEC              one array
    mktensors.py print-npy FILE            the array's type and values
    mktensors.py truncate FILE BYTES       keep the first BYTES bytes (if
                                           negative, drop the last -BYTES)
    mktensors.py patch FILE OFFSET TEXT    overwrite bytes at OFFSET with TEXT

A SPEC is `[name=]dtype[d0,d1,...][:v0,v1,...]`, e.g. `conv1.bias=f32[2]:0.5,-1`.
The dtype is f32, f64 or i64; without values the tensor holds 0, 1, 2, ...
"""

import json
import struct
import sys

FORMATS = {"f32": ("<f", "F32", "<f4"), "f64": ("<d", "F64", "<f8"),
           "i64": ("<q", "I64", "<i8")}


def parse_spec(spec):
    name, _, rest = spec.rpartition("=")
    type_part, _, values_part = rest.partition(":")
    dtype, _, dims = type_part.partition("[")
    shape = [int(d) for d in dims.rstrip("]").split(",") if d]
    count = 1
    for d in shape:
        count *= d
    if values_part:
        values = [float(v) for v in values_part.split(",")]
        if len(values) != count:
            sys.exit(f"mktensors: {spec}: {len(values)} values for {count} elements")
    else:
        values = list(range(count))
    if dtype == "i64":
        values = [int(v) for v in values]
    fmt = FORMATS[dtype][0]
    data = b"".join(struct.pack(fmt, v) for v in values)
    return name, dtype, shape, data


def write_safetensors(out, specs):
    header, blobs, offset = {}, [], 0
    for spec in specs:
        name, dtype, shape, data = parse_spec(spec)
        header[name] = {"dtype": FORMATS[dtype][1], "shape": shape,
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(out, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def write_npy(out, spec):
    _, dtype, shape, data = parse_spec(spec)
    dims = f"{shape[0]}," if len(shape) == 1 else ", ".join(str(d) for d in shape)
    header = (f"{{'descr': '{FORMATS[dtype][2]}', 'fortran_order': False, "
              f"'shape': ({dims}), }}")
    header += " " * (-(10 + len(header) + 1) % 64) + "\n"
    with open(out, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) +
                header.encode() + data)


def print_npy(path):
    data = open(path, "rb").read()
    assert data[:6] == b"\x93NUMPY", "not an .npy file"
    (length,) = struct.unpack("<H", data[8:10])
    header = eval(data[10:10 + length].decode())  # trusted: our own test output
    assert header["descr"] == "<f4" and not header["fortran_order"]
    body = data[10 + length:]
    values = struct.unpack(f"<{len(body) // 4}f", body)
    shape = ",".join(str(d) for d in header["shape"])
    print(f"f32[{shape}] " + " ".join(f"{v:g}" for v in values))


def main(argv):
    command, path, *rest = argv
    if command == "safetensors":
        write_safetensors(path, rest)
    elif command == "npy":
        write_npy(path, rest[0])
    elif command == "print-npy":
        print_npy(path)
    elif command == "truncate":
        size = int(rest[0])
        with open(path, "r+b") as f:
            if size < 0:
                size += f.seek(0, 2)
            f.truncate(size)
    elif command == "patch":
        with open(path, "r+b") as f:
            f.seek(int(rest[0]))
            f.write(rest[1].encode())
    else:
        sys.exit(f"mktensors: unknown command {command}")


if __name__ == "__main__":
    main(sys.argv[1:])
