"""OCP MX and NVFP4 block formats in PyTorch: quantize, dequantize and the block dot unit, bit for bit.

Follows :mod:`hw.formats.block` (scale rules, saturation, the implementation-
defined choices listed there).  Power-of-two scales shift the exponent of
each element exactly; NVFP4's quotients are taken in float64, whose one
rounding cannot move a quotient of a 24-bit by a 27-bit significand onto a
midpoint of a 4-bit format, so the second rounding is the only one that
counts (checked against the golden model's exact division in CI).
"""

from __future__ import annotations

import torch

from hw.formats import FP32, BlockFormat, FloatFormat, IntFormat, ScaleFormat

from .numerics import (counter_random24, decode_float, decode_int, float_fields, lanes, multiply_raw, pow2, round_float,
                       seed_key, sum_raw, unpack_float, value_from_raw)

__all__ = ["quantize", "dequantize", "fake_quantize", "rht16", "rht_signs", "pack_nibbles", "unpack_nibbles",
           "block_dot", "tensor_scale"]


def tensor_scale(fmt: BlockFormat, x: torch.Tensor) -> float:
    """NVFP4's per-tensor fp32 scale: amax / (max_elem * max_scale) rounded up to fp32 (1.0 for all zeros)."""
    if not fmt.tensor_scale:
        return 1.0
    values = x.double()
    amax = float(values[torch.isfinite(values)].abs().max()) if torch.isfinite(values).any() else 0.0
    if amax == 0.0:
        return 1.0
    limit = fmt.element_max * fmt.scale.max_finite
    q = torch.tensor([amax / limit], dtype=torch.float64)
    code = int(round_float(FP32, *float_fields(q)[:3], rounding="rtz")[0])
    value = float(torch.tensor([code], dtype=torch.int32).view(torch.float32)[0])
    if value * limit < amax:
        code += 1
    return max(float(torch.tensor([code], dtype=torch.int32).view(torch.float32)[0]), FP32.min_subnormal)


def _scale_codes(fmt: BlockFormat, amax: torch.Tensor, ts: float) -> torch.Tensor:
    if isinstance(fmt.scale, ScaleFormat):
        e = torch.frexp(amax)[1].long() - 1 - fmt.element_emax
        if fmt.rule.value == "ceil":
            e = e + (amax > fmt.element_max * pow2(e)).long()
        code = e + fmt.scale.bias
        code = torch.where(code >= fmt.scale.nan_code, fmt.scale.nan_code, code.clamp(min=0))
        return torch.where(amax == 0, 0, code)
    target = amax / (fmt.element_max * ts)
    neg, sig, exp, _, _ = float_fields(target)
    if fmt.rule.value == "nearest":
        return round_float(fmt.scale, neg, sig, exp, saturate=True)
    code = round_float(fmt.scale, neg, sig, exp, rounding="rtz", saturate=True)
    short = decode_float(fmt.scale, code) * fmt.element_max * ts < amax
    return torch.where(short & (code < fmt.scale.max_code), code + 1, code)


def _tile(fmt: BlockFormat, x: torch.Tensor, two_d: bool) -> torch.Tensor:
    """``x`` (..., K) as blocks (..., nb, B), zero-padded: 1 x block_size blocks along the last axis, or with
    ``two_d`` (x 2-D) block_size x block_size tiles, each flattened row by row."""
    if not two_d:
        n = x.shape[-1]
        nb = -(-n // fmt.block_size)
        padded = torch.zeros(*x.shape[:-1], nb * fmt.block_size, dtype=x.dtype, device=x.device)
        padded[..., :n] = x
        return padded.reshape(*x.shape[:-1], nb, fmt.block_size)
    if x.dim() != 2:
        raise ValueError(f"2-D blocks need a matrix, not a tensor of shape {tuple(x.shape)}")
    b = fmt.block_size
    m, k = x.shape
    mb, kb = -(-m // b), -(-k // b)
    padded = torch.zeros(mb * b, kb * b, dtype=x.dtype, device=x.device)
    padded[:m, :k] = x
    return padded.reshape(mb, b, kb, b).permute(0, 2, 1, 3).reshape(mb, kb, b * b)


def _untile(fmt: BlockFormat, blocks: torch.Tensor, shape, two_d: bool) -> torch.Tensor:
    """The inverse of :func:`_tile`: element tensor of ``shape`` from (..., nb, B) blocks."""
    if not two_d:
        return blocks.reshape(*blocks.shape[:-2], -1)[..., :shape[-1]]
    b = fmt.block_size
    mb, kb = blocks.shape[:2]
    return blocks.reshape(mb, kb, b, b).permute(0, 2, 1, 3).reshape(mb * b, kb * b)[:shape[0], :shape[1]]


def quantize(fmt: BlockFormat, x: torch.Tensor, ts: float | None = None, rounding: str = "rne", seed: int = 0,
             two_d: bool = False):
    """``(elements, scales, tensor_scale)`` of ``x`` (float32/float64) along its last axis, as the golden ``quantize``.

    ``two_d``: block_size x block_size tiles of a matrix (NVFP4's 16 x 16 weight
    blocks); scales then have shape (ceil(M / b), ceil(K / b)).  ``rounding="sr"``
    rounds elements stochastically (:func:`gpu_ref.numerics.round_float`) with
    :func:`~gpu_ref.numerics.counter_random24` bits of (``seed``, row-major
    index of the element in ``x``); float-scaled formats round the float64
    quotient ``x / (scale * tensor_scale)``.  Scales always round as the format's rule says.
    """
    if rounding not in ("rne", "sr"):
        raise ValueError(f"rounding must be 'rne' or 'sr', not {rounding!r}")
    if rounding == "sr" and isinstance(fmt.element, IntFormat):
        raise ValueError(f"stochastic rounding needs float elements; {fmt.name} has integer elements")
    blocks = _tile(fmt, x.double(), two_d)
    finite = torch.isfinite(blocks)
    special = ~finite.all(-1)
    amax = torch.where(finite, blocks.abs(), 0.0).amax(-1)
    ts = tensor_scale(fmt, x) if ts is None or not fmt.tensor_scale else float(ts)
    scales = torch.where(special, fmt.scale.nan_code, _scale_codes(fmt, amax, ts))
    values = torch.where(finite, blocks, 0.0)
    if isinstance(fmt.scale, ScaleFormat):
        neg, sig, exp, _, _ = float_fields(values)
        exp = exp - (scales - fmt.scale.bias)[..., None]
        zero_scale = torch.zeros_like(special)
    else:
        divisor = decode_float(fmt.scale, scales) * ts
        zero_scale = divisor == 0
        neg, sig, exp, _, _ = float_fields(values / torch.where(zero_scale, 1.0, divisor)[..., None])
    if isinstance(fmt.element, IntFormat):
        codes = _int_elements(fmt, neg, sig, exp + fmt.element_frac_bits)
    elif rounding == "sr":
        index = torch.arange(x.numel(), device=x.device).reshape(x.shape)
        random = _tile(fmt, counter_random24(seed, index), two_d)
        codes = round_float(fmt.element, neg, sig, exp, rounding="sr", saturate=True, random=random)
    else:
        codes = round_float(fmt.element, neg, sig, exp, saturate=True)
    codes = torch.where(special[..., None], 0, codes)
    if isinstance(fmt.element, FloatFormat):
        sign = (torch.signbit(blocks) & fmt.element.has_negative_zero).long() << (fmt.element.width - 1)
        codes = torch.where((zero_scale & ~special)[..., None], sign, codes)
    else:
        codes = torch.where((zero_scale & ~special)[..., None], 0, codes)
    return _untile(fmt, codes, x.shape, two_d), scales, ts


def fake_quantize(fmt: BlockFormat, x: torch.Tensor, ts: float | None = None, rounding: str = "rne", seed: int = 0,
                  two_d: bool = False, dtype=torch.bfloat16):
    """``(values, tensor_scale)``: ``x`` quantized and dequantized to ``element * block scale`` (the tensor
    scale left out, for the caller to apply after a matmul), rounded to float32 and then to ``dtype`` (exact
    unless a block scale is below about 2**-118)."""
    elements, scales, ts = quantize(fmt, x, ts, rounding, seed, two_d)
    return dequantize(fmt, elements, scales, 1.0, two_d).float().to(dtype), ts


def rht16(x: torch.Tensor, seed: int) -> torch.Tensor:
    """The 16-point random Hadamard transform of each group of 16 along the last axis (a multiple of 16), in
    float32 with a fixed order: butterflies ``(a + b, a - b)`` on index bits 0, 1, 2, 3 (Sylvester order), then
    each output ``j`` times ``+-1/4`` (negative where bit ``j`` of ``rht_signs(seed)`` is set): orthonormal and,
    being plain IEEE adds and power-of-two products in one order, the same bits on any device."""
    if x.shape[-1] % 16:
        raise ValueError(f"the 16-point Hadamard transform needs a last axis that is a multiple of 16, "
                         f"not {x.shape[-1]}")
    y = x.float().reshape(-1, 16)
    for s in (1, 2, 4, 8):
        y = y.reshape(-1, 16 // (2 * s), 2, s)
        a, b = y[:, :, 0, :], y[:, :, 1, :]
        y = torch.stack([a + b, a - b], 2).reshape(-1, 16)
    signs = rht_signs(seed)
    factor = torch.tensor([-0.25 if (signs >> j) & 1 else 0.25 for j in range(16)], device=x.device)
    return (y * factor).reshape(x.shape)


def rht_signs(seed: int) -> int:
    """The 16 random signs of :func:`rht16` as a bit mask (bit j set: output j negated)."""
    return seed_key(seed) & 0xFFFF


def pack_nibbles(codes: torch.Tensor) -> torch.Tensor:
    """4-bit codes two per byte (uint8) along the last axis: element 2i in the low nibble, 2i+1 in the high
    (torch's ``float4_e2m1fn_x2`` order); an odd length gets a zero high nibble."""
    if codes.shape[-1] % 2:
        codes = torch.cat([codes, torch.zeros_like(codes[..., :1])], -1)
    return (codes[..., 0::2] | (codes[..., 1::2] << 4)).to(torch.uint8)


def unpack_nibbles(packed: torch.Tensor, count: int) -> torch.Tensor:
    """The int64 codes of :func:`pack_nibbles` output (``count`` along the last axis)."""
    p = packed.long()
    return torch.stack([p & 15, p >> 4], -1).reshape(*p.shape[:-1], -1)[..., :count]


def _int_elements(fmt, neg, sig, exp):
    """MXINT elements: round to nearest even at the integer, clamp symmetrically to +-(2**(bits-1) - 1)."""
    limit = (1 << (fmt.element.bits - 1)) - 1
    shift = (-exp).clamp(min=0)
    right = shift.clamp(max=63)
    kept = torch.where(exp >= 0, torch.where(exp > 16, limit + 1, sig << exp.clamp(0, 16)), sig >> right)
    rem = sig & ((torch.ones_like(sig) << right) - 1)
    half = torch.where(right > 0, torch.ones_like(sig) << (right - 1).clamp(min=0), 0)
    up = (shift > 0) & (shift < 64) & ((rem > half) | ((rem == half) & ((kept & 1) == 1)))
    mag = (kept + up.long()).clamp(max=limit)
    return torch.where(neg, -mag, mag) & ((1 << fmt.element.bits) - 1)


def _element_raw(fmt: BlockFormat, codes):
    if isinstance(fmt.element, IntFormat):
        v = decode_int(fmt.element, codes)
        zeros = torch.zeros_like(v, dtype=torch.bool)
        return v < 0, v.abs(), torch.full_like(v, -fmt.element_frac_bits), zeros, zeros
    return unpack_float(fmt.element, codes)


def _scale_raw(fmt: BlockFormat, codes):
    if isinstance(fmt.scale, ScaleFormat):
        nan = codes == fmt.scale.nan_code
        return torch.zeros_like(nan), torch.ones_like(codes), codes - fmt.scale.bias, nan
    neg, sig, exp, nan, _ = unpack_float(fmt.scale, codes)
    return neg, sig, exp, nan


def dequantize(fmt: BlockFormat, elements, scales, ts: float = 1.0, two_d: bool = False) -> torch.Tensor:
    """Exact float64 values ``element * scale * tensor_scale`` (NaN throughout a NaN-scaled block).

    E8M0 scales decode through torch's native ``float8_e8m0fnu``; every
    product here fits a double, so nothing rounds.
    """
    if isinstance(fmt.element, IntFormat):
        values = value_from_raw(*_element_raw(fmt, elements)[:3])
    else:
        values = decode_float(fmt.element, elements)
    if isinstance(fmt.scale, ScaleFormat):
        scale = scales.to(torch.uint8).view(torch.float8_e8m0fnu).double()
    else:
        scale = decode_float(fmt.scale, scales)
    scale = scale.repeat_interleave(fmt.block_size, -1)[..., :elements.shape[-1]]
    if two_d:
        scale = scale.repeat_interleave(fmt.block_size, 0)[:elements.shape[0]]
    return values * scale * float(ts)


def block_dot(fmt: BlockFormat, a, a_scale, b, b_scale, acc) -> torch.Tensor:
    """The block dot unit: fp32 codes of ``round(acc + sa * sb * sum_i a_i b_i)`` (one rounding; exact sum).

    Signed zeros as the golden model: the element sum (-0 only if every
    product is -0), times the scale, plus the accumulator.  Only E5M2
    elements are infinite and E8M0 scales are never 0, so Inf * 0 cannot arise.
    """
    products = multiply_raw(_element_raw(fmt, a), _element_raw(fmt, b))
    xa, ta, fa, qa = _scale_raw(fmt, a_scale)
    xb, tb, fb, qb = _scale_raw(fmt, b_scale)
    s_neg, s_sig, s_exp, s_nan = xa ^ xb, ta * tb, fa + fb, qa | qb
    p_neg, p_sig, p_exp, p_nan, p_inf = products
    scaled = (p_neg ^ s_neg[..., None], p_sig * s_sig[..., None], p_exp + s_exp[..., None],
              p_nan | s_nan[..., None], p_inf)
    lsb = min(int(scaled[2].min()) if a.numel() else 0, FP32.emin - FP32.man_bits) - 1
    top = max(int(scaled[2].max()) if a.numel() else 0, 0) + 64 + 130
    acc_raw = unpack_float(FP32, acc)
    neg, sig, exp, nan, inf = sum_raw([acc_raw] + lanes(scaled), lsb, top)
    e_neg, e_sig = sum_raw(lanes(products), lsb, top)[:2]
    term_zero = (e_sig == 0) | (s_sig == 0)
    all_neg_zero = acc_raw[0] & (acc_raw[1] == 0) & term_zero & (e_neg ^ s_neg)
    neg = torch.where((sig == 0) & ~nan & ~inf, all_neg_zero, neg)
    return round_float(FP32, neg, sig, exp, nan, inf)
