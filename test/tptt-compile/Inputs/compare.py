"""Prints `<tensor>: same` for every tensor of A equal to B's within a
relative tolerance (max|a - b| / max|b|), `<tensor>: differs by E` otherwise."""
import sys

import numpy as np
from tptt import safetensors

a, b = safetensors.load(sys.argv[1])[0], safetensors.load(sys.argv[2])[0]
for name in sorted(a):
    error = float(np.abs(a[name] - b[name]).max() / max(np.abs(b[name]).max(), 1e-300))
    print(f"{name}: same" if error <= float(sys.argv[3]) else f"{name}: differs by {error:.3g}")
