"""Random-weight models of the backbones the reference library's golden models lack, laid out as
those are, for the kit's model and transformers checks.

    random_models.py OUT_DIR

writes OUT_DIR/random-<name>/ with config.json and model.safetensors (tptt.random_model),
tokens.json, and expected.safetensors whose ``logits`` (the config's semantics) and
``logits_recurrent`` come from tptt.reference_model, the numpy forward of float64.
"""
import json
import pathlib
import sys

import numpy as np

from tptt import random_model, safetensors
from tptt import reference_model as M

# name -> random_model.write options.
MODELS = {
    # q_norm/k_norm, a window on layer 2, LiZA on layers 0 and 2.
    "qwen3": dict(arch="Qwen3ForCausalLM", layers=3, heads=4, kv_heads=2, head_dim=16, vocab=128,
                  sliding_window=6, use_sliding_window=True, max_window_layers=2,
                  tptt={"operator_mode": "delta_product", "layers": [0, 2], "semantics": "tptt-0.12"}),
    # Gemma 3: layers 0 and 2 sliding (window 4, RoPE base 10⁴), layer 1 full (base 10⁶, linear
    # scaling), query_pre_attn_scalar 3·head_dim, GeGLU, (1 + w) and sandwich norms, √hidden
    # embeddings, logits soft-capped at 2; layer_types written out, which every transformers
    # version reads.
    "gemma3": dict(arch="Gemma3ForCausalLM", layers=3, heads=4, kv_heads=1, head_dim=16, vocab=128,
                   layer_types=["sliding_attention", "full_attention", "sliding_attention"],
                   rope_scaling={"rope_type": "linear", "factor": 2.0}, final_logit_softcapping=2.0,
                   tptt={"operator_mode": "gated_delta_product", "layers": [0, 1]}),
    # Phi-3: fused qkv_proj and gate_up_proj, a window of 6 on every layer.
    "phi3": dict(arch="Phi3ForCausalLM", layers=2, heads=4, kv_heads=2, head_dim=16, hidden=64, vocab=128,
                 sliding_window=6, tptt={"operator_mode": "delta_product"}),
    # Phi-3-128k's longrope with an original context of 16 < TOKENS: the long factors, and
    # √(1 + ln 4 / ln 16) on cos/sin.
    "phi3-longrope": dict(arch="Phi3ForCausalLM", layers=2, heads=4, kv_heads=2, head_dim=16, hidden=64,
                          vocab=128, max_position_embeddings=64, original_max_position_embeddings=16,
                          rope_scaling=random_model.longrope_scaling(16), tptt={"operator_mode": "delta_rule"}),
}
TOKENS = 24


def main():
    out = pathlib.Path(sys.argv[1])
    for seed, (name, options) in enumerate(MODELS.items()):
        directory = out / f"random-{name}"
        config = random_model.write(directory, seed=seed, **options)
        tokens = [int(t) for t in np.random.default_rng(seed).integers(0, config["vocab_size"], TOKENS)]
        (directory / "tokens.json").write_text(json.dumps(tokens))
        weights = M.load_weights(directory)
        expected = {"logits": M.forward(config, weights, tokens),
                    "logits_recurrent": M.forward(config, weights, tokens, semantics="recurrent")}
        safetensors.save(str(directory / "expected.safetensors"), expected)


if __name__ == "__main__":
    main()
