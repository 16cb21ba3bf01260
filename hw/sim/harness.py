"""A Verilog top that feeds many copies of generated units at once.

cocotb pays per signal access, not per bit, so the harness instantiates each
unit ``copies`` times behind wide packed ports: one write drives ``copies``
vectors.  The units themselves are the exact Verilog ``python -m hw.gen``
emits (or any Verilog module that follows the port convention: ``valid_in``
and ``valid_out``, and ``clk``/``rst`` when it has registers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ..rtl import Port, get_kind, ports, to_verilog

__all__ = ["Job", "harness_verilog", "store_codes", "codes_from_bits", "verilog_ports"]

_PORT = re.compile(r"^\s*(input|output)\s+(?:wire\s+|reg\s+)?(?:\[(\d+):(\d+)\]\s*)?\\?([A-Za-z_][\w$]*)\s*[;,)]?\s*$")


def verilog_ports(verilog: str, top: str | None = None) -> tuple[str, list[Port], bool]:
    """(module name, ports, has clock) of module ``top`` (default: the last module no other instantiates).

    Reads non-ANSI and ANSI port declarations (``input [7:0] a;`` /
    ``input wire [7:0] a,``); every port is one lane of its width.
    """
    modules = re.findall(r"^\s*module\s+\\?([\w$]+)\s*\((.*?)^\s*endmodule", verilog, re.M | re.S)
    if not modules:
        raise ValueError("no Verilog module found")
    if top is None:  # the module no other one instantiates (the last of them)
        roots = [m for m in modules if not any(re.search(rf"^\s*\\?{re.escape(m[0])}\s+\\?[\w$]+\s*\(", other[1], re.M)
                                               for other in modules if other is not m)]
        name, body = (roots or modules)[-1]
    else:
        found = [m for m in modules if m[0] == top]
        if not found:
            raise ValueError(f"no module {top!r} in the Verilog; found: {', '.join(m[0] for m in modules)}")
        name, body = found[0]
    out, clock = [], False
    for line in body.splitlines():
        m = _PORT.match(line)
        if not m:
            continue
        direction, high, low, port = m.groups()
        if port in ("clk", "rst"):
            clock = True
            continue
        width = abs(int(high) - int(low)) + 1 if high is not None else 1
        out.append(Port(port, "in" if direction == "input" else "out", width, 1))
    names = {p.name for p in out}
    missing = {"valid_in", "valid_out"} - names
    if missing:
        raise ValueError(f"module {name} lacks the port convention's {' and '.join(sorted(missing))} "
                         "(valid_in, valid_out; clk and rst when registered)")
    return name, out, clock


@dataclass
class Job:
    """``copies`` instances of one unit and the inputs (by port) to push through them.

    ``unit`` is a unit object (its ports come from its signature); or leave it
    None and give ``verilog`` (a module following the port convention; its
    ports are read from the text).  ``verilog`` may also replace a unit's own
    Verilog (a gate-level netlist of it, say).  Array ports take ``(n,
    lanes)`` codes, others ``(n,)``; codes wider than 64 bits are Python ints.
    ``expected``, if given, is what :func:`hw.sim.verify` compares with
    instead of the unit's golden reference.  ``latency`` replaces the unit's
    own (a netlist pipelined for a clock, say); ``support`` is Verilog the
    module needs beside it (a library's cell models), included once per harness.
    """

    unit: object | None
    inputs: dict
    copies: int = 8
    name: str = ""
    verilog: str | None = None
    expected: dict | None = None
    latency: int | None = None
    support: str | None = None
    ports: list = field(default_factory=list, init=False)
    clocked: bool = field(default=False, init=False)

    def __post_init__(self):
        if self.unit is not None:
            self.name = self.name or self.unit.default_name
            self.ports = ports(self.unit)
            self.latency = self.unit.latency if self.latency is None else self.latency
            self.clocked = self.latency > 0
        elif self.verilog is None:
            raise ValueError("a Job needs a unit or its Verilog")
        else:
            module, self.ports, self.clocked = verilog_ports(self.verilog, self.name or None)
            self.name = module
        if not isinstance(self.copies, int) or self.copies < 1:
            raise ValueError(f"copies must be a positive integer, not {self.copies!r}")
        if self.unit is not None and self.copies > 1 and get_kind(self.unit.kind).sequential:
            raise ValueError(f"{self.name}: a {self.unit.kind} unit keeps state between vectors: copies=1")
        missing = [p.name for p in self.input_ports if p.name not in self.inputs]
        if missing:
            raise ValueError(f"{self.name}: no inputs for ports {missing}; the unit's inputs are "
                             f"{', '.join(p.name for p in self.input_ports)}")
        unknown = sorted(set(self.inputs) - {p.name for p in self.input_ports})
        if unknown:
            raise ValueError(f"{self.name}: unknown input ports {unknown}; valid: "
                             f"{', '.join(p.name for p in self.input_ports)}")
        lengths = {port: len(np.asarray(values)) for port, values in self.inputs.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"{self.name}: inputs must have one length, not {lengths}")
        self.vectors = next(iter(lengths.values())) if lengths else 0
        for p in self.input_ports:
            values = np.asarray(self.inputs[p.name])
            if values.size != self.vectors * p.lanes:
                raise ValueError(f"{self.name}: input {p.name!r} needs shape ({self.vectors}, {p.lanes}) or "
                                 f"({self.vectors},) for one lane, not {values.shape}")
        if self.vectors == 0:
            raise ValueError(f"{self.name}: no vectors")

    @property
    def input_ports(self) -> list[Port]:
        return [p for p in self.ports if p.direction == "in" and p.name != "valid_in"]

    @property
    def output_ports(self) -> list[Port]:
        return [p for p in self.ports if p.direction == "out" and p.name != "valid_out"]

    @property
    def out_width(self) -> int:
        return sum(p.bits for p in self.output_ports)

    def source(self) -> str:
        return self.verilog if self.verilog is not None else to_verilog(self.unit, self.name)


def harness_verilog(jobs: list[Job], top: str = "harness") -> str:
    """Verilog of every unit plus a top module ``top`` with ports ``g<k>_<port>``.

    Each input port becomes ``g<k>_<port>`` (``copies`` times as wide); all
    outputs of a copy are concatenated, in signature order, into ``g<k>_out``.
    """
    # Support code (cell models) and the wrapper carry no toggle coverage: only the units' own nets are read.
    support = [_uncovered(text) for text in dict.fromkeys(job.support for job in jobs if job.support)]
    sources = support + list(dict.fromkeys(job.source() for job in jobs))
    decls = ["input wire clk", "input wire rst"]
    body = ["  genvar i;"]
    for k, job in enumerate(jobs):
        n, ow, p = job.copies, job.out_width, f"g{k}"
        decls += [f"input wire {p}_valid_in", f"output wire [{n * ow - 1}:0] {p}_out", f"output wire {p}_valid_out"]
        conns = [f".valid_in({p}_valid_in)", f".valid_out({p}_valid_all[i])"]
        offset = 0
        for port in job.output_ports:
            conns.append(f".{port.name}({p}_out[i*{ow} + {offset} +: {port.bits}])")
            offset += port.bits
        for port in job.input_ports:
            decls.append(f"input wire [{n * port.bits - 1}:0] {p}_{port.name}")
            conns.append(f".{port.name}({p}_{port.name}[i*{port.bits} +: {port.bits}])")
        if job.clocked:
            conns = [".clk(clk)", ".rst(rst)"] + conns
        body += [f"  wire [{n - 1}:0] {p}_valid_all;",
                 f"  assign {p}_valid_out = {p}_valid_all[0];",
                 f"  generate for (i = 0; i < {n}; i = i + 1) begin : {p}_copy",
                 f"    {job.name} u ({', '.join(conns)});",
                 "  end endgenerate"]
    wrapper = f"module {top} (\n  " + ",\n  ".join(decls) + "\n);\n" + "\n".join(body) + "\nendmodule"
    return "\n".join(sources) + "\n" + _uncovered(wrapper) + "\n"


def _uncovered(verilog: str) -> str:
    """``verilog`` between Verilator's ``coverage_off`` and ``coverage_on`` meta-comments."""
    return f"/*verilator coverage_off*/\n{verilog}\n/*verilator coverage_on*/"


def store_codes(values, width: int, lanes: int = 1) -> np.ndarray:
    """Codes as an array a ``.npz`` can hold: uint64 (n, lanes), or for codes
    wider than 64 bits their little-endian bytes, uint8 (n, lanes, bytes)."""
    if width <= 64:
        return np.asarray(values).astype(np.uint64).reshape(-1, lanes)
    nbytes = (width + 7) // 8
    flat = np.asarray(values, dtype=object).ravel()
    raw = b"".join(int(v).to_bytes(nbytes, "little") for v in flat)
    return np.frombuffer(raw, dtype=np.uint8).reshape(-1, lanes, nbytes)


def codes_from_bits(bits: np.ndarray, width: int) -> np.ndarray:
    """Codes of a (..., width) bit matrix, LSB first: uint64, or Python ints (object) beyond 64 bits."""
    shape = bits.shape[:-1]
    flat = bits.reshape(-1, width)
    if width <= 64:
        padded = np.zeros((len(flat), 64), dtype=np.uint8)
        padded[:, :width] = flat
        return np.packbits(padded, axis=1, bitorder="little").view("<u8").reshape(shape).astype(np.uint64)
    packed = np.packbits(flat, axis=1, bitorder="little")
    return np.array([int.from_bytes(row.tobytes(), "little") for row in packed], dtype=object).reshape(shape)
