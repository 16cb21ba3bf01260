"""The tensor-core models in PyTorch: every :data:`~hw.formats.tensorcore.SPECS` entry (and so
``torch._scaled_mm`` and the published GPUs' matrix instructions) emulated bit for bit, on CPU or CUDA.

Same numerics as :mod:`hw.formats.tensorcore` (read its docstring), vectorised
in float64: products of fp16, bf16, tf32 and FP8 values are exact in float64, cutting a term to a multiple of
a power of two is exact, and the cut terms of one step (a window of
``align_bits`` bits plus carries) sum exactly as long as ``align_bits +
log2(step + 1) <= 52``, which :func:`mma` checks; an ``ADDED`` accumulator is
added by one IEEE add in the output dtype.  Used to measure the
model against the GPU at scale (``gpu_ref/probes/check_tensorcore.py``).
"""

from __future__ import annotations

import torch

from hw.formats import FP16, FP32, FloatFormat
from hw.formats.exact import Rounding
from hw.formats.tensorcore import CTerm, FusedDotSpec

from .numerics import decode_float, pow2, round_float, unpack_float

__all__ = ["mma", "dot", "split_dot", "scaled_mm", "compare_with_golden"]

_DTYPES = {FP32: torch.float32, FP16: torch.float16}


def _cut(x: torch.Tensor, quantum: torch.Tensor, rounding: Rounding) -> torch.Tensor:
    scaled = x.abs() / quantum
    whole = torch.floor(scaled) if rounding is Rounding.RTZ else torch.round(scaled)
    return torch.copysign(whole * quantum, x)


def _round_into(fmt: FloatFormat, x: torch.Tensor, rounding: Rounding) -> torch.Tensor:
    """float64 values of exact float64 ``x`` rounded into ``fmt`` (its range, subnormals and overflow rule)."""
    finite = torch.isfinite(x) & (x != 0)
    mant, exp = torch.frexp(torch.where(finite, x, 1.0))
    sig = torch.where(finite, (mant.abs() * 2.0 ** 53).long(), 0)
    codes = round_float(fmt, x < 0, sig, exp.long() - 53, torch.isnan(x), torch.isinf(x),
                        rounding="rtz" if rounding is Rounding.RTZ else "rne")
    return decode_float(fmt, codes)


def _step(spec: FusedDotSpec, p: torch.Tensor, f: torch.Tensor, acc: torch.Tensor) -> torch.Tensor:
    """One step on float64 values: products ``p`` (M, N, n) with leading exponents ``f``, accumulator ``acc``."""
    low = torch.tensor(-100000, device=p.device)
    f = torch.where((p == 0) | ~torch.isfinite(p), low, f).amax(-1)
    aligned = spec.c_term is CTerm.ALIGNED
    lead = torch.where((acc == 0) | ~torch.isfinite(acc), low, torch.frexp(acc)[1].long() - 1) if aligned else low
    quantum = pow2(torch.maximum(f, lead) - (spec.align_bits - 2))
    total = _cut(p, quantum[..., None], spec.term_rounding).sum(-1)
    if aligned:
        total = total + _cut(acc, quantum, spec.term_rounding)
    total = _round_into(spec.sum_format, total + 0.0, spec.sum_rounding)  # + 0.0: an exact zero is +0
    if aligned:
        return total
    dtype = _DTYPES[spec.output]
    return (total.to(dtype) + acc.to(dtype)).double() + 0.0  # one IEEE add in the output format, RNE


def _nan_coded(spec: FusedDotSpec, out: torch.Tensor) -> torch.Tensor:
    bits = torch.tensor(spec.nan_code, dtype=torch.int64)
    nan = (bits.to(torch.int32) if spec.output == FP32 else bits.to(torch.int16)).view(out.dtype)
    return torch.where(torch.isnan(out), nan.to(out.device), out)


def mma(spec: FusedDotSpec, fmt_a: FloatFormat, fmt_b: FloatFormat, a: torch.Tensor, b: torch.Tensor,
        c: torch.Tensor | None = None) -> torch.Tensor:
    """``a @ b.T + c`` as the unit computes it, in ``spec.output``'s dtype (float32 or float16): ``a`` (M, K)
    and ``b`` (N, K) codes, ``c`` (M, N) values of the output dtype (None: +0); steps over K in order, no
    promotion (one matrix instruction, or a K loop that keeps the accumulator in the unit)."""
    if spec.align_bits + (spec.step + 1).bit_length() > 52:
        raise ValueError(f"{spec.name}: a window of {spec.align_bits} bits is too wide for the float64 emulation")
    va, vb = decode_float(fmt_a, a), decode_float(fmt_b, b)
    fa = unpack_float(fmt_a, a)[2] + fmt_a.man_bits
    fb = unpack_float(fmt_b, b)[2] + fmt_b.man_bits
    acc = torch.zeros(a.shape[0], b.shape[0], dtype=torch.float64, device=a.device)
    if c is not None:
        acc = acc + c.to(a.device).double()
    for start in range(0, a.shape[1], spec.step):
        stop = min(start + spec.step, a.shape[1])
        p = va[:, None, start:stop] * vb[None, :, start:stop]
        acc = _step(spec, p, fa[:, None, start:stop] + fb[None, :, start:stop], acc)
    return _nan_coded(spec, acc.to(_DTYPES[spec.output]))


def dot(spec: FusedDotSpec, fmt_a: FloatFormat, fmt_b: FloatFormat, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Results of ``a @ b.T`` for code matrices ``a`` (M, K) and ``b`` (N, K), unit scales, from +0, promoted
    into fp32 every ``spec.promote_every`` elements where the spec says so."""
    if spec.promote_every is None:
        return mma(spec, fmt_a, fmt_b, a, b)
    main = torch.zeros(a.shape[0], b.shape[0], dtype=torch.float32, device=a.device)
    for start in range(0, a.shape[1], spec.promote_every):
        stop = start + spec.promote_every
        main = main + mma(spec, fmt_a, fmt_b, a[:, start:stop], b[:, start:stop])
    return _nan_coded(spec, main)


def split_dot(spec: FusedDotSpec, fmt_a, fmt_b, a, b, split_k=None) -> torch.Tensor:
    """:func:`dot` over the ``(start, stop)`` parts of K in ``split_k``, each from +0, added in fp32 in order
    (cuBLAS's split-K; see :mod:`hw.formats.tensorcore`)."""
    if split_k is None:
        return dot(spec, fmt_a, fmt_b, a, b)
    total = None
    for start, stop in split_k:
        part = dot(spec, fmt_a, fmt_b, a[:, start:stop], b[:, start:stop])
        total = part if total is None else total + part
    return total


def scaled_mm(spec: FusedDotSpec, fmt_a, fmt_b, a, b, scale_a: torch.Tensor, scale_b: torch.Tensor,
              out_dtype=torch.float32, split_k=None) -> torch.Tensor:
    """``torch._scaled_mm(a, b.T, scale_a, scale_b)``: tensorwise ``acc * (sa * sb)``, rowwise ``(acc * sb) * sa``;
    ``split_k`` as in :func:`split_dot`."""
    if spec.output != FP32:
        raise ValueError(f"scaled_mm models fp32 accumulation; {spec.name} accumulates in {spec.output.name}")
    acc = split_dot(spec, fmt_a, fmt_b, a, b, split_k)
    sa, sb = scale_a.float().to(acc.device), scale_b.float().to(acc.device)
    out = acc * (sa * sb) if sa.numel() == 1 and sb.numel() == 1 else (acc * sb.reshape(1, -1)) * sa.reshape(-1, 1)
    if out_dtype == torch.float32:
        nan = torch.tensor(spec.nan_code, dtype=torch.int64).to(torch.int32).view(torch.float32).to(out.device)
        return torch.where(torch.isnan(out), nan, out)
    return out.to(out_dtype)


def compare_with_golden(spec: FusedDotSpec, fmt: FloatFormat, rng, rows: int = 6, device="cpu") -> tuple[int, int]:
    """(results equal to the golden model's, results): :func:`mma` and :func:`dot` of random ``rows`` x
    3-step operands (A's exponents spread over 2**-6 .. 2**6, B Gaussian) with a random accumulator."""
    import numpy as np

    from hw.formats import tensorcore as golden

    k = 3 * spec.step
    a = fmt.encode(rng.normal(size=(rows, k)) * np.exp2(rng.integers(-6, 7, (rows, k))))
    b = fmt.encode(rng.normal(size=(rows, k)))
    c = spec.output.encode(rng.normal(size=(rows, rows)) * 4)
    ta, tb = (torch.from_numpy(x.astype(np.int64)).to(device) for x in (a, b))
    width = spec.output.width
    tc = torch.from_numpy(spec.output.decode(c)).to(_DTYPES[spec.output]).to(device)
    matched = total = 0
    for got, want in ((mma(spec, fmt, fmt, ta, tb, tc), golden.mma(spec, fmt, fmt, a[:, None, :], b[None, :, :], c)),
                      (dot(spec, fmt, fmt, ta, tb), golden.dot(spec, fmt, fmt, a[:, None, :], b[None, :, :]))):
        bits = got.cpu().view(torch.int32 if width == 32 else torch.int16).long().numpy() & ((1 << width) - 1)
        matched += int((bits == want.astype(np.int64)).sum())
        total += want.size
    return matched, total
