"""The unit-kind registry: one record per kind, and the one place that builds units by name.

A :class:`UnitKind` says everything the package needs about a kind of unit:
which format families it takes, how to build it, its golden reference, its
ports, the stimulus that verifies it and the workload that costs it.
``hw.gen``, the simulation regressions, the cross-check, the cost model and
the sweep all dispatch through :func:`get_kind`; no other list of kind names
exists.  Adding a kind is one module that defines its unit and calls
:func:`register` (see :mod:`hw.rtl.round_mul`), plus one import in
``hw/rtl/__init__.py``.

Conventions every record keeps: inputs and outputs are dicts by port name;
a port of several lanes holds an array of shape ``(n, lanes)``, any other
port shape ``(n,)``; codes wider than 64 bits are Python ints in object
arrays.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import numpy as np
from amaranth import Shape
from amaranth.back import verilog
from amaranth.lib import data, wiring

from ..formats import Format, family, resolve

__all__ = ["UnitKind", "Port", "register", "kinds", "get_kind", "kind_names", "kinds_for", "default_kind",
           "build_unit", "reference", "ports", "to_verilog", "default_name", "OPTIONS"]

#: Build options a kind may take (beyond ``stages``, which every kind takes), with their meaning.
OPTIONS = {
    "lanes": "products per cycle",
    "acc": "accumulator format",
    "align_bits": "width of an aligned, truncating adder tree",
    "grouped": "LNS: convert once per log remainder",
    "fmt_b": "format of operand b",
    "spec": "tensor-core numerics (a FusedDotSpec name)",
    "out_fmt": "format the result is rounded into",
}


@dataclass(frozen=True)
class UnitKind:
    """One kind of unit.

    ``build(fmt, stages=..., **options)`` returns the unit (ValueError naming
    what is wrong); ``reference(unit, inputs)`` the golden outputs by port;
    ``stimulus(unit, rng, n)`` directed and about ``n`` random inputs that
    verify it; ``workload(unit, vectors, rng)`` a realistic
    :class:`~hw.rtl.workload.Workload` for the cost model.  ``ports`` documents
    each port; ``samples`` are ``(format, options)`` pairs that show the kind
    (documentation, lint and the generic regression build them);
    ``default_for`` the families whose default unit this is;
    ``gpu_reference(unit, inputs, device)`` (optional) computes the outputs with
    :mod:`gpu_ref`'s PyTorch emulation.  ``sequential`` kinds keep state from
    one vector to the next (their vectors go through one instance, in order).
    """

    name: str
    summary: str
    families: tuple[str, ...]
    build: Callable
    reference: Callable
    stimulus: Callable
    workload: Callable
    ports: tuple[tuple[str, str], ...]
    options: tuple[str, ...] = ()
    samples: tuple[tuple[str, dict], ...] = ()
    default_for: tuple[str, ...] = ()
    gpu_reference: Callable | None = None
    sequential: bool = False

    def __post_init__(self):
        unknown = set(self.options) - set(OPTIONS)
        if unknown:
            raise ValueError(f"kind {self.name!r}: unknown options {sorted(unknown)}; valid: {', '.join(OPTIONS)}")


_KINDS: dict[str, UnitKind] = {}


def register(kind: UnitKind) -> UnitKind:
    """Add a kind to the registry (once)."""
    if kind.name in _KINDS:
        raise ValueError(f"unit kind {kind.name!r} is already registered")
    _KINDS[kind.name] = kind
    return kind


def kinds() -> list[UnitKind]:
    return list(_KINDS.values())


def kind_names() -> list[str]:
    return list(_KINDS)


def get_kind(name: str) -> UnitKind:
    """The kind called ``name``; ValueError naming the valid ones otherwise."""
    if name not in _KINDS:
        raise ValueError(f"unknown unit {name!r}; valid: {', '.join(_KINDS)}")
    return _KINDS[name]


def kinds_for(fmt: Format) -> list[str]:
    """Names of the kinds that take operands of ``fmt``'s family."""
    return [k.name for k in _KINDS.values() if family(fmt) in k.families]


def default_kind(fmt: Format) -> str:
    """The unit a format is usually built as: "dot" for block formats, "mac" otherwise."""
    for k in _KINDS.values():
        if family(fmt) in k.default_for:
            return k.name
    raise ValueError(f"no default unit for {fmt.name}")


#: The most products one unit computes per cycle (a 256-lane dot unit is already larger than a GPU's MMA step).
MAX_LANES = 256


def build_unit(kind: str, fmt: Format, *, stages: int = 0, retimed: bool = False, **options):
    """The ``kind`` unit for operand format ``fmt`` with ``stages`` pipeline registers.

    ``retimed`` puts every register at the output for a synthesis tool to
    retime (:class:`~hw.rtl.pipeline.Pipeline`).  ``options`` (``None``/``False``
    meaning "not given") must be ones the kind takes (:data:`OPTIONS`); every
    error is a ValueError of one line naming the valid choices.
    """
    record = get_kind(kind)
    fmt = resolve(fmt)
    if family(fmt) not in record.families:
        raise ValueError(f"{fmt.name} ({family(fmt)} format) has no {kind} unit; its units: "
                         f"{', '.join(kinds_for(fmt))}")
    if not isinstance(stages, int) or isinstance(stages, bool) or stages < 0:
        raise ValueError(f"stages must be a non-negative integer, not {stages!r}")
    given = {name: value for name, value in options.items() if value is not None and value is not False}
    for name in given:
        if name not in OPTIONS:
            raise ValueError(f"unknown option {name!r}; valid: {', '.join(OPTIONS)}")
        if name not in record.options:
            takes = [k.name for k in _KINDS.values() if name in k.options]
            raise ValueError(f"{name} ({OPTIONS[name]}) applies to {', '.join(takes)} units, not {kind}"
                             + (f"; a {kind} unit takes {', '.join(record.options)}" if record.options else ""))
    lanes = given.get("lanes")
    if lanes is not None and (not isinstance(lanes, int) or isinstance(lanes, bool) or not 1 <= lanes <= MAX_LANES):
        raise ValueError(f"lanes must be an integer in 1..{MAX_LANES}, not {lanes!r}")
    if retimed and stages == 0:
        raise ValueError("a retimed unit needs stages >= 1 (its registers are what retiming moves)")
    unit = record.build(fmt, stages=stages, **given)
    unit.retimed = bool(retimed)
    return unit


def reference(unit, inputs: dict) -> dict:
    """Golden outputs of ``unit`` for ``inputs`` (by port), through its kind's record."""
    return get_kind(unit.kind).reference(unit, inputs)


@dataclass(frozen=True)
class Port:
    """One port of a unit: name, direction ("in"/"out"), bits per lane, lanes."""

    name: str
    direction: str
    width: int
    lanes: int

    @property
    def bits(self) -> int:
        return self.width * self.lanes


def ports(unit) -> list[Port]:
    """The unit's ports in signature order (clock and reset, present when ``stages > 0``, not included)."""
    out = []
    for name, member in unit.signature.members.items():
        shape = member.shape
        if isinstance(shape, data.ArrayLayout):
            width, lanes = Shape.cast(shape.elem_shape).width, shape.length
        else:
            width, lanes = Shape.cast(shape).width, 1
        out.append(Port(name, "in" if member.flow is wiring.In else "out", width, lanes))
    return out


def default_name(unit) -> str:
    """Module name that encodes the unit's parameters, e.g. ``mac_e4m3_fp32_s2``, ``mac_posit8_quire_s0``."""
    return unit.default_name


def to_verilog(unit, name: str | None = None, command: str | None = None) -> str:
    """Verilog of ``unit`` as module ``name`` (default: :func:`default_name`), with a header comment.

    The header states the package version, ``command`` (the command line that
    made it, where given), the unit kind, every format with its numerics, the
    port table, latency, initiation interval, clock and reset.  The top
    module's ports are listed in the port table's order (clock and reset first).
    """
    name = name or default_name(unit)
    text = verilog.convert(unit, name=name, emit_src=False)
    return verilog_header(unit, name, command) + _order_ports(_share_modules(text, name), name, unit)


def _share_modules(text: str, top: str) -> str:
    """Submodules named as plain identifiers (``top__mul0`` for Amaranth's ``\\top.mul0``), and
    identical ones emitted once: every instance of a duplicate uses the first (bottom up, so parents
    whose children were merged merge too)."""
    declared = re.compile(r"^module (\\\S+ |\w+)\(", re.M)
    while True:
        chunks = text.split("endmodule\n")
        tail = chunks.pop()
        first, alias, keep = {}, {}, []
        for chunk in chunks:
            name = declared.search(chunk)[1]
            body = chunk.replace(name, "@MODULE@")
            if name.startswith("\\") and body in first:
                alias[name] = first[body]
            else:
                first.setdefault(body, name)
                keep.append(chunk)
        if not alias:
            break
        text = "endmodule\n".join(keep) + "endmodule\n" + tail
        for name, kept in alias.items():  # escaped names end in a space: no prefix clashes
            text = text.replace(name, kept)
    for name in sorted(set(declared.findall(text)), key=len, reverse=True):
        if name.startswith("\\"):
            plain = re.sub(r"\W", "_", name.strip().lstrip("\\")).replace(f"{top}_", f"{top}__", 1)
            text = text.replace(name, plain + " ")
    return text


def _order_ports(text: str, name: str, unit) -> str:
    """The top module's port list in signature order, ``clk`` and ``rst`` first."""
    head = re.search(rf"^module {re.escape(name)}\((.*?)\);$", text, re.M)
    present = [p.strip() for p in head[1].split(",")]
    order = [p for p in ("clk", "rst") if p in present] + [p.name for p in ports(unit) if p.name in present]
    order += [p for p in present if p not in order]
    return text[:head.start(1)] + ", ".join(order) + text[head.end(1):]


def numerics(fmt) -> str:
    """One line on a format's numerics: parameters, rounding, overflow, NaN and subnormals."""
    family_name = family(fmt)
    if family_name == "float":
        overflow = {"ieee": "overflow gives +-Inf (RNE)", "fn": "overflow gives NaN (no Inf)",
                    "fnuz": "overflow gives NaN (no Inf, no -0)", "none": "overflow saturates (no Inf/NaN)"}
        nan = f"NaN results are {fmt.nan_code:#x}" if fmt.has_nan else "no NaN"
        return (f"{fmt.describe().split(None, 1)[1]}; results rounded once, to nearest even; "
                f"{overflow[fmt.special.value]}; {nan}")
    if family_name == "int":
        return f"{fmt.describe().split(None, 1)[1]}; sums wrap modulo 2**{fmt.bits}"
    if family_name == "posit":
        return (f"{fmt.describe().split(None, 1)[1]}; rounded to nearest even on the bit pattern; no overflow or "
                f"underflow (saturates to maxpos/minpos); NaR {fmt.nar_code:#x}")
    return fmt.describe().split(None, 1)[1]


def verilog_header(unit, name: str, command: str | None = None) -> str:
    """The comment block that opens every emitted file (see :func:`to_verilog`)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        package = version("hw")
    except PackageNotFoundError:
        package = "unknown"
    kind = get_kind(unit.kind) if getattr(unit, "kind", None) in _KINDS else None
    lines = [f"{name}: generated by hw {package}" + (f" ({command})" if command else "")]
    if kind is not None:
        lines.append(f"unit: {kind.name}: {kind.summary}")
    seen = []
    own = unit.header_lines() if hasattr(unit, "header_lines") else []  # a unit that states its own numerics
    for label, attr in (("operands", "fmt"), ("operand b", "fmt_b"), ("accumulator", "acc"), ("result", "out")):
        fmt = getattr(unit, attr, None)
        if own and attr == "acc":
            continue
        if fmt is not None and not isinstance(fmt, (bool, int, str)) and fmt not in seen:
            seen.append(fmt)
            lines.append(f"{label}: {fmt.name}: {numerics(fmt)}")
    lines += own
    stages = getattr(unit, "stages", 0)
    lines.append(f"latency {stages} cycle{'s' if stages != 1 else ''}, initiation interval 1"
                 + (": combinational, no clock" if stages == 0 else
                    "; clock clk (rising edge); reset rst synchronous, active high (clears the valid pipeline)"))
    lines.append("ports (lanes packed lane 0 in the LSBs):")
    table = [("clk", "in", 1, 1), ("rst", "in", 1, 1)] if stages else []
    table += [(p.name, p.direction, p.width, p.lanes) for p in ports(unit)]
    for port, direction, width, lanes in table:
        lines.append(f"  {port:<10} {direction:<3} {width * lanes:>5} bits" + (f" = {lanes} x {width}" if lanes > 1 else ""))
    return "".join(f"// {line}\n" for line in lines) + "\n"


def lanes_of(inputs: dict, port: str) -> np.ndarray:
    """An input array as (n, lanes)."""
    value = np.asarray(inputs[port])
    return value.reshape(len(value), -1)
