"""The accumulating MAC: an internal accumulator whose loop closes in one cycle at any clock.

Real MAC arrays do not feed a rounded result back through a float adder every
cycle: the loop would set their clock.  This unit keeps the running sum
exactly, in fixed point, in carry-save form, so the loop is one full adder
deep; the front (decode, exact product, alignment onto the accumulator grid)
and the read-out (resolve the carry-save pair, normalise, round once) are
pipelined around it.

Numerics: ``acc_out`` after a vector is the sum of every product since the
last vector with ``clear`` set (that one included), rounded once:

* floats: the products are exact and the sum is exact in a two's-complement
  fixed-point accumulator of ``span + carry_bits`` bits (``span`` covers every
  product of the format, so ``2**carry_bits`` maximal products fit); it is
  rounded once (RNE) into the accumulator format at read-out, with that
  format's overflow rule.  NaN if a NaN product (or Inf - Inf) was seen since
  ``clear``, +-Inf if infinities of one sign were.  This is the dot-product
  numerics of the package (one rounding), not an iterated fp32 MAC;
* integers: the sum wraps modulo ``2**acc.bits`` (int32), as the MAC does;
* posits: the accumulator is the quire (NaR absorbs until ``clear``).

Ports: ``a``, ``b`` (one lane each), ``clear``, ``valid_in``; ``acc_out`` (the
rounded total), ``valid_out``.  The loop's registers are named ``accumulator_*``
(static timing reports their loop by that name).  The first vector after reset must have ``clear``
set (the carry-save registers have no reset).  Latency ``stages`` (at least 1, the loop
register): stage 1 is the loop; ``stages = 2`` adds a read-out register;
``3`` also registers the products in front of the loop; further stages add
output registers.  The initiation interval is one cycle.
"""

from __future__ import annotations

import numpy as np
from amaranth import Cat, Module, Mux, Signal, signed
from amaranth.lib.wiring import In

from ..formats import FloatFormat, IntFormat, PositFormat, QuireFormat, default_accumulator
from ..formats.exact import Exact, multiply
from ..fpu.fixed import ProductSum
from ..fpu.mul import MulRaw
from ..fpu.raw import RawShape
from ..fpu.rounder import Rounder
from .builtin_kinds import check_accumulator
from .common import Unit, int_products, operand_ports, raw_products
from .registry import UnitKind, lanes_of, register
from .stimulus import operand_pairs
from .workload import TERMS, Workload, gaussian_codes

__all__ = ["AccumulatingMacUnit", "ACC_MAC", "CARRY_BITS"]

#: Carry bits of the float accumulator: 2**16 maximal products add without overflow.
CARRY_BITS = 16


class AccumulatingMacUnit(Unit):
    """``acc_out = round(sum of a*b since clear)`` with a one-cycle carry-save loop (see the module docstring)."""

    kind = "acc_mac"

    def __init__(self, fmt, acc=None, stages: int = 1):
        acc = acc or default_accumulator(fmt)
        if not isinstance(stages, int) or stages < 1:
            raise ValueError(f"an acc_mac unit needs stages >= 1 (the accumulator register), not {stages!r}")
        self.acc = acc
        if isinstance(fmt, FloatFormat):
            shape = MulRaw.product_shape(RawShape.of(fmt), RawShape.of(fmt))
            self.width = ProductSum.check_width(shape) + CARRY_BITS + 1
            self.lsb_exp = shape.exp_lo
        elif isinstance(fmt, IntFormat):
            self.width, self.lsb_exp = acc.bits, 0
        else:
            self.width, self.lsb_exp = acc.bits, acc.lsb_exp
        inputs = {**operand_ports(fmt, 1), "clear": In(1)}
        super().__init__(fmt, 1, stages, inputs, "acc_out", acc.width)

    def name_parts(self) -> list[str]:
        return [self.fmt.name, "quire" if isinstance(self.acc, QuireFormat) else self.acc.name]

    def elaborate(self, platform):
        m = Module()
        fmt, width = self.fmt, self.width
        term = Signal(signed(width))
        nan, pos_inf, neg_inf = Signal(), Signal(), Signal()
        if isinstance(fmt, IntFormat):
            (product,) = int_products(m, fmt, self.a, self.b)
            m.d.comb += term.eq(product)
        else:
            (product,), shape = raw_products(m, fmt, self.a, self.b)
            lowest = self.lsb_exp if isinstance(fmt, PositFormat) else shape.exp_lo
            drop = lowest - shape.exp_lo
            placed = Signal(width + max(drop, 0))
            m.d.comb += placed.eq(product.sig << (product.exp - shape.exp_lo).as_unsigned())
            magnitude = placed[drop:] if drop > 0 else placed
            m.d.comb += [term.eq(Mux(product.sign, -magnitude, magnitude)), nan.eq(product.nan),
                         pos_inf.eq(product.inf & ~product.sign), neg_inf.eq(product.inf & product.sign)]

        # Front: registers before the loop once stages >= 3.
        valid, clear = self.valid_in, self.clear
        front = [term, nan, pos_inf, neg_inf, clear, valid]
        if self.stages >= 3:
            regs = [Signal.like(v, name=f"front_{i}", reset_less=i < len(front) - 1) for i, v in enumerate(front)]
            m.d.sync += [r.eq(v) for r, v in zip(regs, front)]
            front = regs
        term, nan, pos_inf, neg_inf, clear, valid = front

        # The loop: carry-save (S, C) += term, one full adder deep; sticky special flags.
        s = Signal(width, name="accumulator_sum", reset_less=True)
        c = Signal(width, name="accumulator_carry", reset_less=True)
        flags = Signal(3, name="accumulator_flags", reset_less=True)
        base_s, base_c = Mux(clear, 0, s), Mux(clear, 0, c)
        base_flags = Mux(clear, 0, flags)
        t = term.as_unsigned()
        with m.If(valid):
            m.d.sync += [
                s.eq(base_s ^ base_c ^ t),
                c.eq(((base_s & base_c) | (base_s & t) | (base_c & t)) << 1),
                flags.eq(base_flags | Cat(nan, pos_inf, neg_inf)),
            ]
        loop_valid = Signal()
        m.d.sync += loop_valid.eq(valid)

        # Read-out: resolve the pair, round into the accumulator format.
        total = Signal(signed(width))
        m.d.comb += total.eq(s + c)
        out = Signal(self.acc.width)
        if isinstance(fmt, IntFormat):
            m.d.comb += out.eq(total)
        elif isinstance(fmt, PositFormat):
            m.d.comb += out.eq(Mux(flags[0], self.acc.nar_code, total))
        else:
            raw_shape = RawShape(width, self.lsb_exp, self.lsb_exp)
            raw = Signal(raw_shape.layout)
            is_nan = flags[0] | (flags[1] & flags[2])
            m.d.comb += [raw.sig.eq(Mux(total < 0, -total, total)), raw.sign.eq(Mux(flags[1] | flags[2], flags[2],
                                                                                   total < 0)),
                         raw.exp.eq(self.lsb_exp), raw.nan.eq(is_nan), raw.inf.eq(~is_nan & (flags[1] | flags[2])),
                         raw.zero.eq(total == 0)]
            m.submodules.round = rounder = Rounder(raw_shape, self.acc)
            m.d.comb += [rounder.raw.eq(raw), out.eq(rounder.bits)]
        value, out_valid = out, loop_valid
        for i in range(self.stages - 1 - (self.stages >= 3)):
            reg, reg_valid = Signal.like(value, name=f"out{i}_r", reset_less=True), Signal(name=f"out{i}_valid")
            m.d.sync += [reg.eq(value), reg_valid.eq(out_valid)]  # free-running: no enable loop around the loop
            value, out_valid = reg, reg_valid
        m.d.comb += [self.acc_out.eq(value), self.valid_out.eq(out_valid)]
        return m


def _reference(unit, inputs):
    """The running exact sum since each clear, rounded once per vector (a loop over the vectors)."""
    fmt, acc = unit.fmt, unit.acc
    a, b = lanes_of(inputs, "a")[:, 0], lanes_of(inputs, "b")[:, 0]
    clear = np.asarray(inputs["clear"]).astype(bool).reshape(-1)
    products = multiply(fmt.unpack(a), fmt.unpack(b))
    lsb = unit.lsb_exp
    mags = [int(v) << int(e - lsb) if e >= lsb else 0 for v, e in zip(products.mag, products.exp)]
    total, nan, pos, neg, out = 0, False, False, False, []
    for i, mag in enumerate(mags):
        if clear[i]:
            total, nan, pos, neg = 0, False, False, False
        total += -mag if products.neg[i] else mag
        nan |= bool(products.nan[i])
        pos |= bool(products.inf[i] and not products.neg[i])
        neg |= bool(products.inf[i] and products.neg[i])
        out.append((total, nan, pos, neg))
    totals = np.array([t for t, *_ in out], dtype=object)
    if isinstance(fmt, IntFormat):
        return {"acc_out": (totals & ((1 << acc.bits) - 1)).astype(np.uint64)}
    if isinstance(fmt, PositFormat):
        codes = totals & ((1 << acc.bits) - 1)
        codes = np.where([f[1] for f in out], acc.nar_code, codes)
        return {"acc_out": codes.astype(object) if acc.bits > 64 else codes.astype(np.uint64)}
    wrapped = totals & ((1 << unit.width) - 1)
    signed_totals = np.where(wrapped >> (unit.width - 1), wrapped - (1 << unit.width), wrapped)
    flags = np.array([f[1:] for f in out], dtype=bool)
    value = Exact(np.asarray(signed_totals < 0, dtype=bool), np.abs(signed_totals).astype(object),
                  np.full(len(out), lsb, dtype=np.int64), flags[:, 0] | (flags[:, 1] & flags[:, 2]),
                  (flags[:, 1] | flags[:, 2]) & ~(flags[:, 0] | (flags[:, 1] & flags[:, 2])))
    value.neg = np.where(value.inf, flags[:, 2], value.neg)
    return {"acc_out": acc.pack(value).astype(np.uint64)}


def _stimulus(unit, rng, n):
    """Operand pairs (every pair where cheap) in runs of random length between clears, some cancelling."""
    a, b = operand_pairs(unit.fmt, n, rng)
    order = rng.permutation(len(a))
    a, b = a[order], b[order]
    clear = rng.random(len(a)) < 0.05
    clear[0] = True
    if isinstance(unit.fmt, FloatFormat):  # every fourth run repeats its pairs with b negated
        half = len(a) // 8
        a[half:2 * half], b[half:2 * half] = a[:half], b[:half] ^ np.uint64(unit.fmt.sign_bit)
        clear[half] = False
    return {"a": a[:, None], "b": b[:, None], "clear": clear.astype(np.uint64)}


def _workload(unit, vectors, rng):
    """64-term dot products of standard-normal values, ``clear`` on the first of each."""
    chains = max(1, -(-vectors // TERMS))
    x = rng.standard_normal((2, chains, TERMS))
    exact = np.einsum("ck,ck->c", x[0], x[1])
    (a, sa), (b, sb) = gaussian_codes(unit.fmt, x[0]), gaussian_codes(unit.fmt, x[1])
    clear = np.zeros((chains, TERMS), dtype=np.uint64)
    clear[:, 0] = 1
    inputs = {"a": np.asarray(a).reshape(-1, 1), "b": np.asarray(b).reshape(-1, 1), "clear": clear.reshape(-1)}
    expected = _reference(unit, inputs)
    final = np.asarray(expected["acc_out"]).reshape(chains, TERMS)[:, -1]
    if isinstance(unit.fmt, PositFormat):
        result = unit.acc.decode(final)
    else:
        result = np.asarray(unit.acc.decode(final), dtype=np.float64)
    return Workload(inputs, expected, 1, result * (sa * sb)[:, 0], exact)


def _build(fmt, stages, acc=None):
    check_accumulator(fmt, acc)
    return AccumulatingMacUnit(fmt, acc, stages=stages if stages else 1)


ACC_MAC = register(UnitKind(
    name="acc_mac",
    summary="MAC with an internal carry-save accumulator: acc_out = round(sum of a*b since clear), "
            "one-cycle loop, II = 1",
    families=("float", "int", "posit"),
    build=_build,
    reference=_reference,
    stimulus=_stimulus,
    workload=_workload,
    ports=(("a", "operand"), ("b", "operand"), ("clear", "start a new sum with this vector's product"),
           ("acc_out", "the total since clear, rounded once into the accumulator format")),
    options=("acc",),
    samples=(("e4m3", {"stages": 1}), ("e4m3", {"stages": 3}), ("int8", {"stages": 2}), ("posit8", {"stages": 2}),
             ("e5m2", {"acc": "bf16", "stages": 4})),
    sequential=True,
))
