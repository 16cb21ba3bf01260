"""A Verilog top that feeds many copies of generated units at once.

cocotb pays per signal access, not per bit, so the harness instantiates each
unit ``copies`` times behind wide packed ports: one write drives ``copies``
vectors.  The units themselves are the exact Verilog ``python -m hw.gen`` emits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hw.rtl import default_name, to_verilog

__all__ = ["Group", "harness_verilog", "pack_lanes", "unpack_lanes"]


@dataclass
class Group:
    """``copies`` instances of one unit, with the vectors to push through them.

    ``a``/``b`` have shape (n, lanes); ``acc`` shape (n,) for MAC-like units;
    ``expected`` shape (n,) holds the golden output codes.
    """

    unit: object
    copies: int
    a: np.ndarray
    b: np.ndarray
    expected: np.ndarray
    acc: np.ndarray | None = None
    name: str = field(default="")

    def __post_init__(self):
        self.name = self.name or default_name(self.unit)
        self.a = np.asarray(self.a).reshape(len(self.expected), -1)
        self.b = np.asarray(self.b).reshape(len(self.expected), -1)

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
        ports += [f"input wire [{n * w - 1}:0] {p}_a", f"input wire [{n * w - 1}:0] {p}_b",
                  f"input wire {p}_valid_in", f"output wire [{n * ow - 1}:0] {p}_out",
                  f"output wire {p}_valid_out"]
        conns = [f".a({p}_a[i*{w} +: {w}])", f".b({p}_b[i*{w} +: {w}])", f".valid_in({p}_valid_in)",
                 f".{g.out_port}({p}_out[i*{ow} +: {ow}])", f".valid_out({p}_valid_all[i])"]
        if g.acc is not None:
            ports.append(f"input wire [{n * ow - 1}:0] {p}_acc_in")
            conns.append(f".acc_in({p}_acc_in[i*{ow} +: {ow}])")
        if g.unit.stages:
            conns = [".clk(clk)", ".rst(rst)"] + conns
        body += [f"  wire [{n - 1}:0] {p}_valid_all;",
                 f"  assign {p}_valid_out = {p}_valid_all[0];",
                 f"  generate for (i = 0; i < {n}; i = i + 1) begin : {p}_copy",
                 f"    {g.name} u ({', '.join(conns)});",
                 "  end endgenerate"]
    wrapper = f"module {top} (\n  " + ",\n  ".join(ports) + "\n);\n" + "\n".join(body) + "\nendmodule\n"
    return "\n".join(sources) + "\n" + wrapper


def pack_lanes(codes: np.ndarray, width: int) -> int:
    """Pack codes (lane 0 first) into one integer, ``width`` bits each."""
    codes = np.asarray(codes, dtype=np.uint64).ravel()
    bits = ((codes[:, None] >> np.arange(width, dtype=np.uint64)) & np.uint64(1)).astype(np.uint8)
    return int.from_bytes(np.packbits(bits.ravel(), bitorder="little").tobytes(), "little")


def unpack_lanes(value: int, width: int, count: int) -> np.ndarray:
    """Inverse of :func:`pack_lanes`: ``count`` codes of ``width`` bits."""
    nbytes = (width * count + 7) // 8
    bits = np.unpackbits(np.frombuffer(value.to_bytes(nbytes, "little"), dtype=np.uint8), bitorder="little")
    bits = bits[:width * count].reshape(count, width).astype(np.uint64)
    return (bits << np.arange(width, dtype=np.uint64)).sum(axis=1)
