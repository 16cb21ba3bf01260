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

from ..rtl import default_name, get_kind, to_verilog
from ..rtl.workload import TERMS, Workload
from ..sim import Job, compare, simulate_many
from . import cells, synth
from .energy import read_toggles, switching_energy
from .synth import Netlist, synthesize

__all__ = ["Prepared", "prepare", "measure", "evaluate", "cost_key", "quality", "MODEL_VERSION"]

#: Bumped whenever the flow or the workload changes in a way the key below cannot see.
MODEL_VERSION = 2


def _technology() -> list:
    """Every number of the cell data and the energy model that a cost depends on."""
    return [[(c.gate, c.name, c.sites, c.input_ff, c.self_ff) for c in cells.CELLS.values()],
            cells.VDD, cells.SITE_UM2, cells.WIRE_FF_PER_FANOUT, cells.OUTPUT_LOAD_FF, cells.FF_CLOCK_FF,
            cells.GATE_SET]


def cost_key(verilog: str, vectors: int, seed: int) -> str:
    """Cache key of a unit's cost: its Verilog, the stream, the synthesis script, the technology data and the
    energy model's constants (any change to one of them recomputes the unit)."""
    text = json.dumps([MODEL_VERSION, vectors, seed, synth.SCRIPT, _technology()]) + verilog
    return hashlib.sha256(text.encode()).hexdigest()[:20]


@dataclass
class Prepared:
    """A synthesized unit with its workload and quality, ready for :func:`measure` (picklable)."""

    name: str
    info: dict
    netlist: Netlist = field(repr=False)
    work: Workload = field(repr=False)
    quality: float
    synth_s: float


def quality(unit, chains: int = 256, seed: int = 7) -> float:
    """Mean |dot - exact| / mean |exact| of ``chains`` 64-term Gaussian dot products through ``unit``'s golden
    model (its kind's workload); NaN for units that do not accumulate dot products."""
    steps = max(1, round(TERMS / unit.lanes)) if hasattr(unit, "lanes") else 1
    work = get_kind(unit.kind).workload(unit, chains * steps, np.random.default_rng(seed))
    if work.exact is None:
        return float("nan")
    return float(np.mean(np.abs(work.result - work.exact)) / np.mean(np.abs(work.exact)))


def prepare(unit, vectors: int = 2048, seed: int = 1) -> Prepared:
    """Synthesize ``unit`` and draw its workload of about ``vectors`` steps."""
    name = default_name(unit)
    started = time.perf_counter()
    netlist = synthesize(to_verilog(unit, name), name)
    info = {"unit": name, "kind": unit.kind, "format": unit.fmt.name,
            "acc": getattr(getattr(unit, "acc", None), "name", ""), "stages": unit.stages}
    work = get_kind(unit.kind).workload(unit, vectors, np.random.default_rng(seed))
    return Prepared(name, info, netlist, work, quality(unit), time.perf_counter() - started)


def measure(units: list, prepared: list[Prepared], name: str = "cost") -> list[dict]:
    """Cost rows of ``prepared`` (``units`` are the same units, for their ports), from one simulation.

    A unit whose netlist disagrees with the golden model, or whose toggles
    were not all seen, gets a row ``{"unit": name, "error": why}`` instead.
    """
    names = [p.netlist.top for p in prepared]
    if len(set(names)) != len(names):  # Verilator counts a module's toggles over all its instances
        raise ValueError(f"each module once per measurement, not {names}")
    jobs = [Job(unit, p.work.inputs, copies=1, name=p.name, verilog=p.netlist.verilog, expected=p.work.expected)
            for unit, p in zip(units, prepared)]
    started = time.perf_counter()
    results = simulate_many(jobs, name=name, toggles=True)
    sim_s = (time.perf_counter() - started) / len(prepared)
    toggles = read_toggles(str(results[0].coverage))
    rows = []
    for k, (p, job, result) in enumerate(zip(prepared, jobs, results)):
        wrong = compare(job, result.outputs, p.work.expected)
        if wrong:
            rows.append({"unit": p.name, "error": "the synthesized netlist disagrees with the golden model: "
                                                  + "; ".join(str(w) for w in wrong)})
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
