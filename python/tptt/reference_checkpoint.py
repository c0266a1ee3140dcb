"""Checkpoints of the reference library (tptt 0.12's ``TpttModel.save_pretrained``), read into a
TPTT model directory (`convert`) and written from one (`export`).

Such a checkpoint holds a flat TpttConfig (``architectures: ["TpttModel"]``, the backbone's fields
merged in, ``base_model_name`` naming the base model) and ``adapter_model.safetensors`` with the
trained tensors only, under the reference's names: LoRA pairs
``model.model.layers.N.self_attn.base_attn.X_proj.lora_{A,B}.default.weight`` (their rank and
alpha in ``lora_config``: the reference writes no adapter_config.json) or, for LoRA−, the trained
projections ``model.layers.N.self_attn.base_attn.X_proj.weight``. Which TpttConfig keys become
the ``tptt`` object, which change nothing and which are PretrainedConfig's resets is the schema's
``tptt_reference_checkpoint`` table, the one tptt-compile's reader (``--base``) uses.
"""

import json
import math
import pathlib

import numpy as np

from . import card, safetensors, schema
from .convert import TOKENIZER_FILES, place
from .reference_model import recurrent_config

TRAINED_FILE = "tptt-trained.safetensors"
# The modules the reference wraps in its LiZA attention (base_attn), per backbone.
ATTENTION_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "qkv_proj")


def keys():
    """The schema's table: ``mapped`` and ``reset`` key lists, ``ignored`` key -> why."""
    return schema.schema()["tptt_reference_checkpoint"]


def model_config(tptt_config, base_config, base_path, semantics=None):
    """``(config, ignored)``: the base model's config.json with the ``tptt`` object a TpttConfig
    gives (semantics tptt-0.12, the numerics it was trained with, unless ``semantics``), and the
    TpttConfig's ignored keys with why. Raises ConfigError as tptt-compile does."""
    table = keys()
    if "tptt" in base_config:
        raise schema.ConfigError(f"{base_path} already has a tptt object: the base must be the base "
                                 "model, not a TPTT model")
    name = tptt_config.get("base_model_name")
    section = {}
    if tptt_config.get("operator_mode") is not None:
        section["operator_mode"] = tptt_config["operator_mode"]
    elif isinstance(tptt_config.get("recurrent_config"), dict):
        section.update(tptt_config["recurrent_config"])
    else:
        raise schema.ConfigError("field 'operator_mode': null, and no recurrent_config gives the operator")
    for key, value in tptt_config.items():
        if key in table["mapped"]:
            if value is not None:
                section[key] = value
        elif key == "lora_config":
            if value is not None:
                section[key] = {k: value[k] for k in ("r", "lora_alpha", "lora_dropout", "target_modules")
                                if isinstance(value, dict) and k in value}
        elif key == "model_task":
            if value != "causal_lm":
                raise schema.ConfigError(f"field 'model_task': {json.dumps(value)} (only causal_lm models compile)")
        elif key in ("operator_mode", "recurrent_config") or key in table["reset"] or key in table["ignored"]:
            continue
        elif key in base_config and base_config[key] != value:
            raise schema.ConfigError(f"field '{key}': {json.dumps(value)}, but {base_path} has "
                                     f"{json.dumps(base_config[key])}" + (f" (is it {name}?)" if name else ""))
    section["semantics"] = semantics or "tptt-0.12"
    config = dict(base_config, tptt=section)
    schema.validate(config)
    return config, {key: why for key, why in table["ignored"].items() if key in tptt_config}


def lora_scale(lora, where):
    """lora_alpha / r (/ √r with use_rslora) of a PEFT adapter_config or a lora_config; refuses
    what a plain merge would get wrong, as tptt-compile does."""
    if not isinstance(lora, dict) or not isinstance(lora.get("r"), int) or lora["r"] < 1:
        raise schema.ConfigError(f"{where}: needs a positive integer r")
    for key, plain in (("peft_type", "LORA"), ("use_dora", False), ("fan_in_fan_out", False)):
        if lora.get(key, plain) not in (plain, None):
            raise schema.ConfigError(f"{where}: field '{key}': {json.dumps(lora[key])} cannot be merged "
                                     f"(expected {json.dumps(plain)})")
    for key in ("rank_pattern", "alpha_pattern"):
        if lora.get(key):
            raise schema.ConfigError(f"{where}: field '{key}': per-module ranks and alphas are not supported")
    alpha = lora.get("lora_alpha", 8)
    return alpha / (math.sqrt(lora["r"]) if lora.get("use_rslora") else lora["r"])


def module_of(name):
    """The base model's module a reference or PEFT LoRA tensor belongs to
    ("model.model.layers.0.self_attn.base_attn.q_proj.lora_A.default.weight" →
    "model.layers.0.self_attn.q_proj"), and "A" or "B"; None for another tensor."""
    for prefix, replacement in (("base_model.model.", ""), ("model.model.", "model.")):
        if name.startswith(prefix):
            name = replacement + name[len(prefix):]
            break
    name = name.replace(".base_attn", "").replace(".default", "")
    for part in ("A", "B"):
        if name.endswith(f".lora_{part}.weight"):
            return name[: -len(f".lora_{part}.weight")], part
    return None


def base_files(base_dir):
    """``{tensor name: file name}`` of the base model's weights (one file or an index's shards)."""
    base_dir = pathlib.Path(base_dir)
    if (base_dir / "model.safetensors").exists():
        return {name: "model.safetensors" for name in safetensors.header(str(base_dir / "model.safetensors"))}
    index = base_dir / "model.safetensors.index.json"
    if not index.exists():
        raise FileNotFoundError(f"{base_dir}: no model.safetensors or model.safetensors.index.json")
    return dict(schema.read_json(index)["weight_map"])


def convert(checkpoint_dir, base_dir, out_dir, copy=False, semantics=None):
    """Writes OUT_DIR, a TPTT model directory, from a reference checkpoint and its base model:
    the base's config.json with the mapped ``tptt`` object; its weights linked (or copied) with an
    index that maps the trained projections to ``tptt-trained.safetensors`` (LoRA pairs merged as
    W + scale·B·A in float32, LoRA− projections as they are). Returns ``(config, ignored)``. Raises
    ConfigError or FileNotFoundError naming what is wrong, before writing anything."""
    checkpoint_dir, base_dir, out_dir = map(pathlib.Path, (checkpoint_dir, base_dir, out_dir))
    tptt_config = schema.read_json(checkpoint_dir / "config.json")
    if not schema.is_reference_checkpoint(tptt_config):
        raise schema.ConfigError(f"{checkpoint_dir / 'config.json'}: not a reference checkpoint "
                                 "(architectures is not [\"TpttModel\"]); --base takes a reference checkpoint's base")
    base_path = base_dir / "config.json"
    config, ignored = model_config(tptt_config, schema.read_json(base_path), base_path, semantics)
    files = base_files(base_dir)

    trained, pairs = {}, {}
    adapter = checkpoint_dir / "adapter_model.safetensors"
    if adapter.exists():
        for name, tensor in safetensors.load(str(adapter))[0].items():
            found = module_of(name)
            if found:
                pairs.setdefault(found[0], {})[found[1]] = tensor
                continue
            plain = name.replace(".base_attn", "").replace(".default", "")
            if plain not in files:
                raise schema.ConfigError(f"{adapter}: tensor '{name}' is not a LoRA lora_A/lora_B weight "
                                         "nor a weight of the base model")
            trained[plain] = tensor
    if pairs:
        adapter_config = checkpoint_dir / "adapter_config.json"
        lora = schema.read_json(adapter_config) if adapter_config.exists() else tptt_config.get("lora_config")
        where = adapter_config if adapter_config.exists() else f"{checkpoint_dir / 'config.json'}: lora_config"
        if lora is None:
            raise schema.ConfigError(f"{adapter}: LoRA tensors, but no adapter_config.json or lora_config gives "
                                     "their rank and alpha")
        scale = lora_scale(lora, where)
        needed = {f"{module}.weight" for module in pairs} - set(trained)
        for missing in sorted(needed - set(files)):
            raise schema.ConfigError(f"{adapter}: the adapter targets '{missing[:-len('.weight')]}', "
                                     "which the model does not have")
        loaded = {}
        for shard in sorted({files[name] for name in needed}):
            loaded.update(safetensors.load(str(base_dir / shard))[0])
        for module, pair in sorted(pairs.items()):
            if set(pair) != {"A", "B"}:
                raise schema.ConfigError(f"{adapter}: '{module}' needs both lora_A and lora_B")
            weight = trained.get(f"{module}.weight", loaded.get(f"{module}.weight"))
            a, b = pair["A"].astype(np.float64), pair["B"].astype(np.float64)
            if a.shape[0] != lora["r"] or b.shape[1] != a.shape[0] or weight.shape != (b.shape[0], a.shape[1]):
                raise schema.ConfigError(f"{adapter}: the lora_A {list(a.shape)} and lora_B {list(b.shape)} of "
                                         f"'{module}' do not fit its weight {list(weight.shape)} at r = {lora['r']}")
            trained[f"{module}.weight"] = (weight.astype(np.float64) + scale * (b @ a)).astype(np.float32)

    out_dir.mkdir(parents=True, exist_ok=True)
    for shard in sorted(set(files.values())):
        place(base_dir / shard, out_dir / f"base-{shard}", copy)
    weight_map = {name: f"base-{shard}" for name, shard in files.items()}
    if trained:
        safetensors.save(str(out_dir / TRAINED_FILE), trained)
        weight_map.update({name: TRAINED_FILE for name in trained})
    (out_dir / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map},
                                                                     indent=1) + "\n")
    for name in TOKENIZER_FILES:
        source = checkpoint_dir / name if (checkpoint_dir / name).exists() else base_dir / name
        if source.exists():
            place(source, out_dir / name, copy)
    (out_dir / "config.json").write_text(json.dumps(config, indent=1) + "\n")
    return config, ignored


def export(model_dir, adapter_dir, out_dir, base_model_name=None):
    """Writes OUT_DIR as the reference library's save_pretrained does, from a TPTT model directory
    and a PEFT LoRA adapter trained on it (``EXE train``'s checkpoint/): the flat TpttConfig and
    the LoRA pairs under the reference's names (rank and alpha in ``lora_config``). The reference
    loads it over ``base_model_name`` (default: the config's ``_name_or_path``). Returns the
    TpttConfig and the semantics the model was trained under (the reference library computes
    tptt-0.12's numerics whatever they were)."""
    model_dir, adapter_dir, out_dir = map(pathlib.Path, (model_dir, adapter_dir, out_dir))
    config = schema.read_json(model_dir / "config.json")
    schema.validate(config)
    tptt = config["tptt"]
    adapter_config_path = adapter_dir / "adapter_config.json"
    adapter_config = schema.read_json(adapter_config_path)
    lora_scale(adapter_config, adapter_config_path)
    tensors = safetensors.load(str(adapter_dir / "adapter_model.safetensors"))[0]
    renamed = {}
    for name, tensor in tensors.items():
        found = module_of(name)
        if not found:
            raise schema.ConfigError(f"{adapter_dir / 'adapter_model.safetensors'}: tensor '{name}' is not a "
                                     "LoRA lora_A/lora_B weight")
        module, part = found
        layer_path, leaf = module.rsplit(".", 1)
        wrapper = ".base_attn" if leaf in ATTENTION_PROJECTIONS else ""
        renamed[f"model.{layer_path}{wrapper}.{leaf}.lora_{part}.default.weight"] = tensor
    lora = {key: adapter_config[key] for key in ("r", "lora_alpha", "lora_dropout", "target_modules", "bias",
                                                 "use_rslora", "task_type") if key in adapter_config}
    cfg = recurrent_config(tptt)
    table = keys()
    tptt_config = {key: value for key, value in config.items() if key not in table["reset"] and key != "tptt"}
    tptt_config.update({
        "architectures": ["TpttModel"], "model_type": "tptt",
        "auto_map": {"AutoConfig": "configuration_tptt.TpttConfig",
                     "AutoModelForCausalLM": "modeling_tptt.TpttModel"},
        "base_model_name": base_model_name or config.get("_name_or_path") or str(model_dir),
        "base_model_subfolder": None, "model_task": "causal_lm",
        "target_modules_names": ["attn", "self_attn", "attention"],
        "operator_mode": tptt.get("operator_mode"), "recurrent_config": cfg,
        "use_linear_checkpoint": False, "pooling_config": None, "lora_config": lora,
        "model_variant": card.model_name(True, tptt.get("cross_gate", False), tptt.get("bidirectional", False), **cfg),
        "torch_dtype": config.get("torch_dtype") or config.get("dtype") or "float32",
    })
    # The mapped keys, at the schema's defaults where the model leaves them out.
    fields = schema.schema()["properties"]["tptt"]["properties"]
    tptt_config.update({key: tptt.get(key, fields[key].get("default")) for key in table["mapped"]})
    out_dir.mkdir(parents=True, exist_ok=True)
    safetensors.save(str(out_dir / "adapter_model.safetensors"), renamed)
    (out_dir / "config.json").write_text(json.dumps(tptt_config, indent=2, sort_keys=True) + "\n")
    return tptt_config, tptt.get("semantics", "recurrent")
