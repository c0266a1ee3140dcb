"""Transformers' own logits for the kit's golden models, the outside check of run.py's
"transformers" step.

    python3 hf_logits.py --kit KIT --out DIR [--device cuda|cpu] MODEL_DIR...

For each MODEL_DIR (config.json, model.safetensors, tokens.json) whose architecture is Llama,
Qwen2, Qwen3, Mistral, Gemma 3 or Phi-3: transformers builds its own model from config.json with the `tptt` section
removed (the base model: LiZA's μ = 0), in float32 with eager attention, on the GPU (or on
--device); loads
model.safetensors (with the kit's numpy reader, tptt_safetensors.py); and writes the logits
[S, vocab] for tokens.json to DIR/<model>.safetensors (tensor "logits", F32). DIR/hf.json gets
the versions of torch and transformers and, per model, "ok" or the error that stopped it, so that
one model's failure (or the import's) is a recorded result, not the end of the others.
"""

import argparse
import json
import pathlib
import sys
import time
import traceback

ARCHITECTURES = ("LlamaForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM", "MistralForCausalLM",
                    "Gemma3ForCausalLM", "Phi3ForCausalLM")


def build(transformers, torch, config_dict, device):
    """Transformers' model (float32, eager attention) for the config without its tptt section."""
    fields = {k: v for k, v in config_dict.items() if k != "tptt"}
    architecture = fields["architectures"][0]
    # As from_pretrained reads a config.json (from_dict takes the fields older versions named
    # otherwise, such as torch_dtype), else through AutoConfig.
    try:
        from transformers.models.auto.configuration_auto import CONFIG_MAPPING
        config = CONFIG_MAPPING[fields["model_type"]].from_dict(fields)
    except (ImportError, KeyError):
        model_type = fields.pop("model_type")
        config = transformers.AutoConfig.for_model(model_type, **fields)
    # The attention implementation: eager (plain softmax in float32), set on the config too, for
    # the versions that read it only from there.
    try:
        config._attn_implementation = "eager"
    except (AttributeError, TypeError, ValueError):
        pass
    model = transformers.AutoModelForCausalLM.from_config(config, attn_implementation="eager")
    if type(model).__name__ != architecture:
        raise RuntimeError(f"transformers built {type(model).__name__}, not {architecture}")
    # What transformers made of the fields the comparison rests on (newer versions move
    # rope_theta into rope_parameters).
    rope = getattr(config, "rope_parameters", None) or {}
    theta = rope.get("rope_theta", getattr(config, "rope_theta", None))
    if theta is not None and abs(float(theta) - float(config_dict["rope_theta"])) > 1e-6:
        raise RuntimeError(f"transformers' config has rope_theta {theta}, config.json "
                           f"{config_dict['rope_theta']}")
    return model.to(device=device, dtype=torch.float32).eval(), config


def one(transformers, torch, safetensors, folder, out, device):
    config_dict = json.loads((folder / "config.json").read_text())
    model, config = build(transformers, torch, config_dict, device)
    weights, _ = safetensors.load(folder / "model.safetensors")
    state = {name: torch.from_numpy(array.astype("float32")) for name, array in weights.items()}
    if config_dict.get("tie_word_embeddings") and "lm_head.weight" not in state:
        state["lm_head.weight"] = state["model.embed_tokens.weight"]
    model.load_state_dict(state, strict=True)
    tokens = json.loads((folder / "tokens.json").read_text())
    with torch.no_grad():
        ids = torch.tensor([tokens], dtype=torch.long, device=device)
        logits = model(input_ids=ids, use_cache=False).logits[0].float().cpu().numpy()
    safetensors.save(out / f"{folder.name}.safetensors", {"logits": logits})
    return (f"{config_dict['architectures'][0]}, attention "
            f"{getattr(config, '_attn_implementation', '?')}, logits {list(logits.shape)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kit", required=True, type=pathlib.Path)
    parser.add_argument("--out", required=True, type=pathlib.Path)
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    parser.add_argument("models", nargs="*", type=pathlib.Path)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    report = {"torch": None, "transformers": None, "models": {}}

    def write():
        (args.out / "hf.json").write_text(json.dumps(report, indent=1) + "\n")

    sys.path.insert(0, str(args.kit))
    start = time.monotonic()
    try:
        import torch
        import transformers

        import tptt_safetensors as safetensors
    except Exception as err:  # the import's failure is the report's
        report["error"] = f"import: {type(err).__name__}: {err}"
        write()
        return 1
    report["torch"], report["transformers"] = torch.__version__, transformers.__version__
    report["import_s"] = round(time.monotonic() - start, 1)
    # Full float32 matmuls (no TF32) for the reference.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    write()
    for folder in args.models:
        try:
            report["models"][folder.name] = {"status": "ok", "detail": one(
                transformers, torch, safetensors, folder, args.out, args.device)}
        except Exception as err:  # one model's failure is its result
            traceback.print_exc()
            report["models"][folder.name] = {
                "status": "error", "detail": f"{type(err).__name__}: {err}".splitlines()[0]}
        write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
