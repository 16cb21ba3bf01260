"""A Verilog top that feeds many copies of generated units at once.

cocotb pays per signal access, not per bit, so the harness instantiates each
unit ``copies`` times behind wide packed ports: one write drives ``copies``
vectors.  The units themselves are the exact Verilog ``python -m hw.gen`` emits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from amaranth import Shape
from amaranth.lib import data, wiring

from hw.rtl import default_name, to_verilog

__all__ = ["Group", "harness_verilog", "port_shape", "store_codes"]


def port_shape(unit, port: str) -> tuple[int, int]:
    """(bits per lane, lanes) of a port of ``unit``'s signature."""
    shape = unit.signature.members[port].shape
    if isinstance(shape, data.ArrayLayout):
        return Shape.cast(shape.elem_shape).width, shape.length
    return Shape.cast(shape).width, 1


@dataclass
class Group:
    """``copies`` instances of one unit, with the vectors to push through them.

    ``a``/``b`` have shape (n, lanes) (None for a unit without operands);
    ``acc`` shape (n,) for units with ``acc_in``; ``extra`` holds any other
    input port's codes by name (e.g. ``a_scale``).  ``expected`` holds the
    golden codes of the unit's output, shape (n,), or a dict by output port
    for units with several.  Codes wider than 64 bits (quires) are Python ints.
    """

    unit: object
    copies: int
    a: np.ndarray | None
    b: np.ndarray | None
    expected: np.ndarray | dict
    acc: np.ndarray | None = None
    extra: dict = field(default_factory=dict)
    name: str = field(default="")
    verilog: str | None = None

    def __post_init__(self):
        self.name = self.name or default_name(self.unit)
        given = {"a": self.a, "b": self.b, "acc_in": self.acc, **self.extra}
        self.inputs = {port: given[port] for port in self.input_ports}
        missing = [port for port, values in self.inputs.items() if values is None]
        if missing:
            raise ValueError(f"{self.name}: no vectors for input ports {missing}")
        expected = self.expected if isinstance(self.expected, dict) else {self.unit.out_port: self.expected}
        self.outputs = {port: expected[port] for port in self.output_ports}
        self.vectors = len(next(iter(self.outputs.values())))
        for port in self.inputs:
            self.inputs[port] = np.asarray(self.inputs[port]).reshape(self.vectors, -1)
        for port in self.outputs:
            self.outputs[port] = np.asarray(self.outputs[port]).reshape(self.vectors, -1)

    @property
    def input_ports(self) -> list[str]:
        return [n for n, m in self.unit.signature.members.items() if m.flow is wiring.In and n != "valid_in"]

    @property
    def output_ports(self) -> list[str]:
        return [n for n, m in self.unit.signature.members.items() if m.flow is wiring.Out and n != "valid_out"]

    def port_width(self, port: str) -> int:
        width, lanes = port_shape(self.unit, port)
        return width * lanes

    @property
    def out_width(self) -> int:
        return sum(self.port_width(p) for p in self.output_ports)


def harness_verilog(groups: list[Group], top: str = "harness") -> str:
    """Verilog of every unit plus a top module ``top`` with ports ``g<k>_<port>``.

    Each input port becomes ``g<k>_<port>`` (``copies`` times as wide); all
    outputs of a copy are concatenated, in signature order, into ``g<k>_out``.
    """
    sources = list(dict.fromkeys(g.verilog or to_verilog(g.unit, g.name) for g in groups))  # a module once
    ports = ["input wire clk", "input wire rst"]
    body = ["  genvar i;"]
    for k, g in enumerate(groups):
        n, ow, p = g.copies, g.out_width, f"g{k}"
        ports += [f"input wire {p}_valid_in", f"output wire [{n * ow - 1}:0] {p}_out", f"output wire {p}_valid_out"]
        conns = [f".valid_in({p}_valid_in)", f".valid_out({p}_valid_all[i])"]
        offset = 0
        for port in g.output_ports:
            w = g.port_width(port)
            conns.append(f".{port}({p}_out[i*{ow} + {offset} +: {w}])")
            offset += w
        for port in g.input_ports:
            w = g.port_width(port)
            ports.append(f"input wire [{n * w - 1}:0] {p}_{port}")
            conns.append(f".{port}({p}_{port}[i*{w} +: {w}])")
        if g.unit.stages:
            conns = [".clk(clk)", ".rst(rst)"] + conns
        body += [f"  wire [{n - 1}:0] {p}_valid_all;",
                 f"  assign {p}_valid_out = {p}_valid_all[0];",
                 f"  generate for (i = 0; i < {n}; i = i + 1) begin : {p}_copy",
                 f"    {g.name} u ({', '.join(conns)});",
                 "  end endgenerate"]
    wrapper = f"module {top} (\n  " + ",\n  ".join(ports) + "\n);\n" + "\n".join(body) + "\nendmodule\n"
    return "\n".join(sources) + "\n" + wrapper


def store_codes(values, width: int, lanes: int = 1) -> np.ndarray:
    """Codes as an array a ``.npz`` can hold: uint64 (n, lanes), or for codes
    wider than 64 bits their little-endian bytes, uint8 (n, lanes, bytes)."""
    if width <= 64:
        return np.asarray(values).astype(np.uint64).reshape(-1, lanes)
    nbytes = (width + 7) // 8
    flat = np.asarray(values, dtype=object).ravel()
    raw = b"".join(int(v).to_bytes(nbytes, "little") for v in flat)
    return np.frombuffer(raw, dtype=np.uint8).reshape(-1, lanes, nbytes)
