"""Multiply, add, MAC, dot-product and quire read-out units, one generator each for every format.

All units share one port convention (``wiring`` signatures below):

=============  ===  ====================================================
port           dir  meaning
=============  ===  ====================================================
``a``, ``b``   in   operands; ``lanes`` codes packed, lane 0 in the LSBs
``acc_in``     in   accumulator code (MAC, dot, read-out)
``valid_in``   in   the operands on this cycle are to be computed
``acc_out``    out  ``round(acc_in + sum a*b)`` in the accumulator format
``product``    out  product (multiplier): exact in ``fmt.product_format()``
                    for floats and integers, rounded once for posits
``sum``        out  ``round(a + b)`` in the operand format (adder)
``result``     out  the quire ``acc_in`` rounded to its posit (read-out)
``valid_out``  out  ``valid_in`` delayed by ``latency`` cycles
=============  ===  ====================================================

A unit with ``stages = 0`` is combinational and has no clock; otherwise it
has Amaranth's ``clk`` and ``rst`` and a latency of ``stages`` cycles with one
result per cycle.
"""

from __future__ import annotations

from amaranth import Module, Mux, Signal, Value, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..formats import FloatFormat, Format, IntFormat, PositFormat, QuireFormat
from ..fpu.add import FusedAdd
from ..fpu.fixed import ProductSum, adder_tree, balanced_tree
from ..fpu.mul import MulRaw
from ..fpu.posit import PositDecode, PositRounder, QuireToRaw
from ..fpu.raw import RawShape, Unpack
from ..fpu.rounder import Rounder
from .pipeline import Pipeline

__all__ = ["MulUnit", "AddUnit", "DotUnit", "ReadoutUnit", "UNIT_KINDS"]

UNIT_KINDS = ("mul", "add", "mac", "dot", "readout", "quant", "linear", "tensorcore")


class _Unit(wiring.Component):
    kind: str

    def __init__(self, fmt: Format, lanes: int, stages: int, inputs: dict, out_port: str, out_width: int):
        if not isinstance(lanes, int) or lanes < 1:
            raise ValueError(f"lanes must be a positive integer, not {lanes!r}")
        if not isinstance(stages, int) or stages < 0:
            raise ValueError(f"stages must be a non-negative integer, not {stages!r}")
        self.fmt, self.lanes, self.stages = fmt, lanes, stages
        self.out_port, self.out_width = out_port, out_width
        super().__init__({**inputs, "valid_in": In(1), out_port: Out(out_width), "valid_out": Out(1)})

    @staticmethod
    def _operands(fmt: Format, lanes: int) -> dict:
        return {"a": In(data.ArrayLayout(fmt.width, lanes)), "b": In(data.ArrayLayout(fmt.width, lanes))}

    @property
    def latency(self) -> int:
        return self.stages


def _decoder(fmt):
    """The component that turns a code of ``fmt`` into the raw form."""
    return PositDecode(fmt) if isinstance(fmt, PositFormat) else Unpack(fmt)


def _round(m, raw, shape: RawShape, fmt):
    """Code of ``fmt`` for ``raw``, through the format family's rounder (a submodule ``round``)."""
    m.submodules.round = rounder = PositRounder(shape, fmt) if isinstance(fmt, PositFormat) else Rounder(shape, fmt)
    m.d.comb += rounder.raw.eq(raw)
    return rounder.bits


class MulUnit(_Unit):
    """Multiplier: ``product = a * b``.

    Floats: unpack, multiply significands, add exponents, pack through the
    shared rounder into ``fmt.product_format()`` (exact: that format holds every
    product as a normal number).  Posits: decode, multiply, round once into the
    posit format.  Integers: a product of twice the width.  Cut points: after
    the raw product, then the output.
    """

    kind = "mul"

    def __init__(self, fmt: Format, stages: int = 0):
        self.out_format = fmt.product_format()
        super().__init__(fmt, 1, stages, self._operands(fmt, 1), "product", self.out_format.width)

    def elaborate(self, platform):
        m = Module()
        pipe = Pipeline(m, self.stages, ["product"], self.valid_in)
        if isinstance(self.fmt, IntFormat):
            bits = _int_products(m, self.fmt, self.a, self.b)[0]
        else:
            (raw,), shape = _raw_products(m, self.fmt, self.a, self.b)
            bits = _round(m, pipe.cut("product", raw), shape, self.out_format)
        out, valid = pipe.output(bits)
        m.d.comb += [self.product.eq(out), self.valid_out.eq(valid)]
        return m


class AddUnit(_Unit):
    """Adder: ``sum = round(a + b)`` in the operand format, one rounding (RNE).

    Floats and posits: decode both, :class:`~hw.fpu.add.FusedAdd`, the format's
    rounder.  Integers wrap around.  Cut points: after the sum, then the output.
    """

    kind = "add"

    def __init__(self, fmt: Format, stages: int = 0):
        super().__init__(fmt, 1, stages, self._operands(fmt, 1), "sum", fmt.width)

    def elaborate(self, platform):
        m = Module()
        pipe = Pipeline(m, self.stages, ["sum"], self.valid_in)
        if isinstance(self.fmt, IntFormat):
            total = Signal(self.fmt.bits)
            m.d.comb += total.eq(self.a[0] + self.b[0])
            out, valid = pipe.output(pipe.cut("sum", total))
        else:
            m.submodules.decode_a = da = _decoder(self.fmt)
            m.submodules.decode_b = db = _decoder(self.fmt)
            m.submodules.add = add = FusedAdd(da.raw_shape, db.raw_shape, self.fmt.precision)
            m.d.comb += [da.bits.eq(self.a[0]), db.bits.eq(self.b[0]), add.x.eq(da.raw), add.y.eq(db.raw)]
            out, valid = pipe.output(_round(m, pipe.cut("sum", add.sum), add.out_shape, self.fmt))
        m.d.comb += [self.sum.eq(out), self.valid_out.eq(valid)]
        return m


class DotUnit(_Unit):
    """``acc_out = round(acc_in + sum_i a[i] * b[i])``, one rounding (RNE), ``lanes`` products.

    Floats, one lane (the MAC): exact raw product, fused add with the unpacked
    accumulator, shared rounder.  Floats, several lanes: the exact products are
    summed exactly in fixed point (:class:`~hw.fpu.fixed.ProductSum`), then fused
    with the accumulator and rounded once.  The accumulator format's subnormals,
    overflow and NaN rules apply; NaN results are the canonical NaN.
    Integers: exact products summed with the accumulator, wrapping modulo
    ``2**acc.bits``.  Posits: the accumulator is the quire; every exact
    product is added at the quire's LSB weight in two's complement (wrapping
    past the carry bits), and NaR (10...0) absorbs: a NaR operand or
    accumulator gives NaR.  Cut points: after the products, after the sum, then the output.
    """

    def __init__(self, fmt: Format, acc: Format, lanes: int = 1, stages: int = 0):
        self.check(fmt, acc, lanes)
        self.acc = acc
        self.kind = "mac" if lanes == 1 else "dot"
        inputs = {**self._operands(fmt, lanes), "acc_in": In(acc.width)}
        super().__init__(fmt, lanes, stages, inputs, "acc_out", acc.width)

    @staticmethod
    def check(fmt: Format, acc: Format, lanes: int):
        """ValueError if these parameters make no dot unit (checked before construction)."""
        if isinstance(fmt, PositFormat):
            if acc != fmt.quire():
                raise ValueError(f"a posit MAC accumulates into its quire ({fmt.quire().name}), not {acc.name}")
        elif isinstance(fmt, IntFormat) != isinstance(acc, IntFormat):
            raise ValueError(f"accumulator {acc.name} does not suit operand format {fmt.name}")
        elif isinstance(fmt, FloatFormat) and isinstance(lanes, int) and lanes > 1:
            ProductSum.check_width(MulRaw.product_shape(RawShape.of(fmt), RawShape.of(fmt)))

    def elaborate(self, platform):
        m = Module()
        pipe = Pipeline(m, self.stages, ["product", "sum"], self.valid_in)
        if isinstance(self.fmt, IntFormat):
            products = _int_products(m, self.fmt, self.a, self.b)
            *products, acc = pipe.cut("product", *products, self.acc_in)
            total = Signal(self.acc.bits)
            m.d.comb += total.eq(adder_tree([acc.as_signed() if self.acc.signed else acc, *products]))
            out, valid = pipe.output(pipe.cut("sum", total))
        elif isinstance(self.acc, QuireFormat):
            out, valid = self._quire(m, pipe)
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
            out, valid = pipe.output(_round(m, pipe.cut("sum", add.sum), add.out_shape, self.acc))
        m.d.comb += [self.acc_out.eq(out), self.valid_out.eq(valid)]
        return m

    def _quire(self, m, pipe):
        quire = self.acc
        products, shape = _raw_products(m, self.fmt, self.a, self.b)
        *products, acc = pipe.cut("product", *products, self.acc_in)
        # Place each product on the quire grid: shift up from the raw shape's lowest
        # exponent, then drop the constant number of bits below the quire's LSB
        # (always zero for a product of posits).
        drop = quire.lsb_exp - shape.exp_lo
        terms, nar = [], Signal()
        nar_terms = [acc == quire.nar_code]
        for i, p in enumerate(products):
            placed = Signal(quire.bits + drop, name=f"placed{i}")
            m.d.comb += placed.eq(p.sig << (p.exp - shape.exp_lo).as_unsigned())
            term = Signal(signed(quire.bits), name=f"term{i}")
            m.d.comb += term.eq(Mux(p.sign, -placed[drop:], placed[drop:]))
            terms.append(term)
            nar_terms.append(p.nan)
        m.d.comb += nar.eq(_any(nar_terms))
        total = Signal(quire.bits)
        m.d.comb += total.eq(Mux(nar, quire.nar_code, adder_tree([acc, *terms])))
        return pipe.output(pipe.cut("sum", total))


class ReadoutUnit(_Unit):
    """Quire read-out: ``result`` = the quire ``acc_in`` rounded (RNE, once) to its posit.

    Cut points: after the raw magnitude, then the output.
    """

    kind = "readout"

    def __init__(self, fmt: PositFormat, stages: int = 0):
        if not isinstance(fmt, PositFormat):
            raise ValueError(f"a read-out unit rounds a posit quire; {fmt.name} is not a posit format")
        self.acc = fmt.quire()
        super().__init__(fmt, 1, stages, {"acc_in": In(self.acc.width)}, "result", fmt.width)

    def elaborate(self, platform):
        m = Module()
        pipe = Pipeline(m, self.stages, ["raw"], self.valid_in)
        m.submodules.quire = quire = QuireToRaw(self.acc)
        m.d.comb += quire.bits.eq(self.acc_in)
        out, valid = pipe.output(_round(m, pipe.cut("raw", quire.raw), quire.raw_shape, self.fmt))
        m.d.comb += [self.result.eq(out), self.valid_out.eq(valid)]
        return m


def _any(values):
    return balanced_tree(values, lambda x, y: x | y)


def _raw_products(m, fmt, a, b, fmt_b=None):
    """Decode every lane of ``a`` (``fmt``) and ``b`` (``fmt_b``, default ``fmt``), multiply exactly;
    (raw products, their RawShape)."""
    products = []
    for i in range(len(a)):
        m.submodules[f"unpack_a{i}"] = ua = _decoder(fmt)
        m.submodules[f"unpack_b{i}"] = ub = _decoder(fmt if fmt_b is None else fmt_b)
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
