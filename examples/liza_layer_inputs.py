"""Deterministic inputs for examples/liza_layer.mlir: liza_layer_inputs.py OUT.safetensors.

Two sequences of 12 tokens (the second left-padded by 3), projections of the example shape
(hidden 64, 4 query heads, 2 KV heads, head_dim 16), Llama RoPE tables, μ = 0.5 and a random
output projection.
"""

import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "python"))
from tptt import safetensors  # noqa: E402

rng = np.random.default_rng(0)
batch, seq, heads, kv_heads, dim = 2, 12, 4, 2, 16
mask = np.ones((batch, seq), dtype=np.int64)
mask[1, :3] = 0
positions = np.maximum(np.cumsum(mask, axis=1) - 1, 0)[:, :, None]
inverse = 1.0 / 10000 ** (np.arange(0, dim, 2) / dim)
angles = positions * np.concatenate([inverse, inverse])[None, None, :]
tensors = {
    "q": rng.standard_normal((batch, seq, heads * dim)),
    "k": rng.standard_normal((batch, seq, kv_heads * dim)),
    "v": rng.standard_normal((batch, seq, kv_heads * dim)),
    "cos": np.cos(angles),
    "sin": np.sin(angles),
    "mu": np.array(0.5),
    "wo": rng.standard_normal((heads * dim, heads * dim)) / 8,
}
tensors = {name: t.astype(np.float32) for name, t in tensors.items()}
tensors["mask"] = mask
safetensors.save(sys.argv[1], tensors)
