"""Triton kernels for the quantizers on CUDA, bit for bit the PyTorch reference of :mod:`gpu_ref.block` and
:mod:`gpu_ref.numerics`.

One kernel per job, each fused with its scale computation, no host
synchronisation:

* block quantize of MX and NVFP4 formats (1 x block_size or block_size x
  block_size blocks; floor/ceil/nearest scale rules; RNE or stochastic
  rounding; optional fused 16-point random Hadamard transform), writing codes
  and scales (4-bit codes packed two per byte) or, for training, the
  dequantized ``element * block scale`` values in bf16/fp32;
* block dequantize;
* for bf16 tensors of whole blocks, E2M1 (NVFP4, MXFP4) quantize and dequantize on int32 words of two
  elements (:func:`_e2m1_bf16_quant_kernel`, :func:`_e2m1_bf16_dequant_kernel`), and MX fp8 dequantize
  by half blocks (:func:`_fp8_bf16_dequant_kernel`): the same results, at the copy bandwidth;
* the tensor amax and NVFP4's fp32 tensor scale, on the device;
* elementwise encode of minifloats (RNE or stochastic), of posits and LNS
  (binary search in fp32 thresholds), decode through a code -> value table.

How each stays exact:

* Block maxima are integer maxima of the magnitudes' bits (NaN/Inf above
  every finite value, which marks the block special).
* MX elements: ``x * 2**-e`` is exact in fp32 unless it falls below 2**-126,
  where every element format rounds it to zero anyway; E4M3/E5M2 then round in
  the hardware converter (``cvt.rn.satfinite``: RNE, saturating, as the MX
  rules say), E2M1 as below, other elements and stochastic rounding in the
  integer rounder (:func:`_round_raw`, the reference's ``round_float`` line for line).
* Float block scales (NVFP4's E4M3): ``amax / (E * ts)`` from an fp32
  quotient's code, moved by at most one code by exact comparisons of ``amax``
  with the neighbouring midpoints times ``E * ts``: the sign of
  ``fma(p, ts, -amax)`` is the sign of the exact difference, even where it
  underflows to a signed zero (IEEE 754).  No float64 outside stochastic rounding.
* E2M1 elements (RNE): a binary search of ``|x|`` among the seven midpoints
  ``m * s * ts``, each rounded to fp32 (down, or up and one step down where the
  tie rounds up) exactly by the same fma sign test.  The pair kernels compare bf16 inputs with those
  bounds truncated to bf16: for bf16 ``a``, ``a > u`` exactly when ``a > trunc(u)``.  Stochastic
  rounding divides in float64 as the reference does (IEEE division on both sides).
* Dequantize: ``element * scale`` is exact in fp32 for float scales (or rounds
  once for E8M0 ones), and the tensor scale multiplies it after: one rounding
  of the exact product, as the reference's float64 product rounded to fp32.
* Posit and LNS encoders: for each magnitude code, the smallest fp32 input
  that the reference encodes at or above it, found on the host by bisection
  over fp32 bit patterns with the reference encoder itself; the kernel counts
  thresholds at or below ``|x|``.  Decoders gather from a table of the
  reference decoder's values.

:func:`available` is false without CUDA or Triton; the dispatching functions
of :mod:`gpu_ref.quant` then use the PyTorch path.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import torch

from hw.formats import BlockFormat, FloatFormat, PositFormat, ScaleFormat, Special

try:
    import triton
    import triton.language as tl
except ImportError:  # CPU-only installs: the PyTorch path is used
    triton = None

__all__ = ["available", "encode_float", "block_quantize", "block_dequantize", "tensor_scale", "encode", "decode",
           "fake_quantize_elementwise", "EncodeTables", "encode_tables", "pow2_rms_scale",
           "madam_lns_update"]

def available() -> bool:
    return triton is not None and torch.cuda.is_available()


def _float_params(fmt: FloatFormat, saturate: bool) -> dict:
    """The compile-time constants of :func:`_round_raw` for ``fmt``."""
    if saturate or fmt.special is Special.NONE:
        over = fmt.max_code
    else:
        over = fmt.inf_code if fmt.special is Special.IEEE else fmt.nan_code
    return dict(EMIN=fmt.emin, MAN=fmt.man_bits, EXP_BITS=fmt.exp_bits, WIDTH=fmt.width, MAX_CODE=fmt.max_code,
                OVER_CODE=over, NAN_CODE=fmt.nan_code if fmt.has_nan else 0,
                NAN_SIGNED=fmt.has_nan and fmt.special is not Special.FNUZ, NEG_ZERO=fmt.has_negative_zero,
                SUBNORMALS=fmt.subnormals, FNUZ=fmt.special is Special.FNUZ)


if triton is not None:
    @triton.jit
    def _bit_length(x, BITS: tl.constexpr):
        n = tl.zeros_like(x)
        for step in tl.static_range(5 if BITS == 32 else 6):
            s = (16 if BITS == 32 else 32) >> step
            big = (x >> s) != 0
            x = tl.where(big, x >> s, x)
            n += tl.where(big, s, 0)
        return n + (x != 0).to(x.dtype)

    @triton.jit
    def _mix32(x):
        """Wellons' lowbias32 on int64 holding uint32 values (the products wrap modulo 2**64; the low 32 bits
        are exact)."""
        x = x ^ (x >> 16)
        x = (x * 0x7FEB352D) & 0xFFFFFFFF
        x = x ^ (x >> 15)
        x = (x * 0x846CA68B) & 0xFFFFFFFF
        return x ^ (x >> 16)

    @triton.jit
    def _random24(index, key):
        """:func:`gpu_ref.numerics.counter_random24`."""
        index = index.to(tl.int64)
        return (_mix32(_mix32((index & 0xFFFFFFFF) ^ key.to(tl.int64)) ^ (index >> 32)) >> 8).to(tl.int32)

    @triton.jit
    def _round_raw(neg, sig, exp, nan, inf, rand, SR: tl.constexpr, BITS: tl.constexpr, SAT: tl.constexpr,
                   EMIN: tl.constexpr, MAN: tl.constexpr, EXP_BITS: tl.constexpr, WIDTH: tl.constexpr,
                   MAX_CODE: tl.constexpr, OVER_CODE: tl.constexpr, NAN_CODE: tl.constexpr,
                   NAN_SIGNED: tl.constexpr, NEG_ZERO: tl.constexpr, SUBNORMALS: tl.constexpr, FNUZ: tl.constexpr):
        """Codes (int32) of exact values ``sig * 2**exp`` (``sig`` int32 < 2**24 or int64 < 2**53): the reference's
        ``round_float``, RNE or stochastic (``rand``: 24 random bits; up when rand < ceil(rem * 2**24 / 2**shift)),
        overflow to ``OVER_CODE`` (or ``MAX_CODE`` when ``SAT``)."""
        one = tl.full(sig.shape, 1, sig.dtype)
        sig = tl.where(nan | inf, 0, sig)
        top = exp + _bit_length(sig, BITS) - 1
        lsb = tl.maximum(top, EMIN) - MAN
        shift = lsb - exp
        right = tl.minimum(tl.maximum(shift, 0), BITS - 1)
        kept = tl.where(shift > 0, sig >> right.to(sig.dtype),
                        sig << tl.minimum(tl.maximum(-shift, 0), BITS - 2).to(sig.dtype))
        rem = sig & ((one << right.to(sig.dtype)) - 1)
        if SR:
            k = tl.maximum(shift - 24, 0)
            kc = tl.minimum(k, BITS - 3).to(sig.dtype)
            ceil = tl.where(k >= BITS - 3, (rem > 0).to(sig.dtype), (rem + (one << kc) - 1) >> kc)
            limit = tl.where(shift <= 24, rem << tl.minimum(tl.maximum(24 - shift, 0), 24).to(sig.dtype), ceil)
            up = (shift > 0) & (rand.to(sig.dtype) < limit)
        else:
            half = tl.where(right > 0, one << tl.maximum(right - 1, 0).to(sig.dtype), 0)
            up = (shift > 0) & (shift < BITS) & ((rem > half) | ((rem == half) & ((kept & 1) == 1)))
        kept = (kept + up.to(sig.dtype)).to(tl.int32)
        binade = tl.minimum(lsb - EMIN + MAN, 1 << (EXP_BITS + 1)).to(tl.int32)
        code = tl.where(kept == 0, 0, (binade << MAN) + kept)
        if not SUBNORMALS:
            code = tl.where(top < EMIN, 0, code)
        code = tl.where((code > MAX_CODE) | inf, MAX_CODE if SAT else OVER_CODE, code)
        if NEG_ZERO:
            signed = neg
        else:
            signed = neg & (code != 0)
        if FNUZ:
            signed = signed & (code != NAN_CODE)
        code = code | (signed.to(tl.int32) << (WIDTH - 1))
        if NAN_SIGNED:
            nan_code = tl.where(neg, NAN_CODE | (1 << (WIDTH - 1)), NAN_CODE)
        else:
            nan_code = tl.full(code.shape, NAN_CODE, tl.int32)
        return tl.where(nan, nan_code, code)

    @triton.jit
    def _fields(x, DOUBLE: tl.constexpr):
        """(neg, sig, exp, nan, inf) of fp32 (int32 ``sig``) or fp64 (int64 ``sig``) values, ``|x| = sig * 2**exp``
        with an int32 ``exp``."""
        MAN: tl.constexpr = 52 if DOUBLE else 23
        TOP: tl.constexpr = 0x7FF if DOUBLE else 0xFF
        bits = x.to(tl.int64 if DOUBLE else tl.int32, bitcast=True)
        field = (bits >> MAN) & TOP
        frac = bits & ((1 << MAN) - 1)
        special = field == TOP
        sig = tl.where(field != 0, frac | (1 << MAN), frac)
        return bits < 0, tl.where(special, 0, sig), (tl.maximum(field, 1) - (TOP // 2 + MAN)).to(tl.int32), \
            special & (frac != 0), special & (frac == 0)

    @triton.jit
    def _code_fields(code, EMIN: tl.constexpr, MAN: tl.constexpr):
        """(sig, exp) of a float format's magnitude codes (subnormals included): value = sig * 2**exp."""
        field = code >> MAN
        frac = code & ((1 << MAN) - 1)
        return tl.where(field != 0, frac | (1 << MAN), frac), tl.maximum(field, 1) - (1 - EMIN) - MAN

    @triton.jit
    def _pow2_f32(e):
        """fp32 ``2**e`` for int32 ``e`` in -149..127, from its bits (exact)."""
        bits = tl.where(e >= -126, (e + 127) << 23, 1 << tl.maximum(e + 149, 0))
        return bits.to(tl.float32, bitcast=True)

    @triton.jit
    def _round_f32(t, UP: tl.constexpr):
        """Positive float64 ``t`` rounded to fp32 upward (``UP``) or toward zero: the nearest fp32, moved one
        step where it landed on the wrong side of ``t``."""
        r = t.to(tl.float32)
        back = r.to(tl.float64)
        bits = r.to(tl.int32, bitcast=True)
        if UP:
            return tl.where(back < t, bits + 1, bits).to(tl.float32, bitcast=True)
        return tl.where(back > t, bits - 1, bits).to(tl.float32, bitcast=True)

    @triton.jit
    def _butterfly(x, ROWS: tl.constexpr, S: tl.constexpr, N: tl.constexpr):
        """``(a + b, a - b)`` on index pairs (i, i + S) of each row of N."""
        y = tl.reshape(x, [ROWS, N // (2 * S), 2, S])
        y = tl.permute(y, [0, 1, 3, 2])
        a, b = tl.split(y)
        y = tl.permute(tl.join(a + b, a - b), [0, 1, 3, 2])
        return tl.reshape(y, [ROWS, N])

    @triton.jit
    def _load_tile(x_ptr, stride_m, stride_k, M, K, pid_m, pid_k, R: tl.constexpr, C: tl.constexpr):
        rows = pid_m * R + tl.arange(0, R)
        cols = pid_k * C + tl.arange(0, C)
        mask = (rows[:, None] < M) & (cols[None, :] < K)
        x = tl.load(x_ptr + rows[:, None].to(tl.int64) * stride_m + cols[None, :].to(tl.int64) * stride_k,
                    mask=mask, other=0.0).to(tl.float32)
        return x, rows, cols, mask

    @triton.jit
    def _tensor_scale_of(amax_bits, LIMIT: tl.constexpr):
        """NVFP4's fp32 tensor scale from the fp32 bits of the finite amax: the smallest fp32 ``t`` with
        ``t * LIMIT >= amax`` starting from ``amax / LIMIT`` rounded toward zero (1.0 for amax 0)."""
        amax = amax_bits.to(tl.float32, bitcast=True).to(tl.float64)
        q = amax / LIMIT  # float64 division: div.rn.f64
        c = _round_f32(q, False)
        bits = c.to(tl.int32, bitcast=True)
        bits = tl.where(c.to(tl.float64) * LIMIT < amax, bits + 1, bits)
        bits = tl.maximum(bits, 1)
        return tl.where(amax_bits == 0, 1.0, bits.to(tl.float32, bitcast=True))

    @triton.jit
    def _amax_kernel(x_ptr, stride_m, stride_k, M, K, amax_ptr, RHT: tl.constexpr, SIGNS: tl.constexpr,
                     R: tl.constexpr, C: tl.constexpr):
        x, rows, cols, mask = _load_tile(x_ptr, stride_m, stride_k, M, K, tl.program_id(0), tl.program_id(1), R, C)
        if RHT:  # C is a multiple of 16: groups of 16 along the rows, as the block kernel's tiles hold them
            x = tl.reshape(_rht16_groups(tl.reshape(x, [R, C // 16, 2, 8]), SIGNS, R, C // 16), [R, C])
        bits = x.to(tl.int32, bitcast=True) & 0x7FFFFFFF
        bits = tl.where(mask & (bits < 0x7F800000), bits, 0)
        tl.atomic_max(amax_ptr, tl.max(tl.max(bits, 1), 0))

    @triton.jit
    def _tensor_scale_kernel(amax_ptr, ts_ptr, LIMIT: tl.constexpr):
        tl.store(ts_ptr, _tensor_scale_of(tl.load(amax_ptr), LIMIT))

    @triton.jit
    def _e(v):
        """A per-block [R, NB] tensor broadcast over its blocks' elements ([R, NB, 1, 1] of an [R, NB, G, 8]
        tile: no data movement)."""
        return v[:, :, None, None]

    @triton.jit
    def _rht16_groups(x, SIGNS: tl.constexpr, R: tl.constexpr, NB: tl.constexpr):
        """:func:`gpu_ref.block.rht16` of an [R, NB, 2, 8] tile (element ``8 g + j`` of each block of 16):
        butterflies on index bits 0-2 along ``j``, bit 3 across ``g``, then the signs times 1/4."""
        y = tl.reshape(x, [R * NB * 2, 8])
        y = _butterfly(y, R * NB * 2, 1, 8)
        y = _butterfly(y, R * NB * 2, 2, 8)
        y = _butterfly(y, R * NB * 2, 4, 8)
        y = tl.permute(tl.reshape(y, [R, NB, 2, 8]), [0, 1, 3, 2])
        a, b = tl.split(y)
        y = tl.permute(tl.join(a + b, a - b), [0, 1, 3, 2])
        index = tl.arange(0, 2)[None, None, :, None] * 8 + tl.arange(0, 8)[None, None, None, :]
        return y * tl.where(((SIGNS >> index) & 1) == 1, -0.25, 0.25)

    @triton.jit
    def _bits(x):
        return x.to(tl.int32, bitcast=True)

    @triton.jit
    def _f32(bits):
        return bits.to(tl.float32, bitcast=True)

    @triton.jit
    def _below(p, q, a):
        """``p * q < a`` exactly for fp32 ``p, q, a`` (>= 0): the sign of ``fma(p, q, -a)`` is the sign of the
        exact difference, even where it underflows to a signed zero (IEEE 754; an exact zero is +0)."""
        return _bits(tl.fma(p, q, -a)) < 0

    @triton.jit
    def _product_bound(p, q, UP: tl.constexpr):
        """``p * q`` (fp32, >= 0) rounded to fp32 upward (``UP``) or downward, exactly (:func:`_below`)."""
        t = p * q
        if UP:
            return tl.where(_below(-p, q, -t), _f32(_bits(t) + 1), t)
        return tl.where(_below(p, q, t), _f32(_bits(t) - 1), t)

    @triton.jit
    def _fp8_value(code, FP8: tl.constexpr):
        """fp32 value of E4M3 (1) or E5M2 (2) codes, by the hardware converter (exact)."""
        if FP8 == 1:
            return code.to(tl.uint8).to(tl.float8e4nv, bitcast=True).to(tl.float32)
        return code.to(tl.uint8).to(tl.float8e5, bitcast=True).to(tl.float32)

    @triton.jit
    def _magnitude_value(code, EMIN: tl.constexpr, MAN: tl.constexpr):
        """fp32 value of a float format's magnitude codes (scales or elements; exact)."""
        sig, exp = _code_fields(code, EMIN, MAN)
        return sig.to(tl.float32) * _pow2_f32(exp)

    @triton.jit
    def _float_scale(amax, ts, CEIL: tl.constexpr, E: tl.constexpr, S_EMIN: tl.constexpr, S_MAN: tl.constexpr,
                     S_MAX_CODE: tl.constexpr, S_MAX: tl.constexpr):
        """Code of the float block scale of fp32 ``amax`` (finite, >= 0): ``amax / (E * ts)`` rounded to nearest
        even, or up (``CEIL``: the smallest scale with ``scale * E * ts >= amax``), saturating.  A candidate
        (the fp32 quotient's code rounded toward zero, from its bits) is moved by at most one code where exact
        products (:func:`_below`) say so."""
        d = E * ts
        if CEIL:
            q = tl.math.div_rn(amax, tl.zeros_like(amax) + d)
        else:  # one reciprocal per program: q rounds twice, still within a code of the answer, which the
            q = amax * tl.math.div_rn(1.0, d)  # nearest rule's tests find both ways (ceil's look up only)
            if d < 2.0 ** -100:  # 1 / d may overflow
                q = tl.math.div_rn(amax, tl.zeros_like(amax) + d)
        q = tl.minimum(q, S_MAX)
        normal = (_bits(q) >> (23 - S_MAN)) - ((127 - (1 - S_EMIN)) << S_MAN)
        c = tl.where(q >= 2.0 ** S_EMIN, normal, (q * 2.0 ** (S_MAN - S_EMIN)).to(tl.int32))
        v = _magnitude_value(c, S_EMIN, S_MAN)
        up_value = _magnitude_value(tl.minimum(c + 1, S_MAX_CODE), S_EMIN, S_MAN)
        down_value = _magnitude_value(tl.maximum(c - 1, 0), S_EMIN, S_MAN)
        if CEIL:
            up = (c < S_MAX_CODE) & _below(v * E, ts, amax)
            down = (c > 0) & ~_below(down_value * E, ts, amax)
        else:
            odd = (c & 1) == 1
            hi = (v + up_value) * (0.5 * E)  # midpoints times E: exact (a few significant bits)
            lo = (v + down_value) * (0.5 * E)
            above, below_hi = _below(hi, ts, amax), _below(-hi, ts, -amax)
            under, above_lo = _below(-lo, ts, -amax), _below(lo, ts, amax)
            up = (c < S_MAX_CODE) & (above | (odd & ~below_hi))
            down = (c > 0) & (under | (odd & ~above_lo))
        return c + up.to(tl.int32) - down.to(tl.int32)

    @triton.jit
    def _block_scale(mag, ts_ptr, POW2: tl.constexpr, CEIL: tl.constexpr, ELEM_EMAX: tl.constexpr,
                     ELEM_MAX_SIG: tl.constexpr, ELEM_MAX: tl.constexpr, S_EMIN: tl.constexpr, S_MAN: tl.constexpr,
                     S_MAX_CODE: tl.constexpr, S_MAX: tl.constexpr, S_NAN: tl.constexpr):
        """``(scale code, scale value s, e (POW2 only), ts, zero_scale)`` of blocks whose largest magnitude has the
        fp32 bits ``mag`` (NaN/Inf: the NaN scale).  ``POW2``: E8M0, ``s = 2**e`` with ``e = floor(log2 amax) -
        element emax`` (+1 for ceil when amax exceeds the element maximum times 2**e), ``ts`` 1; otherwise the
        float scale of ``amax / (ELEM_MAX * ts)`` (:func:`_float_scale`), ``ts`` the fp32 tensor scale."""
        special = mag >= 0x7F800000
        amax = _f32(mag)
        if POW2:
            normal = mag >= 0x800000
            scaled = tl.where(normal, mag, _bits(amax * 18446744073709551616.0))  # subnormals times 2**64
            e = (scaled >> 23) - tl.where(normal, 127, 191) - ELEM_EMAX
            if CEIL:
                e += ((scaled & 0x7FFFFF | 0x800000) > ELEM_MAX_SIG).to(tl.int32)
            scale = tl.where(e + 127 >= 255, 255, tl.maximum(e + 127, 0))
            scale = tl.where(mag == 0, 0, scale)
            scale = tl.where(special, 255, scale)
            e = tl.minimum(scale - 127, 127)
            s = _f32(tl.where(scale > 0, scale << 23, 0x400000))  # 2**e, exact (2**-127 a subnormal)
            return scale, s, e, 1.0, special & ~special
        ts = tl.load(ts_ptr)
        scale = _float_scale(tl.where(special, 0.0, amax), ts, CEIL, ELEM_MAX, S_EMIN, S_MAN, S_MAX_CODE, S_MAX)
        s = _magnitude_value(scale, S_EMIN, S_MAN)
        return tl.where(special, S_NAN, scale), s, scale, ts, scale == 0

    @triton.jit
    def _block_max(v, TWO_D: tl.constexpr):
        """Max over each block of an [R, NB, G, 8] tile (and over the rows for 2-D blocks): [R, NB]."""
        m = tl.max(tl.max(v, 3), 2)
        if TWO_D:
            m = tl.broadcast_to(tl.max(m, 0, keep_dims=True), m.shape)
        return m

    @triton.jit
    def _e2m1_bound(m, s, ts, TIE_UP: tl.constexpr, EXACT: tl.constexpr):
        """The fp32 ``u`` with ``|x| > u`` exactly when ``|x| / (s * ts)`` rounds (RNE) above the midpoint ``m``:
        ``m * s * ts`` rounded down, or where the tie rounds up, rounded up and then one step down.  ``EXACT``:
        ``m * s`` is exact and ``ts`` is 1 (power-of-two scales)."""
        if EXACT:
            t = m * s
            if TIE_UP:
                t = _f32(_bits(t) - 1)
            return t
        if TIE_UP:
            return _f32(_bits(_product_bound(m * s, ts, True)) - 1)
        return _product_bound(m * s, ts, False)

    @triton.jit
    def _e2m1_codes(a, s, ts, EXACT: tl.constexpr):
        """E2M1 magnitude codes of ``|x| / (s * ts)`` rounded to nearest even, saturating: the number of the seven
        midpoints below ``|x|`` (:func:`_e2m1_bound`), by a binary search."""
        u1 = _e(_e2m1_bound(0.25, s, ts, False, EXACT))
        u2 = _e(_e2m1_bound(0.75, s, ts, True, EXACT))
        u3 = _e(_e2m1_bound(1.25, s, ts, False, EXACT))
        u4 = _e(_e2m1_bound(1.75, s, ts, True, EXACT))
        u5 = _e(_e2m1_bound(2.5, s, ts, False, EXACT))
        u6 = _e(_e2m1_bound(3.5, s, ts, True, EXACT))
        u7 = _e(_e2m1_bound(5.0, s, ts, False, EXACT))
        b2 = a > u4
        b1 = a > tl.where(b2, u6, u2)
        b0 = a > tl.where(b2, tl.where(b1, u7, u5), tl.where(b1, u3, u1))
        return b2.to(tl.int32) * 4 + b1.to(tl.int32) * 2 + b0.to(tl.int32)

    @triton.jit
    def _load_blocks(ptr, stride_m, stride_k, rows, blocks, M, K, other, R: tl.constexpr, NB: tl.constexpr,
                   BS: tl.constexpr, SPREAD: tl.constexpr):
        """The [R, NB, BS // 8, 8] tile of rows ``rows`` and blocks ``blocks``.  ``SPREAD``: loaded as
        [BS // 8, R, NB, 8] and permuted (a block's groups of 8 across threads, each warp reading contiguous
        memory, 8 elements a thread, as the stores write them: for cheap per-block work, as MX's E8M0
        scales); otherwise loaded with the groups in one thread."""
        if SPREAD:  # loaded as [G, R, NB, 8]: Triton's layout puts the groups across threads first
            cols = tl.arange(0, BS // 8)[:, None, None, None] * 8 + blocks[None, None, :, None] * BS + \
                tl.arange(0, 8)[None, None, None, :]
            r = rows[None, :, None, None]
            t = tl.load(ptr + r.to(tl.int64) * stride_m + cols.to(tl.int64) * stride_k, mask=(r < M) & (cols < K),
                        other=other, eviction_policy="evict_last")  # measured: 0.5 % faster than the default
            return tl.permute(t, [1, 2, 0, 3])
        cols = blocks[None, :, None, None] * BS + tl.arange(0, BS // 8)[None, None, :, None] * 8 + \
            tl.arange(0, 8)[None, None, None, :]
        mask = (rows[:, None, None, None] < M) & (cols < K)
        return tl.load(ptr + rows[:, None, None, None].to(tl.int64) * stride_m + cols.to(tl.int64) * stride_k,
                       mask=mask, other=other)

    @triton.jit
    def _store_blocks(ptr, stride, t, rows, blocks, M, K, R: tl.constexpr, NB: tl.constexpr, BS: tl.constexpr,
                    SPREAD: tl.constexpr):
        """Store an [R, NB, BS // 8, 8] tile in the layout :func:`_load_blocks` loads it in."""
        if SPREAD:
            cols = tl.arange(0, BS // 8)[:, None, None, None] * 8 + blocks[None, None, :, None] * BS + \
                tl.arange(0, 8)[None, None, None, :]
            r = rows[None, :, None, None]
            tl.store(ptr + r.to(tl.int64) * stride + cols, tl.permute(t, [2, 0, 1, 3]), mask=(r < M) & (cols < K))
        else:
            cols = blocks[None, :, None, None] * BS + tl.arange(0, BS // 8)[None, None, :, None] * 8 + \
                tl.arange(0, 8)[None, None, None, :]
            mask = (rows[:, None, None, None] < M) & (cols < K)
            tl.store(ptr + rows[:, None, None, None].to(tl.int64) * stride + cols, t, mask=mask)

    @triton.jit
    def _block_quant_kernel(x_ptr, stride_m, stride_k, M, K, KP, out_ptr, out_stride, scale_ptr, scale_stride, ts_ptr,
                            key, R: tl.constexpr, NB: tl.constexpr, BS: tl.constexpr, TWO_D: tl.constexpr,
                            POW2: tl.constexpr, CEIL: tl.constexpr, ELEM_EMAX: tl.constexpr,
                            ELEM_MAX_SIG: tl.constexpr, FP8: tl.constexpr, E2M1: tl.constexpr,
                            S_EMIN: tl.constexpr, S_MAN: tl.constexpr, S_MAX_CODE: tl.constexpr,
                            S_MAX: tl.constexpr,
                            S_NAN: tl.constexpr, ELEM_MAX: tl.constexpr,
                            SR: tl.constexpr, RHT: tl.constexpr, SIGNS: tl.constexpr, VALUES: tl.constexpr,
                            OUT_BF16: tl.constexpr, PACK: tl.constexpr, EMIN: tl.constexpr, MAN: tl.constexpr,
                            EXP_BITS: tl.constexpr, WIDTH: tl.constexpr, MAX_CODE: tl.constexpr,
                            OVER_CODE: tl.constexpr, NAN_CODE: tl.constexpr, NAN_SIGNED: tl.constexpr,
                            NEG_ZERO: tl.constexpr, SUBNORMALS: tl.constexpr, FNUZ: tl.constexpr,
                            SPREAD: tl.constexpr):
        """The tile is [R, NB, G, 8]: element ``8 g + j`` of block ``b`` of row ``r`` at [r, b, g, j]; Triton
        orders the equally contiguous axes by index, so the group axis comes last and one thread holds whole
        blocks: per-block work is done once per block.
        Per block: the largest magnitude as an integer (NaN/Inf above every finite one), the scale; per
        element, round-to-nearest takes the cheapest exact route (``FP8``: the hardware converter on
        ``x * 2**-e``; ``E2M1``: :func:`_e2m1_codes`), anything else the integer rounder :func:`_round_raw`."""
        G: tl.constexpr = BS // 8
        H: tl.constexpr = BS // 2
        pid_m, pid_k = tl.program_id(0), tl.program_id(1)
        rows = pid_m * R + tl.arange(0, R)
        blocks = pid_k * NB + tl.arange(0, NB)
        r3 = rows[:, None, None, None]
        in_block = tl.arange(0, G)[None, None, :, None] * 8 + tl.arange(0, 8)[None, None, None, :]
        cols = blocks[None, :, None, None] * BS + in_block
        x = _load_blocks(x_ptr, stride_m, stride_k, rows, blocks, M, K, 0.0, R, NB, BS, SPREAD).to(tl.float32)
        if RHT:
            x = _rht16_groups(x, SIGNS, R, NB)
        bits = _bits(x)
        mag = _block_max(bits & 0x7FFFFFFF, TWO_D)
        scale, s, e, ts, zero_scale = _block_scale(mag, ts_ptr, POW2, CEIL, ELEM_EMAX, ELEM_MAX_SIG, ELEM_MAX, S_EMIN,
                                                   S_MAN, S_MAX_CODE, S_MAX, S_NAN)
        special = mag >= 0x7F800000
        sign = bits < 0
        if FP8 != 0 and not SR:
            v = tl.where(_e(special), 0.0, x) * _e(_f32((127 - e) << 23))
            if FP8 == 1:
                v8 = v.to(tl.float8e4nv)
            else:
                v8 = v.to(tl.float8e5)
            code = v8.to(tl.uint8, bitcast=True).to(tl.int32)
        elif E2M1 and not SR:
            a = _f32(bits & 0x7FFFFFFF)
            dead = special | zero_scale
            code = _e2m1_codes(a, tl.where(dead, float("nan"), s), ts, POW2)  # NaN bounds: no comparison holds
            code = code | ((bits >> 28) & _e(tl.where(special, 0, 8)))
        else:
            rand = tl.zeros_like(bits)
            if SR:
                rand = _random24(r3.to(tl.int64) * K + cols, key)
            if POW2:
                n_, sig, exp, _n, _i = _fields(x, False)
                exp = exp - _e(e)
                never = exp != exp
                code = _round_raw(sign, sig, exp, never, never, rand, SR, 32, True, EMIN, MAN, EXP_BITS,
                                  WIDTH, MAX_CODE, OVER_CODE, NAN_CODE, NAN_SIGNED, NEG_ZERO, SUBNORMALS, FNUZ)
            else:
                divisor = s.to(tl.float64) * ts  # exact
                q = tl.where(_e(special), 0.0, x).to(tl.float64) / _e(tl.where(zero_scale, 1.0, divisor))
                qn, qsig, qexp, qnan, qinf = _fields(q, True)
                code = _round_raw(qn, qsig, qexp, qnan, qinf, rand, SR, 64, True, EMIN, MAN, EXP_BITS, WIDTH,
                                  MAX_CODE, OVER_CODE, NAN_CODE, NAN_SIGNED, NEG_ZERO, SUBNORMALS, FNUZ)
                code = tl.where(_e(zero_scale), tl.where(sign & NEG_ZERO, 1 << (WIDTH - 1), 0), code)
            code = tl.where(_e(special), 0, code)
        if VALUES:
            value = _element_value(code, FP8, E2M1, EMIN, MAN, WIDTH) * _e(s)  # element * block scale
            value = tl.where(_e(special), float("nan"), value)
            value = value.to(tl.bfloat16) if OUT_BF16 else value
            _store_blocks(out_ptr, out_stride, value, rows, blocks, M, K, R, NB, BS, SPREAD)
        else:
            if PACK:
                lo, hi = tl.split(tl.reshape(code, [R, NB, G, 4, 2]))
                packed = (lo & 15) | ((hi & 15) << 4)
                pcols = blocks[None, :, None, None] * H + tl.arange(0, G)[None, None, :, None] * 4 + \
                    tl.arange(0, 4)[None, None, None, :]
                tl.store(out_ptr + r3.to(tl.int64) * out_stride + pcols, packed.to(tl.uint8),
                         mask=(r3 < M) & (pcols < KP))
            else:
                _store_blocks(out_ptr, out_stride, code.to(tl.uint8), rows, blocks, M, K, R, NB, BS, SPREAD)
            nblocks = (K + BS - 1) // BS
            if TWO_D:
                srow = pid_m + tl.zeros([R], tl.int32)
                smask = (tl.arange(0, R) == 0)[:, None] & (blocks[None, :] < nblocks)
            else:
                srow = rows
                smask = (rows[:, None] < M) & (blocks[None, :] < nblocks)
            tl.store(scale_ptr + srow[:, None].to(tl.int64) * scale_stride + blocks[None, :], scale.to(tl.uint8),
                     mask=smask)

    @triton.jit
    def _element_value(code, FP8: tl.constexpr, E2M1: tl.constexpr, EMIN: tl.constexpr, MAN: tl.constexpr,
                       WIDTH: tl.constexpr):
        """fp32 value of float-format codes (exact): the hardware converter for fp8, the code's bits moved
        into an fp32 for E2M1 (``eem`` at the top of the fraction, times 2**126), fields otherwise."""
        if FP8 != 0:
            return _fp8_value(code, FP8)
        if E2M1:
            value = _f32((code & 7) << 22) * 8.507059173023462e37  # 2**126
            return _f32(_bits(value) | ((code & 8) << 28))
        value = _magnitude_value(code & ((1 << (WIDTH - 1)) - 1), EMIN, MAN)
        return _f32(_bits(value) | (((code >> (WIDTH - 1)) & 1) << 31))

    @triton.jit
    def _block_dequant_kernel(code_ptr, code_stride, scale_ptr, scale_stride, ts_ptr, out_ptr, M, K, KP,
                              R: tl.constexpr, NB: tl.constexpr, BS: tl.constexpr, TWO_D: tl.constexpr,
                              POW2: tl.constexpr, PACK: tl.constexpr, OUT_BF16: tl.constexpr,
                              FP8: tl.constexpr, E2M1: tl.constexpr, EMIN: tl.constexpr, MAN: tl.constexpr,
                              WIDTH: tl.constexpr, S_EMIN: tl.constexpr, S_MAN: tl.constexpr,
                              S_NAN: tl.constexpr, SPREAD: tl.constexpr):
        """``element * scale * tensor_scale`` rounded once to fp32 (and from there to bf16): ``element * scale``
        is exact in fp32 for fp8 scales (or rounds once for E8M0 ones), and the tensor scale multiplies it
        after; tiles as :func:`_block_quant_kernel`'s."""
        H: tl.constexpr = BS // 2
        G: tl.constexpr = BS // 8
        pid_m, pid_k = tl.program_id(0), tl.program_id(1)
        rows = pid_m * R + tl.arange(0, R)
        blocks = pid_k * NB + tl.arange(0, NB)
        if PACK:
            r3 = rows[:, None, None, None]
            pcols = blocks[None, :, None, None] * H + tl.arange(0, G)[None, None, :, None] * 4 + \
                tl.arange(0, 4)[None, None, None, :]
            p = tl.load(code_ptr + r3.to(tl.int64) * code_stride + pcols, mask=(r3 < M) & (pcols < KP),
                        other=0).to(tl.int32)
            code = tl.reshape(tl.join(p & 15, p >> 4), [R, NB, G, 8])
        else:
            code = _load_blocks(code_ptr, code_stride, 1, rows, blocks, M, K, 0, R, NB, BS, SPREAD).to(tl.int32)
        srows = pid_m + tl.zeros([R], tl.int32) if TWO_D else rows
        smask = (srows[:, None] < (M + BS - 1) // BS if TWO_D else rows[:, None] < M) & \
            (blocks[None, :] < (K + BS - 1) // BS)
        scale = tl.load(scale_ptr + srows[:, None].to(tl.int64) * scale_stride + blocks[None, :], mask=smask,
                        other=0).to(tl.int32)
        if POW2:
            s = _f32(tl.where(scale > 0, scale << 23, 0x400000))
            s = tl.where(scale == 255, float("nan"), s)
        else:
            s = tl.where((scale & 127) == S_NAN, float("nan"), _magnitude_value(scale & 127, S_EMIN, S_MAN))
        value = _element_value(code, FP8, E2M1, EMIN, MAN, WIDTH) * _e(s)
        if not POW2:
            value = value * tl.load(ts_ptr)
        value = value.to(tl.bfloat16) if OUT_BF16 else value
        _store_blocks(out_ptr, K, value, rows, blocks, M, K, R, NB, BS, SPREAD)

    @triton.jit
    def _max_u16x2(a, b):
        """Halfword-wise unsigned maximum of int32 words (two bf16 magnitudes each)."""
        return tl.inline_asm_elementwise("max.u16x2 $0, $1, $2;", "=r,r,r", [a, b], tl.int32, True, 1)

    @triton.jit
    def _bf16_bound(u):
        """An fp32 bound ``u`` (>= 0 or NaN) as a bf16 pair word ``b``: for bf16 ``a >= 0``, ``a > u`` exactly when
        ``a > b`` (``b`` = ``u`` rounded down to bf16: truncated; NaN stays NaN)."""
        return ((_bits(u) >> 16) & 0xFFFF) * 0x10001

    @triton.jit
    def _e2m1_pair_codes(w, u1, u2, u3, u4, u5, u6, u7, sign):
        """E2M1 codes of the two bf16 in each word ``w``, in its low byte (element 0 in the low nibble): the binary
        search of :func:`_e2m1_codes` on both halves at once, against bounds given as :func:`_bf16_bound` words
        (comparisons with NaN bounds are false), ``sign``: 0x00080008 to keep the signs, 0 to drop them."""
        return tl.inline_asm_elementwise(
            """{
            .reg .b32 a, b2, b1, b0, t, lo, hi, c;
            and.b32 a, $1, 0x7FFF7FFF;
            set.gt.u32.bf16x2 b2, a, $5;
            lop3.b32 t, b2, $7, $3, 0xCA;
            lop3.b32 hi, b2, $8, $4, 0xCA;
            lop3.b32 lo, b2, $6, $2, 0xCA;
            set.gt.u32.bf16x2 b1, a, t;
            lop3.b32 t, b1, hi, lo, 0xCA;
            set.gt.u32.bf16x2 b0, a, t;
            and.b32 c, b0, 0x00010001;
            lop3.b32 c, b1, 0x00020002, c, 0xEA;
            lop3.b32 c, b2, 0x00040004, c, 0xEA;
            shr.b32 t, $1, 12;
            lop3.b32 c, t, $9, c, 0xEA;
            shr.b32 t, c, 12;
            or.b32 $0, c, t;
            }""", "=r,r,r,r,r,r,r,r,r,r", [w, u1, u2, u3, u4, u5, u6, u7, sign], tl.int32, True, 1)

    @triton.jit
    def _e2m1_table(s, ts, special, TS: tl.constexpr):
        """The bf16 values of the eight E2M1 magnitudes times ``s`` (times ``ts``: ``TS``), each rounded as
        :func:`_block_dequant_kernel` rounds them, as four words for :func:`_e2m1_lookup`: the low bytes of values
        0-3, of 4-7, the high bytes of 0-3, of 4-7.  NaN throughout ``special`` blocks."""
        s = tl.where(special, float("nan"), s)
        v1, v2, v3, v4, v5, v6, v7 = 0.5 * s, 1.0 * s, 1.5 * s, 2.0 * s, 3.0 * s, 4.0 * s, 6.0 * s
        v0 = 0.0 * s
        if TS:
            v0, v1, v2, v3, v4, v5, v6, v7 = v0 * ts, v1 * ts, v2 * ts, v3 * ts, v4 * ts, v5 * ts, v6 * ts, v7 * ts
        return tl.inline_asm_elementwise(
            """{
            .reg .b32 p01, p23, p45, p67;
            cvt.rn.bf16x2.f32 p01, $5, $4;
            cvt.rn.bf16x2.f32 p23, $7, $6;
            cvt.rn.bf16x2.f32 p45, $9, $8;
            cvt.rn.bf16x2.f32 p67, $11, $10;
            prmt.b32 $0, p01, p23, 0x6420;
            prmt.b32 $1, p45, p67, 0x6420;
            prmt.b32 $2, p01, p23, 0x7531;
            prmt.b32 $3, p45, p67, 0x7531;
            }""", "=r,=r,=r,=r,r,r,r,r,r,r,r,r", [v0, v1, v2, v3, v4, v5, v6, v7],
            (tl.int32, tl.int32, tl.int32, tl.int32), True, 1)

    @triton.jit
    def _e2m1_lookup(codes, low0, low1, high0, high1, sign):
        """A word of the bf16 values of the two E2M1 codes in the low byte of ``codes`` (element 0 in the low
        nibble) from an :func:`_e2m1_table`; ``sign``: 0x80008000 to apply the codes' signs, 0 to leave them
        (NaN blocks)."""
        return tl.inline_asm_elementwise(
            """{
            .reg .b32 sel, lo, hi, t;
            and.b32 sel, $1, 0x77;
            prmt.b32 lo, $2, $3, sel;
            prmt.b32 hi, $4, $5, sel;
            prmt.b32 $0, lo, hi, 0x5140;
            and.b32 t, $1, 0x88;
            mul.lo.u32 t, t, 0x01001000;
            lop3.b32 $0, t, $6, $0, 0xEA;
            }""", "=r,r,r,r,r,r,r", [codes, low0, low1, high0, high1, sign], tl.int32, True, 1)

    @triton.jit
    def _per_word(v):
        """A per-block [NBT] tensor broadcast over the block's words ([NBT, 1, 1] of an [NBT, G, 4] tile)."""
        return v[:, None, None]

    @triton.jit
    def _store_words(ptr, blocks, value, count, NBT: tl.constexpr, W: tl.constexpr):
        """Store an [NBT, G, 4] tile (block ``b``'s ``W`` words or bytes at ``b * W``) as an [NBT, W] one, whose
        layout Triton picks for the store: each warp writes contiguous memory (a thread holding whole blocks
        would write ``W * 4`` bytes at that stride, and a store's sectors would fill only partly)."""
        words = blocks[:, None] * W + tl.arange(0, W)[None, :]
        tl.store(ptr + words, tl.reshape(value, [NBT, W]), mask=(blocks < count)[:, None])

    @triton.jit
    def _e2m1_bf16_quant_kernel(x_ptr, count, out_ptr, scale_ptr, ts_ptr, NBT: tl.constexpr, BS: tl.constexpr,
                                POW2: tl.constexpr, CEIL: tl.constexpr, ELEM_EMAX: tl.constexpr,
                                ELEM_MAX_SIG: tl.constexpr, ELEM_MAX: tl.constexpr, S_EMIN: tl.constexpr,
                                S_MAN: tl.constexpr, S_MAX_CODE: tl.constexpr, S_MAX: tl.constexpr,
                                S_NAN: tl.constexpr, VALUES: tl.constexpr):
        """:func:`_block_quant_kernel` for E2M1 elements (RNE, 1-D blocks) of contiguous bf16 rows of whole blocks
        (``count`` blocks), on int32 words of two elements: magnitudes, maxima and the comparisons with the
        midpoint bounds two at a time (:func:`_e2m1_pair_codes`); ``VALUES``: bf16 ``element * block scale`` by
        :func:`_e2m1_lookup`.  The tile is [NBT, G, 4] words, the group axis last: one thread holds whole blocks."""
        W: tl.constexpr = BS // 2  # words per block
        blocks = tl.program_id(0).to(tl.int64) * NBT + tl.arange(0, NBT)
        words = blocks[:, None, None] * W + tl.arange(0, W // 4)[None, :, None] * 4 + tl.arange(0, 4)[None, None, :]
        live = _per_word(blocks < count)
        w = tl.load(x_ptr + words, mask=live, other=0)
        m = tl.reduce(tl.reduce(w & 0x7FFF7FFF, 2, _max_u16x2), 1, _max_u16x2)
        mag = tl.maximum(m & 0xFFFF, m >> 16) << 16  # fp32 bits of the block's largest magnitude
        scale, s, e, ts, zero_scale = _block_scale(mag, ts_ptr, POW2, CEIL, ELEM_EMAX, ELEM_MAX_SIG, ELEM_MAX, S_EMIN,
                                                   S_MAN, S_MAX_CODE, S_MAX, S_NAN)
        special = mag >= 0x7F800000
        b = tl.where(special | zero_scale, float("nan"), s)  # NaN bounds: every element codes 0
        byte = _e2m1_pair_codes(w, _per_word(_bf16_bound(_e2m1_bound(0.25, b, ts, False, POW2))),
                                _per_word(_bf16_bound(_e2m1_bound(0.75, b, ts, True, POW2))),
                                _per_word(_bf16_bound(_e2m1_bound(1.25, b, ts, False, POW2))),
                                _per_word(_bf16_bound(_e2m1_bound(1.75, b, ts, True, POW2))),
                                _per_word(_bf16_bound(_e2m1_bound(2.5, b, ts, False, POW2))),
                                _per_word(_bf16_bound(_e2m1_bound(3.5, b, ts, True, POW2))),
                                _per_word(_bf16_bound(_e2m1_bound(5.0, b, ts, False, POW2))),
                                _per_word(tl.where(special, 0, 0x00080008)))
        if VALUES:
            low0, low1, high0, high1 = _e2m1_table(s, ts, special, False)
            value = _e2m1_lookup(byte, _per_word(low0), _per_word(low1), _per_word(high0), _per_word(high1),
                                 _per_word(tl.where(special, 0, -2147450880)))  # 0x80008000
            _store_words(out_ptr, blocks, value, count, NBT, W)
        else:
            _store_words(out_ptr, blocks, byte.to(tl.uint8), count, NBT, W)
            tl.store(scale_ptr + blocks, scale.to(tl.uint8), mask=blocks < count)

    @triton.jit
    def _e2m1_bf16_dequant_kernel(code_ptr, scale_ptr, ts_ptr, out_ptr, count, NBT: tl.constexpr, BS: tl.constexpr,
                                  POW2: tl.constexpr, S_EMIN: tl.constexpr, S_MAN: tl.constexpr,
                                  S_NAN: tl.constexpr):
        """:func:`_block_dequant_kernel` for packed E2M1 codes (1-D blocks, rows of whole blocks, ``count`` blocks)
        to bf16: per block a table of its eight magnitudes' values (:func:`_e2m1_table`), per element a byte
        permutation (:func:`_e2m1_lookup`).  The tile is [NBT, G, 4] code bytes, one per output word."""
        W: tl.constexpr = BS // 2  # code bytes per block
        blocks = tl.program_id(0).to(tl.int64) * NBT + tl.arange(0, NBT)
        words = blocks[:, None, None] * W + tl.arange(0, W // 4)[None, :, None] * 4 + tl.arange(0, 4)[None, None, :]
        live = _per_word(blocks < count)
        byte = tl.load(code_ptr + words, mask=live, other=0).to(tl.int32)
        scale = tl.load(scale_ptr + blocks, mask=blocks < count, other=0).to(tl.int32)
        if POW2:
            s = _f32(tl.where(scale > 0, scale << 23, 0x400000))
            special = scale == 255
            ts = 1.0
        else:
            s = _magnitude_value(scale & 127, S_EMIN, S_MAN)
            special = (scale & 127) == S_NAN
            ts = tl.load(ts_ptr)
        low0, low1, high0, high1 = _e2m1_table(s, ts, special, not POW2)
        value = _e2m1_lookup(byte, _per_word(low0), _per_word(low1), _per_word(high0), _per_word(high1),
                             _per_word(tl.where(special, 0, -2147450880)))  # 0x80008000
        _store_words(out_ptr, blocks, value, count, NBT, W)

    @triton.jit
    def _fp8_bf16_dequant_kernel(code_ptr, scale_ptr, out_ptr, blocks, NB: tl.constexpr, FP8: tl.constexpr):
        """:func:`_block_dequant_kernel` for MX fp8 codes (E8M0 scales, 1-D blocks of 32, rows of whole blocks,
        ``blocks`` blocks) to bf16.  Program ``2 t + h`` takes half ``h`` (16 elements) of each of the ``NB``
        blocks of tile ``t``, as torchao's compiled dequantizer does: on the H100 this ran at its speed, and
        whole blocks per program (any tile, warps or cache hints tried) 0.3-1 % slower."""
        pid = tl.program_id(0)
        b = (pid // 2).to(tl.int64) * NB + tl.arange(0, NB)[:, None]
        j = (pid % 2) * 16 + tl.arange(0, 16)[None, :]
        live = b < blocks
        code = tl.load(code_ptr + b * 32 + j, mask=live, other=0, eviction_policy="evict_last")
        scale = tl.load(scale_ptr + b, mask=live, other=0, eviction_policy="evict_last").to(tl.int32)
        s = _f32(tl.where(scale > 0, scale << 23, 0x400000))
        s = tl.where(scale == 255, float("nan"), s)
        tl.store(out_ptr + b * 32 + j, (_fp8_value(code, FP8) * s).to(tl.bfloat16), mask=live)

    @triton.jit
    def _encode_float_kernel(x_ptr, out_ptr, count, key, scale_ptr, table_ptr, SR: tl.constexpr,
                             SCALED: tl.constexpr, VALUES: tl.constexpr, OUT_BF16: tl.constexpr,
                             RESCALE: tl.constexpr,
                             EMIN: tl.constexpr, MAN: tl.constexpr, EXP_BITS: tl.constexpr, WIDTH: tl.constexpr,
                             MAX_CODE: tl.constexpr, OVER_CODE: tl.constexpr, NAN_CODE: tl.constexpr,
                             NAN_SIGNED: tl.constexpr, NEG_ZERO: tl.constexpr, SUBNORMALS: tl.constexpr,
                             FNUZ: tl.constexpr, BLOCK: tl.constexpr):
        offsets = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
        mask = offsets < count
        x = tl.load(x_ptr + offsets, mask=mask, other=0).to(tl.float32)
        if SCALED:
            x = tl.math.div_rn(x, tl.load(scale_ptr) + tl.zeros_like(x))
        neg, sig, exp, nan, inf = _fields(x, False)
        rand = tl.zeros_like(sig)
        if SR:
            rand = _random24(offsets, key)
        code = _round_raw(neg, sig, exp, nan, inf, rand, SR, 32, False, EMIN, MAN, EXP_BITS, WIDTH, MAX_CODE,
                          OVER_CODE, NAN_CODE, NAN_SIGNED, NEG_ZERO, SUBNORMALS, FNUZ)
        if VALUES:
            value = tl.load(table_ptr + (code & ((1 << WIDTH) - 1)), mask=mask)
            if RESCALE:  # times the power-of-two scale again: exact
                value = value * tl.load(scale_ptr)
            if OUT_BF16:
                tl.store(out_ptr + offsets, value.to(tl.bfloat16), mask=mask)
            else:
                tl.store(out_ptr + offsets, value, mask=mask)
        else:
            tl.store(out_ptr + offsets, code.to(out_ptr.dtype.element_ty), mask=mask)

    @triton.jit
    def _encode_table_kernel(x_ptr, out_ptr, count, thresholds_ptr, codes_ptr, starts_ptr, scale_ptr, table_ptr,
                             SHIFT: tl.constexpr, STEPS: tl.constexpr, POSIT: tl.constexpr, WIDTH: tl.constexpr,
                             NAN_CODE: tl.constexpr, ZERO_MAG: tl.constexpr, SCALED: tl.constexpr, VALUES: tl.constexpr,
                             RESCALE: tl.constexpr, OUT_BF16: tl.constexpr, PARTS: tl.constexpr,
                             BLOCK: tl.constexpr):
        """Posit or LNS codes by counting fp32 thresholds at or below ``|x|`` (:class:`EncodeTables`); with ``VALUES``
        their values, fp32 or bf16, or (``PARTS`` > 1) as that many bf16 planes summing to each value."""
        offsets = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
        mask = offsets < count
        x = tl.load(x_ptr + offsets, mask=mask, other=0).to(tl.float32)
        if SCALED:
            x = tl.math.div_rn(x, tl.load(scale_ptr) + tl.zeros_like(x))
        bits = x.to(tl.int32, bitcast=True)
        a = bits & 0x7FFFFFFF
        idx = tl.load(starts_ptr + (a >> SHIFT))
        for step in tl.static_range(STEPS):
            probe = idx + (1 << (STEPS - 1 - step))
            idx = tl.where(tl.load(thresholds_ptr + probe - 1) <= a, probe, idx)
        mag = tl.load(codes_ptr + idx)
        if POSIT:
            code = tl.where(bits < 0, (-mag) & ((1 << WIDTH) - 1), mag)
        else:
            code = tl.where((bits < 0) & (mag != ZERO_MAG), mag | (1 << (WIDTH - 1)), mag)
        code = tl.where(a >= 0x7F800000, NAN_CODE, code)
        if VALUES:
            value = tl.load(table_ptr + code, mask=mask)
            if RESCALE:
                value = value * tl.load(scale_ptr)
            if PARTS > 1:  # :func:`gpu_ref.quant.bf16_parts`: each part RNE of the rest, an exact difference
                for part in tl.static_range(PARTS):
                    rest = value.to(tl.int32, bitcast=True)  # bf16 RNE from the bits (NaN: one quiet NaN)
                    high = tl.where((rest & 0x7FFFFFFF) > 0x7F800000, 0x7FC00000,
                                    (rest + 0x7FFF + ((rest >> 16) & 1)) & -65536).to(tl.float32, bitcast=True)
                    tl.store(out_ptr + part * count + offsets, high.to(tl.bfloat16), mask=mask)
                    value = value - high
            elif OUT_BF16:
                tl.store(out_ptr + offsets, value.to(tl.bfloat16), mask=mask)
            else:
                tl.store(out_ptr + offsets, value, mask=mask)
        else:
            tl.store(out_ptr + offsets, code.to(out_ptr.dtype.element_ty), mask=mask)

    @triton.jit
    def _sum_squares_kernel(x_ptr, partial_ptr, count, BLOCK: tl.constexpr):
        offsets = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
        x = tl.load(x_ptr + offsets, mask=offsets < count, other=0).to(tl.float32)
        tl.store(partial_ptr + tl.program_id(0), tl.sum(x * x, 0))

    @triton.jit
    def _pow2_rms_kernel(partial_ptr, parts, count, scale_ptr, BLOCK: tl.constexpr, ITERS: tl.constexpr):
        """:func:`gpu_ref.quant.pow2_rms_scale` from the partial sums of squares, added in a fixed order."""
        acc = tl.zeros([BLOCK], tl.float32)
        for it in tl.static_range(ITERS):
            i = it * BLOCK + tl.arange(0, BLOCK)
            acc += tl.load(partial_ptr + i, mask=i < parts, other=0.0)
        total = tl.sum(acc, 0) + tl.zeros([1], tl.float32)
        ms = tl.math.div_rn(total, tl.zeros([1], tl.float32) + count)  # count: an int, or 1 as a constexpr
        bits = _bits(ms)
        normal = bits >= 0x800000
        scaled = tl.where(normal, bits, _bits(ms * 18446744073709551616.0))  # subnormals times 2**64
        e = (scaled >> 23) - tl.where(normal, 127, 191)  # ms = m * 2**e, 1 <= m < 2
        low = e >> 1
        tie = (scaled & 0x7FFFFF) == 0
        k = tl.where((e & 1) == 0, low, tl.where(tie & ((low & 1) == 0), low, low + 1))
        tl.store(scale_ptr + tl.arange(0, 1), tl.where((bits > 0) & (bits < 0x7F800000), _pow2_f32(k), 1.0))

    @triton.jit
    def _madam_lns_kernel(p_ptr, grad_ptr, v_ptr, log_ptr, sign_ptr, consts_ptr, rate_ptr, step_ptr, roots_ptr,
                          count, key, FRAC_BITS: tl.constexpr, MIN_LOG: tl.constexpr, MAX_LOG: tl.constexpr,
                          ZERO_LOG: tl.constexpr, STOCHASTIC: tl.constexpr, BLOCK: tl.constexpr):
        """One :class:`gpu_ref.lns.MadamLNS` step of one parameter, its float64 operations in the reference's
        order (launched without fp fusion); ``consts``: beta, 1 - beta, 1 - beta**step, the RMS floor."""
        offsets = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
        mask = offsets < count
        beta, one_minus, corr = tl.load(consts_ptr), tl.load(consts_ptr + 1), tl.load(consts_ptr + 2)
        floor = tl.load(consts_ptr + 3)
        g = tl.load(grad_ptr + offsets, mask=mask, other=0).to(tl.float64)
        v = tl.load(v_ptr + offsets, mask=mask, other=0) * beta + one_minus * g * g
        tl.store(v_ptr + offsets, v, mask=mask)
        v_hat = v / corr
        g_star = tl.where(v_hat > 0, g / tl.maximum(tl.sqrt(v_hat), floor), 0.0)  # float64: IEEE sqrt, div
        log = tl.load(log_ptr + offsets, mask=mask, other=0)
        sign = tl.load(sign_ptr + offsets, mask=mask, other=0) != 0
        size = tl.load(rate_ptr) * tl.where(sign, -1.0, 1.0)  # fp32, as the reference's lr * gamma * direction
        target = log - size.to(tl.float64) * g_star
        low = tl.floor(target)
        if STOCHASTIC:
            index = (tl.load(step_ptr) - 1) * count + offsets
            new = low + (_random24(index, key).to(tl.float64) < (target - low) * 16777216.0).to(tl.float64)
        else:  # nearest, ties to even (torch.round)
            half = target - low
            new = low + ((half > 0.5) | ((half == 0.5) & ((low.to(tl.int64) & 1) == 1))).to(tl.float64)
        new = tl.minimum(tl.maximum(new, MIN_LOG + 0.0, tl.PropagateNan.ALL), MAX_LOG + 0.0, tl.PropagateNan.ALL)
        log = tl.where(log != ZERO_LOG, new, log)
        tl.store(log_ptr + offsets, log, mask=mask)
        code = log.to(tl.int32)
        q = code >> FRAC_BITS  # floor(log / gamma)
        mag = tl.load(roots_ptr + (code & ((1 << FRAC_BITS) - 1)), mask=mask, other=1.0)
        mag = mag * ((tl.minimum(tl.maximum(q, -1022), 1023).to(tl.int64) + 1023) << 52).to(tl.float64, bitcast=True)
        value = tl.where(sign, -mag, mag)
        value = tl.where(code == ZERO_LOG, tl.where(sign, float("nan"), 0.0), value)
        tl.store(p_ptr + offsets, value.to(p_ptr.dtype.element_ty), mask=mask)

    @triton.jit
    def _decode_table_kernel(code_ptr, out_ptr, count, table_ptr, MASK: tl.constexpr, OUT_BF16: tl.constexpr,
                             BLOCK: tl.constexpr):
        offsets = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
        mask = offsets < count
        code = tl.load(code_ptr + offsets, mask=mask, other=0).to(tl.int32) & MASK
        value = tl.load(table_ptr + code, mask=mask)
        if OUT_BF16:
            tl.store(out_ptr + offsets, value.to(tl.bfloat16), mask=mask)
        else:
            tl.store(out_ptr + offsets, value, mask=mask)


# -- host side -----------------------------------------------------------------------------------------------
_BLOCK = 1024
_FP8 = {"e4m3": 1, "e5m2": 2}  # the float formats the hardware converter rounds (saturating) and decodes


def _cdiv(a: int, b: int) -> int:
    """``ceil(a / b)`` in Python (``triton.cdiv`` goes through the JIT's call path: microseconds a launch)."""
    return -(-a // b)


def _next_power_of_2(n: int) -> int:
    """The least power of two >= ``n`` (1 for ``n`` <= 1), as ``triton.next_power_of_2`` without its JIT call."""
    return 1 << max(0, n - 1).bit_length()


def _matrix(x: torch.Tensor) -> torch.Tensor:
    """``x`` as a 2-D (rows, last axis) view when possible (strides kept), else a reshaped copy."""
    if x.dim() == 2:
        return x
    return x.reshape(-1, x.shape[-1])


def _tile_shape(fmt: BlockFormat, two_d: bool, K: int, elements: int | None = None) -> tuple[int, int, int]:
    """(rows, blocks, warps) of one program's tile of about ``elements`` elements (default 4096 for 8-bit
    elements, 2048 for narrower ones), 16 elements per thread (measured on the H100: fewer warps with more
    elements each, or more, ran a few per cent slower)."""
    if elements is None:
        elements = 4096 if fmt.element.width >= 8 else 2048
    if two_d:
        rows, nb = fmt.block_size, max(1, min(max(1, elements // fmt.block_size ** 2),
                                              _next_power_of_2(-(-K // fmt.block_size))))
    else:
        nb = max(1, min(128 // fmt.block_size, _next_power_of_2(-(-K // fmt.block_size))))
        rows = max(1, elements // (nb * fmt.block_size))
    return rows, nb, max(1, min(8, rows * nb * fmt.block_size // 512))


def _spread(fmt: BlockFormat) -> bool:
    """Whether the block kernels spread a block's elements across threads: for fp8 elements, whose
    per-block work (an E8M0 scale) is small and whose per-element work the hardware converter does;
    other formats keep a block in one thread, so that its scale and bounds are computed once."""
    return fmt.element.name in _FP8


def _flat_rows(fmt: BlockFormat, two_d: bool, m: torch.Tensor) -> int | None:
    """Rows of a view of the contiguous matrix ``m`` whose rows are 128 elements (whole 1-D blocks, so
    that blocks, codes, scales and element indices keep their order), or None where there is none."""
    if two_d or not m.is_contiguous() or m.shape[1] % 128 or 128 % fmt.block_size:
        return None
    return m.numel() // 128


_PAIR_ELEMENTS = 4096  # elements per program of the E2M1 pair kernels
_FP8_DEQUANT_BLOCKS = 512  # blocks per program of the fp8 dequantizer (half of each), 16 elements a thread


def _pair_warps(blocks: int) -> int:
    """Warps of a pair-kernel program of ``blocks`` blocks: one block per thread."""
    return max(1, min(16, blocks // 32))


def _pairs_path(fmt: BlockFormat, m: torch.Tensor, rounding: str, two_d: bool, rht_seed, values: bool,
                dtype) -> bool:
    """Whether :func:`block_quantize` of the matrix ``m`` takes the E2M1 pair kernel: bf16 in (and out), RNE,
    1-D blocks without the Hadamard transform, contiguous rows of whole blocks that start on a word."""
    return (fmt.element.name == "e2m1" and m.dtype == torch.bfloat16 and rounding == "rne" and not two_d
            and rht_seed is None and m.is_contiguous() and m.shape[1] % fmt.block_size == 0
            and m.storage_offset() % 2 == 0 and (not values or dtype == torch.bfloat16))


@functools.lru_cache(maxsize=None)
def _unit_scale(device: torch.device) -> torch.Tensor:
    """A shared 1-element fp32 tensor of 1.0 on ``device``: the tensor scale of formats without one (made once:
    a fill per call would be a kernel launch in the timed stream)."""
    return torch.ones(1, dtype=torch.float32, device=device)


def _check_out_dtype(dtype):
    if dtype not in (torch.float32, torch.bfloat16):
        raise ValueError(f"output dtype must be torch.float32 or torch.bfloat16, not {dtype}")


def _check_formats(fmt: BlockFormat):
    e = fmt.element
    if not isinstance(e, FloatFormat) or (e.name not in _FP8 and e.special is not Special.NONE):
        raise ValueError(f"the Triton block kernels take e4m3, e5m2 or special-free float elements; {fmt.name} has "
                         f"{e.name}")


def _check_block(fmt: BlockFormat, x: torch.Tensor, rounding: str, rht_seed, two_d: bool):
    if two_d and x.dim() != 2:
        raise ValueError(f"2-D blocks need a matrix, not a tensor of shape {tuple(x.shape)}")
    _check_formats(fmt)
    if x.dtype not in (torch.float32, torch.bfloat16, torch.float16):
        raise ValueError(f"block quantize takes float32/bfloat16/float16 input, not {x.dtype}")
    if rounding not in ("rne", "sr"):
        raise ValueError(f"rounding must be 'rne' or 'sr', not {rounding!r}")
    if rht_seed is not None and (fmt.block_size != 16 or x.shape[-1] % 16):
        raise ValueError("the fused Hadamard transform needs 16-element blocks and a last axis that is a multiple of 16")


def tensor_scale(fmt: BlockFormat, x: torch.Tensor, rht_seed: int | None = None) -> torch.Tensor:
    """NVFP4's fp32 tensor scale of ``x`` (after the RHT with ``rht_seed``) as a 1-element CUDA tensor."""
    from .block import rht_signs

    m = _matrix(x)
    amax = torch.zeros(1, dtype=torch.int32, device=x.device)
    R, C = 32, 64
    _amax_kernel[(_cdiv(m.shape[0], R), _cdiv(m.shape[1], C))](
        m, m.stride(0), m.stride(1), m.shape[0], m.shape[1], amax, RHT=rht_seed is not None,
        SIGNS=rht_signs(rht_seed) if rht_seed is not None else 0, R=R, C=C)
    ts = torch.empty(1, dtype=torch.float32, device=x.device)
    constants = _block_constants(fmt)
    _tensor_scale_kernel[(1,)](amax, ts, LIMIT=constants["ELEM_MAX"] * constants["S_MAX"])
    return ts


def _scale_params(fmt: BlockFormat) -> dict:
    if isinstance(fmt.scale, ScaleFormat):
        return dict(S_EMIN=0, S_MAN=0, S_MAX_CODE=254, S_MAX=0.0, S_NAN=255)
    s = fmt.scale
    return dict(S_EMIN=s.emin, S_MAN=s.man_bits, S_MAX_CODE=s.max_code, S_MAX=float(s.max_finite), S_NAN=s.nan_code)


@functools.lru_cache(maxsize=None)
def _block_constants(fmt: BlockFormat) -> dict:
    """The compile-time constants of the block kernels' scale and element rules for ``fmt`` (cached: some format
    properties decode a table, and the host's time per launch counts where kernels are short)."""
    e = fmt.element
    return dict(POW2=isinstance(fmt.scale, ScaleFormat), CEIL=fmt.rule.value == "ceil", ELEM_EMAX=e.emax,
                ELEM_MAX_SIG=int(round(fmt.element_max / 2.0 ** e.emax * 2 ** 23)), ELEM_MAX=float(fmt.element_max),
                **_scale_params(fmt))


@functools.lru_cache(maxsize=None)
def _element_constants(fmt: BlockFormat) -> dict:
    """The compile-time constants of ``fmt``'s element format: the integer rounder's and the decoders'."""
    e = fmt.element
    return dict(FP8=_FP8.get(e.name, 0), E2M1=e.name == "e2m1", **_float_params(e, True))


@functools.lru_cache(maxsize=None)
def _dequant_constants(fmt: BlockFormat) -> dict:
    """The dequantizers' subset of :func:`_block_constants` and :func:`_element_constants`."""
    c = _block_constants(fmt)
    e = _element_constants(fmt)
    return dict(POW2=c["POW2"], S_EMIN=c["S_EMIN"], S_MAN=c["S_MAN"], S_NAN=c["S_NAN"], FP8=e["FP8"], E2M1=e["E2M1"],
                EMIN=e["EMIN"], MAN=e["MAN"], WIDTH=e["WIDTH"])


def block_quantize(fmt: BlockFormat, x: torch.Tensor, ts: torch.Tensor | None = None, rounding: str = "rne",
                   seed: int = 0, two_d: bool = False, rht_seed: int | None = None, values: bool = False,
                   dtype=torch.bfloat16):
    """``(codes, scales, ts)`` of ``x`` (CUDA, float32/bf16/fp16, any strides) as :func:`gpu_ref.block.quantize`
    of ``rht16(x, rht_seed)`` (4-bit codes packed by :func:`gpu_ref.block.pack_nibbles`); with ``values``,
    ``(element * block scale in dtype, ts)`` as :func:`gpu_ref.block.fake_quantize`.  ``ts``: NVFP4's tensor
    scale (a 1-element fp32 tensor), computed on the device when None; formats without one return a shared
    tensor of 1.0 (read it, do not write it)."""
    from .block import rht_signs
    from .numerics import seed_key

    _check_block(fmt, x, rounding, rht_seed, two_d)
    if values:
        _check_out_dtype(dtype)
    m = _matrix(x)
    M, K = m.shape
    x_rows = M
    constants = _block_constants(fmt)
    if fmt.tensor_scale:
        ts = tensor_scale(fmt, m, rht_seed) if ts is None else ts.reshape(1).float()
    else:
        ts = _unit_scale(x.device)
    pack = fmt.element.width <= 4
    if values:
        out = torch.empty(M, K, dtype=dtype, device=x.device)
        scales = out
    else:
        out = torch.empty(M, (K + 1) // 2 if pack else K, dtype=torch.uint8, device=x.device)
        scales = torch.empty(-(-M // fmt.block_size) if two_d else M, -(-K // fmt.block_size), dtype=torch.uint8,
                             device=x.device)
    if _pairs_path(fmt, m, rounding, two_d, rht_seed, values, dtype):
        blocks = m.numel() // fmt.block_size
        nbt = _PAIR_ELEMENTS // fmt.block_size
        _e2m1_bf16_quant_kernel[(_cdiv(blocks, nbt),)](
            m.view(torch.int32), blocks, out.view(torch.int32) if values else out, scales, ts, NBT=nbt,
            BS=fmt.block_size, VALUES=values, **constants, num_warps=_pair_warps(nbt))
        if values:
            return out.reshape(x.shape), ts
        return out, scales, ts
    rows = _flat_rows(fmt, two_d, m)
    if rows is not None:  # whole rows of tiles: one contiguous stretch of memory per program
        m, M, K = m.view(rows, -1), rows, m.numel() // rows
        out = out.view(rows, -1)
        scales = scales if values else scales.view(rows, -1)
    R, NB, warps = _tile_shape(fmt, two_d, K)
    C = NB * fmt.block_size
    _block_quant_kernel[(_cdiv(M, R), _cdiv(K, C))](
        m, m.stride(0), m.stride(1), M, K, (K + 1) // 2, out, out.shape[1], scales, 0 if values else scales.shape[1],
        ts, seed_key(seed) if rounding == "sr" else 0, R=R, NB=NB, BS=fmt.block_size, TWO_D=two_d,
        SR=rounding == "sr", RHT=rht_seed is not None, SIGNS=rht_signs(rht_seed) if rht_seed is not None else 0,
        VALUES=values, OUT_BF16=dtype == torch.bfloat16, PACK=pack and not values, SPREAD=_spread(fmt),
        **constants, **_element_constants(fmt), num_warps=warps)
    if values:
        return out.reshape(x.shape), ts
    return out.view(x_rows, -1), scales.view(x_rows, -1) if not two_d else scales, ts


def block_dequantize(fmt: BlockFormat, codes: torch.Tensor, scales: torch.Tensor, ts: torch.Tensor | None,
                     count: int, two_d: bool = False, dtype=torch.float32) -> torch.Tensor:
    """Values of :func:`block_quantize`'s codes (``count`` elements per row) in ``dtype``: the exact float64
    ``element * scale * ts`` rounded once (float32) or via float32 (bf16), NaN throughout NaN-scaled blocks."""
    _check_out_dtype(dtype)
    _check_formats(fmt)
    M = codes.shape[0]
    e = fmt.element
    constants = _dequant_constants(fmt)
    ts = _unit_scale(codes.device) if ts is None else ts.reshape(1).float()
    out = torch.empty(M, count, dtype=dtype, device=codes.device)
    codes, scales, flat = codes.contiguous(), scales.contiguous(), out
    if (e.name == "e2m1" and dtype == torch.bfloat16 and not two_d and count % fmt.block_size == 0
            and codes.shape[1] == count // 2):
        blocks = M * count // fmt.block_size
        nbt = _PAIR_ELEMENTS // fmt.block_size
        _e2m1_bf16_dequant_kernel[(_cdiv(blocks, nbt),)](
            codes, scales, ts, out.view(torch.int32), blocks, NBT=nbt, BS=fmt.block_size, POW2=constants["POW2"],
            S_EMIN=constants["S_EMIN"], S_MAN=constants["S_MAN"], S_NAN=constants["S_NAN"],
            num_warps=_pair_warps(nbt))
        return out
    if (constants["FP8"] and constants["POW2"] and dtype == torch.bfloat16 and not two_d and fmt.block_size == 32
            and count % 32 == 0 and codes.shape[1] == count):
        blocks = M * count // 32
        _fp8_bf16_dequant_kernel[(2 * _cdiv(blocks, _FP8_DEQUANT_BLOCKS),)](
            codes, scales, out, blocks, NB=_FP8_DEQUANT_BLOCKS, FP8=constants["FP8"],
            num_warps=_FP8_DEQUANT_BLOCKS // 32)
        return out
    rows = _flat_rows(fmt, two_d, out)
    if rows is not None and codes.shape[1] == ((count + 1) // 2 if e.width <= 4 else count):
        codes, scales, flat, M, count = codes.view(rows, -1), scales.view(rows, -1), out.view(rows, -1), rows, 128
    R, NB, warps = _tile_shape(fmt, two_d, count)
    _block_dequant_kernel[(_cdiv(M, R), _cdiv(count, NB * fmt.block_size))](
        codes, codes.shape[1], scales, scales.shape[1], ts, flat, M, count, (count + 1) // 2, R=R, NB=NB,
        BS=fmt.block_size, TWO_D=two_d, PACK=e.width <= 4, OUT_BF16=dtype == torch.bfloat16, SPREAD=_spread(fmt),
        **constants, num_warps=warps)
    return out


# -- elementwise ---------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def _decode_table(fmt, device: str) -> torch.Tensor:
    """fp32 value of every code of ``fmt`` by the reference decoder."""
    from . import lns, numerics

    codes = torch.arange(1 << fmt.width)
    if isinstance(fmt, FloatFormat):
        values = numerics.decode_float(fmt, codes)
    elif isinstance(fmt, PositFormat):
        values = numerics.decode_posit(fmt, codes)
    else:
        values = lns.lns_decode(*lns.lns_fields(codes, fmt), fmt, torch.float64)
    return values.float().to(device)


def _reference_encode(fmt, x: torch.Tensor) -> torch.Tensor:
    from . import lns, numerics

    if isinstance(fmt, PositFormat):
        return numerics.encode_posit(fmt, x)
    sign, log = lns.lns_encode(x, fmt)
    return lns.lns_codes(sign, log, fmt)


class EncodeTables(NamedTuple):
    """The posit/LNS encoder's tables: ``thresholds[j]`` = the smallest fp32 bit pattern that the reference
    encodes at or above magnitude rank j + 1 (sorted, padded with 0x7FFFFFFF); ``codes[rank]`` = the magnitude
    code of each rank; ``starts[b]`` = the number of thresholds below ``b << shift``, so that the rank of a
    pattern ``a`` is ``starts[a >> shift]`` plus a ``steps``-step binary search over the next thresholds."""
    thresholds: torch.Tensor
    codes: torch.Tensor
    starts: torch.Tensor
    shift: int
    steps: int


@functools.lru_cache(maxsize=None)
def encode_tables(fmt, device: str) -> EncodeTables:
    """:class:`EncodeTables` of a posit or LNS format: buckets of the fp32 patterns' top bits (at most 2**16 of
    them) narrow each binary search to at most 4 or 5 steps (posit16: 15 without them)."""
    if isinstance(fmt, PositFormat):
        mags = torch.arange(0, 1 << (fmt.n - 1))  # 0, minpos .. maxpos in increasing order
    else:
        logs = torch.arange(fmt.min_log, fmt.max_log + 1)
        mags = torch.cat([torch.tensor([fmt.zero_log & ((1 << fmt.log_bits) - 1)]), logs & ((1 << fmt.log_bits) - 1)])
    rank_of = torch.zeros(1 << (fmt.width - 1), dtype=torch.int64)
    rank_of[mags] = torch.arange(len(mags))

    def rank(bits):
        codes = _reference_encode(fmt, bits.int().view(torch.float32))
        return rank_of[codes & ((1 << (fmt.width - 1)) - 1)]

    targets = torch.arange(1, len(mags))
    lo = torch.zeros(len(targets), dtype=torch.int64)          # rank(lo) < target
    hi = torch.full((len(targets),), 0x7F7FFFFF, dtype=torch.int64)  # rank(hi) >= target
    for _ in range(32):
        mid = (lo + hi) // 2
        ok = rank(mid) >= targets
        hi, lo = torch.where(ok, mid, hi), torch.where(ok, lo, mid)
    for shift in range(31, 14, -1):  # the coarsest buckets holding at most 15 thresholds, or 2**16 buckets
        starts = torch.searchsorted(hi, torch.arange((1 << (31 - shift)) + 1) << shift)
        if int((starts[1:] - starts[:-1]).max()) < 16 or shift == 15:
            break
    steps = max(1, int((starts[1:] - starts[:-1]).max()).bit_length())
    table = torch.full((len(targets) + (1 << steps),), 0x7FFFFFFF, dtype=torch.int32)
    table[:len(targets)] = hi.int()
    codes = torch.zeros(len(table) + 1, dtype=torch.int32)
    codes[:len(mags)] = mags.int()
    return EncodeTables(table.to(device), codes.to(device), starts[:-1].int().to(device), shift, steps)


def encode_float(fmt: FloatFormat, x: torch.Tensor, saturate: bool = False, rounding: str = "rne",
                 seed: int = 0) -> torch.Tensor:
    """int64 codes of a CUDA float32 tensor in ``fmt`` (the PyTorch path's ``encode_float``)."""
    return encode(fmt, x, rounding, seed, saturate=saturate).long()


def _elementwise(fmt, x, out, rounding="rne", seed=0, scale=None, values=False, saturate=False, rescale=False,
                 parts=1):
    from .numerics import seed_key

    if rounding not in ("rne", "sr"):
        raise ValueError(f"rounding must be 'rne' or 'sr', not {rounding!r}")
    flat = x.contiguous().reshape(-1)
    grid = (_cdiv(flat.numel(), _BLOCK),)
    scale_t = scale if scale is not None else flat
    table = _decode_table(fmt, str(x.device)) if values else flat
    if isinstance(fmt, FloatFormat):
        _encode_float_kernel[grid](flat, out, flat.numel(), seed_key(seed) if rounding == "sr" else 0, scale_t,
                                   table, SR=rounding == "sr", SCALED=scale is not None, VALUES=values, RESCALE=rescale,
                                   OUT_BF16=out.dtype == torch.bfloat16, BLOCK=_BLOCK,
                                   **_float_params(fmt, saturate))
    else:
        if rounding != "rne":
            raise ValueError(f"{fmt.name}: the Triton encoder rounds posits and LNS to nearest only")
        tables = encode_tables(fmt, str(x.device))
        posit = isinstance(fmt, PositFormat)
        _encode_table_kernel[grid](flat, out, flat.numel(), tables.thresholds, tables.codes, tables.starts, scale_t,
                                   table, SHIFT=tables.shift, STEPS=tables.steps,
                                   POSIT=posit, WIDTH=fmt.width,
                                   NAN_CODE=fmt.nar_code if posit else (1 << fmt.log_bits) | (fmt.zero_log & ((1 << fmt.log_bits) - 1)),
                                   ZERO_MAG=0 if posit else fmt.zero_log & ((1 << fmt.log_bits) - 1),
                                   SCALED=scale is not None, VALUES=values, RESCALE=rescale,
                                   OUT_BF16=out.dtype == torch.bfloat16, PARTS=parts,
                                   BLOCK=_BLOCK)
    return out.reshape(x.shape) if parts == 1 else out.reshape(parts, *x.shape)


def encode(fmt, x: torch.Tensor, rounding: str = "rne", seed: int = 0, saturate: bool = False) -> torch.Tensor:
    """Codes (uint8 up to 8 bits, int32 above) of CUDA ``x`` in a float, posit or LNS format."""
    if x.dtype not in (torch.float32, torch.bfloat16, torch.float16):
        raise ValueError(f"encode takes float32/bfloat16/float16 input, not {x.dtype}")
    out = torch.empty(x.numel(), dtype=torch.uint8 if fmt.width <= 8 else torch.int32, device=x.device)
    return _elementwise(fmt, x, out, rounding, seed, saturate=saturate)


def decode(fmt, codes: torch.Tensor, dtype=torch.float32) -> torch.Tensor:
    """Values of codes of a float, posit or LNS format (table of the reference decoder)."""
    _check_out_dtype(dtype)
    flat = codes.contiguous().reshape(-1)
    out = torch.empty(flat.numel(), dtype=dtype, device=codes.device)
    _decode_table_kernel[(_cdiv(flat.numel(), _BLOCK),)](
        flat, out, flat.numel(), _decode_table(fmt, str(codes.device)), MASK=(1 << fmt.width) - 1,
        OUT_BF16=dtype == torch.bfloat16, BLOCK=_BLOCK)
    return out.reshape(codes.shape)


def pow2_rms_scale(x: torch.Tensor) -> torch.Tensor:
    """:func:`gpu_ref.quant.pow2_rms_scale` of CUDA ``x`` in two launches (partial sums of squares, then
    their fixed-order sum and the power of two), with no host synchronisation."""
    flat = x.t() if x.dim() == 2 and not x.is_contiguous() and x.t().is_contiguous() else x.contiguous()
    flat = flat.reshape(-1)
    block = 8192
    parts = _cdiv(flat.numel(), block)
    partial = torch.empty(parts, dtype=torch.float32, device=x.device)
    _sum_squares_kernel[(parts,)](flat, partial, flat.numel(), BLOCK=block)
    scale = torch.empty(1, dtype=torch.float32, device=x.device)
    _pow2_rms_kernel[(1,)](partial, parts, flat.numel(), scale, BLOCK=1024, ITERS=_cdiv(parts, 1024))
    return scale


def fake_quantize_elementwise(fmt, x: torch.Tensor, scale: torch.Tensor | None = None, rounding: str = "rne",
                              seed: int = 0, dtype=torch.bfloat16, rescale: bool = False,
                              parts: int = 1) -> torch.Tensor:
    """``decode(encode(x / scale))`` in ``dtype`` in one pass (``scale``: a 1-element tensor, a power of two);
    with ``rescale``, times ``scale`` again (exact); ``parts`` > 1 (posits, LNS): the values as
    :func:`gpu_ref.quant.bf16_parts`, a ``(parts, *x.shape)`` bf16 tensor."""
    _check_out_dtype(dtype)
    if rescale and scale is None:
        raise ValueError("rescale needs a scale")
    if not isinstance(parts, int) or parts < 1:
        raise ValueError(f"parts must be a positive integer, not {parts!r}")
    if parts > 1 and isinstance(fmt, FloatFormat):
        raise ValueError(f"bf16 parts are for posit and LNS values; {fmt.name} is a float format")
    out = torch.empty(parts * x.numel(), dtype=torch.bfloat16 if parts > 1 else dtype, device=x.device)
    return _elementwise(fmt, x, out, rounding, seed, scale=scale, values=True, rescale=rescale, parts=parts)


def madam_lns_update(p, grad, v, log, sign, consts, rate, step, roots, fmt, stochastic: bool, seed: int):
    """:class:`gpu_ref.lns.MadamLNS`'s update of one CUDA parameter in one pass (``v``, ``log`` float64 and ``p``
    updated in place): ``consts`` float64 (beta, 1 - beta, 1 - beta**step, RMS floor), ``rate`` fp32
    lr * gamma, ``step`` int64, ``roots`` float64 ``fmt.roots``; ``seed`` keys the stochastic rounding's
    counter-based bits."""
    from .numerics import seed_key

    count = p.numel()
    _madam_lns_kernel[(_cdiv(count, _BLOCK),)](
        p, grad, v, log, sign, consts, rate, step, roots, count, seed_key(seed), FRAC_BITS=fmt.frac_bits,
        MIN_LOG=fmt.min_log, MAX_LOG=fmt.max_log, ZERO_LOG=fmt.zero_log,
        STOCHASTIC=stochastic, BLOCK=_BLOCK, enable_fp_fusion=False)
