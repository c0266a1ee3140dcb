"""config.json as transformers 4 and 5 write it: every RoPE type, ``rope_parameters``, ``dtype``,
``layer_types`` — honoured exactly or rejected with one message naming the field.

The numpy reference's RoPE (`tptt.reference_model.inverse_frequencies`, transformers'
``modeling_rope_utils`` formulas) is checked for the identities between the types; then the
frequencies and the cos/sin scale that tptt-compile puts in the graph (``--emit=tptt``: the
``tptt.rope_tables`` attributes) are compared with it for each type and config format, and each
unsupported or contradictory field must fail the compile with its name. ``TPTT_COMPILE`` names
the binary; without it the compiler tests are skipped.
"""

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "python"))

from tptt import random_model  # noqa: E402
from tptt import reference_model as M  # noqa: E402

COMPILER = os.environ.get("TPTT_COMPILE")
needs_compiler = pytest.mark.skipif(not COMPILER, reason="TPTT_COMPILE (the tptt-compile binary) is not set")
HEAD_DIM = 16

LLAMA3 = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
          "original_max_position_embeddings": 64}
YARN = {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 128}
LONGROPE = random_model.longrope_scaling(HEAD_DIM)


def config_with(**fields):
    """A small Llama config (head_dim 16, max_position_embeddings 512) with ``fields`` set; a
    None removes a field."""
    config = random_model.make_config(hidden=64, heads=4, kv_heads=2)
    config.update(fields)
    return {key: value for key, value in config.items() if value is not None}


def frequencies(config):
    return M.inverse_frequencies(config, HEAD_DIM)


def test_dynamic_rope_is_the_default_below_max_position_embeddings():
    default, _ = frequencies(config_with())
    dynamic, scale = frequencies(config_with(rope_scaling={"rope_type": "dynamic", "factor": 4.0}))
    np.testing.assert_array_equal(dynamic, default)
    assert scale == 1.0


def test_linear_rope_divides_the_frequencies():
    default, _ = frequencies(config_with())
    linear, scale = frequencies(config_with(rope_scaling={"type": "linear", "factor": 4.0}))
    np.testing.assert_allclose(linear, default / 4.0, rtol=1e-15)
    assert scale == 1.0


def test_yarn_keeps_fast_dimensions_interpolates_slow_ones_and_scales_cos_sin():
    default, _ = frequencies(config_with())
    yarn, scale = frequencies(config_with(rope_scaling=YARN))
    assert yarn[0] == default[0]
    np.testing.assert_allclose(yarn[-1], default[-1] / 4.0, rtol=1e-15)
    assert scale == pytest.approx(0.1 * np.log(4.0) + 1.0)
    # mscale / mscale_all_dim, as DeepSeek configs give them; an explicit attention_factor wins.
    _, ratio = frequencies(config_with(rope_scaling={**YARN, "mscale": 2.0, "mscale_all_dim": 1.0}))
    assert ratio == pytest.approx((0.2 * np.log(4.0) + 1.0) / (0.1 * np.log(4.0) + 1.0))
    _, given = frequencies(config_with(rope_scaling={**YARN, "attention_factor": 1.5}))
    assert given == 1.5


def test_longrope_switches_factors_past_the_original_context():
    """Phi-3-128k's form: original_max_position_embeddings at the top level, factor its ratio to
    max_position_embeddings (512 / 64 = 8), cos/sin scaled by √(1 + ln 8 / ln 64)."""
    default, _ = frequencies(config_with())
    config = config_with(rope_scaling=LONGROPE, original_max_position_embeddings=64)
    short, scale = M.inverse_frequencies(config, HEAD_DIM, longest=64)
    long, long_scale = M.inverse_frequencies(config, HEAD_DIM, longest=65)
    np.testing.assert_allclose(short, default / np.array(LONGROPE["short_factor"]), rtol=1e-15)
    np.testing.assert_allclose(long, default / np.array(LONGROPE["long_factor"]), rtol=1e-15)
    assert scale == long_scale == pytest.approx(np.sqrt(1 + np.log(8) / np.log(64)))


def test_transformers5_configs_equal_their_transformers4_forms():
    for scaling in (None, LLAMA3, YARN, {"rope_type": "linear", "factor": 2.0}):
        old = config_with(rope_theta=50000.0, rope_scaling=scaling)
        new = random_model.transformers5(old)
        np.testing.assert_array_equal(frequencies(new)[0], frequencies(old)[0])
        per_type = dict(new, rope_parameters={kind: new["rope_parameters"]
                                              for kind in ("full_attention", "sliding_attention")})
        np.testing.assert_array_equal(frequencies(per_type)[0], frequencies(old)[0])


# (name, config fields): tptt-compile's frequencies must be the reference's.
ACCEPTED = [
    ("default-v4", {}),
    ("theta-v5", {"rope_theta": None, "torch_dtype": None, "dtype": "float32",
                  "rope_parameters": {"rope_type": "default", "rope_theta": 500000.0}}),
    ("linear", {"rope_scaling": {"type": "linear", "factor": 4.0}}),
    ("dynamic", {"rope_scaling": {"rope_type": "dynamic", "factor": 2.0}}),
    ("llama3", {"rope_scaling": LLAMA3}),
    ("llama3-v5-per-layer-type", {"rope_theta": None, "rope_parameters": {
        kind: {**LLAMA3, "rope_theta": 500000.0} for kind in ("full_attention", "sliding_attention")}}),
    ("llama3-outer-original", {"rope_scaling": {**LLAMA3, "original_max_position_embeddings": 256},
                               "original_max_position_embeddings": 32}),
    ("yarn", {"rope_scaling": YARN}),
    ("yarn-v5-mscale", {"rope_theta": None, "rope_parameters": {
        **YARN, "rope_theta": 20000.0, "mscale": 0.707, "mscale_all_dim": 1.0, "beta_fast": 16, "truncate": False}}),
    ("yarn-implicit-factor", {"rope_scaling": {"rope_type": "yarn", "original_max_position_embeddings": 64}}),
    ("yarn-attention-factor", {"rope_scaling": {**YARN, "attention_factor": 0.8}}),
    ("longrope-phi3", {"rope_scaling": LONGROPE, "original_max_position_embeddings": 64}),
    ("longrope-v5-factor", {"rope_theta": None, "rope_parameters": {
        **LONGROPE, "rope_theta": 10000.0, "factor": 2.0, "original_max_position_embeddings": 128}}),
    ("longrope-attention-factor", {"rope_scaling": {**LONGROPE, "attention_factor": 1.25},
                                   "original_max_position_embeddings": 64}),
]

# (name, config fields, the message tptt-compile must give).
REJECTED = [
    ("both-formats", {"rope_parameters": {"rope_type": "default"}, "rope_scaling": LLAMA3},
     "field 'rope_parameters': give rope_parameters (transformers 5) or rope_scaling (transformers 4), not both"),
    ("per-type-differ", {"rope_parameters": {"full_attention": LLAMA3, "sliding_attention": YARN}},
     "field 'rope_parameters': the RoPE of sliding_attention layers differs from that of full_attention layers"),
    ("longrope-factor-count", {"rope_scaling": {**LONGROPE, "short_factor": [1.0] * 3}},
     "field 'rope_scaling.short_factor': has 3 factors, but head_dim 16 has 8 frequencies"),
    ("longrope-zero-factor", {"rope_scaling": {**LONGROPE, "long_factor": [0.0] * 8}},
     "field 'rope_scaling.long_factor': every factor must be positive, got 0.0"),
    ("longrope-no-long-factor", {"rope_scaling": {"type": "longrope", "short_factor": [1.0] * 8}},
     "field 'rope_scaling.long_factor': rope_type 'longrope' needs it"),
    ("longrope-original-one", {"rope_scaling": LONGROPE, "original_max_position_embeddings": 1},
     "field 'original_max_position_embeddings': 1 gives longrope no finite attention factor"),
    ("longrope-factor-disagrees", {"rope_scaling": {**LONGROPE, "factor": 2.0}, "original_max_position_embeddings": 64},
     "field 'rope_scaling.factor': 2.0, but max_position_embeddings / original_max_position_embeddings is 8.0"),
    ("unknown-type", {"rope_scaling": {"rope_type": "su", "factor": 2.0}},
     "field 'rope_scaling.rope_type': \"su\" is not one of"),
    ("foreign-parameter", {"rope_scaling": {**YARN, "low_freq_factor": 1.0}},
     "field 'rope_scaling.low_freq_factor': is not a parameter of rope_type 'yarn'"),
    ("unknown-parameter", {"rope_parameters": {"rope_type": "default", "rope_theta": 1e4, "scale": 2.0}},
     "field 'rope_parameters.scale': is not a known field"),
    ("no-factor", {"rope_scaling": {"rope_type": "linear"}},
     "field 'rope_scaling.factor': rope_type 'linear' needs it"),
    ("llama3-bands", {"rope_scaling": {**LLAMA3, "high_freq_factor": 1.0}},
     "field 'rope_scaling.high_freq_factor': must be greater than low_freq_factor"),
    ("theta-disagrees", {"rope_parameters": {"rope_type": "default", "rope_theta": 500000.0}},
     "field 'rope_parameters.rope_theta': 500000.0 disagrees with rope_theta 10000.0"),
    ("type-disagrees", {"rope_scaling": {**LLAMA3, "type": "linear"}},
     "field 'rope_scaling.rope_type': \"llama3\" disagrees with type \"linear\""),
    ("partial-rotary", {"partial_rotary_factor": 0.5}, "field 'partial_rotary_factor': 0.5 is not one of 1"),
    ("partial-rotary-inside", {"rope_parameters": {"rope_type": "default", "partial_rotary_factor": 0.5}},
     "field 'rope_parameters.partial_rotary_factor': 0.5 is not one of 1"),
    ("dtype-disagrees", {"dtype": "bfloat16"}, "field 'dtype': bfloat16 disagrees with torch_dtype float32"),
    ("layer-types-count", {"layer_types": ["full_attention"]},
     "field 'layer_types': has 1 entries for num_hidden_layers = 2"),
    ("llama-sliding-layer", {"layer_types": ["full_attention", "sliding_attention"]},
     "field 'layer_types[1]': \"sliding_attention\", but LlamaForCausalLM ignores layer_types in transformers"),
    ("mistral-full-layer", {"architectures": ["MistralForCausalLM"], "sliding_window": 8,
                            "layer_types": ["sliding_attention", "full_attention"]},
     "field 'layer_types[1]': \"full_attention\", but MistralForCausalLM ignores layer_types"),
    ("attention-dropout", {"attention_dropout": 0.1}, "field 'attention_dropout': 0.1 is not one of 0"),
    ("gemma-final-softcap", {"architectures": ["Gemma3ForCausalLM"], "final_logit_softcapping": 0.0},
     "field 'final_logit_softcapping': "),
    ("gemma-one-rope", {"architectures": ["Gemma3ForCausalLM"], "rope_theta": None,
                        "rope_parameters": {"rope_type": "default", "rope_theta": 1e6}},
     "field 'rope_parameters': Gemma3ForCausalLM has a RoPE per layer type"),
    ("gemma-local-theta-disagrees", {"architectures": ["Gemma3ForCausalLM"], "rope_theta": None,
                                     "rope_local_base_freq": 10000.0, "rope_parameters": {
                                         "full_attention": {"rope_type": "default", "rope_theta": 1e6},
                                         "sliding_attention": {"rope_type": "default", "rope_theta": 20000.0}}},
     "field 'rope_parameters.sliding_attention.rope_theta': 20000.0 disagrees with rope_local_base_freq 10000.0"),
    ("bidirectional", {"architectures": ["Gemma3ForCausalLM"], "use_bidirectional_attention": True},
     "field 'use_bidirectional_attention': true is not one of"),
    ("activation", {"hidden_act": "gelu"}, "field 'hidden_act': \"gelu\" is not one of"),
    ("phi3-attention-bias", {"architectures": ["Phi3ForCausalLM"], "attention_bias": True},
     "field 'attention_bias': Phi3ForCausalLM has no projection biases"),
    ("phi3-split-lora-target", {"architectures": ["Phi3ForCausalLM"], "tptt": {
        "operator_mode": "delta_rule", "lora_config": {"r": 4, "target_modules": ["q_proj", "o_proj"]}}},
     "field 'tptt.lora_config.target_modules': Phi3ForCausalLM has no module 'q_proj' (its projections are "
     "qkv_proj, o_proj, gate_up_proj and down_proj)"),
    ("llama-fused-lora-target", {"tptt": {
        "operator_mode": "delta_rule", "lora_config": {"r": 4, "target_modules": ["gate_up_proj"]}}},
     "field 'tptt.lora_config.target_modules': LlamaForCausalLM has no module 'gate_up_proj'"),
]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A small model's weights, shared by every config below."""
    root = tmp_path_factory.mktemp("formats")
    random_model.write(root / "weights", hidden=64, heads=4, kv_heads=2)
    return root


def compile_config(model_dir, name, fields):
    """tptt-compile --emit=tptt on the shared weights with ``config_with(**fields)``."""
    directory = model_dir / name
    directory.mkdir()
    (directory / "config.json").write_text(json.dumps(config_with(**fields)))
    shutil.copy(model_dir / "weights" / "model.safetensors", directory)
    return subprocess.run([COMPILER, directory, "--emit=tptt"], capture_output=True, text=True)


@needs_compiler
@pytest.mark.parametrize("name,fields", ACCEPTED, ids=[n for n, _ in ACCEPTED])
def test_compiled_rope_is_the_reference(model_dir, name, fields):
    done = compile_config(model_dir, name, fields)
    assert done.returncode == 0, done.stderr
    tables = re.search(r"tptt\.rope_tables .*\{(.*)\}", done.stdout)
    assert tables, done.stdout[:2000]
    def array(name):
        found = re.search(rf"(?<![_a-z]){name} = array<f64: ([^>]*)>", tables.group(1))
        return found and [float(v) for v in found.group(1).split(",")]

    scale = re.search(r"attention_scaling = ([-+.0-9e]+) : f64", tables.group(1))
    config = config_with(**fields)
    expected, expected_scale = frequencies(config)
    np.testing.assert_allclose(array("inv_freq"), expected, rtol=1e-13, atol=0)
    assert (float(scale.group(1)) if scale else 1.0) == pytest.approx(expected_scale, rel=1e-13)
    # longrope: the frequencies beyond the original context, and where they start.
    original = M.rope_parameters(config).get("original_max_position_embeddings")
    long_after = re.search(r"long_after = (\d+)", tables.group(1))
    if M.rope_parameters(config)["rope_type"] == "longrope":
        assert long_after and int(long_after.group(1)) == original, tables.group(1)
        np.testing.assert_allclose(array("long_inv_freq"), M.inverse_frequencies(config, HEAD_DIM, longest=original + 1)[0],
                                   rtol=1e-13, atol=0)
    else:
        assert not long_after and array("long_inv_freq") is None


@needs_compiler
@pytest.mark.parametrize("name,fields,message", REJECTED, ids=[n for n, _, _ in REJECTED])
def test_unsupported_or_contradictory_fields_are_rejected(model_dir, name, fields, message):
    done = compile_config(model_dir, name, fields)
    assert done.returncode == 2, done.stdout[:2000]
    assert message in done.stderr
    assert done.stderr.count("\n") == 1, done.stderr


@needs_compiler
def test_gemma3_sliding_and_full_layers_have_their_own_rope(model_dir):
    """Gemma 3 in both config formats: the full layers' RoPE (rope_theta, with rope_scaling) and
    the sliding layers' (rope_local_base_freq, unscaled) are the reference's, each in its own
    tptt.rope_tables."""
    v4 = random_model.make_config("Gemma3ForCausalLM", hidden=64, heads=4, kv_heads=2, head_dim=HEAD_DIM,
                                  rope_scaling={"rope_type": "linear", "factor": 4.0})
    for name, config in (("gemma-v4", v4), ("gemma-v5", random_model.transformers5(v4))):
        directory = model_dir / name
        directory.mkdir()
        (directory / "config.json").write_text(json.dumps(config))
        random_model.save_weights(directory, random_model.random_weights(config))
        done = subprocess.run([COMPILER, directory, "--emit=tptt", "--mlir-print-debuginfo",
                               "--mlir-print-local-scope"], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        tables = re.findall(r"tptt\.rope_tables .*inv_freq = array<f64: ([^>]*)>.*loc\(\"(model\.[a-z_]+)\"\)",
                            done.stdout)
        got = {module: [float(v) for v in values.split(",")] for values, module in tables}
        assert set(got) == {"model.rotary_emb", "model.rotary_emb_local"}, done.stdout[:2000]
        for module, kind in (("model.rotary_emb", "full_attention"), ("model.rotary_emb_local", "sliding_attention")):
            expected, _ = M.inverse_frequencies(config, HEAD_DIM, kind)
            np.testing.assert_allclose(got[module], expected, rtol=1e-13, atol=0)


@needs_compiler
def test_deeply_nested_config_is_one_error_not_a_crash(model_dir):
    directory = model_dir / "deep"
    directory.mkdir()
    deep = "[" * 300000 + "]" * 300000
    (directory / "config.json").write_text(json.dumps(config_with()).replace('"silu"', deep))
    done = subprocess.run([COMPILER, directory, "--emit=tptt"], capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert "config.json: JSON nested deeper than 64 levels" in done.stderr
