"""The ranking an architect reads: training quality, H100 throughput and silicon cost per format.

``python -m hw.rank [--train results/h100/train_<date>] [--dse FILE] [--out build/rank]``

Joins three committed measurements, so it runs anywhere (no GPU, no yosys):

* quality: the final training and held-out losses of the small decoder
  (``gpu_ref.train``, one JSON per precision and seed), as the mean over
  seeds and the mean and standard deviation of the per-seed gap to bf16
  (same seed, same data order), and the loss curves;
* throughput: the H100 tokens/s of the natively run precisions at every
  measured width, relative to bf16 (``throughput_compiled.json`` when present,
  else the eager run);
* cost: the cost model's area and energy per MAC of the format's most
  parallel accumulating unit in a sweep CSV (most lanes, then the smaller per MAC):
  ``--dse``, or by default the committed snapshot (newest ``results/dse/*.csv``)
  updated by ``build/dse/dse.csv`` where a sweep has run here.

Prints the table and writes ``rank.csv``, ``rank.png`` (gap vs energy per
MAC) and ``curves.png`` (held-out loss curves, mean over seeds) into ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import statistics
import sys
from pathlib import Path

from gpu_ref import precisions

from . import formats
from .files import output_dir, save_figure, write_atomic
from .models.report import plain_log_ticks, table_csv

__all__ = ["main", "load_quality", "load_throughput", "rank", "mean_curves"]

ROOT = Path(__file__).resolve().parent.parent


def _latest(folder: Path, pattern: str) -> Path | None:
    found = sorted(folder.glob(pattern))
    return found[-1] if found else None


def load_quality(train_dir: Path) -> dict[str, dict[int, dict]]:
    """``{precision: {seed: run}}`` from ``quality_<precision>_seed<k>.json`` files.

    A run is ``{"heldout": final held-out loss, "train": final training loss,
    "curve": [(step, train loss, held-out loss), ...]}``.
    """
    quality: dict[str, dict[int, dict]] = {}
    for path in sorted(train_dir.glob("quality_*_seed*.json")):
        result = json.loads(path.read_text())
        cfg = result["config"]
        quality.setdefault(cfg["precision"], {})[cfg["seed"]] = {
            "heldout": float(result["final_heldout_loss"]), "train": float(result["final_train_loss"]),
            "curve": [(p["step"], float(p["train_loss"]), float(p["heldout_loss"])) for p in result["curve"]]}
    return quality


def load_throughput(train_dir: Path) -> tuple[dict, str]:
    """(``{(precision, width): speed-up vs bf16}``, source file name); compiled runs preferred."""
    path = train_dir / "throughput_compiled.json"
    if not path.exists():
        path = train_dir / "throughput_eager.json"
    if not path.exists():
        return {}, ""
    report = json.loads(path.read_text())
    return {(r["precision"], r["width"]): r for r in report["rows"]}, path.name


def _cost_rows(*sweeps: Path, tech: str = "osu018", freq_mhz: float = 200.0) -> dict[str, dict]:
    """Per format, the row of its most parallel stage-0 unit costed on ``tech`` at ``freq_mhz``; a later sweep
    CSV replaces an earlier one's formats.  ValueError if no sweep has a row at that place."""
    best: dict[str, dict] = {}
    places = set()
    for dse in sweeps:
        found = {}
        try:
            with dse.open(newline="") as fh:
                reader = csv.DictReader(fh)
                missing = sorted(SWEEP_COLUMNS - set(reader.fieldnames or []))
                if missing:
                    raise ValueError(f"{dse}: not a sweep CSV of python -m hw.dse at a clock (no column "
                                     f"{', '.join(missing)}; rerun python -m hw.dse)")
                rows = list(reader)
                for row in rows:
                    places.add((row["tech"], float(row["freq_mhz"])))
                    if row["tech"] == tech and float(row["freq_mhz"]) == freq_mhz:
                        _keep_best(found, row)
        except (UnicodeDecodeError, csv.Error) as err:
            raise ValueError(f"{dse}: not a sweep CSV of python -m hw.dse ({err})") from None
        except (KeyError, TypeError) as err:
            raise ValueError(f"{dse}: a row lacks a value ({err})") from None
        if not rows:
            raise ValueError(f"{dse}: the sweep CSV has no rows")
        best.update(found)
    if not best:
        have = ", ".join(f"{t} at {f:g} MHz" for t, f in sorted(places))
        raise ValueError(f"no costed unit on {tech} at {freq_mhz:g} MHz in {', '.join(map(str, sweeps))}; "
                         f"the sweeps have: {have}")
    return best


#: The columns of a sweep CSV the ranking reads.
SWEEP_COLUMNS = {"unit", "format", "stages", "lanes", "area_per_op_um2", "energy_per_op_pj", "dot64_rel_error",
                 "tech", "freq_mhz"}


def _default_accumulator(fmt_name: str) -> str:
    """The name of the format's default accumulator ("" for a name the registry cannot read)."""
    try:
        return formats.default_accumulator(formats.get(fmt_name)).name
    except (ValueError, AttributeError):
        return ""


def _keep_best(best: dict[str, dict], row: dict):
    """Keep ``row`` in ``best`` if it is its format's most parallel stage-0 accumulating unit so far (most lanes,
    then the format's default accumulator, as the GPU accumulates FP8 and bf16 in fp32, then the smaller area
    per MAC); accumulating units are those with a dot-product quality."""
    if int(row["stages"]) != 0 or not math.isfinite(float(row["dot64_rel_error"])):
        return
    old = best.get(row["format"])
    default_acc = _default_accumulator(row["format"])
    key = lambda r: (-int(r["lanes"]), r.get("acc", default_acc) != default_acc, float(r["area_per_op_um2"]))
    if old is None or key(row) < key(old):
        best[row["format"]] = row


def _gap(runs: dict[int, dict], base: dict[int, dict], key: str) -> tuple[float | str, float | str]:
    """(mean, sd) over the seeds both have of the per-seed difference in ``key``; "" where undefined."""
    gaps = [runs[s][key] - base[s][key] for s in sorted(set(runs) & set(base))]
    return (round(statistics.fmean(gaps), 4) if gaps else "",
            round(statistics.stdev(gaps), 4) if len(gaps) > 1 else "")


def rank(quality: dict, throughput: dict, costs: dict[str, dict]) -> list[dict]:
    """One row per training precision, ordered by held-out quality gap to bf16."""
    if "bf16" not in quality:
        raise ValueError("the quality runs have no bf16 baseline")
    base = quality["bf16"]
    widths = sorted({w for _, w in throughput})
    rows = []
    for precision, runs in quality.items():
        gap, gap_std = _gap(runs, base, "heldout")
        train_gap, train_gap_std = _gap(runs, base, "train")
        cost = costs.get(precisions.get(precision).fmt)
        row = {"precision": precision, "seeds": len(runs),
               "train_loss": round(statistics.fmean(r["train"] for r in runs.values()), 4),
               "train_gap": train_gap, "train_gap_std": train_gap_std,
               "heldout_loss": round(statistics.fmean(r["heldout"] for r in runs.values()), 4),
               "gap_to_bf16": gap, "gap_std": gap_std}
        for width in widths:
            measured = throughput.get((precision, width))
            row[f"h100_speedup_w{width}"] = measured["speedup_vs_bf16"] if measured else ""
        row["cost_unit"] = cost["unit"] if cost else ""
        row["um2_per_mac"] = float(cost["area_per_op_um2"]) if cost else ""
        row["pj_per_mac"] = float(cost["energy_per_op_pj"]) if cost else ""
        rows.append(row)
    return sorted(rows, key=lambda r: (r["gap_to_bf16"] if r["gap_to_bf16"] != "" else math.inf))


def mean_curves(quality: dict) -> dict[str, list[tuple[int, float, float]]]:
    """Per precision, ``(step, mean training loss, mean held-out loss)`` over the seeds at the steps all share."""
    curves = {}
    for precision, runs in quality.items():
        steps = sorted(set.intersection(*({p[0] for p in r["curve"]} for r in runs.values())))
        points = [[p for r in runs.values() for p in r["curve"] if p[0] == step] for step in steps]
        curves[precision] = [(step, statistics.fmean(p[1] for p in at), statistics.fmean(p[2] for p in at))
                             for step, at in zip(steps, points)]
    return curves


def _plot_curves(quality: dict, path: Path, source: str):
    import matplotlib.pyplot as plt

    curves = mean_curves(quality)
    base = dict((step, held) for step, _, held in curves["bf16"])
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6))
    for i, (precision, curve) in enumerate(sorted(curves.items())):
        style = dict(color=plt.cm.tab10(i % 10), ls="-" if i < 10 else "--", label=precision, marker=".")
        steps = [c[0] for c in curve]
        axes[0].plot(steps, [c[2] for c in curve], **style)
        shared = [c for c in curve if c[0] in base]
        axes[1].plot([c[0] for c in shared], [c[2] - base[c[0]] for c in shared], **style)
    axes[0].set_ylabel("held-out loss, nats/byte, mean over seeds (lower is better)")
    axes[1].set_ylabel("held-out loss minus bf16's, same seeds (lower is better)")
    axes[1].axhline(0, color="grey", lw=0.8)
    for ax in axes:
        ax.set_xlabel("training step")
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7, ncol=2)
    fig.suptitle(f"Loss curves of the small decoder per precision ({source})", fontsize=10)
    fig.tight_layout()
    save_figure(fig, str(path), dpi=110)
    plt.close(fig)


def _plot(rows: list[dict], path: Path, source: str, place: str):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5.6))
    shown = [r for r in rows if r["pj_per_mac"] != "" and r["gap_to_bf16"] != ""]
    missing = [r["precision"] for r in rows if r not in shown]
    colours = {True: "#C44E52", False: "#4C72B0"}
    for r in shown:
        ax.errorbar(r["pj_per_mac"], r["gap_to_bf16"], yerr=r["gap_std"] or 0, fmt="o", capsize=3,
                    color=colours[precisions.get(r["precision"]).native])
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xscale("log")
    plain_log_ticks(ax.xaxis)
    fig.canvas.draw()
    placed = []  # label repel: move a label up until it clears the ones already placed (display pixels)
    for r in sorted(shown, key=lambda r: (r["gap_to_bf16"], r["pj_per_mac"])):
        x, y = ax.transData.transform((r["pj_per_mac"], r["gap_to_bf16"]))
        dy = 3
        while any(abs(x - px) < 70 and abs(y + dy - py) < 11 for px, py in placed):
            dy += 11
        placed.append((x, y + dy))
        ax.annotate(r["precision"], (r["pj_per_mac"], r["gap_to_bf16"]), fontsize=8, xytext=(5, dy),
                    textcoords="offset points", arrowprops={"arrowstyle": "-", "lw": 0.5} if dy > 3 else None)
    ax.set_xlabel("cost model: energy per MAC of the format's unit, pJ (lower is better)")
    ax.set_ylabel("held-out loss gap to bf16, mean +- sd over seeds (lower is better)")
    ax.set_title(f"Quality vs energy per MAC, costed on {place} (H100 throughput: {source})", fontsize=10)
    ax.legend([plt.Line2D([], [], marker="o", ls="", color=colours[native]) for native in (True, False)],
              ["run natively on the H100 (fp8: torch._scaled_mm)", "emulated (quantized operands, exact products, fp32 sums)"], fontsize=8)
    ax.grid(which="both", alpha=0.3)
    note = "tensorwise/rowwise: FP8 scale per tensor / per row; rht: random Hadamard transform before NVFP4"
    if missing:
        note += "\nnot shown (no costed unit or no quality run): " + ", ".join(missing)
    fig.text(0.01, 0.005, note, fontsize=7, ha="left", va="bottom")
    fig.tight_layout(rect=(0, 0.05 if not missing else 0.08, 1, 1))
    save_figure(fig, str(path), dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hw.rank", description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", help="folder of gpu_ref.train results (default: the newest results/h100/train_*)")
    parser.add_argument("--dse", help="sweep CSV (default: the newest results/dse/*.csv, updated by build/dse/dse.csv)")
    parser.add_argument("--out", default=str(ROOT / "build" / "rank"), help="output folder (default: build/rank)")
    parser.add_argument("--tech", default="osu018", help="the cell library whose costs to use (default osu018)")
    parser.add_argument("--freq", type=float, default=200.0, help="the clock in MHz whose costs to use (default 200)")
    args = parser.parse_args(argv)
    train_dir = Path(args.train) if args.train else _latest(ROOT / "results" / "h100", "train_*")
    if args.dse:
        sweeps = [Path(args.dse)]
    else:
        sweeps = [p for p in (_latest(ROOT / "results" / "dse", "*.csv"), ROOT / "build" / "dse" / "dse.csv")
                  if p is not None and p.exists()]
    if train_dir is None or not train_dir.is_dir():
        print(f"hw.rank: no training results folder {args.train or 'results/h100/train_*'}", file=sys.stderr)
        return 2
    if not sweeps or not sweeps[0].exists():
        print(f"hw.rank: no sweep CSV {args.dse or 'results/dse/*.csv'} (run python -m hw.dse)", file=sys.stderr)
        return 2
    try:
        out = output_dir(args.out, "--out")
        costs = _cost_rows(*sweeps, tech=args.tech, freq_mhz=args.freq)
    except ValueError as err:
        print(f"hw.rank: {err}", file=sys.stderr)
        return 2
    try:
        throughput, source = load_throughput(train_dir)
        quality = load_quality(train_dir)
        rows = rank(quality, throughput, costs)
    except (ValueError, KeyError, json.JSONDecodeError) as err:
        print(f"hw.rank: {train_dir}: {err}", file=sys.stderr)
        return 2
    if not rows:
        print(f"hw.rank: {train_dir}: no quality runs to rank", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    keys = list(rows[0])
    widths = {k: max(len(k), *(len(str(r[k])) for r in rows)) for k in keys}
    print(f"quality and throughput: {train_dir.relative_to(ROOT) if train_dir.is_relative_to(ROOT) else train_dir} "
          f"({source or 'no throughput'}); cost: {args.tech} at {args.freq:g} MHz, from "
          f"{', '.join(str(p) for p in sweeps)}")
    print("  ".join(k.ljust(widths[k]) for k in keys))
    for r in rows:
        print("  ".join(str(r[k]).ljust(widths[k]) for k in keys))
    write_atomic(str(out / "rank.csv"), table_csv(rows))
    _plot(rows, out / "rank.png", source or "no throughput", f"{args.tech} at {args.freq:g} MHz")
    _plot_curves(quality, out / "curves.png", train_dir.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
