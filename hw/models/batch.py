"""Cost many units at once: unit specs, a cache by cost key, parallel synthesis, one gate-level simulation.

A *unit spec* names a unit by data, so that it can travel to a worker
process and key a cache: ``{"kind", "format", "options"}`` (``options`` as
:func:`hw.rtl.build_sample` takes them, formats by name, ``stages``
included), plus the unit's ``unit`` name and ``verilog``.  The sweep
(:mod:`hw.dse`) and the calibration (:mod:`hw.models.calibrate`) both cost
through :func:`cost_specs`.
"""

from __future__ import annotations

import json
import multiprocessing
import sys
from pathlib import Path

from ..files import write_atomic
from ..rtl import build_sample, default_name, to_verilog
from . import technology
from .cost import cost_key, measure, prepare

__all__ = ["unit_spec", "build_spec", "cost_specs"]


def build_spec(spec: dict):
    """The unit a spec names (ValueError for one that does not exist)."""
    return build_sample(spec["kind"], spec["format"], spec["options"])


def unit_spec(kind: str, fmt: str, **options) -> dict:
    """A unit spec with its ``unit`` name and ``verilog`` filled in; ValueError for a unit that does not exist."""
    spec = {"kind": kind, "format": fmt, "options": {k: v for k, v in options.items() if v is not None and v is not False}}
    unit = build_spec(spec)
    return {**spec, "unit": default_name(unit), "verilog": to_verilog(unit)}


def _prepare(job):
    """Worker: implement one unit spec and draw its workload; (spec, Prepared or None, error or None)."""
    spec, tech, freq, vectors, seed = job
    try:
        return spec, prepare(build_spec(spec), technology.get(tech), freq, vectors=vectors, seed=seed), None
    except Exception as err:  # reported per unit; the sweep goes on
        return spec, None, f"{type(err).__name__}: {err}"


def cost_specs(specs: list[dict], cache: Path, tech: str, freq_mhz: float, vectors: int, seed: int, jobs: int,
               progress: bool = True) -> tuple[list[dict], list[str]]:
    """Cost unit ``specs`` (from :func:`unit_spec`) on ``tech`` (a name or Liberty path) at ``freq_mhz``;
    (rows in spec order, failures).

    Units already in ``cache`` (by :func:`hw.models.cost.cost_key`) are read
    back; the others are implemented in ``jobs`` processes, then simulated
    together in one Verilator build, and cached.
    """
    from tqdm import tqdm

    technology_data = technology.get(tech)
    cache.mkdir(parents=True, exist_ok=True)
    rows, todo, errors = {}, [], []
    for spec in specs:
        key = cost_key(spec["verilog"], technology_data, freq_mhz, vectors, seed)
        path = cache / f"{spec['unit']}-{key}.json"
        if path.exists():
            rows[spec["unit"]] = json.loads(path.read_text())
        else:
            todo.append((spec, path))
    if todo:
        bar = tqdm(total=len(todo), desc="synthesizing", unit="unit", disable=not progress, file=sys.stderr)
        prepared = []
        jobs_list = [({k: v for k, v in spec.items() if k != "verilog"}, tech, freq_mhz, vectors, seed)
                     for spec, _ in todo]
        with multiprocessing.get_context("spawn").Pool(max(1, min(jobs, len(todo)))) as pool:
            for spec, ready, error in pool.imap_unordered(_prepare, jobs_list):
                if ready is None:
                    errors.append(f"{spec['unit']}: {error}")
                else:
                    ready.source = spec["unit"]
                    prepared.append(ready)
                bar.update(1)
        bar.close()
        if prepared:
            if progress:
                print(f"simulating {len(prepared)} gate-level netlists (one Verilator build) ...", file=sys.stderr)
            paths = {p.name: path for p in prepared for spec, path in todo if spec["unit"] == p.source}
            by_name = {spec["unit"]: spec for spec, _ in todo}
            units = []
            for p in prepared:
                unit = build_spec(by_name[p.source])
                to_verilog(unit)  # elaborated: the harness needs only its ports
                units.append(unit)
            for row in measure(units, prepared, technology_data, name="dse"):
                if "error" in row:
                    errors.append(f"{row['unit']}: {row['error']}")
                else:
                    spec_unit = next(p.source for p in prepared if p.name == row["unit"])
                    row["spec_unit"] = spec_unit
                    write_atomic(str(paths[row["unit"]]), json.dumps(row, indent=1))
                    rows[spec_unit] = row
    return [rows[spec["unit"]] for spec in specs if spec["unit"] in rows], errors
