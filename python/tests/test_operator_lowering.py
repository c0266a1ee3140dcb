"""The compiled recurrent operator against the plain sequential reference, through tptt-run.

Properties of the `recurrent` semantics (SEMANTICS.md) checked on random float64 inputs:

* the chunked lowering equals the sequential recurrence for every chunk size C, including C
  that does not divide S and C = 1, with and without decay, linear and nonlinear;
* one-token decode steps (``tptt.delta_product_step``) from the returned state reproduce the
  full-sequence outputs token by token;
* a padded batch gives every sequence its unpadded result, also in reverse;
* the CUDA target's kernels, emulated on the CPU, compute the same: in float64 with FMA
  kernels, and in f32 with the chunk products on tensor cores (3xTF32) within f32 accuracy.

The tests need the ``tptt-run`` binary: ``TPTT_RUN`` names it (ctest sets it); without it they
are skipped.
"""

import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "python"))

from tptt import reference as R  # noqa: E402
from tptt import safetensors  # noqa: E402

TPTT_RUN = os.environ.get("TPTT_RUN")
TOLERANCE = 1e-10

pytestmark = pytest.mark.skipif(not TPTT_RUN, reason="TPTT_RUN (the tptt-run binary) is not set")


def _type(shape, element="f64"):
    return "tensor<" + "".join(f"{size}x" for size in shape) + element + ">"


def _run(tmp_path, source, entry, inputs, num_outputs, target="cpu"):
    """Runs `entry` of `source` with `inputs` (bound by argument order) on `target` (a tptt-run
    --target) and returns its results."""
    module = tmp_path / f"{entry}.mlir"
    module.write_text(source)
    in_file, out_file = tmp_path / f"{entry}-in.safetensors", tmp_path / f"{entry}-out.safetensors"
    safetensors.save(in_file, {f"arg{i}": x for i, x in enumerate(inputs)})
    done = subprocess.run(
        [TPTT_RUN, str(module), "--entry", entry, "--inputs", str(in_file), "--outputs", str(out_file),
         "--target", target],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    tensors, _ = safetensors.load(out_file)
    return [tensors[f"result{i}"] for i in range(num_outputs)]


def _relative_error(got, expected):
    return np.abs(got - expected).max() / np.abs(expected).max()


def _random_operands(rng, batch, heads, seq, order, dim):
    def unit(x):
        return x / np.linalg.norm(x, axis=-1, keepdims=True)

    q = unit(rng.standard_normal((batch, heads, seq, dim)))
    k = unit(rng.standard_normal((batch, heads, seq, order, dim)))
    v = rng.standard_normal((batch, heads, seq, order, dim))
    beta = 1.0 / (1.0 + np.exp(-rng.standard_normal((batch, heads, seq, dim))))
    alpha = 1.0 / (1.0 + np.exp(-rng.standard_normal((batch, heads, seq, dim))))
    return q, k, v, beta, alpha


def _operator_source(shape, order, chunk, gated, nonlinear, mask=False, reverse=False, element="f64"):
    batch, heads, seq, dim = shape
    per_token, expanded = _type(shape, element), _type((batch, heads, seq, order, dim), element)
    state = _type((batch, heads, dim, dim), element)
    args = [f"%q: {per_token}", f"%k: {expanded}", f"%v: {expanded}", f"%b: {per_token}"]
    operands, types = "%q, %k, %v, %b", [per_token, expanded, expanded, per_token]
    if gated:
        args.append(f"%a: {per_token}")
        operands += " alpha %a"
        types.append(per_token)
    if mask:
        args.append(f"%m: {_type((batch, seq), 'i1')}")
        operands += " mask %m"
        types.append(_type((batch, seq), "i1"))
    flags = (" nonlinear" if nonlinear else "") + (" reverse" if reverse else "")
    return f"""
func.func @operator({", ".join(args)}) -> ({per_token}, {state}) {{
  %o, %s = tptt.delta_product {operands} semantics = recurrent chunk_size = {chunk}{flags}
      : ({", ".join(types)}) -> ({per_token}, {state})
  return %o, %s : {per_token}, {state}
}}
"""


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64])
@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("gated", [False, True], ids=["ungated", "gated"])
def test_chunked_equals_sequential(tmp_path, chunk, order, gated):
    rng = np.random.default_rng(chunk * 10 + order)
    shape = (2, 3, 13, 8)
    q, k, v, beta, alpha = _random_operands(rng, 2, 3, 13, order, 8)
    inputs = [q, k, v, beta] + ([alpha] if gated else [])
    source = _operator_source(shape, order, chunk, gated, nonlinear=False)
    out, state = _run(tmp_path, source, "operator", inputs, 2)
    expected_out, expected_state = R.operator_recurrent(
        q, k, v, alpha if gated else np.ones_like(alpha), beta, chunk, linear=True
    )
    assert _relative_error(out, expected_out) <= TOLERANCE
    assert _relative_error(state, expected_state) <= TOLERANCE


@pytest.mark.parametrize("chunk", [4, 32])
@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("gated", [False, True], ids=["ungated", "gated"])
def test_gpu_mapping_equals_sequential(tmp_path, chunk, order, gated):
    """The CUDA target's kernels, run on the CPU (one block per batch x head for the ungated
    scan, whose threads share each chunk's products), compute the sequential recurrence. With
    chunks of 32 (N = 32 or 64 rows) the ungated scan inverts its triangular matrices by 16 x 16
    blocks."""
    rng = np.random.default_rng(order + 5)
    seq = 13 if chunk == 4 else 70
    shape = (2, 3, seq, 8)
    q, k, v, beta, alpha = _random_operands(rng, 2, 3, seq, order, 8)
    inputs = [q, k, v, beta] + ([alpha] if gated else [])
    source = _operator_source(shape, order, chunk, gated, nonlinear=False)
    out, state = _run(tmp_path, source, "operator", inputs, 2, target="cuda-on-cpu")
    expected_out, expected_state = R.operator_recurrent(
        q, k, v, alpha if gated else np.ones_like(alpha), beta, chunk, linear=True
    )
    assert _relative_error(out, expected_out) <= TOLERANCE
    assert _relative_error(state, expected_state) <= TOLERANCE


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("gated", [False, True], ids=["ungated", "gated"])
def test_tensor_core_chunk_products_keep_f32_accuracy(tmp_path, order, gated):
    """In f32, with a head dim and chunk of 16, the CUDA target runs the chunk products on tensor
    cores (warp tiles in 3xTF32, emulated with the GPU's rounding to tf32): the operator stays
    within 1e-5 of the sequential float64 recurrence, as the CPU's FMA code does (measured: a few
    1e-7 for both); with plain tf32 products (big·big alone) this test measured 3e-4 to 7e-4."""
    rng = np.random.default_rng(order + 7)
    shape = (1, 2, 40, 16)
    operands = _random_operands(rng, 1, 2, 40, order, 16)
    q, k, v, beta, alpha = (x.astype(np.float32) for x in operands)
    inputs = [q, k, v, beta] + ([alpha] if gated else [])
    source = _operator_source(shape, order, 16, gated, nonlinear=False, element="f32")
    module = tmp_path / "operator.mlir"
    module.write_text(source)
    loops = subprocess.run(
        [TPTT_RUN, str(module), "--emit=loops", "--target", "cuda-on-cpu"], capture_output=True, text=True
    )
    assert loops.returncode == 0, loops.stderr
    assert "gpu.subgroup_mma_compute" in loops.stdout
    out, state = _run(tmp_path, source, "operator", inputs, 2, target="cuda-on-cpu")
    expected_out, expected_state = R.operator_recurrent(
        q, k, v, alpha if gated else np.ones_like(alpha), beta, 16, linear=True
    )
    assert _relative_error(out, expected_out) <= 1e-5
    assert _relative_error(state, expected_state) <= 1e-5


@pytest.mark.parametrize("chunk", [1, 3, 4])
@pytest.mark.parametrize("gated", [False, True], ids=["ungated", "gated"])
def test_nonlinear_applies_phi_every_chunk(tmp_path, chunk, gated):
    rng = np.random.default_rng(100 + chunk)
    q, k, v, beta, alpha = _random_operands(rng, 1, 2, 11, 2, 8)
    inputs = [q, k, v, beta] + ([alpha] if gated else [])
    source = _operator_source((1, 2, 11, 8), 2, chunk, gated, nonlinear=True)
    out, state = _run(tmp_path, source, "operator", inputs, 2)
    expected_out, expected_state = R.operator_recurrent(
        q, k, v, alpha if gated else np.ones_like(alpha), beta, chunk, linear=False
    )
    assert _relative_error(out, expected_out) <= TOLERANCE
    assert _relative_error(state, expected_state) <= TOLERANCE


def _decode_source(batch, heads, seq, order, dim, chunk, nonlinear):
    per_token, expanded = _type((batch, heads, seq, dim)), _type((batch, heads, seq, order, dim))
    step, step_expanded = _type((batch, heads, dim)), _type((batch, heads, order, dim))
    state = _type((batch, heads, dim, dim))
    positions = _type((batch,), "i64")
    position = ""
    if nonlinear:
        position = f"""
      %ti = arith.index_cast %t : index to i64
      %pe = tensor.empty() : {positions}
      %p = linalg.fill ins(%ti : i64) outs(%pe : {positions}) -> {positions}"""
    step_operands = "%qt, %kt, %vt, %bt, %s alpha %at" + (" position %p" if nonlinear else "")
    step_types = [step, step_expanded, step_expanded, step, state, step] + ([positions] if nonlinear else [])
    return f"""
func.func @decode(%q: {per_token}, %k: {expanded}, %v: {expanded}, %b: {per_token},
                  %a: {per_token}, %s0: {state}) -> ({per_token}, {state}) {{
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %cs = arith.constant {seq} : index
  %init = tensor.empty() : {per_token}
  %r:2 = scf.for %t = %c0 to %cs step %c1 iter_args(%out = %init, %s = %s0) -> ({per_token}, {state}) {{
    %qt = tensor.extract_slice %q[0, 0, %t, 0] [{batch}, {heads}, 1, {dim}] [1, 1, 1, 1] : {per_token} to {step}
    %bt = tensor.extract_slice %b[0, 0, %t, 0] [{batch}, {heads}, 1, {dim}] [1, 1, 1, 1] : {per_token} to {step}
    %at = tensor.extract_slice %a[0, 0, %t, 0] [{batch}, {heads}, 1, {dim}] [1, 1, 1, 1] : {per_token} to {step}
    %kt = tensor.extract_slice %k[0, 0, %t, 0, 0] [{batch}, {heads}, 1, {order}, {dim}] [1, 1, 1, 1, 1] : {expanded} to {step_expanded}
    %vt = tensor.extract_slice %v[0, 0, %t, 0, 0] [{batch}, {heads}, 1, {order}, {dim}] [1, 1, 1, 1, 1] : {expanded} to {step_expanded}{position}
    %o, %s1 = tptt.delta_product_step {step_operands} chunk_size = {chunk}{" nonlinear" if nonlinear else ""}
        : ({", ".join(step_types)}) -> ({step}, {state})
    %out1 = tensor.insert_slice %o into %out[0, 0, %t, 0] [{batch}, {heads}, 1, {dim}] [1, 1, 1, 1] : {step} into {per_token}
    scf.yield %out1, %s1 : {per_token}, {state}
  }}
  return %r#0, %r#1 : {per_token}, {state}
}}
"""


@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("nonlinear", [False, True], ids=["linear", "nonlinear"])
def test_decode_steps_reproduce_the_full_sequence(tmp_path, order, nonlinear):
    rng = np.random.default_rng(7 * order + nonlinear)
    batch, heads, seq, dim, chunk = 2, 2, 10, 8, 4
    q, k, v, beta, alpha = _random_operands(rng, batch, heads, seq, order, dim)
    full_out, full_state = _run(
        tmp_path,
        _operator_source((batch, heads, seq, dim), order, chunk, True, nonlinear),
        "operator",
        [q, k, v, beta, alpha],
        2,
    )
    zero = np.zeros((batch, heads, dim, dim))
    step_out, step_state = _run(
        tmp_path,
        _decode_source(batch, heads, seq, order, dim, chunk, nonlinear),
        "decode",
        [q, k, v, beta, alpha, zero],
        2,
    )
    for t in range(seq):
        assert _relative_error(step_out[:, :, t], full_out[:, :, t]) <= TOLERANCE, f"token {t}"
    assert _relative_error(step_state, full_state) <= TOLERANCE


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("gated", [False, True], ids=["ungated", "gated"])
def test_padded_batch_gives_each_sequence_its_unpadded_result(tmp_path, reverse, gated):
    rng = np.random.default_rng(11 + reverse + 2 * gated)
    batch, heads, seq, order, dim, chunk = 3, 2, 9, 2, 8, 2
    q, k, v, beta, alpha = _random_operands(rng, batch, heads, seq, order, dim)
    mask = np.ones((batch, seq), dtype=bool)
    mask[0, :3] = False  # left padding
    mask[1, 6:] = False  # right padding
    mask[2, 4] = False  # a hole
    inputs = [q, k, v, beta] + ([alpha] if gated else []) + [mask.astype(np.int64)]
    source = _operator_source((batch, heads, seq, dim), order, chunk, gated, True, True, reverse)
    out, state = _run(tmp_path, source, "operator", inputs, 2)
    decay = alpha if gated else np.ones_like(alpha)
    for b in range(batch):
        real = np.flatnonzero(mask[b])
        order_of_tokens = real[::-1] if reverse else real

        def alone(x):
            return x[b : b + 1][:, :, order_of_tokens]

        expected_out, expected_state = R.operator_recurrent(
            alone(q), alone(k), alone(v), alone(decay), alone(beta), chunk, linear=False
        )
        got = out[b : b + 1][:, :, order_of_tokens]
        assert _relative_error(got, expected_out) <= TOLERANCE, f"sequence {b}"
        assert _relative_error(state[b : b + 1], expected_state) <= TOLERANCE, f"sequence {b}"


LAYER = """
func.func @layer(%q: tensor<2x12x64xf64>, %k: tensor<2x12x32xf64>, %v: tensor<2x12x32xf64>,
                 %cos: tensor<2x12x16xf64>, %sin: tensor<2x12x16xf64>, %mu: tensor<f64>,
                 %wo: tensor<64x64xf64>, %mask: tensor<2x12xi1>) -> tensor<2x12x64xf64> {
  %y = tptt.liza_attention %q, %k, %v rope(%cos, %sin) mu(%mu) out_proj(%wo) mask %mask
      {num_heads = 4 : i64, num_kv_heads = 2 : i64, order = 2 : i64, chunk_size = 5 : i64,
       alpha_gate = #tptt<gate k>, beta_gate = #tptt<gate kv>, cross_gate}
      : (tensor<2x12x64xf64>, tensor<2x12x32xf64>, tensor<2x12x32xf64>, tensor<2x12x16xf64>,
         tensor<2x12x16xf64>, tensor<f64>, tensor<64x64xf64>, tensor<2x12xi1>) -> tensor<2x12x64xf64>
  return %y : tensor<2x12x64xf64>
}
"""


def _softmax_branch(q, k, v, cos, sin, mask, heads, kv_heads):
    """Causal GQA attention with rotate-half RoPE and key padding, heads merged: [B, S, H·d]."""
    batch, seq, _ = q.shape
    dim = q.shape[-1] // heads

    def rope(x):
        half = x.shape[-1] // 2
        rotated = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
        return x * cos[:, None] + rotated * sin[:, None]

    qh = rope(q.reshape(batch, seq, heads, dim).transpose(0, 2, 1, 3))
    kh = rope(k.reshape(batch, seq, kv_heads, dim).transpose(0, 2, 1, 3))
    vh = v.reshape(batch, seq, kv_heads, dim).transpose(0, 2, 1, 3)
    out = np.zeros((batch, heads, seq, dim))
    for b in range(batch):
        for h in range(heads):
            g = h // (heads // kv_heads)
            scores = qh[b, h] @ kh[b, g].T / np.sqrt(dim)
            visible = np.tril(np.ones((seq, seq), dtype=bool)) & mask[b][None, :]
            for i in np.flatnonzero(visible.any(axis=-1)):
                row = scores[i][visible[i]]
                weights = np.exp(row - row.max())
                out[b, h, i] = (weights / weights.sum()) @ vh[b, g][visible[i]]
    return out.transpose(0, 2, 1, 3).reshape(batch, seq, heads * dim)


def test_liza_attention_layer_matches_the_reference(tmp_path):
    """The whole composite layer (decomposed and lowered) against numpy, recurrent semantics."""
    rng = np.random.default_rng(42)
    batch, seq, heads, kv_heads, dim = 2, 12, 4, 2, 16
    q = rng.standard_normal((batch, seq, heads * dim))
    k = rng.standard_normal((batch, seq, kv_heads * dim))
    v = rng.standard_normal((batch, seq, kv_heads * dim))
    angles = rng.uniform(0, 3, (batch, seq, dim // 2))
    cos = np.cos(np.concatenate([angles, angles], axis=-1))
    sin = np.sin(np.concatenate([angles, angles], axis=-1))
    mu, wo = np.array(0.3), rng.standard_normal((heads * dim, heads * dim)) / 8
    mask = np.ones((batch, seq), dtype=bool)
    mask[1, :4] = False  # left padding
    (out,) = _run(tmp_path, LAYER, "layer", [q, k, v, cos, sin, mu, wo, mask.astype(np.int64)], 1)

    config = {"alpha_gate": "k", "beta_gate": "kv", "order": 2, "trick": "dt", "linear": True}
    y = R._linear_branch_recurrent(q, k, v, config, heads, kv_heads, 5, mask, False)
    lin = R.merge_heads_rms(y) @ wo.T
    soft = _softmax_branch(q, k, v, cos, sin, mask, heads, kv_heads) @ wo.T
    expected = R.mag_mix(soft, lin, 0.3, cross_gate=True)
    real = mask[:, :, None]  # padded outputs are unspecified
    assert _relative_error(np.where(real, out, 0.0), np.where(real, expected, 0.0)) <= TOLERANCE


ATTENTION = """
func.func @attention(%q: tensor<2x4x{S}x8xf64>, %k: tensor<2x2x{T}x8xf64>, %v: tensor<2x2x{T}x8xf64>,
                     %m: tensor<2x{T}xi1>) -> tensor<2x4x{S}x8xf64> {{
  %o = tptt.attention %q, %k, %v mask %m {window}
      : (tensor<2x4x{S}x8xf64>, tensor<2x2x{T}x8xf64>, tensor<2x2x{T}x8xf64>, tensor<2x{T}xi1>) -> tensor<2x4x{S}x8xf64>
  return %o : tensor<2x4x{S}x8xf64>
}}
"""


@pytest.mark.parametrize("seq, keys, window", [(150, 150, None), (150, 150, 40), (70, 75, 30)])
def test_attention_by_query_blocks_matches_the_reference(tmp_path, seq, keys, window):
    """tptt.attention is lowered by blocks of 64 query rows, each against the keys it sees: over
    several blocks (a ragged last one), with a window, padding, and queries that are the last S of
    T positions (a cache), it equals plain softmax attention."""
    rng = np.random.default_rng(seq + keys)
    q = rng.standard_normal((2, 4, seq, 8))
    k = rng.standard_normal((2, 2, keys, 8))
    v = rng.standard_normal((2, 2, keys, 8))
    mask = np.ones((2, keys), dtype=bool)
    mask[1, :9] = False  # left padding
    source = ATTENTION.format(S=seq, T=keys, window=f"window = {window}" if window else "")
    (out,) = _run(tmp_path, source, "attention", [q, k, v, mask.astype(np.int64)], 1)
    expected = np.zeros_like(q)
    for b in range(2):
        for h in range(4):
            for s in range(seq):
                p = keys - seq + s
                t = np.arange(keys)
                visible = (t <= p) & mask[b] & ((t > p - window) if window else True)
                if not visible.any():
                    continue
                scores = k[b, h // 2][visible] @ q[b, h, s] / np.sqrt(8)
                weights = np.exp(scores - scores.max())
                expected[b, h, s] = (weights / weights.sum()) @ v[b, h // 2][visible]
    assert _relative_error(out, expected) <= TOLERANCE


def _splitmix64(z):
    """The splitmix64 finalizer on uint64 arrays (wrapping)."""
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _dropout_reference(x, seed, rate, stream):
    """tptt.dropout as its description states it."""
    golden = np.uint64(0x9E3779B97F4A7C15)
    with np.errstate(over="ignore"):
        key = _splitmix64(np.uint64(seed % 2**64) * golden + np.uint64(stream))
        index = np.arange(x.size, dtype=np.uint64).reshape(x.shape)
        u = (_splitmix64(key + index * golden) >> np.uint64(40)).astype(np.float32) * np.float32(2**-24)
    rate = np.float32(rate)  # the op's rate operand is f32
    keep = u >= rate
    one = x.dtype.type(1)
    return np.where(keep, x * (one / (one - x.dtype.type(rate))), 0), keep


DROPOUT = """
func.func @dropout(%x: tensor<3x?x40x{E}>, %seed: tensor<i64>, %rate: tensor<f32>) -> tensor<3x?x40x{E}> {{
  %y = tptt.dropout %x, %seed, %rate {{stream = {stream} : i64}} : tensor<3x?x40x{E}>, tensor<i64>, tensor<f32>
  return %y : tensor<3x?x40x{E}>
}}
"""


@pytest.mark.parametrize("element, seed, stream", [("f64", 7, 0), ("f32", -123456789, 3)])
def test_dropout_draws_the_stated_mask(tmp_path, element, seed, stream):
    """tptt.dropout keeps exactly the elements its description's hash keeps (about 1 - rate of
    them), scales them by 1 / (1 - rate), and is the identity at rate 0."""
    dtype = np.float64 if element == "f64" else np.float32
    x = np.random.default_rng(5).standard_normal((3, 50, 40)).astype(dtype)
    source = DROPOUT.format(E=element, stream=stream)
    for rate in (0.3, 0.0):
        inputs = [x, np.array(seed, np.int64), np.array(rate, np.float32)]
        (out,) = _run(tmp_path, source, "dropout", inputs, 1)
        expected, keep = _dropout_reference(x, seed, rate, stream)
        assert out.dtype == dtype
        np.testing.assert_array_equal(out, expected)
        if rate == 0.0:
            np.testing.assert_array_equal(out, x)
        else:
            assert abs(keep.mean() - 0.7) < 0.02
