"""Multiply, MAC and dot-product units for every format, from one generator each.

All units share one port convention (``wiring`` signatures below):

=============  ===  ====================================================
port           dir  meaning
=============  ===  ====================================================
``a``, ``b``   in   operands; ``lanes`` codes packed, lane 0 in the LSBs
``acc_in``     in   accumulator code (MAC and dot units)
``valid_in``   in   the operands on this cycle are to be computed
``acc_out``    out  ``round(acc_in + sum a*b)`` in the accumulator format
``product``    out  exact product (multiplier), in ``fmt.product_format()``
``valid_out``  out  ``valid_in`` delayed by ``latency`` cycles
=============  ===  ====================================================

A unit with ``stages = 0`` is combinational and has no clock; otherwise it
has Amaranth's ``clk`` and ``rst`` and a latency of ``stages`` cycles with one
result per cycle.
"""

from __future__ import annotations

from amaranth import Module, Signal, Value, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..formats import FloatFormat, Format, IntFormat
from ..fpu.add import FusedAdd
from ..fpu.fixed import ProductSum, adder_tree
from ..fpu.mul import MulRaw
from ..fpu.raw import RawShape, Unpack
from ..fpu.rounder import Rounder
from .pipeline import Pipeline

__all__ = ["MulUnit", "DotUnit", "UNIT_KINDS"]


class _Unit(wiring.Component):
    kind: str

    def __init__(self, fmt: Format, lanes: int, out_width: int, out_port: str, has_acc: bool, stages: int):
        if not isinstance(lanes, int) or lanes < 1:
            raise ValueError(f"lanes must be a positive integer, not {lanes!r}")
        if not isinstance(stages, int) or stages < 0:
            raise ValueError(f"stages must be a non-negative integer, not {stages!r}")
        self.fmt, self.lanes, self.stages = fmt, lanes, stages
        self.out_port, self.out_width = out_port, out_width
        ports = {
            "a": In(data.ArrayLayout(fmt.width, lanes)),
            "b": In(data.ArrayLayout(fmt.width, lanes)),
            "valid_in": In(1),
        }
        if has_acc:
            ports["acc_in"] = In(out_width)
        ports[out_port] = Out(out_width)
        ports["valid_out"] = Out(1)
        super().__init__(ports)

    @property
    def latency(self) -> int:
        return self.stages


class MulUnit(_Unit):
    """Exact multiplier: ``product = a * b`` in ``fmt.product_format()``.

    Floats: unpack both operands, multiply significands, add exponents, pack
    through the shared rounder (exact here: the product format holds every
    product as a normal number).  Integers: a signed (or unsigned) product of
    twice the width.  Cut points: after the raw product, then the output.
    """

    kind = "mul"

    def __init__(self, fmt: Format, stages: int = 0):
        self.out_format = fmt.product_format()
        super().__init__(fmt, 1, self.out_format.width, "product", False, stages)

    def elaborate(self, platform):
        m = Module()
        pipe = Pipeline(m, self.stages, ["product"], self.valid_in)
        if isinstance(self.fmt, IntFormat):
            bits = _int_products(m, self.fmt, self.a, self.b)[0]
        else:
            (raw,), shape = _raw_products(m, self.fmt, self.a, self.b)
            raw = pipe.cut("product", raw)
            m.submodules.round = rounder = Rounder(shape, self.out_format)
            m.d.comb += rounder.raw.eq(raw)
            bits = rounder.bits
        out, valid = pipe.output(bits)
        m.d.comb += [self.product.eq(out), self.valid_out.eq(valid)]
        return m


class DotUnit(_Unit):
    """``acc_out = round(acc_in + sum_i a[i] * b[i])``, one rounding (RNE), ``lanes`` products.

    Floats, one lane (the MAC): exact raw product, fused add with the unpacked
    accumulator, shared rounder.  Floats, several lanes: the exact products are
    summed exactly in fixed point (:class:`~hw.fpu.fixed.ProductSum`), then fused
    with the accumulator and rounded once.  The accumulator format's subnormals,
    overflow and NaN rules apply; NaN results are the canonical NaN.
    Integers: exact products summed with the accumulator, wrapping modulo
    ``2**acc.bits``.  Cut points: after the products, after the sum, then the output.
    """

    def __init__(self, fmt: Format, acc: Format, lanes: int = 1, stages: int = 0):
        self.check(fmt, acc, lanes)
        self.acc = acc
        self.kind = "mac" if lanes == 1 else "dot"
        super().__init__(fmt, lanes, acc.width, "acc_out", True, stages)

    @staticmethod
    def check(fmt: Format, acc: Format, lanes: int):
        """ValueError if these parameters make no dot unit (checked before construction)."""
        if isinstance(fmt, IntFormat) != isinstance(acc, IntFormat):
            raise ValueError(f"accumulator {acc.name} does not suit operand format {fmt.name}")
        if isinstance(fmt, FloatFormat) and isinstance(lanes, int) and lanes > 1:
            ProductSum.check_width(MulRaw.product_shape(RawShape.of(fmt), RawShape.of(fmt)))

    def elaborate(self, platform):
        m = Module()
        pipe = Pipeline(m, self.stages, ["product", "sum"], self.valid_in)
        if isinstance(self.fmt, IntFormat):
            products = _int_products(m, self.fmt, self.a, self.b)
            *products, acc = pipe.cut("product", *products, self.acc_in)
            total = Signal(self.acc.bits)
            m.d.comb += total.eq(adder_tree([acc.as_signed() if self.acc.signed else acc, *products]))
            total = pipe.cut("sum", total)
            out, valid = pipe.output(total)
        else:
            m.submodules.unpack_acc = unpack_acc = Unpack(self.acc)
            m.d.comb += unpack_acc.bits.eq(self.acc_in)
            products, term_shape = _raw_products(m, self.fmt, self.a, self.b)
            *products, acc = pipe.cut("product", *products, unpack_acc.raw)
            if self.lanes == 1:
                term = products[0]
            else:
                m.submodules.product_sum = psum = ProductSum(term_shape, self.lanes)
                for i, p in enumerate(products):
                    m.d.comb += psum.terms[i].eq(p)
                term, term_shape = psum.sum, psum.out_shape
            m.submodules.add = add = FusedAdd(unpack_acc.raw_shape, term_shape, self.acc.precision)
            m.d.comb += [add.x.eq(acc), add.y.eq(term)]
            total = pipe.cut("sum", add.sum)
            m.submodules.round = rounder = Rounder(add.out_shape, self.acc)
            m.d.comb += rounder.raw.eq(total)
            out, valid = pipe.output(rounder.bits)
        m.d.comb += [self.acc_out.eq(out), self.valid_out.eq(valid)]
        return m


def _raw_products(m, fmt: FloatFormat, a, b):
    """Unpack every lane of ``a`` and ``b``, multiply exactly; (raw products, their RawShape)."""
    products = []
    for i in range(len(a)):
        m.submodules[f"unpack_a{i}"] = ua = Unpack(fmt)
        m.submodules[f"unpack_b{i}"] = ub = Unpack(fmt)
        m.submodules[f"mul{i}"] = mul = MulRaw(ua.raw_shape, ub.raw_shape)
        m.d.comb += [ua.bits.eq(a[i]), ub.bits.eq(b[i]), mul.a.eq(ua.raw), mul.b.eq(ub.raw)]
        products.append(mul.product)
    return products, mul.out_shape


def _int_products(m, fmt: IntFormat, a, b):
    """Exact products of every lane of integer operands (signed when ``fmt.signed``)."""
    products = []
    for i in range(len(a)):
        p = Signal(signed(2 * fmt.bits) if fmt.signed else 2 * fmt.bits, name=f"product{i}")
        x, y = Value.cast(a[i]), Value.cast(b[i])
        m.d.comb += p.eq(x.as_signed() * y.as_signed() if fmt.signed else x * y)
        products.append(p)
    return products


UNIT_KINDS = ("mul", "mac", "dot")
