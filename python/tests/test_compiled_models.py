"""Compiled models against the independent numpy reference (`tptt.reference_model`).

First the reference itself: it reproduces the golden models of shared/goldens/models (logits of
the reference library, and of the recurrent semantics) to 1e-10, and every feature that a model
below is meant to exercise does change its logits (so that the comparisons can see it).

Then random-weight models (`tptt.random_model`) are compiled with tptt-compile (``TPTT_COMPILE``
names the binary; ctest sets it; without it those tests are skipped) in both semantics, and the
executables' float32 logits are compared with the float64 reference to 1e-4 relative
(max|got − expected| / max|expected|): at several lengths (one of them a prime, so that the
tptt-0.12 chunk is 1) and at the config's μ and μ = 1 (`--mag-weight`). μ = 0 must be exactly
the backbone under both semantics; greedy generation over a left-padded batch must give the
reference's logits at every step; ``--external-weights`` and ``--weights`` must work.
"""

import concurrent.futures
import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "python"))

from tptt import random_model, safetensors  # noqa: E402
from tptt import reference_model as M  # noqa: E402

TOLERANCE = 1e-4  # float32 executable against the float64 reference
GOLDEN_TOLERANCE = 1e-10  # float64 reference against the float64 goldens
COMPILER = os.environ.get("TPTT_COMPILE")
GOLDEN_MODELS = pathlib.Path(os.environ.get("TPTT_GOLDENS", REPO_ROOT.parent / "shared" / "goldens")) / "models"
SEMANTICS = ("recurrent", "tptt-0.12")
LENGTHS = (13, 21, 40)  # tptt-0.12 chunks with max_chunk_size 3: 1, 3, 2

# name -> `random_model.write` options. Every model is compiled in both semantics.
MODELS = {
    "llama-gqa": dict(arch="LlamaForCausalLM", vocab=96, heads=4, kv_heads=2,
                      tptt={"operator_mode": "delta_rule"}),
    # HF Qwen2 configs carry a sliding_window that only use_sliding_window turns on.
    "qwen2-biases": dict(arch="Qwen2ForCausalLM", heads=4, kv_heads=1, sliding_window=4, use_sliding_window=False,
                         tptt={"operator_mode": "gated_delta_rule"}),
    # The backbone's window (5) is narrower than max_self_attn_length (8): it wins.
    "mistral-window": dict(arch="MistralForCausalLM", sliding_window=5,
                           tptt={"operator_mode": "delta_product", "max_self_attn_length": 8}),
    # Layer 1 has no LiZA (and so no max_self_attn_length window); o_proj has a bias.
    "llama3-mixed-layers": dict(arch="LlamaForCausalLM", layers=3, vocab=128, attention_bias=True,
                                tie_word_embeddings=True, rope_scaling=random_model.llama3_rope_scaling(),
                                tptt={"operator_mode": "delta_product_r", "layers": [0, 2], "mag_weight": 0.3,
                                      "cross_gate": True, "base_scale_attn": True, "max_self_attn_length": 6}),
    "gelu-f16-sharded": dict(arch="LlamaForCausalLM", dtype="F16", shards=3,
                             tptt={"operator_mode": "delta_rule_gelu", "max_chunk_size": 3}),
    "explicit-order3-bf16": dict(arch="LlamaForCausalLM", dtype="BF16",
                                 tptt={"order": 3, "alpha_gate": "k", "beta_gate": "kv", "trick": "rdt"}),
    # transformers 5's config.json: rope_parameters (yarn with its attention factor), dtype.
    "llama-v5-yarn": dict(arch="LlamaForCausalLM", v5=True, tptt={"operator_mode": "delta_rule"},
                          rope_scaling={"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 64}),
    # layer_types (layer 1 full although max_window_layers is 0); linear RoPE given per layer type.
    "qwen2-v5-layer-types": dict(arch="Qwen2ForCausalLM", layers=3, v5=True, sliding_window=4, use_sliding_window=True,
                                 max_window_layers=0,
                                 layer_types=["sliding_attention", "full_attention", "sliding_attention"],
                                 rope_parameters={kind: {"rope_type": "linear", "factor": 2.0, "rope_theta": 10000.0}
                                                  for kind in ("full_attention", "sliding_attention")},
                                 tptt={"operator_mode": "delta_product"}),
    # head_dim 16 ≠ hidden/heads = 12; the config's own semantics is tptt-0.12.
    "qwen2-window-head-dim": dict(arch="Qwen2ForCausalLM", hidden=48, heads=4, kv_heads=2, head_dim=16,
                                  sliding_window=6, use_sliding_window=True, max_window_layers=1,
                                  tptt={"operator_mode": "gated_delta_product", "linear_precision": "float64",
                                        "semantics": "tptt-0.12"}),
    # q_norm and k_norm on the softmax branch only; layer 1 without LiZA; a Qwen3 window.
    "qwen3-qk-norm": dict(arch="Qwen3ForCausalLM", layers=3, heads=4, kv_heads=2, head_dim=12, sliding_window=5,
                          use_sliding_window=True, max_window_layers=2,
                          tptt={"operator_mode": "delta_product", "layers": [0, 2]}),
    # Gemma 3: layers 0 and 2 sliding (window 4, RoPE base 10⁴), layer 1 full (base 10⁶);
    # query_pre_attn_scalar ≠ head_dim; GeGLU; (1 + w) norms, sandwich norms, √hidden embeddings.
    "gemma3-sandwich": dict(arch="Gemma3ForCausalLM", layers=3, heads=4, kv_heads=1, head_dim=8,
                            tptt={"operator_mode": "gated_delta_product", "layers": [0, 1]}),
    # transformers 5's Gemma 3 config: one RoPE object per layer type, linear scaling on the full layers.
    # ... with the logits soft-capped (final_logit_softcapping 0.5, small enough to bend them).
    "gemma3-v5": dict(arch="Gemma3ForCausalLM", v5=True, layer_types=["full_attention", "sliding_attention"],
                      rope_scaling={"rope_type": "linear", "factor": 2.0}, final_logit_softcapping=0.5,
                      tptt={"operator_mode": "delta_rule", "max_self_attn_length": 3}),
    # Phi-3: fused qkv_proj and gate_up_proj, split as transformers splits them; its window on every layer.
    "phi3-fused": dict(arch="Phi3ForCausalLM", heads=4, kv_heads=2, sliding_window=6,
                       tptt={"operator_mode": "delta_product", "layers": [1]}),
    # Phi-3-128k's longrope: S = 13 within the original context (short_factor), 21 and 40 beyond it.
    "phi3-longrope": dict(arch="Phi3ForCausalLM", max_position_embeddings=64, original_max_position_embeddings=16,
                          rope_scaling=random_model.longrope_scaling(8), tptt={"operator_mode": "delta_rule"}),
}

# (model, config edit, the feature it removes): each edit must change the reference logits, so that
# the comparisons below see the feature.
FEATURES = [
    ("qwen2-biases", lambda c: c.update(architectures=["LlamaForCausalLM"]), "qkv-biases"),
    ("mistral-window", lambda c: c.update(sliding_window=None), "sliding-window"),
    ("llama3-mixed-layers", lambda c: c.update(rope_scaling=None), "llama3-rope"),
    ("llama3-mixed-layers", lambda c: c["tptt"].update(layers=None), "non-liza-layer"),
    ("llama3-mixed-layers", lambda c: c["tptt"].update(max_self_attn_length=None), "max_self_attn_length"),
    ("llama3-mixed-layers", lambda c: c["tptt"].update(cross_gate=False), "cross_gate"),
    ("llama3-mixed-layers", lambda c: c["tptt"].update(base_scale_attn=False), "base_scale_attn"),
    ("llama3-mixed-layers", lambda c: c.update(attention_bias=False), "o-bias"),
    ("gelu-f16-sharded", lambda c: c["tptt"].update(operator_mode="delta_rule"), "phi"),
    ("qwen2-window-head-dim", lambda c: c.update(use_sliding_window=False), "use_sliding_window"),
    ("llama-v5-yarn", lambda c: c["rope_parameters"].update(rope_type="default"), "yarn-rope"),
    ("llama-v5-yarn", lambda c: c["rope_parameters"].update(attention_factor=1.0), "yarn-attention-factor"),
    ("qwen2-v5-layer-types", lambda c: c.update(layer_types=None), "layer_types"),
    ("qwen2-v5-layer-types", lambda c: c.update(rope_parameters=None), "linear-rope"),
    ("qwen3-qk-norm", lambda c: c.update(architectures=["LlamaForCausalLM"], use_sliding_window=False), "qk-norm"),
    ("qwen3-qk-norm", lambda c: c.update(use_sliding_window=False), "qwen3-window"),
    ("gemma3-sandwich", lambda c: c.update(query_pre_attn_scalar=8), "query_pre_attn_scalar"),
    ("gemma3-sandwich", lambda c: c.update(rope_local_base_freq=1.0e6), "local-rope"),
    ("gemma3-sandwich", lambda c: c.update(hidden_activation="silu"), "geglu"),
    ("gemma3-sandwich", lambda c: c.update(sliding_window_pattern=1), "sliding-layers"),
    ("gemma3-v5", lambda c: c["rope_parameters"]["full_attention"].update(rope_type="default"), "full-layer-rope"),
    ("gemma3-v5", lambda c: c.update(final_logit_softcapping=None), "logit-soft-capping"),
    ("phi3-fused", lambda c: c.update(sliding_window=None), "phi3-window"),
    ("phi3-longrope", lambda c: c["rope_scaling"].update(long_factor=c["rope_scaling"]["short_factor"]),
     "long-factor"),
    ("phi3-longrope", lambda c: c["rope_scaling"].update(attention_factor=1.0), "longrope-attention-factor"),
]

needs_compiler = pytest.mark.skipif(not COMPILER, reason="TPTT_COMPILE (the tptt-compile binary) is not set")


def relative_error(got, expected):
    """max|got − expected| / max|expected| over the whole tensor."""
    return float(np.abs(np.asarray(got, np.float64) - expected).max() / np.abs(expected).max())


def run(command, check=True):
    """Runs ``command`` (paths allowed); with ``check``, fails the test with its stderr unless it
    exits 0."""
    done = subprocess.run([str(c) for c in command], capture_output=True, text=True)
    if check:
        assert done.returncode == 0, done.stderr
    return done


def tokens_of(length, vocab, seed):
    """A reproducible token sequence."""
    return [int(t) for t in np.random.default_rng(seed).integers(0, vocab, length)]


def golden_cases():
    """The golden model directories (none when the shared goldens are absent)."""
    if not GOLDEN_MODELS.is_dir():
        return []
    return sorted(p for p in GOLDEN_MODELS.iterdir() if (p / "expected.safetensors").exists())


@pytest.mark.parametrize("case", golden_cases(), ids=lambda p: p.name)
def test_reference_reproduces_the_golden_models(case):
    tokens = json.loads((case / "tokens.json").read_text())
    expected = safetensors.load(str(case / "expected.safetensors"))[0]
    as_written = M.forward_directory(case, tokens)
    assert relative_error(as_written, expected["logits"]) <= GOLDEN_TOLERANCE
    recurrent = M.forward_directory(case, tokens, semantics="recurrent")
    assert relative_error(recurrent, expected["logits_recurrent"]) <= GOLDEN_TOLERANCE


@pytest.mark.parametrize("name,edit,feature", FEATURES, ids=[f"{n}-{f}" for n, _, f in FEATURES])
def test_each_feature_under_test_changes_the_reference_logits(name, edit, feature):
    config = random_model.make_config(**{k: v for k, v in MODELS[name].items() if k not in ("shards", "v5")})
    if MODELS[name].get("v5"):
        config = random_model.transformers5(config)
    weights = random_model.random_weights(config, seed=1)
    tokens = tokens_of(LENGTHS[1], config["vocab_size"], seed=2)
    edited = json.loads(json.dumps(config))
    edit(edited)
    base = M.forward(config, weights, tokens)
    assert relative_error(M.forward(edited, weights, tokens), base) > 100 * TOLERANCE, feature


def executable(name, semantics, root):
    """Path of the executable of model ``name`` compiled with ``semantics``."""
    return root / f"{name}-{semantics}"


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """The model directories under one root, every model compiled in both semantics (``--semantics``
    only where the config says otherwise), plus llama-gqa with ``--external-weights``; compiled in
    parallel, once for the module. Returns the root."""
    root = tmp_path_factory.mktemp("models")
    commands = []
    for seed, (name, options) in enumerate(MODELS.items()):
        config = random_model.write(root / name, seed=seed, **options)
        for semantics in SEMANTICS:
            command = [COMPILER, root / name, "-o", executable(name, semantics, root)]
            if semantics != config["tptt"].get("semantics", "recurrent"):
                command += ["--semantics", semantics]
            commands.append(command)
    commands.append([COMPILER, root / "llama-gqa", "-o", root / "external", "--external-weights"])
    with concurrent.futures.ThreadPoolExecutor(max(2, os.cpu_count() or 1)) as pool:
        list(pool.map(run, commands))
    return root


def exe_logits(exe, tokens, out_dir, mag_weight=None, weights=None):
    """`EXE logits` on ``tokens``: float64 [S, vocab]."""
    out = out_dir / "logits.safetensors"
    command = [exe, "logits", "--tokens", ",".join(map(str, tokens)), "--out", out]
    if mag_weight is not None:
        command += ["--mag-weight", mag_weight]
    if weights is not None:
        command += ["--weights", weights]
    run(command)
    return safetensors.load(str(out))[0]["logits"].astype(np.float64)


@needs_compiler
@pytest.mark.parametrize("semantics", SEMANTICS)
@pytest.mark.parametrize("name", MODELS)
def test_compiled_model_matches_the_reference(compiled, tmp_path, name, semantics):
    directory = compiled / name
    vocab = json.loads((directory / "config.json").read_text())["vocab_size"]
    cases = [(length, None) for length in LENGTHS] + [(LENGTHS[1], 1.0)]
    errors = {}
    for length, mu in cases:
        tokens = tokens_of(length, vocab, seed=length)
        got = exe_logits(executable(name, semantics, compiled), tokens, tmp_path, mag_weight=mu)
        expected = M.forward_directory(directory, tokens, semantics=semantics, mag_weight=mu)
        errors[f"S={length} mu={'config' if mu is None else mu}"] = relative_error(got, expected)
    assert max(errors.values()) <= TOLERANCE, errors


@needs_compiler
@pytest.mark.parametrize("name", MODELS)
def test_zero_mag_weight_is_exactly_the_backbone(compiled, tmp_path, name):
    """μ = 0 leaves the softmax branch alone: the backbone, whose LiZA layers keep their
    max_self_attn_length window where one is configured (the window is not part of the mix)."""
    directory = compiled / name
    config = json.loads((directory / "config.json").read_text())
    tokens = tokens_of(LENGTHS[2], config["vocab_size"], seed=7)
    recurrent, library = (exe_logits(executable(name, s, compiled), tokens, tmp_path, mag_weight=0)
                          for s in SEMANTICS)
    assert np.array_equal(recurrent, library)
    if config["tptt"].get("max_self_attn_length"):
        expected = M.forward_directory(directory, tokens, mag_weight=0)
    else:
        expected = M.forward_directory(directory, tokens, liza=False)
    assert relative_error(recurrent, expected) <= TOLERANCE


@needs_compiler
@pytest.mark.parametrize("semantics", SEMANTICS)
@pytest.mark.parametrize("name", ["mistral-window", "llama3-mixed-layers", "gelu-f16-sharded",
                                  "explicit-order3-bf16"])
def test_greedy_generation_of_a_left_padded_batch(compiled, tmp_path, name, semantics):
    """Every step's logits equal the reference on the left-padded batch so far (pad token 0, the
    runtime's): under recurrent, each sequence's own logits; under tptt-0.12, the reference
    library's, on which the pads act."""
    check_greedy_generation(executable(name, semantics, compiled), compiled / name, semantics, tmp_path)


def check_greedy_generation(exe, directory, semantics, tmp_path,
                            prompts=([4, 8, 15, 16, 23, 42, 7, 9, 30], [9, 10], [30, 31, 32, 33])):
    """`EXE generate` of a left-padded batch of ``prompts`` against the reference at every step."""
    prompts = [list(p) for p in prompts]
    (tmp_path / "prompts").write_text("".join(",".join(map(str, p)) + "\n" for p in prompts))
    steps = tmp_path / "steps.safetensors"
    run([exe, "generate", "--prompts", tmp_path / "prompts", "--greedy", "--max-new-tokens", 6,
         "--logits-out", steps])
    drawn = safetensors.load(str(steps))[0]["logits"].astype(np.float64)
    sequences = [prompt + [int(np.argmax(row)) for row in drawn[b]] for b, prompt in enumerate(prompts)]
    longest = max(map(len, prompts))
    errors = []
    for step in range(drawn.shape[1]):
        tokens = np.zeros((len(prompts), longest + step), np.int64)
        mask = np.zeros_like(tokens)
        for b, prompt in enumerate(prompts):
            real = sequences[b][: len(prompt) + step]
            tokens[b, -len(real):], mask[b, -len(real):] = real, 1
        expected = M.forward_directory(directory, tokens, semantics=semantics, attention_mask=mask)
        errors.append(relative_error(drawn[:, step], expected[:, -1]))
    assert max(errors) <= TOLERANCE, errors


@needs_compiler
@pytest.mark.parametrize("semantics", SEMANTICS)
def test_longrope_decode_beyond_the_original_context(compiled, tmp_path, semantics):
    """A batch whose longest prompt (18 tokens) is past the original context (16): the prefill and
    every decode step take long_factor, as transformers' update does for the whole batch."""
    prompts = [tokens_of(18, 64, seed=11), tokens_of(5, 64, seed=12)]
    check_greedy_generation(executable("phi3-longrope", semantics, compiled), compiled / "phi3-longrope", semantics,
                            tmp_path, prompts)


@needs_compiler
def test_bfloat16_linear_precision(tmp_path):
    """linear_precision bfloat16 rounds q̂, k̂, v̂, α, β and the operator's output to bf16, the state
    staying f32: the reference that rounds at the same points to 1e-4, the unrounded one within
    SEMANTICS.md's bf16 tolerance (1e-2) but visibly apart; the decode steps round as the full
    forward does. tptt-0.12 promises the reference library's bits, so it refuses."""
    directory = tmp_path / "model"
    config = random_model.write(directory, seed=5, heads=4, kv_heads=2,
                                tptt={"operator_mode": "gated_delta_product", "linear_precision": "bfloat16"})
    exe = tmp_path / "model.exe"
    run([COMPILER, directory, "-o", exe])
    unrounded = json.loads(json.dumps(config))
    unrounded["tptt"]["linear_precision"] = "float32"
    weights = safetensors.load(str(directory / "model.safetensors"))[0]
    tokens = tokens_of(LENGTHS[2], config["vocab_size"], seed=3)
    got = exe_logits(exe, tokens, tmp_path)
    assert relative_error(got, M.forward(config, weights, tokens)) <= TOLERANCE
    assert 10 * TOLERANCE < relative_error(got, M.forward(unrounded, weights, tokens)) <= 1e-2
    check_greedy_generation(exe, directory, "recurrent", tmp_path)
    refused = run([COMPILER, directory, "-o", tmp_path / "x", "--semantics", "tptt-0.12"], check=False)
    assert refused.returncode != 0 and "linear_precision bfloat16" in refused.stderr, refused.stderr


@needs_compiler
def test_external_weights_and_weight_overrides(compiled, tmp_path):
    exe, weights = compiled / "external", compiled / "external.weights.safetensors"
    assert weights.exists()
    tokens = tokens_of(LENGTHS[0], 96, seed=3)
    embedded = exe_logits(executable("llama-gqa", "recurrent", compiled), tokens, tmp_path)
    assert np.array_equal(exe_logits(exe, tokens, tmp_path), embedded)

    moved = tmp_path / "moved"
    moved.mkdir()
    shutil.copy(exe, moved / "model")
    failed = run([moved / "model", "logits", "--tokens", "1,2"], check=False)
    assert failed.returncode != 0 and "--weights" in failed.stderr, failed.stderr
    shutil.copy(weights, moved / "model.weights.safetensors")
    assert np.array_equal(exe_logits(moved / "model", tokens, tmp_path), embedded)

    # Another model of the same shapes (BF16 weights): both executables take its Hugging Face file.
    other = tmp_path / "other"
    random_model.write(other, seed=99, dtype="BF16", **MODELS["llama-gqa"])
    expected = M.forward_directory(other, tokens, semantics="recurrent")
    for candidate in (exe, executable("llama-gqa", "recurrent", compiled)):
        got = exe_logits(candidate, tokens, tmp_path, weights=other / "model.safetensors")
        assert relative_error(got, expected) <= TOLERANCE

    wrong = tmp_path / "wrong"
    random_model.write(wrong, vocab=64, **{k: v for k, v in MODELS["llama-gqa"].items() if k != "vocab"})
    failed = run([exe, "logits", "--tokens", "1,2", "--weights", wrong / "model.safetensors"], check=False)
    assert failed.returncode != 0 and "model.embed_tokens.weight" in failed.stderr, failed.stderr
