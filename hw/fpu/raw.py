"""The raw float form every operator works in, and the unpacker that makes it.

As in Berkeley HardFloat, operands are unpacked to a raw form with flags, and
every operator ends in the one shared :class:`~hw.fpu.rounder.Rounder`.  A raw
value is ``(-1)**sign * sig * 2**exp``: ``sig`` is an unsigned integer that
need not be normalised and ``exp`` is the weight of its least significant bit,
exactly the golden model's :class:`~hw.formats.exact.Exact`.
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth import Module, Mux, Shape, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..formats import FloatFormat, ScaleFormat, Special

__all__ = ["RawShape", "leading_zeros", "normalise", "Unpack", "UnpackScale"]


def _signed_bits(lo: int, hi: int) -> int:
    return max(abs(lo), abs(hi) + 1).bit_length() + 1


@dataclass(frozen=True)
class RawShape:
    """Widths of a raw value: ``sig_width`` bits, LSB exponent in ``[exp_lo, exp_hi]``."""

    sig_width: int
    exp_lo: int
    exp_hi: int

    @property
    def exp_shape(self) -> Shape:
        return signed(_signed_bits(self.exp_lo, self.exp_hi))

    @property
    def top_shape(self) -> Shape:
        """Shape that holds the exponent of the leading bit, for any sig."""
        return signed(_signed_bits(self.exp_lo - 1, self.exp_hi + self.sig_width))

    @property
    def layout(self) -> data.StructLayout:
        return data.StructLayout({
            "nan": 1, "inf": 1, "zero": 1, "sign": 1,
            "exp": self.exp_shape,
            "sig": self.sig_width,
        })

    @classmethod
    def of(cls, fmt: FloatFormat) -> "RawShape":
        """Raw shape of an unpacked ``fmt`` code (NaN/Inf codes included)."""
        exp_field_max = (1 << fmt.exp_bits) - 1
        return cls(fmt.precision, fmt.emin - fmt.man_bits, exp_field_max - fmt.bias - fmt.man_bits)


def leading_zeros(value):
    """Number of leading zeros of an unsigned value (its width when zero); log-depth tree."""
    width = len(value)
    if width == 1:
        return ~value[0]
    low_width = width // 2
    high, low = value[low_width:], value[:low_width]
    return Mux(high.any(), leading_zeros(high), (width - low_width) + leading_zeros(low))


def normalise(m, raw, shape: RawShape, width: int | None, top_shape, prefix: str = ""):
    """``(norm, top)``: ``raw.sig`` shifted left until its leading 1 is the MSB of ``norm``, and the exponent of
    that leading 1 (``top = exp + sig_width - 1 - lz``, shape ``top_shape``).

    ``norm`` has ``width >= shape.sig_width`` bits (the significand padded with
    zeros below), or ``shape.sig_width`` bits for ``width=None``.  The one
    leading-zero-count-and-shift every rounder, adder, divider and quantizer
    starts with; its signals are ``<prefix>lz``, ``<prefix>norm`` and
    ``<prefix>top``.  A zero significand gives ``norm = 0``.
    """
    lz = Signal(range(shape.sig_width + 1), name=f"{prefix}lz")
    norm = Signal(shape.sig_width if width is None else width, name=f"{prefix}norm")
    top = Signal(top_shape, name=f"{prefix}top")
    shifted = (raw.sig << lz)[:shape.sig_width]
    m.d.comb += [
        lz.eq(leading_zeros(raw.sig)),
        norm.eq(shifted if width is None else shifted << (width - shape.sig_width)),
        top.eq(raw.exp + (shape.sig_width - 1) - lz),
    ]
    return norm, top


class Unpack(wiring.Component):
    """Code of ``fmt`` -> raw value with NaN/Inf/zero flags (combinational).

    Subnormal codes keep their unnormalised significand; with
    ``fmt.subnormals`` false they read as zeros.  NaN and Inf codes have
    ``sig == 0`` so that they never disturb the arithmetic of the finite path.
    """

    def __init__(self, fmt: FloatFormat):
        self.fmt = fmt
        self.raw_shape = RawShape.of(fmt)
        super().__init__({"bits": In(fmt.width), "raw": Out(self.raw_shape.layout)})

    def elaborate(self, platform):
        m = Module()
        fmt = self.fmt
        bits, raw = self.bits, self.raw
        exp_field = bits[fmt.man_bits:fmt.width - 1]
        frac = bits[:fmt.man_bits]
        magnitude = bits[:fmt.width - 1]
        normal = exp_field.any()

        nan, inf = Signal(), Signal()
        if fmt.special is Special.IEEE:
            m.d.comb += [nan.eq(magnitude > fmt.inf_code), inf.eq(magnitude == fmt.inf_code)]
        elif fmt.special is Special.FN:
            m.d.comb += nan.eq(magnitude == fmt.nan_code)
        elif fmt.special is Special.FNUZ:
            m.d.comb += nan.eq(bits == fmt.nan_code)
        special = nan | inf

        sig = Signal(fmt.precision)
        if fmt.subnormals:
            m.d.comb += sig.eq(Mux(normal, frac | (1 << fmt.man_bits), frac))
        else:
            m.d.comb += sig.eq(Mux(normal, frac | (1 << fmt.man_bits), 0))
        m.d.comb += [
            raw.nan.eq(nan),
            raw.inf.eq(inf),
            raw.sign.eq(bits[fmt.width - 1]),
            raw.sig.eq(Mux(special, 0, sig)),
            raw.zero.eq(~special & ~sig.any()),
            raw.exp.eq(Mux(normal, exp_field, 1) - (fmt.bias + fmt.man_bits)),
        ]
        return m


class UnpackScale(wiring.Component):
    """Power-of-two scale code (E8M0) -> raw value ``2**(code - bias)``; the all-ones code is NaN."""

    def __init__(self, fmt: ScaleFormat):
        self.fmt = fmt
        self.raw_shape = RawShape(1, -fmt.bias, fmt.nan_code - fmt.bias)
        super().__init__({"bits": In(fmt.width), "raw": Out(self.raw_shape.layout)})

    def elaborate(self, platform):
        m = Module()
        nan = Signal()
        m.d.comb += [
            nan.eq(self.bits == self.fmt.nan_code),
            self.raw.nan.eq(nan),
            self.raw.sig.eq(~nan),
            self.raw.exp.eq(self.bits - self.fmt.bias),
        ]
        return m
