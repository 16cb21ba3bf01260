"""Benchmark: vectors per second of the exhaustive regression per simulator, and
Verilog generation time per format.  Prints figures; asserts nothing.

    .venv/bin/python benchmarks/bench_regression.py [--fmt e4m3] [--icarus-pairs 4096]

Vectors/s counts every vector pushed through the simulated units (multiplier,
MACs, dot products) over the wall time of the cocotb run alone; the one-off
simulator build is reported beside it.  Icarus runs a subset (it is ~100x slower).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from hw import formats as F  # noqa: E402
from hw.rtl import build_unit, to_verilog  # noqa: E402
from hw.sim import Job, available_simulators, compare, simulate_many  # noqa: E402
from hw.rtl import reference  # noqa: E402
from test_sim_units import small_format_groups  # noqa: E402


def generation_times():
    print(f"{'format':<10} {'mul ms':>8} {'mac ms':>8} {'dot x8 ms':>10}")
    for fmt in F.registered():
        row = []
        for unit, lanes in (("mul", None), ("mac", None), ("dot", 8)):
            try:
                u = build_unit(unit, fmt, lanes=lanes, stages=2)
            except ValueError:
                row.append("-")
                continue
            start = time.perf_counter()
            to_verilog(u)
            row.append(f"{(time.perf_counter() - start) * 1e3:.0f}")
        print(f"{fmt.name:<10} {row[0]:>8} {row[1]:>8} {row[2]:>10}")


def regression_rate(name: str, sim: str, subset: int | None):
    jobs = small_format_groups(name, np.random.default_rng(2026))
    if subset is not None:
        jobs = [Job(j.unit, {port: np.asarray(v)[:subset] for port, v in j.inputs.items()}, j.copies) for j in jobs]
    results = simulate_many(jobs, sim=sim, name=f"bench-{name}")
    vectors = sum(j.vectors for j in jobs)
    bad = sum(m.count for j, r in zip(jobs, results) for m in compare(j, r.outputs, reference(j.unit, j.inputs)))
    sim_s, build_s = results[0].sim_seconds, results[0].build_seconds
    print(f"{sim:<10} {name:<8} {vectors:>10} vectors  {vectors / sim_s:>10.0f} vectors/s  "
          f"(run {sim_s:.1f} s, build {build_s:.1f} s, mismatches {bad})")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--fmt", default="e4m3")
    p.add_argument("--icarus-pairs", type=int, default=4096, help="vectors per unit for Icarus (subset)")
    args = p.parse_args()
    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, python {platform.python_version()}\n")
    generation_times()
    print()
    sims = available_simulators()
    for sim in sims:
        regression_rate(args.fmt, sim, None if sim == "verilator" else args.icarus_pairs)


if __name__ == "__main__":
    main()
