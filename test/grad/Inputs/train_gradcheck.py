"""The gradient of a whole compiled model against finite differences.

    train_gradcheck.py --tptt-compile C --tptt-run R --train MODE WORKDIR [--arch A] [--tptt JSON]
                       [--config JSON]

Writes a tiny random model, compiles its training entry points with
`tptt-compile --train MODE --emit=autodiff`, and checks the gradient of
@tptt_loss (the value_and_grad function the training step calls) along a
random direction in all trainable tensors against a central difference of
@tptt_loss itself, in float32 (relative tolerance 1e-2). The batch has a
left-padded row, so padding and ignored labels are covered. A model with
LoRA dropout is checked with its masks (seed 7, rate 0.25) fixed.
"""
import argparse
import json
import pathlib
import re
import subprocess
import sys

import numpy as np
from tptt import random_model, safetensors

ARG = re.compile(r'%arg\d+: tensor<([0-9x?]*?)x?([a-z]+\d+)>\s*\{tptt\.name = "([^"]+)"[^}]*\}')


def signature(text, function):
    """(name, static shape or None, element type) of every argument of `function`."""
    start = text.index(f"func.func @{function}(")
    header = text[start:text.index("{\n", start)]
    return [(name, None if "?" in dims else [int(s) for s in dims.split("x") if s], dtype)
            for dims, dtype, name in ARG.findall(header)]


def run(tool, module, entry, inputs, path):
    safetensors.save(path + ".in", inputs)
    proc = subprocess.run([tool, module, "--entry", entry, "--inputs", path + ".in",
                           "--outputs", path + ".out"], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"train_gradcheck: {entry} failed:\n{proc.stderr}")
    return safetensors.load(path + ".out")[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir")
    parser.add_argument("--tptt-compile", required=True)
    parser.add_argument("--tptt-run", required=True)
    parser.add_argument("--train", required=True)
    parser.add_argument("--arch", default="LlamaForCausalLM")
    parser.add_argument("--tptt", default="{}", help="tptt config fields (JSON)")
    parser.add_argument("--config", default="{}", help="backbone config fields (JSON)")
    parser.add_argument("--eps", type=float, default=2e-3)
    args = parser.parse_args()

    work = pathlib.Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    config = random_model.write(work / "model", arch=args.arch, hidden=16, intermediate=24,
                                layers=2, heads=2, kv_heads=1, vocab=11,
                                tptt={"max_chunk_size": 2, **json.loads(args.tptt)},
                                **json.loads(args.config))
    weights = random_model.random_weights(config)
    module = work / "grad.mlir"
    subprocess.run([args.tptt_compile, str(work / "model"), "--train", args.train,
                    "--emit=autodiff", "-o", str(module)], check=True,
                   stderr=subprocess.DEVNULL)
    text = module.read_text()
    vag = re.search(r"func\.func private @(tptt_loss_value_and_grad_\d+)", text).group(1)
    module.write_text(text.replace(f"func.func private @{vag}", f"func.func @{vag}"))

    rng = np.random.default_rng(1)
    batch, seq = 2, 5
    tokens = rng.integers(0, 11, (batch, seq))
    mask = np.ones((batch, seq), bool)
    mask[1, :2] = False
    positions = np.maximum(np.cumsum(mask, axis=1) - 1, 0)
    labels = np.full((batch, seq), -100)
    labels[:, :-1] = np.where(mask[:, 1:], tokens[:, 1:], -100)
    inputs = {"tokens": tokens.astype(np.int64), "positions": positions.astype(np.int64),
              "mask": mask, "labels": labels.astype(np.int64),
              "mag_weight": np.array(0.5, np.float32)}
    arguments = signature(text, "tptt_loss")
    dropout = any(name == "dropout_rate" for name, _, _ in arguments)
    if dropout:
        inputs["dropout_seed"] = np.array(7, np.int64)
        inputs["dropout_rate"] = np.array(0.25, np.float32)
    mask_bits = vag.rsplit("_", 1)[1]
    trainable = [name for (name, _, _), bit in zip(arguments, mask_bits) if bit == "1"]
    for name, shape, _ in arguments:
        if name in inputs:
            continue
        if ".lora_" in name:
            inputs[name] = (0.3 * rng.standard_normal(shape)).astype(np.float32)
            continue
        source = "model.embed_tokens.weight" if name == "lm_head.weight" and \
            "lm_head.weight" not in weights else name
        value = weights[source]
        inputs[name] = (value if list(value.shape) == shape else value.T).astype(np.float32)
    grads_by_name = run(args.tptt_run, str(module), vag, inputs, str(work / "g"))
    results = [grads_by_name[k] for k in sorted(grads_by_name, key=lambda k: int(k[6:]))]
    if len(results) - 1 != len(trainable):
        sys.exit(f"train_gradcheck: {len(results) - 1} gradients for {len(trainable)} tensors")

    directions = {n: rng.standard_normal(inputs[n].shape).astype(np.float32) for n in trainable}
    analytic = sum(float(np.sum(g.astype(np.float64) * directions[n]))
                   for n, g in zip(trainable, results[1:]))
    eps = args.eps
    losses = []
    for sign in (1, -1):
        moved = dict(inputs)
        for n in trainable:
            moved[n] = (inputs[n] + sign * eps * directions[n]).astype(np.float32)
        out = run(args.tptt_run, str(module), "tptt_loss", moved, str(work / f"l{sign}"))
        losses.append(float(out["loss"]))
    numeric = (losses[0] - losses[1]) / (2 * eps)
    if dropout:
        # The masks must change the loss, and rate 0 must be the plain model.
        off = run(args.tptt_run, str(module), "tptt_loss",
                  {**inputs, "dropout_rate": np.array(0.0, np.float32)}, str(work / "off"))
        if float(off["loss"]) == float(results[0]):
            sys.exit("train_gradcheck: the dropout rate does not change the loss")
        print(f"dropout: loss {float(results[0]):.6f} at rate 0.25, {float(off['loss']):.6f} at 0")
    error = abs(numeric - analytic) / max(1.0, abs(numeric))
    print(f"{'ok' if error < 1e-2 else 'FAIL'} {args.train}: {len(trainable)} tensors, "
          f"loss {float(results[0]):.6f}, directional derivative analytic {analytic:.6f} "
          f"numeric {numeric:.6f} (relative error {error:.1e})")
    sys.exit(0 if error < 1e-2 else 1)


if __name__ == "__main__":
    main()
