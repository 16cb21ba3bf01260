"""Dynamic energy from measured toggles: Verilator's toggle coverage of a gate-level simulation.

:func:`read_toggles` reads the per-net 0->1 and 1->0 counts that Verilator
writes when a harness is built with ``toggles=True`` (see :func:`sim.run.run_groups`);
:func:`switching_energy` weighs each net's transitions by its switched
capacitance (:mod:`hw.models.cells`) and adds the flip-flops' clock energy.
Zero-delay simulation: a net toggles at most once per input change, so
glitches are not counted (real adders and multipliers glitch; the
calibration against published figures shows what that leaves out).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from .cells import CELLS, FF_CLOCK_FF, OUTPUT_LOAD_FF, VDD, WIRE_FF_PER_FANOUT

__all__ = ["read_toggles", "net_capacitance", "switching_energy", "Energy"]

_POINT = re.compile(r"^(?P<name>[^\[:]+)(\[(?P<index>\d+)\])?:(0->1|1->0)$")


def read_toggles(coverage_path: str) -> dict[str, dict[tuple[str, int], int]]:
    """``{instance: {(net, bit): transitions}}`` from a Verilator coverage.dat (0->1 plus 1->0 counts)."""
    toggles: dict[str, dict] = defaultdict(lambda: defaultdict(int))
    with open(coverage_path, "rb") as fh:
        for raw in fh:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if not line.startswith("C '"):
                continue
            body, _, count = line[3:].rpartition("' ")
            fields = dict(item.split("\x02", 1) for item in body.split("\x01") if "\x02" in item)
            point = _POINT.match(fields.get("o", "")) if fields.get("t") == "toggle" else None
            if point:
                toggles[fields.get("h", "")][point["name"], int(point["index"] or 0)] += int(count)
    return {instance: dict(nets) for instance, nets in toggles.items()}


def net_capacitance(module: dict) -> dict[int, float]:
    """Switched capacitance (fF) of every driven net bit of a yosys JSON module, by bit id.

    Driver self capacitance (none for input ports), the input pins it drives
    (clock pins excluded), a wire load per pin, and a register's D pin on
    every output port.
    """
    cap: dict[int, float] = defaultdict(float)
    for cell in module["cells"].values():
        spec = CELLS[cell["type"]]
        for port, bits in cell["connections"].items():
            for bit in bits:
                if isinstance(bit, str):
                    continue
                if cell["port_directions"][port] == "output":
                    cap[bit] += spec.self_ff
                elif port != "C":
                    cap[bit] += spec.input_ff + WIRE_FF_PER_FANOUT
    for port in module["ports"].values():
        if port["direction"] == "output":
            for bit in port["bits"]:
                if not isinstance(bit, str):
                    cap[bit] += OUTPUT_LOAD_FF + WIRE_FF_PER_FANOUT
    return dict(cap)


@dataclass
class Energy:
    """Energy of a simulated stream (pJ): nets switching, flip-flop clocks, and how much of the netlist was seen."""

    switching_pj: float
    clock_pj: float
    covered: float

    @property
    def total_pj(self) -> float:
        return self.switching_pj + self.clock_pj


def switching_energy(module: dict, toggles: dict[tuple[str, int], int], cycles: int) -> Energy:
    """Energy of ``cycles`` clock cycles whose net transitions are ``toggles`` (from :func:`read_toggles`).

    Each transition of a net costs ``C V^2 / 2``; every flip-flop switches
    ``FF_CLOCK_FF`` twice per cycle (``V^2 C`` per cycle).  ``covered`` is the
    share of the switched capacitance whose net had a toggle count.
    """
    cap = net_capacitance(module)
    per_bit: dict[int, int] = {}
    for name, net in module["netnames"].items():
        offset = net.get("offset", 0)
        for i, bit in enumerate(net["bits"]):
            if not isinstance(bit, str) and (name, i + offset) in toggles:
                per_bit[bit] = toggles[name, i + offset]
    seen = sum(c for bit, c in cap.items() if bit in per_bit)
    switched_ff = sum(cap[bit] * n for bit, n in per_bit.items() if bit in cap)
    flops = sum(1 for cell in module["cells"].values() if cell["type"] == "$_DFF_P_")
    return Energy(switched_ff * VDD ** 2 / 2 / 1000, flops * cycles * FF_CLOCK_FF * VDD ** 2 / 1000,
                  seen / sum(cap.values()) if cap else 1.0)
