"""Random-weight TPTT model directories, for tests and benchmarks.

    config = write("out_dir", arch="Qwen2ForCausalLM", tptt={"operator_mode": "gated_delta_rule"})
    config = write("out_dir", arch="MistralForCausalLM", sliding_window=6, dtype="BF16", shards=2,
                   tptt={"order": 3, "alpha_gate": "k", "beta_gate": "kv", "trick": "rdt",
                         "semantics": "tptt-0.12", "mag_weight": 0.3, "layers": [1]})

writes ``config.json`` (Hugging Face fields plus the ``tptt`` object of
include/tptt/Model/tptt-model.schema.json) and the weights under their Hugging Face names —
``model.safetensors``, or ``shards`` files with ``model.safetensors.index.json`` — of a small
decoder (LlamaForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, MistralForCausalLM, Gemma3ForCausalLM —
with Gemma 3's fields: GeGLU, query_pre_attn_scalar, sliding and full layers with two RoPE bases,
tied embeddings, its extra norms — or Phi3ForCausalLM, whose q/k/v and gate/up projections are
fused: qkv_proj [q; k; v] and gate_up_proj [gate; up]), deterministically from
``seed``. The ``tptt`` dict gives the TpttConfig fields (operator_mode or the explicit
order/alpha_gate/beta_gate/linear/trick, semantics, mag_weight, cross_gate, base_scale_attn,
layers, max_self_attn_length, max_chunk_size, ...); keyword arguments beyond the sizes add or
override config.json fields (sliding_window, use_sliding_window, rope_scaling — see
`llama3_rope_scaling` —, tie_word_embeddings, attention_bias, ...).

Weights are scaled so that activations and logits stay O(1): matrices have N(0, 1/fan_in)
entries, norm weights 1 + 0.1·N(0, 1) (Gemma stores w − 1: 0.1·N(0, 1)), biases 0.1·N(0, 1), the
embedding N(0, 1) — N(0, 1/hidden) when it is tied to the lm_head, so that the logits have the size
of an untied head's.
"""

import json
import pathlib

import numpy as np

from . import safetensors

GEMMA3 = "Gemma3ForCausalLM"
PHI3 = "Phi3ForCausalLM"
ARCHITECTURES = ("LlamaForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM", "MistralForCausalLM", GEMMA3, PHI3)
DTYPES = {"F32": "float32", "BF16": "bfloat16", "F16": "float16"}
EXPLICIT_FIELDS = ("order", "alpha_gate", "beta_gate", "linear", "trick")
# The backbones with an RMSNorm of each q and k head (q_norm, k_norm).
QK_NORM = ("Qwen3ForCausalLM", GEMMA3)


def llama3_rope_scaling(factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0, original=16):
    """A llama3 ``rope_scaling`` object; a small ``original`` puts a tiny model's frequencies in
    all three bands (kept, interpolated, divided by ``factor``)."""
    return {"rope_type": "llama3", "factor": factor, "low_freq_factor": low_freq_factor,
            "high_freq_factor": high_freq_factor, "original_max_position_embeddings": original}


def longrope_scaling(head_dim):
    """A longrope ``rope_scaling`` object as Phi-3-128k's (which keeps
    original_max_position_embeddings at the top level): per-frequency factors near 1 within the
    original context and growing to 8 beyond it."""
    half = head_dim // 2
    return {"type": "longrope", "short_factor": [1.0 + 0.05 * i for i in range(half)],
            "long_factor": [8.0 ** (i / max(half - 1, 1)) for i in range(half)]}


def make_config(arch="LlamaForCausalLM", hidden=32, intermediate=48, layers=2, heads=4, kv_heads=2,
                head_dim=None, vocab=64, tptt=None, dtype="F32", **extra):
    """The config.json dict: the sizes, ``extra`` fields, and ``tptt`` over the defaults
    (mag_weight 0.5, max_chunk_size 64, operator_mode delta_rule unless explicit fields are given)."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r} (one of {', '.join(ARCHITECTURES)})")
    if dtype not in DTYPES:
        raise ValueError(f"unknown weight dtype {dtype!r} (one of {', '.join(DTYPES)})")
    config = {
        "architectures": [arch], "model_type": arch[: -len("ForCausalLM")].lower(),
        "hidden_size": hidden, "intermediate_size": intermediate, "hidden_act": "silu", "num_hidden_layers": layers,
        "num_attention_heads": heads, "num_key_value_heads": kv_heads,
        "head_dim": head_dim or hidden // heads, "vocab_size": vocab, "rms_norm_eps": 1e-6,
        "rope_theta": 10000.0, "max_position_embeddings": 512, "tie_word_embeddings": False,
        "attention_bias": False, "torch_dtype": DTYPES[dtype], "bos_token_id": 1, "eos_token_id": 2,
        "tptt": {"mag_weight": 0.5, "max_chunk_size": 64, **(tptt or {})},
    }
    if not set(EXPLICIT_FIELDS) & set(config["tptt"]):
        config["tptt"].setdefault("operator_mode", "delta_rule")
    if arch == GEMMA3:
        # Gemma 3's own fields, at sizes where each one shows: the attention scale differs from
        # 1/√head_dim, layers alternate sliding (window 4, base 10⁴) and full (base 10⁶).
        del config["hidden_act"]
        config.update({"model_type": "gemma3_text", "hidden_activation": "gelu_pytorch_tanh",
                       "query_pre_attn_scalar": 3 * config["head_dim"], "sliding_window": 4,
                       "sliding_window_pattern": 2, "rope_theta": 1.0e6, "rope_local_base_freq": 10000.0,
                       "tie_word_embeddings": True, "final_logit_softcapping": None,
                       "attn_logit_softcapping": None})
    if arch == PHI3:
        # transformers' Phi3Config defaults pad_token_id to 32000, which must be an embedding row.
        config["pad_token_id"] = 0
    config.update(extra)
    return config


def random_weights(config, seed=0):
    """float32 tensors with Hugging Face names for ``config``, drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    arch = config["architectures"][0]
    hidden, vocab = config["hidden_size"], config["vocab_size"]
    heads = config["num_attention_heads"]
    kv_heads = config.get("num_key_value_heads") or heads
    head_dim = config.get("head_dim") or hidden // heads
    intermediate = config["intermediate_size"]

    def matrix(rows, cols, scale=None):
        return (rng.standard_normal((rows, cols)) * (scale or cols**-0.5)).astype(np.float32)

    def vector(n, center=0.0):
        return (center + 0.1 * rng.standard_normal(n)).astype(np.float32)

    qkv_bias = config.get("attention_bias", False) or arch == "Qwen2ForCausalLM"
    o_bias = config.get("attention_bias", False) and arch != "Qwen2ForCausalLM"
    gemma = arch == GEMMA3
    norm = 0.0 if gemma else 1.0
    tensors = {"model.embed_tokens.weight": matrix(vocab, hidden, 1.0),
               "model.norm.weight": vector(hidden, norm)}
    if not config.get("tie_word_embeddings", gemma):
        tensors["lm_head.weight"] = matrix(vocab, hidden)
    else:
        tensors["model.embed_tokens.weight"] *= hidden**-0.5
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}."
        rows = {"q": heads * head_dim, "k": kv_heads * head_dim, "v": kv_heads * head_dim}
        for name, n in rows.items():
            tensors[p + f"self_attn.{name}_proj.weight"] = matrix(n, hidden)
            if qkv_bias:
                tensors[p + f"self_attn.{name}_proj.bias"] = vector(n)
        if arch in QK_NORM:
            tensors[p + "self_attn.q_norm.weight"] = vector(head_dim, norm)
            tensors[p + "self_attn.k_norm.weight"] = vector(head_dim, norm)
        tensors[p + "self_attn.o_proj.weight"] = matrix(hidden, heads * head_dim)
        if o_bias:
            tensors[p + "self_attn.o_proj.bias"] = vector(hidden)
        norms = ["input_layernorm", "post_attention_layernorm"]
        if gemma:
            norms += ["pre_feedforward_layernorm", "post_feedforward_layernorm"]
        for name in norms:
            tensors[p + name + ".weight"] = vector(hidden, norm)
        tensors[p + "mlp.gate_proj.weight"] = matrix(intermediate, hidden)
        tensors[p + "mlp.up_proj.weight"] = matrix(intermediate, hidden)
        tensors[p + "mlp.down_proj.weight"] = matrix(hidden, intermediate)
        if arch == PHI3:
            fuse(tensors, p + "self_attn.qkv_proj.weight", [p + f"self_attn.{n}_proj.weight" for n in "qkv"])
            fuse(tensors, p + "mlp.gate_up_proj.weight", [p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight"])
    return tensors


def fuse(tensors, name, parts):
    """Replaces the tensors ``parts`` by their concatenation along the rows, named ``name``."""
    tensors[name] = np.concatenate([tensors.pop(part) for part in parts], axis=0)


def save_weights(directory, tensors, dtype="F32", shards=1):
    """Writes ``tensors`` as ``model.safetensors`` (``shards`` = 1) or as ``shards`` files
    ``model-0000i-of-0000n.safetensors`` with ``model.safetensors.index.json``, stored as
    ``dtype`` (F32, BF16 rounded to nearest even, or F16)."""
    directory = pathlib.Path(directory)
    codes = {name: dtype for name in tensors}
    if shards == 1:
        safetensors.save(str(directory / "model.safetensors"), tensors, dtypes=codes)
        return
    names = sorted(tensors)
    weight_map = {}
    for shard in range(shards):
        file = f"model-{shard + 1:05d}-of-{shards:05d}.safetensors"
        part = {name: tensors[name] for name in names[shard::shards]}
        safetensors.save(str(directory / file), part, dtypes={name: dtype for name in part})
        weight_map.update(dict.fromkeys(part, file))
    total_size = sum(t.size for t in tensors.values()) * (4 if dtype == "F32" else 2)
    index = {"metadata": {"total_size": total_size}, "weight_map": weight_map}
    (directory / "model.safetensors.index.json").write_text(json.dumps(index, indent=1))


def transformers5(config):
    """``config`` as transformers 5 writes it: ``rope_theta`` and ``rope_scaling`` merged into
    ``rope_parameters`` (unless the config has its own), ``dtype`` for ``torch_dtype``."""
    config = dict(config)
    theta = config.pop("rope_theta", 10000.0)
    if "rope_parameters" not in config:
        rope = {"rope_type": "default", **(config.pop("rope_scaling", None) or {})}
        config["rope_parameters"] = {**rope, "rope_theta": theta}
        if config["architectures"][0] == GEMMA3:
            local = {"rope_type": "default", "rope_theta": config.pop("rope_local_base_freq", 10000.0)}
            config["rope_parameters"] = {"full_attention": config["rope_parameters"],
                                         "sliding_attention": local}
    config["dtype"] = config.pop("torch_dtype")
    return config


def write(directory, arch="LlamaForCausalLM", hidden=32, intermediate=48, layers=2, heads=4, kv_heads=2,
          head_dim=None, vocab=64, tptt=None, seed=0, dtype="F32", shards=1, v5=False, **extra):
    """Writes the model directory and returns its config dict (see `make_config`; ``dtype`` is
    F32, BF16 or F16, ``shards`` the number of weight files; ``v5`` writes the config as
    transformers 5 does, see `transformers5`)."""
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config = make_config(arch, hidden, intermediate, layers, heads, kv_heads, head_dim, vocab, tptt,
                         dtype, **extra)
    if v5:
        config = transformers5(config)
    (directory / "config.json").write_text(json.dumps(config, indent=1))
    save_weights(directory, random_weights(config, seed), dtype, shards)
    return config
