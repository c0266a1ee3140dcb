"""Inputs of a projection test: x (2×S×70), w (45×70) and u (70×45) in bf16,
and the expected y = x·wᵀ, z = y + x·u computed in float64."""
import sys

import numpy as np
from tptt import safetensors

rows = int(sys.argv[3])
rng = np.random.default_rng(rows)
x = rng.standard_normal((2, rows, 70)).astype(np.float32)
w = rng.standard_normal((45, 70)).astype(np.float32)
u = rng.standard_normal((70, 45)).astype(np.float32)
safetensors.save(sys.argv[1], {"x": x, "w": w, "u": u}, dtypes={"w": "BF16", "u": "BF16"})
w, u = safetensors.load(sys.argv[1])[0]["w"], safetensors.load(sys.argv[1])[0]["u"]
y = x.astype(np.float64) @ w.T.astype(np.float64)
z = y + x.astype(np.float64) @ u.astype(np.float64)
safetensors.save(sys.argv[2], {"y": y.astype(np.float32), "z": z.astype(np.float32)})
