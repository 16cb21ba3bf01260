"""Area, timing and energy of a unit on a real cell library at a target clock.

``cost(unit, tech, freq_mhz)`` is the whole flow for one unit:

1. **implement** (:func:`implement`): a combinational unit (or an
   accumulating MAC at its one-register depth) is pipelined for the clock
   (:func:`hw.models.pipelining.pipeline_for_clock`: the latency is chosen);
   a unit built with explicit ``stages`` keeps its registers and is
   synthesized for the clock's period; either way OpenSTA reports the
   critical path, the slack at the clock and the fmax;
2. **workload**: the unit kind's realistic stream (:mod:`hw.rtl.workload`);
3. **gate-level simulation** of the mapped netlist with the library's cell
   models (cocotb + Verilator, toggle coverage of every net), which is also an
   equivalence check: a netlist whose outputs differ from the golden model's,
   in any bit, at its latency, is rejected;
4. **energy** from the library (:mod:`hw.models.energy`): switching, internal,
   clock and leakage energy per operation at the clock.

:func:`prepare` (1-2, the slow part, parallel in a sweep) and :func:`measure`
(3-4, many units in one Verilator build) split it for the sweep.
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
from . import synth, technology
from .energy import energy, read_toggles
from .pipelining import pipeline_for_clock
from .sta import Timing, timing
from .synth import DEFAULT_BUDGET_S, Netlist, cell_models, synthesize
from .technology import Technology
from .timers import SECONDS

__all__ = ["Implementation", "Prepared", "implement", "prepare", "measure", "cost", "cost_key", "quality",
           "MODEL_VERSION"]

#: Bumped whenever the flow or the workload changes in a way the key below cannot see.
MODEL_VERSION = 3


def cost_key(verilog: str, tech: Technology, freq_mhz: float, vectors: int, seed: int) -> str:
    """Cache key of a unit's cost: its Verilog, the technology's content (every Liberty byte), the clock,
    the stream, and the flow's scripts."""
    text = json.dumps([MODEL_VERSION, tech.digest, freq_mhz, vectors, seed, synth.SCRIPT, synth.ABC_SCRIPT]) + verilog
    return hashlib.sha256(text.encode()).hexdigest()[:20]


@dataclass
class Implementation:
    """A unit mapped to a technology at a clock: the netlist, its timing and its latency in cycles."""

    name: str
    technology: str
    freq_mhz: float
    latency: int
    netlist: Netlist = field(repr=False)
    timing: Timing
    note: str = ""
    seconds: float = 0.0


def _label(freq_mhz: float) -> str:
    return f"{freq_mhz:g}".replace(".", "p") + "mhz"


def implement(unit, tech: Technology, freq_mhz: float, budget_s: float = DEFAULT_BUDGET_S) -> Implementation:
    """``unit`` on ``tech`` at ``freq_mhz`` (see the module docstring): pipelined for the clock if it is
    combinational, else synthesized with its own registers."""
    started = time.perf_counter()
    if unit.stages == 0 or (get_kind(unit.kind).sequential and unit.stages == 1):
        plan = pipeline_for_clock(unit, tech, freq_mhz, budget_s)
        base = unit.default_name.removesuffix(f"_s{unit.stages}")
        name = f"{base}_{_label(freq_mhz)}_{tech.name}"
        netlist = plan.netlist
        netlist.verilog = netlist.verilog.replace(f"module {netlist.top}(", f"module {name}(", 1)
        netlist.top = name
        note = "; ".join(n for n in (netlist.note, plan.note) if n)
        return Implementation(name, tech.name, freq_mhz, plan.stages, netlist, plan.timing, note,
                              time.perf_counter() - started)
    name = default_name(unit)
    netlist = synthesize(to_verilog(unit, name), name, tech, 1000.0 / freq_mhz, budget_s=budget_s)
    return Implementation(name, tech.name, freq_mhz, unit.stages, netlist, timing(netlist, tech, clocked=True),
                          netlist.note, time.perf_counter() - started)


@dataclass
class Prepared:
    """An implemented unit with its workload and quality, ready for :func:`measure` (picklable)."""

    name: str
    info: dict
    impl: Implementation = field(repr=False)
    work: Workload = field(repr=False)
    quality: float
    synth_s: float
    source: str = ""  # the name of the unit spec it was made from (a sweep's cache key), where one applies


def quality(unit, chains: int = 256, seed: int = 7) -> float:
    """Mean |dot - exact| / mean |exact| of ``chains`` 64-term Gaussian dot products through ``unit``'s golden
    model (its kind's workload); NaN for units that do not accumulate dot products."""
    steps = max(1, round(TERMS / unit.lanes))
    work = get_kind(unit.kind).workload(unit, chains * steps, np.random.default_rng(seed))
    if work.exact is None:
        return float("nan")
    return float(np.mean(np.abs(work.result - work.exact)) / np.mean(np.abs(work.exact)))


def prepare(unit, tech: Technology, freq_mhz: float, vectors: int = 2048, seed: int = 1,
            budget_s: float = DEFAULT_BUDGET_S) -> Prepared:
    """Implement ``unit`` and draw its workload of about ``vectors`` steps."""
    before = dict(SECONDS)
    impl = implement(unit, tech, freq_mhz, budget_s)
    spent = {tool: round(SECONDS[tool] - before.get(tool, 0.0), 2) for tool in ("yosys", "sta")}
    info = {"unit": impl.name, "kind": unit.kind, "format": unit.fmt.name,
            "acc": getattr(getattr(unit, "acc", None), "name", ""), "stages": unit.stages,
            "yosys_s": spent["yosys"], "sta_s": spent["sta"]}
    work = get_kind(unit.kind).workload(unit, vectors, np.random.default_rng(seed))
    return Prepared(impl.name, info, impl, work, quality(unit), impl.seconds)


def measure(units: list, prepared: list[Prepared], tech: Technology, name: str = "cost") -> list[dict]:
    """Cost rows of ``prepared`` (all on ``tech``; ``units`` are the same units, for their ports), from one
    gate-level simulation.  A unit whose netlist disagrees with the golden model, or whose toggles were
    not all seen, gets a row ``{"unit": name, "error": why}`` instead."""
    names = [p.name for p in prepared]
    if len(set(names)) != len(names):  # Verilator counts a module's toggles over all its instances
        raise ValueError(f"each module once per measurement, not {names}")
    models = cell_models(tech)
    jobs = [Job(unit, p.work.inputs, copies=1, name=p.name, verilog=p.impl.netlist.verilog, expected=p.work.expected,
                latency=p.impl.latency, support=models) for unit, p in zip(units, prepared)]
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
        impl, n = p.impl, p.impl.netlist
        cycles = p.work.vectors + impl.latency
        e = energy(n.module, tech, toggles.get(f"harness.g{k}_copy[0].u", {}), cycles, 1000.0 / impl.freq_mhz)
        if e.covered < 0.99:
            rows.append({"unit": p.name, "error": f"toggles cover only {e.covered:.1%} of the switched capacitance"})
            continue
        ops = p.work.vectors * p.work.ops
        t = impl.timing
        rows.append({
            **p.info, "lanes": p.work.ops, "tech": tech.name, "freq_mhz": impl.freq_mhz, "latency": impl.latency,
            "met": t.met, "slack_ns": round(t.slack_ns, 4), "critical_ns": round(t.critical_ns, 4),
            "loop_ns": "" if t.loop_ns is None else round(t.loop_ns, 4),
            "fmax_mhz": round(t.fmax_mhz, 1),
            "cells": sum(n.cells.values()), "flops": n.flops, "area_um2": round(n.area_um2, 2),
            "comb_area_um2": round(n.comb_area_um2, 2), "reg_area_um2": round(n.register_area_um2, 2),
            "area_per_op_um2": round(n.area_um2 / p.work.ops, 3),
            "energy_per_op_pj": round(e.total_pj / ops, 6),
            "switching_pj_per_op": round(e.switching_pj / ops, 6), "internal_pj_per_op": round(e.internal_pj / ops, 6),
            "clock_pj_per_op": round(e.clock_pj / ops, 6), "leakage_pj_per_op": round(e.leakage_pj / ops, 6),
            "dot64_rel_error": p.quality, "vectors": p.work.vectors, "note": impl.note,
            "synth_s": round(p.synth_s, 2), "sim_s": round(sim_s, 2),
        })
    return rows


def cost(unit, tech: Technology | str = technology.DEFAULT, freq_mhz: float = 200.0, vectors: int = 2048,
         seed: int = 1) -> dict:
    """The cost row of one unit on ``tech`` (a Technology, a name or a Liberty path) at ``freq_mhz``;
    RuntimeError if its netlist fails the gate-level check."""
    tech = tech if isinstance(tech, Technology) else technology.get(tech)
    prepared = prepare(unit, tech, freq_mhz, vectors, seed)
    row = measure([unit], [prepared], tech, name=f"cost-{prepared.name}")[0]
    if "error" in row:
        raise RuntimeError(f"{row['unit']}: {row['error']}")
    return row
