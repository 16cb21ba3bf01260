"""Units built from the ``hw.fpu`` pieces, and the one place that builds them by name."""

from __future__ import annotations

from amaranth.back import verilog

from .. import formats
from ..formats import Format
from .units import UNIT_KINDS, DotUnit, MulUnit

__all__ = ["MulUnit", "DotUnit", "UNIT_KINDS", "build_unit", "default_name", "to_verilog"]


def build_unit(kind: str, fmt: Format, *, lanes: int | None = None, acc: Format | None = None,
               stages: int = 0):
    """The ``kind`` unit ("mul", "mac" or "dot") for operand format ``fmt``.

    ``lanes`` applies to "dot" (default 4; at least 2); ``acc`` to "mac" and
    "dot" (default: the format's first accumulator, fp32 or int32).
    """
    if kind not in UNIT_KINDS:
        raise ValueError(f"unknown unit {kind!r}; valid: {', '.join(UNIT_KINDS)}")
    if kind == "dot":
        lanes = 4 if lanes is None else lanes
        if not isinstance(lanes, int) or lanes < 2:
            raise ValueError(f"a dot unit needs lanes >= 2, not {lanes!r} (one lane is --unit mac)")
    elif lanes not in (None, 1):
        raise ValueError(f"a {kind} unit has one lane, not {lanes!r}; use --unit dot for several")
    if kind == "mul":
        if acc is not None:
            raise ValueError("a mul unit has no accumulator")
        return MulUnit(fmt, stages=stages)
    if acc is None:
        acc = formats.default_accumulator(fmt)
    if acc.name not in formats.accumulators(fmt):
        raise ValueError(f"unknown accumulator {acc.name!r} for {fmt.name}; valid: {', '.join(formats.accumulators(fmt))}")
    DotUnit.check(fmt, acc, lanes or 1)  # before construction: no half-built component
    return DotUnit(fmt, acc, lanes=lanes or 1, stages=stages)


def default_name(unit) -> str:
    """Module name that encodes the unit's parameters, e.g. ``mac_e4m3_fp32_s2``."""
    name = f"{unit.kind}_{unit.fmt.name}"
    if unit.kind == "dot":
        name += f"_x{unit.lanes}"
    if unit.kind != "mul":
        name += f"_{unit.acc.name}"
    return f"{name}_s{unit.stages}"


def to_verilog(unit, name: str | None = None) -> str:
    """Verilog of ``unit`` as module ``name`` (default: :func:`default_name`)."""
    return verilog.convert(unit, name=name or default_name(unit), emit_src=False)
