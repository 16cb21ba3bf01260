"""Posits (2022 posit standard) and their quires."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .arrays import as_codes, as_values
from .exact import Exact, Rounding, bit_length, code_dtype
from .float import FloatFormat

__all__ = ["PositFormat", "QuireFormat"]


def _as_objects(bits, width, name):
    return as_codes(bits, width, name).astype(object)


@dataclass(frozen=True)
class PositFormat:
    """``posit<n, es>``: sign, regime, ``es`` exponent bits, fraction.

    Numerics (2022 posit standard): one zero (all zeros) and one NaR (the sign
    bit alone), negation is two's complement of the whole word, value
    ``(-1)**s * 2**(k * 2**es + e) * 1.f``.  Rounding is to nearest, ties to the
    even bit pattern, on the encoding: when exponent bits are cut off, the
    midpoint is taken in the bit pattern, not in value.  No underflow (a
    nonzero result below minpos gives +-minpos) and no overflow (above maxpos
    gives +-maxpos); NaN and infinite inputs give NaR.  Only ``rne`` is
    supported (``rtz`` and ``stochastic`` raise).
    """

    name: str
    n: int
    es: int

    def __post_init__(self):
        if not isinstance(self.n, int) or isinstance(self.n, bool) or not 3 <= self.n <= 32:
            raise ValueError(f"posit width n must be an int between 3 and 32, not {self.n!r}")
        if not isinstance(self.es, int) or isinstance(self.es, bool) or not 0 <= self.es <= 4:
            raise ValueError(f"posit exponent size es must be an int between 0 and 4, not {self.es!r}")
        if self.es > self.n - 3:
            raise ValueError(f"posit exponent size es={self.es} needs n >= es + 3, not n={self.n}")

    @property
    def width(self) -> int:
        return self.n

    @property
    def useed_log2(self) -> int:
        return 1 << self.es

    @property
    def max_scale(self) -> int:
        """log2 of maxpos (minpos is its reciprocal)."""
        return (self.n - 2) << self.es

    @property
    def max_fraction_bits(self) -> int:
        return self.n - 3 - self.es

    @property
    def precision(self) -> int:
        """Most significand bits any posit of this format has (hidden bit included)."""
        return self.max_fraction_bits + 1

    @property
    def nar_code(self) -> int:
        return 1 << (self.n - 1)

    @property
    def nan_code(self) -> int:
        return self.nar_code

    @property
    def max_finite(self) -> float:
        return float(2.0 ** self.max_scale)

    @property
    def min_positive(self) -> float:
        return float(2.0 ** -self.max_scale)

    def describe(self) -> str:
        return f"posit  n={self.n} es={self.es}, maxpos 2^{self.max_scale}, quire {self.quire().bits} bits"

    def product_format(self) -> FloatFormat:
        """IEEE-style format that holds every product of two posits exactly, as a normal number (NaR -> NaN).

        Every product is a multiple of minpos**2 = ``2**(-2 max_scale)`` below
        ``2**(2 max_scale + 1)`` with at most ``2 precision`` significant bits, so
        ``man_bits = 2 precision - 1``, ``emin = -2 max_scale`` (bias ``2 max_scale + 1``)
        and enough exponent bits that the largest leading exponent stays below
        the all-ones field.  A zero product has the XOR of the operands' signs
        (posit zero is unsigned: 0 times a negative posit is -0 here).  Posits
        wider than 16 bits have products too long for a double: ValueError.
        """
        man_bits = 2 * self.precision - 1
        bias = 2 * self.max_scale + 1
        top_field = 2 * self.max_scale + 1 + bias
        if man_bits > 52:
            raise ValueError(f"{self.name} products need {man_bits + 1} significand bits (more than a double's 53): "
                             "no exact product format; round them (round_mul) or accumulate them in the quire")
        return FloatFormat(f"{self.name}_product", (top_field + 1).bit_length(), man_bits, bias)

    def quire(self) -> "QuireFormat":
        return QuireFormat.for_posit(self)

    # -- bits <-> exact values ----------------------------------------------
    def unpack(self, bits) -> Exact:
        if self.n <= 16:  # table lookup: decode every code once
            table = _decode_table(self)
            idx = as_codes(bits, self.n, self.name)
            shape = idx.shape
            idx = idx.ravel()
            return Exact(*(getattr(table, f)[idx].reshape(shape) for f in ("neg", "mag", "exp", "nan", "inf")))
        return self._unpack_codes(bits)

    def _unpack_codes(self, bits) -> Exact:
        n, es = self.n, self.es
        word = _as_objects(bits, n, self.name)
        shape = word.shape
        flat = word.ravel()
        neg = np.zeros(flat.shape, dtype=bool)
        mag = np.zeros(flat.shape, dtype=object)
        exp = np.zeros(flat.shape, dtype=np.int64)
        nar = flat == self.nar_code
        for i, w in enumerate(flat):
            w = int(w)
            if w == 0 or w == self.nar_code:
                continue
            if w >> (n - 1):
                neg[i] = True
                w = (-w) & ((1 << n) - 1)
            body = w & ((1 << (n - 1)) - 1)  # n-1 bits after the sign
            first = (body >> (n - 2)) & 1
            run = 0
            while run < n - 1 and ((body >> (n - 2 - run)) & 1) == first:
                run += 1
            k = run - 1 if first else -run
            rest_len = max(n - 2 - run, 0)  # bits after the regime's terminating bit
            rest = body & ((1 << rest_len) - 1)
            exp_bits = min(es, rest_len)
            e = (rest >> (rest_len - exp_bits)) << (es - exp_bits)
            frac_len = rest_len - exp_bits
            frac = rest & ((1 << frac_len) - 1)
            mag[i] = (1 << frac_len) | frac
            exp[i] = (k << es) + e - frac_len
        return Exact(neg.reshape(shape), mag.reshape(shape), exp.reshape(shape), nar.reshape(shape),
                     np.zeros(shape, dtype=bool))

    def decode(self, bits) -> np.ndarray:
        return self.unpack(bits).to_float()

    def pack(self, value: Exact, rounding: Rounding = Rounding.RNE, saturate: bool = True,
             rng=None, nan_sign: bool = False) -> np.ndarray:
        """Round exact values to posits (see the class docstring); NaN and Inf give NaR."""
        if Rounding.parse(rounding) is not Rounding.RNE:
            raise ValueError(f"posits round to nearest even only, not {Rounding.parse(rounding).value!r}")
        n, es = self.n, self.es
        shape = np.shape(value.neg)
        mags = np.asarray(value.mag, dtype=object).ravel()
        exps = np.asarray(value.exp).ravel()
        negs = np.asarray(value.neg).ravel()
        special = (np.asarray(value.nan) | np.asarray(value.inf)).ravel()
        lengths = bit_length(mags.astype(object)) if mags.size else np.zeros(0, dtype=np.int64)
        out = np.zeros(mags.shape, dtype=np.int64)
        maxpos = (1 << (n - 1)) - 1
        for i in range(mags.size):
            if special[i]:
                out[i] = self.nar_code
                continue
            m = int(mags[i])
            if m == 0:
                continue
            length = int(lengths[i])
            scale = int(exps[i]) + length - 1
            frac = m - (1 << (length - 1))  # length - 1 fraction bits
            k, e = scale >> es, scale & ((1 << es) - 1)
            if k >= n - 2:
                pattern = maxpos
            elif k < -(n - 2):
                pattern = 1
            else:
                regime = ((1 << (k + 1)) - 1) << 1 if k >= 0 else 1  # k+1 ones then 0, or -k zeros then 1
                regime_len = k + 2 if k >= 0 else -k + 1
                body = (((regime << es) | e) << (length - 1)) | frac
                body_len = regime_len + es + length - 1
                drop = body_len - (n - 1)
                if drop <= 0:
                    pattern = body << -drop
                else:
                    pattern = body >> drop
                    guard = (body >> (drop - 1)) & 1
                    sticky = (body & ((1 << (drop - 1)) - 1)) != 0
                    pattern += guard & (sticky | (pattern & 1))
                pattern = min(max(pattern, 1), maxpos)
            out[i] = (-pattern) & ((1 << n) - 1) if negs[i] else pattern
        return out.reshape(shape).astype(self.code_dtype)

    def encode(self, values, rounding: Rounding | str = "rne", saturate: bool = True, rng=None) -> np.ndarray:
        """Codes of real values (posits never overflow: ``saturate`` must stay True)."""
        if saturate is not True:
            raise ValueError(f"{self.name} saturates by definition (no overflow); saturate must be True, "
                             f"not {saturate!r}")
        return self.pack(Exact.from_float(as_values(values, self.name)), rounding)

    @property
    def code_dtype(self):
        """The unsigned numpy dtype that holds a code."""
        return code_dtype(self.n)

    @property
    def dtype(self):
        """No numpy or ml_dtypes dtype has posit numerics."""
        return None


_TABLES: dict = {}


def _decode_table(fmt: PositFormat) -> Exact:
    if fmt not in _TABLES:
        _TABLES[fmt] = fmt._unpack_codes(np.arange(1 << fmt.n))
    return _TABLES[fmt]


@dataclass(frozen=True)
class QuireFormat:
    """Exact fixed-point accumulator of a posit format, two's complement.

    ``bits`` wide with its LSB worth ``minpos**2``, so every product of two
    posits is an integer number of LSBs and sums are exact.  Width: ``16 n`` for
    ``es = 2`` (2022 standard); otherwise ``1 + 4 (n-2) 2**es + (n-1)``: a sign,
    the span from minpos**2 to maxpos**2, and n-1 carry bits (this matches
    SoftPosit's 32-bit quire8 and 128-bit quire16).  The pattern 10...0 is NaR
    and absorbs everything; past the carry bits the sum wraps around, as the
    hardware adder does.
    """

    name: str
    posit: PositFormat
    bits: int

    @classmethod
    def for_posit(cls, posit: PositFormat) -> "QuireFormat":
        span = 4 * posit.max_scale
        bits = 16 * posit.n if posit.es == 2 else 1 + span + posit.n - 1
        return cls(f"quire_{posit.name}", posit, bits)

    @property
    def width(self) -> int:
        return self.bits

    @property
    def lsb_exp(self) -> int:
        return -2 * self.posit.max_scale

    @property
    def nar_code(self) -> int:
        return 1 << (self.bits - 1)

    @property
    def nan_code(self) -> int:
        return self.nar_code

    def describe(self) -> str:
        return f"quire  {self.bits} bits, LSB 2^{self.lsb_exp}, for {self.posit.name}"

    def unpack(self, bits) -> Exact:
        word = _as_objects(bits, self.bits, self.name)
        nar = word == self.nar_code
        signed = np.asarray(np.where(word >= self.nar_code, word - (1 << self.bits), word), dtype=object)
        shape = np.shape(word)
        return Exact(np.asarray(signed < 0, dtype=bool), np.asarray(np.abs(signed), dtype=object),
                     np.full(shape, self.lsb_exp, dtype=np.int64), np.asarray(nar, dtype=bool),
                     np.zeros(shape, dtype=bool))

    def decode(self, bits) -> np.ndarray:
        """float64 value of each quire code (rounded to nearest where the quire holds more than 53 bits)."""
        return self.unpack(bits).to_float()

    def encode(self, values) -> np.ndarray:
        """Quire codes of real values, rounded (RNE) to a multiple of the LSB; NaN and Inf give NaR.

        ValueError for a value outside the quire's range (it would wrap).
        """
        shaped = as_values(values, self.name)
        values = shaped.reshape(-1)
        exact = Exact.from_float(values)
        limit = 1 << (self.bits - 1)
        out = np.empty(values.shape, dtype=object)
        for i in range(values.size):
            if exact.nan[i] or exact.inf[i]:
                out[i] = self.nar_code
                continue
            mag, shift = int(exact.mag[i]), int(exact.exp[i]) - self.lsb_exp
            if shift >= 0:
                units = mag << shift
            else:
                units, rest = mag >> -shift, mag & ((1 << -shift) - 1)
                half = 1 << (-shift - 1)
                units += rest > half or (rest == half and units & 1)
            if units >= limit:
                raise ValueError(f"values for {self.name} must lie within +-2**{self.bits - 1 + self.lsb_exp} "
                                 f"(its range), got {float(values[i]):g}")
            out[i] = (-units if exact.neg[i] else units) & ((1 << self.bits) - 1)
        out = out.reshape(shaped.shape)
        return out if self.bits > 64 else out.astype(np.uint64)

    def pack(self, value: Exact, rounding: Rounding = Rounding.RNE, saturate: bool = False,
             rng=None, nan_sign: bool = False) -> np.ndarray:
        """Exact values (multiples of the LSB) into quire codes; wraps; NaN/Inf give NaR."""
        shift = (np.asarray(value.exp) - self.lsb_exp)
        if (shift < 0).any() and (np.asarray(value.mag)[shift < 0] != 0).any():
            raise ValueError("value below the quire's LSB: not a sum of posit products")
        mag = np.asarray(value.mag, dtype=object) << np.maximum(shift, 0).astype(object)
        v = np.where(value.neg, -mag, mag) & ((1 << self.bits) - 1)
        v = np.where(value.nan | value.inf, self.nar_code, v)
        return v.astype(object) if self.bits > 64 else v.astype(np.uint64)
