"""Prints every tensor of a safetensors file in header order, any dtype:
`name DTYPE [shape] values aligned|misaligned` (aligned: the header length is
a multiple of 8 and the tensor's offset a multiple of its element size)."""
import json
import struct
import sys

import numpy as np

TYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2", "I64": "<i8",
         "I32": "<i4", "I8": "i1", "U8": "u1", "BOOL": "u1"}

with open(sys.argv[1], "rb") as f:
    blob = f.read()
(length,) = struct.unpack("<Q", blob[:8])
header = json.loads(blob[8:8 + length])
data = blob[8 + length:]
for name, entry in header.items():
    if name == "__metadata__":
        continue
    begin, end = entry["data_offsets"]
    dtype = np.dtype(TYPES[entry["dtype"]])
    values = np.frombuffer(data[begin:end], dtype=dtype)
    if entry["dtype"] == "BF16":
        values = (values.astype(np.uint32) << 16).view(np.float32)
    aligned = length % 8 == 0 and begin % dtype.itemsize == 0
    print(name, entry["dtype"], entry["shape"], values.tolist(),
          "aligned" if aligned else "misaligned")
