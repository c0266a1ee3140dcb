"""Writes a checkpoint as the reference library's TpttModel.save_pretrained leaves it, over a
random base model, and the same model in tptt's usual form.

Usage: make_reference_checkpoint.py lora|lora-minus DIR

DIR/base        the base model (config.json, model.safetensors), what base_model_name names
DIR/checkpoint  config.json: a flat TpttConfig (architectures ["TpttModel"], the backbone's fields
                merged in, the generic ones dropped as PretrainedConfig resets them), and
                adapter_model.safetensors with the trained tensors only, under tptt 0.12's names:
                lora: model.model.layers.N.self_attn.base_attn.X_proj.lora_{A,B}.default.weight
                (no adapter_config.json: the rank and alpha come from lora_config);
                lora-minus: model.layers.N.self_attn.base_attn.X_proj.weight
DIR/usual       the base model's config.json with the equivalent tptt object (the reference's
                semantics, tptt-0.12), and its weights (lora-minus: the trained projections in
                place)
DIR/peft        (lora) the adapter in PEFT's format, with adapter_config.json, for --adapter
"""
import json
import pathlib
import sys

import numpy as np
from tptt import random_model, safetensors

RANK, ALPHA = 4, 8
PROJECTIONS = ("q", "k", "v", "o")


def main():
    kind, root = sys.argv[1], pathlib.Path(sys.argv[2])
    if kind not in ("lora", "lora-minus"):
        sys.exit(f"unknown kind {kind}")
    for name in ("base", "checkpoint", "usual", "peft"):
        (root / name).mkdir(parents=True, exist_ok=True)
    base_config = random_model.make_config("LlamaForCausalLM", hidden=32, layers=2, heads=4, kv_heads=2,
                                           vocab=64)
    del base_config["tptt"]
    weights = random_model.random_weights(base_config, seed=5)
    (root / "base" / "config.json").write_text(json.dumps(base_config, indent=2, sort_keys=True))
    random_model.save_weights(root / "base", weights)

    lora = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": RANK, "lora_alpha": ALPHA,
            "lora_dropout": 0.05, "target_modules": [f"{p}_proj" for p in PROJECTIONS], "bias": "none",
            "use_rslora": False, "use_dora": False, "fan_in_fan_out": False, "inference_mode": False,
            "modules_to_save": None, "init_lora_weights": True, "rank_pattern": {}, "alpha_pattern": {},
            "base_model_name_or_path": None, "revision": None, "layers_to_transform": None,
            "layers_pattern": None} if kind == "lora" else None
    reset = {"architectures", "model_type", "bos_token_id", "eos_token_id", "pad_token_id",
             "tie_word_embeddings", "torch_dtype"}
    config = {k: v for k, v in base_config.items() if k not in reset}
    config.update({
        "architectures": ["TpttModel"], "model_type": "tptt",
        "auto_map": {"AutoConfig": "configuration_tptt.TpttConfig",
                     "AutoModelForCausalLM": "modeling_tptt.TpttModel"},
        "base_model_name": "tiny/base", "base_model_subfolder": None, "model_task": "causal_lm",
        "target_modules_names": ["attn", "self_attn", "attention"], "operator_mode": "delta_product",
        "recurrent_config": {"order": 2, "alpha_gate": "c", "beta_gate": "k", "linear": True, "trick": "dt"},
        "use_linear_checkpoint": False, "max_self_attn_length": None, "base_scale_attn": False,
        "mag_weight": 0.4, "cross_gate": False, "max_chunk_size": 8, "linear_precision": "float32",
        "lora_config": lora, "padding_side": "right", "bidirectional": False, "pooling_config": None,
        "model_variant": f"liza_{'lora' if lora else 'full'}_mag_causal_alpha-c_beta-k_order-2_linear_trick-dt",
        "torch_dtype": "float32", "transformers_version": "4.56.2"})
    (root / "checkpoint" / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")

    rng = np.random.default_rng(9)
    trained, peft, usual_weights = {}, {}, dict(weights)
    for layer in range(base_config["num_hidden_layers"]):
        for p in PROJECTIONS:
            module = f"model.layers.{layer}.self_attn.{p}_proj"
            out, inp = weights[module + ".weight"].shape
            if lora:
                a = (0.3 * rng.standard_normal((RANK, inp))).astype(np.float32)
                b = (0.3 * rng.standard_normal((out, RANK))).astype(np.float32)
                ref = f"model.model.layers.{layer}.self_attn.base_attn.{p}_proj"
                trained[ref + ".lora_A.default.weight"], trained[ref + ".lora_B.default.weight"] = a, b
                peft[f"base_model.model.{module}.lora_A.weight"] = a
                peft[f"base_model.model.{module}.lora_B.weight"] = b
            else:
                moved = (weights[module + ".weight"]
                         + 0.2 * rng.standard_normal((out, inp))).astype(np.float32)
                trained[f"model.layers.{layer}.self_attn.base_attn.{p}_proj.weight"] = moved
                usual_weights[module + ".weight"] = moved
    safetensors.save(str(root / "checkpoint" / "adapter_model.safetensors"), trained)

    tptt = {"operator_mode": "delta_product", "mag_weight": 0.4, "max_chunk_size": 8,
            "linear_precision": "float32", "padding_side": "right", "bidirectional": False,
            "cross_gate": False, "base_scale_attn": False, "semantics": "tptt-0.12"}
    (root / "usual" / "config.json").write_text(json.dumps({**base_config, "tptt": tptt}, indent=1))
    random_model.save_weights(root / "usual", usual_weights)
    if lora:
        safetensors.save(str(root / "peft" / "adapter_model.safetensors"), peft)
        (root / "peft" / "adapter_config.json").write_text(json.dumps(lora, indent=1))


if __name__ == "__main__":
    main()
