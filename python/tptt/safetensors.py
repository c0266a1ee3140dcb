"""Minimal safetensors reader and writer on numpy.

File layout (https://github.com/huggingface/safetensors): an unsigned little-endian 64-bit header
length N, then N bytes of UTF-8 JSON, then the data buffer. The header maps each tensor name to
``{"dtype", "shape", "data_offsets": [begin, end]}`` (offsets relative to the start of the data
buffer, row-major little-endian bytes) and may hold ``"__metadata__"``, a map of strings to strings.
The writer pads the header with spaces to a multiple of 8 bytes so that the buffer starts aligned.

Supported dtypes: F64, F32, F16, BF16, I64, I32, BOOL. BF16 has no numpy type: it is read as float32
(the 16 stored bits become the high half of a float32) and written from float32 with
round-to-nearest-even.
"""

import json
import math
import os
import struct

import numpy as np

_NUMPY_DTYPES = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "BOOL": np.dtype("bool"),
}

_DEFAULT_NAMES = {
    np.dtype("float64"): "F64",
    np.dtype("float32"): "F32",
    np.dtype("float16"): "F16",
    np.dtype("int64"): "I64",
    np.dtype("int32"): "I32",
    np.dtype("bool"): "BOOL",
}

_LENGTH_BYTES = 8


def _bf16_to_f32(raw):
    """uint16 BF16 bit patterns -> float32 values (exact)."""
    return (raw.astype(np.uint32) << 16).view(np.float32)


def _f32_to_bf16(x):
    """float32 values -> uint16 BF16 bit patterns, rounding to nearest even (NaN stays NaN)."""
    bits = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    rounded = (bits + np.uint32(0x7FFF) + ((bits >> 16) & np.uint32(1))) >> 16
    quiet_nan = (bits >> 16) | np.uint32(0x0040)
    return np.where(np.isnan(x), quiet_nan, rounded).astype(np.uint16)


def _check_entry(path, name, entry, data_len):
    """Validate one tensor entry of the header; returns (dtype code, shape, begin, end)."""
    where = f"{path}: tensor '{name}'"
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: header entry is not an object")
    missing = {"dtype", "shape", "data_offsets"} - entry.keys()
    if missing:
        raise ValueError(f"{where}: header entry lacks {sorted(missing)}")
    code = entry["dtype"]
    if code not in _NUMPY_DTYPES:
        raise ValueError(f"{where}: unknown dtype {code!r} (supported: {sorted(_NUMPY_DTYPES)})")
    shape = entry["shape"]
    if not isinstance(shape, list) or not all(
        isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape
    ):
        raise ValueError(f"{where}: shape {shape!r} is not a list of non-negative integers")
    offsets = entry["data_offsets"]
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
    ):
        raise ValueError(f"{where}: data_offsets {offsets!r} is not a pair of integers")
    begin, end = offsets
    if not 0 <= begin <= end <= data_len:
        raise ValueError(
            f"{where}: data_offsets [{begin}, {end}] out of range for a {data_len}-byte data buffer"
        )
    expected = math.prod(shape) * _NUMPY_DTYPES[code].itemsize
    if end - begin != expected:
        raise ValueError(
            f"{where}: data_offsets span {end - begin} bytes but {code}{shape} needs {expected}"
        )
    return code, tuple(shape), begin, end


def _read_header(f, path, size):
    """The header of the open safetensors file ``f`` (``size`` bytes): ``(entries, header_len)``,
    the entries with ``__metadata__``."""
    if size < _LENGTH_BYTES:
        raise ValueError(f"{path}: {size} bytes, too short for a safetensors header length")
    (header_len,) = struct.unpack("<Q", f.read(_LENGTH_BYTES))
    if header_len > size - _LENGTH_BYTES:
        raise ValueError(
            f"{path}: header length {header_len} exceeds the {size - _LENGTH_BYTES} bytes "
            "that follow it"
        )
    try:
        entries = json.loads(f.read(header_len).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: header is not valid UTF-8 JSON ({err})") from None
    if not isinstance(entries, dict):
        raise ValueError(f"{path}: header is not a JSON object")
    return entries, header_len


def header(path):
    """The tensor entries of a safetensors file's header (name -> dtype, shape, data_offsets),
    read without its data."""
    with open(path, "rb") as f:
        entries, _ = _read_header(f, path, os.fstat(f.fileno()).st_size)
    entries.pop("__metadata__", None)
    return entries


def load(path):
    """Read a safetensors file.

    Returns ``(tensors, metadata)``: a dict name -> numpy array (native byte order, writable;
    BF16 tensors come back as float32) and the ``__metadata__`` dict (empty when absent).
    Raises ValueError naming the file (and the tensor, where one is at fault) on a corrupt header.
    """
    with open(path, "rb") as f:
        header, _ = _read_header(f, path, os.fstat(f.fileno()).st_size)
        data = memoryview(f.read())
    metadata = header.pop("__metadata__", {})
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise ValueError(f"{path}: __metadata__ is not a map of strings to strings")
    tensors = {}
    for name, entry in header.items():
        code, shape, begin, end = _check_entry(path, name, entry, len(data))
        raw = np.frombuffer(data[begin:end], dtype=_NUMPY_DTYPES[code]).reshape(shape)
        if code == "BF16":
            tensors[name] = _bf16_to_f32(raw)
        else:
            tensors[name] = raw.astype(raw.dtype.newbyteorder("="))
    return tensors, metadata


def save(path, tensors, metadata=None, dtypes=None):
    """Write ``tensors`` (dict name -> numpy array) to a safetensors file.

    Each array is stored in the safetensors dtype of its numpy dtype (float64 -> F64, float32 ->
    F32, float16 -> F16, int64 -> I64, int32 -> I32) unless ``dtypes`` maps its name to another
    supported code, to which it is converted ("BF16" rounds to nearest even from float32).
    ``metadata`` is an optional dict of strings stored as ``__metadata__``. Tensors are laid out by
    decreasing element size, then by name, so every tensor starts aligned to its element size.
    """
    dtypes = dtypes or {}
    encoded = {}
    for name, array in tensors.items():
        array = np.asarray(array)
        code = dtypes.get(name) or _DEFAULT_NAMES.get(array.dtype)
        if code not in _NUMPY_DTYPES:
            raise ValueError(
                f"{path}: tensor '{name}': cannot store dtype {array.dtype} as {code!r}"
            )
        if code == "BF16":
            raw = _f32_to_bf16(array.astype(np.float32))
        else:
            raw = array.astype(_NUMPY_DTYPES[code])
        encoded[name] = (code, list(array.shape), np.ascontiguousarray(raw).tobytes())
    order = sorted(encoded, key=lambda n: (-_NUMPY_DTYPES[encoded[n][0]].itemsize, n))
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    offset = 0
    for name in order:
        code, shape, raw = encoded[name]
        header[name] = {"dtype": code, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    header_bytes += b" " * (-len(header_bytes) % _LENGTH_BYTES)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header_bytes)))
        f.write(header_bytes)
        for name in order:
            f.write(encoded[name][2])
