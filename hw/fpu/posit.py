"""Posit decode and encode (with rounding), and quire pieces, on the shared raw form."""

from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..formats import PositFormat, QuireFormat
from .raw import RawShape, leading_zeros, normalise

__all__ = ["PositDecode", "PositRounder", "posit_raw_shape", "quire_raw_shape", "QuireToRaw"]


def posit_raw_shape(fmt: PositFormat) -> RawShape:
    """Raw shape of a decoded posit: significand ``1.f`` padded to ``n - es`` bits."""
    frac_width = fmt.n - 1 - fmt.es
    lo = -((fmt.n - 1) << fmt.es) - frac_width
    hi = ((fmt.n - 2) << fmt.es) + (1 << fmt.es) - 1 - frac_width
    return RawShape(frac_width + 1, lo, hi)


def quire_raw_shape(quire: QuireFormat) -> RawShape:
    return RawShape(quire.bits, quire.lsb_exp, quire.lsb_exp)


class PositDecode(wiring.Component):
    """Posit code -> raw value (combinational).

    Two's-complement the word if negative, count the regime run with a
    leading-zero counter on the word XOR its first regime bit, shift the
    regime out, and read exponent and fraction from the left-aligned rest.
    NaR (10...0) sets ``nan``; zero sets ``zero``.
    """

    def __init__(self, fmt: PositFormat):
        self.fmt = fmt
        self.raw_shape = posit_raw_shape(fmt)
        super().__init__({"bits": In(fmt.n), "raw": Out(self.raw_shape.layout)})

    def elaborate(self, platform):
        m = Module()
        fmt, raw = self.fmt, self.raw
        n, es = fmt.n, fmt.es
        body_width = n - 1
        sign = self.bits[n - 1]
        body = Signal(body_width)
        m.d.comb += body.eq(Mux(sign, -self.bits, self.bits)[:body_width])
        first = body[body_width - 1]
        run = Signal(range(body_width + 1))
        m.d.comb += run.eq(leading_zeros(Mux(first, ~body, body)))
        k = Signal(signed(max(body_width, 2).bit_length() + 2))
        m.d.comb += k.eq(Mux(first, run - 1, -run))
        rest = Signal(body_width)
        m.d.comb += rest.eq((body << (run + 1))[:body_width])
        exponent = rest[body_width - es:] if es else Const(0, 1)
        fraction = rest[:body_width - es]
        nar = Signal()
        zero = Signal()
        m.d.comb += [
            nar.eq(self.bits == fmt.nar_code),
            zero.eq(self.bits == 0),
            raw.nan.eq(nar),
            raw.zero.eq(zero),
            raw.sign.eq(sign),
            raw.sig.eq(Mux(nar | zero, 0, Cat(fraction, Const(1, 1)))),
            raw.exp.eq((k << es) + exponent - (body_width - es)),
        ]
        return m


class PositRounder(wiring.Component):
    """Raw value -> posit code, rounded to nearest with ties to the even pattern.

    Normalise (leading-zero count), split the scale into regime ``k`` and
    exponent ``e``, lay out ``1 0 e f`` (k >= 0) or ``0 1 e f`` (k < 0) and shift
    it right arithmetically by ``k`` or ``-k-1`` so the regime run appears;
    the top n-1 bits are the pattern, the next the guard bit, the rest sticky.
    Scales at or beyond maxpos give maxpos, below minpos give minpos (no
    overflow or underflow); NaN or Inf give NaR.  Callers that dropped bits jam
    a sticky 1 into the LSB of ``sig``, two or more places below the rounding position.
    """

    def __init__(self, raw_shape: RawShape, fmt: PositFormat):
        self.raw_shape, self.fmt = raw_shape, fmt
        super().__init__({"raw": In(raw_shape.layout), "bits": Out(fmt.n)})

    def elaborate(self, platform):
        m = Module()
        fmt, raw = self.fmt, self.raw
        n, es = fmt.n, fmt.es
        width = self.raw_shape.sig_width
        norm, top = normalise(m, raw, self.raw_shape, None, self.raw_shape.top_shape)
        k = Signal(signed(self.raw_shape.top_shape.width))
        m.d.comb += k.eq(top >> es)
        exponent = top[:es] if es else Const(0, 0)
        fraction = norm[:width - 1]
        frame_width = 2 + es + (width - 1) + n
        frame = Signal(signed(frame_width))
        m.d.comb += frame.eq(Cat(Const(0, n), fraction, exponent, Mux(k >= 0, 0b10, 0b01).as_unsigned()[:2]))
        shift = Signal(range(n))
        m.d.comb += shift.eq(Mux(k >= 0, Mux(k > n - 2, n - 2, k), Mux(-k - 1 > n - 2, n - 2, -k - 1)))
        shifted = Signal(frame_width)
        m.d.comb += shifted.eq(frame >> shift)
        pattern = shifted[frame_width - (n - 1):]
        guard = shifted[frame_width - n]
        sticky = shifted[:frame_width - n].any()
        rounded = Signal(n)
        m.d.comb += rounded.eq(pattern + (guard & (sticky | pattern[0])))
        maxpos, minpos = (1 << (n - 1)) - 1, 1
        magnitude = Signal(n - 1)
        with m.If(k >= n - 2):
            m.d.comb += magnitude.eq(maxpos)
        with m.Elif(k < -(n - 2)):
            m.d.comb += magnitude.eq(minpos)
        with m.Elif(rounded[n - 1]):
            m.d.comb += magnitude.eq(maxpos)
        with m.Elif(rounded == 0):
            m.d.comb += magnitude.eq(minpos)
        with m.Else():
            m.d.comb += magnitude.eq(rounded)
        with m.If(raw.nan | raw.inf):
            m.d.comb += self.bits.eq(fmt.nar_code)
        with m.Elif(raw.zero):
            m.d.comb += self.bits.eq(0)
        with m.Else():
            m.d.comb += self.bits.eq(Mux(raw.sign, -magnitude, magnitude))
        return m


class QuireToRaw(wiring.Component):
    """Quire code -> raw value (sign-magnitude at the quire's LSB weight); 10...0 is NaR."""

    def __init__(self, quire: QuireFormat):
        self.quire = quire
        self.raw_shape = quire_raw_shape(quire)
        super().__init__({"bits": In(quire.bits), "raw": Out(self.raw_shape.layout)})

    def elaborate(self, platform):
        m = Module()
        q, raw = self.bits, self.raw
        nar = Signal()
        m.d.comb += [
            nar.eq(q == self.quire.nar_code),
            raw.nan.eq(nar),
            raw.zero.eq(q == 0),
            raw.sign.eq(q[-1]),
            raw.sig.eq(Mux(q[-1], -q, q)),
            raw.exp.eq(self.quire.lsb_exp),
        ]
        return m
