"""Writes the model directory of the device kit's 1B-shaped Llama, with sparse weights.

    /usr/bin/python3 scripts/gpu-kit/llama1b.py DIR

DIR/config.json: a Llama of hidden 2048, 16 layers, 32 heads of 64, 8 KV heads, intermediate 8192,
vocabulary 128256, 8192 positions, rope_theta 500000, word embeddings tied (as Llama 3.2 1B), and a
`tptt` section in the form of examples/tiny-llama's (without its LoRA configuration) that puts LiZA
on every layer, semantics recurrent.

DIR/model.safetensors: every tensor of that model (Hugging Face names and shapes, BF16), whose data
region is a hole: the header is written, then the file is truncated to its full size (2.5 GB), so
that nothing but the header takes disk space. The weights are zero; tptt-compile --external-weights
only needs their names, shapes and dtypes here (the executable is carried without them), and the
kit's run.py writes random ones on the device.
"""

import json
import pathlib
import struct
import sys

HIDDEN, LAYERS, HEADS, KV_HEADS, HEAD_DIM = 2048, 16, 32, 8, 64
INTERMEDIATE, VOCAB, POSITIONS = 8192, 128256, 8192

CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": HIDDEN,
    "intermediate_size": INTERMEDIATE,
    "hidden_act": "silu",
    "num_hidden_layers": LAYERS,
    "num_attention_heads": HEADS,
    "num_key_value_heads": KV_HEADS,
    "head_dim": HEAD_DIM,
    "vocab_size": VOCAB,
    "rms_norm_eps": 1e-05,
    "rope_theta": 500000.0,
    "max_position_embeddings": POSITIONS,
    "tie_word_embeddings": True,
    "attention_bias": False,
    "torch_dtype": "bfloat16",
    "bos_token_id": 128000,
    "eos_token_id": 128001,
    "tptt": {
        "mag_weight": 0.5,
        "max_chunk_size": 64,
        "operator_mode": "delta_product",
        "max_self_attn_length": None,
        "linear_precision": "float32",
        "target_modules_names": ["self_attn"],
        "semantics": "recurrent",
    },
}


def tensors():
    """(name, shape) of every tensor of the model, in Hugging Face's names and layout."""
    yield "model.embed_tokens.weight", [VOCAB, HIDDEN]
    for i in range(LAYERS):
        layer = f"model.layers.{i}"
        yield f"{layer}.input_layernorm.weight", [HIDDEN]
        yield f"{layer}.self_attn.q_proj.weight", [HEADS * HEAD_DIM, HIDDEN]
        yield f"{layer}.self_attn.k_proj.weight", [KV_HEADS * HEAD_DIM, HIDDEN]
        yield f"{layer}.self_attn.v_proj.weight", [KV_HEADS * HEAD_DIM, HIDDEN]
        yield f"{layer}.self_attn.o_proj.weight", [HIDDEN, HEADS * HEAD_DIM]
        yield f"{layer}.post_attention_layernorm.weight", [HIDDEN]
        yield f"{layer}.mlp.gate_proj.weight", [INTERMEDIATE, HIDDEN]
        yield f"{layer}.mlp.up_proj.weight", [INTERMEDIATE, HIDDEN]
        yield f"{layer}.mlp.down_proj.weight", [HIDDEN, INTERMEDIATE]
    yield "model.norm.weight", [HIDDEN]


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: llama1b.py DIR")
    out = pathlib.Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(CONFIG, indent=1) + "\n")
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, shape in tensors():
        size = 2
        for dim in shape:
            size *= dim
        header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(out / "model.safetensors", "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        f.truncate(8 + len(text) + offset)
    print(f"llama1b.py: {out}: {offset // 2} parameters, {offset} bytes of BF16 (sparse)",
          file=sys.stderr)


if __name__ == "__main__":
    main()
