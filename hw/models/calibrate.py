"""Calibration of the cost model against published 45 nm figures and published format comparisons.

``python -m hw.models.calibrate [--out build/calibration] [--jobs N]``

Costs the units that match a published number with the same flow as the
sweep and prints one table: our value, the published one, their ratio.

* **Horowitz**, "Computing's energy problem (and what we can do about it)",
  ISSCC 2014, 45 nm at 0.9 V: energy (pJ) and area (um^2) of 8/32-bit
  integer add and multiply and of 16/32-bit float add and multiply.  Our
  energy is at the NanGate library's 1.1 V; the ``@0.9V`` column scales it by
  (0.9/1.1)^2, as dynamic energy goes with V^2.
* **Qualcomm** (van Baalen et al., "FP8 versus INT8 for efficient deep
  learning inference", arXiv:2303.17951, 2023): FP8 MACs are "50-180 % less
  efficient" than INT8 ones, i.e. an FP8/INT8 cost ratio of 1.5 to 2.8.
* **LNS-Madam** (Zhao et al., IEEE Trans. Computers 2022, arXiv:2106.13914):
  an 8-bit LNS datapath uses over 90 % less energy than FP32 and 55 % less
  than FP8 (ratios below 0.10 and about 0.45), for a vector PE whose
  log-to-linear conversion is shared across lanes (we cost the plain 8-lane PE:
  ABC runs for more than 5 minutes on the grouped-conversion variant).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..files import write_atomic
from .batch import cost_specs, unit_spec
from .report import ROOT, table_csv
from .sta import sta_path

__all__ = ["HOROWITZ", "COMPARISONS", "calibration_table", "main"]

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
_SCALE_09V = (0.9 / 1.1) ** 2


def _spec(args: tuple) -> dict:
    """The unit spec of ``(kind, format[, lanes[, accumulator]])``."""
    kind, fmt, lanes, acc = (*args, None, None)[:4]
    return unit_spec(kind, fmt, lanes=lanes, acc=acc)


def _specs():
    args = [a for _, a, _, _ in HOROWITZ] + [x for c in COMPARISONS for x in (c[1], c[2])]
    specs, seen = [], set()
    for arg in args:
        spec = _spec(arg)
        if spec["unit"] not in seen:
            seen.add(spec["unit"])
            specs.append(spec)
    return specs


def calibration_table(rows: dict[str, dict]) -> tuple[list[dict], list[dict]]:
    """(Horowitz rows, comparison rows) from cost rows by unit name."""
    name = lambda args: _spec(args)["unit"]
    horowitz = []
    for label, args, pj, um2 in HOROWITZ:
        row = rows[name(args)]
        ours_pj, ours_um2 = float(row["energy_per_op_pj"]), float(row["area_um2"])
        horowitz.append({"operation": label, "unit": row["unit"],
                         "ours_pj_1v1": round(ours_pj, 3), "ours_pj_0v9": round(ours_pj * _SCALE_09V, 3),
                         "horowitz_pj": pj, "energy_ratio_0v9": round(ours_pj * _SCALE_09V / pj, 2),
                         "ours_um2": round(ours_um2, 1), "horowitz_um2": um2, "area_ratio": round(ours_um2 / um2, 2)})
    comparisons = []
    for label, top, bottom, low, high, source in COMPARISONS:
        a, b = rows[name(top)], rows[name(bottom)]
        area = float(a["area_per_op_um2"]) / float(b["area_per_op_um2"])
        energy = float(a["energy_per_op_pj"]) / float(b["energy_per_op_pj"])
        published = f"{low:g}-{high:g}" if low else f"<= {high:g}"
        comparisons.append({"comparison": label, "source": source, "area_ratio": round(area, 2),
                            "energy_ratio": round(energy, 2), "published_ratio": published,
                            "energy_agrees": low <= energy <= high, "area_agrees": low <= area <= high})
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
    parser.add_argument("--tech", default="osu018", help="cell library (default osu018)")
    parser.add_argument("--freq", type=float, default=200.0, help="clock in MHz (default 200)")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        print(f"hw.models.calibrate: --jobs must be >= 1, not {args.jobs}", file=sys.stderr)
        return 2
    if sta_path() is None:
        print("hw.models.calibrate: OpenSTA is not installed (apt-get install opensta, or `make sysdeps`)",
              file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows, errors = cost_specs(_specs(), out / "cache", [(args.tech, args.freq)], 2048, 1, args.jobs)
    if errors:
        for line in errors:
            print(f"hw.models.calibrate: failed {line}", file=sys.stderr)
        return 1
    horowitz, comparisons = calibration_table({r["spec_unit"]: r for r in rows})
    print("Against Horowitz (ISSCC 2014, 45 nm, 0.9 V); our energy scaled from 1.1 V by (0.9/1.1)^2:")
    _print_table(horowitz)
    print("\nAgainst published format comparisons (ratios of cost per MAC):")
    _print_table(comparisons)
    write_atomic(str(out / "horowitz.csv"), table_csv(horowitz))
    write_atomic(str(out / "comparisons.csv"), table_csv(comparisons))
    return 0


if __name__ == "__main__":
    sys.exit(main())
