"""Runs the tptt device kit (scripts/gpu-kit.sh) and writes report.md and report.json.

    python3 run.py --kit KIT --out REPORT_DIR [--device cuda|cpu] [--steps goldens,models,...]
                   [--budget-s 460]

run.sh starts it once it has found a GPU, with LD_LIBRARY_PATH holding KIT/lib. It unpacks
KIT/payload.tar.xz (goldens/, models/, train/, bench/) into a scratch folder, then runs the steps,
in this order, each within its own time cap and all within the budget:

goldens       every golden case (goldens/*/cases.json) through tptt-run-module against its
              expected outputs, to the tolerance cases.json gives (1e-5 in f32, 1e-10 in f64);
models        every golden model's logits: the f32 executable and the recurrent-semantics one
              against the reference library's logits (1e-4), the bf16 executable against its own
              CPU code (1e-2: the GPU rounds activations to tf32 on the tensor cores);
transformers  the Llama, Qwen2, Qwen3, Mistral, Gemma 3 and Phi-3 models: transformers' own model (hf_logits.py:
              config.json without its tptt section, float32, eager attention, the same
              model.safetensors) against the f32 executable at μ = 0, the base model (1e-4);
train         20 LoRA steps of tiny-llama on the GPU and on the CPU, losses compared (1e-3);
sanitizer     compute-sanitizer memcheck on a small model and on an operator golden case,
              racecheck on that case (the operator's cooperative kernel);
bench         the operator benchmark modules (bench/benchmarks.json) with --benchmark 10, on
              inputs generated here: median ms, TB/s of the bytes read and written once, % of
              HBM bandwidth;
liza          the LiZA linear-branch module (bench/liza-linear.json: q/k/v projections with bf16
              weights, delta rule, output projection) with --benchmark 10: ms, TFLOP/s of the
              projections, % of the tensor cores' bf16 peak;
llama1b       the 1B-shaped Llama (llama1b/llama1b, external weights) on random weights written
              here in its layout: `generate` at batch 1 and 16, prefill and decode tokens/s, decode
              as % of HBM bandwidth (the weights read per step), prefill as % of tensor-core peak;
anchors       anchors.py: fla's Triton kernels and the tptt 0.12.1 operator at the same shapes.

Relative error is max|got - expected| / max|expected| over a tensor. A failing step is recorded
and the next one runs; the report is rewritten after every step, so a run stopped from outside
leaves what it did. Exit status 0 when every check passed and no step failed, else 1.
`--device cpu` runs goldens, models and train (and transformers, bench, liza and llama1b when
named) on the CPU code of the same binaries, to try the kit where there is no GPU (the GPU-vs-CPU
comparisons then compare the CPU with itself).
"""

import argparse
import concurrent.futures
import datetime
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import traceback

import numpy as np

import tptt_safetensors as safetensors

# Seconds each step may take at most, in the order the steps run.
STEP_CAPS = {"goldens": 110, "models": 50, "transformers": 60, "train": 50, "sanitizer": 50,
             "bench": 80, "liza": 25, "llama1b": 100, "anchors": 150}
# By a substring of the GPU's name, first match wins: HBM bandwidth (TB/s) and dense bf16
# tensor-core peak (TFLOP/s, no sparsity) from NVIDIA's data sheets; the H200 is the H100's chip.
BANDWIDTHS = [("H200", 4.8, 989.4, "H200 (HBM3e, 4.8 TB/s; bf16 tensor cores 989 TFLOP/s dense)"),
              ("H100 PCIe", 2.0, 756.0,
               "H100 PCIe (HBM2e, 2.0 TB/s; bf16 tensor cores 756 TFLOP/s dense)"),
              ("H100", 3.35, 989.4,
               "H100 SXM (HBM3, 3.35 TB/s; bf16 tensor cores 989 TFLOP/s dense)")]
WORKERS = 8
MODEL_TOLERANCE = 1e-4
BF16_TOLERANCE = 1e-2
TRAIN_TOLERANCE = 1e-3
TRAIN_STEPS = 20
# Flags of scripts/example.sh's fine-tuning, for 20 steps.
TRAIN_FLAGS = ["--steps", str(TRAIN_STEPS), "--batch", "8", "--seq-len", "128", "--lr", "2e-3",
               "--warmup", "4", "--mag-schedule", "gradual:0.01:0.5:30", "--seed", "42"]
SANITIZER_ERROR_EXIT = 86


def log(message):
    print(f"run.py: {message}", file=sys.stderr, flush=True)


class Result:
    """A finished command: exit status, outputs, seconds, and whether it was stopped."""

    def __init__(self, rc, stdout, stderr, seconds, timed_out):
        self.rc, self.stdout, self.stderr = rc, stdout, stderr
        self.seconds, self.timed_out = seconds, timed_out

    def why(self, what):
        """One line saying how `what` failed."""
        if self.timed_out:
            return f"{what} was stopped after {self.seconds:.0f} s"
        lines = (self.stderr.strip() or self.stdout.strip()).splitlines()
        return f"{what} exited {self.rc}: {lines[-1] if lines else '(no output)'}"


def run(argv, timeout):
    """Runs argv for at most `timeout` seconds (its whole process group is killed after)."""
    start = time.monotonic()
    with subprocess.Popen([str(a) for a in argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, errors="replace", start_new_session=True) as proc:
        try:
            out, err = proc.communicate(timeout=max(timeout, 1))
            timed_out = False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            timed_out = True
    return Result(proc.returncode, out, err, time.monotonic() - start, timed_out)


def relative_error(got, expected):
    got, expected = np.asarray(got, np.float64), np.asarray(expected, np.float64)
    if got.shape != expected.shape:
        raise ValueError(f"shape {list(got.shape)} where {list(expected.shape)} was expected")
    scale = np.max(np.abs(expected)) if expected.size else 0.0
    diff = np.max(np.abs(got - expected)) if expected.size else 0.0
    if not np.isfinite(diff):
        return float("inf")
    return float(diff / scale) if scale > 0 else float(diff)


def fmt(value, spec):
    return "—" if value is None else format(value, spec)


def cell(text):
    """`text` as one Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


class Report:
    """The run's findings; write() renders report.json and report.md."""

    def __init__(self, out, device, budget, kit_info):
        self.out = out
        self.lock = threading.Lock()
        self.data = {"started": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"), "device": device, "budget_s": budget, "kit": kit_info,
            "gpu": None, "versions": {}, "steps": [], "checks": [], "benchmarks": []}

    def check(self, step, name, compare, error, tolerance, passed, detail="", seconds=None):
        with self.lock:
            self.data["checks"].append({
                "step": step, "name": name, "compare": compare, "max_error": error,
                "tolerance": tolerance, "passed": bool(passed), "detail": detail,
                "seconds": None if seconds is None else round(seconds, 2)})

    def benchmark(self, name, impl, dtype, ms, nbytes, detail="", flops=None, roofline="hbm"):
        """One timing: `nbytes` moved and `flops` done in `ms`; its roofline is the HBM bandwidth
        ("hbm") or the tensor cores' peak ("tensor")."""
        gpu = self.data["gpu"] or {}
        tbs = nbytes / (ms * 1e-3) / 1e12 if ms and nbytes else None
        tflops = flops / (ms * 1e-3) / 1e12 if ms and flops else None
        rate, peak = ((tbs, gpu.get("bandwidth_tbs")) if roofline == "hbm"
                      else (tflops, gpu.get("tensor_tflops")))
        with self.lock:
            self.data["benchmarks"].append({
                "name": name, "impl": impl, "dtype": dtype, "ms": ms, "bytes": nbytes,
                "tbs": tbs, "flops": flops, "tflops": tflops, "roofline": roofline,
                "roofline_pct": 100 * rate / peak if rate and peak else None,
                "detail": detail})

    def step(self, name, status, seconds, error=""):
        with self.lock:
            self.data["steps"].append({"step": name, "status": status,
                                       "seconds": round(seconds, 1), "error": error})

    def ok(self):
        return (all(c["passed"] for c in self.data["checks"])
                and all(s["status"] != "failed" for s in self.data["steps"]))

    def write(self):
        with self.lock:
            (self.out / "report.json").write_text(json.dumps(self.data, indent=1) + "\n")
            (self.out / "report.md").write_text(self.markdown())

    def markdown(self):
        d = self.data
        gpu, kit = d["gpu"] or {}, d["kit"]
        lines = ["# tptt device kit report", ""]
        if gpu.get("name"):
            lines.append(f"GPU: **{gpu['name']}**, driver {gpu['driver']}, CUDA {gpu['cuda']}, "
                         f"{gpu['memory']} (nvidia-smi); roofline: "
                         f"{gpu['bandwidth_label'] or 'unknown GPU, no roofline'}.")
        else:
            lines.append(f"Device: {d['device']} (no GPU queried).")
        if d.get("versions"):
            lines.append("Python side: " + ", ".join(f"{k} {v}" for k, v in
                                                     sorted(d["versions"].items())) + ".")
        lines.append(f"Kit built {kit.get('built', '?')} from commit {kit.get('commit', '?')} "
                     f"({kit.get('changed_files', '?')} files changed); run started "
                     f"{d['started']}, budget {d['budget_s']} s.")
        lines += ["", "## Steps", "", "| step | status | seconds | checks passed | error |",
                  "|---|---|---|---|---|"]
        for s in d["steps"]:
            mine = [c for c in d["checks"] if c["step"] == s["step"]]
            passed = sum(c["passed"] for c in mine)
            lines.append(f"| {s['step']} | {s['status']} | {s['seconds']} | "
                         f"{passed}/{len(mine)} | {cell(s['error'])} |")
        goldens = sorted((c for c in d["checks"] if c["step"] == "goldens"),
                         key=lambda c: c["name"])
        others = [c for c in d["checks"] if c["step"] != "goldens"]
        lines += ["", "## Checks", "", "| step | check | compares | max error | tolerance | "
                  "result | detail |", "|---|---|---|---|---|---|---|"]
        for library in sorted({c["name"].split("/")[0] for c in goldens}):
            cases = [c for c in goldens if c["name"].split("/")[0] == library]
            worst = max(cases, key=lambda c: -1 if c["max_error"] is None else c["max_error"])
            passed = sum(c["passed"] for c in cases)
            lines.append(f"| goldens | {library}: {passed}/{len(cases)} passed | "
                         f"{cases[0]['compare']} | {fmt(worst['max_error'], '.3g')} "
                         f"({worst['name'].split('/')[1]}) | {cases[0]['tolerance']:g} | "
                         f"{'PASS' if passed == len(cases) else 'FAIL'} | |")
        for c in others:
            lines.append(f"| {c['step']} | {c['name']} | {c['compare']} | "
                         f"{fmt(c['max_error'], '.3g')} | {fmt(c['tolerance'], 'g')} | "
                         f"{'PASS' if c['passed'] else 'FAIL'} | {cell(c['detail'])} |")
        lines += ["", "## Benchmarks", "",
                  "Operators: median of 10 timed calls after warm-up (tptt: CUDA events in "
                  "tptt-run-module; anchors: torch.cuda.Event); TB/s counts each input read and "
                  "each output written once. LiZA linear branch: TFLOP/s counts its four "
                  "projections (2·M·N·K each). llama1b: the executable's own prefill and decode "
                  "times (`generate`); decode ms is one step of the batch, its TB/s the weights "
                  "read once per step; prefill TFLOP/s counts 2 · tokens · the weights of its "
                  "matrix products. The roofline (hbm or tensor) is the GPU's above.", "",
                  "| benchmark | implementation | dtype | ms | TB/s | TFLOP/s | % of roofline | "
                  "note |", "|---|---|---|---|---|---|---|---|"]
        for b in sorted(d["benchmarks"], key=lambda b: b["name"]):
            roofline = (f"{fmt(b['roofline_pct'], '.1f')} ({b.get('roofline', 'hbm')})"
                        if b["roofline_pct"] is not None else "—")
            lines.append(f"| {b['name']} | {b['impl']} | {b['dtype']} | {fmt(b['ms'], '.3f')} | "
                         f"{fmt(b['tbs'], '.3f')} | {fmt(b.get('tflops'), '.1f')} | {roofline} | "
                         f"{cell(b['detail'])} |")
        if goldens:
            lines += ["", "## Every golden case", "", "| case | max error | tolerance | result | "
                      "detail |", "|---|---|---|---|---|"]
            for c in goldens:
                lines.append(f"| {c['name']} | {fmt(c['max_error'], '.3g')} | "
                             f"{c['tolerance']:g} | {'PASS' if c['passed'] else 'FAIL'} | "
                             f"{cell(c['detail'])} |")
        return "\n".join(lines) + "\n"


class Kit:
    """The kit's folders, the run's scratch folder, the device and the clock."""

    def __init__(self, root, work, device, report, end):
        self.root, self.work, self.device, self.report, self.end = root, work, device, report, end
        self.runner = root / "bin" / "tptt-run-module"
        # goldens/, models/, train/ and bench/, unpacked from payload.tar.xz.
        self.payload = work / "payload"

    def left(self, until):
        return min(until, self.end) - time.monotonic()

    def unpack(self):
        start = time.monotonic()
        with tarfile.open(self.root / "payload.tar.xz") as archive:
            archive.extractall(self.work)
        log(f"unpacked payload.tar.xz in {time.monotonic() - start:.1f} s")


def gpu_info():
    """Name, driver, CUDA version and memory from nvidia-smi, and the roofline bandwidth."""
    query = run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total",
                 "--format=csv,noheader"], 30)
    if query.rc != 0:
        raise RuntimeError(query.why("nvidia-smi --query-gpu"))
    name, driver, memory = (x.strip() for x in query.stdout.splitlines()[0].split(","))
    cuda = re.search(r"CUDA Version:\s*([0-9.]+)", run(["nvidia-smi"], 30).stdout)
    match = next(((bw, tc, label) for key, bw, tc, label in BANDWIDTHS if key in name),
                 (None, None, None))
    return {"name": name, "driver": driver, "memory": memory,
            "cuda": cuda.group(1) if cuda else "?", "bandwidth_tbs": match[0],
            "tensor_tflops": match[1], "bandwidth_label": match[2]}


def parallel(jobs, workers):
    """Runs the callables `jobs` on `workers` threads; returns their results in order."""
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda job: job(), jobs))


def run_module_json(kit, argv, until, what):
    """Runs tptt-run-module with --json; (report dict, None) or (None, why)."""
    if kit.left(until) <= 1:
        return None, "not run: the step's time ran out"
    result = run([kit.runner, *argv, "--json"], min(120, kit.left(until)))
    if result.timed_out or result.rc not in (0, 1):
        return None, result.why(what)
    try:
        return json.loads(result.stdout.strip().splitlines()[-1]), None
    except (json.JSONDecodeError, IndexError):
        return None, f"{what} printed no JSON: {result.stdout.strip()[-200:]}"


def step_goldens(kit, until):
    libraries = sorted(kit.payload.glob("goldens/*/cases.json"))
    if not libraries:
        raise RuntimeError("no goldens/*/cases.json in the kit")
    jobs = []
    for listing_path in libraries:
        listing = json.loads(listing_path.read_text())
        folder = listing_path.parent
        for case in listing["cases"]:
            argv = [folder / listing["library"], "--function", case["function"],
                    "--inputs", folder / case["inputs"], "--expected", folder / case["expected"],
                    "--tolerance", repr(case["tolerance"]), "--device", kit.device]
            if "mask" in case:
                argv += ["--mask", case["mask"]]
            jobs.append((f"{folder.name}/{case['name']}", case["tolerance"], argv))

    def one(name, tolerance, argv):
        start = time.monotonic()
        report, why = run_module_json(kit, argv, until, "tptt-run-module")
        kit.report.check("goldens", name, f"{kit.device} vs expected (tptt-run-module)",
                         report and report.get("max_relative_error"), tolerance,
                         bool(report and report.get("passed")), why or "",
                         time.monotonic() - start)

    parallel([lambda j=j: one(*j) for j in jobs], WORKERS)
    log(f"goldens: {sum(c['passed'] for c in kit.report.data['checks'] if c['step'] == 'goldens')}"
        f"/{len(jobs)} passed")


def logits(kit, exe, tokens, device, until, mu=None):
    """The logits [S, vocab] of `exe` on `device` (at μ = `mu`, else the config's), or
    (None, why)."""
    if kit.left(until) <= 1:
        return None, "not run: the step's time ran out"
    tag = "" if mu is None else f"-mu{mu:g}"
    out = kit.work / "models" / f"{exe.parent.name}-{exe.name}-{device}{tag}.safetensors"
    out.parent.mkdir(parents=True, exist_ok=True)
    flags = [] if mu is None else ["--mag-weight", f"{mu:g}"]
    result = run([exe, "logits", "--tokens", tokens, *flags, "--out", out, "--device", device],
                 min(120, kit.left(until)))
    if result.rc != 0:
        return None, result.why(f"{exe.name} logits{' ' if flags else ''}{' '.join(flags)} "
                                f"--device {device}")
    return safetensors.load(out)[0]["logits"], None


def step_models(kit, until):
    models = sorted(p for p in (kit.payload / "models").iterdir() if p.is_dir())
    if not models:
        raise RuntimeError("no models/* in the kit")
    runs = {}
    for model in models:
        tokens = ",".join(str(t) for t in json.loads((model / "tokens.json").read_text()))
        for exe, device in (("model-f32", kit.device), ("model-recurrent-f32", kit.device),
                            ("model-bf16", kit.device), ("model-bf16", "cpu")):
            runs[(model.name, exe, device)] = (model / exe, tokens, device)
    results = dict(zip(runs, parallel(
        [lambda a=a: logits(kit, *a, until) for a in runs.values()], WORKERS)))
    for model in models:
        expected = safetensors.load(model / "expected.safetensors")[0]
        cpu_logits, cpu_why = results[(model.name, "model-bf16", "cpu")]
        comparisons = [
            ("model-f32", expected["logits"], None, "expected logits (config semantics)",
             MODEL_TOLERANCE),
            ("model-recurrent-f32", expected["logits_recurrent"], None,
             "expected logits_recurrent", MODEL_TOLERANCE),
            ("model-bf16", cpu_logits, cpu_why, "the same executable on the CPU", BF16_TOLERANCE)]
        for exe, reference, reference_why, against, tolerance in comparisons:
            got, why = results[(model.name, exe, kit.device)]
            why, error, detail = why or reference_why, None, ""
            if not why:
                try:
                    error = relative_error(got, reference)
                except ValueError as err:
                    why = str(err)
            if exe == "model-bf16" and not why:
                detail = f"vs expected f32 logits: {relative_error(got, expected['logits']):.3g}"
            kit.report.check("models", f"{model.name} {exe}", f"{kit.device} logits vs {against}",
                             error, tolerance, error is not None and error <= tolerance,
                             why or detail)


HF_ARCHITECTURES = ("LlamaForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM", "MistralForCausalLM",
                    "Gemma3ForCausalLM", "Phi3ForCausalLM")


def step_transformers(kit, until):
    """Transformers' own model (hf_logits.py: the config without its tptt section, float32, eager
    attention, the same model.safetensors) against the f32 executable at μ = 0 (the base model)."""
    models = []
    for model in sorted(p for p in (kit.payload / "models").iterdir() if p.is_dir()):
        config = json.loads((model / "config.json").read_text())
        if config.get("architectures", ["?"])[0] in HF_ARCHITECTURES:
            models.append(model)
    if not models:
        raise RuntimeError(f"no golden model of {', '.join(HF_ARCHITECTURES)} in the kit")
    out = kit.work / "hf"

    def reference():
        return run([sys.executable, kit.root / "hf_logits.py", "--kit", kit.root, "--out", out,
                    "--device", kit.device, *models], kit.left(until))

    jobs = [reference] + [
        lambda m=m: logits(kit, m / "model-f32", ",".join(
            str(t) for t in json.loads((m / "tokens.json").read_text())), kit.device, until,
            mu=0.0) for m in models]
    result, *ours = parallel(jobs, WORKERS)
    found = json.loads((out / "hf.json").read_text()) if (out / "hf.json").exists() else {}
    for key in ("torch", "transformers"):
        if found.get(key):
            kit.report.data["versions"][key] = found[key]
    failed = found.get("error") or (result.why("hf_logits.py") if result.rc != 0 else "")
    for model, (got, why) in zip(models, ours):
        entry = found.get("models", {}).get(model.name)
        error, detail = None, why or ""
        if not why:
            if entry is None:
                why = failed or result.why("hf_logits.py") + " (no result for this model)"
            elif entry["status"] != "ok":
                why = f"transformers: {entry['detail']}"
            else:
                try:
                    error = relative_error(
                        got, safetensors.load(out / f"{model.name}.safetensors")[0]["logits"])
                    detail = (f"transformers {found.get('transformers')}, torch "
                              f"{found.get('torch')}: {entry['detail']}")
                except (ValueError, OSError, KeyError) as err:
                    why = f"transformers' logits: {err}"
        kit.report.check("transformers", f"{model.name} model-f32 μ=0",
                         f"{kit.device} logits at μ = 0 vs transformers' model (float32, eager)",
                         error, MODEL_TOLERANCE, error is not None and error <= MODEL_TOLERANCE,
                         why or detail)
    if failed:
        raise RuntimeError(failed)


def losses(kit, exe, text, device, until):
    """The training losses per step on `device` (metrics.csv), and the median tokens/s."""
    save = kit.work / f"train-{device}"
    result = run([exe, "train", "--data", text, *TRAIN_FLAGS, "--save", save,
                  "--device", device], kit.left(until))
    if result.rc != 0:
        return None, None, result.why(f"{exe.name} train --device {device}")
    rows = (save / "metrics.csv").read_text().splitlines()
    header = rows[0].split(",")
    values = [dict(zip(header, row.split(","))) for row in rows[1:]]
    return ([float(v["loss"]) for v in values],
            float(np.median([float(v["tokens_per_s"]) for v in values])), None)


def step_train(kit, until):
    exe = kit.payload / "train" / "tiny-llama-train"
    text = next((kit.payload / "train").glob("text.*"))
    # The CPU run of a GPU kit is the reference; a CPU-only run compares the CPU with itself.
    devices = [kit.device, "cpu"] if kit.device != "cpu" else ["cpu"]
    runs = dict(zip(devices, parallel(
        [lambda d=d: losses(kit, exe, text, d, until) for d in devices], 2)))
    gpu, gpu_rate, why = runs[kit.device]
    cpu, cpu_rate, why_cpu = runs["cpu"]
    why = why or why_cpu
    error, detail = None, why or ""
    if not why:
        if len(gpu) != len(cpu) or len(gpu) != TRAIN_STEPS:
            why = f"{len(gpu)} {kit.device} and {len(cpu)} CPU steps, not {TRAIN_STEPS}"
        else:
            a, b = np.array(gpu), np.array(cpu)
            error = float(np.max(np.abs(a - b) / np.abs(b)))
            detail = (f"max abs diff {np.max(np.abs(a - b)):.3g}; loss {b[0]:.4f} -> {b[-1]:.4f} "
                      f"(CPU); tokens/s {gpu_rate:.0f} ({kit.device}) vs {cpu_rate:.0f} (CPU)")
    kit.report.check("train", f"tiny-llama LoRA, {TRAIN_STEPS} steps",
                     f"{kit.device} losses vs the CPU's (max relative difference per step)",
                     error, TRAIN_TOLERANCE, error is not None and error <= TRAIN_TOLERANCE,
                     why or detail)


def sanitizer_summary(text):
    """The error count of compute-sanitizer's summary (racecheck's, else the general one), or
    None when it printed none."""
    for pattern in (r"RACECHECK SUMMARY: \d+ hazards? displayed \((\d+) errors?",
                    r"ERROR SUMMARY: (\d+) errors?"):
        match = re.search(pattern, text)
        if match:
            return int(match.group(1))
    return None


def step_sanitizer(kit, until):
    sanitizer = shutil.which("compute-sanitizer") or "/usr/local/cuda/bin/compute-sanitizer"
    if not os.access(sanitizer, os.X_OK):
        raise RuntimeError("no compute-sanitizer on the PATH or in /usr/local/cuda/bin")
    folder = kit.payload / "goldens" / "recurrent-f32"
    listing = json.loads((folder / "cases.json").read_text())
    operator = min((c for c in listing["cases"] if c["name"].startswith("recurrent_operator")),
                   key=lambda c: (folder / c["inputs"]).stat().st_size)
    case_argv = [kit.runner, folder / listing["library"], "--function", operator["function"],
                 "--inputs", folder / operator["inputs"], "--expected",
                 folder / operator["expected"], "--tolerance", repr(operator["tolerance"]),
                 "--device", "cuda"]
    model = sorted(p for p in (kit.payload / "models").iterdir() if p.is_dir())[0]
    tokens = ",".join(str(t) for t in json.loads((model / "tokens.json").read_text()))
    model_argv = [model / "model-f32", "logits", "--tokens", tokens, "--out",
                  kit.work / "sanitizer-logits.safetensors", "--device", "cuda"]
    for tool, what, argv in (("memcheck", f"{model.name} model-f32 logits", model_argv),
                             ("memcheck", f"golden {operator['name']}", case_argv),
                             ("racecheck", f"golden {operator['name']}", case_argv)):
        if kit.left(until) <= 1:
            kit.report.check("sanitizer", f"{tool}: {what}", f"{tool} errors", None, 0, False,
                             "not run: the step's time ran out")
            continue
        result = run([sanitizer, "--tool", tool, "--error-exitcode", SANITIZER_ERROR_EXIT,
                      "--print-limit", "20", *argv], kit.left(until))
        errors = sanitizer_summary(result.stdout + result.stderr)
        if result.timed_out or errors is None:
            why = result.why(f"compute-sanitizer --tool {tool}")
        elif result.rc not in (0, SANITIZER_ERROR_EXIT):
            why = result.why(what)
        else:
            first = next((line for line in (result.stdout + result.stderr).splitlines()
                          if "=========" in line and ("Invalid" in line or "hazard" in line
                                                    or "Error" in line)), "")
            why = first.replace("=========", "").strip()
        kit.report.check("sanitizer", f"{tool}: {what}", f"{tool} errors", errors, 0,
                         errors == 0 and result.rc == 0, why, result.seconds)


def operator_inputs(shapes, seed):
    """Random operator inputs: q and k rows of unit norm, β in [0.1, 0.9], α in [0.9, 1]."""
    rng = np.random.default_rng(seed)
    tensors = {}
    for name, shape in sorted(shapes.items()):
        if name == "beta":
            x = rng.random(shape, dtype=np.float32) * np.float32(0.8) + np.float32(0.1)
        elif name == "alpha":
            x = rng.random(shape, dtype=np.float32) * np.float32(0.1) + np.float32(0.9)
        else:
            x = rng.standard_normal(shape, dtype=np.float32)
            if name in ("q", "k"):
                x /= np.linalg.norm(x, axis=-1, keepdims=True)
        tensors[name] = x
    return tensors


def step_bench(kit, until):
    index = json.loads((kit.payload / "bench" / "benchmarks.json").read_text())
    # One input file per order, by name (each module binds the arguments it takes): the forward
    # passes first, so that slow backward passes cannot crowd them out of the step's time.
    inputs = {}
    for order in sorted({b["order"] for b in index}):
        shapes = {}
        for b in index:
            if b["order"] == order:
                shapes.update({k: tuple(v) for k, v in b["arguments"].items()})
        start = time.monotonic()
        inputs[order] = kit.work / f"bench-n{order}.safetensors"
        safetensors.save(inputs[order], operator_inputs(shapes, order))
        log(f"bench: inputs for n={order} ({inputs[order].stat().st_size / 2**30:.2f} GiB) in "
            f"{time.monotonic() - start:.1f} s")
    for b in sorted(index, key=lambda b: (b["pass"], b["order"], b["gated"])):
        name = f"operator {b['pass']} n={b['order']}{' gated' if b['gated'] else ''}"
        nbytes = 4 * sum(int(np.prod(s)) for s in [*b["arguments"].values(),
                                                  *b["results"].values()])
        report, why = run_module_json(
            kit, [kit.payload / "bench" / b["library"], "--function", b["function"],
                  "--inputs", inputs[b["order"]], "--device", kit.device, "--benchmark", "10"],
            until, f"tptt-run-module {b['library']}")
        ms = report["benchmark"]["median_ms"] if report else None
        kit.report.benchmark(name, "tptt", "f32", ms, nbytes, why or "")
    for path in inputs.values():
        path.unlink()


def step_liza(kit, until):
    """The LiZA linear-branch module (bench/liza-linear.json): x in f32 and the projections'
    weights in bf16, drawn here; median of 10 calls; TFLOP/s of its four projections."""
    entry = json.loads((kit.payload / "bench" / "liza-linear.json").read_text())
    rng = np.random.default_rng(7)
    tensors, dtypes, nbytes = {}, {}, 0
    for name, arg in sorted(entry["arguments"].items()):
        shape = tuple(arg["shape"])
        x = rng.standard_normal(shape, dtype=np.float32)
        if arg["dtype"] == "bf16":
            # Weights Wᵀ [in, out] of scale 1/√in, so that the activations keep unit scale.
            x *= np.float32(1 / np.sqrt(shape[0]))
            dtypes[name] = "BF16"
        tensors[name] = x
        nbytes += x.size * (2 if arg["dtype"] == "bf16" else 4)
    nbytes += sum(4 * int(np.prod(r["shape"])) for r in entry["results"].values())
    inputs = kit.work / "liza-linear.safetensors"
    safetensors.save(inputs, tensors, dtypes=dtypes)
    del tensors
    report, why = run_module_json(
        kit, [kit.payload / "bench" / entry["library"], "--function", entry["function"],
              "--inputs", inputs, "--device", kit.device, "--benchmark", "10"],
        until, f"tptt-run-module {entry['library']}")
    inputs.unlink()
    shape = entry["shape"]
    kit.report.benchmark(
        f"LiZA linear branch B={shape['batch']} S={shape['seq']} D={shape['hidden']} "
        f"H={shape['heads']}x{shape['dim']}", "tptt", "f32 x, bf16 weights",
        report["benchmark"]["median_ms"] if report else None, nbytes,
        why or (f"q/k/v/o projections + {shape['operator_mode']} ({shape['semantics']}, chunk "
                f"{shape['chunk']}); TFLOP/s counts the projections' "
                f"{entry['projection_flops'] / 1e9:.1f} GFLOP only"),
        flops=entry["projection_flops"], roofline="tensor")


# The 1B-shaped Llama: prompt tokens per sequence, new tokens, batches.
LLAMA_PROMPT, LLAMA_NEW_TOKENS, LLAMA_BATCHES = 128, 64, (1, 16)
LLAMA_SPEED = re.compile(r"prefill: (\d+) tokens, ([0-9.]+) tokens/s; decode: (\d+) tokens, "
                         r"([0-9.]+) tokens/s")
WEIGHT_WIDTHS = {"bf16": 2, "f32": 4}


def random_weights(path, weights, seed):
    """Writes random weights for the manifest's `weights` to `path` in the executable's entry
    layout (metadata tptt_layout = entry: the manifest's names, shapes and dtypes), streaming:
    vectors (the norms) are 1, matrices N(0, 0.02²) drawn from a pool of 16M values, each tensor
    from its own offset. Returns the bytes of each weight by name."""
    rng = np.random.default_rng(seed)
    pool32 = rng.standard_normal(1 << 24, dtype=np.float32) * np.float32(0.02)
    bits = pool32.view(np.uint32)
    pools = {"f32": np.concatenate([pool32, pool32]),
             "bf16": np.concatenate([(bits >> 16).astype(np.uint16)] * 2)}
    ones = {"f32": np.float32(1).view(np.uint32), "bf16": np.uint16(0x3F80)}
    # Wider elements first, so that every tensor starts aligned to its element size.
    order = sorted(weights, key=lambda w: -WEIGHT_WIDTHS[w["dtype"]])
    header, offset, sizes = {"__metadata__": {"tptt_layout": "entry"}}, 0, {}
    for w in order:
        if w["dtype"] not in WEIGHT_WIDTHS:
            raise RuntimeError(f"weight {w['name']}: dtype {w['dtype']} (not bf16 or f32)")
        size = WEIGHT_WIDTHS[w["dtype"]] * int(np.prod(w["shape"]))
        header[w["name"]] = {"dtype": w["dtype"].upper(), "shape": w["shape"],
                             "data_offsets": [offset, offset + size]}
        sizes[w["name"]] = size
        offset += size
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little") + text)
        for w in order:
            count = int(np.prod(w["shape"]))
            if len(w["shape"]) == 1:
                f.write(np.full(count, ones[w["dtype"]]).tobytes())
                continue
            pool, half = pools[w["dtype"]], len(pools[w["dtype"]]) // 2
            while count:
                start = int(rng.integers(half))
                take = min(count, half)
                f.write(pool[start:start + take].tobytes())
                count -= take
    return sizes


def step_llama1b(kit, until):
    """The 1B-shaped Llama (llama1b/llama1b, external weights): random weights written here,
    then `generate` at batch 1 and 16; prefill and decode tokens/s from its stderr."""
    exe = kit.payload / "llama1b" / "llama1b"
    info = run([exe, "info", "--json"], min(60, kit.left(until)))
    if info.rc != 0:
        raise RuntimeError(info.why(f"{exe.name} info --json"))
    manifest = json.loads(info.stdout)
    if manifest.get("tokenizer"):
        raise RuntimeError(f"{exe.name} has a tokenizer: its --prompts would be read as text")
    start = time.monotonic()
    weights = kit.work / "llama1b.weights.safetensors"
    try:
        sizes = random_weights(weights, manifest["weights"], 11)
        log(f"llama1b: {len(sizes)} random weights ({weights.stat().st_size / 2**30:.2f} GiB, "
            f"{manifest['weight_type']}) in {time.monotonic() - start:.1f} s")
        dtypes = {w["name"]: w["dtype"] for w in manifest["weights"]}
        shapes = {w["name"]: w["shape"] for w in manifest["weights"]}
        hidden, vocab = manifest["hidden_size"], manifest["vocab_size"]
        embedding = "model.embed_tokens.weight"
        # A decode step reads every weight once, except the embedding table when the output
        # projection has its own (tied: a transposed copy), of which it reads B rows.
        separate_head = embedding in sizes and "lm_head.weight" in sizes
        step_bytes = sum(n for name, n in sizes.items()
                         if not (separate_head and name == embedding))
        # The matrix products of a token: every 2-D weight but the embedding table.
        matmul_params = sum(int(np.prod(s)) for name, s in shapes.items()
                            if len(s) == 2 and name != embedding)
        # A short run first, so that the driver's cache holds the kernels compiled from the PTX
        # (~/.nv/ComputeCache) when the timed runs load them.
        warm = run([exe, "generate", "--tokens", "1,2,3,4", "--max-new-tokens", "2", "--weights",
                    weights, "--device", kit.device], min(60, kit.left(until) / 3))
        warm_note = (f"; after a warm-up run of {warm.seconds:.1f} s" if warm.rc == 0
                     else f"; the warm-up run failed: {warm.why('generate')}")
        log(f"llama1b: warm-up run {warm.seconds:.1f} s (exit {warm.rc})")
        rng = np.random.default_rng(12)
        eos = set(manifest.get("eos_token_ids", []))
        for turn, batch in enumerate(LLAMA_BATCHES):
            prompts = [[int(t) for t in rng.integers(0, vocab, LLAMA_PROMPT) if int(t) not in eos]
                       for _ in range(batch)]
            if batch == 1:
                given = ["--tokens", ",".join(map(str, prompts[0]))]
            else:
                path = kit.work / f"llama1b-prompts-{batch}.txt"
                path.write_text("".join(",".join(map(str, p)) + "\n" for p in prompts))
                given = ["--prompts", path]
            label = f"llama1b b={batch}"
            if kit.left(until) <= 5:
                for phase in ("prefill", "decode"):
                    kit.report.benchmark(f"{label} {phase}", "tptt", dtypes[embedding], None, 0,
                                         "not run: the step's time ran out")
                continue
            result = run([exe, "generate", *given, "--max-new-tokens", LLAMA_NEW_TOKENS,
                          "--weights", weights, "--device", kit.device, "--seed", "0"],
                         kit.left(until) / (len(LLAMA_BATCHES) - turn))
            match = LLAMA_SPEED.search(result.stderr)
            why = "" if result.rc == 0 and match else (
                result.why(f"{exe.name} generate") if result.rc != 0 or result.timed_out
                else f"{exe.name} generate printed no speeds: {result.stderr.strip()[-200:]}")
            prompt_tokens, prefill_rate, decoded, decode_rate = (
                (int(match[1]), float(match[2]), int(match[3]), float(match[4]))
                if match and not why else (0, 0.0, 0, 0.0))
            prefill_ms = 1e3 * prompt_tokens / prefill_rate if prefill_rate else None
            step_ms = 1e3 * batch / decode_rate if decode_rate else None
            kit.report.benchmark(
                f"{label} prefill", "tptt", dtypes[embedding], prefill_ms, 0,
                why or (f"{prefill_rate:.0f} tokens/s ({prompt_tokens} tokens, {batch}×"
                        f"{LLAMA_PROMPT}); the first call: it includes the weights' first "
                        f"upload{warm_note}"),
                flops=2 * matmul_params * prompt_tokens, roofline="tensor")
            kit.report.benchmark(
                f"{label} decode", "tptt", dtypes[embedding], step_ms,
                step_bytes + batch * hidden * WEIGHT_WIDTHS[dtypes[embedding]],
                why or f"{decode_rate:.1f} tokens/s ({decoded} tokens; ms and TB/s per step of "
                       f"{batch}, weights {step_bytes / 1e9:.2f} GB)",
                flops=2 * matmul_params * batch, roofline="hbm")
    finally:
        weights.unlink(missing_ok=True)


def step_anchors(kit, until):
    out = kit.work / "anchors.json"
    result = run([sys.executable, kit.root / "anchors.py", "--kit", kit.root,
                  "--shapes", kit.payload / "bench" / "benchmarks.json",
                  "--work", kit.work / "anchors", "--out", out,
                  "--budget-s", int(kit.left(until) - 10)], kit.left(until))
    found = json.loads(out.read_text()) if out.exists() else {"records": []}
    for r in found["records"]:
        kit.report.benchmark(r["name"], r["impl"], r["dtype"], r.get("ms"), r.get("bytes", 0),
                             r.get("error", ""))
    if result.rc != 0:
        raise RuntimeError(result.why("anchors.py"))


STEPS = {"goldens": step_goldens, "models": step_models, "transformers": step_transformers,
         "train": step_train, "sanitizer": step_sanitizer, "bench": step_bench,
         "liza": step_liza, "llama1b": step_llama1b, "anchors": step_anchors}
# The steps a CPU run (--device cpu) takes by default: the benchmark shapes are the GPU's (it runs
# them when named), and the sanitizer and the anchors need a GPU.
CPU_STEPS = ["goldens", "models", "train"]
GPU_ONLY = {"sanitizer", "anchors"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kit", required=True, type=pathlib.Path)
    parser.add_argument("--out", required=True, type=pathlib.Path)
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    parser.add_argument("--steps", help=f"comma-separated steps to run, of {', '.join(STEPS)} "
                        f"(default: all; on the CPU {', '.join(CPU_STEPS)})")
    parser.add_argument("--budget-s", type=float, default=460)
    args = parser.parse_args()
    steps = (args.steps.split(",") if args.steps
             else CPU_STEPS if args.device == "cpu" else list(STEPS))
    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        parser.error(f"unknown steps {unknown} (known: {', '.join(STEPS)})")
    end = time.monotonic() + args.budget_s
    kit_root = args.kit.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    report = Report(args.out, args.device, args.budget_s,
                    json.loads((kit_root / "kit.json").read_text()))
    if args.device == "cuda":
        try:
            report.data["gpu"] = gpu_info()
            log(f"GPU: {report.data['gpu']['name']}, driver {report.data['gpu']['driver']}")
        except (RuntimeError, ValueError, IndexError) as err:
            report.step("gpu", "failed", 0, str(err))
    report.write()
    with tempfile.TemporaryDirectory(prefix="tptt-kit-") as work:
        kit = Kit(kit_root, pathlib.Path(work), args.device, report, end)
        try:
            kit.unpack()
        except (OSError, tarfile.TarError) as err:
            report.step("unpack", "failed", 0, f"payload.tar.xz: {err}")
            steps = []
        for name in (s for s in STEPS if s in steps):
            start = time.monotonic()
            until = start + STEP_CAPS[name]
            if args.device == "cpu" and name in GPU_ONLY:
                report.step(name, "skipped", 0, "needs a GPU (--device cpu)")
            elif kit.left(until) <= 5:
                report.step(name, "skipped", 0, "the run's time budget ran out")
            else:
                log(f"{name} (at most {kit.left(until):.0f} s)")
                try:
                    STEPS[name](kit, until)
                    report.step(name, "done", time.monotonic() - start)
                except Exception as err:  # a step's failure is the report's, not the run's
                    log(f"{name} failed: {err}")
                    traceback.print_exc()
                    report.step(name, "failed", time.monotonic() - start,
                                f"{type(err).__name__}: {err}".splitlines()[0])
            report.write()
    log(f"wrote {args.out / 'report.md'} and report.json: "
        f"{'every check passed' if report.ok() else 'some checks or steps failed'}")
    return 0 if report.ok() else 1


if __name__ == "__main__":
    sys.exit(main())
