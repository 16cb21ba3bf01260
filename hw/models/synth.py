"""Synthesis of a unit to a technology's cells (yosys 0.70 with ABC, through pyosys).

The flow (:data:`SCRIPT`): ``synth -flatten``; flip-flops legalised to plain
positive-edge D flip-flops (synchronous resets and load enables become gates
in front of D) and mapped to the library's own (``dfflibmap``); combinational
logic mapped by ABC to the library's usable cells with the clock period as
its delay target, buffering and gate sizing (``abc -liberty -D``, the script
below: yosys's default script ignores the target).  ``retime=True`` passes the
flip-flops through ABC too (``abc -dff``), whose ``dretime`` moves them to
balance the stages (delay-optimal retiming), then maps them; this is how a
pipelined unit's registers are placed for a clock
(:mod:`hw.models.pipelining`).  Reports cells by type, area (total,
combinational, registers) from the library, the gate-level Verilog and the
JSON netlist (nets renamed ``_N_`` in both).
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .technology import Technology
from .yosys import YosysError, run_script

__all__ = ["Netlist", "synthesize", "cell_models", "SCRIPT", "ABC_SCRIPT", "DEFAULT_BUDGET_S"]

#: ABC: structural choices, then delay-targeted mapping ({D}: the period in ps), buffering and sizing.
ABC_SCRIPT = ("+strash;ifraig;scorr;dc2;dretime;strash;&get,-n;&dch,-f;&nf,{D};&put;"
              "buffer,-p;upsize,{D};dnsize,{D};stime,-p")
SCRIPT = """read_liberty -lib {lib}
read_verilog -sv unit.v
hierarchy -top {top}
synth -flatten -top {top}
dfflegalize -cell $_DFF_P_ 01
{map}
opt_clean -purge
setundef -zero
rename -enumerate
tee -q -o stat.txt stat -liberty {lib}
write_json netlist.json
write_verilog -noattr -noexpr -simple-lhs gates.v
"""
_MAP = "dfflibmap -liberty {lib}\nabc -liberty {lib} -D {ps} -script {abc}"
_MAP_RETIMED = "abc -dff -liberty {lib} -D {ps} -script {abc}\ndfflibmap -liberty {lib}\nabc -liberty {lib} -D {ps} -script {abc}"
#: Seconds one synthesis may take before it is stopped (see :func:`synthesize`).
DEFAULT_BUDGET_S = 900


@dataclass
class Netlist:
    """A unit mapped to a technology's cells: cell counts, areas, the gate-level Verilog and JSON module."""

    top: str
    technology: str
    period_ns: float
    retimed: bool
    cells: Counter
    area_um2: float
    register_area_um2: float
    flops: int
    verilog: str = field(repr=False)
    module: dict = field(repr=False)

    @property
    def comb_area_um2(self) -> float:
        return self.area_um2 - self.register_area_um2


def cell_pins(module: dict):
    """``(cell name, cell type, pin, direction, net bit)`` of every connection of a mapped JSON module
    (constant bits skipped)."""
    for name, cell in module["cells"].items():
        for pin, bits in cell["connections"].items():
            for bit in bits:
                if isinstance(bit, int):
                    yield name, cell["type"], pin, cell["port_directions"][pin], bit


def synthesize(verilog: str, top: str, tech: Technology, period_ns: float, retime: bool = False,
               budget_s: float = DEFAULT_BUDGET_S) -> Netlist:
    """Map ``verilog`` (module ``top``) to ``tech``'s cells for a clock of ``period_ns``.

    YosysError (a RuntimeError) if yosys fails or runs past ``budget_s``;
    every file it makes is removed on every exit path.
    """
    lib = tech.liberty()
    mapping = (_MAP_RETIMED if retime else _MAP).format(lib=lib, ps=round(period_ns * 1000), abc=ABC_SCRIPT)
    with tempfile.TemporaryDirectory(prefix="hw-synth-") as tmp:
        work = Path(tmp)
        (work / "unit.v").write_text(verilog)
        run_script(SCRIPT.format(lib=lib, top=top, map=mapping), work, top, budget_s)
        module = json.loads((work / "netlist.json").read_text())["modules"][top]
        gates = (work / "gates.v").read_text()
    cells = Counter(cell["type"] for cell in module["cells"].values())
    unknown = sorted(set(cells) - set(tech.cells))
    if unknown:
        raise YosysError(f"{top}: yosys left cells outside {tech.name}: {unknown}")
    area = sum(tech.cells[t].area_um2 * n for t, n in cells.items())
    flops = {t: n for t, n in cells.items() if tech.cells[t].sequential}
    return Netlist(top, tech.name, period_ns, retime, cells, area,
                   sum(tech.cells[t].area_um2 * n for t, n in flops.items()), sum(flops.values()), gates, module)


def cell_models(tech: Technology) -> str:
    """Verilog simulation models of the technology's usable cells, from their Liberty functions (cached)."""
    path = tech.liberty().with_name("cells_sim.v")
    if not path.exists():
        with tempfile.TemporaryDirectory(prefix="hw-cells-") as tmp:
            run_script(f"read_liberty -ignore_miss_func -ignore_miss_dir {tech.liberty()}\n"
                       "proc\nopt_clean\nwrite_verilog -noattr cells_sim.v\n", Path(tmp), f"{tech.name} cells", 600)
            tmp_out = path.with_suffix(".tmp")
            tmp_out.write_text((Path(tmp) / "cells_sim.v").read_text())
            tmp_out.replace(path)
    return path.read_text()
