"""Writes the test inputs of the tptt-run lit tests: make.py KIND PATH."""
import json
import struct
import sys

import numpy as np
from tptt import safetensors

kind, path = sys.argv[1], sys.argv[2]
x = np.arange(6, dtype=np.float32).reshape(2, 3)
w = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1]], dtype=np.float32)
if kind == "by-name":
    safetensors.save(path, {"weight": w, "input": x})
elif kind == "by-order":
    safetensors.save(path, {"a": x, "b": w})
elif kind == "missing":
    safetensors.save(path, {"input": x})
elif kind == "shape":
    safetensors.save(path, {"input": x.reshape(3, 2), "weight": w})
elif kind == "dtype":
    safetensors.save(path, {"input": x.astype(np.float64), "weight": w})
elif kind == "truncated":
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", 1000) + b"{}")
elif kind == "bad-json":
    header = b'{"input": [1, 2'
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header)
elif kind == "bad-offsets":
    header = json.dumps(
        {"input": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 4000]}}
    ).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header + bytes(24))
elif kind == "goldens":
    # A passing and a failing pool case.
    data = np.array([[[3.0], [1.0], [4.0], [1.0], [5.0]]])
    expected = np.array([[[3.0], [7 / 3], [8 / 3], [2.0], [10 / 3]]])
    case = {"kind": "pool", "kernel": 3, "name": "pool-good"}
    safetensors.save(f"{path}/pool-good.safetensors", {"x": data, "out": expected},
                     metadata={"case": json.dumps(case)})
    case["name"] = "pool-bad"
    safetensors.save(f"{path}/pool-bad.safetensors", {"x": data, "out": expected + 1.0},
                     metadata={"case": json.dumps(case)})
    # A case whose tensors do not fit its kind, and an unknown kind.
    safetensors.save(f"{path}/pool-rank.safetensors", {"x": data[0, :, 0], "out": data[0, :, 0]},
                     metadata={"case": json.dumps({"kind": "pool", "kernel": 3})})
    safetensors.save(f"{path}/what.safetensors", {"x": data},
                     metadata={"case": json.dumps({"kind": "what"})})
else:
    raise SystemExit(f"unknown input kind {kind}")
