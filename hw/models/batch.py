"""Cost many units at many (technology, clock) places: unit specs, a cache by cost key, jobs on Dask.

A *unit spec* names a unit by data, so that it can travel to a worker
process and key a cache: ``{"kind", "format", "options"}`` (``options`` as
:func:`hw.rtl.build_sample` takes them, formats by name, ``stages``
included), plus the unit's ``unit`` name and ``verilog``.  The sweep
(:mod:`hw.dse`) and the calibration (:mod:`hw.models.calibrate`) both cost
through :func:`cost_specs`, which runs every implementation (synthesis,
OpenSTA, frequency-directed pipelining) as one Dask task and the gate-level
simulation of each group of one (technology, clock)'s implemented units (one
Verilator build that also checks each netlist against the golden model) as
another, on a
``distributed.LocalCluster`` of ``jobs`` single-threaded worker processes, or
on the cluster whose scheduler address is given.  Results are cached on the
client's disk by :func:`hw.models.cost.cost_key`; workers need the package
installed (``pip install -e .``) and the technology's files at the same paths.
"""

from __future__ import annotations

import json
import logging
import sys
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

from ..files import write_atomic
from ..rtl import build_sample, default_name, to_verilog
from . import technology
from .cost import cost_key, measure, prepare
from .report import place_name

__all__ = ["unit_spec", "build_spec", "cost_specs", "dask_client"]


def build_spec(spec: dict):
    """The unit a spec names (ValueError for one that does not exist)."""
    return build_sample(spec["kind"], spec["format"], spec["options"])


def unit_spec(kind: str, fmt: str, **options) -> dict:
    """A unit spec with its ``unit`` name and ``verilog`` filled in; ValueError for a unit that does not exist."""
    spec = {"kind": kind, "format": fmt, "options": {k: v for k, v in options.items() if v is not None and v is not False}}
    unit = build_spec(spec)
    return {**spec, "unit": default_name(unit), "verilog": to_verilog(unit)}


def _prepare(spec: dict, tech: str, freq_mhz: float, vectors: int, seed: int):
    """Task: implement one unit spec at one place and draw its workload; (Prepared or None, error or None)."""
    try:
        return prepare(build_spec(spec), technology.get(tech), freq_mhz, vectors=vectors, seed=seed), None
    except Exception as err:  # reported per unit; the sweep goes on
        return None, f"{type(err).__name__}: {err}"


def _error(prepared: tuple) -> str | None:
    """Task: the error of a :func:`_prepare` result (so that the client fetches a line, not the netlist)."""
    return prepared[1]


def _measure(specs: list[dict], prepared: list[tuple], tech: str, name: str) -> list[dict]:
    """Task: cost rows of one place's prepared units (:func:`_prepare` results) from one gate-level simulation."""
    units = []
    for spec in specs:
        unit = build_spec(spec)
        to_verilog(unit)  # elaborated: the harness needs only its ports
        units.append(unit)
    return measure(units, [ready for ready, _ in prepared], technology.get(tech), name=name)


@contextmanager
def dask_client(scheduler: str | None = None, jobs: int = 1):
    """A ``distributed.Client``: to ``scheduler`` (an address such as ``tcp://host:8786``) or to a new
    ``LocalCluster`` of ``jobs`` single-threaded worker processes, closed on exit."""
    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    with LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        yield client


def _workers(client) -> int:
    """The number of workers of a Dask client's cluster (at least 1)."""
    return max(1, len(client.scheduler_info().get("workers", {})))


def cost_specs(specs: list[dict], cache: Path, places: list[tuple[str, float]], vectors: int, seed: int,
               jobs: int = 1, progress: bool = True, scheduler: str | None = None) -> tuple[list[dict], list[str]]:
    """Cost unit ``specs`` (from :func:`unit_spec`) at every ``(technology, MHz)`` of ``places``; (rows,
    place by place in spec order, each with ``spec_unit``; failures, one line each).

    Units already in ``cache`` are read back; the others are implemented as
    Dask tasks, and simulated at gate level in groups of one place's units as
    their implementations finish (a group holds 1/(2 x workers) of a place's
    units, so that the Verilator builds run beside the remaining syntheses and
    on every worker); a progress bar counts the units costed.  Rows are cached.
    """
    from distributed import as_completed
    from tqdm import tqdm

    cache.mkdir(parents=True, exist_ok=True)
    rows, todo, errors = {}, [], []
    for tech, freq in places:
        tech_data = technology.get(tech)
        for spec in specs:
            key = cost_key(spec["verilog"], tech_data, freq, vectors, seed)
            path = cache / f"{spec['unit']}-{key}.json"
            if path.exists():
                rows[spec["unit"], tech, freq] = json.loads(path.read_text())
            else:
                todo.append((spec, tech, freq, path))
    if todo:
        todo.sort(key=lambda item: -len(item[0]["verilog"]))  # largest first: the syntheses that take longest
        with dask_client(scheduler, jobs) as client:
            # Netlists and workloads stay on the workers: the client fetches each unit's error line only, and
            # a simulation task takes the implementation futures themselves.
            implemented = {client.submit(_prepare, {k: v for k, v in spec.items() if k != "verilog"}, tech, freq,
                                         vectors, seed, pure=False,
                                         key=f"implement-{spec['unit']}-{place_name(tech, freq)}"):
                           (spec, tech, freq, path) for spec, tech, freq, path in todo}
            checks = {client.submit(_error, future, pure=False): future for future in implemented}
            left = Counter((tech, freq) for _, tech, freq, _ in todo)
            groups_per_place = 2 * _workers(client)
            size = {place: -(-count // groups_per_place) for place, count in left.items()}
            pending: dict = {place: [] for place in left}
            measured: dict = {}
            bar = tqdm(total=len(todo), desc="costing", unit="unit", disable=not progress, file=sys.stderr)
            events = as_completed(list(checks))
            for done in events:
                if done in checks:
                    spec, tech, freq, path = implemented[checks[done]]
                    error, place = done.result(), (tech, freq)
                    left[place] -= 1
                    if error is not None:
                        errors.append(f"{spec['unit']} ({place_name(tech, freq)}): {error}")
                        bar.update(1)
                    else:
                        pending[place].append((spec, checks[done], path))
                    if pending[place] and (len(pending[place]) >= size[place] or left[place] == 0):
                        group, pending[place] = pending[place], []
                        task = client.submit(
                            _measure, [{k: v for k, v in s.items() if k != "verilog"} for s, _, _ in group],
                            [f for _, f, _ in group], tech, f"dse-{place_name(tech, freq)}", pure=False,
                            key=f"simulate-{place_name(tech, freq)}-{len(measured)}")
                        measured[task] = (tech, freq, group)
                        events.add(task)
                    continue
                tech, freq, group = measured[done]
                bar.update(len(group))
                try:
                    results = done.result()
                except Exception as err:  # one group's simulation failed: its units fail, the others stand
                    errors += [f"{s['unit']} ({place_name(tech, freq)}): {type(err).__name__}: {err}"
                               for s, _, _ in group]
                    continue
                for (spec, _, path), row in zip(group, results):
                    if "error" in row:
                        errors.append(f"{row['unit']}: {row['error']}")
                        continue
                    row["spec_unit"] = spec["unit"]
                    write_atomic(str(path), json.dumps(row, indent=1))
                    rows[spec["unit"], tech, freq] = row
            bar.close()
    ordered = [rows[spec["unit"], tech, freq] for tech, freq in places for spec in specs
               if (spec["unit"], tech, freq) in rows]
    return ordered, errors
