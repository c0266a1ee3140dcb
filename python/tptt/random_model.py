"""Random-weight TPTT model directories, for tests and benchmarks.

    config = write("out_dir", arch="Qwen2ForCausalLM", tptt={"operator_mode": "gated_delta_rule"})

writes ``config.json`` and the weights (``model.safetensors``; or shards with
``model.safetensors.index.json``) of a small decoder, deterministically from ``seed``. Weights are
scaled so that activations and logits stay O(1).
"""

import json
import pathlib

import numpy as np

from . import safetensors


def write(directory, arch="LlamaForCausalLM", hidden=32, intermediate=48, layers=2, heads=4,
          kv_heads=2, vocab=64, tptt=None, seed=0, dtype="F32", shards=1, **extra):
    """Writes the model directory and returns its config dict. ``extra`` adds or overrides
    config.json fields (``sliding_window``, ``rope_scaling``, ``tie_word_embeddings``,
    ``attention_bias``, ...); ``dtype`` is F32, BF16 or F16."""
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    head_dim = hidden // heads
    config = {
        "architectures": [arch], "hidden_size": hidden, "intermediate_size": intermediate,
        "num_hidden_layers": layers, "num_attention_heads": heads, "num_key_value_heads": kv_heads,
        "head_dim": head_dim, "vocab_size": vocab, "rms_norm_eps": 1e-6, "rope_theta": 10000.0,
        "max_position_embeddings": 512, "tie_word_embeddings": False, "attention_bias": False,
        "torch_dtype": {"F32": "float32", "BF16": "bfloat16", "F16": "float16"}[dtype],
        "bos_token_id": 1, "eos_token_id": 2,
        "tptt": dict({"mag_weight": 0.5, "max_chunk_size": 64}, **(tptt or {})),
    }
    explicit = {"order", "alpha_gate", "beta_gate", "linear", "trick"}
    if not explicit & set(config["tptt"]):
        config["tptt"].setdefault("operator_mode", "delta_rule")
    config.update(extra)
    rng = np.random.default_rng(seed)

    def matrix(rows, cols):
        return (rng.standard_normal((rows, cols)) / np.sqrt(cols)).astype(np.float32)

    def vector(n, center=0.0):
        return (center + 0.1 * rng.standard_normal(n)).astype(np.float32)

    qkv_bias = config["attention_bias"] or arch == "Qwen2ForCausalLM"
    o_bias = config["attention_bias"] and arch != "Qwen2ForCausalLM"
    tensors = {"model.embed_tokens.weight": matrix(vocab, hidden) * 4, "model.norm.weight": vector(hidden, 1.0)}
    if not config["tie_word_embeddings"]:
        tensors["lm_head.weight"] = matrix(vocab, hidden)
    for i in range(layers):
        p = f"model.layers.{i}."
        sizes = {"q": heads * head_dim, "k": kv_heads * head_dim, "v": kv_heads * head_dim}
        for name, rows in sizes.items():
            tensors[p + f"self_attn.{name}_proj.weight"] = matrix(rows, hidden)
            if qkv_bias:
                tensors[p + f"self_attn.{name}_proj.bias"] = vector(rows)
        tensors[p + "self_attn.o_proj.weight"] = matrix(hidden, heads * head_dim)
        if o_bias:
            tensors[p + "self_attn.o_proj.bias"] = vector(hidden)
        tensors.update({
            p + "input_layernorm.weight": vector(hidden, 1.0),
            p + "post_attention_layernorm.weight": vector(hidden, 1.0),
            p + "mlp.gate_proj.weight": matrix(intermediate, hidden),
            p + "mlp.up_proj.weight": matrix(intermediate, hidden),
            p + "mlp.down_proj.weight": matrix(hidden, intermediate),
        })
    if dtype == "F16":
        tensors = {name: value.astype(np.float16) for name, value in tensors.items()}
    dtypes = {name: "BF16" for name in tensors} if dtype == "BF16" else None
    (directory / "config.json").write_text(json.dumps(config, indent=1))
    if shards == 1:
        safetensors.save(str(directory / "model.safetensors"), tensors, dtypes=dtypes)
        return config
    names = sorted(tensors)
    weight_map = {}
    for shard in range(shards):
        file = f"model-{shard + 1:05d}-of-{shards:05d}.safetensors"
        part = {name: tensors[name] for name in names[shard::shards]}
        safetensors.save(str(directory / file), part, dtypes=dtypes and {n: "BF16" for n in part})
        weight_map.update({name: file for name in part})
    (directory / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {}, "weight_map": weight_map}, indent=1))
    return config
