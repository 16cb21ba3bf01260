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

from .numerics import (decode_float, decode_int, float_fields, lanes, multiply_raw, pow2, round_float, sum_raw,
                       unpack_float, value_from_raw)

__all__ = ["quantize", "dequantize", "block_dot", "tensor_scale"]


def _blocks(fmt: BlockFormat, x: torch.Tensor) -> torch.Tensor:
    n = x.shape[-1]
    nb = -(-n // fmt.block_size)
    padded = torch.zeros(*x.shape[:-1], nb * fmt.block_size, dtype=torch.float64, device=x.device)
    padded[..., :n] = x.double()
    return padded.reshape(*x.shape[:-1], nb, fmt.block_size)


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


def quantize(fmt: BlockFormat, x: torch.Tensor, ts: float | None = None):
    """``(elements, scales, tensor_scale)`` of ``x`` (float32/float64) along its last axis, as the golden ``quantize``."""
    n = x.shape[-1]
    blocks = _blocks(fmt, x)
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
    else:
        codes = round_float(fmt.element, neg, sig, exp, saturate=True)
    codes = torch.where(special[..., None], 0, codes)
    if isinstance(fmt.element, FloatFormat):
        sign = (torch.signbit(blocks) & fmt.element.has_negative_zero).long() << (fmt.element.width - 1)
        codes = torch.where((zero_scale & ~special)[..., None], sign, codes)
    else:
        codes = torch.where((zero_scale & ~special)[..., None], 0, codes)
    elements = codes.reshape(*x.shape[:-1], -1)[..., :n]
    return elements, scales, ts


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


def dequantize(fmt: BlockFormat, elements, scales, ts: float = 1.0) -> torch.Tensor:
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
    return values * scale.repeat_interleave(fmt.block_size, -1)[..., :elements.shape[-1]] * ts


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
