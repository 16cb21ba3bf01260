"""Two's-complement (or unsigned) integer formats."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .arrays import as_codes, as_flag, as_values
from .exact import Exact, Rounding, code_dtype, round_at

__all__ = ["IntFormat"]


@dataclass(frozen=True)
class IntFormat:
    """A ``bits``-wide integer, two's complement when ``signed``.

    Numerics: ``encode`` rounds to an integer (``rne`` default, ``rtz`` or
    ``stochastic``); out-of-range results wrap around modulo ``2**bits`` unless
    ``saturate=True`` clamps them.  Infinities always saturate; NaN encodes as 0
    (implementation-defined, chosen here).  Arithmetic into an integer
    accumulator (int8 x int8 -> int32) is exact and wraps modulo ``2**bits``,
    as a hardware adder of that width does.
    """

    name: str
    bits: int
    signed: bool = True

    def __post_init__(self):
        if not isinstance(self.bits, int) or isinstance(self.bits, bool) or not 2 <= self.bits <= 1024:
            raise ValueError(f"bits must be an int between 2 and 1024, not {self.bits!r}")

    @property
    def width(self) -> int:
        return self.bits

    @property
    def min_value(self) -> int:
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def max_value(self) -> int:
        return (1 << (self.bits - (1 if self.signed else 0))) - 1

    @property
    def code_dtype(self):
        """The unsigned numpy dtype that holds a code."""
        return code_dtype(self.bits)

    @property
    def dtype(self):
        """The numpy or ml_dtypes integer dtype of this width and signedness, or None."""
        name = f"{'' if self.signed else 'u'}int{self.bits}"
        if self.bits in (8, 16, 32, 64):
            return np.dtype(name)
        if self.bits in (2, 4):
            import ml_dtypes

            return np.dtype(getattr(ml_dtypes, name))
        return None

    def describe(self) -> str:
        kind = "signed" if self.signed else "unsigned"
        return f"int    {self.bits}-bit {kind}, range [{self.min_value}, {self.max_value}]"

    def product_format(self) -> "IntFormat":
        """Integer format that holds every product of two values exactly."""
        return IntFormat(f"{self.name}_product", 2 * self.bits, self.signed)

    def values(self, bits) -> np.ndarray:
        """Integer value of each code (int64; Python ints beyond 32 bits)."""
        bits = as_codes(bits, self.bits, self.name, self.dtype)
        bits = bits.astype(object) if self.bits > 32 else bits
        if self.signed:
            bits = np.where(bits >= (1 << (self.bits - 1)), bits - (1 << self.bits), bits)
        return bits

    def unpack(self, bits) -> Exact:
        v = np.asarray(self.values(bits)).astype(object)
        shape = v.shape
        return Exact(np.asarray(v < 0, dtype=bool), np.abs(v).astype(object), np.zeros(shape, dtype=np.int64),
                     np.zeros(shape, dtype=bool), np.zeros(shape, dtype=bool))

    def decode(self, bits) -> np.ndarray:
        return np.asarray(self.values(bits)).astype(np.float64)

    def pack(self, value: Exact, rounding: Rounding = Rounding.RNE, saturate: bool = False,
             rng=None, nan_sign: bool = False) -> np.ndarray:
        """Round exact values to integers, then wrap (or saturate) into ``bits``."""
        if value.neg.ndim == 0:  # numpy turns 0-d object results into Python ints: work on one element
            one = Exact(*(np.reshape(getattr(value, f), (1,)) for f in ("neg", "mag", "exp", "nan", "inf")))
            return self.pack(one, rounding, saturate, rng, nan_sign).reshape(())
        rounding = Rounding.parse(rounding)
        finite = ~(value.nan | value.inf)
        whole = value.exp >= 0
        frac_part = Exact(value.neg, np.where(finite & ~whole, value.mag, 0).astype(object),
                          value.exp, value.nan, value.inf)
        sig, _ = round_at(frac_part, 0, rounding, rng)
        mag = np.where(whole & finite, value.mag.astype(object) << np.maximum(value.exp, 0).astype(object),
                       sig.astype(object))
        v = np.where(value.neg, -mag, mag).astype(object)
        if saturate:
            v = np.minimum(np.maximum(v, self.min_value), self.max_value)
        v = np.where(value.inf, np.where(value.neg, self.min_value, self.max_value), v)
        v = np.where(value.nan, 0, v)
        wrapped = np.asarray(v & ((1 << self.bits) - 1), dtype=object)
        return wrapped if self.bits > 64 else wrapped.astype(np.uint64).astype(self.code_dtype)

    def encode(self, values, rounding: Rounding | str = "rne", saturate: bool = False, rng=None) -> np.ndarray:
        """Codes of real values, rounded to integers, then wrapped (or with ``saturate`` clamped)."""
        values = as_values(values, self.name)
        return self.pack(Exact.from_float(values), Rounding.parse(rounding), as_flag(saturate, "saturate"), rng)
