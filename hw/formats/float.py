"""Binary floating-point formats described by a handful of parameters.

Conventions (one for the whole package): ``exp_bits`` and ``man_bits`` count
the stored exponent and mantissa fields, neither the sign nor the hidden bit
(as ml_dtypes does); ``precision = man_bits + 1`` counts the hidden bit.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .arrays import as_codes, as_flag, as_values, float32_exact, to_numpy
from .exact import Exact, Rounding, bit_length, code_dtype, round_at

__all__ = ["Special", "FloatFormat", "FP32"]


class Special(enum.Enum):
    """Which codes are infinities and NaNs."""

    #: IEEE 754: all-ones exponent is Inf (mantissa 0) or NaN (mantissa != 0).
    IEEE = "ieee"
    #: OCP "fn": no infinities; only S.11..1.11..1 (both signs) is NaN.
    FN = "fn"
    #: "fnuz": no infinities and no -0; the negative-zero code 10..0 is the only NaN.
    FNUZ = "fnuz"
    #: every code is a finite number (OCP MX FP6 and FP4 element types).
    NONE = "none"


@dataclass(frozen=True)
class FloatFormat:
    """A sign-magnitude binary float: sign, ``exp_bits`` exponent, ``man_bits`` mantissa.

    Numerics shared by every layer (golden model, RTL, GPU reference):

    * Value of a finite code: ``(-1)**s * 2**(E - bias) * 1.M`` for a nonzero
      exponent field ``E``, ``(-1)**s * 2**(1 - bias) * 0.M`` for ``E == 0``
      (subnormal).  With ``subnormals=False`` an ``E == 0`` code reads as a zero
      of its sign and results below the smallest normal flush to zero before
      rounding.
    * Rounding (``encode`` and every arithmetic result) is exact-then-once:
      ``rne`` (default), ``rtz`` or ``stochastic``.
    * Overflow (a result that rounds above ``max_finite``): IEEE gives +-Inf
      under ``rne``/``stochastic`` and +-max_finite under ``rtz``; FN and FNUZ
      give NaN; NONE saturates.  ``saturate=True`` clamps to +-max_finite in
      every format, infinite inputs included.
    * NaN (implementation-defined, chosen here): ``encode`` keeps a NaN input's
      sign where the format has signed NaNs and writes the canonical payload
      (quiet bit only for IEEE, mantissa all ones for FN); arithmetic results
      that are NaN are the positive canonical NaN (``nan_code``), payloads never
      propagate.  A NaN input to a format with no NaN (NONE) encodes as +0.
    * Zero: FNUZ has no -0, so a negative result that rounds to zero is +0.
    """

    name: str
    exp_bits: int
    man_bits: int
    bias: int
    special: Special = Special.IEEE
    subnormals: bool = True

    def __post_init__(self):
        for field in ("exp_bits", "man_bits", "bias"):
            if not isinstance(getattr(self, field), int) or isinstance(getattr(self, field), bool):
                raise ValueError(f"{field} must be an int, not {getattr(self, field)!r}")
        if not isinstance(self.special, Special):
            raise ValueError(f"special must be a Special, not {self.special!r}")
        if not 1 <= self.exp_bits <= 11:
            raise ValueError(f"exp_bits must be between 1 and 11, not {self.exp_bits}")
        if not 0 <= self.man_bits <= 52:
            raise ValueError(f"man_bits must be between 0 and 52, not {self.man_bits}")
        if self.special is Special.IEEE and (self.man_bits < 1 or self.exp_bits < 2):
            raise ValueError("an IEEE-style format needs exp_bits >= 2 and man_bits >= 1 to hold Inf and NaN")
        if self.special is Special.FN and self.exp_bits + self.man_bits < 2:
            raise ValueError("an FN format needs at least 2 exponent and mantissa bits")

    # -- derived parameters -------------------------------------------------
    @property
    def width(self) -> int:
        return 1 + self.exp_bits + self.man_bits

    @property
    def precision(self) -> int:
        """Significand bits including the hidden bit."""
        return self.man_bits + 1

    @property
    def emin(self) -> int:
        """Exponent of the smallest normal number."""
        return 1 - self.bias

    @property
    def has_inf(self) -> bool:
        return self.special is Special.IEEE

    @property
    def has_nan(self) -> bool:
        return self.special is not Special.NONE

    @property
    def has_negative_zero(self) -> bool:
        return self.special is not Special.FNUZ

    @property
    def sign_bit(self) -> int:
        return 1 << (self.width - 1)

    @cached_property
    def max_code(self) -> int:
        """Magnitude code (no sign) of the largest finite value."""
        all_ones = (1 << (self.exp_bits + self.man_bits)) - 1
        return all_ones - {Special.IEEE: 1 << self.man_bits, Special.FN: 1}.get(self.special, 0)

    @property
    def emax(self) -> int:
        """Exponent of the largest finite value."""
        return (self.max_code >> self.man_bits) - self.bias

    @property
    def nan_code(self) -> int | None:
        """The canonical (positive, quiet) NaN; None if the format has no NaN."""
        exp_ones = ((1 << self.exp_bits) - 1) << self.man_bits
        return {
            Special.IEEE: exp_ones | (1 << (self.man_bits - 1)),
            Special.FN: exp_ones | ((1 << self.man_bits) - 1),
            Special.FNUZ: self.sign_bit,
        }.get(self.special)

    @property
    def inf_code(self) -> int | None:
        return ((1 << self.exp_bits) - 1) << self.man_bits if self.has_inf else None

    @property
    def max_finite(self) -> float:
        return float(self.decode(self.max_code))

    @property
    def min_normal(self) -> float:
        return float(np.ldexp(1.0, self.emin))

    @property
    def min_subnormal(self) -> float:
        return float(np.ldexp(1.0, self.emin - self.man_bits)) if self.subnormals else self.min_normal

    def describe(self) -> str:
        return (f"float  e{self.exp_bits}m{self.man_bits} bias {self.bias}, {self.special.value}, "
                f"{'subnormals' if self.subnormals else 'no subnormals'}, max {self.max_finite:.6g}")

    def product_format(self) -> "FloatFormat":
        """IEEE-style format that holds every product of two values exactly, as normals."""
        bias = 1 - 2 * (self.emin - self.man_bits)
        top = 2 * self.emax + 1
        exp_bits = 2
        while (1 << exp_bits) - 2 - bias < top:
            exp_bits += 1
        return FloatFormat(f"{self.name}_product", exp_bits, 2 * self.man_bits + 1, bias, Special.IEEE)

    # -- classification -----------------------------------------------------
    def _fields(self, bits):
        bits = as_codes(bits, self.width, self.name, self.dtype)
        sign = (bits >> (self.width - 1)).astype(bool)
        mag = bits & (self.sign_bit - 1)
        return bits, sign, mag

    def is_nan(self, bits) -> np.ndarray:
        bits, sign, mag = self._fields(bits)
        if self.special is Special.IEEE:
            return mag > self.inf_code
        if self.special is Special.FN:
            return mag == self.nan_code
        if self.special is Special.FNUZ:
            return bits == self.sign_bit
        return np.zeros(bits.shape, dtype=bool)

    def is_subnormal(self, bits) -> np.ndarray:
        """Nonzero codes with a zero exponent field (0 where the format has no subnormals)."""
        bits, sign, mag = self._fields(bits)
        return (mag >> self.man_bits == 0) & (mag != 0) & self.subnormals

    def is_inf(self, bits) -> np.ndarray:
        bits, sign, mag = self._fields(bits)
        if self.has_inf:
            return mag == self.inf_code
        return np.zeros(bits.shape, dtype=bool)

    # -- bits <-> exact values ----------------------------------------------
    def unpack(self, bits) -> Exact:
        """Exact value of each code (HardFloat's "raw" form)."""
        bits, sign, mag = self._fields(bits)
        exp_field = mag >> self.man_bits
        frac = mag & ((1 << self.man_bits) - 1)
        normal = exp_field != 0
        sig = np.where(normal, frac | (1 << self.man_bits), frac if self.subnormals else 0)
        exp = np.maximum(exp_field, 1) - self.bias - self.man_bits
        nan = self.is_nan(bits)
        inf = self.is_inf(bits)
        sig = np.where(nan | inf, 0, sig)
        return Exact(sign, sig.astype(object), exp.astype(np.int64), nan, inf)

    def decode(self, bits) -> np.ndarray:
        """float64 value of each code (exact: every format here fits in a double).

        Where ml_dtypes has this format the codes are cast by it (NaN: the
        canonical float64 NaN with the code's sign bit, as :meth:`unpack` gives).
        """
        if self.dtype is None:
            return self.unpack(bits).to_float()
        codes = as_codes(bits, self.width, self.name, self.dtype)
        with np.errstate(invalid="ignore"):  # signalling NaN codes
            out = codes.astype(f"u{self.dtype.itemsize}").view(self.dtype).astype(np.float64)
        nan = np.isnan(out)
        if nan.any():
            out[nan] = np.where(codes[nan] >> (self.width - 1), -np.nan, np.nan)
        return out

    def pack(self, value: Exact, rounding: Rounding = Rounding.RNE, saturate: bool = False,
             rng=None, nan_sign: bool = False) -> np.ndarray:
        """Round exact values into codes of this format (see the class docstring).

        ``nan_sign`` keeps the sign of NaN inputs (``encode``); arithmetic results
        use the positive canonical NaN.
        """
        rounding = Rounding.parse(rounding)
        finite = ~(value.nan | value.inf)
        live = Exact(value.neg, np.where(finite, value.mag, 0).astype(object), value.exp,
                     value.nan, value.inf)
        sig, lsb = round_at(live, lambda top: np.maximum(top, self.emin) - self.man_bits, rounding, rng)
        sig = sig.astype(np.int64)
        # sig * 2**lsb -> code; a carry into a new binade is absorbed by the addition.
        binade = np.minimum(lsb - self.emin + self.man_bits, 1 << (self.exp_bits + 1))
        code = np.where(sig == 0, 0, (binade << self.man_bits) + sig)
        if not self.subnormals:
            top = live.exp + bit_length(live.mag) - 1
            code = np.where(top < self.emin, 0, code)
        overflow = (code > self.max_code) | value.inf
        if self.special is Special.NONE or saturate:
            over_code = self.max_code
        elif self.special is Special.IEEE:
            over_code = np.where(value.inf | (rounding is not Rounding.RTZ), self.inf_code, self.max_code)
        else:
            over_code = np.where(~value.inf & (rounding is Rounding.RTZ), self.max_code, self.nan_code)
        code = np.where(overflow, over_code, code)
        neg = value.neg & ((code != 0) | self.has_negative_zero)
        if self.special is Special.FNUZ:
            neg &= code != self.nan_code
        code = code | np.where(neg, self.sign_bit, 0)
        if self.has_nan:
            nan = self.nan_code | (np.where(value.neg & nan_sign, self.sign_bit, 0)
                                   if self.special is not Special.FNUZ else 0)
        else:
            nan = 0
        code = np.where(value.nan, nan, code)
        return code.astype(self.code_dtype)

    def encode(self, values, rounding: Rounding | str = "rne", saturate: bool = False, rng=None) -> np.ndarray:
        """Codes of real values (numbers, numpy/ml_dtypes arrays, torch tensors; taken by value, exactly).

        Where ml_dtypes has this format (:attr:`dtype`) and the values are
        float32-exact, a ``rne`` non-saturating encode is ml_dtypes' cast
        (ml_dtypes casts float64 through float32, which would round twice; numpy's
        own fp16/fp32 casts round float64 once and are used for any input).
        Bit-identical to :meth:`pack` on every code, midpoint and its float32
        neighbours and on random bit patterns (``tests/test_api_inputs.py``).
        """
        rounding = Rounding.parse(rounding)
        saturate = as_flag(saturate, "saturate")
        if self.dtype is not None and rounding is Rounding.RNE and not saturate:
            values = to_numpy(values)
            numpy_native = self.dtype in (np.dtype(np.float16), np.dtype(np.float32))  # numpy casts float64 once
            wide = numpy_native and isinstance(values, np.ndarray) and values.dtype == np.float64
            narrow = values if wide else float32_exact(values)
            if narrow is not None and narrow.size > 256:
                with np.errstate(over="ignore", invalid="ignore"):
                    codes = narrow.astype(self.dtype).view(f"u{self.dtype.itemsize}").astype(self.code_dtype)
                nan = np.isnan(narrow)  # ml_dtypes' NaN signs and NaN-less formats differ: our rule for those
                if nan.any():
                    codes[nan] = self.pack(Exact.from_float(narrow[nan]), rounding, saturate, rng, nan_sign=True)
                return codes
        values = as_values(values, self.name)
        return self.pack(Exact.from_float(values), rounding, saturate, rng, nan_sign=True)

    @property
    def code_dtype(self):
        """The unsigned numpy dtype that holds a code."""
        return code_dtype(self.width)

    @cached_property
    def dtype(self):
        """The numpy or ml_dtypes dtype with exactly these numerics, or None (``e4m3`` -> ``float8_e4m3fn``)."""
        if not self.subnormals:
            return None
        name = _ML_DTYPES.get((self.exp_bits, self.man_bits, self.bias, self.special))
        if name is None:
            return None
        import ml_dtypes

        return np.dtype(getattr(np, name, None) or getattr(ml_dtypes, name))


#: ml_dtypes (or numpy) type of each (exp_bits, man_bits, bias, special) it has.
_ML_DTYPES = {
    (8, 23, 127, Special.IEEE): "float32", (5, 10, 15, Special.IEEE): "float16",
    (8, 7, 127, Special.IEEE): "bfloat16", (5, 2, 15, Special.IEEE): "float8_e5m2",
    (4, 3, 7, Special.FN): "float8_e4m3fn", (4, 3, 8, Special.FNUZ): "float8_e4m3fnuz",
    (5, 2, 16, Special.FNUZ): "float8_e5m2fnuz", (4, 3, 7, Special.IEEE): "float8_e4m3",
    (3, 4, 3, Special.IEEE): "float8_e3m4", (3, 2, 3, Special.NONE): "float6_e3m2fn",
    (2, 3, 1, Special.NONE): "float6_e2m3fn", (2, 1, 1, Special.NONE): "float4_e2m1fn",
}


#: IEEE binary32, the accumulator and scale format shared by every layer (registered as ``fp32``).
FP32 = FloatFormat("fp32", 8, 23, 127)
#: IEEE binary16 (registered as ``fp16``) and NVIDIA's TensorFloat-32 (``tf32``: fp32's range, 10 fraction bits),
#: the tensor cores' fp16 accumulator and tf32 input formats.
FP16 = FloatFormat("fp16", 5, 10, 15)
TF32 = FloatFormat("tf32", 8, 10, 127)
