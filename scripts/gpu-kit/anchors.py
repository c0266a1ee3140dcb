"""Times the anchors at the shapes of the kit's operator benchmarks, for run.py's report.

    python3 anchors.py --kit KIT --shapes benchmarks.json --work DIR --out anchors.json
                       [--budget-s 80]

The anchors (KIT/anchors; ../shared/anchors/README.md in the project) run side by side with tptt:

* flash-linear-attention's Triton kernels, in bf16 and fp32 (where they take it), forward and
  forward + backward: ``chunk_delta_rule`` for n = 1, ``chunk_gated_delta_rule`` for n = 1 with the
  decay gate, ``chunk_gated_delta_product`` (num_householder = 2) for n = 2 with and without it.
  Their layout is [B, T, H, d] with one β and one log-decay g per token and head;
* tptt 0.12.1's own PyTorch operator (``LinearAttentionOp.chunk_delta_product_forward``, the
  tptt-0.12 semantics: every input expanded to [B, H, S, n, d]), forward in fp32, its precision.

The shapes are those of the kit's benchmarks.json (payload/bench); q and k rows have unit norm, β lies in [0.1, 0.9] and
the decay in [0.9, 1], as run.py draws them for tptt. Each case: 2 warm-up calls (Triton compiles
in the first), then the median of 10 calls timed with torch.cuda.Event. The bytes are those of
every input read and every output written once. A case that raises (fla refuses fp32 in some
kernels) is recorded with its error; --out is rewritten after every case, so a run stopped from
outside keeps what it measured.
"""

import argparse
import importlib
import json
import os
import pathlib
import statistics
import sys
import tarfile
import time
import types
import zipfile

import torch
import torch.nn.functional as F

WARMUP, CALLS = 2, 10


def median_ms(fn):
    for _ in range(WARMUP):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(CALLS):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def nbytes(*tensors):
    return sum(t.numel() * t.element_size() for t in tensors if t is not None)


def unit_rows(*shape):
    return F.normalize(torch.randn(*shape, device="cuda"), dim=-1)


def uniform(low, high, *shape):
    return torch.rand(*shape, device="cuda") * (high - low) + low


def fla_kernel(order, gated):
    """The name of fla's kernel for order `order` with or without the decay gate."""
    if order == 1:
        return "gated_delta_rule" if gated else "delta_rule"
    return "gated_delta_product"


def fla_case(fla, shape, order, gated, dtype, backward):
    """(fn, bytes) of fla's kernel for the case."""
    b, h, t, d = shape["batch"], shape["heads"], shape["seq"], shape["dim"]
    q = unit_rows(b, t, h, d).to(dtype)
    k = unit_rows(b, t * order, h, d).to(dtype)
    v = torch.randn(b, t * order, h, d, device="cuda").to(dtype)
    beta = uniform(0.1, 0.9, b, t * order, h).to(dtype)
    g = uniform(0.9, 1.0, b, t, h).log() if gated else None
    kernel = fla[fla_kernel(order, gated)]
    if order == 1 and not gated:
        def call():
            return kernel(q, k, v, beta)[0]
    elif order == 1:
        def call():
            return kernel(q, k, v, g, beta)[0]
    else:
        def call():
            return kernel(q, k, v, g, beta, num_householder=order)[0]
    out_bytes = b * t * h * d * q.element_size()
    inputs = [x for x in (q, k, v, beta, g) if x is not None]
    if not backward:
        def fn():
            with torch.no_grad():
                call()
        return fn, nbytes(*inputs) + out_bytes
    for x in inputs:
        x.requires_grad_()
    dout = torch.randn(b, t, h, d, device="cuda").to(dtype)

    def fn():
        torch.autograd.grad(call(), inputs, dout)
    # Read: the inputs and dout; written: the output and a gradient per input.
    return fn, 2 * nbytes(*inputs) + nbytes(dout) + out_bytes


def reference_case(operator, shape, order, gated):
    """(fn, bytes) of tptt 0.12.1's operator for the case (fp32, forward)."""
    b, h, t, d, chunk = (shape[x] for x in ("batch", "heads", "seq", "dim", "chunk"))
    q, k = unit_rows(b, h, t, order, d), unit_rows(b, h, t, order, d)
    v = torch.randn(b, h, t, order, d, device="cuda")
    beta = uniform(0.1, 0.9, b, h, t, order, d)
    alpha = (uniform(0.9, 1.0, b, h, t, 1, d) if gated
             else torch.ones(b, h, t, 1, d, device="cuda")).expand(b, h, t, order, d).contiguous()

    def fn():
        with torch.no_grad():
            operator.chunk_delta_product_forward(q, k, v, alpha, beta, chunk,
                                                 linear_activation=True, use_checkpoint=False)
    return fn, nbytes(q, k, v, alpha, beta) + b * h * t * d * 4


def load_fla(work, kit):
    with tarfile.open(kit / "anchors" / "fla-src.tar.gz") as archive:
        archive.extractall(work / "fla", filter="data")
    sys.path.insert(0, str(work / "fla" / "fla-src"))
    from fla.ops.delta_rule import chunk_delta_rule
    from fla.ops.gated_delta_product import chunk_gated_delta_product
    from fla.ops.gated_delta_rule import chunk_gated_delta_rule
    return {"delta_rule": chunk_delta_rule, "gated_delta_rule": chunk_gated_delta_rule,
            "gated_delta_product": chunk_gated_delta_product}


def case_name(order, gated, backward):
    """The benchmark's name, as run.py names tptt's."""
    return f"operator {'fwd+bwd' if backward else 'fwd'} n={order}{' gated' if gated else ''}"


def load_reference(work, kit):
    """tptt 0.12.1's LinearAttentionOp, without running its package's __init__ (which imports
    the training module and with it `datasets`)."""
    with zipfile.ZipFile(kit / "anchors" / "tptt-0.12.1-py3-none-any.whl") as wheel:
        wheel.extractall(work / "site")
    package = types.ModuleType("tptt")
    package.__path__ = [str(work / "site" / "tptt")]
    sys.modules["tptt"] = package
    return importlib.import_module("tptt.modeling_tptt").LinearAttentionOp


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kit", required=True, type=pathlib.Path)
    parser.add_argument("--shapes", required=True, type=pathlib.Path,
                        help="the kit's benchmarks.json")
    parser.add_argument("--work", required=True, type=pathlib.Path)
    parser.add_argument("--out", required=True, type=pathlib.Path)
    parser.add_argument("--budget-s", type=float, default=80)
    args = parser.parse_args()
    end = time.monotonic() + args.budget_s
    args.work.mkdir(parents=True, exist_ok=True)
    shape = json.loads(args.shapes.read_text())[0]["shape"]
    found = {"torch": torch.__version__, "device": torch.cuda.get_device_name(), "shape": shape,
             "records": []}

    def record(name, impl, dtype, ms=None, size=None, error=""):
        found["records"].append({"name": name, "impl": impl, "dtype": dtype, "ms": ms,
                                 "bytes": size, "error": error})
        partial = args.out.with_suffix(".partial")
        partial.write_text(json.dumps(found, indent=1) + "\n")
        os.replace(partial, args.out)
        print(f"anchors.py: {name} {impl} {dtype}: "
              f"{f'{ms:.3f} ms' if ms is not None else error}", file=sys.stderr, flush=True)

    cases = []  # (name, implementation, dtype, make: () -> (fn, bytes))
    try:
        fla = load_fla(args.work, args.kit)
        for dtype, dtype_name in ((torch.bfloat16, "bf16"), (torch.float32, "f32")):
            for backward in (False, True):
                for order in (1, 2):
                    for gated in (False, True):
                        cases.append((case_name(order, gated, backward),
                                      f"fla chunk_{fla_kernel(order, gated)}", dtype_name,
                                      lambda o=order, g=gated, dt=dtype, bw=backward:
                                      fla_case(fla, shape, o, g, dt, bw)))
    except Exception as err:  # a missing anchor is a finding, not the run's end
        record("operator", "fla", "-", error=f"fla does not import: {type(err).__name__}: {err}")
    try:
        operator = load_reference(args.work, args.kit)
        for order in (1, 2):
            for gated in (False, True):
                cases.append((case_name(order, gated, False), "tptt 0.12.1 LinearAttentionOp",
                              "f32", lambda o=order, g=gated: reference_case(operator, shape, o, g)))
    except Exception as err:  # a missing anchor is a finding, not the run's end
        record("operator", "tptt 0.12.1", "-",
               error=f"tptt.modeling_tptt does not import: {type(err).__name__}: {err}")

    fn = None
    for name, impl, dtype_name, make in cases:
        if time.monotonic() > end:
            record(name, impl, dtype_name, error="not run: the anchors' time ran out")
            continue
        try:
            fn, size = make()
            record(name, impl, dtype_name, median_ms(fn), size)
        except Exception as err:  # fla's refusals and out-of-memory are findings
            record(name, impl, dtype_name,
                   error=f"{type(err).__name__}: {err}".splitlines()[0][:200])
        fn = None  # frees the case's tensors before the next one
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
