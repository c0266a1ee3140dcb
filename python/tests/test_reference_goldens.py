"""The numpy reference (`tptt.reference`) against the golden values and the specs' worked examples.

Golden cases are discovered from every directory with an ``index.json`` under the goldens root
(``../shared/goldens`` from the repository root, or the directory named by ``TPTT_GOLDENS``; the
root itself counts when it holds an ``index.json``). Each case is one safetensors file whose
``__metadata__["case"]`` is a JSON object with its ``kind`` and parameters; the comparison is
max|got − expected| / max|expected| ≤ 1e-10 per tensor.
"""

import json
import math
import os
import pathlib
import struct
import sys

import numpy as np
import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "python"))

from tptt import reference as R  # noqa: E402
from tptt import safetensors  # noqa: E402

TOLERANCE = 1e-10
GOLDENS_ROOT = pathlib.Path(os.environ.get("TPTT_GOLDENS", REPO_ROOT.parent / "shared" / "goldens"))


def _case_directories():
    if not GOLDENS_ROOT.is_dir():
        return []
    candidates = [GOLDENS_ROOT] + sorted(p for p in GOLDENS_ROOT.iterdir() if p.is_dir())
    return [p for p in candidates if (p / "index.json").is_file()]


def _golden_cases():
    cases = []
    for directory in _case_directories():
        index = json.loads((directory / "index.json").read_text())
        for case in index["cases"]:
            path = directory / f"{case['name']}.safetensors"
            cases.append(pytest.param(path, id=f"{directory.name}/{case['name']}"))
    return cases


def _relative_error(got, expected):
    assert got.shape == expected.shape, f"shape {got.shape} != expected {expected.shape}"
    scale = np.abs(expected).max(initial=0.0)
    error = np.abs(got - expected).max(initial=0.0)
    return error / scale if scale > 0 else error


def _params(tensors):
    return {name[len("param.") :]: t for name, t in tensors.items() if name.startswith("param.")}


# --------------------------------------------------------------------------- golden dispatch


def _check_operator(t, case):
    out, state = R.operator_012(
        t["q"],
        t["k"],
        t["v"],
        t["alpha"],
        t["beta"],
        case["max_chunk_size"],
        case["linear"],
        t.get("initial_state"),
    )
    return {"out": (out, t["out"]), "final_state": (state, t["final_state"])}


def _check_recurrent_operator(t, case):
    out, state = R.operator_recurrent(
        t["q"],
        t["k"],
        t["v"],
        t["alpha"],
        t["beta"],
        case["max_chunk_size"],
        case["linear"],
        t.get("initial_state"),
    )
    return {"out": (out, t["out"]), "final_state": (state, t["final_state"])}


def _check_expander(t, case):
    return {"out": (R.expand(t["x"], case["n"], case["mode"]), t["out"])}


def _check_pool(t, case):
    return {"out": (R.causal_mean(t["x"], width=case["kernel"]), t["out"])}


def _check_solver(t, case):
    return {"T": (R.solve_unit_lower(t["L"]), t["T"])}


def _check_unlinear(t, case):
    return {"out": (R.unlinear(t["x"]), t["out"])}


def _check_linear_attention(t, case):
    semantics = case.get("semantics", "tptt-0.12")
    mask = t.get("attention_mask")
    out = R.linear_attention(
        t["x"],
        _params(t),
        case["recurrent_config"],
        case["heads"],
        case["kv_heads"],
        case["max_chunk_size"],
        semantics,
        attention_mask=mask,
        padding_side=case["padding_side"],
        bidirectional=case["bidirectional"],
    )
    expected = t["out"]
    if semantics == "recurrent" and mask is not None:
        real = mask != 0  # outputs at padded positions are unspecified
        out, expected = out[real], expected[real]
    return {"out": (out, expected)}


CHECKS = {
    "operator": _check_operator,
    "recurrent_operator": _check_recurrent_operator,
    "expander": _check_expander,
    "pool": _check_pool,
    "solver": _check_solver,
    "unlinear": _check_unlinear,
    "linear_attention": _check_linear_attention,
}


def test_golden_directories_found():
    directories = _case_directories()
    assert directories, f"no golden directory with an index.json under {GOLDENS_ROOT}"
    for directory in directories:
        index = json.loads((directory / "index.json").read_text())
        listed = {f"{case['name']}.safetensors" for case in index["cases"]}
        present = {p.name for p in directory.glob("*.safetensors")}
        assert listed == present, f"{directory}: index.json and the files disagree"


@pytest.mark.parametrize("path", _golden_cases())
def test_golden(path):
    tensors, metadata = safetensors.load(path)
    case = json.loads(metadata["case"])
    assert case["kind"] in CHECKS, f"{path}: unknown kind {case['kind']!r}"
    for name, (got, expected) in CHECKS[case["kind"]](tensors, case).items():
        error = _relative_error(got, expected)
        assert error <= TOLERANCE, f"{path.name}: {name} relative error {error:.3g}"


# --------------------------------------------------------------------------- recurrent properties


def _random_operator_inputs(rng, b=2, h=3, s=11, n=2, d=5):
    q = rng.standard_normal((b, h, s, d))
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    k = rng.standard_normal((b, h, s, n, d))
    k /= np.linalg.norm(k, axis=-1, keepdims=True)
    v = rng.standard_normal((b, h, s, n, d))
    alpha = R.sigmoid(rng.standard_normal((b, h, s, d)) + 2.0)
    beta = R.sigmoid(rng.standard_normal((b, h, s, d)))
    return q, k, v, alpha, beta


@pytest.mark.parametrize("n", [1, 2, 3])
def test_recurrent_chunk_size_irrelevant_when_linear(n):
    rng = np.random.default_rng(10 + n)
    inputs = _random_operator_inputs(rng, n=n)
    mask = np.ones((2, 11), dtype=np.int64)
    mask[1, :3] = 0
    reference_out, reference_state = R.operator_recurrent(*inputs, 1, True, mask=mask)
    for chunk_size in (2, 3, 4, 11, 64):
        out, state = R.operator_recurrent(*inputs, chunk_size, True, mask=mask)
        assert np.array_equal(out, reference_out)
        assert np.array_equal(state, reference_state)


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("linear", [True, False])
def test_decode_step_reproduces_full_sequence(n, linear):
    rng = np.random.default_rng(20 + n)
    q, k, v, alpha, beta = _random_operator_inputs(rng, n=n)
    initial_state = 0.1 * rng.standard_normal((2, 3, 5, 5))
    chunk_size = 3
    full_out, full_state = R.operator_recurrent(
        q, k, v, alpha, beta, chunk_size, linear, initial_state
    )
    state = initial_state
    for t in range(q.shape[2]):
        o, state = R.decode_step_recurrent(
            state,
            q[:, :, t],
            k[:, :, t],
            v[:, :, t],
            alpha[:, :, t],
            beta[:, :, t],
            t,
            chunk_size,
            linear,
        )
        assert _relative_error(o, full_out[:, :, t]) <= 1e-12
    assert _relative_error(state, full_state) <= 1e-12
    if not linear:
        linear_out, _ = R.operator_recurrent(q, k, v, alpha, beta, chunk_size, True, initial_state)
        assert np.array_equal(full_out[:, :, :chunk_size], linear_out[:, :, :chunk_size])
        assert not np.allclose(full_out[:, :, chunk_size:], linear_out[:, :, chunk_size:])


LAYER_MODES = {
    "delta_product": {
        "order": 2,
        "alpha_gate": "c",
        "beta_gate": "k",
        "linear": True,
        "trick": "dt",
    },
    "gated_delta_product": {
        "order": 2,
        "alpha_gate": "k",
        "beta_gate": "k",
        "linear": True,
        "trick": "dt",
    },
    "delta_product_c": {
        "order": 2,
        "alpha_gate": "c",
        "beta_gate": "k",
        "linear": True,
        "trick": "rdt",
    },
    "order3_kv_rot": {
        "order": 3,
        "alpha_gate": "v",
        "beta_gate": "kv",
        "linear": True,
        "trick": "rot",
    },
    "delta_rule_gelu": {
        "order": 1,
        "alpha_gate": "c",
        "beta_gate": "k",
        "linear": False,
        "trick": "dt",
    },
    "order3_gelu": {
        "order": 3,
        "alpha_gate": "k",
        "beta_gate": "c",
        "linear": False,
        "trick": "dt",
    },
}


def _random_layer(rng, hidden=16, heads=2, kv_heads=1, head_dim=8):
    shapes = {"q": heads * head_dim, "k": kv_heads * head_dim, "v": kv_heads * head_dim}
    params = {}
    for name, rows in shapes.items():
        params[f"{name}_proj.weight"] = rng.standard_normal((rows, hidden)) / math.sqrt(hidden)
        params[f"{name}_proj.bias"] = 0.1 * rng.standard_normal(rows)
    params["out_proj.weight"] = rng.standard_normal((hidden, heads * head_dim)) / math.sqrt(hidden)
    params["out_proj.bias"] = 0.1 * rng.standard_normal(hidden)
    return params


def _padded_batch(rng, seq=10, hidden=16):
    x = rng.standard_normal((3, seq, hidden))
    mask = np.ones((3, seq), dtype=np.int64)
    mask[1, :4] = 0  # left padding
    mask[2, 7:] = 0  # right padding
    return x, mask


@pytest.mark.parametrize("mode", sorted(LAYER_MODES))
@pytest.mark.parametrize("bidirectional", [False, True])
def test_recurrent_padded_batch_equals_sequences_alone(mode, bidirectional):
    rng = np.random.default_rng(30)
    params = _random_layer(rng)
    x, mask = _padded_batch(rng)
    cfg = LAYER_MODES[mode]
    batched = R.linear_attention(
        x, params, cfg, 2, 1, 3, "recurrent", attention_mask=mask, bidirectional=bidirectional
    )
    for b in range(x.shape[0]):
        real = mask[b] != 0
        alone = R.linear_attention(
            x[b : b + 1, real], params, cfg, 2, 1, 3, "recurrent", bidirectional=bidirectional
        )
        assert _relative_error(batched[b, real], alone[0]) <= 1e-12
        assert not batched[b, ~real].any()


@pytest.mark.parametrize("mode", sorted(LAYER_MODES))
def test_recurrent_layer_decode_reproduces_forward(mode):
    """Token-by-token decode with bounded caches equals the full forward on real tokens.

    The caches are those of SEMANTICS.md: the last two raw k/v rows (gate pool), the last n−1 rows
    of k̂/v̂ (virtual-token lags), the state, and the real-token position (φ).
    """
    rng = np.random.default_rng(40)
    heads, kv_heads, chunk_size = 2, 1, 3
    params = _random_layer(rng)
    x, mask = _padded_batch(rng)
    cfg = LAYER_MODES[mode]
    order = cfg["order"]
    full = R.linear_attention(
        x, params, cfg, heads, kv_heads, chunk_size, "recurrent", attention_mask=mask
    )

    def project(row, name):
        return row @ params[f"{name}_proj.weight"].T + params[f"{name}_proj.bias"]

    for b in range(x.shape[0]):
        raw_k, raw_v, k_hat, v_hat = [], [], [], []
        state = np.zeros((1, heads, 8, 8))
        position = 0
        for t in np.flatnonzero(mask[b]):
            row = x[b : b + 1, t : t + 1]  # [1, 1, hidden]
            q, k, v = project(row, "q"), project(row, "k"), project(row, "v")
            raw_k, raw_v = (raw_k + [k])[-3:], (raw_v + [v])[-3:]
            alpha, beta = R.gates(
                np.concatenate(raw_k, axis=1),
                np.concatenate(raw_v, axis=1),
                cfg["alpha_gate"],
                cfg["beta_gate"],
                heads,
                kv_heads,
            )
            qh, kh, vh = R.feature_map(q, k, v, heads, kv_heads)
            k_hat, v_hat = (k_hat + [kh])[-order:], (v_hat + [vh])[-order:]
            ke = R.expand(np.concatenate(k_hat, axis=2), order, cfg["trick"])[:, :, -1]
            ve = R.expand(np.concatenate(v_hat, axis=2), order, cfg["trick"])[:, :, -1]
            o, state = R.decode_step_recurrent(
                state,
                qh[:, :, 0],
                ke,
                ve,
                alpha[:, :, -1],
                beta[:, :, -1],
                position,
                chunk_size,
                cfg["linear"],
            )
            position += 1
            out = project(R.merge_heads_rms(o[:, :, None]), "out")
            assert _relative_error(out[0, 0], full[b, t]) <= 1e-12


# --------------------------------------------------------------------------- tptt-0.12 examples


def _worked_example(n):
    """Reference note §4.4: B = H = 1, d = 2, two tokens, β = 0.5, α = 1."""
    q = np.array([[1.0, 0.0], [0.6, 0.8]]).reshape(1, 1, 2, 2)
    k = np.array([[0.0, 1.0], [0.8, 0.6]]).reshape(1, 1, 2, 2)
    v = np.array([[1.0, 2.0], [3.0, -1.0]]).reshape(1, 1, 2, 2)
    beta = np.full((1, 1, 2, 2), 0.5)
    trick = "dt" if n > 1 else "cte"
    expanded = [R.expand(t, n, trick) for t in (q, k, v, beta)]
    alpha = np.ones_like(expanded[0])
    return expanded[:3] + [alpha, expanded[3]]


@pytest.mark.parametrize(
    "chunk, out, state",
    [
        (2, [[0.5, 0.0], [0.81, -0.64]], [[0.54, -0.32], [0.2025, -0.12]]),
        (1, [[0.5, 0.0], [1.055, -0.12]], [[0.57, -0.26], [0.6775, 0.305]]),
    ],
)
def test_operator_012_worked_example(chunk, out, state):
    got_out, got_state = R.operator_012(*_worked_example(1), chunk, True, np.zeros((1, 1, 1, 2, 2)))
    np.testing.assert_allclose(got_out[0, 0], out, rtol=0, atol=1e-14)
    np.testing.assert_allclose(got_state[0, 0], state, rtol=0, atol=1e-14)


def test_operator_012_gv4_variants():
    """GV-4 of reference note §13 (7-digit values confirmed against the reference)."""
    out, _ = R.operator_012(*_worked_example(1), 2, True)  # no initial state: 1e-6 fill
    np.testing.assert_allclose(out[0, 0], [[0.5000005, 1e-6], [0.81000107, -0.63999904]], atol=1e-8)
    inputs = _worked_example(2)  # dt: β_{t,0} = −0.25, β_{t,1} = 0.25·[t ≥ 1]
    out, state = R.operator_012(*inputs, 2, True, np.zeros((1, 1, 2, 2, 2)))
    np.testing.assert_allclose(out[0, 0], [[0, 0], [0.0903842, -0.0057813]], atol=1e-7)
    np.testing.assert_allclose(
        state[0, 0], [[0.0385042, -0.0105778], [0.0496486, 0.0264452]], atol=1e-7
    )
    out, _ = R.operator_012(*inputs, 1, True, np.zeros((1, 1, 2, 2, 2)))
    np.testing.assert_allclose(out[0, 0, 1], [0.0853623, -0.0063672], atol=1e-7)
    out, state = R.operator_012(*_worked_example(1), 1, False, np.zeros((1, 1, 1, 2, 2)))
    np.testing.assert_allclose(out[0, 0, 1], [0.9564473, -0.1587922], atol=1e-7)
    np.testing.assert_allclose(
        state[0, 0], [[0.5238439, 0.0213691], [0.4685161, 0.0796079]], atol=1e-7
    )


def test_pool_gv1():
    x = np.array([3.0, 1.0, 4.0, 1.0, 5.0])
    got = R.causal_mean(np.stack([x, -x], axis=-1)[None])
    expected = np.array([3, 7 / 3, 8 / 3, 2, 10 / 3])
    np.testing.assert_allclose(got[0], np.stack([expected, -expected], axis=-1), rtol=1e-15)


def test_pool_mask_skips_padding():
    x = np.arange(12.0).reshape(2, 6, 1) + 1
    mask = np.array([[1, 1, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1]])
    got = R.causal_mean(x, mask=mask)
    np.testing.assert_allclose(got[1, 2:, 0], R.causal_mean(x[1:, 2:])[0, :, 0], rtol=0, atol=0)
    assert not got[1, :2].any()


def test_expander_gv3():
    x = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]).reshape(1, 1, 3, 2)
    dt2 = R.expand(x, 2, "dt")[0, 0]
    np.testing.assert_array_equal(dt2[:, 0], [[-0.5, -1], [-1.5, -2], [-2.5, -3]])
    np.testing.assert_array_equal(dt2[:, 1], [[0, 0], [0.5, 1], [1.5, 2]])
    np.testing.assert_array_equal(
        R.expand(x, 3, "dt")[0, 0, 2], [[1.25, 1.5], [-1.5, -2], [0.25, 0.5]]
    )
    np.testing.assert_allclose(
        R.expand(x, 3, "rot")[0, 0, 0],
        [[1, 2], [-2.232051, -0.133975], [1.232051, -1.866025]],
        atol=1e-6,
    )
    cos, sin = R.rotation_cos_sin(2)
    assert cos[1] == -1.0
    np.testing.assert_allclose(sin[1], -8.742278e-08, rtol=1e-6)  # sin(fl32(π)) in float32, not 0
    odd = np.arange(1.0, 4.0).reshape(1, 1, 1, 3)
    np.testing.assert_array_equal(R.expand(odd, 3, "rot")[0, 0, 0, :, 2], [3, 3, 3])
    np.testing.assert_array_equal(R.expand(x, 3, "cte")[0, 0, 1], [[3, 4]] * 3)
    np.testing.assert_allclose(
        R.expand(x, 2, "rdt"), 0.5 * (R.expand(x, 2, "dt") + R.expand(x, 2, "rot"))
    )
    with pytest.raises(ValueError, match="unknown trick"):
        R.expand(x, 2, "derivative")


def test_solver_gv2():
    L = np.array([[0, 0, 0], [0.5, 0, 0], [-0.25, 2, 0]])
    np.testing.assert_allclose(
        R.solve_unit_lower(L), [[1, 0, 0], [-0.5, 1, 0], [1.25, -2, 1]], atol=1e-15
    )


def test_unlinear_rows():
    np.testing.assert_allclose(R.unlinear(np.array([3.0, 4.0])), [1.5925538, 3.0242732], atol=1e-7)
    np.testing.assert_allclose(
        R.unlinear(np.array([1.0, -2.0, 2.0])), [0.2491455, 0.1218479, 1.2114850], atol=1e-7
    )
    assert not R.unlinear(np.zeros((2, 3))).any()


@pytest.mark.parametrize(
    "seq, bound, chunk",
    [(127, 64, 1), (128, 64, 64), (120, 64, 60), (7, 10, 7), (0, 4, 1), (1, 1, 1)],
)
def test_chunk_size_012(seq, bound, chunk):
    assert R.chunk_size_012(seq, bound) == chunk


def test_mag_mix():
    rng = np.random.default_rng(50)
    o_soft, o_lin = rng.standard_normal((2, 2, 3, 4))
    assert np.array_equal(R.mag_mix(o_soft, o_lin, 0.0), o_soft)
    s, l = 0.75 * o_soft, 0.25 * o_lin
    np.testing.assert_allclose(R.mag_mix(o_soft, o_lin, 0.25, cross_gate=True), s + l + s * l)
    scale = np.sqrt(np.mean(o_soft**2, axis=-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(
        R.mag_mix(o_soft, o_lin, 0.25, base_scale_attn=True), s + 0.25 * scale * o_lin
    )


# --------------------------------------------------------------------------- safetensors


def test_safetensors_round_trip(tmp_path):
    tensors = {
        "f64": np.linspace(-1, 1, 6).reshape(2, 3),
        "f32": np.arange(4, dtype=np.float32),
        "f16": np.array([0.5, -2.0], dtype=np.float16),
        "i64": np.array([[1, 0, -3]], dtype=np.int64),
        "i32": np.array(7, dtype=np.int32),
        "bf16": np.array([1.0, -2.5, 3.0e38, 1.00390625], dtype=np.float32),
    }
    path = tmp_path / "t.safetensors"
    safetensors.save(path, tensors, metadata={"case": "{}"}, dtypes={"bf16": "BF16"})
    blob = path.read_bytes()
    (header_len,) = struct.unpack("<Q", blob[:8])
    assert header_len % 8 == 0
    assert json.loads(blob[8 : 8 + header_len])["bf16"]["dtype"] == "BF16"
    loaded, metadata = safetensors.load(path)
    assert metadata == {"case": "{}"}
    for name in ("f64", "f32", "f16", "i64", "i32"):
        assert loaded[name].dtype == tensors[name].dtype
        np.testing.assert_array_equal(loaded[name], tensors[name])
    assert loaded["bf16"].dtype == np.float32
    np.testing.assert_array_equal(loaded["bf16"][:2], [1.0, -2.5])
    np.testing.assert_allclose(loaded["bf16"][2], 3.0e38, rtol=2**-8)
    assert loaded["bf16"][3] == 1.0  # 1 + 2^-8 is a tie: rounds to even


def _write_raw(path, header, data=b""):
    raw = json.dumps(header).encode() if isinstance(header, dict) else header
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)


@pytest.mark.parametrize(
    "header, data, message",
    [
        (b"{not json", b"", "not valid UTF-8 JSON"),
        (
            {"x": {"dtype": "F8", "shape": [1], "data_offsets": [0, 1]}},
            b"\0",
            "tensor 'x': unknown dtype",
        ),
        (
            {"x": {"dtype": "F64", "shape": [2], "data_offsets": [0, 16]}},
            b"\0" * 8,
            "tensor 'x': data_offsets",
        ),
        (
            {"x": {"dtype": "F64", "shape": [2], "data_offsets": [0, 8]}},
            b"\0" * 8,
            "tensor 'x': data_offsets span",
        ),
        (
            {"x": {"dtype": "F64", "shape": [-1], "data_offsets": [0, 8]}},
            b"\0" * 8,
            "tensor 'x': shape",
        ),
    ],
)
def test_safetensors_corrupt_header(tmp_path, header, data, message):
    path = tmp_path / "bad.safetensors"
    _write_raw(path, header, data)
    with pytest.raises(ValueError, match=message) as err:
        safetensors.load(path)
    assert "bad.safetensors" in str(err.value)


def test_safetensors_bad_length(tmp_path):
    path = tmp_path / "short.safetensors"
    path.write_bytes(b"\x01\x02")
    with pytest.raises(ValueError, match="short.safetensors.*too short"):
        safetensors.load(path)
    path.write_bytes(struct.pack("<Q", 1000) + b"{}")
    with pytest.raises(ValueError, match="short.safetensors: header length 1000 exceeds"):
        safetensors.load(path)
