"""The tensor-core dot-product model in PyTorch: ``torch._scaled_mm`` emulated bit for bit, on CPU or CUDA.

Same numerics as :mod:`hw.formats.tensorcore` (read its docstring), vectorised
in float64: FP8 products are exact in float64, cutting a term to a multiple of
a power of two is exact, and the cut terms of one step (a window of
``align_bits`` bits plus carries) sum exactly as long as ``align_bits +
log2(step + 1) <= 52``, which the constructor checks.  Used to measure the
model against the GPU at scale (``gpu_ref/probes/check_tensorcore.py``).
"""

from __future__ import annotations

import torch

from hw.formats import FloatFormat
from hw.formats.exact import Rounding
from hw.formats.tensorcore import FusedDotSpec

from .numerics import decode_float, pow2, unpack_float

__all__ = ["dot", "split_dot", "scaled_mm"]


def _cut(x: torch.Tensor, quantum: torch.Tensor, rounding: Rounding) -> torch.Tensor:
    scaled = x.abs() / quantum
    whole = torch.floor(scaled) if rounding is Rounding.RTZ else torch.round(scaled)
    return torch.copysign(whole * quantum, x)


def dot(spec: FusedDotSpec, fmt_a: FloatFormat, fmt_b: FloatFormat, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """float32 results of ``a @ b.T`` for code matrices ``a`` (M, K) and ``b`` (N, K), unit scales."""
    if spec.align_bits + (spec.step + 1).bit_length() > 52:
        raise ValueError(f"{spec.name}: a window of {spec.align_bits} bits is too wide for the float64 emulation")
    va, vb = decode_float(fmt_a, a), decode_float(fmt_b, b)
    fa = unpack_float(fmt_a, a)[2] + fmt_a.man_bits
    fb = unpack_float(fmt_b, b)[2] + fmt_b.man_bits
    m, k = a.shape
    acc = torch.zeros(m, b.shape[0], dtype=torch.float64, device=a.device)
    main = torch.zeros_like(acc, dtype=torch.float32)
    low = torch.tensor(-100000, device=a.device)
    for start in range(0, k, spec.step):
        stop = min(start + spec.step, k)
        p = va[:, None, start:stop] * vb[None, :, start:stop]
        f = fa[:, None, start:stop] + fb[None, :, start:stop]
        f = torch.where((p == 0) | ~torch.isfinite(p), low, f).amax(-1)
        lead = torch.where((acc == 0) | ~torch.isfinite(acc), low, torch.frexp(acc)[1].long() - 1)
        quantum = pow2(torch.maximum(f, lead) - (spec.align_bits - 2))
        total = _cut(p, quantum[..., None], spec.term_rounding).sum(-1) + _cut(acc, quantum, spec.term_rounding)
        top = torch.frexp(torch.where(torch.isfinite(total) & (total != 0), total, 1.0))[1].long() - 1
        acc = _cut(total, pow2(top - spec.sum_bits), spec.sum_rounding) + 0.0  # + 0.0: an exact zero is +0
        if spec.promote_every is not None and (stop % spec.promote_every == 0 or stop == k):
            main, acc = main + acc.float(), torch.zeros_like(acc)
    out = main if spec.promote_every is not None else acc.float()
    nan = torch.tensor(spec.nan_code, dtype=torch.int64).to(torch.int32).view(torch.float32)
    return torch.where(torch.isnan(out), nan.to(out.device), out)


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
    acc = split_dot(spec, fmt_a, fmt_b, a, b, split_k)
    sa, sb = scale_a.float().to(acc.device), scale_b.float().to(acc.device)
    out = acc * (sa * sb) if sa.numel() == 1 and sb.numel() == 1 else (acc * sb.reshape(1, -1)) * sa.reshape(-1, 1)
    if out_dtype == torch.float32:
        nan = torch.tensor(spec.nan_code, dtype=torch.int64).to(torch.int32).view(torch.float32).to(out.device)
        return torch.where(torch.isnan(out), nan, out)
    return out.to(out_dtype)
