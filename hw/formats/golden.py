"""Golden arithmetic on bit patterns: exact, then one rounding.

Every function takes codes (integers in range, see :mod:`hw.formats.arrays`)
and formats (objects or registered names) and returns codes; floats where codes
belong raise TypeError, out-of-range codes and mismatched accumulators ValueError.  ``mul`` is the *exact* product for every family, as a code of
``fmt.product_format()``; ``round_mul`` rounds the product once (RNE) into a
float or posit format.  A MAC or dot product sums exactly and rounds once,
round-to-nearest-even, into the accumulator format (float accumulators follow
the format's overflow/NaN rules, integer accumulators and posit quires wrap
around); ``convert(quire, posit, q)`` reads a quire out.  LNS formats compute
their exact products with ``LNSFormat.mul`` (which ``mul`` calls).
"""

from __future__ import annotations

import numpy as np

from . import Format, FloatFormat, LNSFormat, PositFormat, check_accumulator, resolve
from .exact import Rounding, multiply
from .exact import add as add_exact

__all__ = ["mul", "round_mul", "add", "convert", "mac", "dot"]


def mul(fmt: Format, a, b) -> np.ndarray:
    """Exact product of ``a`` and ``b`` as codes of ``fmt.product_format()`` (nothing is rounded)."""
    fmt = resolve(fmt)
    if isinstance(fmt, LNSFormat):
        return fmt.mul(a, b)
    return fmt.product_format().pack(multiply(fmt.unpack(a), fmt.unpack(b)))


def round_mul(fmt: Format, a, b, out: Format | None = None) -> np.ndarray:
    """``round(a * b)`` (RNE, once) into ``out``, a float or posit format (default: ``fmt``; IEEE's ``f16_mul``)."""
    fmt = resolve(fmt)
    out = fmt if out is None else resolve(out, "out")
    if not isinstance(out, (FloatFormat, PositFormat)):
        raise ValueError(f"round_mul rounds into a float or posit format, not {out.name}")
    return out.pack(multiply(fmt.unpack(a), fmt.unpack(b)), Rounding.RNE)


def add(fmt: Format, a, b) -> np.ndarray:
    """``round(a + b)`` in ``fmt`` (one rounding)."""
    fmt = resolve(fmt)
    return fmt.pack(add_exact([fmt.unpack(a), fmt.unpack(b)]), Rounding.RNE)


def convert(src: Format, dst: Format, bits) -> np.ndarray:
    """Codes of ``src`` rounded (RNE) into ``dst``; e.g. posit <-> fp32, or a quire read-out."""
    src, dst = resolve(src, "src"), resolve(dst, "dst")
    return dst.pack(src.unpack(bits), Rounding.RNE)


def mac(fmt: Format, a, b, acc, acc_fmt: Format) -> np.ndarray:
    """Fused multiply-add ``round(acc + a*b)`` into ``acc_fmt``."""
    fmt = resolve(fmt)
    acc_fmt = check_accumulator(fmt, acc_fmt)
    product = multiply(fmt.unpack(a), fmt.unpack(b))
    return acc_fmt.pack(add_exact([acc_fmt.unpack(acc), product]), Rounding.RNE)


def dot(fmt: Format, a, b, acc, acc_fmt: Format) -> np.ndarray:
    """``round(acc + sum_i a[..., i] * b[..., i])`` with a single rounding into ``acc_fmt``."""
    fmt = resolve(fmt)
    acc_fmt = check_accumulator(fmt, acc_fmt)
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape or a.ndim < 1:
        raise ValueError(f"a and b must have the same shape (..., lanes), not {a.shape} and {b.shape}")
    terms = [acc_fmt.unpack(acc)]
    terms += [multiply(fmt.unpack(a[..., i]), fmt.unpack(b[..., i])) for i in range(a.shape[-1])]
    return acc_fmt.pack(add_exact(terms), Rounding.RNE)
