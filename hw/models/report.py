"""Tables and plots of a cost sweep: by format, area vs quality with its Pareto front, and next to the H100.

Every function takes the rows of :func:`hw.models.cost.evaluate` (dicts, as
in ``dse.csv``) and writes into a folder through temporary files.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

from gpu_ref.precisions import PRECISIONS

from ..files import save_figure, write_atomic
from ..formats import family as format_family
from ..formats import get as get_format

__all__ = ["write_reports", "table_csv", "pareto", "gpu_rank", "latest_peaks", "family", "gpu_modes"]

ROOT = Path(__file__).resolve().parent.parent.parent
_COLOURS = {"int": "#4C72B0", "float": "#DD8452", "posit": "#55A868", "block": "#C44E52", "lns": "#8172B3"}
def gpu_modes() -> dict[str, str]:
    """H100 matrix modes (keys of ``results/h100/peaks_*.json``) the training precisions run at, and the
    number format each multiplies (from :mod:`gpu_ref.precisions`)."""
    return {p.gpu_peak: p.fmt for p in PRECISIONS.values() if p.gpu_peak is not None}


def family(fmt_name: str) -> str:
    """The family of a format given by name (float, int, posit, block, lns)."""
    return format_family(get_format(fmt_name))


def _accumulating(rows):
    """Rows of units that accumulate dot products (those with a dot-product quality)."""
    return [r for r in rows if math.isfinite(float(r["dot64_rel_error"]))]


def pareto(rows: list[dict], x: str, y: str) -> list[dict]:
    """Rows no other row beats on both ``x`` and ``y`` (smaller is better), sorted by ``x``."""
    live = [r for r in rows if math.isfinite(float(r[x])) and math.isfinite(float(r[y]))]
    front = [r for r in live if not any(float(o[x]) <= float(r[x]) and float(o[y]) <= float(r[y])
                                        and (float(o[x]), float(o[y])) != (float(r[x]), float(r[y])) for o in live)]
    return sorted(front, key=lambda r: float(r[x]))


def latest_peaks(folder: Path = ROOT / "results" / "h100") -> tuple[dict, str] | tuple[None, None]:
    """The newest committed H100 peaks file (``peaks_<date>.json``) and its name."""
    files = sorted(folder.glob("peaks_*.json"))
    if not files:
        return None, None
    return json.loads(files[-1].read_text()), files[-1].name


def _gpu_rows(rows: list[dict]) -> dict[str, dict]:
    """Per format, the unit to set against the GPU: the tensor-core step (the GPU's own structure) if bf16
    and every GPU format have one of the same width, else the one-lane accumulating unit (the MAC)."""
    def pick(keep):
        found = {}
        for r in _accumulating(rows):
            if int(r["stages"]) == 0 and keep(r):
                found.setdefault(r["format"], r)
        return found

    cores = pick(lambda r: r["kind"] == "tensorcore")
    wanted = {"bf16", *gpu_modes().values()}
    if wanted <= set(cores) and len({int(cores[f]["lanes"]) for f in wanted}) == 1:
        return cores
    return pick(lambda r: int(r["lanes"]) == 1)


def gpu_rank(rows: list[dict], peaks: dict) -> list[dict]:
    """Per H100 matrix mode: measured TFLOP/s and the model's matching unit (:func:`_gpu_rows`), both vs bf16."""
    units = _gpu_rows(rows)
    base_gpu = peaks["tflops"].get("bf16")
    base = units.get("bf16")
    table = []
    for mode, fmt in gpu_modes().items():
        if mode not in peaks["tflops"]:
            continue
        row = units.get(fmt)
        entry = {"gpu_mode": mode, "format": fmt, "h100_tflops": round(peaks["tflops"][mode], 1),
                 "h100_speedup_vs_bf16": round(peaks["tflops"][mode] / base_gpu, 3) if base_gpu else "",
                 "model_unit": row["unit"] if row else "", "model_um2_per_mac": row["area_per_op_um2"] if row else "",
                 "model_pj_per_mac": row["energy_per_op_pj"] if row else "",
                 "model_density_vs_bf16": "", "model_energy_gain_vs_bf16": ""}
        if row and base:
            entry["model_density_vs_bf16"] = round(float(base["area_per_op_um2"]) / float(row["area_per_op_um2"]), 3)
            entry["model_energy_gain_vs_bf16"] = round(float(base["energy_per_op_pj"]) / float(row["energy_per_op_pj"]), 3)
        table.append(entry)
    return table


def table_csv(rows: list[dict]) -> str:
    """CSV text of dict rows (columns: the first row's keys)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _plot_by_format(rows, path):
    import matplotlib.pyplot as plt

    rows = sorted(rows, key=lambda r: float(r["area_per_op_um2"]))
    fig, axes = plt.subplots(1, 2, figsize=(13, 0.32 * len(rows) + 1.6), sharey=True)
    labels = [r["unit"] for r in rows]
    colours = [_COLOURS[family(r["format"])] for r in rows]
    where = f"{rows[0]['tech']} at {float(rows[0]['freq_mhz']):g} MHz" if rows and "tech" in rows[0] else ""
    for ax, key, title in ((axes[0], "area_per_op_um2", f"area per operation (um^2, {where})"),
                           (axes[1], "energy_per_op_pj", f"energy per operation (pJ, measured toggles, {where})")):
        ax.barh(labels, [float(r[key]) for r in rows], color=colours)
        ax.set_xscale("log")
        ax.set_title(title, fontsize=10)
        ax.grid(axis="x", which="both", alpha=0.3)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in _COLOURS.values()]
    axes[1].legend(handles, list(_COLOURS), loc="lower right", fontsize=8)
    fig.suptitle("Cost per MAC (mul/add units: per operation), by unit", fontsize=11)
    fig.tight_layout()
    save_figure(fig, str(path), dpi=110)
    plt.close(fig)


def _plot_quality(rows, path):
    import matplotlib.pyplot as plt

    rows = [r for r in _accumulating(rows) if math.isfinite(float(r["dot64_rel_error"]))]
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.2))
    for ax, key, label in ((axes[0], "area_per_op_um2", "area per MAC (um^2)"),
                           (axes[1], "energy_per_op_pj", "energy per MAC (pJ)")):
        for r in rows:
            x, y = float(r["dot64_rel_error"]), float(r[key])
            ax.scatter(x, y, color=_COLOURS[family(r["format"])], s=28, zorder=3)
            ax.annotate(r["unit"].rsplit("_s", 1)[0], (x, y), fontsize=6.5, xytext=(3, 2), textcoords="offset points")
        front = pareto(rows, "dot64_rel_error", key)
        ax.step([float(r["dot64_rel_error"]) for r in front], [float(r[key]) for r in front], where="post",
                color="black", lw=1, ls="--", label="Pareto front", zorder=2)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("mean relative error of a 64-term Gaussian dot product vs float64")
        ax.set_ylabel(label)
        ax.grid(which="both", alpha=0.3)
        handles = [plt.Line2D([], [], marker="o", ls="", color=c) for c in _COLOURS.values()]
        ax.legend(handles + ax.get_legend_handles_labels()[0], list(_COLOURS) + ["Pareto front"], fontsize=8)
    fig.suptitle("Cost vs numerical quality (lower left is better)", fontsize=11)
    fig.tight_layout()
    save_figure(fig, str(path), dpi=110)
    plt.close(fig)


def _plot_gpu(table, source, path):
    import matplotlib.pyplot as plt

    modes = [t["gpu_mode"] for t in table]
    series = [("H100 measured matrix TFLOP/s", "h100_speedup_vs_bf16"),
              ("model MAC density (1 / area)", "model_density_vs_bf16"),
              ("model MACs per joule", "model_energy_gain_vs_bf16")]
    fig, ax = plt.subplots(figsize=(8, 4.2))
    width = 0.26
    for i, (label, key) in enumerate(series):
        values = [float(t[key]) if t[key] != "" else 0.0 for t in table]
        bars = ax.bar([m + (i - 1) * width for m in range(len(modes))], values, width, label=label)
        ax.bar_label(bars, fmt="%.2f", fontsize=7)
    ax.set_xticks(range(len(modes)), modes)
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.set_ylabel("relative to bf16")
    unit = table[0]["model_unit"].split("_")[0] or "unit"
    ax.set_title(f"Gain over bf16: H100 ({source}) vs the cost model's {unit}", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, str(path), dpi=110)
    plt.close(fig)


def write_reports(rows: list[dict], out: Path) -> list[str]:
    """Write the plots, ``pareto.csv`` and ``gpu_rank.csv`` into ``out``; return the summary lines to print."""
    out = Path(out)
    lines = [f"{'unit':44s} {'um2/op':>9s} {'pJ/op':>8s} {'cycles':>6s} {'slack ns':>8s} {'dot64 err':>10s}"]
    for r in rows:
        lines.append(f"{r['unit']:44s} {float(r['area_per_op_um2']):9.1f} {float(r['energy_per_op_pj']):8.4f} "
                     f"{int(r['latency']):6d} {float(r['slack_ns']):8.3f} {float(r['dot64_rel_error']):10.3g}")
    _plot_by_format(rows, out / "area_energy_by_format.png")
    live = [r for r in _accumulating(rows) if math.isfinite(float(r["dot64_rel_error"]))]
    if live:
        _plot_quality(rows, out / "area_vs_quality.png")
        front = pareto(live, "dot64_rel_error", "area_per_op_um2")
        write_atomic(str(out / "pareto.csv"), table_csv(front))
        lines.append("Pareto front (area per MAC vs dot-product error): " + ", ".join(r["unit"] for r in front))
    peaks, source = latest_peaks()
    if peaks:
        table = gpu_rank(rows, peaks)
        if table:
            write_atomic(str(out / "gpu_rank.csv"), table_csv(table))
            _plot_gpu(table, source, out / "gpu_rank.png")
            lines.append(f"H100 ({source}) vs the model, relative to bf16:")
            for t in table:
                lines.append(f"  {t['gpu_mode']:14s} GPU x{t['h100_speedup_vs_bf16']}  model density "
                             f"x{t['model_density_vs_bf16'] or '-'}  model MACs/J x{t['model_energy_gain_vs_bf16'] or '-'}")
    return lines
