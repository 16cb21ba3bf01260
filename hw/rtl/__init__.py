"""Units built from the ``hw.fpu`` pieces, and the one place that builds them by name."""

from __future__ import annotations

from amaranth.back import verilog

from dataclasses import replace

from .. import formats
from ..formats import Format
from ..formats.tensorcore import SPECS as TENSORCORE_SPECS
from .block import BlockDotUnit, QuantUnit
from .lns import LNSLinearUnit, LNSMacUnit, LNSMulUnit
from .tensorcore import FusedDotUnit
from .units import UNIT_KINDS, AddUnit, DotUnit, MulUnit, ReadoutUnit

__all__ = ["MulUnit", "AddUnit", "DotUnit", "ReadoutUnit", "BlockDotUnit", "QuantUnit", "LNSMulUnit",
           "LNSLinearUnit", "LNSMacUnit", "FusedDotUnit", "UNIT_KINDS",
           "build_unit", "default_unit", "default_name", "to_verilog"]


def default_unit(fmt: Format) -> str:
    """The unit a format is usually built as: "dot" for block formats, "mac" otherwise."""
    return "dot" if isinstance(fmt, formats.BlockFormat) else "mac"


def build_unit(kind: str, fmt: Format, *, lanes: int | None = None, acc: Format | None = None,
               stages: int = 0, align_bits: int | None = None, grouped: bool = False,
               fmt_b: Format | None = None, spec: str = "h100_fp8"):
    """The ``kind`` unit (one of ``UNIT_KINDS``) for operand format ``fmt``.

    ``lanes`` applies to "dot" (default 4; at least 2; a block format's dot
    unit takes one whole block); ``acc`` to "mac" and "dot" (default: the
    format's first accumulator: fp32, int32 or the posit's quire).  "readout"
    (posits only) rounds a quire to its posit; "quant" (block formats only)
    quantizes one block of fp32.  ``align_bits`` (block dot units) truncates
    the aligned products to that many bits before the sum.  LNS formats have
    "mul", "linear" (product -> fixed point) and "mac" with any number of
    ``lanes`` (the vector PE; ``grouped`` converts once per remainder).
    "tensorcore" is one fused step of a GPU matrix unit (``spec``, a name in
    :data:`hw.formats.TENSORCORE_SPECS`; ``lanes`` default its step,
    ``align_bits`` its window), products of ``fmt`` and ``fmt_b``.
    """
    if kind not in UNIT_KINDS:
        raise ValueError(f"unknown unit {kind!r}; valid: {', '.join(UNIT_KINDS)}")
    if kind == "tensorcore":
        return _tensorcore_unit(fmt, fmt_b, spec, lanes, acc, stages, align_bits, grouped)
    if fmt_b is not None:
        raise ValueError("a second operand format (fmt_b) applies to tensorcore units")
    if isinstance(fmt, formats.BlockFormat):
        return _block_unit(kind, fmt, lanes, acc, stages, align_bits)
    if isinstance(fmt, formats.LNSFormat):
        return _lns_unit(kind, fmt, lanes, acc, stages, align_bits, grouped)
    if grouped:
        raise ValueError("grouped conversion applies to LNS MAC units")
    if kind == "linear":
        raise ValueError(f"a linear (log-to-linear) unit converts LNS products; {fmt.name} is not an LNS format")
    if kind == "quant":
        raise ValueError(f"a quant unit quantizes a block format (mxfp8_e4m3, mxfp4, nvfp4, ...); {fmt.name} is not one")
    if align_bits is not None:
        raise ValueError("align_bits applies to the dot units of block formats")
    if kind == "dot":
        lanes = 4 if lanes is None else lanes
        if not isinstance(lanes, int) or lanes < 2:
            raise ValueError(f"a dot unit needs lanes >= 2, not {lanes!r} (one lane is --unit mac)")
    elif lanes not in (None, 1):
        raise ValueError(f"a {kind} unit has one lane, not {lanes!r}; use --unit dot for several")
    if kind in ("mul", "add", "readout"):
        if acc is not None:
            raise ValueError(f"--acc applies to mac and dot units; a {kind} unit has no accumulator")
        if kind == "readout":
            if not isinstance(fmt, formats.PositFormat):
                raise ValueError(f"a readout unit rounds a posit quire; {fmt.name} is not a posit format")
            return ReadoutUnit(fmt, stages=stages)
        return (MulUnit if kind == "mul" else AddUnit)(fmt, stages=stages)
    if acc is None:
        acc = formats.default_accumulator(fmt)
    _check_accumulator(fmt, acc)
    DotUnit.check(fmt, acc, lanes or 1)  # before construction: no half-built component
    return DotUnit(fmt, acc, lanes=lanes or 1, stages=stages)


def _check_accumulator(fmt, acc):
    """ValueError unless ``acc`` (None: the default) is one of ``fmt``'s accumulators."""
    if acc is not None and acc.name not in formats.accumulators(fmt):
        raise ValueError(f"unknown accumulator {acc.name!r} for {fmt.name}; valid: {', '.join(formats.accumulators(fmt))}")


def _block_unit(kind, fmt, lanes, acc, stages, align_bits):
    if kind not in ("dot", "quant"):
        raise ValueError(f"a block format has dot and quant units, not {kind!r}")
    if lanes not in (None, fmt.block_size):
        raise ValueError(f"a {fmt.name} {kind} unit takes one block of {fmt.block_size} elements, not {lanes!r} lanes")
    if kind == "quant":
        if acc is not None or align_bits is not None:
            raise ValueError("--acc and --align-bits apply to dot units; a quant unit has neither")
        return QuantUnit(fmt, stages=stages)
    _check_accumulator(fmt, acc)
    return BlockDotUnit(fmt, acc, stages=stages, align_bits=align_bits)


def _lns_unit(kind, fmt, lanes, acc, stages, align_bits, grouped):
    if kind not in ("mul", "linear", "mac"):
        raise ValueError(f"an LNS format has mul, linear and mac units, not {kind!r}")
    if align_bits is not None:
        raise ValueError("align_bits applies to the dot units of block formats")
    if kind != "mac":
        if lanes not in (None, 1) or acc is not None or grouped:
            raise ValueError(f"--lanes, --acc and --grouped apply to LNS mac units, not {kind}")
        return (LNSMulUnit if kind == "mul" else LNSLinearUnit)(fmt, stages=stages)
    _check_accumulator(fmt, acc)
    if lanes is not None and (not isinstance(lanes, int) or lanes < 1):
        raise ValueError(f"lanes must be a positive integer, not {lanes!r}")
    return LNSMacUnit(fmt, lanes or 1, stages=stages, grouped=grouped)


def _tensorcore_unit(fmt, fmt_b, spec, lanes, acc, stages, align_bits, grouped):
    if spec not in TENSORCORE_SPECS:
        raise ValueError(f"unknown tensor-core spec {spec!r}; valid: {', '.join(TENSORCORE_SPECS)}")
    if grouped or acc not in (None, formats.get("fp32")):
        raise ValueError("a tensorcore unit accumulates in fp32 and has no --grouped or --acc choice")
    spec = TENSORCORE_SPECS[spec]
    if align_bits is not None:
        if not isinstance(align_bits, int) or not 2 <= align_bits <= 160:
            raise ValueError(f"align_bits must be an int between 2 and 160, not {align_bits!r}")
        spec = replace(spec, name=f"{spec.name}_a{align_bits}", align_bits=align_bits)
    FusedDotUnit.check(spec, fmt, fmt if fmt_b is None else fmt_b, spec.step if lanes is None else lanes)
    return FusedDotUnit(spec, fmt, fmt_b, lanes=lanes, stages=stages)


def default_name(unit) -> str:
    """Module name that encodes the unit's parameters, e.g. ``mac_e4m3_fp32_s2``, ``mac_posit8_quire_s0``."""
    name = f"{unit.kind}_{unit.fmt.name}"
    if unit.kind == "tensorcore":
        pair = unit.fmt.name if unit.fmt_b == unit.fmt else f"{unit.fmt.name}_{unit.fmt_b.name}"
        return f"tensorcore_{pair}_x{unit.lanes}_{unit.spec.name}_s{unit.stages}"
    if unit.kind == "dot" or (unit.kind == "mac" and unit.lanes > 1):
        name += f"_x{unit.lanes}"
    if unit.kind in ("mac", "dot"):
        name += "_quire" if isinstance(unit.acc, formats.QuireFormat) else f"_{unit.acc.name}"
    if getattr(unit, "grouped", False):
        name += "_grouped"
    if getattr(unit, "align_bits", None) is not None:
        name += f"_a{unit.align_bits}"
    return f"{name}_s{unit.stages}"


def to_verilog(unit, name: str | None = None) -> str:
    """Verilog of ``unit`` as module ``name`` (default: :func:`default_name`)."""
    return verilog.convert(unit, name=name or default_name(unit), emit_src=False)
