"""Compiles every model case of a golden directory and compares its logits.

Usage: check_goldens.py TPTT_COMPILE DIR [--jobs N]

DIR holds one subdirectory per case in the format of shared/goldens/models:
config.json, model.safetensors (or a sharded index), tokens.json and
expected.safetensors with F64 `logits` [S, vocab] for the config as written
and, optionally, `logits_recurrent` for the same model compiled with
`--semantics recurrent`. Each case is compiled with tptt-compile and run with
`EXE logits --tokens ...`; the relative error is max|got - expected| /
max|expected| and must be at most 1e-4. Prints `PASS|FAIL <case>/<tensor>
<error>` per check and `N passed, M failed`; exits 1 when any failed, 2 when
DIR holds no case.
"""

import concurrent.futures
import json
import pathlib
import subprocess
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "python"))

import numpy as np  # noqa: E402

from tptt import safetensors  # noqa: E402

TOLERANCE = 1e-4


def check(compiler, case, tensor, semantics, workdir):
    """Compiles `case` (with `semantics`, or as configured) and compares `tensor`."""
    exe = workdir / f"{case.name}-{tensor}"
    command = [compiler, str(case), "-o", str(exe)]
    if semantics:
        command += ["--semantics", semantics]
    built = subprocess.run(command, capture_output=True, text=True)
    if built.returncode != 0:
        return f"FAIL {case.name}/{tensor} inf", built.stderr.strip()
    tokens = json.loads((case / "tokens.json").read_text())
    out = workdir / f"{case.name}-{tensor}.safetensors"
    ran = subprocess.run(
        [str(exe), "logits", "--tokens", ",".join(map(str, tokens)), "--out", str(out)],
        capture_output=True,
        text=True,
    )
    if ran.returncode != 0:
        return f"FAIL {case.name}/{tensor} inf", ran.stderr.strip()
    got = safetensors.load(str(out))[0]["logits"].astype(np.float64)
    expected = safetensors.load(str(case / "expected.safetensors"))[0][tensor]
    if got.shape != expected.shape:
        return f"FAIL {case.name}/{tensor} inf", f"shape {got.shape}, expected {expected.shape}"
    error = float(np.abs(got - expected).max() / np.abs(expected).max())
    verdict = "PASS" if error <= TOLERANCE else "FAIL"
    return f"{verdict} {case.name}/{tensor} {error:.3g}", None


def main():
    args = sys.argv[1:]
    jobs = 2
    if "--jobs" in args:
        at = args.index("--jobs")
        jobs = int(args[at + 1])
        del args[at : at + 2]
    if len(args) != 2:
        sys.exit(__doc__)
    compiler, root = args[0], pathlib.Path(args[1])
    cases = sorted(p for p in root.iterdir() if (p / "expected.safetensors").exists()) if root.is_dir() else []
    if not cases:
        print(f"check_goldens: {root}: no model cases", file=sys.stderr)
        sys.exit(2)
    checks = []
    for case in cases:
        tensors = safetensors.load(str(case / "expected.safetensors"))[0]
        checks.append((case, "logits", None))
        if "logits_recurrent" in tensors:
            checks.append((case, "logits_recurrent", "recurrent"))
    failed = 0
    with tempfile.TemporaryDirectory() as tmp, concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        futures = [pool.submit(check, compiler, c, t, s, pathlib.Path(tmp)) for c, t, s in checks]
        for future in futures:
            line, why = future.result()
            print(line, flush=True)
            if why:
                print(f"  {why}", flush=True)
            failed += line.startswith("FAIL")
    print(f"{len(checks) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
