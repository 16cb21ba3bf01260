"""Golden model of a GPU tensor core's fused dot-product steps, fitted to an H100's FP8 products.

A :class:`FusedDotSpec` is the handful of parameters that describe how a
matrix unit sums products into a float accumulator; :data:`H100_FP8` and
:data:`H100_FP8_PROMOTED` reproduce ``torch._scaled_mm`` on an H100 bit for
bit (``use_fast_accum`` True and False; measured on > 10^7 dot products, see
``results/h100/``).  One **step** takes ``step`` products and the running
accumulator ``c`` (fp32):

1. every product ``a_i * b_i`` is exact; its *top* is the sum of the operands'
   exponent fields plus 2 (the two integer bits of a significand product),
   subnormal operands counting as ``emin``; the accumulator's top is the
   exponent of its leading bit plus 2;
2. ``T`` = the largest top among finite nonzero terms (zeros take no part);
   every term, ``c`` included, is cut to a multiple of ``2**(T - align_bits)``
   with ``term_rounding`` (RTZ on the H100: the magnitude is truncated);
3. the cut terms are summed exactly and the sum is rounded with
   ``sum_rounding`` (RTZ) to ``sum_bits`` fraction bits (e8m13 on the H100),
   which fp32 holds exactly.

A dot product over ``K`` runs steps over consecutive slices of ``step``
elements from ``c = +0``.  With ``promote_every = P`` the step accumulator is
added into a separate fp32 accumulator (IEEE add, round to nearest even)
every ``P`` elements and restarted from +0, as cuBLAS does for FP8 without
fast accumulation.  Scales apply after the sum (:func:`scaled_mm`).

**Split-K** (measured 2026-11-24, ``results/h100/long_k_2026-11-24``): with
fast accumulation, cuBLAS splits long reductions of small outputs into
contiguous parts of K, runs each part as above from +0 and adds the parts'
fp32 results (IEEE, round to nearest even).  ``scaled_mm(..., split_k=parts)``
models it; :func:`split_parts` gives the part boundaries measured
(``ceil(K / parts / grain) * grain`` elements each, the last part shorter).
Without a split the model matched every element for K <= 5120 at every
output size tried (16 to 4096 square) and for every K up to 65,536 when M = N
>= 512, and always with rowwise scales; smaller outputs (also 64 x 1024,
16 x 4096, 256 x 128) with K >= 5632 are split (2-25 parts; the number cuBLAS
picks depends on the shape and is not modelled: it is an input).  The same
split reproduces E4M3 x E5M2 products and bf16 outputs with tensorwise scales.

Specials (measured): NaN operands, Inf - Inf and 0 * Inf give ``nan_code``
(0x7FFFFFFF on the H100, not IEEE's 0x7FC00000); infinities pass through
with their sign; an exact zero result is +0, even from -0 products.  A step
sum beyond the step format's range gives its largest finite value (IEEE's
rule for RTZ); an H100 never reaches it with FP8 operands and unit scales.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .exact import Exact, Rounding, add, align_window, bit_length, multiply
from .float import FP32, FloatFormat, Special

__all__ = ["FusedDotSpec", "H100_FP8", "H100_FP8_PROMOTED", "SPECS", "step", "dot", "scaled_mm", "split_parts"]


@dataclass(frozen=True)
class FusedDotSpec:
    """How a matrix unit sums products (see the module docstring).

    ``step``: products fused per step; ``align_bits``: width of the aligned
    window below the largest top (15 = 13 bits below the largest exponent
    plus the 2 integer bits of a product); ``sum_bits``: fraction bits of a
    step result; ``term_rounding``/``sum_rounding``: RTZ or RNE;
    ``promote_every``: elements of K between additions into a full fp32
    accumulator (None: never); ``nan_code``: the fp32 NaN the unit returns.
    """

    name: str
    step: int = 32
    align_bits: int = 15
    sum_bits: int = 13
    term_rounding: Rounding = Rounding.RTZ
    sum_rounding: Rounding = Rounding.RTZ
    promote_every: int | None = None
    nan_code: int = 0x7FFFFFFF

    def __post_init__(self):
        for name, low, high in (("step", 1, 1024), ("align_bits", 2, 160), ("sum_bits", 1, 23)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise ValueError(f"{name} must be an int in {low}..{high}, not {value!r}")
        for name in ("term_rounding", "sum_rounding"):
            if getattr(self, name) not in (Rounding.RTZ, Rounding.RNE):
                raise ValueError(f"{name} must be Rounding.RTZ or Rounding.RNE, not {getattr(self, name)!r}")
        if self.promote_every is not None and (self.promote_every < self.step or self.promote_every % self.step):
            raise ValueError(f"promote_every must be a multiple of step ({self.step}), not {self.promote_every!r}")

    @property
    def sum_format(self) -> FloatFormat:
        """The format a step result is rounded into (fp32's exponent, ``sum_bits`` fraction bits)."""
        return FloatFormat(f"e8m{self.sum_bits}", 8, self.sum_bits, 127, Special.IEEE)


#: ``torch._scaled_mm(..., use_fast_accum=True)`` on an H100 (FP8 E4M3/E5M2 operands, fp32 sum).
H100_FP8 = FusedDotSpec("h100_fp8")
#: ``use_fast_accum=False``: the same steps, promoted into an fp32 accumulator every 128 elements.
H100_FP8_PROMOTED = replace(H100_FP8, name="h100_fp8_promoted", promote_every=128)
SPECS = {s.name: s for s in (H100_FP8, H100_FP8_PROMOTED)}


def _operands(a, b):
    """``a`` and ``b`` broadcast against each other; ValueError unless they have a common last axis."""
    a, b = np.asarray(a), np.asarray(b)
    try:
        a, b = np.broadcast_arrays(a, b)
    except ValueError:
        a = None
    if a is None or a.ndim < 1:
        raise ValueError("a and b must broadcast to one shape (..., n)")
    return a, b


def step(spec: FusedDotSpec, fmt_a: FloatFormat, fmt_b: FloatFormat, a, b, acc) -> np.ndarray:
    """fp32 codes of one step: ``acc`` (fp32 codes, ``(...)``) plus the products of ``a`` and ``b`` (``(..., n)``, n <= step)."""
    a, b = _operands(a, b)
    if a.shape[-1] > spec.step:
        raise ValueError(f"a step takes at most {spec.step} products, not {a.shape[-1]}")
    products = multiply(fmt_a.unpack(a), fmt_b.unpack(b))
    product_top = products.exp + fmt_a.precision + fmt_b.precision
    c = FP32.unpack(np.broadcast_to(np.asarray(acc), a.shape[:-1]))
    c_top = c.exp + bit_length(c.mag) + 1
    terms = Exact.stack(products.lanes() + [c])
    tops = np.concatenate([product_top, c_top[..., None]], axis=-1)
    cut = align_window(terms, tops, spec.align_bits, spec.term_rounding)
    total = add(cut.lanes())
    total.neg = total.neg & ~total.zero  # an exact zero is +0
    code = spec.sum_format.pack(total, spec.sum_rounding)
    out = FP32.pack(spec.sum_format.unpack(code))
    return np.where(total.nan, spec.nan_code, out).astype(np.uint32)


def dot(spec: FusedDotSpec, fmt_a: FloatFormat, fmt_b: FloatFormat, a, b) -> np.ndarray:
    """fp32 codes of ``sum_k a[..., k] * b[..., k]`` accumulated the way the unit does (unit scales)."""
    a, b = _operands(a, b)
    zero = np.zeros(a.shape[:-1], dtype=np.uint32)
    acc, main = zero, zero
    k = a.shape[-1]
    for start in range(0, k, spec.step):
        stop = min(start + spec.step, k)
        acc = step(spec, fmt_a, fmt_b, a[..., start:stop], b[..., start:stop], acc)
        if spec.promote_every is not None and (stop % spec.promote_every == 0 or stop == k):
            main, acc = FP32.pack(add([FP32.unpack(main), FP32.unpack(acc)])), zero
    out = main if spec.promote_every is not None else acc
    return np.where(FP32.is_nan(out), spec.nan_code, out).astype(np.uint32)


def _fp32_mul(x, y) -> np.ndarray:
    """fp32 codes of ``x * y`` (fp32 codes, broadcast), rounded to nearest even."""
    x, y = np.broadcast_arrays(np.asarray(x, dtype=np.uint32), np.asarray(y, dtype=np.uint32))
    return FP32.pack(multiply(FP32.unpack(x), FP32.unpack(y)), Rounding.RNE)


def split_parts(k: int, parts: int, grain: int) -> list[tuple[int, int]]:
    """``parts`` contiguous ``(start, stop)`` slices of ``range(k)``, ``ceil(k / parts / grain) * grain`` long
    (the last one shorter): how cuBLAS splits K (e.g. K = 8192 into 3 parts of grain 256: 2816, 2816, 2560)."""
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in (k, parts, grain)):
        raise ValueError(f"k, parts and grain must be positive integers, not {k!r}, {parts!r}, {grain!r}")
    size = -(-k // parts // grain) * grain
    bounds = [(start, min(start + size, k)) for start in range(0, k, size)]
    if len(bounds) != parts:
        raise ValueError(f"K = {k} does not split into {parts} parts of a multiple of {grain} "
                         f"(parts of {size} give {len(bounds)})")
    return bounds


def _split_dot(spec, fmt_a, fmt_b, a, b, split_k) -> np.ndarray:
    """The parts' results from +0, added in fp32 in order (round to nearest even)."""
    if split_k is None:
        return dot(spec, fmt_a, fmt_b, a, b)
    total = None
    for start, stop in split_k:
        part = dot(spec, fmt_a, fmt_b, a[..., start:stop], b[..., start:stop])
        total = part if total is None else FP32.pack(add([FP32.unpack(total), FP32.unpack(part)]), Rounding.RNE)
    return np.where(FP32.is_nan(total), spec.nan_code, total).astype(np.uint32)


def scaled_mm(spec: FusedDotSpec, fmt_a: FloatFormat, fmt_b: FloatFormat, a, b, scale_a, scale_b,
              out_fmt: FloatFormat = FP32, split_k: list[tuple[int, int]] | None = None) -> np.ndarray:
    """Codes of ``out_fmt`` for ``torch._scaled_mm(a, b.T, scale_a, scale_b)``: ``a`` (M, K), ``b`` (N, K) codes.

    Scales are fp32 codes: scalars (tensorwise: ``D = acc * (sa * sb)``, each
    product rounded to fp32) or vectors of M and N (rowwise: ``D = (acc *
    sb[n]) * sa[m]``, measured in that order).  A bf16 output is the fp32
    result rounded to nearest even.  ``split_k`` (``(start, stop)`` slices of K
    covering it in order, e.g. from :func:`split_parts`) models cuBLAS's split-K.
    """
    a, b = np.asarray(a), np.asarray(b)
    acc = _split_dot(spec, fmt_a, fmt_b, a[:, None, :], b[None, :, :], split_k)
    sa, sb = np.asarray(scale_a, dtype=np.uint32), np.asarray(scale_b, dtype=np.uint32)
    if sa.ndim == 0 and sb.ndim == 0:
        out = _fp32_mul(acc, _fp32_mul(sa, sb))
    elif sa.shape == (a.shape[0],) and sb.shape == (b.shape[0],):
        out = _fp32_mul(_fp32_mul(acc, sb[None, :]), sa[:, None])
    else:
        raise ValueError(f"scales must be both scalars or of shapes ({a.shape[0]},) and ({b.shape[0]},), "
                         f"not {sa.shape} and {sb.shape}")
    if out_fmt == FP32:
        return np.where(FP32.is_nan(out), spec.nan_code, out).astype(np.uint32)
    return out_fmt.pack(FP32.unpack(out), Rounding.RNE)
