"""`python3 -m tptt card MODEL_DIR`: a README.md model card for a TPTT model directory.

In the spirit of the reference library's template (shared/seeds/003): base model, LiZA operator,
Memory-as-Gate, LoRA, training data and metrics (from a run's ``metrics.csv`` when the directory
has one), the variant name in the reference library's scheme, and how to run it compiled. The
template's variables are options: ``model_id`` (the title; default the variant name), ``dataset``
(the front matter's ``datasets``, one or more) and the hardware it was trained on.
"""

import csv
import datetime
import json
import pathlib

from .reference_model import recurrent_config


def model_name(lora=True, cross_gate=False, bidirectional=False, order=1, alpha_gate="c", beta_gate="k",
               linear=True, trick="dt", prefix="liza", date=None):
    """The reference library's ``get_model_name``: e.g.
    ``liza_lora_mag_causal_alpha-c_beta-k_order-2_linear_trick-dt_2026-11-22``."""
    parts = [prefix, "lora" if lora else "full", "cross" if cross_gate else "mag",
             "bidir" if bidirectional else "causal", f"alpha-{alpha_gate}", f"beta-{beta_gate}",
             f"order-{order}", "linear" if linear else "gelu", f"trick-{trick}"]
    name = "_".join(parts)
    return f"{name}_{date}" if date else name


def read_metrics(path):
    """The last row and the number of rows of a metrics.csv, or None."""
    if not path.exists():
        return None
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return (rows[-1], len(rows)) if rows else None


def card(model_dir, date=None, model_id=None, datasets=(), hardware=None):
    """The card's markdown text."""
    model_dir = pathlib.Path(model_dir)
    config = json.loads((model_dir / "config.json").read_text())
    tptt = config["tptt"]
    cfg = recurrent_config(tptt)
    lora = tptt.get("lora_config")
    date = date or datetime.date.today().isoformat()
    name = model_name(lora is not None, tptt.get("cross_gate", False), tptt.get("bidirectional", False),
                      date=date, **cfg)
    base = tptt.get("base_model_name") or config.get("_name_or_path") or config["architectures"][0]
    layers = tptt.get("layers")
    lines = [
        "---", "language: en", "license: apache-2.0", "tags:", "  - tptt", "  - liza", "  - peft",
        "pipeline_tag: text-generation", f"base_model: {base}"]
    if datasets:
        lines += ["datasets:"] + [f"- {dataset}" for dataset in datasets]
    lines += [
        "---", "",
        f"# {model_id or name}", "",
        f"Titanesque version of `{base}` ({config['architectures'][0]}): its attention layers carry LiZA, "
        "a linear-attention memory mixed with the softmax attention by a Memory-as-Gate weight "
        "([TPTT](https://arxiv.org/abs/2506.17671)), compiled with tptt.", "",
        "## Configuration", "",
        "| field | value |", "|---|---|",
        f"| operator mode | {tptt.get('operator_mode') or 'explicit'} (order {cfg['order']}, alpha gate "
        f"`{cfg['alpha_gate']}`, beta gate `{cfg['beta_gate']}`, {'linear' if cfg['linear'] else 'gelu'}, "
        f"trick `{cfg['trick']}`) |",
        f"| LiZA layers | {'all' if layers is None else ', '.join(map(str, layers))} of "
        f"{config['num_hidden_layers']} |",
        f"| Memory-as-Gate μ | {tptt.get('mag_weight', 0.5)}"
        f"{' with cross gate' if tptt.get('cross_gate') else ''}"
        f"{', base_scale_attn' if tptt.get('base_scale_attn') else ''} |",
        f"| max self-attention length | {tptt.get('max_self_attn_length') or 'unbounded'} |",
        f"| max chunk size | {tptt.get('max_chunk_size', 64)} |",
        f"| semantics | {tptt.get('semantics', 'recurrent')} |",
        f"| LoRA | {'r = %s, alpha = %s, dropout = %s, on %s' % (lora['r'], lora['lora_alpha'], lora.get('lora_dropout', 0.0), ', '.join(lora.get('target_modules', []))) if lora else 'none'} |",
        "",
    ]
    metrics = read_metrics(model_dir / "metrics.csv")
    lines += ["## Training", ""]
    if model_id:
        lines += [f"Variant: `{name}`.", ""]
    if datasets or hardware:
        lines += [f"Trained{' on ' + ', '.join(datasets) if datasets else ''}"
                  f"{' with ' + hardware if hardware else ''}.", ""]
    if metrics:
        last, rows = metrics
        lines += [f"From `metrics.csv` ({rows} rows); last row:", "", "| metric | value |", "|---|---|"]
        lines += [f"| {key} | {value} |" for key, value in last.items()]
    else:
        lines.append("No training run recorded in this directory (no `metrics.csv`).")
    lines += ["", "## Usage", "", "```sh",
              f"tptt-compile {model_dir.name} -o model",
              "./model info",
              "./model generate --prompt \"Your prompt here\" --max-new-tokens 100",
              "```", "", "From Python:", "", "```python", "import tptt",
              f"model = tptt.Model(tptt.compile(\"{model_dir.name}\"))",
              "print(model.generate(\"Your prompt here\", max_new_tokens=100))", "```", ""]
    return "\n".join(lines)


def write_card(model_dir, date=None, model_id=None, datasets=(), hardware=None):
    path = pathlib.Path(model_dir) / "README.md"
    path.write_text(card(model_dir, date, model_id, datasets, hardware))
    return path
