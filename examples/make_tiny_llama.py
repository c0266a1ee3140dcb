"""Writes examples/tiny-llama: a small Llama-family TPTT model directory.

config.json (LlamaForCausalLM, hidden 64, 2 layers, 4 heads of 16, 2 KV heads, LiZA
`delta_product` on every layer, recurrent semantics), model.safetensors (BF16, seeded random
weights: the model is not trained, its text is noise until the training issue ships a trained
one) and tokenizer.json (a byte-level BPE over the 256 bytes, with <|begin_of_text|> as BOS and
<|end_of_text|> as EOS). Reproducible: the same files on every run.

    /usr/bin/python3 examples/make_tiny_llama.py [OUT_DIR]
"""
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "python"))
from tptt import random_model  # noqa: E402

HIDDEN, INTER, LAYERS, HEADS, KV_HEADS, HEAD_DIM = 64, 176, 2, 4, 2, 16
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


def main():
    out = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else pathlib.Path(__file__).parent / "tiny-llama"
    out.mkdir(parents=True, exist_ok=True)
    config = random_model.make_config(
        hidden=HIDDEN, intermediate=INTER, layers=LAYERS, heads=HEADS, kv_heads=KV_HEADS,
        head_dim=HEAD_DIM, vocab=VOCAB, dtype="BF16",
        tptt={"operator_mode": "delta_product", "mag_weight": 0.5, "max_chunk_size": 64,
              "max_self_attn_length": None, "linear_precision": "float32",
              "target_modules_names": ["self_attn"], "semantics": "recurrent",
              "lora_config": {"r": 8, "lora_alpha": 16, "lora_dropout": 0.0,
                              "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"]}},
        rms_norm_eps=1e-5, tie_word_embeddings=True, bos_token_id=BOS, eos_token_id=EOS)
    tensors = random_model.random_weights(config, seed=2026)
    (out / "config.json").write_text(json.dumps(config, indent=1) + "\n")
    (out / "tokenizer.json").write_text(json.dumps(tokenizer(), indent=1, ensure_ascii=False) + "\n")
    random_model.save_weights(out, tensors, dtype="BF16")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
