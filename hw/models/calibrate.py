"""Calibration of the cost model against published 45 nm figures and published format comparisons.

``python -m hw.models.calibrate [--out build/calibration] [--jobs N] [--tech sky130hd,asap7] [--freq 200]``

Costs the units that match a published number with the same flow as the
sweep, at one clock on each named cell library, and prints one table per
anchor: our value, the published one, their ratio.

* **Horowitz**, "Computing's energy problem (and what we can do about it)",
  ISSCC 2014, 45 nm at 0.9 V: energy (pJ) and area (um^2) of 8/32-bit
  integer add and multiply and of 16/32-bit float add and multiply.  Ours is
  restated at 45 nm, 0.9 V with Stillmaker and Baas's scaling equations
  (:mod:`hw.models.node_scaling`) from each library's node and nominal voltage.
* **Qualcomm** (van Baalen et al., "FP8 versus INT8 for efficient deep
  learning inference", arXiv:2303.17951, 2023): FP8 MACs are "50-180 % less
  efficient" than INT8 ones, i.e. an FP8/INT8 cost ratio of 1.5 to 2.8.
* **LNS-Madam** (Zhao et al., IEEE Trans. Computers 2022, arXiv:2106.13914):
  an 8-bit LNS datapath uses over 90 % less energy than FP32 and 55 % less
  than FP8 (ratios below 0.10 and about 0.45).
* **MXDOTP** (Islamoglu et al., ASAP 2025, arXiv:2505.13159): an 8-core
  Snitch cluster with MXFP8 dot-product units reaches 356 GFLOPS/W on MXFP8
  matmuls in 12 nm at 0.8 V, 1 GHz, i.e. 5.6 pJ per MAC for the whole cluster
  (cores, SRAM, interconnect); ours is the MXFP8 dot unit alone (one
  32-element block, fp32 accumulation), restated at 14 nm (the paper's
  nearest node to 12 nm), 0.8 V.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..files import write_atomic
from . import node_scaling, technology
from .batch import cost_specs, unit_spec
from .report import ROOT, table_csv
from .sta import sta_path

__all__ = ["HOROWITZ", "COMPARISONS", "MX_DOT", "anchor_spec", "calibration_table", "main"]

#: (label, (kind, format[, lanes[, accumulator]]), published pJ, published um^2): Horowitz, ISSCC 2014, 45 nm, 0.9 V.
HOROWITZ = [
    ("8b int add", ("add", "int8"), 0.03, 36),
    ("32b int add", ("add", "int32"), 0.1, 137),
    ("8b int mult", ("mul", "int8"), 0.2, 282),
    ("32b int mult", ("mul", "int32"), 3.1, 3495),
    ("16b FP add", ("add", "fp16"), 0.4, 1360),
    ("16b FP mult", ("mul", "fp16"), 1.1, 1640),
    ("32b FP add", ("add", "fp32"), 0.9, 4184),
    ("32b FP mult", ("mul", "fp32"), 3.7, 7700),
]

#: (label, unit, published pJ per MAC, its node and volts, source): energy per MAC of published MX dot-product hardware.
MX_DOT = [("MXFP8 dot unit (ours) / MXDOTP cluster, per MAC", ("dot", "mxfp8_e4m3"), 2 / 356.0 * 1e3, "HP14", 0.8,
           "MXDOTP (cluster level)")]

#: (label, numerator unit, denominator unit, published ratio low, high, source).
COMPARISONS = [
    ("FP8 E4M3 MAC (fp32 acc) / INT8 MAC (int32 acc)", ("mac", "e4m3"), ("mac", "int8"), 1.5, 2.8, "Qualcomm"),
    ("FP8 E4M3 MAC (fp16 acc) / INT8 MAC (int32 acc)", ("mac", "e4m3", None, "fp16"), ("mac", "int8"), 1.5, 2.8,
     "Qualcomm"),
    ("FP8 E5M2 MAC (fp32 acc) / INT8 MAC (int32 acc)", ("mac", "e5m2"), ("mac", "int8"), 1.5, 2.8, "Qualcomm"),
    ("LNS8 8-lane PE / FP8 E4M3 8-lane dot", ("mac", "lns8", 8), ("dot", "e4m3", 8), 0.0, 0.45,
     "LNS-Madam"),
    ("LNS8 8-lane PE / FP32 MAC", ("mac", "lns8", 8), ("mac", "fp32"), 0.0, 0.10, "LNS-Madam"),
    ("LNS8 MAC / FP8 E4M3 MAC", ("mac", "lns8"), ("mac", "e4m3"), 0.0, 0.45, "LNS-Madam"),
]


def anchor_spec(args: tuple) -> dict:
    """The unit spec of ``(kind, format[, lanes[, accumulator]])``."""
    kind, fmt, lanes, acc = (*args, None, None)[:4]
    return unit_spec(kind, fmt, lanes=lanes, acc=acc)


def _specs():
    args = ([a for _, a, _, _ in HOROWITZ] + [x for c in COMPARISONS for x in (c[1], c[2])]
            + [m[1] for m in MX_DOT])
    specs, seen = [], set()
    for arg in args:
        spec = anchor_spec(arg)
        if spec["unit"] not in seen:
            seen.add(spec["unit"])
            specs.append(spec)
    return specs


def calibration_table(rows: dict[str, dict], tech: str) -> tuple[list[dict], list[dict]]:
    """(Horowitz rows, comparison rows) from one library's cost rows by unit name; Horowitz's at 45 nm, 0.9 V
    through :mod:`~hw.models.node_scaling` from the library's node (ValueError for a library of unknown node)."""
    if tech not in node_scaling.LIBRARY_NODES:
        raise ValueError(f"no node known for library {tech!r}; known: {', '.join(node_scaling.LIBRARY_NODES)}")
    node, volts = node_scaling.LIBRARY_NODES[tech], technology.get(tech).voltage
    name = lambda args: anchor_spec(args)["unit"]
    horowitz = []
    for label, args, pj, um2 in HOROWITZ:
        row = rows[name(args)]
        ours_pj, ours_um2 = float(row["energy_per_op_pj"]), float(row["area_um2"])
        pj_45 = node_scaling.scale_energy(ours_pj, node, volts, "HP45", 0.9)
        um2_45 = node_scaling.area_at_45(ours_um2, node)
        horowitz.append({"tech": tech, "freq_mhz": row["freq_mhz"], "operation": label, "unit": row["unit"],
                         "ours_pj": round(ours_pj, 4), "ours_um2": round(ours_um2, 1),
                         "ours_pj_45nm": round(pj_45, 4), "horowitz_pj": pj, "energy_ratio": round(pj_45 / pj, 2),
                         "ours_um2_45nm": round(um2_45, 1), "horowitz_um2": um2,
                         "area_ratio": round(um2_45 / um2, 2)})
    comparisons = []
    for label, top, bottom, low, high, source in COMPARISONS:
        a, b = rows[name(top)], rows[name(bottom)]
        area = float(a["area_per_op_um2"]) / float(b["area_per_op_um2"])
        energy = float(a["energy_per_op_pj"]) / float(b["energy_per_op_pj"])
        published = f"{low:g}-{high:g}" if low else f"<= {high:g}"
        comparisons.append({"tech": tech, "freq_mhz": a["freq_mhz"], "comparison": label, "source": source,
                            "area_ratio": round(area, 2), "energy_ratio": round(energy, 2), "published_ratio": published,
                            "energy_agrees": low <= energy <= high, "area_agrees": low <= area <= high})
    for label, args, pj, to_node, to_volts, source in MX_DOT:  # absolute energy: within 2x counts as agreeing
        row = rows[name(args)]
        ours = node_scaling.scale_energy(float(row["energy_per_op_pj"]), node, volts, to_node, to_volts)
        comparisons.append({"tech": tech, "freq_mhz": row["freq_mhz"], "comparison": label, "source": source,
                            "area_ratio": "", "energy_ratio": round(ours / pj, 3),
                            "published_ratio": f"1 ({pj:.2f} pJ/MAC at {to_node} {to_volts:g} V)",
                            "energy_agrees": 0.5 <= ours / pj <= 2.0, "area_agrees": ""})
    return horowitz, comparisons


def _print_table(rows: list[dict]):
    keys = list(rows[0])
    widths = {k: max(len(k), *(len(str(r[k])) for r in rows)) for k in keys}
    print("  ".join(k.ljust(widths[k]) for k in keys))
    for r in rows:
        print("  ".join(str(r[k]).ljust(widths[k]) for k in keys))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hw.models.calibrate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(ROOT / "build" / "calibration"), help="output folder")
    parser.add_argument("--jobs", type=int, default=2, help="parallel processes (default 2)")
    parser.add_argument("--tech", default="osu018",
                        help=f"cell libraries, comma-separated (default osu018; known nodes: "
                             f"{', '.join(node_scaling.LIBRARY_NODES)})")
    parser.add_argument("--freq", type=float, default=200.0, help="clock in MHz (default 200)")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        print(f"hw.models.calibrate: --jobs must be >= 1, not {args.jobs}", file=sys.stderr)
        return 2
    techs = args.tech.split(",")
    for tech in techs:
        if tech not in node_scaling.LIBRARY_NODES:
            print(f"hw.models.calibrate: --tech {tech!r} has no known node; valid: "
                  f"{', '.join(node_scaling.LIBRARY_NODES)}", file=sys.stderr)
            return 2
        try:
            technology.get(tech)
        except technology.TechnologyError as err:
            print(f"hw.models.calibrate: {err}", file=sys.stderr)
            return 2
    if not args.freq > 0:
        print(f"hw.models.calibrate: --freq must be a positive clock in MHz, not {args.freq}", file=sys.stderr)
        return 2
    if sta_path() is None:
        print("hw.models.calibrate: OpenSTA is not installed (apt-get install opensta, or `make sysdeps`)",
              file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows, errors = cost_specs(_specs(), out / "cache", [(tech, args.freq) for tech in techs], 2048, 1, args.jobs)
    if errors:
        for line in errors:
            print(f"hw.models.calibrate: failed {line}", file=sys.stderr)
        return 1
    horowitz, comparisons = [], []
    for tech in techs:
        h, c = calibration_table({r["spec_unit"]: r for r in rows if r["tech"] == technology.get(tech).name}, tech)
        horowitz += h
        comparisons += c
    print(f"Against Horowitz (ISSCC 2014, 45 nm, 0.9 V); ours at {args.freq:g} MHz, restated at 45 nm, 0.9 V "
          "(Stillmaker and Baas 2017):")
    _print_table(horowitz)
    print(f"\nAgainst published format comparisons (ratios of cost per MAC at {args.freq:g} MHz):")
    _print_table(comparisons)
    write_atomic(str(out / "horowitz.csv"), table_csv(horowitz))
    write_atomic(str(out / "comparisons.csv"), table_csv(comparisons))
    return 0


if __name__ == "__main__":
    sys.exit(main())
