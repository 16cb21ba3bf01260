"""The golden model against independent references: ml_dtypes, torch casts, Fractions."""

from __future__ import annotations

from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest

from hw import formats as F
from hw.formats import FloatFormat, IntFormat, golden

ML_DTYPES = {
    "e4m3": ml_dtypes.float8_e4m3fn, "e5m2": ml_dtypes.float8_e5m2,
    "e4m3fnuz": ml_dtypes.float8_e4m3fnuz, "e5m2fnuz": ml_dtypes.float8_e5m2fnuz,
    "e3m2": ml_dtypes.float6_e3m2fn, "e2m3": ml_dtypes.float6_e2m3fn, "e2m1": ml_dtypes.float4_e2m1fn,
    "bf16": ml_dtypes.bfloat16, "fp16": np.float16,
    "e3m4": ml_dtypes.float8_e3m4,  # not registered: the generic IEEE-style eXmY reading
}


def _view(codes, dtype):
    """float64 values of ``codes`` read as ``dtype``."""
    with np.errstate(invalid="ignore"):
        return np.asarray(codes).astype(np.uint16 if np.dtype(dtype).itemsize == 2 else np.uint8).view(dtype).astype(np.float64)


def _bits(values, dtype):
    return np.asarray(values).view(np.uint16 if np.dtype(dtype).itemsize == 2 else np.uint8).astype(np.int64)


@pytest.mark.parametrize("name", list(ML_DTYPES))
def test_decode_every_code_matches_ml_dtypes(name):
    fmt = F.get(name)
    codes = np.arange(1 << fmt.width)
    ours = fmt.decode(codes)
    ref = _view(codes, ML_DTYPES[name])
    np.testing.assert_array_equal(ours, ref)
    np.testing.assert_array_equal(np.signbit(ours), np.signbit(ref))


def test_decode_fp32_matches_numpy():
    rng = np.random.default_rng(0)
    codes = np.concatenate([rng.integers(0, 2**32, 200_000, dtype=np.uint64),
                            np.array([0, 1, 0x7FFFFF, 0x800000, 0x7F7FFFFF, 0x7F800000, 0x7FC00000, 0x80000001], dtype=np.uint64)])
    ours = F.get("fp32").decode(codes)
    with np.errstate(invalid="ignore"):
        ref = codes.astype(np.uint32).view(np.float32).astype(np.float64)
    np.testing.assert_array_equal(ours, ref)


def test_decode_integers():
    np.testing.assert_array_equal(F.get("int8").decode(np.arange(256)), np.arange(256).astype(np.uint8).view(np.int8))
    np.testing.assert_array_equal(F.get("int4").decode(np.arange(16)), list(range(8)) + list(range(-8, 0)))


def dense_sweep(fmt: FloatFormat) -> np.ndarray:
    """float32 values across the format's range and beyond, dense enough to hit every tie.

    Every binade from a quarter of the smallest subnormal to four times the
    largest value, with the top man_bits + 3 mantissa bits enumerated (so every
    representable value, every midpoint and the quarter points between), each
    also nudged one float32 ulp either way; both signs; zeros and infinities.
    """
    top = fmt.man_bits + 3
    exps = np.arange(fmt.emin - fmt.man_bits - 2, fmt.emax + 3)
    mants = np.arange(1 << top) << (23 - top)
    bits = ((exps[:, None] + 127) << 23 | mants[None, :]).ravel()
    bits = bits[(bits > 0) & (bits < 0x7F800000)]
    bits = np.concatenate([bits - 1, bits, bits + 1])
    values = bits.astype(np.uint32).view(np.float32)
    values = np.concatenate([values, -values, np.float32([0.0, -0.0, np.inf, -np.inf])])
    # the whole subnormal range of the format, below float32's normal grid too
    return values


@pytest.mark.parametrize("name", list(ML_DTYPES))
def test_encode_dense_sweep_matches_ml_dtypes(name):
    fmt, dtype = F.get(name), ML_DTYPES[name]
    x = dense_sweep(fmt)
    ours = fmt.encode(x)
    with np.errstate(over="ignore", invalid="ignore"):
        ref = _bits(x.astype(dtype), dtype)
    np.testing.assert_array_equal(ours, ref)
    assert len(x) > 500


@pytest.mark.parametrize("name", list(ML_DTYPES))
def test_encode_nan(name):
    fmt, dtype = F.get(name), ML_DTYPES[name]
    nans = np.float32([np.nan, -np.nan])
    ours = fmt.encode(nans)
    if fmt.has_nan:
        np.testing.assert_array_equal(ours, _bits(nans.astype(dtype), dtype))  # sign kept, canonical payload
    else:
        # Implementation-defined; we give +0 (ml_dtypes gives a zero of the opposite sign).
        np.testing.assert_array_equal(ours, [0, 0])


def _nearest_table(fmt: FloatFormat):
    codes = np.arange(1 << fmt.width)
    values = fmt.decode(codes)
    keep = np.isfinite(values) & ~((values == 0) & np.signbit(values))
    order = np.argsort(values[keep], kind="stable")
    return values[keep][order], codes[keep][order]


@pytest.mark.parametrize("name", ["e4m3", "e5m2", "e2m1", "e3m2", "e6m5", "e3m4"])
def test_encode_rne_and_rtz_against_brute_force_table(name):
    """Nearest (ties to the even code) and toward-zero by searching the sorted value table."""
    fmt = F.get(name)
    table, codes = _nearest_table(fmt)
    x = dense_sweep(fmt).astype(np.float64)
    x = x[np.isfinite(x) & (np.abs(x) <= fmt.max_finite)]
    hi = np.searchsorted(table, x, side="left")  # x lies within the table, so hi < len(table)
    lo = np.maximum(hi - 1, 0)
    exact = table[hi] == x
    d_lo, d_hi = x - table[lo], table[hi] - x
    even_hi = (codes[hi] & 1) == 0
    pick = np.where(exact | (d_hi < d_lo) | ((d_hi == d_lo) & even_hi), hi, lo)
    expected = table[pick]
    got = fmt.decode(fmt.encode(x))
    np.testing.assert_array_equal(np.abs(got), np.abs(expected))
    toward_zero = np.where(x >= 0, table[np.where(exact, hi, lo)], table[hi])
    np.testing.assert_array_equal(fmt.decode(fmt.encode(x, rounding="rtz")), toward_zero)


def test_encode_overflow_rules():
    big = np.float32([1e6, -1e6, np.inf, -np.inf])
    assert list(F.get("e5m2").encode(big)) == [0x7C, 0xFC, 0x7C, 0xFC]
    assert list(F.get("e5m2").encode(big, rounding="rtz")) == [0x7B, 0xFB, 0x7C, 0xFC]
    assert list(F.get("e4m3").encode(big)) == [0x7F, 0xFF, 0x7F, 0xFF]
    assert list(F.get("e4m3fnuz").encode(big)) == [0x80] * 4
    assert list(F.get("e2m1").encode(big)) == [0x7, 0xF, 0x7, 0xF]
    for name in ["e5m2", "e4m3", "e4m3fnuz", "e2m1", "fp16"]:
        fmt = F.get(name)
        np.testing.assert_array_equal(fmt.decode(fmt.encode(big, saturate=True)), [fmt.max_finite, -fmt.max_finite] * 2)
    # 464 is the midpoint between 448 (even) and the absent 480 (odd): it rounds to 448;
    # anything above it rounds to 480 with an unbounded exponent, so overflows to NaN
    assert F.get("e4m3").encode(464.0) == 0x7E and F.get("e4m3").encode(464.01) == 0x7F


def test_fnuz_has_no_negative_zero():
    fmt = F.get("e4m3fnuz")
    assert list(fmt.encode([-0.0, -1e-9])) == [0, 0]


def test_stochastic_rounding_is_seeded_unbiased_and_stays_between_neighbours():
    fmt = F.get("e4m3")
    x = np.full(200_000, 1.0 + 0.3 * 0.125)
    a = fmt.encode(x, "stochastic", rng=np.random.default_rng(5))
    b = fmt.encode(x, "stochastic", rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    values = fmt.decode(a)
    assert set(np.unique(values)) == {1.0, 1.125}
    assert abs(values.mean() - x[0]) < 0.002
    exact = fmt.decode(np.arange(0x7F))
    np.testing.assert_array_equal(fmt.decode(fmt.encode(exact, "stochastic", rng=np.random.default_rng(1))), exact)
    with pytest.raises(ValueError, match="Generator"):
        fmt.encode(x, "stochastic")
    with pytest.raises(ValueError, match="rounding"):
        fmt.encode(x, "nearest")


def test_integer_encode_rounding_wrap_and_saturate():
    int8 = F.get("int8")
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, 127.4, 127.5, 128.0, -129.0, 300.0, np.inf, -np.inf, np.nan])
    assert list(int8.decode(int8.encode(x))) == [0, 2, 2, 0, -2, 127, -128, -128, 127, 44, 127, -128, 0]
    assert list(int8.decode(int8.encode(x, saturate=True))) == [0, 2, 2, 0, -2, 127, 127, 127, -128, 127, 127, -128, 0]
    assert list(int8.decode(int8.encode([1.9, -1.9], rounding="rtz"))) == [1, -1]
    ref = np.arange(-8, 8)
    np.testing.assert_array_equal(F.get("int4").encode(ref), ref.astype(ml_dtypes.int4).view(np.uint8) & 0xF)


def test_torch_casts_agree():
    torch = pytest.importorskip("torch")
    dtypes = {"e4m3": torch.float8_e4m3fn, "e5m2": torch.float8_e5m2, "e4m3fnuz": torch.float8_e4m3fnuz,
              "e5m2fnuz": torch.float8_e5m2fnuz, "bf16": torch.bfloat16, "fp16": torch.float16}
    for name, dtype in dtypes.items():
        fmt = F.get(name)
        store = torch.int16 if fmt.width == 16 else torch.uint8
        codes = torch.arange(1 << fmt.width, dtype=torch.int32).to(store if store == torch.uint8 else torch.int32)
        codes = codes.to(torch.int16) if fmt.width == 16 else codes
        ref = codes.view(dtype).to(torch.float64).numpy()
        np.testing.assert_array_equal(fmt.decode(np.arange(1 << fmt.width)), ref)
        x = dense_sweep(fmt)
        x = x[np.abs(x.astype(np.float64)) <= fmt.max_finite]  # in range: torch and ml_dtypes agree there
        cast = torch.from_numpy(x).to(dtype).view(store).numpy().astype(np.int64) & ((1 << fmt.width) - 1)
        np.testing.assert_array_equal(fmt.encode(x), cast)


# -- arithmetic against exact rational arithmetic -------------------------------------------

def _fraction(fmt, code):
    v = fmt.decode(code)
    return None if not np.isfinite(v) else Fraction(float(v))


def _round_fraction(x: Fraction, fmt: FloatFormat) -> float:
    """Round a rational to ``fmt`` with Python's round-half-even; +-inf on overflow."""
    if x == 0:
        return 0.0
    mag = abs(x)
    e = mag.numerator.bit_length() - mag.denominator.bit_length()
    if mag >= Fraction(2) ** (e + 1):
        e += 1
    if mag < Fraction(2) ** e:
        e -= 1
    q = max(e, fmt.emin) - fmt.man_bits
    value = Fraction(round(mag / Fraction(2) ** q)) * Fraction(2) ** q
    if value > Fraction(fmt.max_finite):
        return float(np.copysign(np.inf, float(x)))
    return float(value) * (1 if x > 0 else -1)


def _check_against_fractions(fmt, acc_fmt, a, b, acc, got):
    checked = 0
    for i in range(len(acc)):
        terms = [_fraction(acc_fmt, acc[i])] + [_fraction(fmt, x) * _fraction(fmt, y) if None not in
                                                 (_fraction(fmt, x), _fraction(fmt, y)) else None
                                                 for x, y in zip(np.atleast_1d(a[i]), np.atleast_1d(b[i]))]
        if None in terms:
            continue
        expected = _round_fraction(sum(terms), acc_fmt)
        assert acc_fmt.decode(got[i]) == expected, (i, a[i], b[i], hex(int(acc[i])), hex(int(got[i])), expected)
        checked += 1
    return checked


@pytest.mark.parametrize("name, acc_name", [("e4m3", "fp32"), ("e5m2", "fp16"), ("e2m1", "bf16"),
                                            ("bf16", "fp32"), ("fp16", "fp32"), ("e3m2", "fp16")])
def test_mac_matches_exact_rationals(name, acc_name):
    fmt, acc_fmt = F.get(name), F.get(acc_name)
    rng = np.random.default_rng(11)
    n = 4000
    a = rng.integers(0, 1 << fmt.width, n)
    b = rng.integers(0, 1 << fmt.width, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        product_top = np.nan_to_num(np.log2(np.abs(fmt.decode(a) * fmt.decode(b))), nan=0, posinf=0, neginf=0)
    near = np.ldexp(rng.random(n) + 1, np.clip(product_top + rng.integers(-30, 30, n), -140, 120).astype(int))
    acc = np.where(rng.random(n) < 0.5, rng.integers(0, 1 << acc_fmt.width, n),
                   acc_fmt.encode(near * np.where(rng.random(n) < 0.5, -1, 1), saturate=True))
    got = golden.mac(fmt, a, b, acc, acc_fmt)
    assert _check_against_fractions(fmt, acc_fmt, a, b, acc, got) > n // 2


@pytest.mark.parametrize("name, acc_name, lanes", [("e4m3", "fp32", 8), ("e5m2", "bf16", 16), ("fp16", "fp32", 4)])
def test_dot_matches_exact_rationals(name, acc_name, lanes):
    fmt, acc_fmt = F.get(name), F.get(acc_name)
    rng = np.random.default_rng(12)
    n = 1500
    a = rng.integers(0, 1 << fmt.width, (n, lanes))
    b = rng.integers(0, 1 << fmt.width, (n, lanes))
    b[: n // 2, 1] = a[: n // 2, 0] ^ fmt.sign_bit  # cancellation
    a[: n // 2, 1] = b[: n // 2, 0]
    acc = rng.integers(0, 1 << acc_fmt.width, n)
    got = golden.dot(fmt, a, b, acc, acc_fmt)
    assert _check_against_fractions(fmt, acc_fmt, a, b, acc, got) > n // 3


def test_mac_special_values():
    e4m3, e5m2, fp32 = F.get("e4m3"), F.get("e5m2"), F.get("fp32")
    NAN = 0x7FC00000
    # NaN operand, 0 * Inf, Inf - Inf: the canonical positive NaN
    assert golden.mac(e4m3, 0x7F, 0x38, 0, fp32) == NAN
    assert golden.mac(e5m2, 0x7C, 0x00, 0, fp32) == NAN
    assert golden.mac(e5m2, 0x7C, 0x3C, 0xFF800000, fp32) == NAN
    assert golden.mac(e4m3, 0x38, 0x38, 0xFFC12345, fp32) == NAN  # a NaN payload does not propagate
    # zero signs: -0 + (-0) = -0; -0 + (+0) = +0; x - x = +0
    assert golden.mac(e4m3, 0x80, 0x38, 0x80000000, fp32) == 0x80000000
    assert golden.mac(e4m3, 0x00, 0x38, 0x80000000, fp32) == 0
    assert golden.mac(e4m3, 0x38, 0x38, 0xBF800000, fp32) == 0
    # a subnormal accumulator survives (no flush to zero)
    assert golden.mac(e4m3, 0x00, 0x00, 0x00000001, fp32) == 1
    # fp16 overflow to Inf: 448 * 448 > 65504
    assert golden.mac(e4m3, 0x7E, 0x7E, 0, F.get("fp16")) == 0x7C00


def test_integer_mac_and_dot_wrap_modulo_2_32():
    int8, int32 = F.get("int8"), F.get("int32")
    a, b = np.meshgrid(np.arange(256), np.arange(256), indexing="ij")
    a, b = a.ravel(), b.ravel()
    acc = np.full(a.shape, 0x7FFFFFF0)
    av, bv = int8.decode(a).astype(np.int64), int8.decode(b).astype(np.int64)
    expected = (0x7FFFFFF0 + av * bv) & 0xFFFFFFFF
    np.testing.assert_array_equal(golden.mac(int8, a, b, acc, int32), expected)
    np.testing.assert_array_equal(golden.mul(int8, a, b), (av * bv) & 0xFFFF)
    rng = np.random.default_rng(2)
    A, B = rng.integers(0, 256, (500, 8)), rng.integers(0, 256, (500, 8))
    C = rng.integers(0, 2**32, 500)
    ref = (C + (int8.decode(A).astype(np.int64) * int8.decode(B).astype(np.int64)).sum(axis=1)) & 0xFFFFFFFF
    np.testing.assert_array_equal(golden.dot(int8, A, B, C, int32), ref)


@pytest.mark.parametrize("name", ["e4m3", "e5m2", "e4m3fnuz", "e5m2fnuz", "e3m2", "e2m3", "e2m1"])
def test_mul_is_exact_for_every_pair(name):
    fmt = F.get(name)
    a, b = np.meshgrid(np.arange(1 << fmt.width), np.arange(1 << fmt.width), indexing="ij")
    got = fmt.product_format().decode(golden.mul(fmt, a.ravel(), b.ravel()))
    with np.errstate(invalid="ignore"):  # 0 * inf
        np.testing.assert_array_equal(got, fmt.decode(a.ravel()) * fmt.decode(b.ravel()))


def test_dot_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="same shape"):
        golden.dot(F.get("e4m3"), np.zeros((3, 4)), np.zeros((3, 5)), np.zeros(3), F.get("fp32"))


@pytest.mark.parametrize("name, dtype", [("e4m3", "float8_e4m3fn"), ("e5m2", "float8_e5m2"),
                                         ("e2m1", "float4_e2m1fn"), ("bf16", "bfloat16"), ("fp16", "float16")])
def test_round_mul_is_the_ml_dtypes_cast_of_the_exact_product(name, dtype):
    """``round_mul`` rounds once: the exact product (float64, exact for these) cast by ml_dtypes/numpy."""
    fmt = F.get(name)
    rng = np.random.default_rng(5)
    if fmt.width <= 8:
        a, b = [x.ravel() for x in np.meshgrid(np.arange(1 << fmt.width), np.arange(1 << fmt.width), indexing="ij")]
    else:
        a, b = rng.integers(0, 1 << fmt.width, (2, 200_000))
    with np.errstate(invalid="ignore", over="ignore"):
        exact = fmt.decode(a) * fmt.decode(b)
        want = exact.astype(np.float32).astype(getattr(ml_dtypes, dtype) if dtype != "float16" else np.float16)
        fp32 = exact.astype(np.float32).astype(np.float64)
    got = fmt.decode(golden.round_mul(fmt, a, b))
    np.testing.assert_array_equal(got, want.astype(np.float64))
    into = golden.round_mul(fmt, a, b, F.get("fp32"))  # a chosen result format
    np.testing.assert_array_equal(F.get("fp32").decode(into), fp32)
