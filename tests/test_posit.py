"""Posit golden model against SoftPosit, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from hw import formats as F
from hw.formats import PositFormat, golden

sp = pytest.importorskip("softposit")

# SoftPosit types by (n, es): fixed-size types, and posit_2 (es = 2, any n) for the rest.
FIXED = {(8, 0): (sp.posit8, sp.quire8), (16, 1): (sp.posit16, sp.quire16), (32, 2): (sp.posit32, sp.quire32)}


def sp_posit(fmt: PositFormat, bits: int):
    if (fmt.n, fmt.es) in FIXED:
        return FIXED[(fmt.n, fmt.es)][0](bits=int(bits))
    assert fmt.es == 2
    return sp.posit_2(bits=int(bits), x=fmt.n)


def sp_bits(fmt: PositFormat, p) -> int:
    v = p.v.v
    return v >> (32 - fmt.n) if isinstance(p, sp.posit_2) else v


def sp_quire(fmt: PositFormat):
    if (fmt.n, fmt.es) in FIXED:
        return FIXED[(fmt.n, fmt.es)][1]()
    return sp.quire_2(fmt.n)


def reference(fmt, op, a, b):
    out = np.empty(len(a), dtype=np.int64)
    for i, (x, y) in enumerate(zip(a, b)):
        px, py = sp_posit(fmt, x), sp_posit(fmt, y)
        out[i] = sp_bits(fmt, px * py if op == "mul" else px + py)
    return out


SOFTPOSIT_8BIT = ["posit8", "posit8es2"]  # SoftPosit has no 8-bit es=1 posit


@pytest.mark.parametrize("name", ["posit8", "posit8es2", "posit16", "posit16es2"])
def test_decode_every_code_matches_softposit(name):
    fmt = F.get(name)
    codes = np.arange(1 << fmt.n)
    ref = np.array([np.nan if c == fmt.nar_code else float(sp_posit(fmt, c)) for c in codes])
    np.testing.assert_array_equal(fmt.decode(codes), ref)


def test_decode_posit32_random_codes():
    fmt = F.get("posit32")
    codes = np.random.default_rng(1).integers(0, 2**32, 20000)
    ref = np.array([np.nan if c == fmt.nar_code else float(sp_posit(fmt, c)) for c in codes])
    np.testing.assert_array_equal(fmt.decode(codes), ref)


@pytest.mark.parametrize("name", SOFTPOSIT_8BIT)
@pytest.mark.parametrize("op", ["mul", "add"])
def test_every_8bit_pair_matches_softposit(name, op):
    fmt = F.get(name)
    a, b = [x.ravel() for x in np.meshgrid(np.arange(256), np.arange(256), indexing="ij")]
    got = golden.round_mul(fmt, a, b) if op == "mul" else golden.add(fmt, a, b)
    np.testing.assert_array_equal(got, reference(fmt, op, a, b))


def _random_pairs(name, op, count, seed):
    fmt = F.get(name)
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 1 << fmt.n, count)
    b = rng.integers(0, 1 << fmt.n, count)
    got = golden.round_mul(fmt, a, b) if op == "mul" else golden.add(fmt, a, b)
    np.testing.assert_array_equal(got, reference(fmt, op, a, b))


@pytest.mark.parametrize("name", ["posit16", "posit16es2", "posit32"])
@pytest.mark.parametrize("op", ["mul", "add"])
def test_random_pairs_match_softposit(name, op):
    _random_pairs(name, op, 20_000, 5)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["posit16", "posit32"])
@pytest.mark.parametrize("op", ["mul", "add"])
def test_a_million_random_pairs_match_softposit(name, op):
    _random_pairs(name, op, 1_000_000, 6)


@pytest.mark.parametrize("name", ["posit8", "posit16", "posit32", "posit8es2"])
def test_quire_dot_products_match_softposit_quire(name):
    fmt = F.get(name)
    quire = fmt.quire()
    rng = np.random.default_rng(9)
    for length in (1, 7, 64):
        a = rng.integers(0, 1 << fmt.n, (60, length))
        b = rng.integers(0, 1 << fmt.n, (60, length))
        q = golden.dot(fmt, a, b, np.zeros(60, dtype=np.uint64), quire)
        got = golden.convert(quire, fmt, q)
        for i in range(60):
            ref = sp_quire(fmt)
            for x, y in zip(a[i], b[i]):
                ref.qma(sp_posit(fmt, x), sp_posit(fmt, y))
            assert got[i] == sp_bits(fmt, ref.toPosit()), (name, i)


def test_quire8_bits_match_softposit():
    fmt = F.get("posit8")
    rng = np.random.default_rng(4)
    a, b = rng.integers(0, 256, (200, 16)), rng.integers(0, 256, (200, 16))
    q = golden.dot(fmt, a, b, np.zeros(200, dtype=np.uint64), fmt.quire())
    for i in range(200):
        ref = sp.quire8()
        for x, y in zip(a[i], b[i]):
            ref.qma(sp.posit8(bits=int(x)), sp.posit8(bits=int(y)))
        assert int(q[i]) == ref.v.v, i


def test_quire_widths():
    assert [F.get(n).quire().bits for n in ("posit8", "posit16", "posit32", "posit8es2", "posit8es1")] == \
        [32, 128, 512, 128, 56]
    assert F.get("quire_posit16") == F.get("posit16").quire()
    assert F.accumulators(F.get("posit16")) == ["quire_posit16"]


@pytest.mark.parametrize("name, convert", [("posit8", sp.convertDoubleToP8), ("posit16", sp.convertDoubleToP16),
                                           ("posit32", sp.convertDoubleToP32)])
def test_encode_from_doubles_matches_softposit(name, convert):
    fmt = F.get(name)
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.standard_normal(5000) * 10.0 ** rng.integers(-12, 12, 5000),
                        fmt.decode(np.arange(1, 200)) * (1 + 2.0**-30), [0.0, 1e300, -1e300, 1e-300]])
    ref = np.array([convert(float(v)).v for v in x])
    np.testing.assert_array_equal(fmt.encode(x), ref)


def test_conversions_between_posits_and_floats():
    p16, fp32, bf16 = F.get("posit16"), F.get("fp32"), F.get("bf16")
    codes = np.arange(1 << 16)
    to32 = golden.convert(p16, fp32, codes)
    assert to32[p16.nar_code] == fp32.nan_code  # NaR -> NaN
    finite = codes != p16.nar_code
    np.testing.assert_array_equal(fp32.decode(to32[finite]), p16.decode(codes[finite]))  # exact: posit16 fits in fp32
    back = golden.convert(fp32, p16, to32)
    np.testing.assert_array_equal(back, codes)  # round trip
    assert golden.convert(bf16, p16, [0x7F80, 0x7FC0])[0] == p16.nar_code  # Inf -> NaR
    ref = np.array([sp.posit16(bits=int(c)).toPosit32().v.v for c in codes])
    np.testing.assert_array_equal(golden.convert(p16, F.get("posit32"), codes), ref)


def test_posit_special_rules():
    p8 = F.get("posit8")
    NAR, MAXPOS, MINPOS = 0x80, 0x7F, 0x01
    assert golden.round_mul(p8, 0, NAR) == NAR and golden.add(p8, NAR, 0x40) == NAR
    assert golden.round_mul(p8, MINPOS, MINPOS) == MINPOS  # no underflow
    assert golden.round_mul(p8, MAXPOS, MAXPOS) == MAXPOS  # no overflow
    assert golden.round_mul(p8, 0xFF, 0xFF) == MINPOS       # (-minpos)^2
    assert golden.add(p8, 0x40, 0xC0) == 0            # one zero, unsigned
    assert p8.encode(-1.0) == 0xC0 and p8.encode(np.nan) == NAR and p8.encode(np.inf) == NAR
    with pytest.raises(ValueError, match="nearest even"):
        p8.encode(1.0, rounding="rtz")


@pytest.mark.parametrize("name, parameter", [("posit8es9", "es"), ("posit3", "es"), ("posit2", "n"),
                                             ("posit33", "n"), ("posit8es6", "es")])
def test_bad_posit_names_say_which_parameter(name, parameter):
    with pytest.raises(ValueError, match=rf"{parameter}"):
        F.get(name)


@pytest.mark.parametrize("name", ["posit8", "posit8es1", "posit8es2", "posit16", "posit16es2"])
def test_exact_product_holds_every_product(name):
    """``golden.mul`` is exact for posits too: its product format decodes to the float64 product (NaR -> NaN)."""
    fmt = F.get(name)
    rng = np.random.default_rng(4)
    a = np.arange(1 << fmt.n) if fmt.n <= 8 else rng.integers(0, 1 << fmt.n, 5000)
    b = np.arange(1 << fmt.n) if fmt.n <= 8 else rng.integers(0, 1 << fmt.n, 5000)
    a, b = [x.ravel() for x in np.meshgrid(a, b[:300], indexing="ij")]
    got = fmt.product_format().decode(golden.mul(fmt, a, b))
    np.testing.assert_array_equal(got, fmt.decode(a) * fmt.decode(b))
    with pytest.raises(ValueError, match="no exact product format"):
        F.get("posit32").product_format()
