"""Division of raw values, ready for a rounder (the NVFP4 quantizer divides by its scales)."""

from __future__ import annotations

from amaranth import Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .raw import RawShape, normalise

__all__ = ["DivRaw"]


class DivRaw(wiring.Component):
    """``num / den`` with ``quotient_bits`` bits plus a sticky bit (combinational, restoring division).

    Both significands are normalised and left-aligned to ``W`` bits, so
    ``N / D`` lies in (1/2, 2); ``quotient_bits + 1`` restoring steps give
    ``q = floor(N * 2**quotient_bits / D)`` and a remainder, whose being
    nonzero is jammed into the LSB.  Rounding the result to ``p <=
    quotient_bits - 1`` bits is then exact (correctly rounded quotient).
    Flags: NaN if either is NaN; zero if ``num`` is zero; ``den`` must be a
    finite nonzero value (the caller handles a zero divisor).
    """

    def __init__(self, num_shape: RawShape, den_shape: RawShape, quotient_bits: int):
        self.num_shape, self.den_shape, self.quotient_bits = num_shape, den_shape, quotient_bits
        top_lo = num_shape.exp_lo - (den_shape.exp_hi + den_shape.sig_width)
        top_hi = num_shape.exp_hi + num_shape.sig_width - den_shape.exp_lo
        self.out_shape = RawShape(quotient_bits + 2, top_lo - quotient_bits - 2, top_hi - quotient_bits)
        super().__init__({"num": In(num_shape.layout), "den": In(den_shape.layout), "quotient": Out(self.out_shape.layout)})

    def elaborate(self, platform):
        m = Module()
        num, den, out = self.num, self.den, self.quotient
        width = max(self.num_shape.sig_width, self.den_shape.sig_width)
        n, n_top = normalise(m, num, self.num_shape, width, signed(self.num_shape.top_shape.width + 1), "num_")
        d, d_top = normalise(m, den, self.den_shape, width, signed(self.den_shape.top_shape.width + 1), "den_")
        remainder = n
        bits = []
        for i in range(self.quotient_bits + 1):
            r = Signal(width + 1, name=f"rem{i}")
            m.d.comb += r.eq(remainder)
            bit = Signal(name=f"q{i}")
            m.d.comb += bit.eq(r >= d)
            after = Signal(width + 1, name=f"rem{i}_next")
            m.d.comb += after.eq(Mux(bit, r - d, r))
            bits.append(bit)
            remainder = after << 1
        quotient = Signal(self.quotient_bits + 1)
        m.d.comb += quotient.eq(sum(b << (self.quotient_bits - i) for i, b in enumerate(bits)))
        m.d.comb += [
            out.nan.eq(num.nan | den.nan),
            out.inf.eq(0),
            out.zero.eq(num.zero & ~num.nan & ~den.nan),
            out.sign.eq(num.sign ^ den.sign),
            out.sig.eq(Mux(num.zero, 0, (quotient << 1) | (remainder != 0))),
            out.exp.eq(n_top - d_top - self.quotient_bits - 1),
        ]
        return m
