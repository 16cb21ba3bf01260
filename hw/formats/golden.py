"""Golden arithmetic on bit patterns: exact, then one rounding.

Every function takes codes (integer arrays) and format objects and returns
codes.  Products are exact; a MAC or dot product sums exactly and rounds once,
round-to-nearest-even, into the accumulator format (float accumulators follow
the format's overflow/NaN rules, integer accumulators and posit quires wrap
around).  For posits, ``mul`` rounds once into the posit format and ``mac``
accumulates exactly into the quire; ``convert(quire, posit, q)`` reads it out.
"""

from __future__ import annotations

import numpy as np

from . import Format
from .exact import Rounding, multiply
from .exact import add as add_exact


def mul(fmt: Format, a, b) -> np.ndarray:
    """Exact product of ``a`` and ``b`` as codes of ``fmt.product_format()``."""
    return fmt.product_format().pack(multiply(fmt.unpack(a), fmt.unpack(b)))


def add(fmt: Format, a, b) -> np.ndarray:
    """``round(a + b)`` in ``fmt`` (one rounding)."""
    return fmt.pack(add_exact([fmt.unpack(a), fmt.unpack(b)]), Rounding.RNE)


def convert(src: Format, dst: Format, bits) -> np.ndarray:
    """Codes of ``src`` rounded (RNE) into ``dst``; e.g. posit <-> fp32, or a quire read-out."""
    return dst.pack(src.unpack(bits), Rounding.RNE)


def mac(fmt: Format, a, b, acc, acc_fmt: Format) -> np.ndarray:
    """Fused multiply-add ``round(acc + a*b)`` into ``acc_fmt``."""
    product = multiply(fmt.unpack(a), fmt.unpack(b))
    return acc_fmt.pack(add_exact([acc_fmt.unpack(acc), product]), Rounding.RNE)


def dot(fmt: Format, a, b, acc, acc_fmt: Format) -> np.ndarray:
    """``round(acc + sum_i a[..., i] * b[..., i])`` with a single rounding into ``acc_fmt``."""
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape or a.ndim < 1:
        raise ValueError(f"a and b must have the same shape (..., lanes), not {a.shape} and {b.shape}")
    terms = [acc_fmt.unpack(acc)]
    terms += [multiply(fmt.unpack(a[..., i]), fmt.unpack(b[..., i])) for i in range(a.shape[-1])]
    return acc_fmt.pack(add_exact(terms), Rounding.RNE)
