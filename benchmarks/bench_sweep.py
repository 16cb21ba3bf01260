"""Benchmark: the default sweep from a cold cache at one (technology, clock), and each unit's time per tool.

    .venv/bin/python benchmarks/bench_sweep.py [--config sweeps/default.yaml] [--tech osu018] [--freq 200] [--jobs 2]

Runs ``python -m hw.dse`` into a fresh temporary folder (nothing cached), then
prints the wall time, the design points per second and, per unit, the seconds
spent in yosys (synthesis), OpenSTA (timing, every pipelining round) and the
rest of its implementation (register insertion, workload), and its share of
the gate-level simulation (its group's Verilator build and run, divided evenly
among the group's units).  Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default=str(ROOT / "sweeps" / "default.yaml"))
    p.add_argument("--tech", default="osu018")
    p.add_argument("--freq", default="200")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = p.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {datetime.date.today()}; {args.config} on "
          f"{args.tech} at {args.freq} MHz, {args.jobs} Dask workers, cold cache", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as out:
        started = time.perf_counter()
        run = subprocess.run([sys.executable, "-m", "hw.dse", "--config", args.config, "--out", out, "--tech",
                              args.tech, "--freq", args.freq, "--jobs", str(args.jobs), "--no-progress"],
                             capture_output=True, text=True, cwd=ROOT)
        wall = time.perf_counter() - started
        if run.returncode not in (0, 1):
            print(run.stderr[-3000:])
            sys.exit(run.returncode)
        rows = list(csv.DictReader((Path(out) / "dse.csv").open()))
    print(f"\n{'unit':52s} {'yosys s':>8s} {'STA s':>6s} {'other s':>8s} {'sim s':>6s}")
    for r in rows:
        other = float(r["synth_s"]) - float(r["yosys_s"]) - float(r["sta_s"])
        print(f"{r['unit']:52s} {float(r['yosys_s']):8.1f} {float(r['sta_s']):6.1f} {other:8.1f} "
              f"{float(r['sim_s']):6.1f}")
    total = {key: sum(float(r[key]) for r in rows) for key in ("yosys_s", "sta_s", "synth_s", "sim_s")}
    print(f"\n{len(rows)} units in {wall:.0f} s wall ({len(rows) / wall:.3f} units/s); summed over units: yosys "
          f"{total['yosys_s']:.0f} s, OpenSTA {total['sta_s']:.0f} s, implementation in all {total['synth_s']:.0f} s "
          f"(on {args.jobs} workers), gate-level simulation {total['sim_s']:.0f} s (wall time of each group's "
          "Verilator build and run, shared among its units; the builds run beside the syntheses)")
    failed = [line for line in run.stderr.splitlines() if line.startswith("hw.dse: failed")]
    for line in failed:
        print(line)


if __name__ == "__main__":
    main()
