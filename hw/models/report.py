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

__all__ = ["write_reports", "write_place_reports", "table_csv", "pareto", "gpu_rank", "latest_peaks", "family",
           "gpu_modes", "feasible", "place_name"]

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


def feasible(row: dict) -> bool:
    """Whether the unit meets its clock (rows without timing count as feasible)."""
    return str(row.get("met", True)) not in ("False", "false", "0")


def place_name(tech: str, freq_mhz) -> str:
    """``<tech>_<MHz>mhz``: the folder of a (technology, clock); a Liberty path counts by its file stem."""
    return f"{Path(tech).stem if '/' in tech else tech}_{float(freq_mhz):g}mhz"


def pareto(rows: list[dict], x: str, y: str) -> list[dict]:
    """Feasible rows no other feasible row beats on both ``x`` and ``y`` (smaller is better), sorted by ``x``."""
    live = [r for r in rows if feasible(r) and math.isfinite(float(r[x])) and math.isfinite(float(r[y]))]
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
            if int(r["stages"]) == 0 and feasible(r) and keep(r):
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
    """CSV text of dict rows (columns: every row's keys in order of first appearance; missing cells empty)."""
    buffer = io.StringIO()
    columns = list(dict.fromkeys(key for row in rows for key in row))
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


#: What the parts of a unit name mean (the plots' caption).
NAME_KEY = ("names: kind_format[_xN: N lanes, products per cycle][_acc: accumulator format][_sK: K pipeline stages, "
            "s0 = combinational][_FFFmhz_TECH: pipelined for that clock on that library]")


def _where(rows) -> str:
    """'osu018 at 200 MHz' when every row shares one (technology, clock), else ''."""
    places = {(r.get("tech"), r.get("freq_mhz")) for r in rows}
    if len(places) != 1 or None in next(iter(places)):
        return ""
    tech, freq = next(iter(places))
    return f"{tech} at {float(freq):g} MHz"


def _short(unit: str, rows) -> str:
    """The unit name without the clock and library suffix all rows share (the title states it)."""
    where = _where(rows)
    if where:
        tech, freq = rows[0]["tech"], float(rows[0]["freq_mhz"])
        return unit.removesuffix(f"_{freq:g}mhz_{tech}")
    return unit


def plain_log_ticks(axis):
    """Plain labels on a log axis, no minor labels: 1-2-5 ticks where the data span at most 2.5 decades, one
    tick per decade beyond (1-2-5 labels of several decades overprint each other).  Call after plotting."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.axes.autoscale_view()
    low, high = sorted(axis.get_view_interval())
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0) if 0 < low and high / low <= 10 ** 2.5 else (1.0,)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1000 else f"{v:.3g}"))
    axis.set_minor_formatter(NullFormatter())


def _legend_families(ax, rows, marker: bool, extra=()):
    import matplotlib.pyplot as plt

    present = [f for f in _COLOURS if any(family(r["format"]) == f for r in rows)]
    handles = [plt.Line2D([], [], marker="o", ls="", color=_COLOURS[f]) if marker else
               plt.Rectangle((0, 0), 1, 1, color=_COLOURS[f]) for f in present]
    labels = [f"{f} format" for f in present]
    for handle, label in extra:
        handles.append(handle)
        labels.append(label)
    ax.legend(handles, labels, fontsize=8, loc="best", framealpha=0.8)


def _footnote(fig, failed):
    text = NAME_KEY
    if failed:
        text += "\nnot costed (failed, see the run's log): " + ", ".join(failed)
    fig.text(0.01, 0.005, text, fontsize=7, ha="left", va="bottom", wrap=True)


def _plot_by_format(rows, path, failed=()):
    import matplotlib.pyplot as plt

    rows = sorted(rows, key=lambda r: float(r["area_per_op_um2"]))
    fig, axes = plt.subplots(1, 2, figsize=(13, 0.34 * len(rows) + 2.2), sharey=True)
    labels = [_short(r["unit"], rows) for r in rows]
    colours = [_COLOURS[family(r["format"])] for r in rows]
    for ax, key, title in ((axes[0], "area_per_op_um2", "area per MAC, um^2 (lower is better)"),
                           (axes[1], "energy_per_op_pj", "energy per MAC, pJ, from measured toggles (lower is better)")):
        bars = ax.barh(labels, [float(r[key]) for r in rows], color=colours)
        for bar, r in zip(bars, rows):
            if not feasible(r):
                bar.set_hatch("///")
                bar.set_alpha(0.45)
        ax.bar_label(bars, labels=[f"{float(r[key]):,.0f}" if float(r[key]) >= 1000 else f"{float(r[key]):.3g}"
                                   for r in rows], fontsize=7, padding=2)
        ax.set_xlim(0, max(float(r[key]) for r in rows) * 1.18)
        ax.set_title(title, fontsize=10)
        ax.grid(axis="x", alpha=0.3)
    missed = [(plt.Rectangle((0, 0), 1, 1, facecolor="white", edgecolor="grey", hatch="///"),
               "misses the clock (infeasible)")] if not all(feasible(r) for r in rows) else []
    _legend_families(axes[1], rows, marker=False, extra=missed)
    where = _where(rows)
    fig.suptitle("Cost per MAC by unit" + (f", {where}" if where else "") + " (mul/add units: per operation)",
                 fontsize=11)
    fig.tight_layout(rect=(0, 0.06 if not failed else 0.09, 1, 0.97))
    _footnote(fig, failed)
    save_figure(fig, str(path), dpi=110)
    plt.close(fig)


def _plot_quality(rows, path, failed=()):
    import matplotlib.pyplot as plt
    rows = sorted((r for r in _accumulating(rows) if math.isfinite(float(r["dot64_rel_error"]))),
                  key=lambda r: float(r["dot64_rel_error"]))
    fig, axes = plt.subplots(1, 3, figsize=(15, max(5.6, 0.15 * len(rows) + 1.2)),
                             gridspec_kw={"width_ratios": [1, 1, 0.42]})
    for ax, key, label in ((axes[0], "area_per_op_um2", "area per MAC, um^2 (lower is better)"),
                           (axes[1], "energy_per_op_pj", "energy per MAC, pJ (lower is better)")):
        for number, r in enumerate(rows, 1):
            x, y = float(r["dot64_rel_error"]), float(r[key])
            colour = _COLOURS[family(r["format"])]
            if feasible(r):
                ax.scatter(x, y, color=colour, s=30, zorder=3)
            else:
                ax.scatter(x, y, facecolors="none", edgecolors=colour, s=30, zorder=3)
            ax.annotate(str(number), (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
        front = pareto(rows, "dot64_rel_error", key)
        ax.step([float(r["dot64_rel_error"]) for r in front], [float(r[key]) for r in front], where="post",
                color="black", lw=1, ls="--", zorder=2)
        ax.set_xscale("log")
        ax.set_yscale("log")
        plain_log_ticks(ax.xaxis)
        plain_log_ticks(ax.yaxis)
        ax.set_xlabel("mean relative error of a 64-term Gaussian dot product vs float64 (lower is better)",
                      fontsize=8)
        ax.set_ylabel(label)
        ax.grid(which="both", alpha=0.3)
        extra = [(plt.Line2D([], [], color="black", ls="--"), "Pareto front (units that meet the clock)")]
        if not all(feasible(r) for r in rows):
            extra.append((plt.Line2D([], [], marker="o", ls="", markerfacecolor="none", color="grey"),
                          "misses the clock (infeasible)"))
        _legend_families(ax, rows, marker=True, extra=extra)
    axes[2].axis("off")
    index = "\n".join(f"{n:>2}  {_short(r['unit'], rows)}" for n, r in enumerate(rows, 1))
    axes[2].text(0, 1, "points\n" + index, fontsize=7.5, family="monospace", va="top", transform=axes[2].transAxes)
    where = _where(rows)
    fig.suptitle("Cost vs numerical quality" + (f", {where}" if where else "") + " (lower left is better)",
                 fontsize=11)
    fig.tight_layout(rect=(0, 0.06 if not failed else 0.09, 1, 1))
    _footnote(fig, failed)
    save_figure(fig, str(path), dpi=110)
    plt.close(fig)


def _plot_gpu(table, source, path):
    import matplotlib.pyplot as plt

    modes = [t["gpu_mode"] for t in table]
    series = [("H100 measured matrix TFLOP/s", "h100_speedup_vs_bf16", "#4C72B0"),
              ("model MAC density (1 / area)", "model_density_vs_bf16", "#DD8452"),
              ("model MACs per joule", "model_energy_gain_vs_bf16", "#55A868")]
    fig, ax = plt.subplots(figsize=(8.5, 4.8))
    width = 0.26
    for i, (label, key, colour) in enumerate(series):
        xs = [m + (i - 1) * width for m in range(len(modes))]
        values = [float(t[key]) if t[key] != "" else None for t in table]
        bars = ax.bar([x for x, v in zip(xs, values) if v is not None], [v for v in values if v is not None], width,
                      label=label, color=colour)
        ax.bar_label(bars, fmt="%.2f", fontsize=7)
        for x, v in zip(xs, values):
            if v is None:
                ax.text(x, 0.05, "n/a", ha="center", va="bottom", fontsize=7, rotation=90)
    ax.set_xticks(range(len(modes)), modes)
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.set_ylabel("relative to bf16 (higher is better)")
    unit = table[0]["model_unit"].split("_")[0] or "unit"
    ax.set_title(f"Gain over bf16: H100 ({source}) vs the cost model's {unit}", fontsize=10)
    ax.legend([plt.Rectangle((0, 0), 1, 1, color=colour) for _, _, colour in series],
              [label for label, _, _ in series], fontsize=8)
    fig.text(0.01, 0.005, "modes: the H100 matrix-multiply precision (fp8_e4m3: FP8 E4M3 inputs, fp32 accumulation); "
             "n/a: no measurement or no costed unit", fontsize=7, ha="left", va="bottom")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    save_figure(fig, str(path), dpi=110)
    plt.close(fig)


def write_reports(rows: list[dict], out: Path, failed=()) -> list[str]:
    """Write the plots, ``pareto.csv`` and ``gpu_rank.csv`` into ``out``; return the summary lines to print.

    ``failed`` names the units that could not be costed: the plots list them."""
    out = Path(out)
    lines = [f"{'unit':52s} {'um2/op':>9s} {'pJ/op':>8s} {'cycles':>6s} {'regs':>5s} {'slack ns':>8s} "
             f"{'dot64 err':>10s}"]
    for r in rows:
        lines.append(f"{r['unit']:52s} {float(r['area_per_op_um2']):9.1f} {float(r['energy_per_op_pj']):8.4f} "
                     f"{int(r['latency']):6d} {int(r['flops']):5d} {float(r['slack_ns']):8.3f} "
                     f"{float(r['dot64_rel_error']):10.3g}" + ("" if feasible(r) else "  misses the clock"))
    _plot_by_format(rows, out / "area_energy_by_format.png", failed)
    live = [r for r in _accumulating(rows) if math.isfinite(float(r["dot64_rel_error"]))]
    if live:
        _plot_quality(rows, out / "area_vs_quality.png", failed)
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


def _plot_pareto_by_clock(rows, path):
    """One panel per technology: each clock's Pareto front of area per MAC vs dot-product error."""
    import matplotlib.pyplot as plt

    techs = sorted({r["tech"] for r in rows})
    freqs = sorted({float(r["freq_mhz"]) for r in rows})
    colours = plt.get_cmap("viridis")([i / max(1, len(freqs) - 1) * 0.85 for i in range(len(freqs))])
    fig, axes = plt.subplots(1, len(techs), figsize=(6.5 * len(techs), 5.2), squeeze=False)
    for ax, tech in zip(axes[0], techs):
        for freq, colour in zip(freqs, colours):
            here = [r for r in _accumulating(rows) if r["tech"] == tech and float(r["freq_mhz"]) == freq]
            if not here:
                continue
            ok = [r for r in here if feasible(r)]
            ax.scatter([float(r["dot64_rel_error"]) for r in ok], [float(r["area_per_op_um2"]) for r in ok],
                       color=colour, s=14, alpha=0.6)
            front = pareto(here, "dot64_rel_error", "area_per_op_um2")
            ax.step([float(r["dot64_rel_error"]) for r in front], [float(r["area_per_op_um2"]) for r in front],
                    where="post", color=colour, lw=1.5, marker="o", markersize=6, markeredgecolor="black",
                    label=f"{freq:g} MHz: {len(ok)} of {len(here)} units meet it")
            for r in front:
                ax.annotate(r["format"], (float(r["dot64_rel_error"]), float(r["area_per_op_um2"])), fontsize=6,
                            xytext=(2, 2), textcoords="offset points", color=colour)
        ax.set_xscale("log")
        ax.set_yscale("log")
        plain_log_ticks(ax.xaxis)
        plain_log_ticks(ax.yaxis)
        ax.set_title(f"{tech}: Pareto front per clock (lower left is better)", fontsize=10)
        ax.set_xlabel("mean relative error of a 64-term Gaussian dot product vs float64", fontsize=8)
        ax.set_ylabel("area per MAC, um^2 (registers included)")
        ax.grid(which="both", alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    fig.text(0.01, 0.005, "points: units that meet the clock; outlined points joined by a line: "
             "that clock's Pareto front, labelled by format", fontsize=7, ha="left", va="bottom")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    save_figure(fig, str(path), dpi=110)
    plt.close(fig)


def write_place_reports(rows: list[dict], out: Path, failed=()) -> list[str]:
    """:func:`write_reports` for every (technology, clock) of ``rows`` into ``out/<tech>_<MHz>mhz/`` (its
    ``dse.csv`` too), and with more than one, ``out/pareto_by_clock.png``; the summary lines."""
    out = Path(out)
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(place_name(r['tech'], r['freq_mhz']), []).append(r)
    lines = []
    for name, group in groups.items():
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(str(folder / "dse.csv"), table_csv(group))
        here = [f for f in failed if f.endswith(f"({name})")]
        met = sum(feasible(r) for r in group)
        lines.append(f"== {group[0]['tech']} at {float(group[0]['freq_mhz']):g} MHz: {len(group)} units, {met} meet "
                     f"the clock; {folder}/")
        lines += write_reports(group, folder, [f.rsplit(" (", 1)[0] for f in here])
    if len(groups) > 1 and _accumulating(rows):
        _plot_pareto_by_clock(rows, out / "pareto_by_clock.png")
        lines.append(f"Pareto fronts per clock: {out / 'pareto_by_clock.png'}")
    return lines
