"""Writes the device kit's operator benchmark modules and their index.

    /usr/bin/python3 scripts/gpu-kit/bench_modules.py OUT_DIR

For the recurrent ``tptt.delta_product`` at B=8, H=16, S=4096, d=128, chunk 64, order n ∈ {1, 2},
without and with the decay gate α, it writes OUT_DIR/<name>.mlir, one public function @<name> each:

* ``fwd-n<n>[-gated]``: the forward, q, k, v, β[, α] -> out;
* ``fwdbwd-n<n>[-gated]``: forward and backward, as a training step runs them: q, k, v, β[, α] and
  the output's cotangent dout -> out and the cotangents of every input (``tptt.delta_product_grad``).

Arguments and results carry ``tptt.name``, so that tptt-run-module binds one input file per order by
name. OUT_DIR/benchmarks.json lists each module's library, function, arguments and results with
their shapes (all f32), from which run.py generates the inputs on the device and counts the bytes
read and written once.
"""

import json
import pathlib
import sys

BATCH, HEADS, SEQ, DIM, CHUNK = 8, 16, 4096, 128, 64


def tensor(shape):
    return "tensor<" + "".join(f"{s}x" for s in shape) + "f32>"


def shapes(order):
    token = (BATCH, HEADS, SEQ, DIM)
    expanded = (BATCH, HEADS, SEQ, order, DIM)
    return {"q": token, "k": expanded, "v": expanded, "beta": token, "alpha": token, "dout": token}


def module(name, order, gated, backward):
    """The MLIR text of benchmark `name` and its index entry."""
    shape = shapes(order)
    inputs = ["q", "k", "v", "beta"] + (["alpha"] if gated else [])
    args = inputs + (["dout"] if backward else [])
    results = ["out"] + ([f"d{x}" for x in inputs] if backward else [])
    result_shapes = {"out": shape["q"], **{f"d{x}": shape[x] for x in inputs}}
    state = tensor((BATCH, HEADS, DIM, DIM))
    gate = " alpha %alpha" if gated else ""
    operands = ", ".join(tensor(shape[x]) for x in inputs)
    signature = ",\n    ".join(f'%{x}: {tensor(shape[x])} {{tptt.name = "{x}"}}' for x in args)
    returns = ", ".join(f'{tensor(result_shapes[r])} {{tptt.name = "{r}"}}' for r in results)
    body = (f"  %out, %state = tptt.delta_product %q, %k, %v, %beta{gate}\n"
            f"      semantics = recurrent chunk_size = {CHUNK}\n"
            f"      : ({operands}) -> ({tensor(shape['q'])}, {state})\n")
    if backward:
        grads = ", ".join(f"%d{x}" for x in inputs)
        body += (f"  {grads} = tptt.delta_product_grad %q, %k, %v, %beta{gate}, %dout\n"
                 f"      semantics = recurrent chunk_size = {CHUNK}\n"
                 f"      : ({operands}, {tensor(shape['dout'])})\n"
                 f"      -> ({', '.join(tensor(shape[x]) for x in inputs)})\n")
    body += f"  return {', '.join('%' + r for r in results)} : " \
            f"{', '.join(tensor(result_shapes[r]) for r in results)}\n"
    symbol = name.replace("-", "_")
    text = f"func.func @{symbol}(\n    {signature})\n    -> ({returns}) {{\n{body}}}\n"
    entry = {
        "name": name,
        "library": f"{name}.so",
        "function": symbol,
        "order": order,
        "gated": gated,
        "pass": "fwd+bwd" if backward else "fwd",
        "shape": {"batch": BATCH, "heads": HEADS, "seq": SEQ, "dim": DIM, "chunk": CHUNK},
        "arguments": {x: list(shape[x]) for x in args},
        "results": {r: list(result_shapes[r]) for r in results},
    }
    return text, entry


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: bench_modules.py OUT_DIR")
    out = pathlib.Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    index = []
    for backward in (False, True):
        for order in (1, 2):
            for gated in (False, True):
                name = f"{'fwdbwd' if backward else 'fwd'}-n{order}{'-gated' if gated else ''}"
                text, entry = module(name, order, gated, backward)
                (out / f"{name}.mlir").write_text(
                    f"// The device kit's benchmark {name} (scripts/gpu-kit/bench_modules.py).\n"
                    + text)
                index.append(entry)
    (out / "benchmarks.json").write_text(json.dumps(index, indent=1) + "\n")


if __name__ == "__main__":
    main()
