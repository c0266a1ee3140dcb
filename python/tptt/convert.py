"""`python3 -m tptt convert`: a Hugging Face model directory becomes a TPTT model directory.

The equivalent of the reference library's ``TpttConfig(...)`` + ``get_tptt_model(...)``: the
backbone's config.json gets a ``tptt`` object (validated against the repository's JSON Schema),
and the weights (single file or shards with their index) and tokenizer files are linked (or
copied) beside it. The LiZA layers reuse the backbone's own projections, so no weight is added.
"""

import json
import os
import pathlib
import shutil

from . import schema
from .reference_model import OPERATOR_MODES

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                   "generation_config.json")
EXPLICIT = ("order", "alpha_gate", "beta_gate", "linear", "trick")


def tptt_section(operator_mode=None, order=None, alpha_gate=None, beta_gate=None, linear=None,
                 trick=None, mag_weight=0.5, cross_gate=False, base_scale_attn=False,
                 max_self_attn_length=None, max_chunk_size=64, bidirectional=False,
                 linear_precision="float32", semantics="recurrent", lora_r=None, lora_alpha=None,
                 lora_dropout=None, target_modules=None, layers=None):
    """The ``tptt`` object of config.json (TpttConfig field names)."""
    explicit = {k: v for k, v in zip(EXPLICIT, (order, alpha_gate, beta_gate, linear, trick)) if v is not None}
    if operator_mode is not None and explicit:
        raise schema.ConfigError(f"give --operator-mode or the explicit fields ({', '.join(explicit)}), not both")
    if operator_mode is None and not explicit:
        operator_mode = "delta_rule"
    if operator_mode is not None and operator_mode not in OPERATOR_MODES:
        raise schema.ConfigError(f"unknown operator mode '{operator_mode}' (one of {', '.join(OPERATOR_MODES)})")
    section = {"operator_mode": operator_mode} if operator_mode else dict(explicit)
    section.update({"mag_weight": mag_weight, "cross_gate": cross_gate, "base_scale_attn": base_scale_attn,
                    "max_self_attn_length": max_self_attn_length, "max_chunk_size": max_chunk_size,
                    "bidirectional": bidirectional, "linear_precision": linear_precision,
                    "target_modules_names": ["self_attn"], "semantics": semantics})
    if layers is not None:
        section["layers"] = list(layers)
    if lora_r is not None:
        section["lora_config"] = {"r": lora_r, "lora_alpha": lora_alpha if lora_alpha is not None else 2 * lora_r,
                                  "lora_dropout": lora_dropout or 0.0,
                                  "target_modules": target_modules or ["q_proj", "k_proj", "v_proj", "o_proj"]}
    return section


def place(source, target, copy):
    """``target`` becomes a copy of ``source``, or a link to it."""
    if target.exists() or target.is_symlink():
        target.unlink()
    if copy:
        shutil.copyfile(source, target)
    else:
        os.symlink(pathlib.Path(source).resolve(), target)


def convert(hf_dir, out_dir, copy=False, **options):
    """Writes OUT_DIR from HF_DIR; returns the new config dict. Raises ConfigError or
    FileNotFoundError with a message naming what is wrong, before writing anything."""
    hf_dir, out_dir = pathlib.Path(hf_dir), pathlib.Path(out_dir)
    config_path = hf_dir / "config.json"
    config = schema.read_json(config_path)
    if schema.is_reference_checkpoint(config):
        raise schema.ConfigError(f"{config_path}: a checkpoint saved by the reference library (TpttModel), "
                                 "which holds the trained tensors only: give its base model's directory "
                                 "with --base DIR")
    config.pop("tptt", None)
    config["tptt"] = tptt_section(**options)
    schema.validate(config)
    weights = [hf_dir / "model.safetensors"]
    index = hf_dir / "model.safetensors.index.json"
    if not weights[0].exists():
        if not index.exists():
            raise FileNotFoundError(f"{hf_dir}: no model.safetensors or model.safetensors.index.json")
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        weights = [index] + [hf_dir / shard for shard in shards]
    out_dir.mkdir(parents=True, exist_ok=True)
    for source in weights + [hf_dir / name for name in TOKENIZER_FILES if (hf_dir / name).exists()]:
        place(source, out_dir / source.name, copy)
    (out_dir / "config.json").write_text(json.dumps(config, indent=1) + "\n")
    return config
