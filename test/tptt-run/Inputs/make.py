"""Writes the test inputs of the tptt-run lit tests: make.py KIND PATH."""
import json
import struct
import sys

import numpy as np
from tptt import safetensors



def save_raw(path, tensors, header_extra=None):
    """Writes {name: (dtype code, array of that layout)} with any dtype code."""
    header, blobs, offset = dict(header_extra or {}), [], 0
    for name, (code, array) in tensors.items():
        raw = np.ascontiguousarray(array).tobytes()
        header[name] = {"dtype": code, "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def bf16(values):
    """float32 values exact in bfloat16 -> their BF16 bits."""
    return (np.array(values, np.float32).view(np.uint32) >> 16).astype(np.uint16)


def pool_case(directory, name, data, expected, **extra):
    case = {"kind": "pool", "kernel": 3, **extra}
    safetensors.save(f"{directory}/{name}.safetensors", {"x": data, "out": expected},
                     metadata={"case": json.dumps(case)})


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
elif kind == "all-dtypes":
    # One tensor per dtype, named by the default argument names.
    save_raw(path, {
        "arg0": ("F64", np.array([0.25, -1.0])),
        "arg1": ("F32", np.array([0.5, 3.0], np.float32)),
        "arg2": ("F16", np.array([0.75, -4.0], np.float16)),
        "arg3": ("BF16", bf16([1.5, -2.25])),
        "arg4": ("I64", np.array([2**40, -7], np.int64)),
        "arg5": ("I32", np.array([5, -6], np.int32)),
        "arg6": ("I8", np.array([60, -3], np.int8)),
        "arg7": ("BOOL", np.array([1, 0], np.uint8)),
    })
elif kind in ("mask-I64", "mask-U8", "mask-I32", "mask-F32"):
    code = kind.split("-")[1]
    numpy_type = {"I64": np.int64, "U8": np.uint8, "I32": np.int32, "F32": np.float32}[code]
    save_raw(path, {"x": ("F32", np.array([1.5, 2.5, 3.5], np.float32)),
                    "mask": (code, np.array([1, 0, 7], numpy_type))})
elif kind == "rank":
    safetensors.save(path, {"input": x.reshape(6), "weight": w})
elif kind == "unknown-dtype":
    save_raw(path, {"input": ("F8_E4M3", np.zeros(6, np.uint8))})
elif kind == "huge-shape":
    # 2^62 x 4 F32 elements are 2^66 bytes: 0 when the size overflows.
    header = json.dumps(
        {"input": {"dtype": "F32", "shape": [2**62, 4], "data_offsets": [0, 0]}}
    ).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header)
elif kind == "goldens":
    # A passing and a failing pool case.
    data = np.array([[[3.0], [1.0], [4.0], [1.0], [5.0]]])
    expected = np.array([[[3.0], [7 / 3], [8 / 3], [2.0], [10 / 3]]])
    pool_case(path, "pool-good", data, expected)
    pool_case(path, "pool-bad", data, expected + 1.0)
    # A case whose tensors do not fit its kind, a mistyped parameter, an
    # unknown kind and a case metadata that is not JSON.
    pool_case(path, "pool-rank", data[0, :, 0], data[0, :, 0])
    pool_case(path, "pool-kernel", data, expected, kernel="3")
    safetensors.save(f"{path}/what.safetensors", {"x": data},
                     metadata={"case": json.dumps({"kind": "what"})})
    safetensors.save(f"{path}/garbled.safetensors", {"x": data}, metadata={"case": "{kind"})
    # Not a golden case at all (model weights, say): skipped.
    safetensors.save(f"{path}/weights.safetensors", {"w": data})
elif kind == "indexed-goldens":
    # index.json decides which files are cases: a listed file without a
    # case fails, an unlisted one is not looked at.
    data = np.array([[[3.0], [1.0], [4.0], [1.0], [5.0]]])
    expected = np.array([[[3.0], [7 / 3], [8 / 3], [2.0], [10 / 3]]])
    pool_case(path, "listed", data, expected)
    pool_case(path, "unlisted", data, expected + 1.0)
    safetensors.save(f"{path}/no-case.safetensors", {"x": data})
    with open(f"{path}/index.json", "w") as f:
        json.dump({"cases": [{"name": "listed", "kind": "pool"},
                             {"name": "no-case", "kind": "pool"}]}, f)
elif kind == "bad-index":
    with open(f"{path}/index.json", "w") as f:
        json.dump({"cases": [{"kind": "pool"}]}, f)
else:
    raise SystemExit(f"unknown input kind {kind}")
