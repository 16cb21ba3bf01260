"""Units built from the ``hw.fpu`` pieces, and the unit-kind registry that builds them by name.

Every kind of unit is one :class:`~hw.rtl.registry.UnitKind` record (builder,
golden reference, ports, stimulus, workload).  The built-in kinds live in
:mod:`hw.rtl.builtin_kinds`; a kind in a module of its own registers itself
when imported here (the rounding multiplier, :mod:`hw.rtl.round_mul`).
"""

from __future__ import annotations

from .. import formats
from . import acc_mac, builtin_kinds, round_mul  # noqa: F401  (registrations)
from .acc_mac import AccumulatingMacUnit
from .block import BlockDotUnit, QuantUnit
from .common import Unit
from .lns import LNSLinearUnit, LNSMacUnit, LNSMulUnit
from .registry import (OPTIONS, Port, UnitKind, build_unit, default_kind, default_name, get_kind, kind_names, kinds,
                       kinds_for, ports, reference, register, to_verilog)
from .round_mul import RoundMulUnit
from .tensorcore import FusedDotUnit
from .units import AddUnit, DotUnit, MulUnit, ReadoutUnit

__all__ = ["Unit", "AccumulatingMacUnit", "MulUnit", "RoundMulUnit", "AddUnit", "DotUnit", "ReadoutUnit", "BlockDotUnit", "QuantUnit",
           "LNSMulUnit", "LNSLinearUnit", "LNSMacUnit", "FusedDotUnit", "UnitKind", "Port", "OPTIONS", "register",
           "kinds", "kind_names", "get_kind", "kinds_for", "default_kind", "build_unit", "reference", "ports",
           "default_name", "to_verilog", "build_sample"]


def build_sample(kind: str, fmt: str, options: dict):
    """A unit from a registry sample: format and option values given by name (``acc``, ``fmt_b``, ``out_fmt``)."""
    named = {key: formats.get(value) if key in ("acc", "fmt_b", "out_fmt") else value for key, value in options.items()}
    return build_unit(kind, formats.get(fmt), **named)
