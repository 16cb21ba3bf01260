"""The generic gate set units are mapped to, and a 45 nm cell table for its area and energy.

Synthesis maps every unit with yosys/ABC to the gates in :data:`GATE_SET`
(plus NOT and a positive-edge D flip-flop).  Each gate is one X1 cell of the
**NanGate FreePDK45 Open Cell Library** (``NangateOpenCellLibrary_typical.lib``,
PDKv1_3_v2010_12, typical corner, 1.10 V, 25 C):

* **Area** is the library's: a cell is a whole number of 0.19 um x 1.4 um
  placement sites (0.266 um^2 each), INV_X1 2 sites (0.532 um^2), NAND2_X1 3,
  AOI21_X1 4, AOI22_X1 5, XOR2_X1 6, MUX2_X1 7, DFF_X1 17 (4.522 um^2).
* **Input capacitance** (fF, the mean over the cell's input pins) is the
  library's pin ``capacitance`` rounded to 0.05 fF (INV_X1 A 1.700, NAND2_X1
  A1/A2 1.599/1.664; the other cells' X1 pins lie between 0.9 and 2.4 fF).
* **Self capacitance** (fF) is ours, not the library's: the output diffusion
  plus any internal node a cell switches when its output toggles (the
  internal inverter of AND/OR, the two stages of XOR/XNOR/MUX, the master and
  slave of a flip-flop), estimated from the same pin capacitances.  It stands
  in for the liberty's internal-power tables; expect +-30 % on energy.
* **Wire load**: :data:`WIRE_FF_PER_FANOUT` per driven pin (short local
  routes in a compact datapath, about 4 um at 0.2 fF/um), no placement.

A net's switching energy per transition is ``C V^2 / 2`` with ``C`` the
driver's self capacitance, the input capacitance of every pin it drives and
the wire load; a flip-flop also spends ``V^2 (C_clk)`` every clock cycle.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Cell", "CELLS", "GATE_SET", "VDD", "WIRE_FF_PER_FANOUT", "OUTPUT_LOAD_FF", "FF_CLOCK_FF",
           "SITE_UM2", "NAND2_UM2"]

#: Supply voltage of the library's typical corner (V).
VDD = 1.10
#: Area of one placement site (um^2): 0.19 um x 1.4 um.
SITE_UM2 = 0.266
#: Wire capacitance per driven pin (fF).
WIRE_FF_PER_FANOUT = 0.8
#: Load on each output port of a unit (fF): the D pin of the register that takes it.
OUTPUT_LOAD_FF = 1.15
#: Capacitance a flip-flop switches twice per clock cycle (fF): its CK pin (0.95) plus its clock inverters.
FF_CLOCK_FF = 2.95


@dataclass(frozen=True)
class Cell:
    """One library cell: the yosys gate it implements, its NanGate name, sites, pin and self capacitance (fF)."""

    gate: str
    name: str
    sites: int
    input_ff: float
    self_ff: float

    @property
    def area_um2(self) -> float:
        return self.sites * SITE_UM2


_TABLE = [
    Cell("$_NOT_", "INV_X1", 2, 1.70, 0.8),
    Cell("$_NAND_", "NAND2_X1", 3, 1.65, 1.0),
    Cell("$_NOR_", "NOR2_X1", 3, 1.70, 1.0),
    Cell("$_AND_", "AND2_X1", 4, 0.95, 2.2),
    Cell("$_OR_", "OR2_X1", 4, 0.95, 2.2),
    Cell("$_XOR_", "XOR2_X1", 6, 2.30, 3.0),
    Cell("$_XNOR_", "XNOR2_X1", 6, 2.35, 3.0),
    Cell("$_MUX_", "MUX2_X1", 7, 1.25, 3.0),
    Cell("$_AOI3_", "AOI21_X1", 4, 1.60, 1.2),
    Cell("$_OAI3_", "OAI21_X1", 4, 1.60, 1.2),
    Cell("$_AOI4_", "AOI22_X1", 5, 1.60, 1.4),
    Cell("$_OAI4_", "OAI22_X1", 5, 1.60, 1.4),
    Cell("$_DFF_P_", "DFF_X1", 17, 1.15, 3.0),
]

#: yosys gate type -> :class:`Cell`.
CELLS = {cell.gate: cell for cell in _TABLE}
#: The gates ABC may use (NOT is always added): all have an X1 cell above.
GATE_SET = "AND,NAND,OR,NOR,XOR,XNOR,MUX,AOI3,OAI3,AOI4,OAI4"
#: Area of a NAND2_X1 (um^2): the unit of gate equivalents.
NAND2_UM2 = CELLS["$_NAND_"].area_um2
