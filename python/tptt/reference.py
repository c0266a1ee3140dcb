"""Numpy reference forward of the LiZA linear-attention branch under both semantics.

Shapes follow shared/spec/tptt-0.12-reference.md: B batch, S tokens, H query heads, H_kv key/value
heads (g = H / H_kv), d head dim, n order (virtual tokens per real token). A state S ∈ R^{d×d} has
rows = key channels and columns = value channels; the read-out is y = Sᵀ q.

Two semantics (shared/spec/SEMANTICS.md):

* ``"recurrent"``: the plain sequential delta recurrence over virtual tokens (`operator_recurrent`),
  independent of any chunking; padded positions are skipped, so every sequence of a batch gets its
  unpadded result.
* ``"tptt-0.12"``: the chunk arithmetic of tptt 0.12.1 (`operator_012`), which depends on the chunk
  size, starts from a state filled with 1e-6 and lets padded tokens erase memory.

Everything is computed in float64. Masks are [B, S] arrays with 1 (or True) for a real token.
"""

import math

import numpy as np

SEMANTICS = ("recurrent", "tptt-0.12")
GATE_CODES = ("k", "v", "kv", "c")
TRICKS = ("dt", "rot", "rdt", "cte")

NORM_EPS = 1e-6  # feature-map L2 normalisation: x / max(‖x‖, eps)
PHI_EPS = 1e-6  # φ row norm: ‖H_a,:‖ + eps
RMS_EPS = 1e-6  # head merge: Y / sqrt(mean(Y²) + eps)
BASE_SCALE_EPS = 1e-5  # MaG base_scale_attn: sqrt(mean_D(O_soft²) + eps)
STATE_FILL_012 = 1e-6  # tptt-0.12 state when no initial state is given


def _as_mask(mask, shape):
    """Boolean [B, S] mask (True = real token); all True when ``mask`` is None."""
    if mask is None:
        return np.ones(shape, dtype=bool)
    mask = np.asarray(mask)
    if mask.shape != shape:
        raise ValueError(f"mask has shape {mask.shape}, expected {shape}")
    return mask != 0


def _per_sequence(fn, x, mask, axis):
    """Apply ``fn`` to the real tokens of every sequence of ``x`` alone; padded positions get 0.

    ``x`` has batch on axis 0 and the sequence on ``axis``; ``fn`` maps an array of the same layout
    with batch 1 and only the real tokens to its result, whose sequence axis is ``axis`` too.
    """
    outputs = []
    for b in range(x.shape[0]):
        real = np.flatnonzero(mask[b])
        y = fn(np.take(x[b : b + 1], real, axis=axis))
        out_shape = list(y.shape)
        out_shape[axis] = x.shape[axis]
        out = np.zeros(out_shape, dtype=y.dtype)
        index = [slice(None)] * y.ndim
        index[axis] = real
        out[tuple(index)] = y
        outputs.append(out)
    return np.concatenate(outputs, axis=0)


def sigmoid(x):
    """σ(x) = 1 / (1 + e^{−x})."""
    return 1.0 / (1.0 + np.exp(-x))


def silu(x):
    """silu(x) = x · σ(x)."""
    return x * sigmoid(x)


def gelu_tanh(z):
    """GELU, tanh approximation: z/2 · (1 + tanh(√(2/π) (z + 0.044715 z³)))."""
    return 0.5 * z * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (z + 0.044715 * z**3)))


# --------------------------------------------------------------------------- gates


def causal_mean(x, width=3, mask=None):
    """Causal mean of ``width`` rows along axis −2, with left replicate padding.

    p_t = (1/w) Σ_{i=0}^{w−1} x_{max(t−i, 0)}; for w = 3: p₀ = x₀, p₁ = (2x₀ + x₁)/3,
    p_t = (x_{t−2} + x_{t−1} + x_t)/3. Computed as Σ (1/w)·x like the reference convolution.

    With ``mask`` ([B, S] for x [B, S, F]; recurrent semantics) the window runs over the real
    tokens of each sequence only: padded positions never enter the pool, the first real token is
    the replicate value, and the output at padded positions is 0.
    """
    x = np.asarray(x, dtype=np.float64)
    if mask is not None:
        m = _as_mask(mask, x.shape[:2])
        return _per_sequence(lambda xs: causal_mean(xs, width), x, m, axis=1)
    if x.shape[-2] == 0:
        return x.copy()
    first = np.take(x, [0], axis=-2)
    padded = np.concatenate([np.repeat(first, width - 1, axis=-2), x], axis=-2)
    seq = x.shape[-2]
    weight = 1.0 / width
    out = np.zeros_like(x)
    for i in range(width):
        out = out + weight * padded[..., i : i + seq, :]
    return out


def _split_heads(x, heads):
    """[B, S, heads·d] -> [B, heads, S, d]."""
    b, s, f = x.shape
    return x.reshape(b, s, heads, f // heads).transpose(0, 2, 1, 3)


def _repeat_kv(x, num_heads, num_kv_heads):
    """GQA: [B, H_kv, S, d] -> [B, H, S, d], KV head ⌊h/g⌋ serving query head h."""
    if num_heads % num_kv_heads:
        raise ValueError(f"num_heads {num_heads} is not a multiple of num_kv_heads {num_kv_heads}")
    return np.repeat(x, num_heads // num_kv_heads, axis=1)


def gates(k_raw, v_raw, alpha_gate, beta_gate, num_heads, num_kv_heads, mask=None):
    """Per-channel gates α (decay) and β (write strength), each [B, H, S, d].

    f = σ(pool(k_raw)), w = σ(pool(v_raw)) on the raw projections [B, S, H_kv·d] (pool =
    `causal_mean` of width 3, over real tokens only when ``mask`` is given), split into heads and
    repeated for GQA. Codes: "k" -> f, "v" -> w, "kv" -> f ⊙ w, "c" -> α = 1, β = 0.5.
    """
    for code in (alpha_gate, beta_gate):
        if code not in GATE_CODES:
            raise ValueError(f"unknown gate code {code!r} (expected one of {GATE_CODES})")
    f = sigmoid(causal_mean(k_raw, mask=mask))
    w = sigmoid(causal_mean(v_raw, mask=mask))
    f = _repeat_kv(_split_heads(f, num_kv_heads), num_heads, num_kv_heads)
    w = _repeat_kv(_split_heads(w, num_kv_heads), num_heads, num_kv_heads)
    by_code = {"k": f, "v": w, "kv": f * w}
    alpha = np.ones_like(f) if alpha_gate == "c" else by_code[alpha_gate]
    beta = np.full_like(f, 0.5) if beta_gate == "c" else by_code[beta_gate]
    return alpha, beta


# --------------------------------------------------------------------------- feature map


def _l2_normalise(x):
    """x / max(‖x‖₂, 1e-6) over the last axis."""
    norm = np.sqrt(np.sum(x * x, axis=-1, keepdims=True))
    return x / np.maximum(norm, NORM_EPS)


def feature_map(q, k, v, num_heads, num_kv_heads):
    """q̂, k̂, v̂, each [B, H, S, d], from projections q [B, S, H·d], k, v [B, S, H_kv·d].

    q̂ = silu(q)/max(‖silu(q)‖₂, 1e-6) and k̂ likewise (per head, over d); v̂ = v/√d. k and v are
    repeated for GQA (KV head ⌊h/g⌋ serves query head h).
    """
    q = _split_heads(np.asarray(q, dtype=np.float64), num_heads)
    k = _repeat_kv(
        _split_heads(np.asarray(k, dtype=np.float64), num_kv_heads), num_heads, num_kv_heads
    )
    v = _repeat_kv(
        _split_heads(np.asarray(v, dtype=np.float64), num_kv_heads), num_heads, num_kv_heads
    )
    d = q.shape[-1]
    return _l2_normalise(silu(q)), _l2_normalise(silu(k)), v * (d**-0.5)


# --------------------------------------------------------------------------- virtual tokens


def dt_coefficients(order):
    """c_k = (−1)^k C(n−1, k) / 2^{n−1}, k = 0..n−1, rounded to float32 as the reference buffer."""
    raw = np.array([(-1) ** k * math.comb(order - 1, k) for k in range(order)], dtype=np.float32)
    return (raw / np.abs(raw).sum(dtype=np.float32)).astype(np.float64)


def rotation_cos_sin(order):
    """cos θ_j, sin θ_j for θ_j = j · fl32(2π/n), all in float32 (returned as float64).

    θ_j is the float32 product of j and float32(2π/n); cos and sin are the float32 roundings of
    the exact values, so for n = 2 sin θ₁ = sin(fl32(π)) ≈ −8.74e−8, not 0.
    """
    theta = np.arange(order, dtype=np.float32) * np.float32(2.0 * math.pi / order)
    theta = theta.astype(np.float64)
    cos = np.cos(theta).astype(np.float32).astype(np.float64)
    sin = np.sin(theta).astype(np.float32).astype(np.float64)
    return cos, sin


def _expand_dt(x, order):
    """e_{t,j} = c_{n−1−j} · x_{t−j}, with x_{<0} = 0 (one scaled lagged copy per virtual token)."""
    coeffs = dt_coefficients(order)
    seq = x.shape[-2]
    padded = np.concatenate([np.zeros(x.shape[:-2] + (order - 1, x.shape[-1])), x], axis=-2)
    lags = [padded[..., order - 1 - j : order - 1 - j + seq, :] for j in range(order)]
    return np.stack([coeffs[order - 1 - j] * lag for j, lag in enumerate(lags)], axis=-2)


def _expand_rot(x, order):
    """Rotate channel pairs (x_{2i}, x_{2i+1}) by θ_j; an odd last channel passes through."""
    cos, sin = rotation_cos_sin(order)
    cos, sin = cos[:, None], sin[:, None]
    d = x.shape[-1]
    even, odd = x[..., None, 0 : d - 1 : 2], x[..., None, 1:d:2]
    out = np.repeat(x[..., None, :], order, axis=-2)
    out[..., 0 : d - 1 : 2] = even * cos - odd * sin
    out[..., 1:d:2] = even * sin + odd * cos
    return out


def expand(x, order, trick, mask=None):
    """Virtual tokens: [B, H, S, d] -> [B, H, S, n, d] (reference VirtualTokenExpander, flip on).

    * ``dt``: e_{t,j} = c_{n−1−j} x_{t−j} with zero left padding (n = 2: −x_t/2, +x_{t−1}/2);
    * ``rot``: e_{t,j} = R(θ_j) x_t on channel pairs, θ_j = j·fl32(2π/n), cos/sin in float32;
    * ``rdt``: ½(dt + rot);
    * ``cte``: e_{t,j} = x_t.

    Order 1 is the identity for every trick. With ``mask`` [B, S] (recurrent semantics) the lags
    run over the real tokens of each sequence only, and padded positions get 0.
    """
    if trick not in TRICKS:
        raise ValueError(f"unknown trick {trick!r} (expected one of {TRICKS})")
    x = np.asarray(x, dtype=np.float64)
    if mask is not None:
        m = _as_mask(mask, (x.shape[0], x.shape[2]))
        return _per_sequence(lambda xs: expand(xs, order, trick), x, m, axis=2)
    if order == 1:
        return x[..., None, :]
    if trick == "dt":
        return _expand_dt(x, order)
    if trick == "rot":
        return _expand_rot(x, order)
    if trick == "rdt":
        return 0.5 * (_expand_dt(x, order) + _expand_rot(x, order))
    return np.repeat(x[..., None, :], order, axis=-2)


# --------------------------------------------------------------------------- tptt-0.12 operator


def solve_unit_lower(L):
    """T = (I + L)⁻¹ for strictly lower-triangular L [..., N, N], by forward substitution.

    With A = −L and X the strictly lower part of T: X_{i,:i} = A_{i,:i} + A_{i,:i} X_{:i,:i} for
    i = 1..N−1 (the reference's row recursion), then T = I + X.
    """
    A = -np.asarray(L, dtype=np.float64)
    n = A.shape[-1]
    X = np.zeros_like(A)
    for i in range(1, n):
        row = A[..., i, :i]
        X[..., i, :i] = row + np.einsum("...m,...mj->...j", row, X[..., :i, :i])
    return X + np.eye(n)


def unlinear(x):
    """φ applied row-wise over the last axis (tptt `unlinear_activation`, scale 2).

    φ(H)_ab = (H_ab/2) · GELU_tanh(2 H_ab / ρ_a), ρ_a = ‖H_a,:‖₂ + 1e-6. A zero row stays zero.
    """
    x = np.asarray(x, dtype=np.float64)
    rho = np.sqrt(np.sum(x * x, axis=-1, keepdims=True)) + PHI_EPS
    return (x / 2.0) * gelu_tanh(2.0 * x / rho)


def chunk_size_012(seq_len, max_chunk_size):
    """C = the largest c ≤ min(max_chunk_size, S) dividing S; 1 when there is none (S = 0)."""
    for c in range(min(max_chunk_size, seq_len), 0, -1):
        if seq_len % c == 0:
            return c
    return 1


def operator_012(q, k, v, alpha, beta, max_chunk_size, linear, initial_state=None):
    """tptt 0.12.1 `chunk_delta_product_forward` (reference note §4.3), exactly.

    Inputs q, k, v, α, β are [B, H, S, n, d] (already expanded). With C = chunk_size_012(S, max),
    N = C·n virtual tokens m = t·n + j per chunk; per chunk, with rows = virtual tokens:

        K_β = K ⊙ 𝓑, V_β = V ⊙ 𝓑, L = stril(K_β Kᵀ), T = (I + L)⁻¹, W = T K_β, U = T V_β.

    Every real position c of the chunk starts independently from the incoming state P = H_in and,
    for j = 0..n−1 (m = c·n + j):

        r_m = U_m − Pᵀ W_m,   y_m = Pᵀ Q_m + Q_m ⊙ r_m,   P ← P diag(𝒜_m) + W_m r_mᵀ.

    o_c = y_{c·n+n−1}; the next chunk's state is P of the last position c = C−1, replaced by φ(P)
    when ``linear`` is false (after every chunk, the last included). ``initial_state``
    [B, H, n, d, d] contributes its slot n−1; without it the state is filled with 1e-6.
    Returns (out [B, H, S, d], final_state [B, H, d, d]).
    """
    q, k, v, alpha, beta = (np.asarray(t, dtype=np.float64) for t in (q, k, v, alpha, beta))
    b, h, seq, n, d = q.shape
    if initial_state is None:
        state = np.full((b, h, d, d), STATE_FILL_012)
    else:
        initial_state = np.asarray(initial_state, dtype=np.float64)
        if initial_state.shape != (b, h, n, d, d):
            raise ValueError(
                f"initial_state has shape {initial_state.shape}, expected {(b, h, n, d, d)}"
            )
        state = initial_state[:, :, n - 1].copy()
    c = chunk_size_012(seq, max_chunk_size)
    chunks = seq // c

    def virtual_chunks(t):
        return t.reshape(b, h, chunks, c * n, d)

    kc, vc, bc = virtual_chunks(k), virtual_chunks(v), virtual_chunks(beta)
    k_beta, v_beta = kc * bc, vc * bc
    T = solve_unit_lower(np.tril(k_beta @ np.swapaxes(kc, -1, -2), -1))
    W = (T @ k_beta).reshape(b, h, chunks, c, n, d)
    U = (T @ v_beta).reshape(b, h, chunks, c, n, d)
    Q = q.reshape(b, h, chunks, c, n, d)
    A = alpha.reshape(b, h, chunks, c, n, d)

    out = np.zeros((b, h, chunks, c, d))
    for ci in range(chunks):
        P = np.repeat(state[:, :, None], c, axis=2)  # [B, H, C, d, d], one copy per position
        for j in range(n):
            w, u, qj, a = W[:, :, ci, :, j], U[:, :, ci, :, j], Q[:, :, ci, :, j], A[:, :, ci, :, j]
            r = u - np.einsum("bhca,bhcae->bhce", w, P)
            y = np.einsum("bhca,bhcae->bhce", qj, P) + qj * r
            P = P * a[..., None, :] + w[..., :, None] * r[..., None, :]
        out[:, :, ci] = y
        state = P[:, :, -1]
        if not linear:
            state = unlinear(state)
    return out.reshape(b, h, seq, d), state


# --------------------------------------------------------------------------- recurrent operator


def decode_step_recurrent(state, q, k, v, alpha, beta, position, chunk_size, linear):
    """One real token of the recurrent semantics from ``state`` [B, H, d, d].

    q [B, H, d] (not expanded), k, v [B, H, n, d] (the token's virtual tokens), α, β [B, H, d].
    For j = 0..n−1, with A = diag(α) at j = 0 and I otherwise:

        S' = S A,   u = β ⊙ v_j − S'ᵀ (β ⊙ k_j),   S = S' + k_j uᵀ.

    Then o = Sᵀ q. When ``linear`` is false and (position + 1) mod chunk_size = 0, the state is
    replaced by φ(S) after o is read. ``position`` is the token's index among the real tokens of its
    sequence, an integer or one per batch row. Returns (o [B, H, d], new_state [B, H, d, d]).
    """
    S = np.asarray(state, dtype=np.float64) * np.asarray(alpha, dtype=np.float64)[..., None, :]
    for j in range(k.shape[-2]):
        kj = k[..., j, :]
        u = beta * v[..., j, :] - np.einsum("zhab,zha->zhb", S, beta * kj)
        S = S + kj[..., :, None] * u[..., None, :]
    o = np.einsum("zhab,zha->zhb", S, q)
    if not linear:
        at_boundary = (np.asarray(position) + 1) % chunk_size == 0
        at_boundary = np.broadcast_to(at_boundary, (S.shape[0],))[:, None, None, None]
        S = np.where(at_boundary, unlinear(S), S)
    return o, S


def operator_recurrent(q, k, v, alpha, beta, chunk_size, linear, initial_state=None, mask=None):
    """The sequential recurrence of SEMANTICS.md ("The linear operator, recurrent semantics").

    q [B, H, S, d] (not expanded), k, v [B, H, S, n, d], α, β [B, H, S, d] (one gate per real
    token); ``initial_state`` [B, H, d, d], zero when absent. Real tokens are fed in order to
    `decode_step_recurrent`; φ follows token t when (t+1) mod chunk_size = 0 in nonlinear mode, t
    counted over real tokens. A position whose ``mask`` [B, S] is 0 leaves the state untouched and
    outputs 0. Returns (out [B, H, S, d], final_state [B, H, d, d]).
    """
    q, k, v, alpha, beta = (np.asarray(t, dtype=np.float64) for t in (q, k, v, alpha, beta))
    b, h, seq, d = q.shape
    if initial_state is None:
        state = np.zeros((b, h, d, d))
    else:
        state = np.array(initial_state, dtype=np.float64)
        if state.shape != (b, h, d, d):
            raise ValueError(f"initial_state has shape {state.shape}, expected {(b, h, d, d)}")
    real = _as_mask(mask, (b, seq))
    position = np.zeros(b, dtype=np.int64)
    out = np.zeros((b, h, seq, d))
    for t in range(seq):
        o, new_state = decode_step_recurrent(
            state,
            q[:, :, t],
            k[:, :, t],
            v[:, :, t],
            alpha[:, :, t],
            beta[:, :, t],
            position,
            chunk_size,
            linear,
        )
        r = real[:, t]
        out[:, :, t] = np.where(r[:, None, None], o, 0.0)
        state = np.where(r[:, None, None, None], new_state, state)
        position += r
    return out, state


# --------------------------------------------------------------------------- layer


def merge_heads_rms(y, eps=RMS_EPS):
    """[B, H, S, d] -> [B, S, H·d] (head-major), then Y / √(mean(Y²) + eps) over all heads."""
    b, h, s, d = y.shape
    merged = np.asarray(y, dtype=np.float64).transpose(0, 2, 1, 3).reshape(b, s, h * d)
    return merged / np.sqrt(np.mean(merged * merged, axis=-1, keepdims=True) + eps)


def _linear(x, params, name):
    """x Wᵀ + b with params '<name>.weight' [out, in] and '<name>.bias' [out]."""
    return x @ params[f"{name}.weight"].T + params[f"{name}.bias"]


def _mask_columns(attention_mask, seq, padding_side):
    """The [B, S] columns of a 2-D mask that belong to the S tokens (last S when left-padded)."""
    mask = np.asarray(attention_mask)
    return mask[:, -seq:] if padding_side == "left" else mask[:, :seq]


def _reverse_real(x, mask, axis):
    """Reverse the real tokens of every sequence along ``axis``; padded positions stay in place."""
    out = np.array(x)
    for b in range(x.shape[0]):
        real = np.flatnonzero(mask[b])
        index = [slice(None)] * (x.ndim - 1)
        index[axis - 1] = real
        target = (b,) + tuple(index)
        index[axis - 1] = real[::-1]
        out[target] = x[(b,) + tuple(index)]
    return out


def _linear_branch_012(q, k, v, cfg, num_heads, num_kv_heads, max_chunk_size, mask, bidirectional):
    """Pre-merge Y [B, H, S, d] under tptt-0.12 (reference note §2.3, §4, §7.1)."""
    if mask is not None:
        v = v * mask[..., None]
    alpha, beta = gates(k, v, cfg["alpha_gate"], cfg["beta_gate"], num_heads, num_kv_heads)
    qh, kh, vh = feature_map(q, k, v, num_heads, num_kv_heads)
    order, trick = cfg["order"], cfg["trick"]
    qe, ke, ve = (expand(t, order, trick) for t in (qh, kh, vh))
    ae = expand(alpha, order, "cte" if cfg["alpha_gate"] == "c" else trick)
    be = expand(beta, order, "cte" if cfg["beta_gate"] == "c" else trick)
    y, _ = operator_012(qe, ke, ve, ae, be, max_chunk_size, cfg["linear"])
    if bidirectional:
        flipped = (np.flip(t, axis=2) for t in (qe, ke, ve, ae, be))
        y_bwd, _ = operator_012(*flipped, max_chunk_size, cfg["linear"])
        y = (y + np.flip(y_bwd, axis=2)) / 2
    return y


def round_bfloat16(x):
    """``x`` rounded to bfloat16 through float32 (to nearest, ties to even), as float64."""
    bits = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
    return bits.astype(np.uint32).view(np.float32).astype(np.float64)


def _linear_branch_recurrent(
    q, k, v, cfg, num_heads, num_kv_heads, max_chunk_size, mask, bidirectional, linear_precision="float32"
):
    """Pre-merge Y [B, H, S, d] under the recurrent semantics (SEMANTICS.md, steps 2–4 and 8).
    With ``linear_precision`` "bfloat16", q̂, k̂, v̂, α, β and Y are rounded to it (the state and
    every sum stay float64 here)."""
    storage = round_bfloat16 if linear_precision == "bfloat16" else (lambda t: t)
    alpha, beta = (storage(t) for t in gates(k, v, cfg["alpha_gate"], cfg["beta_gate"], num_heads,
                                             num_kv_heads, mask))
    qh, kh, vh = (storage(t) for t in feature_map(q, k, v, num_heads, num_kv_heads))
    ke = expand(kh, cfg["order"], cfg["trick"], mask)
    ve = expand(vh, cfg["order"], cfg["trick"], mask)
    inputs = (qh, ke, ve, alpha, beta)
    y, _ = operator_recurrent(*inputs, max_chunk_size, cfg["linear"], mask=mask)
    if bidirectional:
        reversed_inputs = (_reverse_real(t, mask, axis=2) for t in inputs)
        y_bwd, _ = operator_recurrent(*reversed_inputs, max_chunk_size, cfg["linear"], mask=mask)
        y = (y + _reverse_real(y_bwd, mask, axis=2)) / 2
    return storage(y)


def linear_attention(
    x,
    params,
    recurrent_config,
    num_heads,
    num_kv_heads,
    max_chunk_size,
    semantics,
    attention_mask=None,
    padding_side=None,
    bidirectional=False,
    linear_precision="float32",
):
    """The whole linear branch of one layer: x [B, S, D] -> O_lin [B, S, D].

    ``params`` holds '{q,k,v,out}_proj.{weight,bias}' (weight [out, in]); ``recurrent_config`` has
    order, alpha_gate, beta_gate, linear, trick; ``max_chunk_size`` is C (chunk bound under
    tptt-0.12, φ period under recurrent). Steps: projections; gates from the raw k, v; feature map;
    virtual tokens; operator; `merge_heads_rms`; out_proj.

    * tptt-0.12: ``attention_mask`` [B, ≥S] only zeroes v before the gates (v ⊙ m; its last S
      columns when ``padding_side`` is "left", else the first S); q, k, v, α, β expand with the
      trick (α, β with cte when their code is "c"); `operator_012`. Bidirectional adds a run of
      `operator_012` on the expanded tensors flipped along the token axis (virtual order inside a
      token kept, fresh 1e-6 state) and averages the two, flipped back.
    * recurrent: every sequence is computed alone on its real tokens (pool, lags, state); α, β stay
      per token, q is not expanded; `operator_recurrent` from a zero state. Bidirectional adds a
      run, from a zero state, on the causally computed q̂, virtual k̂/v̂ and α, β with the real
      tokens reversed (virtual order inside a token kept; gates and lags are not recomputed on the
      reversed sequence; φ positions count from the reversed run's first token), reverses its Y
      back and averages. The output at padded positions is 0.
    """
    if semantics not in SEMANTICS:
        raise ValueError(f"unknown semantics {semantics!r} (expected one of {SEMANTICS})")
    x = np.asarray(x, dtype=np.float64)
    b, seq, _ = x.shape
    q, k, v = (_linear(x, params, f"{p}_proj") for p in ("q", "k", "v"))
    args = (recurrent_config, num_heads, num_kv_heads, max_chunk_size)
    if semantics == "tptt-0.12":
        if linear_precision == "bfloat16":
            raise ValueError("linear_precision bfloat16 is defined under the recurrent semantics only")
        mask = None
        if attention_mask is not None:
            mask = _mask_columns(attention_mask, seq, padding_side).astype(np.float64)
        y = _linear_branch_012(q, k, v, *args, mask, bidirectional)
        return _linear(merge_heads_rms(y), params, "out_proj")
    real = np.ones((b, seq), dtype=bool)
    if attention_mask is not None:
        real = _mask_columns(attention_mask, seq, padding_side) != 0
    y = _linear_branch_recurrent(q, k, v, *args, real, bidirectional, linear_precision)
    out = _linear(merge_heads_rms(y), params, "out_proj")
    return np.where(real[..., None], out, 0.0)


def mag_mix(o_soft, o_lin, mu, cross_gate=False, base_scale_attn=False):
    """Memory as Gate: s = (1−μ) O_soft, l = μ O_lin; out = s + l (+ s ⊙ l with ``cross_gate``).

    With ``base_scale_attn``, O_lin is first scaled per token by √(mean_D(O_soft²) + 1e-5).
    """
    o_soft = np.asarray(o_soft, dtype=np.float64)
    o_lin = np.asarray(o_lin, dtype=np.float64)
    if base_scale_attn:
        o_lin = o_lin * np.sqrt(np.mean(o_soft * o_soft, axis=-1, keepdims=True) + BASE_SCALE_EPS)
    s = (1.0 - mu) * o_soft
    l = mu * o_lin
    return s + l + s * l if cross_gate else s + l
