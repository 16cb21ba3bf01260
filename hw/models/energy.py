"""Energy per operation from the library: measured toggles weighed by Liberty's power data.

:func:`read_toggles` reads the per-net 0->1 and 1->0 counts that Verilator
writes for a gate-level simulation built with ``toggles=True`` (see
:func:`hw.sim.simulate_many`); :func:`energy` turns them into energy at a
clock:

* **switching**: every transition of a net charges or discharges its load,
  ``C V^2 / 2``; ``C`` is the input capacitance of every pin it drives (from
  the library), the wire-load model's capacitance for that fan-out
  (:meth:`~hw.models.technology.Technology.wire_cap_ff`) and, on an output
  port, the D pin of a flip-flop of the library;
* **internal**: every transition of a cell's output costs the energy of its
  ``internal_power`` table at the FO4 slew and the net's load (the mean over
  the arcs from its inputs, which toggle caused it not being known), and
  every transition at an input pin that has its own table costs that;
* **clock**: every flip-flop's clock pin rises and falls once per cycle: its
  internal clock-pin energy twice plus ``C_clk V^2`` (an ideal clock: no tree);
* **leakage**: the cells' ``cell_leakage_power`` times the cycles' duration.

Zero-delay simulation: a net toggles at most once per input change, so
glitches are not counted (see the README for what they add on a few units).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from .synth import cell_pins
from .technology import Technology

__all__ = ["read_toggles", "net_loads", "energy", "Energy"]

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


@dataclass
class Load:
    """What one net bit drives and is driven by."""

    cap_ff: float = 0.0
    driver: tuple | None = None          # (cell type, output pin) or None for an input port
    input_tables: tuple = ()             # internal-energy tables of the input pins it drives


def net_loads(module: dict, tech: Technology) -> dict[int, Load]:
    """Per net bit of a mapped JSON module: switched capacitance (fF), driver and sink pins' tables."""
    loads: dict[int, Load] = defaultdict(Load)
    fanout: dict[int, int] = defaultdict(int)
    d_cap = tech.flop.pins[tech.flop.flop.d].cap_ff
    for _, ctype, pin, direction, bit in cell_pins(module):
        data = tech.cells[ctype]
        if direction == "output":
            loads[bit].driver = (ctype, pin)
        elif not data.pins[pin].clock:
            loads[bit].cap_ff += data.pins[pin].cap_ff
            fanout[bit] += 1
            table = data.power.get((pin, ""))
            if table is not None:
                loads[bit].input_tables += (table,)
    for port in module["ports"].values():
        if port["direction"] == "output":
            for bit in port["bits"]:
                if isinstance(bit, int):
                    loads[bit].cap_ff += d_cap
                    fanout[bit] += 1
    for bit, n in fanout.items():
        loads[bit].cap_ff += tech.wire_cap_ff(n)
    return dict(loads)


@dataclass
class Energy:
    """Energy of a simulated stream (pJ) by component, and the share of switched capacitance whose toggles were seen."""

    switching_pj: float
    internal_pj: float
    clock_pj: float
    leakage_pj: float
    covered: float

    @property
    def total_pj(self) -> float:
        return self.switching_pj + self.internal_pj + self.clock_pj + self.leakage_pj


def _bit_toggles(module: dict, toggles: dict) -> dict[int, int]:
    """Toggle counts by net bit, through the module's net names."""
    per_bit: dict[int, int] = {}
    for name, net in module["netnames"].items():
        offset = net.get("offset", 0)
        for i, bit in enumerate(net["bits"]):
            if isinstance(bit, int) and (name, i + offset) in toggles:
                per_bit[bit] = toggles[name, i + offset]
    return per_bit


def energy(module: dict, tech: Technology, toggles: dict[tuple[str, int], int], cycles: int,
           period_ns: float) -> Energy:
    """Energy of ``cycles`` clock cycles of ``period_ns`` whose net transitions are ``toggles``."""
    loads = net_loads(module, tech)
    per_bit = _bit_toggles(module, toggles)
    v2 = tech.voltage ** 2
    switching = internal = 0.0
    for bit, load in loads.items():
        n = per_bit.get(bit, 0)
        if not n:
            continue
        switching += n * load.cap_ff * v2 / 2 / 1000
        if load.driver is not None:
            cell, pin = load.driver
            tables = [t for (out, related), t in tech.cells[cell].power.items() if out == pin]
            if tables:
                internal += n * sum(t.mean(tech.slew_ns, load.cap_ff) for t in tables) / len(tables)
        internal += n * sum(t.mean(tech.slew_ns, 0.0) for t in load.input_tables)
    clock = leakage_nw = 0.0
    for cell in module["cells"].values():
        data = tech.cells[cell["type"]]
        leakage_nw += data.leakage_nw
        for pin in data.pins.values():
            if pin.clock and pin.direction == "input":
                table = data.power.get((pin.name, ""))
                clock += cycles * (2 * (table.mean(tech.slew_ns, 0.0) if table else 0.0) + pin.cap_ff * v2 / 1000)
    seen = sum(load.cap_ff for bit, load in loads.items() if bit in per_bit)
    total = sum(load.cap_ff for load in loads.values())
    return Energy(switching, internal, clock, leakage_nw * cycles * period_ns * 1e-6, seen / total if total else 1.0)
