"""What every unit is built on: the base component, operand decoding, exact products, the family rounders."""

from __future__ import annotations

from amaranth import Signal, Value, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..formats import Format, IntFormat, PositFormat
from ..fpu.fixed import balanced_tree
from ..fpu.mul import MulRaw
from ..fpu.posit import PositDecode, PositRounder
from ..fpu.raw import RawShape, Unpack
from ..fpu.rounder import Rounder

__all__ = ["Unit", "operand_ports", "decoder", "round_to", "any_of", "raw_products", "int_products"]


class Unit(wiring.Component):
    """Base of every generated unit: ``valid_in``/``valid_out``, one main output port, ``stages`` of latency.

    ``kind`` names the unit kind (the registry key); ``fmt`` is the operand
    format.  A unit with ``stages = 0`` is combinational; otherwise it has
    Amaranth's ``clk`` and ``rst`` (synchronous, active high) and a latency of
    ``stages`` cycles with one result per cycle.  ``retimed`` units (name
    suffix ``r``) keep every register at the output, for retiming.
    """

    kind: str

    def __init__(self, fmt: Format, lanes: int, stages: int, inputs: dict, out_port: str, out_width):
        if not isinstance(lanes, int) or lanes < 1:
            raise ValueError(f"lanes must be a positive integer, not {lanes!r}")
        if not isinstance(stages, int) or isinstance(stages, bool) or stages < 0:
            raise ValueError(f"stages must be a non-negative integer, not {stages!r}")
        self.fmt, self.lanes, self.stages = fmt, lanes, stages
        self.retimed = False  # set by build_unit(..., retimed=True): see hw.rtl.pipeline.Pipeline
        self.out_port = out_port
        super().__init__({**inputs, "valid_in": In(1), out_port: Out(out_width), "valid_out": Out(1)})

    @property
    def latency(self) -> int:
        return self.stages

    def name_parts(self) -> list[str]:
        """The parameters the module name encodes, after the kind and before the stages."""
        return [self.fmt.name]

    @property
    def default_name(self) -> str:
        """Module name that encodes the unit's parameters, e.g. ``mac_e4m3_fp32_s2``."""
        return "_".join([self.kind, *self.name_parts(), f"s{self.stages}" + ("r" if self.retimed else "")])


def operand_ports(fmt: Format, lanes: int, fmt_b: Format | None = None) -> dict:
    """Ports ``a`` and ``b``: ``lanes`` codes each, lane 0 in the LSBs."""
    fmt_b = fmt if fmt_b is None else fmt_b
    return {"a": In(data.ArrayLayout(fmt.width, lanes)), "b": In(data.ArrayLayout(fmt_b.width, lanes))}


def decoder(fmt):
    """The component that turns a code of ``fmt`` (float or posit) into the raw form."""
    return PositDecode(fmt) if isinstance(fmt, PositFormat) else Unpack(fmt)


def round_to(m, raw, shape: RawShape, fmt):
    """Code of ``fmt`` for ``raw``, through the format family's rounder (a submodule ``round``)."""
    m.submodules.round = rounder = PositRounder(shape, fmt) if isinstance(fmt, PositFormat) else Rounder(shape, fmt)
    m.d.comb += rounder.raw.eq(raw)
    return rounder.bits


def any_of(values):
    """OR of one-bit values, a log-depth tree."""
    return balanced_tree(values, lambda x, y: x | y)


def raw_products(m, fmt, a, b, fmt_b=None):
    """Decode every lane of ``a`` (``fmt``) and ``b`` (``fmt_b``, default ``fmt``), multiply exactly;
    (raw products, their RawShape)."""
    products = []
    for i in range(len(a)):
        m.submodules[f"unpack_a{i}"] = ua = decoder(fmt)
        m.submodules[f"unpack_b{i}"] = ub = decoder(fmt if fmt_b is None else fmt_b)
        m.submodules[f"mul{i}"] = mul = MulRaw(ua.raw_shape, ub.raw_shape)
        m.d.comb += [ua.bits.eq(a[i]), ub.bits.eq(b[i]), mul.a.eq(ua.raw), mul.b.eq(ub.raw)]
        products.append(mul.product)
    return products, mul.out_shape


def int_products(m, fmt: IntFormat, a, b):
    """Exact products of every lane of integer operands (signed when ``fmt.signed``)."""
    products = []
    for i in range(len(a)):
        p = Signal(signed(2 * fmt.bits) if fmt.signed else 2 * fmt.bits, name=f"product{i}")
        x, y = Value.cast(a[i]), Value.cast(b[i])
        m.d.comb += p.eq(x.as_signed() * y.as_signed() if fmt.signed else x * y)
        products.append(p)
    return products
