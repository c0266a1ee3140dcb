"""Checks reverse-mode derivatives against central finite differences.

    gradcheck.py --tptt-run TOOL FILE.mlir --forward F --backward G
                 --inputs SPEC [--wrt a,b]

`F` maps the inputs (in SPEC order) to one or more outputs; `G` takes the
same inputs followed by one cotangent per output of `F` and returns the
cotangents of the `--wrt` inputs (default: every float input), in order.
SPEC is a comma-separated list of NAME=SHAPE[:KIND], SHAPE like 2x5x8, KIND:

    float      (default) standard normal f64
    positive   uniform in [0.5, 1.5]
    mask       booleans, every sequence (row) starting with at least one 1
    ids:V      int64 in [0, V)
    labels:V   int64 in [0, V), about a quarter -100 (ignored)

For each differentiated input x and a random direction u, the directional
derivative <cot, (F(x + eps u) - F(x - eps u)) / 2 eps> must equal
<G(x, cot)_x, u> to a relative tolerance (--tol, default 1e-6). Every run
goes through `tptt-run`, so the check covers the lowering of both sides.
Exits 1 with a line per failing input.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
from tptt import safetensors


def parse_spec(text):
    spec = []
    for item in text.split(","):
        name, rest = item.split("=")
        shape_text, _, kind = rest.partition(":")
        shape = [int(s) for s in shape_text.split("x")] if shape_text else []
        spec.append((name, shape, kind or "float"))
    return spec


def make_input(rng, shape, kind):
    if kind == "float":
        return rng.standard_normal(shape)
    if kind == "positive":
        return rng.uniform(0.5, 1.5, shape)
    if kind == "mask":
        mask = rng.random(shape) < 0.75
        mask[..., 0] = True
        return mask
    base, _, vocab = kind.partition(":")
    ids = rng.integers(0, int(vocab), shape).astype(np.int64)
    if base == "labels":
        ids[rng.random(shape) < 0.25] = -100
    elif base != "ids":
        raise SystemExit(f"gradcheck: unknown input kind '{kind}'")
    return ids


def extract(path, names, workdir):
    """A module with only the top-level functions `names` of the file at
    `path` (each compiles faster alone than the whole test file)."""
    text = open(path, encoding="utf-8").read()
    blocks = re.split(r"(?m)^(?=func\.func )", text)
    keep = [block[: block.index("\n}\n") + 3] for block in blocks
            if re.match(r"func\.func @([\w$.]+)\(", block)
            and re.match(r"func\.func @([\w$.]+)\(", block).group(1) in names]
    if len(keep) != len(names):
        raise SystemExit(f"gradcheck: {path} lacks one of the functions {', '.join(names)}")
    module = os.path.join(workdir, "module.mlir")
    with open(module, "w", encoding="utf-8") as f:
        f.write("\n".join(keep))
    return module


def run(tool, module, entry, tensors, workdir, tag):
    inputs = os.path.join(workdir, f"{tag}.in.safetensors")
    outputs = os.path.join(workdir, f"{tag}.out.safetensors")
    safetensors.save(inputs, {f"arg{i}": t for i, t in enumerate(tensors)})
    proc = subprocess.run(
        [tool, module, "--entry", entry, "--inputs", inputs,
         "--outputs", outputs], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"gradcheck: tptt-run {entry} failed:\n{proc.stderr}")
    results, _ = safetensors.load(outputs)
    return [results[k] for k in sorted(results, key=result_index)]


def result_index(name):
    digits = name[len("result"):] if name.startswith("result") else ""
    return int(digits) if digits.isdigit() else name


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("module")
    parser.add_argument("--tptt-run", default="tptt-run",
                        help="the tptt-run binary (lit substitutes its path)")
    parser.add_argument("--forward", required=True)
    parser.add_argument("--backward", required=True)
    parser.add_argument("--inputs", required=True)
    parser.add_argument("--wrt")
    parser.add_argument("--eps", type=float, default=1e-6)
    parser.add_argument("--tol", type=float, default=1e-6)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    spec = parse_spec(args.inputs)
    values = [make_input(rng, shape, kind) for _, shape, kind in spec]
    names = [name for name, _, _ in spec]
    wrt = (args.wrt.split(",") if args.wrt else
           [n for (n, _, k), v in zip(spec, values)
            if np.issubdtype(v.dtype, np.floating)])

    with tempfile.TemporaryDirectory() as workdir:
        args.module = extract(args.module, [args.forward, args.backward], workdir)
        outputs = run(args.tptt_run, args.module, args.forward, values, workdir, "f")
        cots = [rng.standard_normal(o.shape) for o in outputs]
        grads = run(args.tptt_run, args.module, args.backward, values + cots, workdir, "g")
        if len(grads) != len(wrt):
            raise SystemExit(f"gradcheck: {args.backward} returned "
                             f"{len(grads)} results for {len(wrt)} inputs")
        failures = 0
        for name, grad in zip(wrt, grads):
            index = names.index(name)
            u = rng.standard_normal(values[index].shape)
            shifted = []
            for sign in (1.0, -1.0):
                moved = list(values)
                moved[index] = values[index] + sign * args.eps * u
                shifted.append(run(args.tptt_run, args.module, args.forward, moved, workdir,
                                   f"d{sign:+}"))
            numeric = sum(float(np.sum(c * (p - m))) for c, p, m in
                          zip(cots, *shifted)) / (2 * args.eps)
            analytic = float(np.sum(grad * u))
            error = abs(numeric - analytic) / max(1.0, abs(numeric))
            status = "ok" if error <= args.tol else "FAIL"
            failures += status == "FAIL"
            print(f"{status} d/d{name}: analytic {analytic:.12g} numeric "
                  f"{numeric:.12g} (relative error {error:.2e})")
        sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
