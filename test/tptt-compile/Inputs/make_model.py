"""Writes a tiny random Llama-family model directory, or a broken variant of it.

Usage: make_model.py KIND DIR. KIND is `good` or the name of one defect
(see DEFECTS); the directory is created or replaced.
"""
import json
import os
import shutil
import struct
import sys

import numpy as np
from tptt import safetensors

CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "hidden_size": 16,
    "intermediate_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "num_key_value_heads": 1,
    "head_dim": 8,
    "vocab_size": 24,
    "rms_norm_eps": 1e-6,
    "rope_theta": 10000.0,
    "max_position_embeddings": 64,
    "tie_word_embeddings": False,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "tptt": {"operator_mode": "delta_product", "mag_weight": 0.5, "max_chunk_size": 4},
}


def weights(config):
    rng = np.random.default_rng(0)
    hidden, inter = config["hidden_size"], config["intermediate_size"]
    q = config["num_attention_heads"] * config["head_dim"]
    kv = config["num_key_value_heads"] * config["head_dim"]
    shapes = {"model.embed_tokens.weight": (config["vocab_size"], hidden),
              "model.norm.weight": (hidden,), "lm_head.weight": (config["vocab_size"], hidden)}
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}."
        shapes.update({p + "input_layernorm.weight": (hidden,),
                       p + "post_attention_layernorm.weight": (hidden,),
                       p + "self_attn.q_proj.weight": (q, hidden),
                       p + "self_attn.k_proj.weight": (kv, hidden),
                       p + "self_attn.v_proj.weight": (kv, hidden),
                       p + "self_attn.o_proj.weight": (hidden, q),
                       p + "mlp.gate_proj.weight": (inter, hidden),
                       p + "mlp.up_proj.weight": (inter, hidden),
                       p + "mlp.down_proj.weight": (hidden, inter)})
    return {name: (rng.standard_normal(shape) * 0.3).astype(np.float32) for name, shape in shapes.items()}


def raw_file(path, header, data=b""):
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


def adapter(directory):
    """DIR/model, DIR/adapter (PEFT LoRA on two projections of layer 0, plus
    one in the tptt 0.12 naming) and DIR/merged (the same model with the
    update folded into its weights, in numpy)."""
    rng = np.random.default_rng(1)
    tensors = weights(CONFIG)
    rank, alpha = 2, 8.0
    lora, merged = {}, dict(tensors)
    for module, key in [("model.layers.0.self_attn.q_proj", "base_model.model.model.layers.0.self_attn.q_proj"),
                        ("model.layers.0.self_attn.v_proj", "base_model.model.model.layers.0.self_attn.v_proj"),
                        ("model.layers.1.self_attn.o_proj",
                         "model.model.layers.1.self_attn.base_attn.o_proj")]:
        out, inp = tensors[module + ".weight"].shape
        a = (rng.standard_normal((rank, inp)) * 0.3).astype(np.float32)
        b = (rng.standard_normal((out, rank)) * 0.3).astype(np.float32)
        suffix = ".default.weight" if "base_attn" in key else ".weight"
        lora[key + ".lora_A" + suffix], lora[key + ".lora_B" + suffix] = a, b
        merged[module + ".weight"] = (tensors[module + ".weight"].astype(np.float64)
                                      + alpha / rank * (b.astype(np.float64) @ a)).astype(np.float32)
    for name, contents in [("model", tensors), ("merged", merged)]:
        os.makedirs(os.path.join(directory, name))
        with open(os.path.join(directory, name, "config.json"), "w") as f:
            json.dump(CONFIG, f)
        safetensors.save(os.path.join(directory, name, "model.safetensors"), contents)
    os.makedirs(os.path.join(directory, "adapter"))
    with open(os.path.join(directory, "adapter", "adapter_config.json"), "w") as f:
        json.dump({"peft_type": "LORA", "r": rank, "lora_alpha": alpha,
                   "target_modules": ["q_proj", "v_proj", "o_proj"]}, f)
    safetensors.save(os.path.join(directory, "adapter", "adapter_model.safetensors"), lora)


# Adapter configs that must not be merged as plain LoRA (the adapter's
# tensors have rank 2).
ADAPTER_VARIANTS = {
    "adapter-rank": {"r": 4},
    "adapter-rank-pattern": {"rank_pattern": {"q_proj": 4}},
    "adapter-alpha-pattern": {"alpha_pattern": {"v_proj": 32}},
    "adapter-dora": {"use_dora": True},
    "adapter-ia3": {"peft_type": "IA3"},
}


def main():
    kind, directory = sys.argv[1], sys.argv[2]
    if kind == "adapter" or kind in ADAPTER_VARIANTS:
        shutil.rmtree(directory, ignore_errors=True)
        adapter(directory)
        path = os.path.join(directory, "adapter", "adapter_config.json")
        with open(path) as f:
            config = json.load(f)
        config.update(ADAPTER_VARIANTS.get(kind, {}))
        with open(path, "w") as f:
            json.dump(config, f)
        return
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    config = json.loads(json.dumps(CONFIG))
    tensors = weights(config)
    weights_file = os.path.join(directory, "model.safetensors")
    if kind == "string-size":
        config["hidden_size"] = "16"
    elif kind == "no-vocab":
        del config["vocab_size"]
    elif kind == "bad-mode":
        config["tptt"]["operator_mode"] = "delta_magic"
    elif kind == "bad-arch":
        config["architectures"] = ["GPT2LMHeadModel"]
    elif kind == "bad-heads":
        config["num_key_value_heads"] = 3
        config["num_attention_heads"] = 4
    elif kind == "unknown-field":
        config["tptt"]["magweight"] = 0.5
    elif kind == "dropout-one":
        config["tptt"]["lora_config"] = {"r": 2, "lora_alpha": 4, "lora_dropout": 1.0,
                                         "target_modules": ["q_proj"]}
    elif kind == "nan-weight":
        tensors["model.layers.1.mlp.down_proj.weight"][0, :3] = np.nan
    elif kind == "lora-typo":
        config["tptt"]["lora_config"] = {"r": 2, "lora_alpha": 4,
                                         "target_modules": ["q_proj", "q_porj"]}
    elif kind == "mode-and-order":
        config["tptt"]["order"] = 3
    elif kind == "missing-weight":
        del tensors["model.layers.1.mlp.up_proj.weight"]
    elif kind == "wrong-shape":
        tensors["model.layers.0.self_attn.k_proj.weight"] = np.zeros((16, 16), np.float32)
    elif kind == "qwen3-no-norms":
        config["architectures"] = ["Qwen3ForCausalLM"]
    elif kind == "qwen3-head-dim":
        config["architectures"] = ["Qwen3ForCausalLM"]
        del config["head_dim"]
    elif kind == "gemma3-no-ff-norms":
        # A Llama's tensors plus q/k norms: Gemma 3 also reads the norms around its MLP.
        config["architectures"] = ["Gemma3ForCausalLM"]
        for i in range(config["num_hidden_layers"]):
            for norm in ("q_norm", "k_norm"):
                tensors[f"model.layers.{i}.self_attn.{norm}.weight"] = np.zeros(config["head_dim"], np.float32)
    elif kind != "good" and kind not in ("huge-header", "past-end", "overlap", "not-json",
                                         "config-dir", "config-device", "fifo-weights",
                                         "index-escape"):
        raise SystemExit(f"unknown kind {kind}")
    if kind == "not-json":
        with open(os.path.join(directory, "config.json"), "w") as f:
            f.write("{\"architectures\": [")
    else:
        with open(os.path.join(directory, "config.json"), "w") as f:
            json.dump(config, f)
    if kind == "huge-header":
        with open(weights_file, "wb") as f:
            f.write(struct.pack("<Q", 1 << 60) + b"{}")
    elif kind == "past-end":
        raw_file(weights_file, {"model.norm.weight": {"dtype": "F32", "shape": [16], "data_offsets": [0, 64]}},
                 bytes(8))
    elif kind == "overlap":
        raw_file(weights_file, {"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
                                "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}}, bytes(24))
    else:
        safetensors.save(weights_file, tensors)
    # Files that are not what they claim to be.
    config_file = os.path.join(directory, "config.json")
    if kind == "config-dir":
        os.remove(config_file)
        os.makedirs(config_file)
    elif kind == "config-device":
        os.remove(config_file)
        os.symlink("/dev/zero", config_file)
    elif kind == "fifo-weights":
        os.remove(weights_file)
        os.mkfifo(weights_file)
    elif kind == "index-escape":
        os.rename(weights_file, os.path.join(directory, "shard-1.safetensors"))
        weight_map = {name: "shard-1.safetensors" for name in tensors}
        weight_map["model.norm.weight"] = "../../../../etc/passwd"
        with open(os.path.join(directory, "model.safetensors.index.json"), "w") as f:
            json.dump({"weight_map": weight_map}, f)


main()
