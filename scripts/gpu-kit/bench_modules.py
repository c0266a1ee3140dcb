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

It also writes OUT_DIR/liza-linear.mlir, the whole linear branch of a LiZA layer at B=1, S=4096,
hidden 2048, 16 heads of 128 (as many KV heads), in the form tptt-compile gives a model's layer
with bf16 weights (``arith.extf`` to f32, then ``tptt.linear ... transposed_weight``): x [B, S, D]
(f32) and the q, k, v and o projections' bf16 weights Wᵀ [D, D] -> out [B, S, D]; between them the
ops ``tptt.liza_attention`` decomposes into for its linear branch with operator_mode delta_rule
(gates alpha = c beta = k, feature map, order-1 expansion, ``tptt.delta_product`` recurrent with
chunk 64, merge_heads). Its index is OUT_DIR/liza-linear.json, with the FLOPs of the four
projections (2·M·N·K each, M = B·S).
"""

import json
import pathlib
import sys

BATCH, HEADS, SEQ, DIM, CHUNK = 8, 16, 4096, 128, 64
# The LiZA linear-branch benchmark: batch, sequence, heads and head dimension.
LIZA_SHAPE = {"batch": 1, "seq": 4096, "heads": 16, "dim": 128, "chunk": 64}


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


def liza_module(batch, seq, heads, dim, chunk):
    """The MLIR text of the LiZA linear-branch benchmark and its index entry."""
    hidden = heads * dim
    x = f"tensor<{batch}x{seq}x{hidden}xf32>"
    w16, w32 = f"tensor<{hidden}x{hidden}xbf16>", f"tensor<{hidden}x{hidden}xf32>"
    head = f"tensor<{batch}x{heads}x{seq}x{dim}xf32>"
    expanded = f"tensor<{batch}x{heads}x{seq}x1x{dim}xf32>"
    state = f"tensor<{batch}x{heads}x{dim}x{dim}xf32>"
    weights = ["wq", "wk", "wv", "wo"]
    signature = ",\n    ".join([f'%x: {x} {{tptt.name = "x"}}']
                                + [f'%{w}: {w16} {{tptt.name = "{w}"}}' for w in weights])
    body = "".join(f"  %{w}32 = arith.extf %{w} : {w16} to {w32}\n" for w in weights)
    body += "".join(f"  %{p} = tptt.linear %x, %w{p}32 transposed_weight : ({x}, {w32}) -> {x}\n"
                    for p in ("q", "k", "v"))
    body += (
        f"  %alpha, %beta = tptt.gates %k, %v alpha = c beta = k heads = {heads} "
        f"kv_heads = {heads} : ({x}, {x}) -> ({head}, {head})\n"
        f"  %qh, %kh, %vh = tptt.feature_map %q, %k, %v heads = {heads} kv_heads = {heads}"
        f" : ({x}, {x}, {x}) -> ({head}, {head}, {head})\n"
        f"  %ke = tptt.virtual_token_expand %kh order = 1 trick = dt : ({head}) -> {expanded}\n"
        f"  %ve = tptt.virtual_token_expand %vh order = 1 trick = dt : ({head}) -> {expanded}\n"
        f"  %y, %state = tptt.delta_product %qh, %ke, %ve, %beta semantics = recurrent "
        f"chunk_size = {chunk} : ({head}, {expanded}, {expanded}, {head}) -> ({head}, {state})\n"
        f"  %merged = tptt.merge_heads %y : ({head}) -> {x}\n"
        f"  %out = tptt.linear %merged, %wo32 transposed_weight : ({x}, {w32}) -> {x}\n"
        f"  return %out : {x}\n")
    text = (f"func.func @liza_linear(\n    {signature})\n    -> ({x} {{tptt.name = \"out\"}}) "
            f"{{\n{body}}}\n")
    tokens = batch * seq
    entry = {
        "name": "liza-linear",
        "library": "liza-linear.so",
        "function": "liza_linear",
        "shape": {"batch": batch, "seq": seq, "hidden": hidden, "heads": heads, "dim": dim,
                  "chunk": chunk, "operator_mode": "delta_rule", "semantics": "recurrent"},
        "arguments": {"x": {"shape": [batch, seq, hidden], "dtype": "f32"},
                      **{w: {"shape": [hidden, hidden], "dtype": "bf16"} for w in weights}},
        "results": {"out": {"shape": [batch, seq, hidden], "dtype": "f32"}},
        "projection_flops": 4 * 2 * tokens * hidden * hidden,
    }
    return text, entry


def write_liza(out, shape):
    text, entry = liza_module(**shape)
    (out / "liza-linear.mlir").write_text(
        "// The device kit's LiZA linear-branch benchmark (scripts/gpu-kit/bench_modules.py).\n"
        + text)
    (out / "liza-linear.json").write_text(json.dumps(entry, indent=1) + "\n")


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
    write_liza(out, LIZA_SHAPE)


if __name__ == "__main__":
    main()
