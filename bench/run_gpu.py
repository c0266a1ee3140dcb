"""GPU benchmark of the CUDA target (run it on a machine with an NVIDIA GPU).

In one run it times, with the kernels `tptt-compile --target cuda` / `tptt-run --target cuda`
produce:

* the recurrent ``tptt.delta_product`` forward at B=8, H=16, S=4096, d=128, chunk 64, n ∈ {1, 2}
  (tptt-run --repeat; the wall time includes the host's launches and synchronizations);
* the whole linear branch of a LiZA layer at B=1, S=4096 (hidden 2048, 16 heads of 128; bf16
  weights, so the projections run on tensor cores);
* decode tokens/s of a ~1B-shaped random-weight Llama with LiZA on every layer (hidden 2048,
  16 layers, 32 heads of 64, 8 KV heads, vocabulary 32000) at batch 1, as `EXE generate` reports;
* where PyTorch with CUDA is installed, a plain PyTorch chunked delta rule (n = 1) as a peer.

For each it prints milliseconds, achieved TB/s and TFLOP/s, and the fraction of the roofline:
the operator's floor is its HBM traffic (q, k, v, β read and o written once: 4·(3n+2)·d bytes per
token·head) at the GPU's bandwidth; decode's is the weights (bf16, the CUDA target's default)
read once per token.

    /usr/bin/python3 bench/run_gpu.py [--build build] [--repeat 3] [--bandwidth-tbs 4.8]
"""

import argparse
import json
import pathlib
import re
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))
sys.path.insert(0, str(ROOT / "bench"))

from run_cpu import branch_module, operator_module, time_tptt  # noqa: E402
from tptt import random_model  # noqa: E402

# HBM bandwidth of the GPUs tptt targets, TB/s (SXM parts).
BANDWIDTH = {"H100": 3.35, "H200": 4.8}


def gpu_name():
    try:
        done = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                              capture_output=True, text=True)
    except FileNotFoundError:
        done = None
    if done is None or done.returncode != 0:
        sys.exit("bench/run_gpu.py: no NVIDIA GPU here (nvidia-smi failed); run it where one is")
    return done.stdout.strip().splitlines()[0]


def row(what, ms, bytes_moved, flops, floor_ms):
    print(f"{what:40} {ms:9.3f} {bytes_moved / ms / 1e9:7.3f} {flops / ms / 1e9:8.2f} "
          f"{floor_ms / ms:8.1%}")


def torch_operator(q, k, v, beta, chunk):
    """Milliseconds of a plain PyTorch chunked delta rule (WY form, n = 1) on the GPU, or None."""
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    dev = torch.device("cuda")
    q, k, v, beta = (torch.from_numpy(x).to(dev) for x in (q, k[:, :, :, 0], v[:, :, :, 0], beta))
    b, h, s, d = q.shape

    def run():
        state = torch.zeros(b, h, d, d, device=dev)
        out = torch.empty_like(q)
        mask = torch.tril(torch.ones(chunk, chunk, device=dev), -1)
        for start in range(0, s, chunk):
            kc, vc, qc = (x[:, :, start:start + chunk] for x in (k, v, q))
            bc = beta[:, :, start:start + chunk]
            kb = kc * bc
            a = -(kb @ kc.transpose(-1, -2)) * mask
            t = torch.linalg.solve_triangular(
                torch.eye(chunk, device=dev) - a, torch.eye(chunk, device=dev).expand_as(a),
                upper=False)
            w, u = t @ kb, t @ (vc * bc)
            delta = u - w @ state
            scores = (qc @ kc.transpose(-1, -2)) * torch.tril(torch.ones(chunk, chunk, device=dev))
            out[:, :, start:start + chunk] = qc @ state + scores @ delta
            state = state + kc.transpose(-1, -2) @ delta
        return out

    run()
    torch.cuda.synchronize()
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        run()
        torch.cuda.synchronize()
        best = min(best, (time.perf_counter() - start) * 1e3)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=str(ROOT / "build"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--bandwidth-tbs", type=float, help="HBM bandwidth (default: by GPU name)")
    parser.add_argument("--new-tokens", type=int, default=64)
    args = parser.parse_args()
    build = pathlib.Path(args.build)
    name = gpu_name()
    bandwidth = args.bandwidth_tbs or next((bw for key, bw in BANDWIDTH.items() if key in name), 3.35)
    print(f"GPU: {name}, HBM {bandwidth} TB/s")
    print(f"{'what':40} {'ms':>9} {'TB/s':>7} {'TFLOP/s':>8} {'roofline':>8}")
    rng = np.random.default_rng(0)
    batch, heads, seq, dim, chunk = 8, 16, 4096, 128, 64
    with tempfile.TemporaryDirectory() as tmp:
        workdir = pathlib.Path(tmp)
        for order in (1, 2):
            k = rng.standard_normal((batch, heads, seq, order, dim)).astype(np.float32)
            k /= np.linalg.norm(k, axis=-1, keepdims=True)
            q = rng.standard_normal((batch, heads, seq, dim)).astype(np.float32)
            q /= np.linalg.norm(q, axis=-1, keepdims=True)
            v = rng.standard_normal((batch, heads, seq, order, dim)).astype(np.float32)
            beta = rng.uniform(0.1, 0.9, (batch, heads, seq, dim)).astype(np.float32)
            tokens = batch * heads * seq
            bytes_moved = tokens * 4 * (3 * order + 2) * dim
            flops = 2.0 * tokens * (2 * order + 1) * dim * dim
            floor_ms = bytes_moved / (bandwidth * 1e12) * 1e3
            ms = time_tptt(build, workdir, operator_module(heads, seq, order, dim, chunk, batch),
                           "operator", [q, k, v, beta], args.repeat, target="cuda")
            row(f"tptt operator n={order}", ms, bytes_moved, flops, floor_ms)
            if order == 1:
                peer = torch_operator(q, k, v, beta, chunk)
                if peer is not None:
                    row("PyTorch chunked delta rule n=1", peer, bytes_moved, flops, floor_ms)
        hidden = heads * dim
        x = rng.standard_normal((1, seq, hidden)).astype(np.float32)
        weights = [(rng.standard_normal((hidden, hidden)) / np.sqrt(hidden)).astype(np.float32)
                   for _ in range(4)]
        # bf16 weights [in, out], as the CUDA executables hold them: the projections run on
        # tensor cores.
        weights = [w.T.copy() for w in weights]
        ms = time_tptt(build, workdir, branch_module(seq, hidden, heads, 1, chunk, "bf16"),
                       "branch", [x, *weights], args.repeat, target="cuda",
                       dtypes={f"arg{i}": "BF16" for i in range(1, 5)})
        branch_bytes = 2 * 4 * hidden * hidden + 4 * 2 * seq * hidden
        row("tptt LiZA linear branch (B=1)", ms, branch_bytes,
            2.0 * seq * (4 * hidden * hidden + 3 * heads * dim * dim),
            branch_bytes / (bandwidth * 1e12) * 1e3)

        model = workdir / "model"
        config = random_model.write(
            model, hidden=2048, intermediate=5632, layers=16, heads=32, kv_heads=8, vocab=32000,
            tptt={"operator_mode": "delta_rule", "mag_weight": 0.5, "max_chunk_size": 64,
                  "semantics": "recurrent"},
            max_position_embeddings=4096)
        exe = workdir / "exe"
        subprocess.run([str(build / "bin" / "tptt-compile"), str(model), "--target", "cuda",
                        "--external-weights", "-o", str(exe)], check=True, capture_output=True)
        done = subprocess.run([str(exe), "generate", "--tokens", "1,2,3,4,5,6,7,8", "--greedy",
                               "--max-new-tokens", str(args.new_tokens)],
                              capture_output=True, text=True, check=True)
        rate = float(re.search(r"decode: [0-9]+ tokens, ([0-9.]+) tokens/s", done.stderr).group(1))
        info = json.loads(subprocess.run([str(exe), "info", "--json"], capture_output=True,
                                         text=True, check=True).stdout)
        params = info["parameters"]
        weight_bytes = (2 if info["weight_type"] == "bf16" else 4) * params
        ms = 1e3 / rate
        row(f"decode, ~1B Llama ({config['num_hidden_layers']} layers), batch 1", ms, weight_bytes,
            2.0 * params, weight_bytes / (bandwidth * 1e12) * 1e3)
        print(f"decode: {rate:.1f} tokens/s")


if __name__ == "__main__":
    main()
