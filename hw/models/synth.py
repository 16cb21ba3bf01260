"""Synthesis of a unit's Verilog to the generic gate set with Debian's yosys (0.23).

``synth -flatten``, flip-flops legalised to plain positive-edge D flip-flops
(synchronous resets become gates in front of D), ABC mapping to
:data:`hw.models.cells.GATE_SET`, unused wires purged, nets renamed ``_N_``
so that the gate-level Verilog and the JSON netlist name them alike.
Reports cell counts, ``stat -tech cmos`` transistors and ``ltp -noff`` depth
(the longest chain of gates between registers and ports).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .cells import CELLS, GATE_SET, NAND2_UM2

__all__ = ["Netlist", "synthesize", "yosys_path", "SCRIPT"]

SCRIPT = """read_verilog -sv unit.v
hierarchy -top {top}
synth -flatten -top {top}
dfflegalize -cell $_DFF_P_ 01
abc -g {gates}
opt_clean -purge
rename -enumerate
tee -o stat.txt stat -tech cmos
tee -o ltp.txt ltp -noff
write_json netlist.json
write_verilog -noattr gates.v
"""


def yosys_path() -> str | None:
    """The ``yosys`` executable on PATH, or None."""
    return shutil.which("yosys")


@dataclass
class Netlist:
    """A unit mapped to library cells: counts, transistors, depth, and the gate-level netlist."""

    top: str
    cells: Counter
    transistors: int
    depth: int
    verilog: str = field(repr=False)
    module: dict = field(repr=False)

    @property
    def area_um2(self) -> float:
        return sum(CELLS[gate].area_um2 * n for gate, n in self.cells.items())

    @property
    def register_area_um2(self) -> float:
        return CELLS["$_DFF_P_"].area_um2 * self.cells.get("$_DFF_P_", 0)

    @property
    def comb_area_um2(self) -> float:
        return self.area_um2 - self.register_area_um2

    @property
    def gate_equivalents(self) -> float:
        return self.area_um2 / NAND2_UM2


def synthesize(verilog: str, top: str) -> Netlist:
    """Map ``verilog`` (module ``top`` and what it instantiates) to library cells; RuntimeError if yosys fails."""
    yosys = yosys_path()
    if yosys is None:
        raise RuntimeError("yosys is not installed (apt-get install yosys; `make sysdeps` does it)")
    with tempfile.TemporaryDirectory(prefix="hw-synth-") as tmp:
        work = Path(tmp)
        (work / "unit.v").write_text(verilog)
        (work / "synth.ys").write_text(SCRIPT.format(top=top, gates=GATE_SET))
        run = subprocess.run([yosys, "-q", "-l", "synth.log", "synth.ys"], cwd=work, capture_output=True, text=True)
        if run.returncode != 0:
            log = (work / "synth.log").read_text() if (work / "synth.log").exists() else run.stderr
            raise RuntimeError(f"yosys failed on {top}: {log.strip().splitlines()[-1] if log.strip() else run.returncode}")
        stat = (work / "stat.txt").read_text()
        ltp = (work / "ltp.txt").read_text()
        module = json.loads((work / "netlist.json").read_text())["modules"][top]
        verilog_out = (work / "gates.v").read_text()
    cells = Counter(cell["type"] for cell in module["cells"].values())
    unknown = set(cells) - set(CELLS)
    if unknown:
        raise RuntimeError(f"{top}: yosys left cells outside the library: {sorted(unknown)}")
    transistors = re.search(r"Estimated number of transistors:\s+(\d+)", stat)
    depth = re.search(r"\(length=(\d+)\)", ltp)
    return Netlist(top, cells, int(transistors.group(1)) if transistors else 0,
                   int(depth.group(1)) if depth else 0, verilog_out, module)
