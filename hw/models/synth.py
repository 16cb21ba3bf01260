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
import os
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .technology import Technology
from .timers import timed
from .yosys import YosysError, run_script

__all__ = ["Netlist", "synthesize", "cell_models", "SCRIPT", "ABC_SCRIPT", "FAST_ABC_SCRIPT", "DEFAULT_BUDGET_S"]

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
#: The same without structural choices and gate sizing (``&dch``, ``upsize``, ``dnsize``): what a synthesis
#: that ran past its budget is redone with, after ``synth -noabc`` (the row's note says so).  What stalls is
#: ``synth``'s own generic ABC pass: yosys's default ABC script runs ``&fraig -x`` (SAT sweeping) with no
#: conflict limit, which on the XOR-rich 8-lane grouped LNS PE ran for more than 13 minutes (2026-11-24;
#: ``&fraig -x -C 100`` takes 4 s, ``ifraig`` 3 s).  Skipping that pass in the main flow would fix it for
#: every unit but moves other units' areas by -10 % .. +4 % (measured on five MAC and dot units), so it is
#: the fallback until the calibration is restated on it.
FAST_ABC_SCRIPT = "+strash;dretime;strash;&get,-n;&nf,{D};&put;buffer,-p;stime,-p"
#: Seconds one synthesis may take before it is stopped and redone with :data:`FAST_ABC_SCRIPT` (see
#: :func:`synthesize`); the environment variable ``HW_SYNTH_BUDGET_S`` changes it.
DEFAULT_BUDGET_S = float(os.environ.get("HW_SYNTH_BUDGET_S", 900))


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
    note: str = ""

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

    A mapping that runs past ``budget_s`` is stopped (yosys and ABC killed)
    and redone with :data:`FAST_ABC_SCRIPT` under the same budget; the
    netlist's ``note`` says so.  YosysError (a RuntimeError) if yosys fails or
    the second try runs out of time too; every file it makes is removed on
    every exit path.
    """
    try:
        return _synthesize(verilog, top, tech, period_ns, retime, budget_s, fast=False)
    except YosysError as err:
        if "ran past its budget" not in str(err):
            raise
    netlist = _synthesize(verilog, top, tech, period_ns, retime, budget_s, fast=True)
    netlist.note = (f"the full flow ran past {budget_s:.0f} s: synthesized without synth's generic ABC pass and "
                    "mapped with the fast ABC script (no choices or sizing)")
    return netlist


def _synthesize(verilog, top, tech, period_ns, retime, budget_s, fast: bool) -> Netlist:
    lib = tech.liberty()
    mapping = (_MAP_RETIMED if retime else _MAP).format(lib=lib, ps=round(period_ns * 1000),
                                                        abc=FAST_ABC_SCRIPT if fast else ABC_SCRIPT)
    script = SCRIPT.format(lib=lib, top=top, map=mapping)
    if fast:  # yosys's generic mapping runs ABC's `&fraig -x` with no conflict limit: what stalls
        script = script.replace(f"synth -flatten -top {top}", f"synth -flatten -noabc -top {top}")
    with tempfile.TemporaryDirectory(prefix="hw-synth-") as tmp:
        work = Path(tmp)
        (work / "unit.v").write_text(verilog)
        with timed("yosys"):
            run_script(script, work, top, budget_s)
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
