"""The logarithmic number system of LNS-Madam: sign plus a fixed-point base-2 logarithm.

``LNSFormat(name, int_bits, frac_bits)``: a code is ``s | x`` with ``x`` a
two's-complement fixed-point log of ``int_bits + frac_bits`` bits, so the
value is ``(-1)**s * 2**(x / gamma)`` with ``gamma = 2**frac_bits`` (the base
is ``2**(1/gamma)``).  ``lns8`` is the paper's 8-bit setting: 4 integer and 3
fraction bits, gamma = 8, magnitudes 2**-7.875 .. 2**7.875.

Numerics (golden model, RTL and GPU reference follow these):

* **Zero and NaN**: the most negative log pattern ``10...0`` is zero with sign 0
  and NaN with sign 1 (as a posit's NaR, one NaN).  Every other code is finite.
* **Encode** rounds ``log2|v|`` to a multiple of ``1/gamma``: ``rne`` to nearest,
  by comparing the significand with the float64 constants ``2**((j+1/2)/gamma)``
  (``midpoints``; at or above one rounds up), so every layer rounds alike; or
  ``stochastic`` (up with probability equal to the fractional part of the
  float64 ``log2``).
  Above the largest code it saturates; a log that rounds below the smallest
  code flushes to zero; 0 gives +0; NaN and +-Inf give NaN.
* **Product**: logs add, signs XOR; exact in ``product_format()`` (one more
  integer bit), so nothing rounds.  Zero times anything finite is zero; NaN
  propagates.
* **Conversion to linear** (the paper's hardware): a log ``L = q + r/gamma``
  (``q = floor(L)``) becomes ``T[r] * 2**q`` with ``T[r] = 2**(r/gamma)`` rounded
  to nearest with ``table_bits`` fraction bits, on a fixed-point grid with LSB
  ``2**(qmin - table_bits)`` (``qmin`` the product's smallest integer log), so
  every converted term is exact on that grid.
* **MAC** (``mac``): ``acc + sum_i sign_i * T[r_i] * 2**q_i`` in an
  ``acc_bits``-wide two's-complement accumulator on that grid, wrapping around.
  Grouping the products by remainder first (``sum_r T[r] * sum_{r_i = r} +-2**q_i``,
  the paper's trick for one table lookup per group) gives the same exact sum.
  A NaN operand leaves the accumulator unchanged (documented choice: the
  fixed-point accumulator has no NaN).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .arrays import as_codes, as_values
from .exact import Rounding, code_dtype
from .integer import IntFormat

__all__ = ["LNSFormat"]


@dataclass(frozen=True)
class LNSFormat:
    """Sign plus an ``int_bits + frac_bits`` two's-complement log (see the module docstring)."""

    name: str
    int_bits: int
    frac_bits: int
    table_bits: int = 8
    #: accumulator width; None: every converted term plus 8 carry bits (256 products without overflow)
    acc_bits: int | None = None

    def __post_init__(self):
        for field, lo, hi in (("int_bits", 1, 8), ("frac_bits", 0, 8), ("table_bits", 1, 24)):
            self._check(field, lo, hi)
        if self.log_bits < 2:
            raise ValueError("an LNS format needs at least 2 log bits")
        if self.acc_bits is None:
            object.__setattr__(self, "acc_bits", self.linear_width + 8)
        self._check("acc_bits", 8, 1024)

    def _check(self, field: str, lo: int, hi: int):
        v = getattr(self, field)
        if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
            raise ValueError(f"{field} must be an int between {lo} and {hi}, not {v!r}")

    # -- parameters -----------------------------------------------------------
    @property
    def log_bits(self) -> int:
        return self.int_bits + self.frac_bits

    @property
    def width(self) -> int:
        return 1 + self.log_bits

    @property
    def gamma(self) -> int:
        return 1 << self.frac_bits

    @property
    def code_dtype(self):
        """The unsigned numpy dtype that holds a code."""
        return code_dtype(self.width)

    @property
    def dtype(self):
        """No numpy or ml_dtypes dtype has LNS numerics."""
        return None

    @property
    def zero_log(self) -> int:
        """The reserved log pattern (most negative) as a signed integer."""
        return -(1 << (self.log_bits - 1))

    @property
    def min_log(self) -> int:
        return self.zero_log + 1

    @property
    def max_log(self) -> int:
        return (1 << (self.log_bits - 1)) - 1

    @property
    def zero_code(self) -> int:
        return 1 << (self.log_bits - 1)

    @property
    def nan_code(self) -> int:
        return (1 << self.log_bits) | self.zero_code

    @property
    def max_finite(self) -> float:
        return float(2.0 ** (self.max_log / self.gamma))

    @property
    def min_positive(self) -> float:
        return float(2.0 ** (self.min_log / self.gamma))

    def describe(self) -> str:
        return (f"lns    sign + {self.int_bits}.{self.frac_bits} log, gamma {self.gamma}, "
                f"{self.min_positive:.3g} .. {self.max_finite:.4g}")

    def product_format(self) -> "LNSFormat":
        """Holds every product exactly: one more integer bit of log."""
        return LNSFormat(f"{self.name}_product", self.int_bits + 1, self.frac_bits, self.table_bits, self.acc_bits)

    def accumulator(self) -> IntFormat:
        """The fixed-point accumulator of the MAC (LSB weight ``2**acc_lsb_exp``)."""
        return IntFormat(f"acc_{self.name}", self.acc_bits)

    @property
    def q_min(self) -> int:
        """Integer part (floor) of the smallest product log."""
        return (2 * self.min_log) >> self.frac_bits

    @property
    def q_max(self) -> int:
        """Integer part (floor) of the largest product log."""
        return (2 * self.max_log) >> self.frac_bits

    @property
    def linear_span(self) -> int:
        """Largest shift ``q - q_min`` of a table constant in the conversion to linear."""
        return self.q_max - self.q_min

    @property
    def linear_width(self) -> int:
        """Bits of a signed converted term: the table constant, the shift and a sign."""
        return self.table_bits + 1 + self.linear_span + 1

    @property
    def acc_lsb_exp(self) -> int:
        """Weight of the accumulator's LSB: the smallest product's integer log minus ``table_bits``."""
        return self.q_min - self.table_bits

    @cached_property
    def roots(self) -> tuple[float, ...]:
        """``2**(r/gamma)`` in float64, r = 0 .. gamma-1: decode is ``ldexp(roots[r], q)``, the same in every layer."""
        return tuple(2.0 ** (r / self.gamma) for r in range(self.gamma))

    @cached_property
    def midpoints(self) -> tuple[float, ...]:
        """``2**((j + 1/2)/gamma)`` in float64, j = 0 .. gamma-1: the rounding thresholds of encode."""
        return tuple(2.0 ** ((j + 0.5) / self.gamma) for j in range(self.gamma))

    @cached_property
    def table(self) -> tuple[int, ...]:
        """``T[r] = round(2**(r/gamma) * 2**table_bits)`` (nearest, float64), r = 0 .. gamma-1."""
        return tuple(int(np.rint(2.0 ** (r / self.gamma) * 2.0 ** self.table_bits)) for r in range(self.gamma))

    # -- fields -------------------------------------------------------------------
    def fields(self, bits):
        """(sign, signed log integer, is_zero, is_nan) of each code."""
        bits = as_codes(bits, self.width, self.name)
        sign = (bits >> self.log_bits).astype(bool)
        raw = bits & ((1 << self.log_bits) - 1)
        log = np.where(raw >= self.zero_code, raw - (1 << self.log_bits), raw)
        reserved = log == self.zero_log
        return sign, log, reserved & ~sign, reserved & sign

    def pack_fields(self, sign, log, zero, nan) -> np.ndarray:
        log = np.asarray(log, dtype=np.int64)
        code = (np.asarray(sign, dtype=np.int64) << self.log_bits) | (log & ((1 << self.log_bits) - 1))
        code = np.where(zero, self.zero_code, code)
        code = np.where(nan, self.nan_code, code)
        return code.astype(self.code_dtype)

    # -- values -------------------------------------------------------------------
    def decode(self, bits) -> np.ndarray:
        sign, log, zero, nan = self.fields(bits)
        q = np.floor_divide(log, self.gamma)
        mag = np.ldexp(np.asarray(self.roots)[log - q * self.gamma], q)
        value = np.where(sign, -mag, mag)
        return np.where(nan, np.nan, np.where(zero, 0.0, value))

    def encode(self, values, rounding: Rounding | str = "rne", rng=None) -> np.ndarray:
        rounding = Rounding.parse(rounding)
        v = as_values(values, self.name)
        finite = np.isfinite(v) & (v != 0)
        if rounding is Rounding.RNE:
            # |v| = m * 2**e with m in [1, 2): the log rounds up past each midpoint constant
            frac, exp = np.frexp(np.where(finite, np.abs(v), 1.0))
            steps = np.searchsorted(np.asarray(self.midpoints), 2 * frac, side="right")
            log = (exp.astype(np.int64) - 1) * self.gamma + steps
        elif rounding is Rounding.RTZ:
            raise ValueError("LNS encode rounds to nearest ('rne') or 'stochastic' on the log")
        else:
            if rng is None:
                raise ValueError("stochastic rounding needs a seeded numpy Generator: rng=np.random.default_rng(seed)")
            scaled = np.log2(np.where(finite, np.abs(v), 1.0)) * self.gamma
            low = np.floor(scaled)
            log = (low + (rng.random(v.shape) < scaled - low)).astype(np.int64)
        log = np.minimum(log, self.max_log)
        zero = (v == 0) | (finite & (log < self.min_log))
        nan = np.isnan(v) | np.isinf(v)
        return self.pack_fields(np.signbit(v) & ~zero, np.where(zero | nan, 0, log).astype(np.int64), zero, nan)

    # -- golden arithmetic --------------------------------------------------------
    def mul(self, a, b) -> np.ndarray:
        """Exact products as codes of ``product_format()``."""
        sa, la, za, na = self.fields(a)
        sb, lb, zb, nb = self.fields(b)
        nan = na | nb
        zero = (za | zb) & ~nan
        return self.product_format().pack_fields(sa ^ sb, la + lb, zero, nan)

    def to_linear(self, product_codes) -> np.ndarray:
        """Product codes -> signed integers on the accumulator grid (``T[r] << (q - qmin)``); NaN and zero give 0."""
        sign, r, shift, live = self._split(product_codes)
        mag = np.asarray(np.asarray(self.table, dtype=object)[r] << shift, dtype=object)
        mag = np.where(live, mag, 0)
        return np.where(sign, -mag, mag)

    def _split(self, product_codes):
        """(sign, remainder r, shift q - q_min, finite nonzero) of product codes, ``log = q * gamma + r``."""
        sign, log, zero, nan = self.product_format().fields(product_codes)
        q = np.floor_divide(log, self.gamma)
        shift = np.maximum(q - self.q_min, 0).astype(object)  # reserved logs fall below: masked by ``live``
        return sign, log - q * self.gamma, shift, ~(zero | nan)

    def mac(self, a, b, acc, grouped: bool = False) -> np.ndarray:
        """``acc + sum_i lin(a[..., i] * b[..., i])`` wrapped to ``acc_bits`` (codes of ``accumulator()``).

        ``a``/``b`` have shape (..., lanes); ``grouped`` sums by remainder first
        (same result, documented for the hardware variant).
        """
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape or a.ndim < 1:
            raise ValueError(f"a and b must have the same shape (..., lanes), not {a.shape} and {b.shape}")
        acc_fmt = self.accumulator()
        products = self.mul(a, b)
        if grouped:
            sign, r, shift, live = self._split(products)
            powers = np.where(live, np.left_shift(np.ones(r.shape, dtype=object), shift), 0)
            powers = np.where(sign, -powers, powers)
            total = sum(self.table[k] * np.where(r == k, powers, 0).sum(axis=-1) for k in range(self.gamma))
        else:
            total = self.to_linear(products).sum(axis=-1)
        result = np.asarray(acc_fmt.values(acc)).astype(object) + total
        wrapped = np.asarray(result, dtype=object) & ((1 << self.acc_bits) - 1)
        return wrapped.astype(np.uint64) if self.acc_bits <= 64 else wrapped

    def acc_value(self, acc_codes) -> np.ndarray:
        """float64 value of accumulator codes."""
        return np.ldexp(np.asarray(self.accumulator().values(acc_codes)).astype(np.float64), self.acc_lsb_exp)

    def exact_dot(self, a, b) -> np.ndarray:
        """The infinitely precise ``sum_i a_i * b_i`` (float64 with fsum: exact far beyond the table's precision)."""
        va, vb = self.decode(a), self.decode(b)
        products = np.where(np.isnan(va) | np.isnan(vb), 0.0, va * vb)
        return np.apply_along_axis(math.fsum, -1, products)
