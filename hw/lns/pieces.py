"""Hardware for the logarithmic number system; numerics in :mod:`hw.formats.lns`."""

from __future__ import annotations

from amaranth import Array, Const, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..formats import LNSFormat

__all__ = ["lns_fields", "LNSMul", "LogToLinear"]



def lns_fields(fmt: LNSFormat) -> data.StructLayout:
    return data.StructLayout({"sign": 1, "log": signed(fmt.log_bits), "zero": 1, "nan": 1})


def _unpack(m, fmt: LNSFormat, bits, name: str):
    fields = Signal(lns_fields(fmt), name=name)
    log = bits[:fmt.log_bits].as_signed()
    reserved = log == fmt.zero_log
    m.d.comb += [
        fields.sign.eq(bits[fmt.log_bits]),
        fields.log.eq(log),
        fields.zero.eq(reserved & ~bits[fmt.log_bits]),
        fields.nan.eq(reserved & bits[fmt.log_bits]),
    ]
    return fields


class LNSMul(wiring.Component):
    """``product = a * b``: logs add, signs XOR, exact in ``fmt.product_format()`` (combinational).

    Zero times a finite value is +0; a NaN operand gives NaN.
    """

    def __init__(self, fmt: LNSFormat):
        self.fmt, self.out_format = fmt, fmt.product_format()
        super().__init__({"a": In(fmt.width), "b": In(fmt.width), "product": Out(self.out_format.width)})

    def elaborate(self, platform):
        m = Module()
        fmt, out = self.fmt, self.out_format
        a, b = _unpack(m, fmt, self.a, "a"), _unpack(m, fmt, self.b, "b")
        log = Signal(signed(out.log_bits))
        m.d.comb += log.eq(a.log + b.log)
        nan, zero = a.nan | b.nan, a.zero | b.zero
        m.d.comb += self.product.eq(Mux(nan, out.nan_code, Mux(zero, out.zero_code,
                                                                (a.sign ^ b.sign) << out.log_bits | log.as_unsigned())))
        return m


class LogToLinear(wiring.Component):
    """Product code -> signed fixed-point term ``+-T[r] << (q - qmin)`` on the accumulator grid (combinational).

    ``q = floor(log / gamma)`` is the log's integer part (an arithmetic shift),
    ``r`` its fraction bits, which select one of ``gamma`` table constants
    ``T[r] = round(2**(r/gamma) * 2**table_bits)``; zero and NaN give 0.
    ``grouped`` leaves the table out: ``power`` is ``+-1 << (q - qmin)`` and
    ``remainder`` is ``r``, for a unit that sums by remainder and multiplies once.
    """

    def __init__(self, fmt: LNSFormat):
        self.fmt, self.in_format = fmt, fmt.product_format()
        self.span, self.term_bits = fmt.linear_span, fmt.linear_width
        super().__init__({
            "a": In(self.in_format.width),
            "linear": Out(signed(self.term_bits)),
            "power": Out(signed(self.span + 2)),
            "remainder": Out(max(fmt.frac_bits, 1)),
        })

    def elaborate(self, platform):
        m = Module()
        fmt = self.fmt
        p = _unpack(m, self.in_format, self.a, "p")
        q = Signal(signed(self.in_format.log_bits))
        m.d.comb += q.eq(p.log >> fmt.frac_bits)
        shift = Signal(range(self.span + 1))
        m.d.comb += shift.eq(q - fmt.q_min)
        remainder = p.log[:fmt.frac_bits] if fmt.frac_bits else Const(0, 1)
        table = Array([Const(t, fmt.table_bits + 1) for t in fmt.table])
        magnitude = Signal(self.term_bits - 1)
        m.d.comb += magnitude.eq(table[remainder] << shift)
        power = Signal(self.span + 1)
        m.d.comb += power.eq(Const(1, 1) << shift)
        live = ~(p.zero | p.nan)
        m.d.comb += [
            self.linear.eq(Mux(live, Mux(p.sign, -magnitude, magnitude), 0)),
            self.power.eq(Mux(live, Mux(p.sign, -power, power), 0)),
            self.remainder.eq(remainder),
        ]
        return m
