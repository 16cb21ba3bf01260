"""Exact values and the one shared rounding step of every golden model.

An :class:`Exact` array holds numbers as ``(-1)**neg * mag * 2**exp`` with an
integer ``mag`` (Python ints in an object array, so sums never lose a bit)
plus NaN and infinity flags.  Formats turn bit patterns into ``Exact`` values
(``unpack``) and back (``pack``); arithmetic happens here, exactly, and each
result is rounded once by :func:`round_at`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

__all__ = ["Rounding", "Exact", "bit_length", "code_dtype", "round_at", "multiply", "divide", "add",
           "align_window"]

#: Integer significands handed to a rounder are cut to this many bits, with the
#: cut-off bits folded into a sticky flag (enough for any target of <= 58 bits).
ROUNDER_BITS = 60


class Rounding(enum.Enum):
    """Rounding of a value that falls between two representable ones."""

    RNE = "rne"  #: to nearest, ties to the even significand
    RTZ = "rtz"  #: toward zero (truncate the magnitude)
    STOCHASTIC = "stochastic"  #: up with probability equal to the discarded fraction

    @classmethod
    def parse(cls, value: "Rounding | str") -> "Rounding":
        if isinstance(value, cls):
            return value
        try:
            return cls(value)
        except ValueError:
            valid = ", ".join(repr(r.value) for r in cls)
            raise ValueError(f"unknown rounding {value!r}; valid: {valid}") from None


def code_dtype(width: int):
    """Smallest unsigned numpy dtype that holds a ``width``-bit code (Python ints beyond 64 bits)."""
    if width > 64:
        return object
    return np.uint8 if width <= 8 else np.uint16 if width <= 16 else np.uint32 if width <= 32 else np.uint64


_bit_length_obj = np.frompyfunc(int.bit_length, 1, 1)


def bit_length(mag: np.ndarray) -> np.ndarray:
    """Vectorised ``int.bit_length`` for uint64 or object arrays of non-negative ints."""
    if mag.dtype == object:
        return np.asarray(_bit_length_obj(mag), dtype=np.int64)
    mag = mag.astype(np.uint64)
    length = np.zeros(mag.shape, dtype=np.int64)
    for step in (32, 16, 8, 4, 2, 1):
        big = (mag >> np.uint64(step)) != 0
        mag = np.where(big, mag >> np.uint64(step), mag)
        length += np.where(big, step, 0)
    return length + (mag != 0)


@dataclass
class Exact:
    """Array of exact values ``(-1)**neg * mag * 2**exp``, or NaN, or +-infinity."""

    neg: np.ndarray
    mag: np.ndarray  # object array of Python ints >= 0
    exp: np.ndarray  # int64
    nan: np.ndarray
    inf: np.ndarray

    def __post_init__(self):
        # numpy hands back scalars for 0-d results (a sum of one dot product): keep every field an array
        for field, kind in (("neg", bool), ("nan", bool), ("inf", bool)):
            setattr(self, field, np.asarray(getattr(self, field), dtype=kind))
        if not isinstance(self.mag, np.ndarray):
            self.mag = np.asarray(self.mag, dtype=object)
        if not isinstance(self.exp, np.ndarray):
            self.exp = np.asarray(self.exp, dtype=np.int64)

    @classmethod
    def from_float(cls, values) -> "Exact":
        """Exact values of a float64 array (every float64 is a dyadic rational)."""
        v = np.asarray(values, dtype=np.float64)
        frac, e = np.frexp(np.where(np.isfinite(v), np.abs(v), 0.0))
        mag = np.ldexp(frac, 53).astype(np.uint64)
        return cls(neg=np.signbit(v), mag=mag.astype(object), exp=e.astype(np.int64) - 53, nan=np.isnan(v),
                   inf=np.isinf(v))

    @property
    def zero(self) -> np.ndarray:
        return (self.mag == 0) & ~self.nan & ~self.inf

    def lanes(self) -> list["Exact"]:
        """The values along the last axis, one ``Exact`` per index (the terms of a sum)."""
        return [Exact(self.neg[..., i], self.mag[..., i], self.exp[..., i], self.nan[..., i], self.inf[..., i])
                for i in range(self.neg.shape[-1])]

    @classmethod
    def stack(cls, parts: list["Exact"]) -> "Exact":
        """Values stacked along a new last axis (the inverse of :meth:`lanes`)."""
        return cls(*(np.stack([getattr(p, f) for p in parts], axis=-1) for f in ("neg", "mag", "exp", "nan", "inf")))

    def to_float(self) -> np.ndarray:
        """float64 approximation (exact when the value fits in a double)."""
        mag = self.mag.astype(np.float64) if self.mag.dtype == object else self.mag
        out = np.ldexp(np.asarray(mag, dtype=np.float64), self.exp)
        out = np.where(self.inf, np.inf, out)
        out = np.where(self.nan, np.nan, out)
        return np.where(self.neg, -out, out)


def _compress(exact: Exact) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut ``mag`` to ROUNDER_BITS bits; returns (uint64 mag, exp, sticky)."""
    mag = exact.mag
    exp = exact.exp.astype(np.int64)
    if mag.dtype != object:
        return mag.astype(np.uint64), exp, np.zeros(mag.shape, dtype=bool)
    drop = np.maximum(bit_length(mag) - ROUNDER_BITS, 0)
    if not drop.any():
        return mag.astype(np.uint64), exp, np.zeros(mag.shape, dtype=bool)
    dropo = drop.astype(object)
    sticky = np.asarray((mag & ((1 << dropo) - 1)) != 0, dtype=bool)
    return np.asarray(mag >> dropo, dtype=object).astype(np.uint64), exp + drop, sticky


def round_at(exact: Exact, lsb_exp, rounding: Rounding, rng=None):
    """Round the magnitude of finite ``exact`` to a multiple of ``2**lsb_exp``.

    ``lsb_exp`` may depend on the value: pass a callable mapping the exponent of
    the leading bit (an int64 array) to the exponent of the kept LSB.
    Returns ``(sig, lsb_exp)``: the rounded magnitude is ``sig * 2**lsb_exp``
    (``sig`` uint64; it may have gained one bit from a carry).
    """
    mag, exp, sticky = _compress(exact)
    length = bit_length(mag)
    if callable(lsb_exp):
        lsb_exp = lsb_exp(exp + length - 1)
    lsb_exp = np.broadcast_to(np.asarray(lsb_exp, dtype=np.int64), mag.shape)
    shift = lsb_exp - exp
    # Left shifts are exact; right shifts keep the cut-off part for rounding.
    left = np.clip(-shift, 0, 63).astype(np.uint64)
    right = np.clip(shift, 0, 63).astype(np.uint64)
    kept = np.where(shift <= 0, mag << left, mag >> right)
    rem = np.where(shift > 0, mag & ((np.uint64(1) << right) - np.uint64(1)), np.uint64(0))
    if (sticky & (shift < 2)).any():
        raise AssertionError("sticky bits must lie two or more places below the rounding position")
    if rounding is Rounding.RTZ:
        up = np.zeros(mag.shape, dtype=bool)
    elif rounding is Rounding.RNE:
        half = np.where(shift > 0, np.uint64(1) << (np.maximum(right, np.uint64(1)) - np.uint64(1)), np.uint64(0))
        above = (rem > half) | ((rem == half) & sticky)
        tie = (rem == half) & ~sticky & (shift > 0)
        up = (shift > 0) & (above | (tie & ((kept & np.uint64(1)) == 1)))
    else:
        if rng is None:
            raise ValueError("stochastic rounding needs a seeded numpy Generator: rng=np.random.default_rng(seed)")
        fraction = np.ldexp(rem.astype(np.float64), -np.clip(shift, 0, None))
        up = rng.random(mag.shape) < fraction
    return kept + up.astype(np.uint64), lsb_exp


def multiply(x: Exact, y: Exact) -> Exact:
    """Exact product; NaN for NaN operands and for 0 * inf."""
    nan = x.nan | y.nan | (x.inf & y.zero) | (y.inf & x.zero)
    inf = (x.inf | y.inf) & ~nan
    finite = ~(x.nan | x.inf | y.nan | y.inf)
    mag = np.where(finite, x.mag.astype(object) * y.mag.astype(object), 0)
    return Exact(x.neg ^ y.neg, mag.astype(object), x.exp + y.exp, nan, inf)


def divide(x: Exact, y: Exact, bits: int = 64) -> Exact:
    """``x / y`` for finite ``x`` and finite nonzero ``y``, good for any rounding to <= ``bits - 2`` bits.

    The quotient keeps at least ``bits`` significant bits; a nonzero remainder
    is jammed as a sticky 1 into its LSB, so rounding it gives the correctly
    rounded quotient.  Zero where ``x`` is zero; the caller handles specials
    and ``y == 0``.
    """
    num = np.asarray(x.mag).astype(object)
    den = np.where(np.asarray(y.mag) == 0, 1, y.mag).astype(object)
    shift = np.maximum(bit_length(den) - bit_length(num) + bits + 1, 0)
    scaled = num << shift.astype(object)
    quotient, remainder = scaled // den, scaled % den
    mag = quotient | np.asarray(remainder != 0).astype(object)
    return Exact(x.neg ^ y.neg, mag.astype(object), x.exp - y.exp - shift, x.nan | y.nan, x.inf | y.inf)


def add(terms: list[Exact]) -> Exact:
    """Exact sum of several arrays of values.

    IEEE 754 rules for the specials: NaN if any term is NaN or infinities of
    both signs meet; an exact zero sum is -0 only when every term is -0.
    """
    nan = np.zeros(terms[0].neg.shape, dtype=bool)
    pos_inf = np.zeros_like(nan)
    neg_inf = np.zeros_like(nan)
    all_neg_zero = np.ones_like(nan)
    for t in terms:
        nan |= t.nan
        pos_inf |= t.inf & ~t.neg
        neg_inf |= t.inf & t.neg
        all_neg_zero &= t.zero & t.neg
    nan |= pos_inf & neg_inf
    inf = (pos_inf | neg_inf) & ~nan
    special = nan | inf
    base = np.minimum.reduce([t.exp for t in terms])
    total = np.zeros(nan.shape, dtype=object)
    for t in terms:
        live = ~(t.nan | t.inf)
        term = np.asarray(np.where(live, t.mag.astype(object), 0) << (t.exp - base).astype(object), dtype=object)
        total = np.asarray(total + np.where(t.neg, np.asarray(-term, dtype=object), term), dtype=object)
    total = np.where(special, 0, total)
    neg = np.where(total == 0, all_neg_zero, total < 0)
    neg = np.where(inf, neg_inf, neg)
    return Exact(neg, np.abs(total), base, nan, inf)


def align_window(values: Exact, top: np.ndarray, width: int, rounding: Rounding = Rounding.RTZ) -> Exact:
    """Round each value's magnitude to a multiple of ``2**(T - width)``, ``T`` the largest ``top`` of its row.

    The aligned adder window of block and tensor-core dot products: ``top``
    (same shape as ``values``) is each term's alignment position and the last
    axis holds the terms summed together.  Zeros, NaNs and infinities take no
    part in ``T`` and keep their flags; ``rounding`` is RTZ (truncation, what
    the hardware here does) or RNE.
    """
    live = ~(values.nan | values.inf | values.zero)
    row_top = np.max(np.where(live, top, np.iinfo(np.int64).min), axis=-1, keepdims=True)
    cut = np.where(live.any(axis=-1, keepdims=True), row_top - width, 0)
    lsb = np.maximum(cut, values.exp)  # terms already on a coarser grid stay as they are
    finite = Exact(values.neg, np.where(live, values.mag, 0).astype(object), values.exp,
                   np.zeros_like(live), np.zeros_like(live))
    sig, lsb = round_at(finite, lsb, rounding)
    return Exact(values.neg, sig.astype(object), lsb, values.nan, values.inf)
