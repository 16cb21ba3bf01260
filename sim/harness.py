"""A Verilog top that feeds many copies of generated units at once.

cocotb pays per signal access, not per bit, so the harness instantiates each
unit ``copies`` times behind wide packed ports: one write drives ``copies``
vectors.  The units themselves are the exact Verilog ``python -m hw.gen`` emits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hw.rtl import default_name, to_verilog

__all__ = ["Group", "harness_verilog", "store_codes"]


@dataclass
class Group:
    """``copies`` instances of one unit, with the vectors to push through them.

    ``a``/``b`` have shape (n, lanes) (None for a read-out unit); ``acc``
    shape (n,) for units with ``acc_in``; ``expected`` shape (n,) holds the
    golden output codes.  Codes wider than 64 bits (quires) are Python ints.
    """

    unit: object
    copies: int
    a: np.ndarray | None
    b: np.ndarray | None
    expected: np.ndarray
    acc: np.ndarray | None = None
    name: str = field(default="")

    def __post_init__(self):
        self.name = self.name or default_name(self.unit)
        if self.a is not None:
            self.a = np.asarray(self.a).reshape(len(self.expected), -1)
            self.b = np.asarray(self.b).reshape(len(self.expected), -1)

    @property
    def acc_width(self) -> int:
        return self.unit.acc.width

    @property
    def out_port(self) -> str:
        return self.unit.out_port

    @property
    def out_width(self) -> int:
        return self.unit.out_width

    @property
    def op_width(self) -> int:
        return self.unit.fmt.width * self.unit.lanes


def harness_verilog(groups: list[Group], top: str = "harness") -> str:
    """Verilog of every unit plus a top module ``top`` with ports ``g<k>_<port>``."""
    sources = [to_verilog(g.unit, g.name) for g in groups]
    ports = ["input wire clk", "input wire rst"]
    body = ["  genvar i;"]
    for k, g in enumerate(groups):
        n, w, ow = g.copies, g.op_width, g.out_width
        p = f"g{k}"
        ports += [f"input wire {p}_valid_in", f"output wire [{n * ow - 1}:0] {p}_out", f"output wire {p}_valid_out"]
        conns = [f".valid_in({p}_valid_in)", f".{g.out_port}({p}_out[i*{ow} +: {ow}])",
                 f".valid_out({p}_valid_all[i])"]
        if g.a is not None:
            ports += [f"input wire [{n * w - 1}:0] {p}_a", f"input wire [{n * w - 1}:0] {p}_b"]
            conns += [f".a({p}_a[i*{w} +: {w}])", f".b({p}_b[i*{w} +: {w}])"]
        if g.acc is not None:
            aw = g.acc_width
            ports.append(f"input wire [{n * aw - 1}:0] {p}_acc_in")
            conns.append(f".acc_in({p}_acc_in[i*{aw} +: {aw}])")
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
