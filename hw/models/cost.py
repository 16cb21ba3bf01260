"""Area, depth and energy of units: synthesize, simulate the gate-level netlists, weigh their toggles.

:func:`prepare` synthesizes one unit and makes its operand stream (the slow,
parallel part); :func:`measure` simulates any number of prepared units in
one Verilator build with toggle coverage and returns one cost row each.
The gate-level simulation doubles as an equivalence check: a netlist whose
outputs differ from the golden model's, in any bit, is rejected.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field

import numpy as np

from ..rtl import default_name, to_verilog
from .cells import GATE_SET
from .energy import read_toggles, switching_energy
from .synth import Netlist, synthesize
from .workload import Stream, dot_quality, stream

__all__ = ["Prepared", "prepare", "measure", "evaluate", "cost_key", "MODEL_VERSION"]

#: Bumped whenever the cell table, the flow or the workload changes, so cached results are recomputed.
MODEL_VERSION = 1


def cost_key(verilog: str, vectors: int, seed: int) -> str:
    """Cache key of a unit's cost: its Verilog, the stream and the model version."""
    text = json.dumps([MODEL_VERSION, GATE_SET, vectors, seed]) + verilog
    return hashlib.sha256(text.encode()).hexdigest()[:20]


@dataclass
class Prepared:
    """A synthesized unit with its stream and quality, ready for :func:`measure` (picklable)."""

    name: str
    info: dict
    netlist: Netlist = field(repr=False)
    work: Stream = field(repr=False)
    quality: float
    synth_s: float


def prepare(unit, vectors: int = 2048, seed: int = 1) -> Prepared:
    """Synthesize ``unit`` and draw its stream of about ``vectors`` steps."""
    name = default_name(unit)
    started = time.perf_counter()
    netlist = synthesize(to_verilog(unit, name), name)
    info = {"unit": name, "kind": unit.kind, "format": unit.fmt.name,
            "acc": getattr(getattr(unit, "acc", None), "name", ""), "stages": unit.stages}
    work = stream(unit, vectors, np.random.default_rng(seed))
    return Prepared(name, info, netlist, work, dot_quality(unit), time.perf_counter() - started)


def measure(units: list, prepared: list[Prepared], name: str = "cost") -> list[dict]:
    """Cost rows of ``prepared`` (``units`` are the same units, for their ports), from one simulation.

    A unit whose netlist disagrees with the golden model, or whose toggles
    were not all seen, gets a row ``{"unit": name, "error": why}`` instead.
    """
    from sim.harness import Group
    from sim.run import run_groups

    names = [p.netlist.top for p in prepared]
    if len(set(names)) != len(names):  # Verilator counts a module's toggles over all its instances
        raise ValueError(f"each module once per measurement, not {names}")
    groups = [Group(unit, 1, p.work.a, p.work.b, p.work.expected, acc=p.work.acc, extra=p.work.extra,
                    verilog=p.netlist.verilog, name=p.name) for unit, p in zip(units, prepared)]
    started = time.perf_counter()
    results = run_groups(groups, name=name, toggles=True)
    sim_s = (time.perf_counter() - started) / len(prepared)
    toggles = read_toggles(results[0]["coverage"])
    rows = []
    for k, (p, result) in enumerate(zip(prepared, results)):
        if result["mismatches"] or result["received"] != result["vectors"]:
            rows.append({"unit": p.name, "error": f"the synthesized netlist disagrees with the golden model: {result}"})
            continue
        energy = switching_energy(p.netlist.module, toggles.get(f"harness.g{k}_copy[0].u", {}), p.work.vectors)
        if energy.covered < 0.99:
            rows.append({"unit": p.name, "error": f"toggles cover only {energy.covered:.1%} of the switched capacitance"})
            continue
        n, ops = p.netlist, p.work.vectors * p.work.ops
        rows.append({
            **p.info, "lanes": p.work.ops,
            "cells": sum(n.cells.values()), "flops": n.cells.get("$_DFF_P_", 0), "transistors": n.transistors,
            "gate_equivalents": round(n.gate_equivalents, 1), "area_um2": round(n.area_um2, 2),
            "comb_area_um2": round(n.comb_area_um2, 2), "reg_area_um2": round(n.register_area_um2, 2),
            "depth": n.depth, "area_per_op_um2": round(n.area_um2 / p.work.ops, 3),
            "energy_per_op_pj": round(energy.total_pj / ops, 5),
            "switching_pj_per_op": round(energy.switching_pj / ops, 5),
            "clock_pj_per_op": round(energy.clock_pj / ops, 5),
            "dot64_rel_error": p.quality, "vectors": p.work.vectors,
            "synth_s": round(p.synth_s, 2), "sim_s": round(sim_s, 2),
        })
    return rows


def evaluate(unit, vectors: int = 2048, seed: int = 1) -> dict:
    """The cost row of one unit (see :func:`measure`); RuntimeError if its netlist fails the check."""
    row = measure([unit], [prepare(unit, vectors, seed)], name=f"cost-{default_name(unit)}")[0]
    if "error" in row:
        raise RuntimeError(f"{row['unit']}: {row['error']}")
    return row
