"""LNS units: multiplier, log-to-linear converter and the vector MAC of LNS-Madam's processing element."""

from __future__ import annotations

from amaranth import Const, Module, Mux, Signal, signed
from amaranth.lib import data
from amaranth.lib.wiring import In

from ..formats import LNSFormat
from ..fpu.fixed import adder_tree
from ..lns import LNSMul, LogToLinear
from .pipeline import Pipeline
from .common import Unit, operand_ports

__all__ = ["LNSMulUnit", "LNSLinearUnit", "LNSMacUnit"]


class LNSMulUnit(Unit):
    """``product = a * b`` exact in ``fmt.product_format()`` (:class:`~hw.lns.LNSMul`). Cut: the output."""

    kind = "mul"

    def __init__(self, fmt: LNSFormat, stages: int = 0):
        self.out_format = fmt.product_format()
        super().__init__(fmt, 1, stages, operand_ports(fmt, 1), "product", self.out_format.width)

    def elaborate(self, platform):
        m = Module()
        pipe = Pipeline(m, self, [])
        m.submodules.mul = mul = LNSMul(self.fmt)
        m.d.comb += [mul.a.eq(self.a[0]), mul.b.eq(self.b[0])]
        out, valid = pipe.output(mul.product)
        m.d.comb += [self.product.eq(out), self.valid_out.eq(valid)]
        return m


class LNSLinearUnit(Unit):
    """``linear``: a product code (``fmt.product_format()`` on ``a``) converted to the accumulator grid
    (:class:`~hw.lns.LogToLinear`; golden :meth:`LNSFormat.to_linear`). Cut: the output."""

    kind = "linear"

    def __init__(self, fmt: LNSFormat, stages: int = 0):
        super().__init__(fmt, 1, stages, {"a": In(fmt.product_format().width)}, "linear", fmt.linear_width)

    def elaborate(self, platform):
        m = Module()
        pipe = Pipeline(m, self, [])
        m.submodules.convert = convert = LogToLinear(self.fmt)
        m.d.comb += convert.a.eq(self.a)
        out, valid = pipe.output(convert.linear.as_unsigned())
        m.d.comb += [self.linear.eq(out), self.valid_out.eq(valid)]
        return m


class LNSMacUnit(Unit):
    """``acc_out = acc_in + sum_i lin(a[i] * b[i])`` in the ``acc_bits`` fixed-point accumulator (wraps).

    ``lanes`` products per cycle (the paper's vector PE).  Each lane adds logs
    (:class:`~hw.lns.LNSMul`); then either every lane converts through its own
    table and shifter (:class:`~hw.lns.LogToLinear`) into an adder tree, or,
    ``grouped``, the lanes' signed powers of two are summed per remainder and
    each of the ``gamma`` sums is multiplied once by its table constant: the
    same exact sum (golden :meth:`LNSFormat.mac`).  Cut points: after the
    products, after the sum, then the output.
    """

    kind = "mac"

    def __init__(self, fmt: LNSFormat, lanes: int = 1, stages: int = 0, grouped: bool = False):
        self.acc, self.grouped = fmt.accumulator(), bool(grouped)
        ports = {"a": In(data.ArrayLayout(fmt.width, lanes)), "b": In(data.ArrayLayout(fmt.width, lanes)),
                 "acc_in": In(self.acc.width)}
        super().__init__(fmt, lanes, stages, ports, "acc_out", self.acc.width)

    def name_parts(self) -> list[str]:
        lanes = [f"x{self.lanes}"] if self.lanes > 1 else []
        return [self.fmt.name, *lanes, self.acc.name] + (["grouped"] if self.grouped else [])

    def elaborate(self, platform):
        m = Module()
        fmt = self.fmt
        pipe = Pipeline(m, self, ["product", "sum"])
        products = []
        for i in range(self.lanes):
            m.submodules[f"mul{i}"] = mul = LNSMul(fmt)
            m.d.comb += [mul.a.eq(self.a[i]), mul.b.eq(self.b[i])]
            products.append(mul.product)
        *products, acc = pipe.cut("product", *products, self.acc_in)
        converters = []
        for i, p in enumerate(products):
            m.submodules[f"convert{i}"] = c = LogToLinear(fmt)
            m.d.comb += c.a.eq(p)
            converters.append(c)
        if self.grouped:
            groups = []
            for r, t in enumerate(fmt.table):
                group = Signal(signed(converters[0].span + 2 + (self.lanes - 1).bit_length()), name=f"group{r}")
                m.d.comb += group.eq(adder_tree([Mux(c.remainder == r, c.power, 0) for c in converters]))
                groups.append(group * Const(t, fmt.table_bits + 1))
            terms = groups
        else:
            terms = [c.linear for c in converters]
        total = Signal(self.acc.bits)
        m.d.comb += total.eq(adder_tree([acc.as_signed(), *terms]))
        out, valid = pipe.output(pipe.cut("sum", total))
        m.d.comb += [self.acc_out.eq(out), self.valid_out.eq(valid)]
        return m
