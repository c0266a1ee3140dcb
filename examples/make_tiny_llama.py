"""Writes the tiny Llama-family TPTT model of the examples.

The model: LlamaForCausalLM, hidden 128, 4 layers, 4 heads of 32, 2 KV heads, tied embeddings,
a byte-level tokenizer (the 256 bytes, <|begin_of_text|> as BOS, <|end_of_text|> as EOS),
BF16 weights. `init` writes its seeded random initialisation as a plain base model (LiZA on no
layer) to pre-train; `inject` takes the weights a pre-training run saved and writes the TPTT
model: the same weights, LiZA (`delta_product`, recurrent semantics, μ 0.5) on every layer and
the seeds' LoRA configuration (examples/pretrain-tiny-llama.sh runs the whole recipe).

    /usr/bin/python3 examples/make_tiny_llama.py init OUT_DIR | inject CHECKPOINT_DIR OUT_DIR
"""
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "python"))
from tptt import random_model, safetensors  # noqa: E402

HIDDEN, INTER, LAYERS, HEADS, KV_HEADS, HEAD_DIM = 128, 352, 4, 4, 2, 32
BOS, EOS = 256, 257
VOCAB = 258


def byte_alphabet():
    """GPT-2's byte-to-character map (printable bytes stand for themselves)."""
    printable = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    chars, extra = {}, 0
    for b in range(256):
        if b in printable:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return chars


def tokenizer():
    vocab = {char: b for b, char in byte_alphabet().items()}
    specials = [{"id": BOS, "content": "<|begin_of_text|>"}, {"id": EOS, "content": "<|end_of_text|>"}]
    return {
        "version": "1.0",
        "added_tokens": [dict(t, special=True, single_word=False, lstrip=False, rstrip=False,
                              normalized=False) for t in specials],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                          "use_regex": True},
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                                      {"Sequence": {"id": "A", "type_id": 0}}],
                           "pair": [],
                           "special_tokens": {"<|begin_of_text|>": {"id": "<|begin_of_text|>",
                                                                    "ids": [BOS],
                                                                    "tokens": ["<|begin_of_text|>"]}}},
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "vocab": vocab, "merges": [], "byte_fallback": False,
                  "ignore_merges": False},
    }


def config(liza):
    """The model's config.json: LiZA on every layer, or (``liza`` false) on none, which is the
    plain Llama base model that is pre-trained."""
    return random_model.make_config(
        hidden=HIDDEN, intermediate=INTER, layers=LAYERS, heads=HEADS, kv_heads=KV_HEADS,
        head_dim=HEAD_DIM, vocab=VOCAB, dtype="BF16",
        tptt={"operator_mode": "delta_product", "mag_weight": 0.5, "max_chunk_size": 64,
              "max_self_attn_length": None, "linear_precision": "float32",
              "target_modules_names": ["self_attn"], "semantics": "recurrent",
              **({} if liza else {"layers": []}),
              "lora_config": {"r": 8, "lora_alpha": 16, "lora_dropout": 0.05,
                              "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"]}},
        rms_norm_eps=1e-5, tie_word_embeddings=True, bos_token_id=BOS, eos_token_id=EOS,
        max_position_embeddings=1024)


def write(out, model_config, tensors):
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(model_config, indent=1) + "\n")
    (out / "tokenizer.json").write_text(json.dumps(tokenizer(), indent=1, ensure_ascii=False) + "\n")
    random_model.save_weights(out, tensors, dtype="BF16")
    print(f"wrote {out}")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "init":
        base = config(liza=False)
        tensors = random_model.random_weights(base, seed=2026)
        for name in tensors:
            if name.endswith("norm.weight"):
                tensors[name][:] = 1.0
        write(pathlib.Path(sys.argv[2]), base, tensors)
    elif len(sys.argv) == 4 and sys.argv[1] == "inject":
        tensors, _ = safetensors.load(str(pathlib.Path(sys.argv[2]) / "model.safetensors"))
        write(pathlib.Path(sys.argv[3]), config(liza=True), tensors)
    else:
        sys.exit(__doc__.strip().splitlines()[-1].strip())


if __name__ == "__main__":
    main()
