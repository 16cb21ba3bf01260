"""Block-scaled formats (OCP MX, NVFP4): golden quantizer, dequantizer and block dot product
against torchao, against references written from the spec text, and against Fractions."""

from __future__ import annotations

import math
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest

from hw import formats as F
from hw.formats import BlockFormat, ScaleRule, block

FP32 = F.get("fp32")
MX = ["mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e3m2", "mxfp6_e2m3", "mxfp4", "mxint8"]
ELEMENT_DTYPES = {"e4m3": ml_dtypes.float8_e4m3fn, "e5m2": ml_dtypes.float8_e5m2, "e3m2": ml_dtypes.float6_e3m2fn,
                  "e2m3": ml_dtypes.float6_e2m3fn, "e2m1": ml_dtypes.float4_e2m1fn}


def test_registry_and_parameters():
    for name in MX:
        fmt = F.get(name)
        assert fmt.block_size == 32 and fmt.scale == F.E8M0 and fmt.rule is ScaleRule.FLOOR
    nv = F.get("nvfp4")
    assert (nv.element.name, nv.scale.name, nv.block_size, nv.tensor_scale) == ("e2m1", "e4m3", 16, True)
    assert F.get("mxint8").element_max == 127 / 64 and F.get("mxint8").element_emax == 0
    assert [F.get(n).element_emax for n in ("mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e3m2", "mxfp6_e2m3", "mxfp4")] == \
        [8, 15, 4, 2, 2]
    custom = F.get("mx_e3m4_b16")
    assert custom.block_size == 16 and custom.element.man_bits == 4
    # parameters, not copies: any element/scale pair and block size
    other = BlockFormat("e3m2_by_e4m3", F.get("e3m2"), F.get("e4m3"), 8, rule="nearest")
    t = block.quantize(other, np.linspace(-3, 3, 20))
    assert t.scales.shape == (3,) and np.all(np.abs(t.dequantize() - np.linspace(-3, 3, 20)) <= 0.5)


@pytest.mark.parametrize("kwargs, message", [
    (dict(element=F.get("posit8")), "element must be"),
    (dict(scale=F.get("int8")), "scale must be"),
    (dict(block_size=0), "block_size must be"),
    (dict(rule="nearest"), "'nearest' needs a float scale"),
    (dict(scale=F.get("e4m3")), "'floor' needs a power-of-two"),
    (dict(rule="up"), "unknown scale rule 'up'"),
])
def test_bad_parameters(kwargs, message):
    args = dict(name="x", element=F.get("e4m3"), scale=F.E8M0, block_size=32) | kwargs
    with pytest.raises(ValueError, match=message):
        BlockFormat(**args)


def test_e8m0_matches_ml_dtypes():
    """Every code decodes as ml_dtypes' float8_e8m0fnu; encode agrees on every fp32 normal input.

    fp32 subnormals in (2**-127, 2**-126) differ: ml_dtypes gives 2**-126 even for
    1.01 * 2**-127; we round to the nearer scale, 2**-127 below 1.5 * 2**-127.
    Zero (no E8M0 value) gives code 0 here; ml_dtypes gives 0 or 0xFF depending on its code path."""
    codes = np.arange(256)
    ref = codes.astype(np.uint8).view(ml_dtypes.float8_e8m0fnu).astype(np.float64)
    np.testing.assert_array_equal(F.E8M0.decode(codes), ref)
    rng = np.random.default_rng(0)
    values = np.concatenate([np.ldexp(rng.uniform(1, 2, 50_000), rng.integers(-135, 130, 50_000)),
                             np.ldexp(1.5, np.arange(-130, 128)), [0.0, -1.0, np.inf, -np.inf, np.nan, 1e-45]])
    with np.errstate(over="ignore"):  # the largest draws overflow float32 to Inf, on purpose
        values = values.astype(np.float32)
    ref = values.astype(ml_dtypes.float8_e8m0fnu).view(np.uint8)
    ours = F.E8M0.encode(values)
    normal = ~((np.abs(values) > 2.0 ** -127) & (np.abs(values) < 2.0 ** -126)) & (values != 0)
    assert normal.sum() > 45_000
    np.testing.assert_array_equal(ours[normal], ref[normal])
    low = values[~normal]
    np.testing.assert_array_equal(ours[~normal], np.where(low < 1.5 * 2.0 ** -127, 0, 1))


def gaussian_blocks(rng, rows=512, cols=96, spread=8.0):
    """Gaussian rows with a log-normal spread of magnitudes, plus subnormal-fp32 and zero rows."""
    x = rng.standard_normal((rows, cols)) * np.exp(rng.standard_normal((rows, 1)) * spread)
    x[0] = 0.0
    x[1] = rng.standard_normal(cols) * 1e-39
    x[2, ::7] *= 1e3  # outliers
    return x.astype(np.float32)


def spec_quantize_mx(fmt, values):
    """OCP MX v1.0 section 6.3, written from the text: X = 2**(floor(log2(max|V|)) - emax_elem),
    P_i = quantize_to_element_format(V_i / X) with normals saturating; elements cast by ml_dtypes."""
    bs = fmt.block_size
    v = np.asarray(values, dtype=np.float64).reshape(-1, bs)
    scales, elements = [], []
    for row in v:
        amax = float(np.max(np.abs(row)))
        shared = -127 if amax == 0 else max(math.frexp(amax)[1] - 1 - fmt.element_emax, -127)
        scales.append(shared + 127)
        scaled = row / 2.0 ** shared
        if fmt.element.name == "int8":
            codes = np.clip(np.round(scaled * 64), -127, 127).astype(np.int8).view(np.uint8)
        else:
            dtype = ELEMENT_DTYPES[fmt.element.name]
            codes = np.clip(scaled, -fmt.element_max, fmt.element_max).astype(dtype).view(np.uint8)
        elements.append(codes)
    return np.array(scales), np.concatenate(elements)


@pytest.mark.parametrize("name", MX)
@pytest.mark.parametrize("source", ["fp32", "bf16"])
def test_quantize_matches_the_spec_text(name, source):
    fmt = F.get(name)
    x = gaussian_blocks(np.random.default_rng(1))
    if source == "bf16":
        x = x.astype(ml_dtypes.bfloat16)
    t = block.quantize(fmt, x)
    scales, elements = spec_quantize_mx(fmt, x.astype(np.float64).ravel())
    np.testing.assert_array_equal(t.scales.ravel(), scales)
    np.testing.assert_array_equal(t.elements.ravel().astype(np.uint8), elements)


def _torchao():
    pytest.importorskip("torch")
    try:
        from torchao.prototype.mx_formats.config import ScaleCalculationMode
        from torchao.prototype.mx_formats.mx_tensor import to_mx
    except Exception as e:  # torchao is optional and version-sensitive
        pytest.skip(f"torchao's mx_formats not importable: {e}")
    return to_mx, ScaleCalculationMode


@pytest.mark.parametrize("name", ["mxfp8_e4m3", "mxfp8_e5m2", "mxfp4"])
@pytest.mark.parametrize("rule, mode", [("floor", "floor"), ("ceil", "rceil")])
def test_quantize_matches_torchao(name, rule, mode):
    """Bit for bit against torchao's to_mx, except blocks with scale 2**-127 (code 0): torchao
    divides those by its fp32 floor 2**-126, so its elements decode to half the value; ours follow the spec."""
    import torch
    to_mx, mode_enum = _torchao()
    fmt = F.get(name)
    x = gaussian_blocks(np.random.default_rng(2))
    dtypes = {"e4m3": torch.float8_e4m3fn, "e5m2": torch.float8_e5m2, "e2m1": torch.float4_e2m1fn_x2}
    scales, data = to_mx(torch.from_numpy(x), dtypes[fmt.element.name], fmt.block_size, mode_enum(mode))
    scales = scales.view(torch.uint8).numpy().reshape(x.shape[0], -1)
    data = data.view(torch.uint8).numpy()
    if fmt.element.name == "e2m1":
        data = np.stack([data & 15, data >> 4], axis=-1).reshape(x.shape)
    t = block.quantize(fmt, x, rule=rule)
    np.testing.assert_array_equal(t.scales, scales)
    normal = np.repeat(scales > 0, fmt.block_size, axis=1)
    assert normal.sum() > 0.9 * normal.size
    np.testing.assert_array_equal(t.elements[normal], data[normal])


def _nearest_even(value: Fraction, grid: list[tuple[Fraction, int]]) -> int:
    """Code of the grid value nearest ``value`` (ties to the even code), saturating at the ends."""
    best = min(grid, key=lambda g: (abs(g[0] - value), g[1] & 1))
    return best[1]


def test_nvfp4_matches_fractions():
    """NVFP4's two-level scale computed independently with Fractions over explicit value grids."""
    fmt = F.get("nvfp4")
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((6, 48)) * np.exp(rng.standard_normal((6, 1)) * 3)).astype(np.float32)
    x[1, :16] = 0.0
    t = block.quantize(fmt, x)
    amax = max(abs(Fraction(float(v))) for v in x.ravel())
    e4m3 = [(Fraction(float(F.get("e4m3").decode(c))), c) for c in range(0x7F)]
    e2m1 = [(Fraction(float(F.get("e2m1").decode(c))), c) for c in range(16)]
    ts = Fraction(float(t.tensor_scale))  # amax / 2688 rounded up to fp32
    assert ts >= amax / 2688 and np.nextafter(np.float32(ts), np.float32(0)) < amax / 2688
    for r in range(x.shape[0]):
        for k in range(3):
            row = [Fraction(float(v)) for v in x[r, 16 * k:16 * k + 16]]
            scale = _nearest_even(max(abs(v) for v in row) / (6 * ts), e4m3)
            assert t.scales[r, k] == scale
            s = e4m3[scale][0] * ts
            for i, v in enumerate(row):
                if s == 0:
                    expected = 8 if math.copysign(1, float(v)) < 0 else 0
                else:
                    mag = _nearest_even(abs(v) / s, e2m1[:8])
                    expected = mag | (8 if v < 0 else 0)
                assert t.elements[r, 16 * k + i] == expected, (r, k, i)


@pytest.mark.parametrize("name", MX + ["nvfp4"])
def test_special_blocks(name):
    fmt = F.get(name)
    bs = fmt.block_size
    x = np.ones((5, bs), dtype=np.float32)
    x[0, 3] = np.nan
    x[1, 0] = -np.inf
    x[2] = 0.0
    x[2, 1::2] = -0.0
    x[3, 0] = 1e30  # saturation check below
    t = block.quantize(fmt, x)
    assert t.scales[0, 0] == t.scales[1, 0] == fmt.scale.nan_code
    assert not t.elements[:2].any()
    assert np.isnan(t.dequantize()[:2]).all()
    assert t.scales[2, 0] == 0 and (t.dequantize()[2] == 0).all()
    if isinstance(fmt.element, F.FloatFormat):  # signed zeros survive
        assert (np.signbit(t.dequantize()[2]) == np.signbit(x[2])).all()
    assert np.isfinite(t.dequantize()[3:]).all()


def test_partial_last_block_and_shapes():
    fmt = F.get("mxfp4")
    x = np.random.default_rng(4).standard_normal((2, 3, 70)).astype(np.float32)
    t = block.quantize(fmt, x)
    assert t.elements.shape == (2, 3, 70) and t.scales.shape == (2, 3, 3)
    whole = block.quantize(fmt, np.concatenate([x, np.zeros((2, 3, 26), np.float32)], axis=-1))
    np.testing.assert_array_equal(t.scales, whole.scales)
    np.testing.assert_array_equal(t.elements, whole.elements[..., :70])
    with pytest.raises(ValueError, match="at least one axis"):
        block.quantize(fmt, np.float32(1.0))


@pytest.mark.parametrize("name", MX + ["nvfp4"])
def test_dequantize_is_exact_and_ceil_never_saturates(name):
    fmt = F.get(name)
    x = gaussian_blocks(np.random.default_rng(5), rows=256, cols=fmt.block_size * 2, spread=2.0)
    amax = np.abs(x.astype(np.float64)).reshape(256, -1, fmt.block_size).max(-1)
    for rule in ["ceil", fmt.rule.value]:
        t = block.quantize(fmt, x, rule=rule)
        scale = fmt.scale.decode(t.scales) * t.tensor_scale
        np.testing.assert_array_equal(
            t.dequantize(), fmt.element_decode(t.elements) * np.repeat(scale, fmt.block_size, axis=-1))
        fits = amax <= fmt.element_max * scale
        if rule == "ceil":
            assert fits.all()
        elif fmt.rule is ScaleRule.FLOOR:
            assert not fits.all()  # the OCP rule saturates some blocks' largest elements


def _fraction_block_dot(fmt, a, sa, b, sb, align_bits=None):
    """sum(a_i * b_i) * scale_a * scale_b with Fractions, truncating aligned products when asked."""
    va = [Fraction(float(v)) for v in fmt.element_decode(a)]
    vb = [Fraction(float(v)) for v in fmt.element_decode(b)]
    products = [x * y for x, y in zip(va, vb)]
    if align_bits is not None:
        raw = fmt.element.unpack(np.concatenate([a, b]))
        exps = raw.exp[:len(a)] + raw.exp[len(a):]
        tops = [int(e) + 2 * fmt.element.precision for e, p in zip(exps, products) if p != 0]
        if tops:
            cut = Fraction(2) ** (max(tops) - align_bits)
            products = [math.copysign(1, p) * Fraction(math.floor(abs(p) / cut)) * cut if p else p for p in products]
            products = [Fraction(p) for p in products]
    total = sum(products, Fraction(0))
    return total * Fraction(float(fmt.scale.decode(sa))) * Fraction(float(fmt.scale.decode(sb)))


@pytest.mark.parametrize("name, align_bits", [(n, None) for n in ["mxfp8_e4m3", "mxfp4", "mxint8", "nvfp4", "mxfp6_e2m3"]]
                         + [(n, w) for n in ["mxfp8_e4m3", "mxfp4", "nvfp4", "mxfp6_e2m3"] for w in (6, 14)])
def test_block_dot_matches_fractions(name, align_bits):
    fmt = F.get(name)
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 200, fmt.block_size)) * np.exp(rng.standard_normal((2, 200, 1)) * 4)
    qa, qb = block.quantize(fmt, x[0]), block.quantize(fmt, x[1])
    acc = np.zeros(200, dtype=np.uint32)
    got = block.block_dot(fmt, qa.elements, qa.scales[:, 0], qb.elements, qb.scales[:, 0], acc, FP32, align_bits)
    for i in range(200):
        value = _fraction_block_dot(fmt, qa.elements[i], qa.scales[i, 0], qb.elements[i], qb.scales[i, 0], align_bits)
        expected = np.float32(float(value))  # one rounding of a value that float64 holds exactly here
        assert got[i] == expected.view(np.uint32), (i, value)


def test_aligned_sum_converges_to_exact():
    fmt = F.get("mxfp8_e4m3")
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 400, 32))
    qa, qb = block.quantize(fmt, x[0]), block.quantize(fmt, x[1])
    args = (fmt, qa.elements, qa.scales[:, 0], qb.elements, qb.scales[:, 0], np.zeros(400, np.uint32), FP32)
    exact = FP32.decode(block.block_dot(*args))
    errors = [np.mean(np.abs(FP32.decode(block.block_dot(*args, align_bits=w)) - exact)) for w in (4, 8, 16, 40)]
    assert errors[0] > errors[1] > errors[2] and errors[3] == 0


def test_multi_block_dot_with_tensor_scales():
    fmt = F.get("nvfp4")
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 10, 56)).astype(np.float32)
    qa, qb = block.quantize(fmt, x[0]), block.quantize(fmt, x[1])
    got = FP32.decode(block.dot(qa, qb, FP32))
    reference = np.sum(qa.dequantize() * qb.dequantize(), axis=-1)
    np.testing.assert_allclose(got, reference, rtol=1e-6)
    with pytest.raises(ValueError, match="same format and shape"):
        block.dot(qa, block.quantize(F.get("mxfp4"), x[1]), FP32)
