"""What zero-delay simulation misses: glitches, measured with the library's cell delays in Icarus.

    .venv/bin/python benchmarks/bench_glitches.py [--tech osu018] [--vectors 400]

For a few combinational units mapped to the library, the same stream of
realistic operands runs twice through Icarus Verilog with the cell models of
:func:`hw.models.synth.cell_models`: once with zero delays (what the cost flow's
Verilator simulation counts) and once with every cell's output delayed by its
Liberty delay (the mean of its arcs at the FO4 slew and a fan-out-of-4 load,
as an inertial delay: pulses shorter than a gate are filtered, as gates do).
Every net's transitions are counted from a VCD of each run; the ratio of
switched capacitance (transitions x the net's load) is what glitches add to
the switching energy.  Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

from hw import formats as F
from hw.models import technology
from hw.models.energy import net_loads
from hw.models.synth import cell_models, synthesize
from hw.rtl import build_unit, get_kind, ports, to_verilog

UNITS = [("mac", "int8"), ("mac", "e4m3"), ("mul", "e4m3"), ("mac", "posit8")]


def delayed_models(tech) -> str:
    """The cell models with each cell's output assignment delayed by its mean Liberty delay (ps)."""
    out = []
    for module in re.split(r"(?=^module )", cell_models(tech), flags=re.M):
        m = re.match(r"module (\S+)\(", module)
        if not m or m[1] not in tech.cells:
            out.append(module)
            continue
        cell = tech.cells[m[1]]
        load = 4 * max((p.cap_ff for p in cell.pins.values() if p.direction == "input"), default=0.0)
        delays = [t.mean(tech.slew_ns, load) for t in cell.delay.values()]
        ps = max(1, round(1000 * sum(delays) / len(delays))) if delays else 1
        for pin in cell.outputs:
            module = re.sub(rf"^  assign {pin} = ", f"  assign #{ps} {pin} = ", module, flags=re.M)
        out.append(module)
    return "".join(out)


def testbench(top: str, unit_ports, vectors: int, period_ps: int) -> str:
    inputs = [p for p in unit_ports if p.direction == "in"]
    decl = "\n".join(f"  reg [{p.bits - 1}:0] {p.name};" for p in inputs)
    outs = [p for p in unit_ports if p.direction == "out"]
    decl += "\n" + "\n".join(f"  wire [{p.bits - 1}:0] {p.name};" for p in outs)
    loads = "\n".join(f'    $readmemh("{p.name}.hex", mem_{p.name});' for p in inputs)
    mems = "\n".join(f"  reg [{p.bits - 1}:0] mem_{p.name} [0:{vectors - 1}];" for p in inputs)
    drive = "\n".join(f"      {p.name} = mem_{p.name}[i];" for p in inputs)
    conns = ", ".join(f".{p.name}({p.name})" for p in unit_ports)
    return f"""`timescale 1ps/1ps
module tb;
{decl}
{mems}
  integer i;
  {top} u ({conns});
  initial begin
{loads}
    $dumpfile("run.vcd");
    $dumpvars(1, u);
    for (i = 0; i < {vectors}; i = i + 1) begin
{drive}
      #{period_ps};
    end
    $finish;
  end
endmodule
"""


def vcd_transitions(path: Path) -> dict[str, int]:
    """0<->1 transitions per net (bit) of the dumped scope, from a VCD."""
    codes, counts, last = {}, defaultdict(int), {}
    with open(path) as fh:
        for line in fh:
            if line.startswith("$var"):
                parts = line.split()
                codes.setdefault(parts[3], []).append((parts[4], int(parts[2])))
            elif line and line[0] in "01xz" and len(line.strip()) > 1 and not line.startswith("$"):
                value, code = line[0], line[1:].strip()
                _count(codes, counts, last, code, value)
            elif line.startswith("b"):
                value, code = line[1:].split()
                _count(codes, counts, last, code, value)
    return counts


def _count(codes, counts, last, code, value):
    for name, width in codes.get(code, []):
        bits = value.rjust(width, "0" if value[0] in "01" else value[0])[-width:]
        old = last.get((name, code))
        if old is not None:
            for i, (a, b) in enumerate(zip(old[::-1], bits[::-1])):
                if a != b and a in "01" and b in "01":
                    counts[f"{name}[{i}]" if width > 1 else name] += 1
        last[(name, code)] = bits


def measure(kind: str, fmt: str, tech, vectors: int) -> tuple[float, float]:
    unit = build_unit(kind, F.get(fmt))
    name = unit.default_name
    netlist = synthesize(to_verilog(unit, name), name, tech, 20.0)
    work = get_kind(kind).workload(unit, vectors, np.random.default_rng(3))
    unit_ports = [p for p in ports(unit)]
    ratios = []
    counts = []
    with tempfile.TemporaryDirectory(prefix="hw-glitch-") as tmp:
        work_dir = Path(tmp)
        (work_dir / "unit.v").write_text(netlist.verilog)
        for p in unit_ports:
            if p.direction == "in":
                values = work.inputs.get(p.name, np.ones(work.vectors, dtype=np.uint64))
                values = np.asarray(values).reshape(work.vectors, -1)
                lines = []
                for row in values:
                    word = 0
                    for lane, v in enumerate(row):
                        word |= int(v) << (lane * p.width)
                    lines.append(f"{word:x}")
                (work_dir / f"{p.name}.hex").write_text("\n".join(lines) + "\n")
        (work_dir / "tb.v").write_text(testbench(name, unit_ports, work.vectors, 20000))
        for models in (cell_models(tech), delayed_models(tech)):
            (work_dir / "cells.v").write_text(models)
            subprocess.run(["iverilog", "-o", "sim", "tb.v", "unit.v", "cells.v"], cwd=work_dir, check=True,
                           capture_output=True)
            subprocess.run(["vvp", "-n", "sim"], cwd=work_dir, check=True, capture_output=True)
            counts.append(vcd_transitions(work_dir / "run.vcd"))
    loads = net_loads(netlist.module, tech)
    cap_by_name = {}
    for net_name, net in netlist.module["netnames"].items():
        for i, bit in enumerate(net["bits"]):
            if isinstance(bit, int) and bit in loads:
                cap_by_name[f"{net_name}[{i}]" if len(net["bits"]) > 1 else net_name] = loads[bit].cap_ff
    zero = sum(counts[0].get(n, 0) * c for n, c in cap_by_name.items())
    real = sum(counts[1].get(n, 0) * c for n, c in cap_by_name.items())
    toggles = sum(counts[1].values()) / max(sum(counts[0].values()), 1)
    ratios = (toggles, real / zero if zero else float("nan"))
    return ratios


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tech", default="osu018")
    p.add_argument("--vectors", type=int, default=400)
    args = p.parse_args()
    tech = technology.get(args.tech)
    for kind, fmt in UNITS:
        toggles, energy = measure(kind, fmt, tech, args.vectors)
        print(f"{kind}_{fmt} on {tech.name}: with cell delays, {toggles:.2f}x the net transitions and "
              f"{energy:.2f}x the switched capacitance of zero-delay simulation")


if __name__ == "__main__":
    main()
