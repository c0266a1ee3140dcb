"""The Python package: convert -> compile -> Model round trip, model cards, schema errors, and
the ctypes API's errors. Compiling needs ``TPTT_COMPILE`` (ctest sets it)."""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "python"))

import tptt  # noqa: E402
from tptt import card, convert, random_model, schema  # noqa: E402
from tptt import reference_model as M  # noqa: E402

COMPILER = os.environ.get("TPTT_COMPILE")
needs_compiler = pytest.mark.skipif(not COMPILER, reason="TPTT_COMPILE (the tptt-compile binary) is not set")


def hugging_face_dir(path, **options):
    """A Hugging Face-style directory: a random backbone without the tptt section."""
    random_model.write(path, **options)
    config = json.loads((path / "config.json").read_text())
    del config["tptt"]
    (path / "config.json").write_text(json.dumps(config))
    return path


def cli(*args):
    return subprocess.run([sys.executable, "-m", "tptt", *map(str, args)], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(REPO_ROOT / "python")))


def test_the_schema_accepts_the_golden_models_and_names_bad_fields():
    for config_path in sorted((REPO_ROOT.parent / "shared" / "goldens" / "models").glob("*/config.json")):
        schema.validate(json.loads(config_path.read_text()))
    config = json.loads(next((REPO_ROOT.parent / "shared" / "goldens" / "models").glob("*/config.json")).read_text())
    config["tptt"]["max_chunk_size"] = "64"
    with pytest.raises(schema.ConfigError, match=r"field 'tptt.max_chunk_size': '64' is not of type 'integer'"):
        schema.validate(config)


def test_convert_writes_a_validated_tptt_section(tmp_path):
    hf = hugging_face_dir(tmp_path / "hf", shards=2)
    config = convert.convert(hf, tmp_path / "out", operator_mode="delta_product", mag_weight=0.25,
                             lora_r=8)
    assert config["tptt"]["operator_mode"] == "delta_product"
    assert config["tptt"]["lora_config"] == {"r": 8, "lora_alpha": 16, "lora_dropout": 0.0,
                                             "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"]}
    out = tmp_path / "out"
    assert json.loads((out / "config.json").read_text())["tptt"]["mag_weight"] == 0.25
    assert (out / "model.safetensors.index.json").exists()
    assert len(list(out.glob("model-*.safetensors"))) == 2


@pytest.mark.parametrize("options,message", [
    ({"operator_mode": "delta_magic"}, "unknown operator mode 'delta_magic'"),
    ({"operator_mode": "delta_rule", "order": 2}, "give --operator-mode or the explicit fields"),
    ({"mag_weight": 2.0}, "field 'tptt.mag_weight': 2.0 is greater than the maximum of 1"),
    ({"order": 2, "trick": "derivative"}, "field 'tptt.trick': 'derivative' is not one of"),
])
def test_convert_rejects_bad_options_naming_them(tmp_path, options, message):
    hf = hugging_face_dir(tmp_path / "hf")
    with pytest.raises(schema.ConfigError, match=message):
        convert.convert(hf, tmp_path / "out", **options)
    assert not (tmp_path / "out").exists()


def test_the_command_line_reports_errors_with_status_2(tmp_path):
    done = cli("convert", tmp_path / "nowhere", tmp_path / "out")
    assert done.returncode == 2
    assert done.stderr.strip() == f"tptt: error: {tmp_path / 'nowhere' / 'config.json'}: no such file"
    hf = hugging_face_dir(tmp_path / "hf")
    done = cli("convert", hf, tmp_path / "out", "--operator-mode", "delta_magic")
    assert done.returncode == 2 and "unknown operator mode 'delta_magic'" in done.stderr


def test_card_names_the_variant_and_reports_metrics(tmp_path):
    hf = hugging_face_dir(tmp_path / "hf")
    out = tmp_path / "model"
    convert.convert(hf, out, operator_mode="delta_product_r", cross_gate=True, lora_r=4)
    (out / "metrics.csv").write_text("step,loss,eval_loss,mag_weight\n1,5.1,5.0,0.0149\n100,3.2,3.4,0.5\n")
    assert cli("card", out).returncode == 0
    text = (out / "README.md").read_text()
    assert card.model_name(True, True, False, 2, "c", "k", True, "rot", date="2026-11-22") == \
        "liza_lora_cross_causal_alpha-c_beta-k_order-2_linear_trick-rot_2026-11-22"
    assert "# liza_lora_cross_causal_alpha-c_beta-k_order-2_linear_trick-rot_" in text
    assert "| LoRA | r = 4, alpha = 8, dropout = 0.0, on q_proj, k_proj, v_proj, o_proj |" in text
    assert "From `metrics.csv` (2 rows); last row:" in text and "| eval_loss | 3.4 |" in text
    assert "datasets:" not in text
    # The reference template's variables.
    assert cli("card", out, "--model-id", "Titans-Tiny", "--dataset", "yahma/alpaca-cleaned",
               "--dataset", "moby-dick", "--hardware", "2 CPU cores").returncode == 0
    text = (out / "README.md").read_text()
    assert "datasets:\n- yahma/alpaca-cleaned\n- moby-dick\n---" in text
    assert "# Titans-Tiny\n" in text and "Variant: `liza_lora_cross_causal_" in text
    assert "Trained on yahma/alpaca-cleaned, moby-dick with 2 CPU cores." in text


@needs_compiler
def test_convert_compile_and_call_round_trip(tmp_path, monkeypatch):
    monkeypatch.setenv("TPTT_COMPILE", COMPILER)
    hf = hugging_face_dir(tmp_path / "hf", arch="Qwen2ForCausalLM")
    out = tmp_path / "model"
    convert.convert(hf, out, operator_mode="gated_delta_product", max_chunk_size=4)
    library = tptt.compile(out, progress=False)
    with tptt.Model(library) as model:
        assert model.info["operator_mode"] == "gated_delta_product"
        tokens = [5, 9, 3, 40, 41, 7, 7, 12, 60, 2, 33]
        got = model.logits(tokens).astype(np.float64)
        expected = M.forward_directory(out, tokens)
        assert float(np.abs(got - expected).max() / np.abs(expected).max()) <= 1e-4
        assert np.array_equal(model.logits(tokens, mag_weight=0.0), model.logits(tokens, mag_weight=0))
        new = model.generate(tokens, max_new_tokens=5, greedy=True)
        assert len(new) <= 5 and all(0 <= t < model.vocab_size for t in new)
        with pytest.raises(tptt.ModelError, match=r"token 1 is 64, outside the vocabulary \[0, 64\)"):
            model.logits([1, 64])
        with pytest.raises(tptt.ModelError, match="this model has no tokenizer"):
            model.generate("text needs a tokenizer")


@needs_compiler
def test_model_on_an_executable_agrees_with_the_library(tmp_path, monkeypatch):
    monkeypatch.setenv("TPTT_COMPILE", COMPILER)
    random_model.write(tmp_path / "m", tptt={"operator_mode": "delta_rule_kv"})
    library = tptt.Model(tptt.compile(tmp_path / "m", progress=False))
    executable = tptt.Model(tptt.compile(tmp_path / "m", shared_library=False, progress=False))
    tokens = [4, 8, 15, 16, 23, 42]
    assert np.array_equal(library.logits(tokens), executable.logits(tokens))
    assert library.generate(tokens, max_new_tokens=4, greedy=True) == \
        executable.generate(tokens, max_new_tokens=4, greedy=True)
    with pytest.raises(tptt.ModelError, match="token id 64 is outside the vocabulary"):
        executable.logits([64])


@needs_compiler
def test_model_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("TPTT_COMPILE", COMPILER)
    with pytest.raises(FileNotFoundError):
        tptt.Model(tmp_path / "missing.so")
    (tmp_path / "not-a-library.so").write_text("hello")
    with pytest.raises(tptt.ModelError, match="not a model library"):
        tptt.Model(tmp_path / "not-a-library.so")
    with pytest.raises(tptt.CompileError, match="config.json: cannot open"):
        tptt.compile(tmp_path / "no-model", progress=False)
    random_model.write(tmp_path / "m")
    library = tptt.compile(tmp_path / "m", progress=False)
    with pytest.raises(tptt.ModelError, match="nowhere.safetensors: No such file or directory"):
        tptt.Model(library, weights=tmp_path / "nowhere.safetensors")


@needs_compiler
def test_model_trains_from_python(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TPTT_COMPILE", COMPILER)
    random_model.write(tmp_path / "m", tptt={"operator_mode": "delta_rule", "lora_config": {"r": 4, "lora_alpha": 8}})
    rng = np.random.default_rng(0)
    text = rng.integers(0, 64, size=(4, 13))
    batches = [(text[:2, :-1], text[:2, 1:]), (text[2:, :-1], text[2:, 1:])] * 6
    with tptt.Model(tptt.compile(tmp_path / "m", train="lora", progress=False)) as model:
        model.train_begin(seed=3)
        before = model.eval_loss(text[:, :-1], text[:, 1:])
        history = model.train(batches, lr=lambda step: 1e-2 if step > 2 else 5e-3, steps=10,
                              mag_weight=0.25, eval_batch=(text[:, :-1], text[:, 1:]), eval_every=5)
        assert [r["step"] for r in history] == list(range(1, 11))
        assert [r["lr"] for r in history[:3]] == [5e-3, 5e-3, 1e-2]
        assert all(r["mag_weight"] == 0.25 and r["grad_norm"] > 0 for r in history)
        assert "eval_loss" in history[4] and "eval_loss" in history[9] and "eval_loss" not in history[5]
        assert history[-1]["eval_loss"] < before
        assert "step 10/10  loss" in capsys.readouterr().err
        with pytest.raises(tptt.ModelError, match="lr must be a finite number >= 0"):
            model.train_step(text[:, :-1], text[:, 1:], lr=float("nan"))
        # μ outside [0, 1] (or NaN, which would poison every later step) is refused
        # by every entry point, and the weights are untouched.
        after = model.eval_loss(text[:, :-1], text[:, 1:], mag_weight=0.25)
        for mu in (float("nan"), float("inf"), 5.0):
            with pytest.raises(tptt.ModelError, match=r"tptt_model_train_step: mag_weight must be a number in \[0, 1\]"):
                model.train_step(text[:, :-1], text[:, 1:], lr=1e-3, mag_weight=mu)
            with pytest.raises(tptt.ModelError, match=r"tptt_model_eval_loss: mag_weight must be a number in \[0, 1\]"):
                model.eval_loss(text[:, :-1], text[:, 1:], mag_weight=mu)
            with pytest.raises(tptt.ModelError, match=r"tptt_model_logits: mag_weight must be a number in \[0, 1\]"):
                model.logits([1, 2, 3], mag_weight=mu)
            with pytest.raises(tptt.ModelError, match=r"tptt_model_generate: mag_weight must be a number in \[0, 1\]"):
                model.generate([1, 2, 3], max_new_tokens=2, mag_weight=mu)
        assert model.eval_loss(text[:, :-1], text[:, 1:], mag_weight=0.25) == after
        with pytest.raises(tptt.ModelError, match="label 3 is 64, neither -100 nor in the vocabulary"):
            model.train_step([[1, 2, 3, 4]], [[2, 3, 4, 64]], lr=1e-3)
    with tptt.Model(tptt.compile(tmp_path / "m", output=tmp_path / "plain.so", progress=False)) as plain:
        with pytest.raises(tptt.ModelError, match="compiled without training entry points"):
            plain.train(batches, lr=1e-3)
