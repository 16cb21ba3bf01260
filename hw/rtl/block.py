"""Block-scaled units: the block dot product and the block quantizer (OCP MX, NVFP4).

Ports follow the shared convention (``a``, ``b``, ``acc_in``, ``valid_in``,
``acc_out``, ``valid_out``) with the block's scales beside the operands:

================  ===  =================================================
``a``, ``b``      in   one block of element codes each, lane 0 in the LSBs
``a_scale``, ...  in   ``a_scale``/``b_scale``: the blocks' scale codes
``acc_in``        in   fp32 accumulator
``acc_out``       out  ``round(acc_in + a_scale * b_scale * sum a*b)``
================  ===  =================================================

The quantizer takes one block of fp32 codes on ``a`` (and NVFP4's fp32
tensor scale on ``tensor_scale``) and returns ``elements`` and ``scale``.
"""

from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal, signed
from amaranth.lib import data
from amaranth.lib.wiring import In, Out

from ..formats import FP32, BlockFormat, FloatFormat, IntFormat, ScaleFormat, ScaleRule
from ..fpu.add import FusedAdd
from ..fpu.div import DivRaw
from ..fpu.fixed import MAX_FIXED_WIDTH, AlignedSum, ProductSum, adder_tree, balanced_tree
from ..fpu.mul import MulRaw
from ..fpu.raw import RawShape, Unpack, UnpackScale, normalise
from ..fpu.rounder import FixedRounder, Rounder
from .pipeline import Pipeline
from .common import Unit, any_of, int_products, raw_products, round_to

__all__ = ["BlockDotUnit", "QuantUnit"]


def _scale_decoder(fmt):
    return UnpackScale(fmt) if isinstance(fmt, ScaleFormat) else Unpack(fmt)


class BlockDotUnit(Unit):
    """``acc_out = round(acc_in + a_scale * b_scale * sum_i a[i] * b[i])`` into fp32, one rounding (RNE).

    One block per cycle (``lanes = block_size``).  Float elements: exact
    products summed exactly (:class:`~hw.fpu.fixed.ProductSum`) or, with
    ``align_bits``, aligned to the largest and truncated
    (:class:`~hw.fpu.fixed.AlignedSum`); integer elements: an exact integer
    adder tree.  The sum is multiplied exactly by the product of the two
    decoded scales, fused with the accumulator and rounded once: the golden
    model is :func:`hw.formats.block.block_dot`.  NVFP4's per-tensor scales
    are not applied here (they scale a whole output, after accumulation).
    Cut points: after the products, after the scaled sum, then the output.
    """

    kind = "dot"

    def __init__(self, fmt: BlockFormat, acc: FloatFormat | None = None, stages: int = 0,
                 align_bits: int | None = None):
        self.acc = acc or FP32
        if align_bits is not None and isinstance(fmt.element, IntFormat):
            raise ValueError(f"{fmt.name} has integer elements, which are always summed exactly; drop align_bits")
        if align_bits is not None and (not isinstance(align_bits, int) or isinstance(align_bits, bool)
                                       or not 2 <= align_bits <= MAX_FIXED_WIDTH):
            raise ValueError(f"alignment width must be an int between 2 and {MAX_FIXED_WIDTH}, not {align_bits!r}")
        self.align_bits = align_bits
        operands = {
            "a": In(data.ArrayLayout(fmt.width, fmt.block_size)),
            "b": In(data.ArrayLayout(fmt.width, fmt.block_size)),
            "a_scale": In(fmt.scale.width),
            "b_scale": In(fmt.scale.width),
            "acc_in": In(self.acc.width),
        }
        super().__init__(fmt, fmt.block_size, stages, operands, "acc_out", self.acc.width)

    def name_parts(self) -> list[str]:
        align = [f"a{self.align_bits}"] if self.align_bits is not None else []
        return [self.fmt.name, f"x{self.lanes}", self.acc.name, *align]

    def elaborate(self, platform):
        m = Module()
        fmt = self.fmt
        pipe = Pipeline(m, self, ["product", "sum"])
        m.submodules.unpack_acc = unpack_acc = Unpack(self.acc)
        m.submodules.unpack_a_scale = sa = _scale_decoder(fmt.scale)
        m.submodules.unpack_b_scale = sb = _scale_decoder(fmt.scale)
        m.d.comb += [unpack_acc.bits.eq(self.acc_in), sa.bits.eq(self.a_scale), sb.bits.eq(self.b_scale)]
        m.submodules.scale_mul = scale_mul = MulRaw(sa.raw_shape, sb.raw_shape)
        m.d.comb += [scale_mul.a.eq(sa.raw), scale_mul.b.eq(sb.raw)]

        if isinstance(fmt.element, IntFormat):
            products = int_products(m, fmt.element, self.a, self.b)
            *products, scale, acc = pipe.cut("product", *products, scale_mul.product, unpack_acc.raw)
            total = Signal(signed(2 * fmt.element.bits + (fmt.block_size - 1).bit_length()))
            m.d.comb += total.eq(adder_tree(products))
            sum_shape = RawShape(total.shape().width, -2 * fmt.element_frac_bits, -2 * fmt.element_frac_bits)
            block_sum = Signal(sum_shape.layout)
            m.d.comb += [
                block_sum.zero.eq(total == 0),
                block_sum.sign.eq(total < 0),
                block_sum.sig.eq(Mux(total < 0, -total, total)),
                block_sum.exp.eq(sum_shape.exp_lo),
            ]
        else:
            products, term_shape = raw_products(m, fmt.element, self.a, self.b)
            *products, scale, acc = pipe.cut("product", *products, scale_mul.product, unpack_acc.raw)
            if self.align_bits is None:
                m.submodules.product_sum = psum = ProductSum(term_shape, fmt.block_size)
            else:
                m.submodules.product_sum = psum = AlignedSum(term_shape, fmt.block_size, self.align_bits)
            for i, p in enumerate(products):
                m.d.comb += psum.terms[i].eq(p)
            block_sum, sum_shape = psum.sum, psum.out_shape

        m.submodules.apply_scale = apply_scale = MulRaw(sum_shape, scale_mul.out_shape)
        m.d.comb += [apply_scale.a.eq(block_sum), apply_scale.b.eq(scale)]
        m.submodules.add = add = FusedAdd(unpack_acc.raw_shape, apply_scale.out_shape, self.acc.precision)
        m.d.comb += [add.x.eq(acc), add.y.eq(apply_scale.product)]
        out, valid = pipe.output(round_to(m, pipe.cut("sum", add.sum), add.out_shape, self.acc))
        m.d.comb += [self.acc_out.eq(out), self.valid_out.eq(valid)]
        return m


class QuantUnit(Unit):
    """One block of fp32 in, its element codes and scale code out: :func:`hw.formats.block.quantize` in hardware.

    The largest magnitude is found by comparing codes (fp32 magnitudes order
    as integers).  Power-of-two scales: its leading-bit exponent minus the
    element's ``emax`` (rule ``floor``), plus one when its significand exceeds
    the element maximum's (rule ``ceil``), clamped to the scale's range; each
    element is then the input with that exponent removed, through the shared
    rounder (saturating) or, for integer elements, the fixed-point rounder.
    Float scales (NVFP4, rule ``nearest``): ``amax / (max_elem * tensor_scale)``
    and ``x / (scale * tensor_scale)`` through restoring dividers
    (:class:`~hw.fpu.div.DivRaw`), each rounded once.  A NaN or Inf input gives
    the NaN scale and +0 elements.  Cut points: after the scale, then the output.
    """

    kind = "quant"

    def __init__(self, fmt: BlockFormat, stages: int = 0):
        if isinstance(fmt.scale, FloatFormat) and fmt.rule is not ScaleRule.NEAREST:
            raise ValueError(f"the quantizer for float-scaled blocks implements the 'nearest' rule, not {fmt.rule.value!r}")
        self.source = FP32
        inputs = {"a": In(data.ArrayLayout(self.source.width, fmt.block_size))}
        if fmt.tensor_scale:
            inputs["tensor_scale"] = In(self.source.width)
        inputs["elements"] = Out(data.ArrayLayout(fmt.width, fmt.block_size))
        super().__init__(fmt, fmt.block_size, stages, inputs, "scale", fmt.scale.width)

    def elaborate(self, platform):
        m = Module()
        fmt, src = self.fmt, self.source
        pipe = Pipeline(m, self, ["scale"])
        lanes = list(self.a)
        exp_ones = ((1 << src.exp_bits) - 1) << src.man_bits
        special = Signal()
        m.d.comb += special.eq(any_of([x[:src.width - 1] >= exp_ones for x in lanes]))
        amax_code = Signal(src.width - 1)
        m.d.comb += amax_code.eq(balanced_tree([x[:src.width - 1] for x in lanes], lambda x, y: Mux(x > y, x, y)))
        m.submodules.unpack_amax = unpack_amax = Unpack(src)
        m.d.comb += unpack_amax.bits.eq(amax_code)

        raws = []
        for i, x in enumerate(lanes):
            m.submodules[f"unpack{i}"] = u = Unpack(src)
            m.d.comb += u.bits.eq(x)
            raws.append(u.raw)
        if isinstance(fmt.scale, ScaleFormat):
            scale, element_raws, shape = self._power_of_two(m, unpack_amax, raws, special)
        else:
            scale, element_raws, shape = self._float_scale(m, unpack_amax, raws, special)
        scale, special, *element_raws = pipe.cut("scale", scale, special, *element_raws)

        codes = []
        for i, raw in enumerate(element_raws):
            if isinstance(fmt.element, IntFormat):
                m.submodules[f"round{i}"] = r = FixedRounder(shape, fmt.element.bits, fmt.element_frac_bits)
            else:
                m.submodules[f"round{i}"] = r = Rounder(shape, fmt.element, saturate=True)
            m.d.comb += r.raw.eq(raw)
            codes.append(Mux(special, 0, r.bits))
        both = Signal(fmt.width * fmt.block_size + fmt.scale.width)
        m.d.comb += both.eq(Cat(*codes, Mux(special, fmt.scale.nan_code, scale)))
        out, valid = pipe.output(both)
        split = fmt.width * fmt.block_size
        m.d.comb += [self.elements.as_value().eq(out[:split]), self.scale.eq(out[split:]), self.valid_out.eq(valid)]
        return m

    def _power_of_two(self, m, unpack_amax, raws, special):
        """(scale code, element raws with the scale's exponent removed, their RawShape)."""
        fmt, shape = self.fmt, unpack_amax.raw_shape
        amax = unpack_amax.raw
        width = shape.sig_width
        normalised, top = normalise(m, amax, shape, None, signed(shape.top_shape.width + 2))
        exponent = Signal.like(top)
        m.d.comb += exponent.eq(top - fmt.element_emax)
        if fmt.rule is ScaleRule.CEIL:
            limit = int(fmt.element_max * 2 ** (width - 1 - fmt.element_emax))
            exponent = Mux(normalised > limit, exponent + 1, exponent)
        biased = Signal(signed(top.shape().width + 1))
        m.d.comb += biased.eq(exponent + fmt.scale.bias)
        scale = Signal(fmt.scale.width)
        nan = fmt.scale.nan_code
        m.d.comb += scale.eq(Mux(amax.zero | (biased < 0), 0, Mux(biased >= nan, nan, biased)))
        elem_shape = RawShape(width, shape.exp_lo - (nan - 1 - fmt.scale.bias), shape.exp_hi + fmt.scale.bias)
        elements = []
        for i, raw in enumerate(raws):
            e = Signal(elem_shape.layout, name=f"scaled{i}")
            m.d.comb += [e.sign.eq(raw.sign), e.zero.eq(raw.zero), e.sig.eq(raw.sig),
                         e.exp.eq(raw.exp - (scale - fmt.scale.bias))]
            elements.append(e)
        return scale, elements, elem_shape

    def _float_scale(self, m, unpack_amax, raws, special):
        """NVFP4: scale = round(amax / (max_elem * ts)); elements x / (scale * ts), each rounded once."""
        fmt, src_shape = self.fmt, unpack_amax.raw_shape
        m.submodules.unpack_ts = unpack_ts = Unpack(self.source)
        m.d.comb += unpack_ts.bits.eq(self.tensor_scale)
        mantissa, exponent = _integer_and_exponent(fmt.element_max)
        max_shape = RawShape(mantissa.bit_length(), exponent, exponent)
        max_elem = Signal(max_shape.layout)
        m.d.comb += [max_elem.sig.eq(mantissa), max_elem.exp.eq(exponent)]
        m.submodules.limit = limit = MulRaw(max_shape, unpack_ts.raw_shape)
        m.d.comb += [limit.a.eq(max_elem), limit.b.eq(unpack_ts.raw)]
        m.submodules.scale_div = scale_div = DivRaw(src_shape, limit.out_shape, fmt.scale.precision + 2)
        m.d.comb += [scale_div.num.eq(unpack_amax.raw), scale_div.den.eq(limit.product)]
        m.submodules.scale_round = scale_round = Rounder(scale_div.out_shape, fmt.scale, saturate=True)
        m.d.comb += scale_round.raw.eq(scale_div.quotient)

        m.submodules.unpack_scale = unpack_scale = Unpack(fmt.scale)
        m.d.comb += unpack_scale.bits.eq(scale_round.bits)
        m.submodules.divisor = divisor = MulRaw(unpack_scale.raw_shape, unpack_ts.raw_shape)
        m.d.comb += [divisor.a.eq(unpack_scale.raw), divisor.b.eq(unpack_ts.raw)]
        elements, shape = [], None
        for i, raw in enumerate(raws):
            m.submodules[f"div{i}"] = div = DivRaw(src_shape, divisor.out_shape, fmt.element.precision + 2)
            m.d.comb += [div.num.eq(raw), div.den.eq(divisor.product)]
            shape = div.out_shape
            signed_zero = Signal(shape.layout, name=f"zero{i}")
            m.d.comb += [signed_zero.zero.eq(1), signed_zero.sign.eq(raw.sign)]
            e = Signal(shape.layout, name=f"quotient{i}")
            m.d.comb += e.eq(Mux(divisor.product.zero, signed_zero.as_value(), div.quotient.as_value()))
            elements.append(e)
        return scale_round.bits, elements, shape


def _integer_and_exponent(value: float) -> tuple[int, int]:
    """(odd integer, exponent) with ``value == integer * 2**exponent``."""
    mantissa, exponent = value, 0
    while mantissa != int(mantissa):
        mantissa, exponent = mantissa * 2, exponent - 1
    mantissa = int(mantissa)
    while mantissa % 2 == 0:
        mantissa, exponent = mantissa // 2, exponent + 1
    return mantissa, exponent

