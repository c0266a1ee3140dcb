"""CPU benchmark of the compiled LiZA linear operator and linear branch.

For B=1, H=8, d=64, S ∈ {512, 2048, 8192} and order n ∈ {1, 2} it times, in one run:

* the recurrent ``tptt.delta_product`` compiled by tptt (tptt-run --repeat), for the chunk sizes
  given (default 4, 8 and 16);
* the whole linear branch of a delta_product layer (hidden 512, 8 heads: projections, gates,
  feature map, virtual tokens, operator, RMS head merge, output projection), at 8 virtual tokens
  per chunk (chunk 8 for n = 1, 4 for n = 2: the chunk whose products fit this CPU's L1 cache);
* a plain sequential loop of the same computation compiled with -O3 (tptt-bench-naive).

It prints milliseconds, GFLOP/s of the sequential algorithm's work (so that every row counts the
same work) and the speed-up over the naive loop. Every figure is the best of --rounds
measurements taken in turn with the others of its group (tptt's own is the best of --repeat
calls), because the speed of a shared VM drifts from one second to the next.

    /usr/bin/python3 bench/run_cpu.py [--build build] [--repeat 5] [--rounds 3] [--chunks 4,8,16]
"""

import argparse
import pathlib
import re
import subprocess
import sys
import tempfile

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))

from tptt import safetensors  # noqa: E402


def tensor_type(shape):
    return "tensor<" + "".join(f"{s}x" for s in shape) + "f32>"


def operator_module(heads, seq, order, dim, chunk, batch=1):
    q, kv = tensor_type((batch, heads, seq, dim)), tensor_type((batch, heads, seq, order, dim))
    state = tensor_type((batch, heads, dim, dim))
    return f"""
func.func @operator(%q: {q}, %k: {kv}, %v: {kv}, %b: {q}) -> {q} {{
  %o, %s = tptt.delta_product %q, %k, %v, %b semantics = recurrent chunk_size = {chunk}
      : ({q}, {kv}, {kv}, {q}) -> ({q}, {state})
  return %o : {q}
}}
"""


def branch_module(seq, hidden, heads, order, chunk, weight_type="f32"):
    """The linear branch of a LiZA layer. With weight_type "bf16" the weights are bf16 [in, out]
    arguments (as tptt-compile's CUDA executables hold them), widened where they are read."""
    x, w = tensor_type((1, seq, hidden)), tensor_type((hidden, hidden))
    h = tensor_type((1, heads, seq, hidden // heads))
    e = tensor_type((1, heads, seq, order, hidden // heads))
    arg, widen, layout = w, "", ""
    weights = {name: f"%{name}" for name in ("wq", "wk", "wv", "wo")}
    if weight_type == "bf16":
        arg, layout = f"tensor<{hidden}x{hidden}xbf16>", " transposed_weight"
        for name in weights:
            widen += f"  %{name}f = arith.extf %{name} : {arg} to {w}\n"
            weights[name] = f"%{name}f"
    return f"""
func.func @branch(%x: {x}, %wq: {arg}, %wk: {arg}, %wv: {arg}, %wo: {arg}) -> {x} {{
{widen}  %q = tptt.linear %x, {weights["wq"]}{layout} : ({x}, {w}) -> {x}
  %k = tptt.linear %x, {weights["wk"]}{layout} : ({x}, {w}) -> {x}
  %v = tptt.linear %x, {weights["wv"]}{layout} : ({x}, {w}) -> {x}
  %alpha, %beta = tptt.gates %k, %v alpha = c beta = k heads = {heads} kv_heads = {heads}
      : ({x}, {x}) -> ({h}, {h})
  %qh, %kh, %vh = tptt.feature_map %q, %k, %v heads = {heads} kv_heads = {heads}
      : ({x}, {x}, {x}) -> ({h}, {h}, {h})
  %ke = tptt.virtual_token_expand %kh order = {order} trick = dt : ({h}) -> {e}
  %ve = tptt.virtual_token_expand %vh order = {order} trick = dt : ({h}) -> {e}
  %o, %s = tptt.delta_product %qh, %ke, %ve, %beta semantics = recurrent chunk_size = {chunk}
      : ({h}, {e}, {e}, {h}) -> ({h}, {tensor_type((1, heads, hidden // heads, hidden // heads))})
  %y = tptt.merge_heads %o : ({h}) -> {x}
  %out = tptt.linear %y, {weights["wo"]}{layout} : ({x}, {w}) -> {x}
  return %out : {x}
}}
"""


def time_tptt(build, workdir, source, entry, inputs, repeat, target="cpu", dtypes=None):
    """Best wall time (ms) of `entry` on `inputs` (arg0, arg1, ...; `dtypes` maps a name to its
    stored safetensors dtype, e.g. {"arg1": "BF16"})."""
    module = workdir / f"{entry}.mlir"
    module.write_text(source)
    in_file = workdir / f"{entry}.safetensors"
    safetensors.save(in_file, {f"arg{i}": x for i, x in enumerate(inputs)}, dtypes=dtypes)
    done = subprocess.run(
        [str(build / "bin" / "tptt-run"), str(module), "--entry", entry, "--inputs", str(in_file),
         "--outputs", str(workdir / "out.safetensors"), "--repeat", str(repeat), "--target", target],
        capture_output=True, text=True, check=True)
    return float(re.search(r"best ([0-9.]+) ms", done.stderr).group(1))


def time_naive(build, *args):
    done = subprocess.run([str(build / "bin" / "tptt-bench-naive"), *map(str, args)],
                          capture_output=True, text=True, check=True)
    return float(done.stdout.split()[0])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=str(ROOT / "build"))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3,
                        help="measure every row this many times, interleaved, and keep the best")
    parser.add_argument("--chunks", default="4,8,16")
    parser.add_argument("--seq", default="512,2048,8192")
    args = parser.parse_args()
    build = pathlib.Path(args.build)
    chunks = [int(c) for c in args.chunks.split(",")]
    rng = np.random.default_rng(0)
    heads, dim, hidden = 8, 64, 512
    print(f"{'what':34} {'S':>5} {'n':>2} {'ms':>9} {'GFLOP/s':>8} {'vs naive':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = pathlib.Path(tmp)
        for seq in [int(s) for s in args.seq.split(",")]:
            for order in (1, 2):
                # Work of the sequential algorithm: per virtual token Sᵀw and k uᵀ (2·d² MACs),
                # per real token the read-out Sᵀq (d² MACs).
                flops = 2.0 * heads * seq * (2 * order + 1) * dim * dim
                k = rng.standard_normal((1, heads, seq, order, dim)).astype(np.float32)
                k /= np.linalg.norm(k, axis=-1, keepdims=True)
                q = rng.standard_normal((1, heads, seq, dim)).astype(np.float32)
                q /= np.linalg.norm(q, axis=-1, keepdims=True)
                v = rng.standard_normal((1, heads, seq, order, dim)).astype(np.float32)
                beta = rng.uniform(0.1, 0.9, (1, heads, seq, dim)).astype(np.float32)
                # One round measures every row once; the rows of a round run back to back,
                # so that a slow moment of the machine hits them alike.
                naive, tptt = float("inf"), {chunk: float("inf") for chunk in chunks}
                for _ in range(args.rounds):
                    naive = min(naive, time_naive(build, "operator", 1, heads, seq, dim, order))
                    for chunk in chunks:
                        tptt[chunk] = min(tptt[chunk], time_tptt(
                            build, workdir, operator_module(heads, seq, order, dim, chunk),
                            "operator", [q, k, v, beta], args.repeat))
                print(f"{'naive sequential operator (-O3)':34} {seq:5} {order:2} {naive:9.2f} "
                      f"{flops / naive / 1e6:8.1f} {1.0:9.2f}")
                for chunk, ms in tptt.items():
                    print(f"{'tptt operator, chunk ' + str(chunk):34} {seq:5} {order:2} {ms:9.2f} "
                          f"{flops / ms / 1e6:8.1f} {naive / ms:9.2f}")
                branch_flops = flops + 2.0 * seq * 4 * hidden * hidden
                x = rng.standard_normal((1, seq, hidden)).astype(np.float32)
                weights = [(rng.standard_normal((hidden, hidden)) / np.sqrt(hidden)).astype(np.float32)
                           for _ in range(4)]
                branch_chunk = max(1, 8 // order)
                naive_branch, branch = float("inf"), float("inf")
                for _ in range(args.rounds):
                    naive_branch = min(naive_branch, time_naive(
                        build, "branch", 1, seq, hidden, heads, heads, order))
                    branch = min(branch, time_tptt(
                        build, workdir, branch_module(seq, hidden, heads, order, branch_chunk),
                        "branch", [x, *weights], args.repeat))
                print(f"{'naive sequential branch (-O3)':34} {seq:5} {order:2} {naive_branch:9.2f} "
                      f"{branch_flops / naive_branch / 1e6:8.1f} {1.0:9.2f}")
                print(f"{'tptt linear branch, chunk ' + str(branch_chunk):34} {seq:5} {order:2} "
                      f"{branch:9.2f} {branch_flops / branch / 1e6:8.1f} {naive_branch / branch:9.2f}")


if __name__ == "__main__":
    main()
