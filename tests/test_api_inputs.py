"""Public functions of hw.formats, golden, block and the LNS format: right answer or one clear error.

The directed cases pin every input that once gave a silent wrong answer; the
Hypothesis properties drive decode, encode and the golden operations with
random valid and invalid inputs and accept either a result equal to an
independent reference (ml_dtypes, SoftPosit, closed-form integer and LNS
values) or a ValueError/TypeError whose message names the parameter.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from hw import formats as F
from hw.formats import block as B
from hw.formats import golden
from hw.formats.exact import Exact

E4M3, FP32, INT8, INT32, POSIT8 = (F.get(n) for n in ("e4m3", "fp32", "int8", "int32", "posit8"))
MX, NV = F.get("mxfp8_e4m3"), F.get("nvfp4")

SETTINGS = settings(max_examples=400, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


# -- the cases of the issue, pinned ---------------------------------------------------------------------------------

def test_ml_dtypes_arrays_decode_by_bit_pattern_and_encode_by_value():
    x = np.array([0.5, 1.0, -2.0]).astype(ml_dtypes.float8_e4m3fn)
    np.testing.assert_array_equal(E4M3.decode(x), [0.5, 1.0, -2.0])
    np.testing.assert_array_equal(E4M3.encode(x), x.view(np.uint8))
    assert E4M3.dtype == np.dtype(ml_dtypes.float8_e4m3fn) and FP32.dtype == np.float32
    assert F.get("bf16").dtype == np.dtype(ml_dtypes.bfloat16) and INT8.dtype == np.int8
    assert POSIT8.dtype is None and F.get("lns8").dtype is None
    with pytest.raises(TypeError, match="float8_e5m2 values"):
        E4M3.decode(np.array([1.0]).astype(ml_dtypes.float8_e5m2))  # another format's dtype: ambiguous


def test_torch_tensors_are_taken_by_value_and_by_bit_pattern():
    torch = pytest.importorskip("torch")
    bf16 = F.get("bf16")
    t = torch.tensor([0.3, -1.5, 3e38], dtype=torch.bfloat16)
    codes = bf16.encode(t)
    np.testing.assert_array_equal(codes, t.view(torch.int16).numpy().view(np.uint16))
    np.testing.assert_array_equal(bf16.decode(t), t.float().numpy())
    np.testing.assert_array_equal(E4M3.encode(t), E4M3.encode(t.float().numpy()))


@pytest.mark.parametrize("call, error, message", [
    (lambda: E4M3.decode(300), ValueError, "bits of e4m3 must be codes in 0..255 (8 bits), got 300"),
    (lambda: E4M3.decode(-1), ValueError, "codes in 0..255"),
    (lambda: E4M3.decode(1.5), TypeError, "bits of e4m3 must be integer codes, not float64"),
    (lambda: E4M3.encode(None), TypeError, "values to encode as e4m3 must be real numbers, not NoneType"),
    (lambda: E4M3.encode("0.3"), TypeError, "not str"),
    (lambda: E4M3.encode([1.0], saturate="no"), TypeError, "saturate must be True or False"),
    (lambda: golden.mul(E4M3, [1.5], [2.0]), TypeError, "must be integer codes"),
    (lambda: golden.mac(E4M3, [0x38], [0x38], [0], INT32), ValueError,
     "acc_fmt int32 (int) cannot accumulate e4m3 (float) products; valid families: float"),
    (lambda: golden.mac(INT8, [1], [1], [2 ** 40], INT32), ValueError, "bits of int32 must be codes in 0..4294967295"),
    (lambda: golden.mac(E4M3, [0x38], [0x38], [0], 3), TypeError, "acc_fmt must be a format or a format name"),
    (lambda: golden.mac(E4M3, [0x38], [0x38], [0], "fp99"), ValueError, "unknown format 'fp99'"),
    (lambda: golden.dot(POSIT8, [[0x40]], [[0x40]], [0], F.get("quire_posit16")), ValueError,
     "quire_posit16 is the quire of posit16, not of posit8"),
    (lambda: B.block_dot(MX, np.zeros(32, np.uint8), 127, np.zeros(32, np.uint8), 127, 0, FP32, align_bits=0),
     ValueError, "align_bits must be a positive number of bits"),
    (lambda: B.block_dot(MX, np.zeros(32, np.uint8), 127, np.zeros(32, np.uint8), 127, 0, FP32, align_bits=-3),
     ValueError, "align_bits must be a positive number of bits"),
    (lambda: B.block_dot(MX, np.zeros(16, np.uint8), 127, np.zeros(16, np.uint8), 127, 0, FP32), ValueError,
     "whole mxfp8_e4m3 blocks of 32 elements along the last axis, not 16"),
    (lambda: B.block_dot(MX, np.zeros(32, np.uint8), 300, np.zeros(32, np.uint8), 127, 0, FP32), ValueError,
     "bits of e8m0 must be codes in 0..255"),
    (lambda: B.quantize(NV, np.ones(16), tensor_scale=-1), ValueError, "tensor_scale must be a positive finite"),
    (lambda: B.quantize(MX, np.ones(32), tensor_scale=2.0), ValueError, "mxfp8_e4m3 has no tensor scale"),
    (lambda: F.get("lns8").decode(2.0), TypeError, "bits of lns8 must be integer codes"),
    (lambda: POSIT8.encode([1.0], saturate=False), ValueError, "saturate must be True"),
])
def test_bad_inputs_raise_one_clear_error(call, error, message):
    with pytest.raises(error) as err:
        call()
    assert message in str(err.value) and "\n" not in str(err.value), str(err.value)


def test_formats_are_accepted_by_name():
    a = E4M3.encode([1.5, -2.0, 0.25])
    acc = FP32.encode([1.0, 1.0, 1.0])
    np.testing.assert_array_equal(golden.mac("e4m3", a, a, acc, "fp32"), golden.mac(E4M3, a, a, acc, FP32))
    from hw.rtl import build_unit
    assert build_unit("dot", "e4m3").default_name == "dot_e4m3_x4_fp32_s0"


def test_signed_integer_arrays_of_the_format_width_are_twos_complement_codes():
    np.testing.assert_array_equal(INT8.decode(np.array([-3, 5], dtype=np.int8)), [-3.0, 5.0])
    np.testing.assert_array_equal(F.get("int4").decode(np.array([-3, 5], dtype=ml_dtypes.int4)), [-3.0, 5.0])


def test_quire_encode_decode_round_trip_and_range():
    q = POSIT8.quire()
    lsb = 2.0 ** q.lsb_exp
    values = np.array([1.5, -2.25, 0.0, lsb, -(2.0 ** 18)])
    codes = q.encode(values)
    np.testing.assert_array_equal(q.decode(codes), values)
    assert q.encode([np.nan])[0] == q.nar_code and q.encode([0.75 * lsb])[0] == 1  # rounds to nearest
    with pytest.raises(ValueError, match=r"values for quire_posit8 must lie within \+-2\*\*19"):
        q.encode([2.0 ** 20])
    np.testing.assert_array_equal(golden.dot(POSIT8, [0x40], [0x40], 0, q), q.encode(1.0))  # scalar acc


# -- fast encode: ml_dtypes where bit-identical ------------------------------------------------------------------

def _probe_values(fmt) -> np.ndarray:
    """Every finite code's value, every midpoint between neighbours and their float32 neighbours, specials, random."""
    codes = np.arange(1 << fmt.width, dtype=np.uint64) if fmt.width <= 16 else \
        np.random.default_rng(3).integers(0, 1 << fmt.width, 1 << 16, dtype=np.uint64)
    values = fmt.decode(codes)
    finite = np.sort(np.unique(values[np.isfinite(values)]))
    mids = (finite[1:] + finite[:-1]) / 2
    edge = fmt.max_finite + (fmt.max_finite - finite[-2]) / 2
    probes = np.concatenate([finite, mids, [edge, -edge, np.inf, -np.inf, np.nan, -np.nan, 1e30, -1e30]])
    with np.errstate(over="ignore"):
        probes = probes.astype(np.float32)
    near = np.concatenate([np.nextafter(probes, np.float32(np.inf)), np.nextafter(probes, np.float32(-np.inf))])
    rng = np.random.default_rng(7)
    with np.errstate(over="ignore", invalid="ignore"):
        randoms = rng.standard_normal(20000).astype(np.float32) * np.float32(min(fmt.max_finite / 4, 1e38))
    wide = rng.integers(0, 2 ** 32, 20000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    with np.errstate(invalid="ignore"):  # signalling NaNs among the random bit patterns
        values = np.concatenate([probes, near, randoms, wide]).astype(np.float64)
    doubles = mids[np.isfinite(mids)] * (1 + 2.0 ** -40)  # just above midpoints: float64-only values
    return np.concatenate([values, doubles, -doubles])


@pytest.mark.parametrize("name", ["e4m3", "e5m2", "e4m3fnuz", "e5m2fnuz", "e3m2", "e2m3", "e2m1", "bf16", "fp16",
                                  "e3m4", "fp32"])
def test_fast_encode_is_bit_identical_to_the_exact_rounder(name):
    fmt = F.get(name)
    assert fmt.dtype is not None
    values = _probe_values(fmt)
    fast = fmt.encode(values)
    exact = fmt.pack(Exact.from_float(values), nan_sign=True)
    bad = np.flatnonzero(fast != exact)
    assert not len(bad), [(values[i], hex(int(fast[i])), hex(int(exact[i]))) for i in bad[:5]]


def test_encode_of_float64_values_that_are_not_float32_exact_keeps_one_rounding():
    # 1 + 2**-4 + 2**-30 is above the e4m3 midpoint 1 + 2**-4 only by a bit float32 cannot hold:
    value = 1 + 2.0 ** -4 + 2.0 ** -30
    assert E4M3.encode(np.full(1000, value))[0] == 0x39  # rounds up; a cast through float32 would tie to 0x38


# -- properties -------------------------------------------------------------------------------------------------

ELEMENTWISE = ["e4m3", "e5m2", "e2m1", "e3m2", "bf16", "fp16", "fp32", "int8", "int4", "int32", "posit8", "posit16",
               "lns8", "e8m0"]


def _format(name):
    return F.E8M0 if name == "e8m0" else F.get(name)


def _decode_reference(fmt, code: int) -> float:
    """An independent value for a valid code."""
    if fmt.dtype is not None and isinstance(fmt, (F.FloatFormat, F.ScaleFormat)):
        width = np.dtype(fmt.dtype).itemsize * 8
        return float(np.array([code], dtype=f"u{width // 8}").view(fmt.dtype).astype(np.float64)[0])
    if isinstance(fmt, F.IntFormat):
        return float(code - (1 << fmt.bits) if code >= 1 << (fmt.bits - 1) else code)
    if isinstance(fmt, F.PositFormat):
        import softposit
        cls = {"posit8": softposit.posit8, "posit16": softposit.posit16}[fmt.name]
        p = cls(0)
        p.fromBits(code)
        return float(p) if code != fmt.nar_code else float("nan")
    if isinstance(fmt, F.LNSFormat):
        sign, log = code >> fmt.log_bits, code & ((1 << fmt.log_bits) - 1)
        if log == 1 << (fmt.log_bits - 1):
            return float("nan") if sign else 0.0
        log = log - (1 << fmt.log_bits) if log >= 1 << (fmt.log_bits - 1) else log
        exact = 2.0 ** (log / fmt.gamma)
        return -exact if sign else exact
    raise AssertionError(fmt)


CODE_LIKE = st.one_of(st.integers(-2 ** 40, 2 ** 40), st.floats(allow_nan=True), st.none(), st.text(max_size=3),
                      st.booleans(), st.lists(st.integers(0, 255), max_size=4))


@SETTINGS
@given(name=st.sampled_from(ELEMENTWISE), bits=CODE_LIKE)
def test_decode_is_right_or_refuses(name, bits):
    fmt = _format(name)
    try:
        got = fmt.decode(bits)
    except (ValueError, TypeError) as err:
        assert "bits" in str(err) and fmt.name in str(err), str(err)
        ints = [bits] if isinstance(bits, int) and not isinstance(bits, bool) else bits if isinstance(bits, list) else None
        valid = ints is not None and all(0 <= b < 1 << fmt.width for b in ints)
        assert not valid, f"{fmt.name}.decode({bits!r}) refused a valid code: {err}"
        return
    codes = np.atleast_1d(np.asarray(bits))
    assert codes.dtype.kind in "iu" or codes.size == 0, f"{fmt.name}.decode accepted {bits!r}"
    for code, value in zip(codes.ravel(), np.atleast_1d(got).ravel()):
        ref = _decode_reference(fmt, int(code))
        assert (np.isnan(ref) and np.isnan(value)) or ref == value, (fmt.name, int(code), value, ref)


VALUE_LIKE = st.one_of(st.floats(width=32, allow_nan=True, allow_infinity=True), st.integers(-1000, 1000),
                       st.none(), st.text(max_size=3), st.booleans(), st.complex_numbers(max_magnitude=2))


def _encode_reference(fmt, value: float) -> int | None:
    """An independent code for a valid value (None where no independent reference exists)."""
    if isinstance(fmt, F.FloatFormat) and fmt.dtype is not None and not np.isnan(value):
        width = np.dtype(fmt.dtype).itemsize * 8
        with np.errstate(over="ignore", invalid="ignore"):
            code = int(np.array([value], dtype=np.float32).astype(fmt.dtype).view(f"u{width // 8}")[0])
        return code
    if isinstance(fmt, F.IntFormat) and np.isfinite(value):
        whole = int(np.rint(value))
        return whole & ((1 << fmt.bits) - 1)
    if isinstance(fmt, F.PositFormat) and np.isfinite(value):
        import softposit
        cls = {"posit8": softposit.posit8, "posit16": softposit.posit16}[fmt.name]
        return int(cls(float(value)).v.v)
    return None


@SETTINGS
@given(name=st.sampled_from([n for n in ELEMENTWISE if n != "e8m0"]), value=VALUE_LIKE)
def test_encode_is_right_or_refuses(name, value):
    fmt = _format(name)
    try:
        got = fmt.encode(value)
    except (ValueError, TypeError) as err:
        assert "values" in str(err) and fmt.name in str(err), str(err)
        assert value is None or isinstance(value, (str, bool, complex)), f"{fmt.name}.encode({value!r}) refused: {err}"
        return
    assert not (value is None or isinstance(value, (str, bool, complex))), f"{fmt.name}.encode accepted {value!r}"
    ref = _encode_reference(fmt, float(value))
    if ref is not None:
        assert int(got) == ref, (fmt.name, value, hex(int(got)), hex(ref))
    assert 0 <= int(got) < 1 << fmt.width


OPERAND = st.one_of(st.integers(-5, 300), st.floats(allow_nan=False, allow_infinity=False, width=16))
ACCS = st.sampled_from(["fp32", "fp16", "int32", "quire_posit8", "posit8", "e4m3", "nope", 7])


@SETTINGS
@given(name=st.sampled_from(["e4m3", "e5m2", "int8", "posit8"]), a=OPERAND, b=OPERAND, acc_name=ACCS)
def test_golden_mac_is_right_or_refuses(name, a, b, acc_name):
    fmt = F.get(name)
    try:
        acc_fmt = F.get(acc_name) if isinstance(acc_name, str) else acc_name
    except ValueError:
        acc_fmt = acc_name
    try:
        got = golden.mac(name, [a], [b], [0], acc_name)
    except (ValueError, TypeError) as err:
        message = str(err)
        assert any(word in message for word in ("bits", "acc_fmt", "format")), message
        bad_operand = not all(isinstance(x, int) and 0 <= x < 1 << fmt.width for x in (a, b))
        bad_acc = not isinstance(acc_fmt, tuple(F.FAMILIES)) or \
            F.family(acc_fmt) not in F.ACCUMULATOR_FAMILIES[F.family(fmt)] or \
            (F.family(acc_fmt) == "quire" and acc_fmt.posit != fmt)
        assert bad_operand or bad_acc, f"golden.mac({name}, {a!r}, {b!r}, acc {acc_name!r}) refused: {message}"
        return
    assert all(isinstance(x, int) for x in (a, b)), f"golden.mac accepted float operands {a!r}, {b!r}"
    exact = float(fmt.decode(a) * fmt.decode(b)) + 0.0  # exact in float64; + 0.0: +0 + -0 is +0
    if np.isnan(exact):  # arithmetic NaN is the canonical one (NaR for posits and quires)
        assert int(np.ravel(got)[0]) == acc_fmt.nan_code
        return
    ref = acc_fmt.encode(np.array([exact]))
    assert int(np.ravel(got)[0]) == int(np.ravel(ref)[0]), (name, a, b, acc_name, got, ref)



@SETTINGS
@given(name=st.sampled_from(["e4m3", "e5m2", "e2m1", "e3m2"]), a=st.integers(-3, 260), b=st.integers(-3, 260))
def test_golden_add_is_right_or_refuses(name, a, b):
    fmt = F.get(name)
    try:
        got = golden.add(name, [a], [b])
    except ValueError as err:
        assert "bits of" in str(err) and not all(0 <= x < 1 << fmt.width for x in (a, b)), str(err)
        return
    exact = np.float32(fmt.decode(a) + fmt.decode(b))  # exact: two 8-bit floats sum within 24 bits
    if np.isnan(exact):
        assert int(got[0]) == (fmt.nan_code if fmt.has_nan else 0)
        return
    with np.errstate(over="ignore"):
        ref = int(np.array([exact]).astype(fmt.dtype).view(np.uint8)[0])  # ml_dtypes rounds once
    assert int(got[0]) == ref, (name, hex(a), hex(b), hex(int(got[0])), hex(ref))


@SETTINGS
@given(elements=st.lists(st.integers(0, 255), min_size=64, max_size=64), scales=st.tuples(st.integers(100, 154),
       st.integers(100, 154)), align=st.sampled_from([None, 0, -3, 16, 2.5, True]), block=st.sampled_from([32, 16]))
def test_block_dot_is_right_or_refuses(elements, scales, align, block):
    a = np.array(elements[:block], dtype=np.uint8)
    b = np.array(elements[32:32 + block], dtype=np.uint8)
    try:
        got = B.block_dot(MX, a, scales[0], b, scales[1], 0, FP32, align_bits=align)
    except ValueError as err:
        bad_align = align is not None and not (isinstance(align, int) and not isinstance(align, bool) and align >= 1)
        assert ("align_bits" in str(err) and bad_align) or ("blocks of 32" in str(err) and block != 32), str(err)
        return
    assert block == 32 and align in (None, 16)
    values = E4M3.decode(a) * E4M3.decode(b)  # each product exact in float64; their sum too (< 2**40 span)
    total = float(np.sum(values)) * 2.0 ** (scales[0] - 127) * 2.0 ** (scales[1] - 127)
    if align is None:
        ref = np.array([total], dtype=np.float64).astype(np.float32).view(np.uint32)[0]  # numpy rounds once
        if np.isnan(total):
            assert int(got) == FP32.nan_code
        else:
            assert int(got) == int(ref), (hex(int(got)), hex(int(ref)))
    else:  # the aligned tree truncates: never farther from the exact sum than the truncated bits allow
        assert np.isnan(total) or abs(FP32.decode(got) - total) <= abs(total) * 2.0 ** -10 + 2.0 ** -100


CODE8 = st.integers(-2, 258)


def _valid(fmt, *codes) -> bool:
    return all(isinstance(c, int) and 0 <= c < 1 << fmt.width for c in codes)


@SETTINGS
@given(name=st.sampled_from(["e4m3", "e5m2", "int8", "posit8", "lns8"]), a=CODE8, b=CODE8)
def test_golden_mul_and_round_mul_are_right_or_refuse(name, a, b):
    fmt = F.get(name)
    try:
        product = golden.mul(name, [a], [b])
    except ValueError as err:
        assert "bits of" in str(err) and not _valid(fmt, a, b), str(err)
        return
    exact = float(fmt.decode(a)) * float(fmt.decode(b))
    got = float(fmt.product_format().decode(product)[0]) if name != "lns8" else float(fmt.product_format().decode(
        product)[0])
    assert (np.isnan(exact) and np.isnan(got)) or np.isclose(got, exact, rtol=1e-12, atol=0), (name, a, b, got, exact)
    if name in ("e4m3", "e5m2") and not np.isnan(exact):
        rounded = int(golden.round_mul(fmt, [a], [b])[0])
        with np.errstate(over="ignore"):
            ref = int(np.array([np.float32(exact)]).astype(fmt.dtype).view(np.uint8)[0])  # exact in fp32: one rounding
        assert rounded == ref, (name, hex(a), hex(b), hex(rounded), hex(ref))


@SETTINGS
@given(src=st.sampled_from(["e4m3", "e5m2", "e2m1"]), dst=st.sampled_from(["fp16", "bf16", "e4m3", "e5m2", 9]),
       code=CODE8)
def test_golden_convert_is_right_or_refuses(src, dst, code):
    fmt = F.get(src)
    try:
        got = golden.convert(src, dst, [code])
    except (ValueError, TypeError) as err:
        assert ("bits of" in str(err) and not _valid(fmt, code)) or ("dst" in str(err) and dst == 9), str(err)
        return
    value = float(fmt.decode(code))
    out = F.get(dst)
    if np.isnan(value):
        assert int(got[0]) == out.nan_code
        return
    with np.errstate(over="ignore"):
        ref = np.array([np.float32(value)]).astype(out.dtype).view(f"u{out.dtype.itemsize}")[0]
    assert int(got[0]) == int(ref), (src, dst, hex(code), hex(int(got[0])), hex(int(ref)))


@SETTINGS
@given(a=st.lists(st.integers(0, 255), min_size=4, max_size=4), b=st.lists(st.integers(0, 255), min_size=4,
       max_size=4), acc=st.integers(0, 2 ** 32 - 1))
def test_golden_integer_dot_wraps_like_int32(a, b, acc):
    got = golden.dot("int8", [a], [b], [acc], "int32")
    signed = lambda v, bits: v - (1 << bits) if v >= 1 << (bits - 1) else v
    total = signed(acc, 32) + sum(signed(x, 8) * signed(y, 8) for x, y in zip(a, b))
    assert int(got[0]) == total % (1 << 32)


@SETTINGS
@given(values=st.lists(st.floats(-1e4, 1e4, width=32), min_size=32, max_size=32))
def test_mx_quantize_follows_the_ocp_rule(values):
    x = np.array(values, dtype=np.float64)
    t = B.quantize(MX, x[None, :])
    amax = np.max(np.abs(x))
    if amax == 0:  # the smallest scale; zeros keep their sign
        assert int(t.scales[0, 0]) == 0
        np.testing.assert_array_equal(t.elements[0], np.where(np.signbit(x), 0x80, 0))
        return
    shared = int(np.floor(np.log2(amax))) - 8  # OCP MX v1.0: floor(log2(amax)) - emax(E4M3 = 8)
    assume(shared >= -127)  # below that the E8M0 scale clamps at 2**-127
    assert int(t.scales[0, 0]) == shared + 127
    scaled = np.clip(x / 2.0 ** shared, -448, 448).astype(np.float32)  # exact division by a power of two
    ref = scaled.astype(ml_dtypes.float8_e4m3fn).view(np.uint8)
    np.testing.assert_array_equal(t.elements[0], ref)
    np.testing.assert_array_equal(B.dequantize(t)[0], E4M3.decode(ref) * 2.0 ** shared)


@SETTINGS
@given(lanes=st.integers(1, 3), data=st.data())
def test_sim_compare_counts_exactly_the_differing_vectors(lanes, data):
    from hw.rtl import build_unit
    from hw.sim import Job, compare

    unit = build_unit("dot", "int8", lanes=max(lanes, 2))
    n = 16
    job = Job(unit, {"a": np.zeros((n, max(lanes, 2)), dtype=np.int64), "b": np.zeros((n, max(lanes, 2)),
                                                                                       dtype=np.int64),
                     "acc_in": np.zeros(n, dtype=np.int64)})
    got = np.array(data.draw(st.lists(st.integers(0, 2 ** 32 - 1), min_size=n, max_size=n)), dtype=np.uint64)
    want = np.array(data.draw(st.lists(st.integers(0, 2 ** 32 - 1), min_size=n, max_size=n)), dtype=np.uint64)
    found = compare(job, {"acc_out": got}, {"acc_out": want})
    differing = int(np.sum(got != want))
    assert (found[0].count if found else 0) == differing
