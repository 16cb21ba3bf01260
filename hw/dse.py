"""Design-space sweep: synthesize and simulate every unit of a YAML config, write a CSV and plots.

``python -m hw.dse [--config sweeps/default.yaml] [--out build/dse] [--jobs N]``

The config crosses ``formats`` x ``units`` x ``lanes`` x ``accumulators`` x
``stages``; ``lanes``/``accumulators`` take ``default`` for the unit's own
choice, and ``lanes`` may map unit kinds to their own lists.  Combinations a unit family does not have (a dot unit of an LNS
format, an fp16 accumulator for int8, ...) are skipped and listed, so one
config serves every family, and a family that lands later drops in through
:func:`hw.rtl.build_unit`.  Each unit is costed by :func:`hw.models.cost.evaluate`
(yosys synthesis, gate-level Verilator simulation of a realistic stream,
toggle-based energy) in parallel over ``--jobs`` processes; results are cached
in ``OUT/cache`` by a hash of the generated Verilog and the model settings,
so a re-run only costs what changed.  Writes ``OUT/dse.csv`` and
``OUT/area_energy_by_format.png``, ``OUT/area_vs_quality.png`` (with the
Pareto front), and ``OUT/gpu_rank.csv``/``.png`` (the model next to the
H100's measured matrix throughput).  Bad configs: one line, exit 2.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
from pathlib import Path

import yaml

from . import formats
from .files import write_atomic
from .rtl import UNIT_KINDS, build_unit, default_name, to_verilog

__all__ = ["main", "load_config", "expand", "cost_specs", "unit_spec", "ConfigError", "DEFAULT_CONFIG", "COSTED_KINDS"]

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = ROOT / "sweeps" / "default.yaml"
#: Unit kinds the cost model has a workload for.
COSTED_KINDS = ("mul", "add", "mac", "dot", "tensorcore")
_DEFAULTS = {"lanes": ["default"], "accumulators": ["default"], "stages": [0], "vectors": 2048, "seed": 1}
_KEYS = ("formats", "units", "lanes", "accumulators", "stages", "vectors", "seed")


class ConfigError(ValueError):
    """A config that cannot run; the message names the key and the valid choices."""


def _list(config, key, check, what):
    values = config.get(key, _DEFAULTS.get(key))
    if values is None:
        raise ConfigError(f"missing key {key!r} ({what})")
    if not isinstance(values, list) or not values:
        raise ConfigError(f"{key!r} must be a non-empty list ({what}), not {values!r}")
    for value in values:
        if not check(value):
            raise ConfigError(f"bad {key} entry {value!r}; valid: {what}")
    return values


def _lanes(config, check) -> dict:
    """``lanes`` as a mapping unit kind -> list: a list applies to every kind; kinds a mapping omits get default."""
    what = "'default' or positive integers"
    lanes = config.get("lanes", _DEFAULTS["lanes"])
    if isinstance(lanes, dict):
        bad = [kind for kind in lanes if kind not in COSTED_KINDS]
        if bad:
            raise ConfigError(f"lanes: unknown unit kind {bad[0]!r}; valid: {', '.join(COSTED_KINDS)}")
        return {kind: _list({"lanes": lanes.get(kind, ["default"])}, "lanes", check, what) for kind in COSTED_KINDS}
    values = _list(config, "lanes", check, what + ", or a mapping unit kind -> such a list")
    return {kind: values for kind in COSTED_KINDS}


def load_config(text: str) -> dict:
    """Parse and validate a sweep config (YAML text); ConfigError names what is wrong."""
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"not valid YAML: {str(err).splitlines()[0]}") from None
    if not isinstance(config, dict):
        raise ConfigError("the config must be a mapping with keys " + ", ".join(_KEYS))
    unknown = sorted(set(config) - set(_KEYS))
    if unknown:
        raise ConfigError(f"unknown key {unknown[0]!r}; valid keys: {', '.join(_KEYS)}")
    names = formats.names()
    is_int = lambda v: isinstance(v, int) and not isinstance(v, bool)
    out = {
        "formats": _list(config, "formats", lambda v: v in names, "registered formats (" + ", ".join(names) + ")"),
        "units": _list(config, "units", lambda v: v in COSTED_KINDS, ", ".join(COSTED_KINDS)),
        "lanes": _lanes(config, lambda v: v == "default" or (is_int(v) and v >= 1)),
        "accumulators": _list(config, "accumulators", lambda v: v == "default" or v in names,
                              "'default' or registered formats (fp32, fp16, bf16, int32, ...)"),
        "stages": _list(config, "stages", lambda v: is_int(v) and 0 <= v <= 16, "integers 0..16"),
    }
    for key, low in (("vectors", 64), ("seed", 0)):
        value = config.get(key, _DEFAULTS[key])
        if not is_int(value) or value < low:
            raise ConfigError(f"{key!r} must be an integer >= {low}, not {value!r}")
        out[key] = value
    return out


def expand(config: dict) -> tuple[list[dict], list[str]]:
    """(unit specs to cost, skipped combinations with the reason), one spec per distinct unit.

    A spec holds the build arguments, the unit's name and its Verilog (the cache key)."""
    specs, skipped, seen = [], [], set()
    for fmt in config["formats"]:
        for kind in config["units"]:
            for lanes in config["lanes"][kind]:
                for acc in config["accumulators"]:
                    for stages in config["stages"]:
                        spec = {"kind": kind, "format": fmt, "lanes": None if lanes == "default" else lanes,
                                "acc": None if acc == "default" else acc, "stages": stages}
                        try:
                            unit = _build(spec)
                        except ValueError as err:
                            skipped.append(f"{kind} {fmt} lanes={lanes} acc={acc} stages={stages}: {err}")
                            continue
                        name = default_name(unit)
                        verilog = to_verilog(unit, name)  # the cache key; elaborating also marks the unit used
                        if name not in seen:
                            seen.add(name)
                            specs.append({**spec, "unit": name, "verilog": verilog})
    return specs, skipped


def _build(spec: dict):
    acc = formats.get(spec["acc"]) if spec.get("acc") else None
    return build_unit(spec["kind"], formats.get(spec["format"]), lanes=spec.get("lanes"), acc=acc,
                      stages=spec.get("stages", 0), grouped=spec.get("grouped", False))


def unit_spec(kind: str, fmt: str, lanes: int | None = None, acc: str | None = None, stages: int = 0,
              grouped: bool = False) -> dict:
    """A unit spec as :func:`expand` makes them (``unit`` filled in); ValueError for a unit that does not exist."""
    spec = {"kind": kind, "format": fmt, "lanes": lanes, "acc": acc, "stages": stages, "grouped": grouped}
    unit = _build(spec)
    return {**spec, "unit": default_name(unit), "verilog": to_verilog(unit)}


def _prepare(job):
    """Worker: synthesize one unit spec and draw its stream; (spec, Prepared or None, error or None)."""
    from .models.cost import prepare

    spec, vectors, seed = job
    try:
        return spec, prepare(_build(spec), vectors=vectors, seed=seed), None
    except Exception as err:  # reported per unit; the sweep goes on
        return spec, None, f"{type(err).__name__}: {err}"


def cost_specs(specs: list[dict], cache: Path, vectors: int, seed: int, jobs: int,
               progress: bool = True) -> tuple[list[dict], list[str]]:
    """Cost unit ``specs`` (from :func:`expand`); (rows in spec order, failures).

    Units already in ``cache`` (by :func:`hw.models.cost.cost_key`) are read
    back; the others are synthesized in ``jobs`` processes, then simulated
    together in one Verilator build, and cached.
    """
    from tqdm import tqdm

    from .models.cost import cost_key, measure

    cache.mkdir(parents=True, exist_ok=True)
    rows, todo, errors = {}, [], []
    for spec in specs:
        path = cache / f"{spec['unit']}-{cost_key(spec['verilog'], vectors, seed)}.json"
        if path.exists():
            rows[spec["unit"]] = json.loads(path.read_text())
        else:
            todo.append((spec, path))
    if todo:
        bar = tqdm(total=len(todo), desc="synthesizing", unit="unit", disable=not progress, file=sys.stderr)
        prepared = []
        jobs_list = [({k: v for k, v in spec.items() if k != "verilog"}, vectors, seed) for spec, _ in todo]
        with multiprocessing.get_context("spawn").Pool(max(1, min(jobs, len(todo)))) as pool:
            for spec, ready, error in pool.imap_unordered(_prepare, jobs_list):
                if ready is None:
                    errors.append(f"{spec['unit']}: {error}")
                else:
                    prepared.append(ready)
                bar.update(1)
        bar.close()
        if prepared:
            if progress:
                print(f"simulating {len(prepared)} gate-level netlists (one Verilator build) ...", file=sys.stderr)
            paths = {spec["unit"]: path for spec, path in todo}
            by_name = {spec["unit"]: spec for spec, _ in todo}
            units = []
            for p in prepared:
                unit = _build(by_name[p.name])
                to_verilog(unit, p.name)  # elaborated: the harness needs only its ports
                units.append(unit)
            for row in measure(units, prepared, name="dse"):
                if "error" in row:
                    errors.append(f"{row['unit']}: {row['error']}")
                else:
                    write_atomic(str(paths[row["unit"]]), json.dumps(row, indent=1))
                    rows[row["unit"]] = row
    return [rows[spec["unit"]] for spec in specs if spec["unit"] in rows], errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hw.dse", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=str(DEFAULT_CONFIG), help="sweep YAML (default: sweeps/default.yaml)")
    parser.add_argument("--out", default=str(ROOT / "build" / "dse"), help="output folder (default: build/dse)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel processes (default: cores)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    try:
        if args.jobs < 1:
            raise ConfigError(f"--jobs must be >= 1, not {args.jobs}")
        try:
            text = Path(args.config).read_text()
        except OSError as err:
            raise ConfigError(f"cannot read {args.config}: {err.strerror}") from None
        config = load_config(text)
    except ConfigError as err:
        print(f"hw.dse: {args.config}: {err}", file=sys.stderr)
        return 2
    from .models.synth import yosys_path

    if yosys_path() is None:
        print("hw.dse: yosys is not installed (apt-get install yosys, or `make sysdeps`)", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    specs, skipped = expand(config)
    rows, errors = cost_specs(specs, out / "cache", config["vectors"], config["seed"], args.jobs,
                              progress=not args.no_progress)
    from .models.report import table_csv, write_reports

    for line in skipped:
        print(f"skipped {line}")
    if rows:
        write_atomic(str(out / "dse.csv"), table_csv(rows))
        for line in write_reports(rows, out):
            print(line)
    for line in errors:
        print(f"hw.dse: failed {line}", file=sys.stderr)
    print(f"{len(rows)} units costed, {len(skipped)} combinations skipped, {len(errors)} failed; results in {out}/")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
