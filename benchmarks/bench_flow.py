"""Benchmark and table: every family's unit on real cell libraries at two clocks, and the flow's time per step.

    .venv/bin/python benchmarks/bench_flow.py [--techs osu018,sky130hd] [--freqs 200,500] [--out results/cost]

Part 1 times the steps of one unit's flow (synthesis, OpenSTA, frequency-directed
pipelining, gate-level simulation with energy) for an 8-bit MAC.  Part 2 costs
the int8, e4m3, bf16, posit8 and lns8 MACs, the MXFP8 and NVFP4 block dot units and
the accumulating MAC at each (technology, clock) with :func:`hw.models.cost.implement`
and one gate-level simulation per technology, prints the table (stages = latency,
slack, area, energy per MAC) and writes ``flow_<date>.csv`` into ``--out``.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import time
from pathlib import Path

import numpy as np

from hw import formats as F
from hw.files import write_atomic
from hw.models import technology
from hw.models.cost import Prepared, implement, measure, quality
from hw.models.report import table_csv
from hw.models.sta import timing
from hw.models.synth import synthesize
from hw.rtl import build_unit, get_kind, to_verilog

UNITS = [("mac", "int8", {}), ("mac", "e4m3", {}), ("mac", "bf16", {}), ("mac", "posit8", {}), ("mac", "lns8", {}),
         ("dot", "mxfp8_e4m3", {}), ("dot", "nvfp4", {}), ("acc_mac", "int8", {}), ("acc_mac", "e4m3", {})]


def steps(tech, freq: float):
    """Seconds of each step of the flow for the 8-bit MACs."""
    for fmt in ("int8", "e4m3"):
        unit = build_unit("mac", F.get(fmt))
        name = unit.default_name
        t0 = time.perf_counter()
        netlist = synthesize(to_verilog(unit, name), name, tech, 1000 / freq)
        t1 = time.perf_counter()
        timing(netlist, tech, clocked=False)
        t2 = time.perf_counter()
        impl = implement(unit, tech, freq)
        t3 = time.perf_counter()
        work = get_kind("mac").workload(unit, 2048, np.random.default_rng(1))
        prepared = Prepared(impl.name, {"unit": impl.name}, impl, work, quality(unit), impl.seconds)
        row = measure([unit], [prepared], tech, name=f"bench-{impl.name}")[0]
        t4 = time.perf_counter()
        print(f"mac_{fmt} on {tech.name} at {freq:g} MHz: synthesis {t1 - t0:.1f} s, OpenSTA {t2 - t1:.1f} s, "
              f"pipelining (synthesis, cuts, OpenSTA rounds) {t3 - t2:.1f} s, gate-level simulation and energy "
              f"{t4 - t3:.1f} s; total {t4 - t0:.1f} s ({row['latency']} stages, slack {row['slack_ns']:+.3f} ns)")


def table(techs, freqs) -> list[dict]:
    rows = []
    for name in techs:
        tech = technology.get(name)
        units, prepared = [], []
        for freq in freqs:
            for kind, fmt, options in UNITS:
                unit = build_unit(kind, F.get(fmt), **options)
                started = time.perf_counter()
                impl = implement(unit, tech, freq)
                work = get_kind(kind).workload(unit, 1024, np.random.default_rng(1))
                units.append(unit)
                prepared.append(Prepared(impl.name, {"unit": impl.name, "kind": kind, "format": fmt}, impl, work,
                                         quality(unit), time.perf_counter() - started))
                print(f"  {impl.name}: {impl.latency} stages, slack {impl.timing.slack_ns:+.3f} ns "
                      f"({time.perf_counter() - started:.0f} s)", flush=True)
        rows += measure(units, prepared, tech, name=f"bench-flow-{name}")
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--techs", default="osu018,sky130hd")
    p.add_argument("--freqs", default="200,500")
    p.add_argument("--out", default="results/cost")
    args = p.parse_args()
    freqs = [float(f) for f in args.freqs.split(",")]
    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, {datetime.date.today()}\n")
    steps(technology.get("osu018"), freqs[0])
    print()
    rows = table(args.techs.split(","), freqs)
    keys = ["unit", "tech", "freq_mhz", "latency", "met", "slack_ns", "fmax_mhz", "loop_ns", "area_um2",
            "reg_area_um2", "flops", "area_per_op_um2", "energy_per_op_pj", "switching_pj_per_op",
            "internal_pj_per_op", "clock_pj_per_op", "leakage_pj_per_op", "dot64_rel_error", "synth_s", "sim_s"]
    print("\n" + "  ".join(keys))
    for r in rows:
        print("  ".join(str(r.get(k, r.get("error", ""))) for k in keys))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    good = [{k: r[k] for k in keys} for r in rows if "error" not in r]
    write_atomic(str(out / f"flow_{datetime.date.today()}.csv"), table_csv(good))


if __name__ == "__main__":
    main()
