"""Numpy reference forward of a whole TPTT model (float64), independent of the compiler.

A decoder-only Llama-family backbone (LlamaForCausalLM, Qwen2ForCausalLM, MistralForCausalLM) as
Hugging Face computes it — embedding, per layer RMSNorm, q/k/v projections (Qwen2: q/k/v biases;
``attention_bias``: biases on q/k/v/o), rotate-half RoPE (``rope_theta``, llama3 ``rope_scaling``),
causal softmax attention with GQA and a sliding window, o_proj, SwiGLU MLP, final norm, lm_head
(tied to the embedding with ``tie_word_embeddings``) — with LiZA on the layers of ``tptt.layers``
(all when absent): the linear branch of `tptt.reference.linear_attention` mixed with the softmax
branch by `tptt.reference.mag_mix` (SEMANTICS.md, "Per layer").

    logits = forward(config, weights, tokens)            # config: the config.json dict
    logits = forward_directory("model_dir", tokens)      # reads config.json + safetensors

``tokens`` is [S] or [B, S]; ``attention_mask`` [B, S] (1 = real token) supports left padding.
"""

import json
import math
import pathlib

import numpy as np

from . import reference as R
from . import safetensors

# The seeds' RECURRENT_MODES: (order, alpha_gate, beta_gate, linear, trick).
OPERATOR_MODES = {
    "delta_rule": (1, "c", "k", True, "dt"),
    "gated_delta_rule": (1, "k", "k", True, "dt"),
    "delta_rule_v": (1, "c", "v", True, "dt"),
    "delta_rule_kv": (1, "c", "kv", True, "dt"),
    "delta_rule_gelu": (1, "c", "k", False, "dt"),
    "delta_product": (2, "c", "k", True, "dt"),
    "gated_delta_product": (2, "k", "k", True, "dt"),
    "delta_product_r": (2, "c", "k", True, "rot"),
    "delta_product_c": (2, "c", "k", True, "rdt"),
}


def recurrent_config(tptt):
    """order / alpha_gate / beta_gate / linear / trick of a ``tptt`` config object."""
    mode = tptt.get("operator_mode")
    if mode:
        order, alpha, beta, linear, trick = OPERATOR_MODES[mode]
    else:
        order, alpha, beta = tptt.get("order", 1), tptt.get("alpha_gate", "c"), tptt.get("beta_gate", "k")
        linear, trick = tptt.get("linear", True), tptt.get("trick", "dt")
    return {"order": order, "alpha_gate": alpha, "beta_gate": beta, "linear": linear, "trick": trick}


def inverse_frequencies(config, head_dim):
    """RoPE inverse frequencies, with llama3 scaling when configured."""
    theta = config.get("rope_theta", 10000.0)
    freq = 1.0 / theta ** (np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
    scaling = config.get("rope_scaling") or {}
    if scaling.get("rope_type", scaling.get("type")) == "llama3":
        factor, low, high = scaling["factor"], scaling["low_freq_factor"], scaling["high_freq_factor"]
        original = scaling["original_max_position_embeddings"]
        wavelength = 2 * math.pi / freq
        smooth = (original / wavelength - low) / (high - low)
        scaled = np.where(wavelength > original / low, freq / factor, freq)
        middle = (wavelength <= original / low) & (wavelength >= original / high)
        scaled = np.where(middle, (1 - smooth) * freq / factor + smooth * freq, scaled)
        freq = scaled
    return freq


def rms_norm(x, weight, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * weight


def rope(x, positions, freq):
    """x [B, G, S, d] rotated at ``positions`` [B, S] (rotate-half convention)."""
    angle = positions[:, :, None].astype(np.float64) * freq[None, None, :]
    cos = np.concatenate([np.cos(angle)] * 2, axis=-1)[:, None]
    sin = np.concatenate([np.sin(angle)] * 2, axis=-1)[:, None]
    half = x.shape[-1] // 2
    rotated = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
    return x * cos + rotated * sin


def softmax_attention(q, k, v, positions, freq, heads, kv_heads, window, mask):
    """Causal GQA attention of q [B, S, H·d] over k, v [B, S, Hkv·d]; query t sees keys in
    (t − window, t] that the mask keeps. Returns [B, S, H·d] (rows without keys are 0)."""
    b, s, _ = q.shape
    d = q.shape[-1] // heads
    qh = rope(q.reshape(b, s, heads, d).transpose(0, 2, 1, 3), positions, freq)
    kh = rope(k.reshape(b, s, kv_heads, d).transpose(0, 2, 1, 3), positions, freq)
    vh = v.reshape(b, s, kv_heads, d).transpose(0, 2, 1, 3)
    group = heads // kv_heads
    kh, vh = np.repeat(kh, group, axis=1), np.repeat(vh, group, axis=1)
    scores = qh @ kh.transpose(0, 1, 3, 2) / math.sqrt(d)
    t = np.arange(s)
    visible = t[None, :] <= t[:, None]
    if window:
        visible &= t[None, :] > t[:, None] - window
    visible = visible[None, None] & (mask[:, None, None, :] != 0)
    scores = np.where(visible, scores, -np.inf)
    top = np.max(np.where(visible, scores, -1e300), axis=-1, keepdims=True)
    weights = np.where(visible, np.exp(scores - top), 0.0)
    total = weights.sum(-1, keepdims=True)
    probabilities = np.divide(weights, total, out=np.zeros_like(weights), where=total > 0)
    out = probabilities @ vh
    return out.transpose(0, 2, 1, 3).reshape(b, s, heads * d)


def forward(config, weights, tokens, semantics=None, mag_weight=None, attention_mask=None, liza=True):
    """Logits [B, S, vocab] (or [S, vocab] for 1-D ``tokens``) in float64.

    ``semantics`` and ``mag_weight`` override the config's; ``liza=False`` gives the backbone
    without LiZA (what μ = 0 must equal).
    """
    tokens = np.asarray(tokens)
    single = tokens.ndim == 1
    tokens = np.atleast_2d(tokens)
    batch, seq = tokens.shape
    mask = np.ones((batch, seq), np.int64) if attention_mask is None else np.asarray(attention_mask)
    w = {name: np.asarray(value, dtype=np.float64) for name, value in weights.items()}
    tptt = config["tptt"]
    arch = config["architectures"][0]
    heads = config["num_attention_heads"]
    kv_heads = config.get("num_key_value_heads") or heads
    head_dim = config.get("head_dim") or config["hidden_size"] // heads
    eps = config["rms_norm_eps"]
    qkv_bias = config.get("attention_bias", False) or arch == "Qwen2ForCausalLM"
    o_bias = config.get("attention_bias", False) and arch != "Qwen2ForCausalLM"
    use_window = arch == "MistralForCausalLM" or config.get("use_sliding_window", False)
    backbone_window = config.get("sliding_window") if use_window else None
    semantics = semantics or tptt.get("semantics", "recurrent")
    mu = tptt.get("mag_weight", 0.5) if mag_weight is None else mag_weight
    layers = tptt.get("layers")
    liza_layers = set(range(config["num_hidden_layers"]) if layers is None else layers) if liza else set()
    freq = inverse_frequencies(config, head_dim)
    positions = np.maximum(np.cumsum(mask, axis=1) - 1, 0)
    cfg = recurrent_config(tptt)
    padding_side = "left" if attention_mask is not None else None

    x = w["model.embed_tokens.weight"][tokens]
    for layer in range(config["num_hidden_layers"]):
        p = f"model.layers.{layer}."
        h = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        params = {}
        for name in ("q", "k", "v", "o"):
            weight = w[p + f"self_attn.{name}_proj.weight"]
            has_bias = o_bias if name == "o" else qkv_bias
            bias = w[p + f"self_attn.{name}_proj.bias"] if has_bias else np.zeros(weight.shape[0])
            key = "out" if name == "o" else name
            params[f"{key}_proj.weight"], params[f"{key}_proj.bias"] = weight, bias
        q, k, v = (h @ params[f"{n}_proj.weight"].T + params[f"{n}_proj.bias"] for n in "qkv")
        window = backbone_window
        if layer in liza_layers and tptt.get("max_self_attn_length"):
            window = min(filter(None, [window, tptt["max_self_attn_length"]]))
        soft = softmax_attention(q, k, v, positions, freq, heads, kv_heads, window, mask)
        soft = soft @ params["out_proj.weight"].T + params["out_proj.bias"]
        if layer in liza_layers:
            lin = R.linear_attention(h, params, cfg, heads, kv_heads, tptt.get("max_chunk_size", 64),
                                     semantics, attention_mask=attention_mask,
                                     padding_side=padding_side, bidirectional=tptt.get("bidirectional", False))
            attn = R.mag_mix(soft, lin, mu, tptt.get("cross_gate", False), tptt.get("base_scale_attn", False))
        else:
            attn = soft
        x = x + attn
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        gate = h @ w[p + "mlp.gate_proj.weight"].T
        up = h @ w[p + "mlp.up_proj.weight"].T
        x = x + (R.silu(gate) * up) @ w[p + "mlp.down_proj.weight"].T
    x = rms_norm(x, w["model.norm.weight"], eps)
    head = w["model.embed_tokens.weight"] if config.get("tie_word_embeddings") else w["lm_head.weight"]
    logits = x @ head.T
    return logits[0] if single else logits


def load_weights(directory):
    """The tensors of ``model.safetensors`` or of the shards of its index."""
    directory = pathlib.Path(directory)
    single = directory / "model.safetensors"
    if single.exists():
        return safetensors.load(str(single))[0]
    index = json.loads((directory / "model.safetensors.index.json").read_text())
    weights = {}
    for shard in sorted(set(index["weight_map"].values())):
        weights.update(safetensors.load(str(directory / shard))[0])
    return weights


def forward_directory(directory, tokens, **options):
    """`forward` on a model directory (config.json and its weights)."""
    config = json.loads((pathlib.Path(directory) / "config.json").read_text())
    return forward(config, load_weights(directory), tokens, **options)
