"""Exact multiplication of raw values."""

from __future__ import annotations

from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .raw import RawShape

__all__ = ["MulRaw"]


class MulRaw(wiring.Component):
    """Exact product of two raw values (combinational).

    The significands multiply in full width and the exponents add, so nothing
    is rounded.  IEEE rules for the flags: NaN if either operand is NaN or for
    0 * Inf; Inf if either operand is Inf otherwise; the sign is the XOR of the
    operand signs, zeros included.
    """

    def __init__(self, a_shape: RawShape, b_shape: RawShape):
        self.a_shape, self.b_shape = a_shape, b_shape
        self.out_shape = self.product_shape(a_shape, b_shape)
        super().__init__({
            "a": In(a_shape.layout),
            "b": In(b_shape.layout),
            "product": Out(self.out_shape.layout),
        })

    @staticmethod
    def product_shape(a_shape: RawShape, b_shape: RawShape) -> RawShape:
        return RawShape(a_shape.sig_width + b_shape.sig_width,
                        a_shape.exp_lo + b_shape.exp_lo, a_shape.exp_hi + b_shape.exp_hi)

    def elaborate(self, platform):
        m = Module()
        a, b, p = self.a, self.b, self.product
        nan = a.nan | b.nan | (a.inf & b.zero) | (b.inf & a.zero)
        m.d.comb += [
            p.nan.eq(nan),
            p.inf.eq((a.inf | b.inf) & ~nan),
            p.zero.eq((a.zero | b.zero) & ~nan & ~a.inf & ~b.inf),
            p.sign.eq(a.sign ^ b.sign),
            p.exp.eq(a.exp + b.exp),
            p.sig.eq(a.sig * b.sig),
        ]
        return m
