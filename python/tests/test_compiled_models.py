"""Compiled models against the independent numpy reference (`tptt.reference_model`).

Random-weight models of each architecture and several operator modes are compiled with
tptt-compile (``TPTT_COMPILE`` names the binary; ctest sets it) and their logits compared with
the float64 reference: 1e-4 relative (max|got - expected| / max|expected|) in float32. Also: the
reference reproduces the reference library's golden models; μ = 0 is exactly the backbone; greedy
decode steps give the logits of the full sequence at every position, also for a left-padded
batch.
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

from tptt import random_model, safetensors  # noqa: E402
from tptt import reference_model as M  # noqa: E402

TOLERANCE = 1e-4
COMPILER = os.environ.get("TPTT_COMPILE")
GOLDEN_MODELS = pathlib.Path(os.environ.get("TPTT_GOLDENS", REPO_ROOT.parent / "shared" / "goldens")) / "models"

# name: (architecture, tptt fields, extra config fields, writer options, semantics to compile)
MODELS = {
    "llama-gqa": ("LlamaForCausalLM", {"operator_mode": "delta_rule"}, {}, {}, ["recurrent", "tptt-0.12"]),
    "qwen2-biases": ("Qwen2ForCausalLM", {"operator_mode": "gated_delta_rule"}, {}, {}, ["recurrent"]),
    "mistral-window": ("MistralForCausalLM", {"operator_mode": "delta_product"}, {"sliding_window": 5}, {},
                       ["recurrent"]),
    "llama3-rope-mixed": ("LlamaForCausalLM",
                          {"operator_mode": "delta_product_r", "layers": [1], "cross_gate": True,
                           "base_scale_attn": True, "mag_weight": 0.3},
                          {"tie_word_embeddings": True,
                           "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                            "high_freq_factor": 4.0, "original_max_position_embeddings": 16}},
                          {}, ["recurrent", "tptt-0.12"]),
    "gelu-f16-sharded": ("LlamaForCausalLM", {"operator_mode": "delta_rule_gelu", "max_chunk_size": 3}, {},
                         {"dtype": "F16", "shards": 3}, ["recurrent"]),
    "explicit-bf16": ("LlamaForCausalLM",
                      {"order": 3, "alpha_gate": "k", "beta_gate": "kv", "trick": "rdt", "linear": True,
                       "max_self_attn_length": 6},
                      {}, {"dtype": "BF16"}, ["recurrent"]),
}


def relative_error(got, expected):
    return float(np.abs(got - expected).max() / np.abs(expected).max())


def run(command):
    done = subprocess.run([str(c) for c in command], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done


def golden_cases():
    return sorted(p for p in GOLDEN_MODELS.iterdir() if (p / "expected.safetensors").exists()) \
        if GOLDEN_MODELS.is_dir() else []


@pytest.mark.parametrize("case", golden_cases(), ids=lambda p: p.name)
def test_reference_reproduces_the_golden_models(case):
    tokens = json.loads((case / "tokens.json").read_text())
    expected = safetensors.load(str(case / "expected.safetensors"))[0]
    assert relative_error(M.forward_directory(case, tokens), expected["logits"]) <= 1e-10
    recurrent = M.forward_directory(case, tokens, semantics="recurrent")
    assert relative_error(recurrent, expected["logits_recurrent"]) <= 1e-10


needs_compiler = pytest.mark.skipif(not COMPILER, reason="TPTT_COMPILE (the tptt-compile binary) is not set")


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """name -> (model directory, {semantics: executable}), compiled once for the module."""
    root = tmp_path_factory.mktemp("models")
    out = {}
    for seed, (name, (arch, tptt, extra, options, semantics)) in enumerate(MODELS.items()):
        directory = root / name
        random_model.write(directory, arch=arch, tptt=tptt, seed=seed, **options, **extra)
        exes = {}
        for mode in semantics:
            exe = root / f"{name}-{mode}"
            run([COMPILER, directory, "-o", exe, "--semantics", mode])
            exes[mode] = exe
        out[name] = (directory, exes)
    return out


def exe_logits(exe, tokens, tmp_path, mag_weight=None):
    out = tmp_path / "logits.safetensors"
    command = [exe, "logits", "--tokens", ",".join(map(str, tokens)), "--out", out]
    if mag_weight is not None:
        command += ["--mag-weight", str(mag_weight)]
    run(command)
    return safetensors.load(str(out))[0]["logits"].astype(np.float64)


@needs_compiler
@pytest.mark.parametrize("name,semantics", [(n, s) for n, m in MODELS.items() for s in m[4]])
def test_compiled_model_matches_the_reference(compiled, tmp_path, name, semantics):
    directory, exes = compiled[name]
    tokens = list(np.random.default_rng(5).integers(0, 64, 14))
    expected = M.forward_directory(directory, tokens, semantics=semantics)
    assert relative_error(exe_logits(exes[semantics], tokens, tmp_path), expected) <= TOLERANCE


@needs_compiler
def test_zero_mag_weight_is_exactly_the_backbone(compiled, tmp_path):
    directory, exes = compiled["llama-gqa"]
    tokens = [5, 9, 3, 40, 41, 7, 7, 12, 60, 2, 33]
    recurrent = exe_logits(exes["recurrent"], tokens, tmp_path, mag_weight=0)
    reference_library = exe_logits(exes["tptt-0.12"], tokens, tmp_path, mag_weight=0)
    assert np.array_equal(recurrent, reference_library)
    backbone = M.forward_directory(directory, tokens, liza=False)
    assert relative_error(recurrent, backbone) <= TOLERANCE


@needs_compiler
@pytest.mark.parametrize("name", ["mistral-window", "gelu-f16-sharded", "explicit-bf16"])
def test_greedy_decode_steps_equal_the_full_forward(compiled, tmp_path, name):
    _, exes = compiled[name]
    exe = exes["recurrent"]
    prompts = [[4, 8, 15, 16, 23, 42, 7], [9, 10], [30, 31, 32, 33]]
    (tmp_path / "prompts").write_text("".join(",".join(map(str, p)) + "\n" for p in prompts))
    steps = tmp_path / "steps.safetensors"
    run([exe, "generate", "--prompts", tmp_path / "prompts", "--greedy", "--max-new-tokens", 6,
         "--logits-out", steps])
    drawn = safetensors.load(str(steps))[0]["logits"].astype(np.float64)
    for b, prompt in enumerate(prompts):
        generated = [int(np.argmax(row)) for row in drawn[b]]
        full = exe_logits(exe, prompt + generated[:-1], tmp_path)
        assert relative_error(drawn[b], full[len(prompt) - 1:]) <= TOLERANCE, f"sequence {b}"


@needs_compiler
def test_external_weights_and_a_hugging_face_weight_file(compiled, tmp_path):
    directory, exes = compiled["qwen2-biases"]
    exe = tmp_path / "external"
    run([COMPILER, directory, "-o", exe, "--external-weights"])
    assert (tmp_path / "external.weights.safetensors").exists()
    tokens = [3, 1, 4, 1, 5, 9, 2, 6]
    embedded = exe_logits(exes["recurrent"], tokens, tmp_path)
    assert np.array_equal(exe_logits(exe, tokens, tmp_path), embedded)
    out = tmp_path / "hf.safetensors"
    run([exe, "logits", "--tokens", ",".join(map(str, tokens)), "--out", out,
         "--weights", directory / "model.safetensors"])
    assert np.array_equal(safetensors.load(str(out))[0]["logits"], embedded)
