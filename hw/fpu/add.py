"""Fused (single-rounding) addition of two raw values."""

from __future__ import annotations

from amaranth import Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .raw import RawShape, normalise

__all__ = ["FusedAdd"]


class FusedAdd(wiring.Component):
    """Sum of two raw values, ready for a rounder of ``precision`` bits (combinational).

    Both operands are normalised; the one with the larger leading exponent
    ("big") sits at the top of a window of ``W = max(precision + 4, wx + 3, wy + 3)``
    bits, with one bit of headroom, and the other is shifted right into it.
    Bits shifted out of the window are jammed as a sticky 1 into its LSB.
    Why that is exact for rounding: bits are lost only when the operands'
    leading exponents differ by at least ``W - w_small - 1 >= 2``, so the sum
    keeps its leading bit within one place of big's, its rounding position lies
    at least two places above the window's LSB, and the true sum and the jammed
    one fall in the same open interval between multiples of the LSB weight:
    they round alike.  Otherwise the sum in the window is exact.

    Specials follow IEEE 754: NaN for a NaN operand or Inf - Inf, Inf otherwise
    if either is Inf; an exact zero sum is +0 unless both operands are -0.
    """

    def __init__(self, x_shape: RawShape, y_shape: RawShape, precision: int):
        self.x_shape, self.y_shape = x_shape, y_shape
        self.window = max(precision + 4, x_shape.sig_width + 3, y_shape.sig_width + 3)
        top_lo = min(x_shape.exp_lo, y_shape.exp_lo)
        top_hi = max(x_shape.exp_hi + x_shape.sig_width, y_shape.exp_hi + y_shape.sig_width)
        self.out_shape = RawShape(self.window, top_lo + 1 - self.window, top_hi + 1)
        super().__init__({
            "x": In(x_shape.layout),
            "y": In(y_shape.layout),
            "sum": Out(self.out_shape.layout),
        })

    def elaborate(self, platform):
        m = Module()
        x, y, out = self.x, self.y, self.sum
        W = self.window
        top = lambda shape: signed(max(shape.top_shape.width, self.out_shape.exp_shape.width) + 1)
        x_sig, x_top = normalise(m, x, self.x_shape, W - 1, top(self.x_shape), "x_")
        y_sig, y_top = normalise(m, y, self.y_shape, W - 1, top(self.y_shape), "y_")

        # big: the operand with the higher leading bit; a zero is never big.
        swap = Signal()
        m.d.comb += swap.eq(x.zero | (~y.zero & (y_top > x_top)))
        big_sig, small_sig = Signal(W - 1), Signal(W - 1)
        big_top, small_top = Signal.like(x_top), Signal.like(x_top)
        big_sign, small_sign = Signal(), Signal()
        m.d.comb += [
            big_sig.eq(Mux(swap, y_sig, x_sig)), small_sig.eq(Mux(swap, x_sig, y_sig)),
            big_top.eq(Mux(swap, y_top, x_top)), small_top.eq(Mux(swap, x_top, y_top)),
            big_sign.eq(Mux(swap, y.sign, x.sign)), small_sign.eq(Mux(swap, x.sign, y.sign)),
        ]

        distance = Signal(range(W + 1))
        m.d.comb += distance.eq(Mux(big_top - small_top > W, W, big_top - small_top))
        aligned = Signal(W - 1)
        sticky = Signal()
        m.d.comb += [
            aligned.eq(small_sig >> distance),
            sticky.eq((aligned << distance)[:W - 1] != small_sig),
        ]
        small_jammed = aligned | sticky

        total = Signal(signed(W + 1))
        m.d.comb += total.eq(Mux(big_sign == small_sign, big_sig + small_jammed, big_sig - small_jammed))

        nan = x.nan | y.nan | (x.inf & y.inf & (x.sign != y.sign))
        inf = (x.inf | y.inf) & ~nan
        m.d.comb += [
            out.nan.eq(nan),
            out.inf.eq(inf),
            out.zero.eq(~nan & ~inf & (total == 0)),
            out.sig.eq(Mux(total < 0, -total, total)),
            out.exp.eq(big_top + 2 - W),
        ]
        m.d.comb += out.sign.eq(Mux(inf, Mux(x.inf, x.sign, y.sign),
                                    Mux(total == 0, x.sign & y.sign & x.zero & y.zero,
                                        big_sign ^ (total < 0))))
        return m
