"""Block-scaled formats: OCP MX v1.0 (MXFP8/6/4, MXINT8) and NVFP4.

A block of ``block_size`` narrow elements shares one scale; NVFP4 adds one
fp32 scale per tensor.  Blocks run along the last axis of a tensor.

Numerics (golden model, RTL and GPU reference all follow these):

* **Scale** of a block with largest magnitude ``amax`` (``ScaleRule``):
  ``FLOOR`` (OCP MX v1.0, section 6.3): ``2**(floor(log2(amax)) - emax_elem)``;
  ``CEIL``: the smallest scale with ``amax <= max_elem * scale`` (nothing
  saturates; for E8M0 this is the "RCEIL" rule of NVIDIA's MX recipes);
  ``NEAREST`` (NVFP4): ``amax / (max_elem * tensor_scale)`` rounded to nearest
  even into the scale format, saturating.  Quotients are rounded exactly, once.
* **Elements**: ``value / (scale * tensor_scale)`` rounded to nearest even and
  saturated to +-max_elem (OCP: "normal values saturate").  MXINT8 elements
  are two's-complement integers times ``2**-6`` (``emax_elem = 0``), clamped
  symmetrically to +-127 (code -128 is never produced).
* **Implementation-defined, chosen here**: an all-zero block gets the smallest
  scale (E8M0 code 0 = 2**-127; E4M3 scale +0) and zero elements keeping their
  signs; a block holding a NaN or an infinity gets the NaN scale (E8M0 0xFF,
  E4M3 0x7F) and +0 elements, and dequantizes to NaN throughout; an E8M0
  scale above 2**127 is NaN (as ml_dtypes' float8_e8m0fnu overflows).  A
  partial last block is a shorter block (padding never changes ``amax``).  An
  NVFP4 block whose scale rounds to zero has zero elements.  NVFP4's tensor
  scale is ``amax_tensor / (max_elem * max_scale)`` rounded up to fp32, over
  the tensor's finite values (so no block scale saturates), 1.0 for an all-zero tensor,
  never below fp32's smallest subnormal.
* **Dequantize** is exact (``element * scale * tensor_scale`` fits a double).
* **Block dot** (MX spec section 6.4 for the exact form): ``round_fp32(acc +
  scale_a * scale_b * sum_i a_i * b_i)``, one rounding per block.  With
  ``align_bits = W`` the element products are first aligned to the largest
  product exponent of the block and truncated (toward zero) to ``W`` bits
  below it, as a limited-width adder tree does (see :func:`block_dot`).
  Integer elements are always summed exactly.  Specials follow IEEE 754: a
  NaN scale or element gives NaN, Inf elements (E5M2) give Inf or NaN.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from math import ceil

import numpy as np

from .arrays import as_codes, as_values
from .exact import Exact, Rounding, add, divide, multiply, round_at, align_window
from .float import FP32, FloatFormat
from .integer import IntFormat

__all__ = ["ScaleFormat", "ScaleRule", "BlockFormat", "BlockTensor", "quantize", "dequantize", "block_dot", "dot",
           "E8M0"]


@dataclass(frozen=True)
class ScaleFormat:
    """Unsigned power-of-two scale ``2**(code - bias)`` (OCP's E8M0: 8 bits, bias 127).

    No zero, no sign, no infinity; the all-ones code is NaN.  ``pack`` follows
    ml_dtypes' float8_e8m0fnu: the significand rounds to 1 bit (ties up, as
    ties to even do with one bit), values below ``2**-bias`` give code 0,
    results above the largest scale, negatives, infinities and NaN give NaN.
    """

    name: str
    bits: int = 8
    bias: int = 127

    @property
    def width(self) -> int:
        return self.bits

    @property
    def nan_code(self) -> int:
        return (1 << self.bits) - 1

    @property
    def code_dtype(self):
        """The unsigned numpy dtype that holds a code."""
        return np.uint8 if self.bits <= 8 else np.uint16

    @property
    def dtype(self):
        """ml_dtypes' ``float8_e8m0fnu`` for E8M0, else None."""
        if (self.bits, self.bias) != (8, 127):
            return None
        import ml_dtypes

        return np.dtype(ml_dtypes.float8_e8m0fnu)

    @property
    def max_finite(self) -> float:
        return float(np.ldexp(1.0, self.nan_code - 1 - self.bias))

    def describe(self) -> str:
        return f"scale  e{self.bits}m0 bias {self.bias}, power of two, {self.nan_code:#x} is NaN"

    def unpack(self, bits) -> Exact:
        code = as_codes(bits, self.bits, self.name, self.dtype)
        nan = code == self.nan_code
        return Exact(np.zeros(code.shape, dtype=bool), np.where(nan, 0, 1).astype(object),
                     code - self.bias, nan, np.zeros(code.shape, dtype=bool))

    def decode(self, bits) -> np.ndarray:
        return self.unpack(bits).to_float()

    def pack(self, value: Exact, rounding: Rounding = Rounding.RNE) -> np.ndarray:
        finite = ~(value.nan | value.inf)
        live = Exact(value.neg, np.where(finite, value.mag, 0).astype(object), value.exp, value.nan, value.inf)
        sig, lsb = round_at(live, lambda top: top, Rounding.parse(rounding))
        exp = lsb + (sig.astype(np.int64) == 2)  # a carry doubles the single-bit significand
        code = np.clip(exp + self.bias, 0, self.nan_code)
        bad = ~finite | (value.neg & ~live.zero) | (code >= self.nan_code)
        code = np.where(live.zero & finite, 0, np.where(bad, self.nan_code, code))
        return code.astype(self.code_dtype)

    def encode(self, values, rounding: Rounding | str = "rne") -> np.ndarray:
        return self.pack(Exact.from_float(as_values(values, self.name)), Rounding.parse(rounding))


E8M0 = ScaleFormat("e8m0")


class ScaleRule(enum.Enum):
    """How a block's scale follows from its largest magnitude (see the module docstring)."""

    FLOOR = "floor"  #: OCP MX v1.0: 2**(floor(log2(amax)) - emax_elem); power-of-two scales only
    CEIL = "ceil"  #: smallest scale with amax <= max_elem * scale: nothing saturates
    NEAREST = "nearest"  #: amax / max_elem rounded to nearest even (NVFP4); float scales only

    @classmethod
    def parse(cls, value: "ScaleRule | str") -> "ScaleRule":
        if isinstance(value, cls):
            return value
        try:
            return cls(value)
        except ValueError:
            raise ValueError(f"unknown scale rule {value!r}; valid: {', '.join(r.value for r in cls)}") from None


@dataclass(frozen=True)
class BlockFormat:
    """``block_size`` elements of ``element`` sharing one ``scale``, plus an optional fp32 tensor scale.

    ``element`` is a FloatFormat or a signed IntFormat (an MXINT element: the
    integer times ``2**-(bits - 2)``); ``scale`` is a :class:`ScaleFormat`
    (power of two) or a FloatFormat (NVFP4's E4M3, read as unsigned).
    """

    name: str
    element: FloatFormat | IntFormat
    scale: ScaleFormat | FloatFormat
    block_size: int
    tensor_scale: bool = False
    rule: ScaleRule = ScaleRule.FLOOR

    def __post_init__(self):
        if not isinstance(self.element, (FloatFormat, IntFormat)):
            raise ValueError(f"block element must be a FloatFormat or IntFormat, not {self.element!r}")
        if isinstance(self.element, IntFormat) and (not self.element.signed or self.element.bits < 3):
            raise ValueError("an integer block element must be signed with at least 3 bits")
        if not isinstance(self.scale, (ScaleFormat, FloatFormat)):
            raise ValueError(f"block scale must be a ScaleFormat (e8m0) or FloatFormat, not {self.scale!r}")
        if not isinstance(self.block_size, int) or isinstance(self.block_size, bool) or not 1 <= self.block_size <= 256:
            raise ValueError(f"block_size must be an int between 1 and 256, not {self.block_size!r}")
        rule = ScaleRule.parse(self.rule)
        object.__setattr__(self, "rule", rule)
        power_of_two = isinstance(self.scale, ScaleFormat)
        if rule is ScaleRule.FLOOR and not power_of_two:
            raise ValueError("scale rule 'floor' needs a power-of-two (e8m0) scale; use 'nearest' or 'ceil'")
        if rule is ScaleRule.NEAREST and power_of_two:
            raise ValueError("scale rule 'nearest' needs a float scale; use 'floor' or 'ceil' with e8m0")

    @property
    def width(self) -> int:
        """Bits of one element (the scale is stored beside the elements)."""
        return self.element.width

    @property
    def code_dtype(self):
        """The unsigned numpy dtype that holds an element code."""
        return self.element.code_dtype

    @property
    def dtype(self):
        """The element's numpy or ml_dtypes dtype, or None."""
        return self.element.dtype

    @property
    def bits_per_element(self) -> float:
        return self.element.width + self.scale.width / self.block_size

    @property
    def element_frac_bits(self) -> int:
        """Integer elements: value = code * 2**-element_frac_bits."""
        return self.element.bits - 2 if isinstance(self.element, IntFormat) else 0

    @property
    def element_max(self) -> float:
        if isinstance(self.element, IntFormat):
            return float(np.ldexp(self.element.max_value, -self.element_frac_bits))
        return self.element.max_finite

    @property
    def element_emax(self) -> int:
        """floor(log2(element_max)): the exponent the OCP rule subtracts."""
        return int(np.frexp(self.element_max)[1]) - 1

    def describe(self) -> str:
        extra = " + fp32 tensor scale" if self.tensor_scale else ""
        return (f"block  {self.block_size} x {self.element.name}, scale {self.scale.name} "
                f"({self.rule.value}){extra}, {self.bits_per_element:g} bits/element")

    # -- elements -------------------------------------------------------------
    def element_unpack(self, codes) -> Exact:
        value = self.element.unpack(codes)
        value.exp = value.exp - self.element_frac_bits
        return value

    def element_decode(self, codes) -> np.ndarray:
        return self.element_unpack(codes).to_float()

    def element_pack(self, value: Exact) -> np.ndarray:
        """Round to nearest even and saturate to +-element_max (NaN gives +0)."""
        if isinstance(self.element, IntFormat):
            shifted = Exact(value.neg, value.mag, value.exp + self.element_frac_bits, value.nan, value.inf)
            codes = self.element.pack(shifted, Rounding.RNE, saturate=True).astype(np.int64)
            return np.where(codes == (1 << (self.element.bits - 1)), codes + 1, codes).astype(self.element.code_dtype)
        nan_free = Exact(value.neg & ~value.nan, value.mag, value.exp, np.zeros_like(value.nan), value.inf)
        return self.element.pack(nan_free, Rounding.RNE, saturate=True)


@dataclass
class BlockTensor:
    """A quantized tensor: element codes ``(..., n)``, scale codes ``(..., ceil(n / block_size))``."""

    fmt: BlockFormat
    elements: np.ndarray
    scales: np.ndarray
    tensor_scale: float = 1.0

    def dequantize(self) -> np.ndarray:
        return dequantize(self)


def _scale_of_block(fmt: BlockFormat, amax: np.ndarray, tensor_scale: float) -> np.ndarray:
    """Scale codes for finite block maxima ``amax`` (float64, exact)."""
    if isinstance(fmt.scale, ScaleFormat):
        e = np.frexp(amax)[1].astype(np.int64) - 1 - fmt.element_emax
        if fmt.rule is ScaleRule.CEIL:
            e += amax > np.ldexp(fmt.element_max, e)
        code = e + fmt.scale.bias
        code = np.where(code >= fmt.scale.nan_code, fmt.scale.nan_code, np.maximum(code, 0))
        return np.where(amax == 0, 0, code).astype(fmt.scale.code_dtype)
    target = divide(Exact.from_float(amax), Exact.from_float(np.full(amax.shape, fmt.element_max * tensor_scale)))
    if fmt.rule is ScaleRule.NEAREST:
        return fmt.scale.pack(target, Rounding.RNE, saturate=True)
    code = fmt.scale.pack(target, Rounding.RTZ, saturate=True)
    short = fmt.scale.decode(code) * fmt.element_max * tensor_scale < amax
    return np.where(short & (code < fmt.scale.max_code), code + 1, code).astype(fmt.scale.code_dtype)


def _tensor_scale(fmt: BlockFormat, values: np.ndarray) -> float:
    if not fmt.tensor_scale:
        return 1.0
    finite = np.isfinite(values)
    amax = float(np.max(np.abs(values[finite]), initial=0.0))
    if amax == 0.0:
        return 1.0
    limit = fmt.element_max * fmt.scale.max_finite
    code = int(FP32.pack(divide(Exact.from_float(np.array([amax])), Exact.from_float(np.array([limit]))),
                         Rounding.RTZ)[0])
    if float(FP32.decode(code)) * limit < amax:  # round up: the largest block never saturates its scale
        code += 1
    return max(float(FP32.decode(code)), FP32.min_subnormal)


def quantize(fmt: BlockFormat, values, rule: ScaleRule | str | None = None,
             tensor_scale: float | None = None) -> BlockTensor:
    """Quantize a float tensor (fp32, bf16 or any float dtype) along its last axis.

    ``rule`` overrides ``fmt.rule`` (e.g. ``"ceil"`` for a recipe that never
    saturates); ``tensor_scale`` (formats with one) overrides the scale computed
    from this tensor, e.g. one computed over a larger tensor.
    """
    if not isinstance(fmt, BlockFormat):
        raise TypeError(f"fmt must be a BlockFormat (e.g. formats.get('mxfp8_e4m3')), not {fmt!r}")
    if tensor_scale is not None:
        if not fmt.tensor_scale:
            raise ValueError(f"tensor_scale: {fmt.name} has no tensor scale (only formats like nvfp4 do)")
        if isinstance(tensor_scale, (bool, np.bool_)) or not isinstance(tensor_scale, (int, float, np.number)) \
                or not np.isfinite(tensor_scale) or tensor_scale <= 0:
            raise ValueError(f"tensor_scale must be a positive finite number, not {tensor_scale!r}")
    if rule is not None:
        fmt = BlockFormat(fmt.name, fmt.element, fmt.scale, fmt.block_size, fmt.tensor_scale, ScaleRule.parse(rule))
    values = as_values(values, fmt.name)
    if values.ndim == 0:
        raise ValueError("quantize needs at least one axis (blocks run along the last)")
    n = values.shape[-1]
    nb = ceil(n / fmt.block_size)
    padded = np.zeros(values.shape[:-1] + (nb * fmt.block_size,))
    padded[..., :n] = values
    blocks = padded.reshape(values.shape[:-1] + (nb, fmt.block_size))
    finite = np.isfinite(blocks)
    special = ~finite.all(axis=-1)
    amax = np.max(np.where(finite, np.abs(blocks), 0.0), axis=-1)
    ts = _tensor_scale(fmt, values) if tensor_scale is None or not fmt.tensor_scale else float(tensor_scale)
    scales = _scale_of_block(fmt, amax, ts)
    scales = np.where(special, fmt.scale.nan_code, scales).astype(fmt.scale.code_dtype)

    exact = Exact.from_float(np.where(finite, blocks, 0.0))
    if isinstance(fmt.scale, ScaleFormat):
        exact.exp = exact.exp - (scales.astype(np.int64)[..., None] - fmt.scale.bias)
        zero_scale = np.zeros(scales.shape, dtype=bool)
    else:
        divisor = fmt.scale.decode(scales) * ts
        zero_scale = divisor == 0
        exact = divide(exact, Exact.from_float(np.broadcast_to(np.where(zero_scale, 1.0, divisor)[..., None],
                                                               blocks.shape)))
    codes = np.where(special[..., None], 0, fmt.element_pack(exact).astype(np.int64))
    zero_elems = (zero_scale & ~special)[..., None]
    if isinstance(fmt.element, FloatFormat):
        signed_zero = np.where(np.signbit(blocks) & fmt.element.has_negative_zero, fmt.element.sign_bit, 0)
    else:
        signed_zero = np.zeros(blocks.shape, dtype=np.int64)
    codes = np.where(zero_elems, signed_zero, codes)
    elements = codes.reshape(values.shape[:-1] + (nb * fmt.block_size,))[..., :n].astype(fmt.element.code_dtype)
    return BlockTensor(fmt, elements, scales, ts)


def dequantize(t: BlockTensor) -> np.ndarray:
    """Exact float64 values of a :class:`BlockTensor` (NaN throughout a NaN-scaled block)."""
    fmt = t.fmt
    scale = np.repeat(fmt.scale.decode(t.scales), fmt.block_size, axis=-1)[..., :t.elements.shape[-1]]
    return fmt.element_decode(t.elements) * scale * t.tensor_scale


def block_dot(fmt: BlockFormat, a, a_scale, b, b_scale, acc, acc_fmt: FloatFormat,
              align_bits: int | None = None) -> np.ndarray:
    """``round(acc + scale_a * scale_b * sum_i a_i * b_i)`` into ``acc_fmt``: one rounding per block.

    ``a``/``b`` are element codes ``(..., block_size)``, the scales and ``acc``
    codes ``(...)``.  ``align_bits=None`` sums the products exactly.  With
    ``align_bits = W`` each product (sign-magnitude) keeps only its bits of
    weight ``>= 2**(T - W)``, where ``T`` is the largest "product top" of the
    block's finite nonzero products and a product's top is its LSB exponent
    plus the significand width of the exact product (``2 * precision``): the
    exponent-field alignment of a hardware adder tree, subnormals included.
    The truncated products are then summed exactly.
    """
    if not isinstance(fmt, BlockFormat):
        raise TypeError(f"fmt must be a BlockFormat, not {fmt!r}")
    if not isinstance(acc_fmt, FloatFormat):
        raise ValueError(f"acc_fmt must be a float format (e.g. fp32), not {acc_fmt!r}")
    if align_bits is not None and (isinstance(align_bits, bool) or not isinstance(align_bits, (int, np.integer))
                                   or align_bits < 1):
        raise ValueError(f"align_bits must be a positive number of bits or None (exact), not {align_bits!r}")
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.ndim < 1:
        raise ValueError(f"a and b must have the same shape (..., block), not {a.shape} and {b.shape}")
    if a.shape[-1] != fmt.block_size:
        raise ValueError(f"a and b must hold whole {fmt.name} blocks of {fmt.block_size} elements along the last "
                         f"axis, not {a.shape[-1]}")
    products = multiply(fmt.element_unpack(a), fmt.element_unpack(b))
    if align_bits is not None and isinstance(fmt.element, FloatFormat):
        products = align_window(products, products.exp + 2 * fmt.element.precision, align_bits)
    total = add(products.lanes())
    scale = multiply(fmt.scale.unpack(a_scale), fmt.scale.unpack(b_scale))
    return acc_fmt.pack(add([acc_fmt.unpack(acc), multiply(total, scale)]), Rounding.RNE)


def dot(a: BlockTensor, b: BlockTensor, acc_fmt: FloatFormat, align_bits: int | None = None) -> np.ndarray:
    """Dot product along the last axis: blocks accumulate in order into ``acc_fmt`` from +0,
    each through :func:`block_dot`; NVFP4's tensor scales multiply the result (one more rounding)."""
    if a.fmt != b.fmt or a.elements.shape != b.elements.shape:
        raise ValueError("dot needs two block tensors of the same format and shape")
    fmt = a.fmt
    bs = fmt.block_size
    acc = np.zeros(a.elements.shape[:-1], dtype=acc_fmt.code_dtype)
    for k in range(a.scales.shape[-1]):
        ea, eb = a.elements[..., k * bs:(k + 1) * bs], b.elements[..., k * bs:(k + 1) * bs]
        if ea.shape[-1] < bs:  # partial last block: zero elements add nothing
            pad = [(0, 0)] * (ea.ndim - 1) + [(0, bs - ea.shape[-1])]
            ea, eb = np.pad(ea, pad), np.pad(eb, pad)
        acc = block_dot(fmt, ea, a.scales[..., k], eb, b.scales[..., k], acc, acc_fmt, align_bits)
    if fmt.tensor_scale:
        ts = multiply(*(Exact.from_float(np.full(acc.shape, t.tensor_scale)) for t in (a, b)))
        acc = acc_fmt.pack(multiply(acc_fmt.unpack(acc), ts), Rounding.RNE)
    return acc
