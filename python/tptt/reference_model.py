"""Numpy reference forward of a whole TPTT model (float64), independent of the compiler.

A decoder-only Llama-family backbone (LlamaForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM,
MistralForCausalLM, Gemma3ForCausalLM, Phi3ForCausalLM) as Hugging Face computes it — embedding; per layer RMSNorm, q/k/v projections
(Qwen2: q/k/v biases; Llama/Mistral/Qwen3 with ``attention_bias``: biases on q/k/v/o; Qwen3: an
RMSNorm of each q and k head, ``q_norm``/``k_norm``, before RoPE), rotate-half RoPE (transformers 5's
``rope_parameters`` or ``rope_theta`` with ``rope_scaling``: default, linear, dynamic, yarn,
llama3), causal softmax attention with GQA and a sliding window (Mistral's ``sliding_window``;
Qwen2's and Qwen3's only with ``use_sliding_window``, on its ``layer_types`` or from layer
``max_window_layers``), o_proj, SwiGLU MLP; final norm;
Gemma 3's decoder as transformers' ``modeling_gemma3`` has it: embeddings scaled by √hidden_size
(in float32), RMSNorms with (1 + w), q/k norms, the attention scaled by
``query_pre_attn_scalar``^−½, ``sliding_window`` on the sliding layers of ``layer_types`` (else
all but every ``sliding_window_pattern``-th layer) with their own RoPE (``rope_local_base_freq``,
or ``rope_parameters.sliding_attention``), norms after the attention and around the MLP
(``post_attention_layernorm``, ``pre_feedforward_layernorm``, ``post_feedforward_layernorm``),
the ``gelu_pytorch_tanh`` GeGLU MLP and tied embeddings by default; Phi-3 as Llama with its fused
``qkv_proj`` and ``gate_up_proj`` (see `split_fused`) and ``sliding_window`` on every layer;
lm_head (the embedding with ``tie_word_embeddings``; Gemma's logits then c · tanh(logits / c)
with ``final_logit_softcapping`` c) — with LiZA on the layers of ``tptt.layers``
(all when absent), as SEMANTICS.md ("Per layer") states: the softmax branch keeps only the keys
(t − L, t] with ``max_self_attn_length`` L (the narrower of L and the backbone's window wins),
the linear branch is `tptt.reference.linear_attention` on the same normed input and the layer's
own q/k/v/o projections (the raw ones: Qwen3's q/k norms belong to the softmax branch alone), and `tptt.reference.mag_mix` mixes the two with μ = ``mag_weight``.

    logits = forward(config, weights, tokens)            # config: the config.json dict
    logits = forward_directory("model_dir", tokens)      # reads config.json + safetensors

``tokens`` is [S] (logits [S, vocab]) or [B, S] (logits [B, S, vocab]); ``attention_mask``
[B, S] (1 = real token) describes a left-padded batch. Everything is float64.
"""

import json
import math
import pathlib

import numpy as np

from . import reference as R
from . import safetensors

# The seeds' RECURRENT_MODES: operator_mode -> (order, alpha_gate, beta_gate, linear, trick).
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
EXPLICIT_DEFAULTS = {"order": 1, "alpha_gate": "c", "beta_gate": "k", "linear": True, "trick": "dt"}


def recurrent_config(tptt):
    """order / alpha_gate / beta_gate / linear / trick of a ``tptt`` config object: the row of
    its ``operator_mode``, else its explicit fields over the schema's defaults."""
    mode = tptt.get("operator_mode")
    if mode:
        return dict(zip(EXPLICIT_DEFAULTS, OPERATOR_MODES[mode]))
    return {name: tptt[name] if tptt.get(name) is not None else default
            for name, default in EXPLICIT_DEFAULTS.items()}


GEMMA3 = "Gemma3ForCausalLM"
PHI3 = "Phi3ForCausalLM"


def split_fused(config, weights):
    """Phi-3's fused projections as separate ones, as transformers' Phi3Attention and Phi3MLP
    slice their outputs: qkv_proj's rows are q (heads·d), k then v (kv_heads·d each); gate_up_proj's
    are gate then up (``chunk(2)``)."""
    heads = config["num_attention_heads"]
    kv_heads = config.get("num_key_value_heads") or heads
    head_dim = config.get("head_dim") or config["hidden_size"] // heads
    split = dict(weights)
    for layer in range(config["num_hidden_layers"]):
        p = f"model.layers.{layer}."
        qkv = split.pop(p + "self_attn.qkv_proj.weight")
        q, kv = heads * head_dim, kv_heads * head_dim
        split[p + "self_attn.q_proj.weight"] = qkv[:q]
        split[p + "self_attn.k_proj.weight"] = qkv[q:q + kv]
        split[p + "self_attn.v_proj.weight"] = qkv[q + kv:]
        gate_up = split.pop(p + "mlp.gate_up_proj.weight")
        half = gate_up.shape[0] // 2
        split[p + "mlp.gate_proj.weight"], split[p + "mlp.up_proj.weight"] = gate_up[:half], gate_up[half:]
    return split


def rope_parameters(config, layer_type="full_attention"):
    """The RoPE parameters of the layers of ``layer_type`` as transformers 5 standardizes them:
    ``rope_parameters`` (one object, or one per layer type) or transformers 4's ``rope_scaling``,
    with ``rope_theta`` and ``original_max_position_embeddings`` (the top-level one first) filled
    in. Gemma 3's sliding layers have the default RoPE at ``rope_local_base_freq`` unless
    ``rope_parameters`` gives theirs (a layer type it lacks has the default RoPE at its base);
    its ``rope_theta`` defaults to 10⁶."""
    gemma = config["architectures"][0] == GEMMA3
    params = config.get("rope_parameters") or config.get("rope_scaling") or {}
    per_type = bool(params) and set(params) <= {"full_attention", "sliding_attention"}
    if per_type:
        params = params.get(layer_type) or ({} if gemma else next(iter(params.values())))
    if gemma and layer_type == "sliding_attention" and (per_type or not config.get("rope_parameters")):
        params = {"rope_type": "default", "rope_theta": config.get("rope_local_base_freq", 10000.0),
                  **(params if per_type else {})}
    params = dict(params)
    params.setdefault("rope_type", params.get("type", "default"))
    params.setdefault("rope_theta", config.get("rope_theta", 1.0e6 if gemma else 10000.0))
    if params["rope_type"] in ("llama3", "yarn", "longrope"):
        original = config.get("original_max_position_embeddings")
        if original is not None:
            params["original_max_position_embeddings"] = original
        params.setdefault("original_max_position_embeddings", config.get("max_position_embeddings", 2048))
    return params


def inverse_frequencies(config, head_dim, layer_type="full_attention", longest=1):
    """RoPE inverse frequencies θ^(−2i/d), i < d/2, and the factor cos/sin are scaled by, per
    transformers' ``modeling_rope_utils`` (``_compute_<rope_type>_parameters``):

    - ``linear``: divided by ``factor``;
    - ``dynamic``: unchanged below max_position_embeddings (it rescales θ only beyond);
    - ``llama3``: wavelengths above original/low_freq_factor divided by ``factor``, those below
      original/high_freq_factor kept, those between interpolated;
    - ``yarn``: a linear ramp over the dimensions, between the correction dimensions of
      ``beta_fast`` and ``beta_slow`` rotations (floored/ceiled with ``truncate``), from kept to
      divided by ``factor`` (``max_position_embeddings / original`` when only the latter is
      given); cos/sin scaled by ``attention_factor``, else 0.1·mscale·ln(factor) + 1 (the ratio
      for ``mscale`` / ``mscale_all_dim``);
    - ``longrope``: divided by ``long_factor`` when ``longest`` (the forward's largest position
      + 1) exceeds the original context, else by ``short_factor``; cos/sin scaled by
      ``attention_factor``, else √(1 + ln(factor) / ln(original)) (factor: the given one, else
      max_position_embeddings / original)."""
    params = rope_parameters(config, layer_type)
    kind, theta = params["rope_type"], params["rope_theta"]
    freq = 1.0 / theta ** (np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
    if kind in ("default", "dynamic"):
        return freq, 1.0
    if kind == "linear":
        return freq / params["factor"], 1.0
    original = params["original_max_position_embeddings"]
    if kind == "longrope":
        factor = params.get("factor") or config["max_position_embeddings"] / original
        attention = params.get("attention_factor")
        if attention is None:
            attention = 1.0 if factor <= 1 else math.sqrt(1 + math.log(factor) / math.log(original))
        ext = params["long_factor"] if longest > original else params["short_factor"]
        return freq / np.asarray(ext, dtype=np.float64), attention
    if kind == "llama3":
        factor, low, high = params["factor"], params["low_freq_factor"], params["high_freq_factor"]
        wavelength = 2 * math.pi / freq
        smooth = (original / wavelength - low) / (high - low)
        scaled = np.where(wavelength > original / low, freq / factor, freq)
        middle = (wavelength <= original / low) & (wavelength >= original / high)
        return np.where(middle, (1 - smooth) * freq / factor + smooth * freq, scaled), 1.0
    assert kind == "yarn", kind
    factor = params.get("factor") or config["max_position_embeddings"] / original

    def mscale(scale):
        return 1.0 if factor <= 1 else 0.1 * scale * math.log(factor) + 1.0

    attention = params.get("attention_factor")
    if attention is None:
        if params.get("mscale") and params.get("mscale_all_dim"):
            attention = mscale(params["mscale"]) / mscale(params["mscale_all_dim"])
        else:
            attention = mscale(1.0)

    def correction_dim(rotations):
        return head_dim * math.log(original / (rotations * 2 * math.pi)) / (2 * math.log(theta))

    low, high = correction_dim(params.get("beta_fast") or 32), correction_dim(params.get("beta_slow") or 1)
    if params.get("truncate", True):
        low, high = math.floor(low), math.ceil(high)
    low, high = max(low, 0), min(high, head_dim - 1)
    if low == high:
        high += 0.001
    ramp = np.clip((np.arange(head_dim // 2) - low) / (high - low), 0, 1)
    extrapolation = 1 - ramp
    return freq / factor * (1 - extrapolation) + freq * extrapolation, attention


def layer_types(config):
    """Gemma 3's ``layer_types``, or (transformers 4) every ``sliding_window_pattern``-th layer
    (default 6) full and the others sliding."""
    pattern = config.get("sliding_window_pattern", 6)
    return config.get("layer_types") or [
        "full_attention" if (i + 1) % pattern == 0 else "sliding_attention"
        for i in range(config["num_hidden_layers"])]


def backbone_windows(config):
    """The backbone's own softmax window of each layer (None: none): Mistral's ``sliding_window``
    on every layer; Qwen2's and Qwen3's only with ``use_sliding_window``, on the ``sliding_attention`` layers
    of ``layer_types`` or, without it, from layer ``max_window_layers`` (Hugging Face's default
    28) on; Gemma 3's (default 4096) on its sliding layers; Llama never."""
    arch, count = config["architectures"][0], config["num_hidden_layers"]
    if arch == GEMMA3:
        window = config.get("sliding_window") or 4096
        return [window if kind == "sliding_attention" else None for kind in layer_types(config)]
    if arch in ("MistralForCausalLM", PHI3):
        return [config.get("sliding_window")] * count
    if arch not in ("Qwen2ForCausalLM", "Qwen3ForCausalLM") or not config.get("use_sliding_window", False):
        return [None] * count
    window = config.get("sliding_window")
    types = config.get("layer_types") or ["sliding_attention" if i >= config.get("max_window_layers", 28)
                                          else "full_attention" for i in range(count)]
    return [window if kind == "sliding_attention" else None for kind in types]


def rms_norm(x, weight, eps, offset=0.0):
    """x / √(mean(x²) + eps) · (offset + weight) over the last axis (Gemma: offset 1)."""
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * (offset + weight)


def gelu_tanh(x):
    """transformers' ``gelu_pytorch_tanh``: ½ x (1 + tanh(√(2/π) (x + 0.044715 x³)))."""
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def rope(x, positions, freq, scaling=1.0):
    """x [B, G, S, d] rotated at ``positions`` [B, S], rotate-half convention: x·cos + (−x₂, x₁)·sin
    with the angles p·freq repeated over the two halves of d, cos and sin scaled by ``scaling``."""
    angle = positions[:, :, None].astype(np.float64) * freq[None, None, :]
    cos = scaling * np.concatenate([np.cos(angle)] * 2, axis=-1)[:, None]
    sin = scaling * np.concatenate([np.sin(angle)] * 2, axis=-1)[:, None]
    half = x.shape[-1] // 2
    rotated = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
    return x * cos + rotated * sin


def softmax_attention(q, k, v, positions, rope_tables, heads, kv_heads, window, mask, scale=None):
    """Causal GQA attention of q [B, S, H·d] over k, v [B, S, H_kv·d] after RoPE (``rope_tables``:
    the inverse frequencies and the cos/sin scale), scale 1/√d unless given;
    query t sees the keys in (t − window, t] (all of [0, t] when ``window`` is None) that ``mask``
    keeps, and KV head ⌊h/g⌋ serves query head h. Returns [B, S, H·d]; a row without keys is 0."""
    b, s, _ = q.shape
    d = q.shape[-1] // heads
    qh = rope(q.reshape(b, s, heads, d).transpose(0, 2, 1, 3), positions, *rope_tables)
    kh = rope(k.reshape(b, s, kv_heads, d).transpose(0, 2, 1, 3), positions, *rope_tables)
    vh = v.reshape(b, s, kv_heads, d).transpose(0, 2, 1, 3)
    kh, vh = np.repeat(kh, heads // kv_heads, axis=1), np.repeat(vh, heads // kv_heads, axis=1)
    scores = qh @ kh.transpose(0, 1, 3, 2) * (scale or 1.0 / math.sqrt(d))
    t = np.arange(s)
    visible = t[None, :] <= t[:, None]
    if window:
        visible &= t[None, :] > t[:, None] - window
    visible = visible[None, None] & (mask[:, None, None, :] != 0)
    top = np.max(np.where(visible, scores, -np.inf), axis=-1, keepdims=True)
    weights = np.where(visible, np.exp(scores - np.where(np.isfinite(top), top, 0.0)), 0.0)
    total = weights.sum(-1, keepdims=True)
    probabilities = np.divide(weights, total, out=np.zeros_like(weights), where=total > 0)
    out = probabilities @ vh
    return out.transpose(0, 2, 1, 3).reshape(b, s, heads * d)


def attention_params(weights, layer, qkv_bias, o_bias):
    """The layer's projections in `tptt.reference.linear_attention`'s naming
    ('{q,k,v,out}_proj.{weight,bias}'), zero biases where the architecture has none."""
    params = {}
    for name, key, has_bias in (("q", "q", qkv_bias), ("k", "k", qkv_bias), ("v", "v", qkv_bias),
                                ("o", "out", o_bias)):
        prefix = f"model.layers.{layer}.self_attn.{name}_proj."
        weight = weights[prefix + "weight"]
        params[f"{key}_proj.weight"] = weight
        params[f"{key}_proj.bias"] = weights[prefix + "bias"] if has_bias else np.zeros(weight.shape[0])
    return params


def forward(config, weights, tokens, semantics=None, mag_weight=None, attention_mask=None, liza=True):
    """Logits [B, S, vocab] (or [S, vocab] for 1-D ``tokens``) in float64.

    ``config`` is the config.json dict and ``weights`` maps Hugging Face tensor names to arrays.
    ``semantics`` ("recurrent" or "tptt-0.12") and ``mag_weight`` override the config's;
    ``liza=False`` gives the backbone without LiZA (what μ = 0 must equal); ``attention_mask``
    [B, S] marks the real tokens of a left-padded batch (positions count real tokens only).
    """
    tokens = np.asarray(tokens)
    single = tokens.ndim == 1
    tokens = np.atleast_2d(tokens)
    mask = np.ones(tokens.shape, np.int64) if attention_mask is None else np.asarray(attention_mask)
    w = {name: np.asarray(value, dtype=np.float64) for name, value in weights.items()}
    tptt = config["tptt"]
    arch = config["architectures"][0]
    if arch == PHI3:
        w = split_fused(config, w)
    heads = config["num_attention_heads"]
    kv_heads = config.get("num_key_value_heads") or heads
    gemma = arch == GEMMA3
    default_head_dim = {"Qwen3ForCausalLM": 128, GEMMA3: 256}.get(arch)
    head_dim = config.get("head_dim") or default_head_dim or config["hidden_size"] // heads
    eps = config["rms_norm_eps"]
    offset = 1.0 if gemma else 0.0
    scale = config.get("query_pre_attn_scalar", 256) ** -0.5 if gemma else None
    activation = config.get("hidden_activation", "gelu_pytorch_tanh") if gemma else config.get("hidden_act", "silu")
    act = gelu_tanh if activation == "gelu_pytorch_tanh" else R.silu
    tied = config.get("tie_word_embeddings", gemma)
    qkv_bias = config.get("attention_bias", False) or arch == "Qwen2ForCausalLM"
    o_bias = config.get("attention_bias", False) and arch != "Qwen2ForCausalLM"
    backbone_window = backbone_windows(config)
    semantics = semantics or tptt.get("semantics", "recurrent")
    mu = tptt.get("mag_weight", 0.5) if mag_weight is None else mag_weight
    layers = range(config["num_hidden_layers"])
    liza_layers = set(layers if tptt.get("layers") is None else tptt["layers"]) if liza else set()
    liza_window = tptt.get("max_self_attn_length")
    types = layer_types(config) if gemma else ["full_attention"] * config["num_hidden_layers"]
    positions = np.maximum(np.cumsum(mask, axis=1) - 1, 0)
    rope_tables = {kind: inverse_frequencies(config, head_dim, kind, int(positions.max()) + 1)
                   for kind in set(types)}
    linear_options = {
        "recurrent_config": recurrent_config(tptt), "num_heads": heads, "num_kv_heads": kv_heads,
        "max_chunk_size": tptt.get("max_chunk_size", 64), "semantics": semantics,
        "attention_mask": attention_mask, "padding_side": "left" if attention_mask is not None else None,
        "bidirectional": tptt.get("bidirectional", False),
        "linear_precision": tptt.get("linear_precision", "float32"),
    }

    x = w["model.embed_tokens.weight"][tokens]
    if gemma:
        x = x * float(np.float32(math.sqrt(config["hidden_size"])))
    for layer in layers:
        p = f"model.layers.{layer}."
        h = rms_norm(x, w[p + "input_layernorm.weight"], eps, offset)
        params = attention_params(w, layer, qkv_bias, o_bias)
        q, k, v = (h @ params[f"{n}_proj.weight"].T + params[f"{n}_proj.bias"] for n in "qkv")
        q_soft, k_soft = q, k
        if arch in ("Qwen3ForCausalLM", GEMMA3):
            def head_norm(x, name):
                split = x.reshape(*x.shape[:-1], -1, head_dim)
                return rms_norm(split, w[p + f"self_attn.{name}.weight"], eps, offset).reshape(x.shape)
            q_soft, k_soft = head_norm(q, "q_norm"), head_norm(k, "k_norm")
        windows = [backbone_window[layer],
                   liza_window if layer in liza_layers else None]
        window = min((n for n in windows if n), default=None)
        soft = softmax_attention(q_soft, k_soft, v, positions, rope_tables[types[layer]], heads, kv_heads,
                                 window, mask, scale)
        attn = soft @ params["out_proj.weight"].T + params["out_proj.bias"]
        if layer in liza_layers:
            lin = R.linear_attention(h, params, **linear_options)
            attn = R.mag_mix(attn, lin, mu, tptt.get("cross_gate", False), tptt.get("base_scale_attn", False))
        if gemma:
            attn = rms_norm(attn, w[p + "post_attention_layernorm.weight"], eps, offset)
        x = x + attn
        h = rms_norm(x, w[p + ("pre_feedforward_layernorm" if gemma else "post_attention_layernorm") + ".weight"],
                     eps, offset)
        gate, up = h @ w[p + "mlp.gate_proj.weight"].T, h @ w[p + "mlp.up_proj.weight"].T
        mlp = (act(gate) * up) @ w[p + "mlp.down_proj.weight"].T
        if gemma:
            mlp = rms_norm(mlp, w[p + "post_feedforward_layernorm.weight"], eps, offset)
        x = x + mlp
    x = rms_norm(x, w["model.norm.weight"], eps, offset)
    head = w["model.embed_tokens.weight"] if tied else w["lm_head.weight"]
    logits = x @ head.T
    cap = config.get("final_logit_softcapping") if gemma else None
    if cap:
        logits = cap * np.tanh(logits / cap)
    return logits[0] if single else logits


def load_weights(directory):
    """The tensors of ``model.safetensors``, or of the shards that ``model.safetensors.index.json``
    names (BF16 and F16 values come back exactly, as float32 and float16)."""
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
    """`forward` on a model directory (its config.json and weights)."""
    config = json.loads((pathlib.Path(directory) / "config.json").read_text())
    return forward(config, load_weights(directory), tokens, **options)
