"""`tptt.compile`: runs tptt-compile on a model directory."""

import os
import pathlib
import shutil
import subprocess
import sys

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]


class CompileError(RuntimeError):
    """tptt-compile failed; the message is its error line."""


def find_compiler():
    """$TPTT_COMPILE, else tptt-compile on PATH, else the repository's build/bin."""
    for candidate in (os.environ.get("TPTT_COMPILE"), shutil.which("tptt-compile"),
                      REPO_ROOT / "build" / "bin" / "tptt-compile"):
        if candidate and pathlib.Path(candidate).is_file():
            return str(candidate)
    raise CompileError("tptt-compile not found: build it (./scripts/test.sh) or set TPTT_COMPILE")


def compile(model_dir, output=None, target="cpu", semantics=None, shared_library=True, adapter=None,
            external_weights=False, progress=True, train=None):
    """Compiles ``model_dir`` into ``output`` (default: ``<model_dir>/model.so`` or ``model.exe``):
    a shared library with the C API (``shared_library``, what `tptt.Model` loads fastest) or an
    executable. ``train`` ("lora", "lora-minus" or "full") adds the training step. Returns the
    path. tptt-compile's progress lines go to stderr unless ``progress`` is false."""
    model_dir = pathlib.Path(model_dir)
    output = pathlib.Path(output or model_dir / ("model.so" if shared_library else "model.exe"))
    command = [find_compiler(), str(model_dir), "-o", str(output), "--target", target]
    if shared_library:
        command.append("--emit=shared-lib")
    if semantics:
        command += ["--semantics", semantics]
    if adapter:
        command += ["--adapter", str(adapter)]
    if external_weights:
        command.append("--external-weights")
    if train:
        command += ["--train", train]
    done = subprocess.run(command, capture_output=True, text=True)
    if progress:
        sys.stderr.write(done.stderr)
    if done.returncode != 0:
        message = (done.stderr or "").strip().splitlines()
        raise CompileError(message[-1] if message else f"tptt-compile exited with {done.returncode}")
    return output
