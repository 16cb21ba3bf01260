"""A tensor core's fused dot-product step, parameterised by a :class:`~hw.formats.tensorcore.FusedDotSpec`."""

from __future__ import annotations

from amaranth import Module, Mux, Signal
from amaranth.lib import data
from amaranth.lib.wiring import In

from ..formats import FloatFormat, Rounding
from ..formats.tensorcore import CTerm, FusedDotSpec
from ..fpu.add import FusedAdd
from ..fpu.fixed import AlignedSum
from ..fpu.raw import RawShape, Unpack, leading_zeros
from ..fpu.rounder import Rounder
from .pipeline import Pipeline
from .common import Unit, raw_products

__all__ = ["FusedDotUnit"]


class FusedDotUnit(Unit):
    """``acc_out = step(acc_in, a, b)``: one step of ``spec`` (golden: :func:`hw.formats.tensorcore.step`).

    ``lanes`` products of ``fmt`` (port ``a``) and ``fmt_b`` (port ``b``,
    default ``fmt``; floats of at most 19 bits: FP8, fp16, bf16, tf32) and the
    accumulator ``acc_in`` (a code of ``spec.output``, fp32 or fp16): exact
    products; one :class:`AlignedSum` window of ``spec.align_bits`` bits below
    the largest top (truncation); the shared :class:`Rounder` into
    ``spec.sum_format`` with ``spec.sum_rounding``, widened to the output.
    ``c_term = ALIGNED``: the accumulator, normalised (leading-zero count) so
    that its top, like a product's, sits two bits above its exponent, is one
    more term of the window (an exact zero result is +0).  ``ADDED``: the
    window sums the products alone and a :class:`FusedAdd` adds the rounded
    sum to the accumulator, rounded to nearest even into the output.  A NaN
    result is ``spec.nan_code``.  The K loop (feed ``acc_out`` back) and fp32
    promotion (an fp32 ``AddUnit``) sit outside, as on the GPU.  Cut points:
    after the products, after the sum.
    """

    kind = "tensorcore"

    def __init__(self, spec: FusedDotSpec, fmt: FloatFormat, fmt_b: FloatFormat | None = None,
                 lanes: int | None = None, stages: int = 0):
        fmt_b = fmt if fmt_b is None else fmt_b
        lanes = spec.step if lanes is None else lanes
        self.check(spec, fmt, fmt_b, lanes)
        self.spec, self.fmt_b, self.acc = spec, fmt_b, spec.output
        inputs = {"a": In(data.ArrayLayout(fmt.width, lanes)), "b": In(data.ArrayLayout(fmt_b.width, lanes)),
                  "acc_in": In(spec.output.width)}
        super().__init__(fmt, lanes, stages, inputs, "acc_out", spec.output.width)

    def name_parts(self) -> list[str]:
        pair = [self.fmt.name] if self.fmt_b == self.fmt else [self.fmt.name, self.fmt_b.name]
        return [*pair, f"x{self.lanes}", self.spec.name]

    def header_lines(self) -> list[str]:
        """The spec's numerics, for the Verilog header (instead of the accumulator format's generic rounding)."""
        spec, out = self.spec, self.spec.output
        rounding = {Rounding.RTZ: "toward zero", Rounding.RNE: "to nearest even"}
        c = ("acc_in is one more term of the window; an exact zero result is +0" if spec.c_term is CTerm.ALIGNED else
             f"the rounded sum (+0 if exactly zero) is added to acc_in by one IEEE {out.name} add, rounded to "
             "nearest even")
        return [f"accumulator: {out.name} (acc_in: C, acc_out: D): spec {spec.name}: steps of {spec.step} products "
                f"({self.lanes} lanes here), exact; every term truncated to a multiple of 2^(T - {spec.align_bits}), "
                f"T the largest top (leading exponent + 2); the sum rounded {rounding[spec.sum_rounding]} into "
                f"{spec.sum_format.name} ({spec.sum_bits} fraction bits, {out.name}'s range), widened to {out.name}; "
                f"{c}; NaN results are {spec.nan_code:#x}",
                f"spec source: {spec.source or 'user-defined'}"]

    @staticmethod
    def check(spec: FusedDotSpec, fmt, fmt_b, lanes):
        """ValueError if these parameters make no tensor-core unit (checked before construction)."""
        for f in (fmt, fmt_b):
            if not isinstance(f, FloatFormat) or f.width > 19:
                raise ValueError(f"a tensor-core unit multiplies floats of at most 19 bits (tf32), not {f.name}")
        if not isinstance(lanes, int) or isinstance(lanes, bool) or not 1 <= lanes <= spec.step:
            raise ValueError(f"a {spec.name} step takes 1..{spec.step} lanes, not {lanes!r}")
        if spec.term_rounding is not Rounding.RTZ:
            raise ValueError("the tensor-core unit truncates its aligned terms; term_rounding=RNE is golden-model only")

    def elaborate(self, platform):
        m = Module()
        spec, out_fmt = self.spec, self.spec.output
        aligned = spec.c_term is CTerm.ALIGNED
        pipe = Pipeline(m, self, ["product", "sum"])
        m.submodules.unpack_acc = unpack_acc = Unpack(out_fmt)
        m.d.comb += unpack_acc.bits.eq(self.acc_in)
        products, product_shape = raw_products(m, self.fmt, self.a, self.b, self.fmt_b)
        *products, acc = pipe.cut("product", *products, unpack_acc.raw)

        # Common raw shape: a product keeps its top (exp + sig width); the accumulator,
        # normalised to a leading 1 in the next-to-top bit, gets top = leading exponent + 2.
        acc_shape = unpack_acc.raw_shape
        width = max(product_shape.sig_width, acc_shape.sig_width + 1) if aligned else product_shape.sig_width
        lift_p = width - product_shape.sig_width
        lift_c = width - acc_shape.sig_width - 1
        shape = RawShape(width, min(product_shape.exp_lo - lift_p, acc_shape.exp_lo - acc_shape.sig_width - lift_c),
                         max(product_shape.exp_hi - lift_p, acc_shape.exp_hi - lift_c)) if aligned else product_shape
        m.submodules.window = window = AlignedSum(shape, self.lanes + aligned, spec.align_bits)
        for i, p in enumerate(products):
            m.d.comb += _place(window.terms[i], p, p.sig << lift_p, p.exp - lift_p)
        if aligned:
            shift = Signal(range(acc_shape.sig_width + 1))
            m.d.comb += shift.eq(leading_zeros(acc.sig))
            m.d.comb += _place(window.terms[self.lanes], acc, (acc.sig << shift)[:acc_shape.sig_width] << lift_c,
                               acc.exp - shift - lift_c)

        total, acc = pipe.cut("sum", window.sum, acc)
        positive_zero = Signal.like(total)
        m.d.comb += [positive_zero.eq(total), positive_zero.sign.eq(total.sign & ~total.zero)]
        m.submodules.round = rounder = Rounder(window.out_shape, spec.sum_format, rounding=spec.sum_rounding)
        m.d.comb += rounder.raw.eq(positive_zero)
        result = Signal(out_fmt.width)
        if aligned:
            m.d.comb += result.eq(Mux(total.nan, spec.nan_code, rounder.bits << (out_fmt.man_bits - spec.sum_bits)))
        else:
            m.submodules.unpack_sum = unpack_sum = Unpack(spec.sum_format)
            m.submodules.add = add = FusedAdd(unpack_sum.raw_shape, acc_shape, out_fmt.precision)
            m.submodules.round_out = round_out = Rounder(add.out_shape, out_fmt, rounding=Rounding.RNE)
            m.d.comb += [unpack_sum.bits.eq(rounder.bits), add.x.eq(unpack_sum.raw), add.y.eq(acc),
                         round_out.raw.eq(add.sum),
                         result.eq(Mux(add.sum.nan, spec.nan_code, round_out.bits))]
        out, valid = pipe.output(result)
        m.d.comb += [self.acc_out.eq(out), self.valid_out.eq(valid)]
        return m


def _place(term, raw, sig, exp):
    """Assignments that put ``raw`` (any raw shape) into ``term`` with significand ``sig`` at LSB weight ``exp``."""
    return [term.nan.eq(raw.nan), term.inf.eq(raw.inf), term.zero.eq(raw.zero), term.sign.eq(raw.sign),
            term.sig.eq(sig), term.exp.eq(exp)]
