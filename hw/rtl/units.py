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
``sum``        out  ``round(a + b)`` in the operand format (adder)
``result``     out  the quire ``acc_in`` rounded to its posit (read-out)
``valid_out``  out  ``valid_in`` delayed by ``latency`` cycles
=============  ===  ====================================================

A unit with ``stages = 0`` is combinational and has no clock; otherwise it
has Amaranth's ``clk`` and ``rst`` and a latency of ``stages`` cycles with one
result per cycle.
"""

from __future__ import annotations

from amaranth import Module, Mux, Signal, signed
from amaranth.lib.wiring import In

from ..formats import FloatFormat, Format, IntFormat, PositFormat, QuireFormat
from ..fpu.add import FusedAdd
from ..fpu.fixed import ProductSum, adder_tree
from ..fpu.mul import MulRaw
from ..fpu.posit import QuireToRaw
from ..fpu.raw import RawShape, Unpack
from .common import Unit, any_of, decoder, int_products, operand_ports, raw_products, round_to
from .pipeline import Pipeline

__all__ = ["MulUnit", "AddUnit", "DotUnit", "ReadoutUnit"]


class MulUnit(Unit):
    """Exact multiplier: ``product = a * b`` in ``fmt.product_format()``, nothing rounded.

    Floats and posits: decode, multiply significands, add exponents, pack
    through the shared rounder into ``fmt.product_format()`` (exact: that
    format holds every product as a normal number).  Integers: a product of
    twice the width.  Cut points: after the raw product, then the output.
    """

    kind = "mul"

    def __init__(self, fmt: Format, stages: int = 0):
        self.out_format = self.result_format(fmt)
        super().__init__(fmt, 1, stages, operand_ports(fmt, 1), "product", self.out_format.width)

    def elaborate(self, platform):
        m = Module()
        pipe = Pipeline(m, self, ["product"])
        if isinstance(self.fmt, IntFormat):
            bits = int_products(m, self.fmt, self.a, self.b)[0]
        else:
            (raw,), shape = raw_products(m, self.fmt, self.a, self.b)
            bits = round_to(m, pipe.cut("product", raw), shape, self.out_format)
        out, valid = pipe.output(bits)
        m.d.comb += [self.product.eq(out), self.valid_out.eq(valid)]
        return m

    def result_format(self, fmt: Format) -> Format:
        """The format ``product`` is in: the exact product format."""
        return fmt.product_format()


class AddUnit(Unit):
    """Adder: ``sum = round(a + b)`` in the operand format, one rounding (RNE).

    Floats and posits: decode both, :class:`~hw.fpu.add.FusedAdd`, the format's
    rounder.  Integers wrap around.  Cut points: after the sum, then the output.
    """

    kind = "add"

    def __init__(self, fmt: Format, stages: int = 0):
        super().__init__(fmt, 1, stages, operand_ports(fmt, 1), "sum", fmt.width)

    def elaborate(self, platform):
        m = Module()
        pipe = Pipeline(m, self, ["sum"])
        if isinstance(self.fmt, IntFormat):
            total = Signal(self.fmt.bits)
            m.d.comb += total.eq(self.a[0] + self.b[0])
            out, valid = pipe.output(pipe.cut("sum", total))
        else:
            m.submodules.decode_a = da = decoder(self.fmt)
            m.submodules.decode_b = db = decoder(self.fmt)
            m.submodules.add = add = FusedAdd(da.raw_shape, db.raw_shape, self.fmt.precision)
            m.d.comb += [da.bits.eq(self.a[0]), db.bits.eq(self.b[0]), add.x.eq(da.raw), add.y.eq(db.raw)]
            out, valid = pipe.output(round_to(m, pipe.cut("sum", add.sum), add.out_shape, self.fmt))
        m.d.comb += [self.sum.eq(out), self.valid_out.eq(valid)]
        return m


class DotUnit(Unit):
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
        inputs = {**operand_ports(fmt, lanes), "acc_in": In(acc.width)}
        super().__init__(fmt, lanes, stages, inputs, "acc_out", acc.width)

    def name_parts(self) -> list[str]:
        return [self.fmt.name] + ([f"x{self.lanes}"] if self.lanes > 1 else []) + [
            "quire" if isinstance(self.acc, QuireFormat) else self.acc.name]

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
        pipe = Pipeline(m, self, ["product", "sum"])
        if isinstance(self.fmt, IntFormat):
            products = int_products(m, self.fmt, self.a, self.b)
            *products, acc = pipe.cut("product", *products, self.acc_in)
            total = Signal(self.acc.bits)
            m.d.comb += total.eq(adder_tree([acc.as_signed() if self.acc.signed else acc, *products]))
            out, valid = pipe.output(pipe.cut("sum", total))
        elif isinstance(self.acc, QuireFormat):
            out, valid = self._quire(m, pipe)
        else:
            m.submodules.unpack_acc = unpack_acc = Unpack(self.acc)
            m.d.comb += unpack_acc.bits.eq(self.acc_in)
            products, term_shape = raw_products(m, self.fmt, self.a, self.b)
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
            out, valid = pipe.output(round_to(m, pipe.cut("sum", add.sum), add.out_shape, self.acc))
        m.d.comb += [self.acc_out.eq(out), self.valid_out.eq(valid)]
        return m

    def _quire(self, m, pipe):
        quire = self.acc
        products, shape = raw_products(m, self.fmt, self.a, self.b)
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
        m.d.comb += nar.eq(any_of(nar_terms))
        total = Signal(quire.bits)
        m.d.comb += total.eq(Mux(nar, quire.nar_code, adder_tree([acc, *terms])))
        return pipe.output(pipe.cut("sum", total))


class ReadoutUnit(Unit):
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
        pipe = Pipeline(m, self, ["raw"])
        m.submodules.quire = quire = QuireToRaw(self.acc)
        m.d.comb += quire.bits.eq(self.acc_in)
        out, valid = pipe.output(round_to(m, pipe.cut("raw", quire.raw), quire.raw_shape, self.fmt))
        m.d.comb += [self.result.eq(out), self.valid_out.eq(valid)]
        return m
