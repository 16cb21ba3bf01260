"""The one rounder every float operator ends in."""

from __future__ import annotations

from amaranth import Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..formats import FloatFormat, Rounding, Special
from .raw import RawShape, normalise

__all__ = ["Rounder", "FixedRounder"]


class Rounder(wiring.Component):
    """Raw value -> code of ``fmt``, rounded to nearest, ties to even, or toward zero (combinational).

    Normalises with a leading-zero count, denormalises below ``fmt.emin``
    (or flushes to zero when ``fmt.subnormals`` is false, before rounding), rounds
    on guard and sticky bits, and applies the format's overflow rule: IEEE ->
    +-Inf, FN -> NaN with the sign, FNUZ -> NaN, NONE -> +-max (``saturate`` gives
    +-max in every format; ``rounding=RTZ`` gives +-max for finite values,
    as IEEE 754 does, and keeps only a raw Inf infinite).  A raw NaN becomes the positive canonical NaN
    (+0 in a format without NaN).  Callers that dropped bits below ``sig`` jam a
    sticky 1 into its LSB, at least two places below the rounding position.
    """

    def __init__(self, raw_shape: RawShape, fmt: FloatFormat, saturate: bool = False,
                 rounding: Rounding = Rounding.RNE):
        if rounding not in (Rounding.RNE, Rounding.RTZ):
            raise ValueError(f"the rounder rounds to nearest even or toward zero, not {rounding!r}")
        self.raw_shape = raw_shape
        self.fmt = fmt
        self.saturate = saturate
        self.rounding = rounding
        super().__init__({"raw": In(raw_shape.layout), "bits": Out(fmt.width)})

    def elaborate(self, platform):
        m = Module()
        fmt, raw = self.fmt, self.raw
        width = self.raw_shape.sig_width
        prec = fmt.precision
        frame = max(width, prec + 2)  # kept bits, guard, and one or more sticky bits

        norm, top = normalise(m, raw, self.raw_shape, frame, self.raw_shape.top_shape)

        # Below the normal range the significand moves right; by prec + 1 places
        # at most, which already puts the leading bit below the guard bit.
        under = Signal(range(prec + 2))
        m.d.comb += under.eq(Mux(top < fmt.emin, Mux(fmt.emin - top > prec + 1, prec + 1, fmt.emin - top), 0))
        shifted = Signal(frame)
        lost = Signal()
        m.d.comb += [
            shifted.eq(norm >> under),
            lost.eq((shifted << under)[:frame] != norm),
        ]
        kept = shifted[frame - prec:]
        guard = shifted[frame - prec - 1]
        sticky = shifted[:frame - prec - 1].any() | lost
        rounded = Signal(prec + 1)
        if self.rounding is Rounding.RNE:
            m.d.comb += rounded.eq(kept + (guard & (sticky | kept[0])))
        else:
            m.d.comb += rounded.eq(kept)

        binade = Signal(signed(self.raw_shape.top_shape.width + 2))
        m.d.comb += binade.eq(Mux(top < fmt.emin, 0, top - fmt.emin))
        code = Signal(signed(binade.shape().width + fmt.man_bits + 2))
        m.d.comb += code.eq((binade << fmt.man_bits) + rounded)

        flushed = (top < fmt.emin) if not fmt.subnormals else 0
        sign = raw.sign << (fmt.width - 1)

        if self.saturate or fmt.special is Special.NONE:
            over_code = fmt.max_code | sign
        elif fmt.special is Special.IEEE:
            over_code = fmt.inf_code | sign
        elif fmt.special is Special.FN:
            over_code = fmt.nan_code | sign
        else:
            over_code = fmt.nan_code
        finite_over_code = fmt.max_code | sign if self.rounding is Rounding.RTZ else over_code
        zero_code = sign if fmt.has_negative_zero else 0

        with m.If(raw.nan):
            m.d.comb += self.bits.eq(fmt.nan_code if fmt.has_nan else 0)
        with m.Elif(raw.inf):
            m.d.comb += self.bits.eq(over_code)
        with m.Elif(raw.zero | flushed | (code == 0)):
            m.d.comb += self.bits.eq(zero_code)
        with m.Elif(code > fmt.max_code):
            m.d.comb += self.bits.eq(finite_over_code)
        with m.Else():
            m.d.comb += self.bits.eq(code[:fmt.width - 1] | sign)
        return m


class FixedRounder(wiring.Component):
    """Raw value -> ``bits``-wide two's-complement code of ``round(value * 2**frac_bits)`` (combinational).

    Round to nearest, ties to even; saturates symmetrically to +-(2**(bits-1) - 1)
    (the MXINT element rule: code 10...0 is never produced); NaN gives 0 and
    infinities saturate.  Callers that dropped bits jam a sticky 1 as for :class:`Rounder`.
    """

    def __init__(self, raw_shape: RawShape, bits: int, frac_bits: int):
        self.raw_shape, self.int_bits, self.frac_bits = raw_shape, bits, frac_bits
        super().__init__({"raw": In(raw_shape.layout), "bits": Out(bits)})

    def elaborate(self, platform):
        m = Module()
        raw, width, bits = self.raw, self.raw_shape.sig_width, self.int_bits
        limit = (1 << (bits - 1)) - 1
        shift = Signal(signed(self.raw_shape.exp_shape.width + 2))
        m.d.comb += shift.eq(raw.exp + self.frac_bits)
        right = Signal(range(width + 2))
        left = Signal(range(bits + 1))
        m.d.comb += [
            right.eq(Mux(shift < 0, Mux(-shift > width + 1, width + 1, -shift), 0)),
            left.eq(Mux(shift > 0, Mux(shift > bits, bits, shift), 0)),
        ]
        shifted = Signal(2 * width + 1)
        m.d.comb += shifted.eq((raw.sig << (width + 1)) >> right)
        kept = shifted[width + 1:]
        guard = shifted[width]
        sticky = shifted[:width].any()
        magnitude = Signal(width + bits + 1)
        m.d.comb += magnitude.eq(Mux(shift > 0, raw.sig << left, kept + (guard & (sticky | kept[0]))))
        clamped = Signal(bits)
        m.d.comb += clamped.eq(Mux(raw.inf | (magnitude > limit), limit, magnitude))
        m.d.comb += self.bits.eq(Mux(raw.nan, 0, Mux(raw.sign, -clamped, clamped)))
        return m
