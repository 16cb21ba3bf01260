"""Benchmark and table: the cost of one step of each GPU's tensor-core design, on a real cell library at a clock.

    .venv/bin/python benchmarks/bench_tensorcore.py [--tech osu018] [--freq 200] [--out results/cost]

One unit per distinct registered spec (GPUs whose specs share parameters share the
design; the GPU column lists them): the full step (``spec.step`` lanes of the
input format and the accumulator) pipelined for the clock by
:func:`hw.models.cost.implement`, costed by one gate-level simulation of a dot-product
workload.  Prints the table (stages = latency, slack, area, energy per step and per
product) and writes ``tensorcore_<date>.csv`` into ``--out``.  Prints figures;
asserts nothing.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from hw import formats as F
from hw.files import write_atomic
from hw.formats import tensorcore
from hw.models import technology
from hw.models.cost import Prepared, implement, measure, quality
from hw.models.report import table_csv
from hw.rtl import build_unit, get_kind


def designs() -> dict[str, list[str]]:
    """Spec name of each distinct design -> names of every spec with the same parameters."""
    groups: dict = {}
    for name, spec in tensorcore.SPECS.items():
        if spec.promote_every is None:
            groups.setdefault(replace(spec, name="", source=""), []).append(name)
    return {names[0]: names for names in groups.values()}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tech", default="osu018")
    p.add_argument("--freq", type=float, default=200.0)
    p.add_argument("--out", default="results/cost")
    args = p.parse_args()
    tech = technology.get(args.tech)
    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, {datetime.date.today()}; "
          f"{tech.name} at {args.freq:g} MHz\n", flush=True)
    units, prepared, shared = [], [], {}
    for name, names in designs().items():
        spec = tensorcore.SPECS[name]
        unit = build_unit("tensorcore", F.get(spec.inputs[0]), spec=name)
        started = time.perf_counter()
        impl = implement(unit, tech, args.freq)
        work = get_kind("tensorcore").workload(unit, 1024, np.random.default_rng(1))
        units.append(unit)
        prepared.append(Prepared(impl.name, {"unit": impl.name}, impl, work, quality(unit),
                                 time.perf_counter() - started))
        shared[impl.name] = (name, names)
        print(f"  {impl.name}: {impl.latency} stages, slack {impl.timing.slack_ns:+.3f} ns "
              f"({time.perf_counter() - started:.0f} s)", flush=True)
    rows = measure(units, prepared, tech, name="bench-tensorcore")
    out_rows = []
    for unit, r in zip(units, rows):
        if "error" in r:
            print(f"{r['unit']}: {r['error']}")
            continue
        name, names = shared[r["unit"]]
        spec = tensorcore.SPECS[name]
        out_rows.append({
            "design": name, "specs": " ".join(names), "inputs": "/".join(spec.inputs), "output": spec.output.name,
            "products_per_step": unit.lanes, "align_bits": spec.align_bits, "c_term": spec.c_term.value,
            "tech": tech.name, "freq_mhz": args.freq, "latency": r["latency"], "slack_ns": r["slack_ns"],
            "fmax_mhz": r["fmax_mhz"], "area_um2": r["area_um2"], "flops": r["flops"],
            "area_per_product_um2": round(r["area_um2"] / unit.lanes, 1),
            "energy_per_step_pj": round(r["energy_per_op_pj"] * unit.lanes, 3),
            "energy_per_product_pj": r["energy_per_op_pj"], "synth_s": r["synth_s"], "sim_s": r["sim_s"]})
    keys = list(out_rows[0])
    print("\n" + "  ".join(keys))
    for r in out_rows:
        print("  ".join(str(r[k]) for k in keys))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(str(out / f"tensorcore_{datetime.date.today()}.csv"), table_csv(out_rows))


if __name__ == "__main__":
    main()
