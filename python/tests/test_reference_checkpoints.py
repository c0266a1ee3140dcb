"""Checkpoints of the reference library through the Python package.

`python3 -m tptt convert CHECKPOINT OUT --base BASE` must give the model that `tptt-compile
CHECKPOINT --base BASE` compiles, and `python3 -m tptt export MODEL ADAPTER OUT` must write what
the reference's save_pretrained writes — the fixture test/tptt-compile/Inputs/
make_reference_checkpoint.py, written as the reference's own save code writes — which compiles
back into the trained model. Logits are compared to 1e-6; compiling needs ``TPTT_COMPILE``.
"""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "python"))

from tptt import safetensors  # noqa: E402

COMPILER = os.environ.get("TPTT_COMPILE")
needs_compiler = pytest.mark.skipif(not COMPILER, reason="TPTT_COMPILE (the tptt-compile binary) is not set")
FIXTURE = REPO_ROOT / "test" / "tptt-compile" / "Inputs" / "make_reference_checkpoint.py"
ENV = dict(os.environ, PYTHONPATH=str(REPO_ROOT / "python"))
TOKENS = "1,5,9,3,7,2,11,40,63,0,17"


def fixture(kind, root):
    """The fixture's base/, checkpoint/, usual/ and (lora) peft/ directories under ``root``."""
    subprocess.run([sys.executable, FIXTURE, kind, root], env=ENV, check=True)
    return root


def cli(*args):
    return subprocess.run([sys.executable, "-m", "tptt", *map(str, args)], env=ENV, capture_output=True,
                          text=True)


def compiled_logits(tmp_path, name, *compile_args):
    exe, out = tmp_path / f"{name}.exe", tmp_path / f"{name}.safetensors"
    done = subprocess.run([COMPILER, *map(str, compile_args), "-o", exe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    subprocess.run([exe, "logits", "--tokens", TOKENS, "--out", out], check=True, capture_output=True)
    return safetensors.load(str(out))[0]["logits"].astype(np.float64)


def relative_error(got, expected):
    return float(np.abs(got - expected).max() / np.abs(expected).max())


@needs_compiler
@pytest.mark.parametrize("kind", ["lora", "lora-minus"])
def test_convert_gives_the_model_tptt_compile_reads(tmp_path, kind):
    f = fixture(kind, tmp_path / "fixture")
    done = cli("convert", f / "checkpoint", tmp_path / "converted", "--base", f / "base")
    assert done.returncode == 0, done.stderr
    assert "ignored: base_model_name (the base model is --base)" in done.stdout
    tptt = json.loads((tmp_path / "converted" / "config.json").read_text())["tptt"]
    assert (tptt["operator_mode"], tptt["mag_weight"], tptt["max_chunk_size"], tptt["semantics"]) == (
        "delta_product", 0.4, 8, "tptt-0.12")
    converted = compiled_logits(tmp_path, "converted", tmp_path / "converted")
    direct = compiled_logits(tmp_path, "direct", f / "checkpoint", "--base", f / "base")
    usual = compiled_logits(tmp_path, "usual", f / "usual", *(["--adapter", f / "peft"] if kind == "lora" else []))
    assert relative_error(converted, direct) <= 1e-6
    assert relative_error(converted, usual) <= 1e-6


@pytest.mark.parametrize("edit,args,message", [
    (None, ["--order", "2"], "--base converts a reference checkpoint, whose TpttConfig gives the options; drop --order"),
    (None, ["--linear", "false"], "drop --linear"),
    (None, ["--semantics", "recurrent"], None),
    (lambda c: c.update(hidden_size=64), [], "field 'hidden_size': 64, but"),
    (lambda c: c.update(model_task="sequence_classification"), [], "field 'model_task': \"sequence_classification\""),
    (lambda c: c.update(operator_mode=None, recurrent_config=None), [], "field 'operator_mode': null"),
    (lambda c: c.update(architectures=["LlamaForCausalLM"]), [], "not a reference checkpoint"),
])
def test_convert_checks_the_checkpoint_before_writing(tmp_path, edit, args, message):
    f = fixture("lora", tmp_path / "fixture")
    if edit:
        path = f / "checkpoint" / "config.json"
        config = json.loads(path.read_text())
        edit(config)
        path.write_text(json.dumps(config))
    done = cli("convert", f / "checkpoint", tmp_path / "out", "--base", f / "base", *args)
    if message is None:
        assert done.returncode == 0, done.stderr
        assert json.loads((tmp_path / "out" / "config.json").read_text())["tptt"]["semantics"] == "recurrent"
        return
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert not (tmp_path / "out").exists()


def test_convert_without_base_names_the_missing_flag(tmp_path):
    f = fixture("lora", tmp_path / "fixture")
    done = cli("convert", f / "checkpoint", tmp_path / "out")
    assert done.returncode == 2 and "give its base model's directory with --base DIR" in done.stderr, done.stderr
    assert not (tmp_path / "out").exists()


def test_convert_refuses_a_tptt_model_as_base(tmp_path):
    f = fixture("lora", tmp_path / "fixture")
    done = cli("convert", f / "checkpoint", tmp_path / "out", "--base", f / "usual")
    assert done.returncode == 2 and "already has a tptt object" in done.stderr, done.stderr


@needs_compiler
def test_export_writes_what_the_reference_saves(tmp_path):
    f = fixture("lora", tmp_path / "fixture")
    done = cli("export", f / "usual", f / "peft", tmp_path / "exported", "--base-model-name", "tiny/base")
    assert done.returncode == 0, done.stderr
    assert "wrote" in done.stdout and "note:" not in done.stderr
    reference = json.loads((f / "checkpoint" / "config.json").read_text())
    exported = json.loads((tmp_path / "exported" / "config.json").read_text())
    assert set(exported) == set(reference) - {"transformers_version"}
    for key in ("architectures", "model_type", "auto_map", "base_model_name", "model_task", "operator_mode",
                "recurrent_config", "mag_weight", "max_chunk_size", "linear_precision", "model_variant",
                "hidden_size", "num_hidden_layers"):
        assert exported[key] == reference[key], key
    for key in ("r", "lora_alpha", "target_modules"):
        assert exported["lora_config"][key] == reference["lora_config"][key], key
    assert not (tmp_path / "exported" / "adapter_config.json").exists()
    assert set(safetensors.header(str(tmp_path / "exported" / "adapter_model.safetensors"))) == set(
        safetensors.header(str(f / "checkpoint" / "adapter_model.safetensors")))
    # Back through tptt-compile's reader: the trained model.
    back = compiled_logits(tmp_path, "back", tmp_path / "exported", "--base", f / "base")
    trained = compiled_logits(tmp_path, "trained", f / "usual", "--adapter", f / "peft")
    assert relative_error(back, trained) <= 1e-6
