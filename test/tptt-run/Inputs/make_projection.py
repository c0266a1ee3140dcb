"""Inputs of a projection test: x (2×S×70), w (45×70) and u (70×45) in bf16,
and the expected y = x·wᵀ, z = y + x·u computed in float64, from x as it is
(REF) and from x rounded to tf32 as the tensor-core kernels round it (TF32:
to nearest, ties away from zero, 10 bits of mantissa)."""
import sys

import numpy as np
from tptt import safetensors

inputs, reference, tf32_reference, rows = sys.argv[1:5]
rng = np.random.default_rng(int(rows))
x = rng.standard_normal((2, int(rows), 70)).astype(np.float32)
w = rng.standard_normal((45, 70)).astype(np.float32)
u = rng.standard_normal((70, 45)).astype(np.float32)
safetensors.save(inputs, {"x": x, "w": w, "u": u}, dtypes={"w": "BF16", "u": "BF16"})
stored = safetensors.load(inputs)[0]
w, u = stored["w"].astype(np.float64), stored["u"].astype(np.float64)


def project(x):
    y = x.astype(np.float64) @ w.T
    return {"y": y.astype(np.float32), "z": (y + x.astype(np.float64) @ u).astype(np.float32)}


safetensors.save(reference, project(x))
rounded = ((x.view(np.uint32) + np.uint32(0x1000)) & np.uint32(0xFFFFE000)).view(np.float32)
safetensors.save(tf32_reference, project(rounded))
