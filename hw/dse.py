"""Design-space sweep: synthesize and simulate every unit of a YAML config, write a CSV and plots.

``python -m hw.dse [--config sweeps/default.yaml] [--out build/dse] [--jobs N]``

The config crosses ``formats`` x ``units`` x ``lanes`` x ``accumulators`` x
``stages``; ``lanes``/``accumulators`` take ``default`` for the unit's own
choice, and ``lanes`` may map unit kinds to their own lists.  Combinations a unit family does not have (a dot unit of an LNS
format, an fp16 accumulator for int8, ...) are skipped and listed, so one
config serves every family, and a family that lands later drops in through
:func:`hw.rtl.build_unit`.  Each unit is costed by :func:`hw.models.batch.cost_specs`
(yosys synthesis, gate-level Verilator simulation of the kind's realistic
workload, toggle-based energy) in parallel over ``--jobs`` processes; results are cached
in ``OUT/cache`` by a hash of the generated Verilog and the model settings,
so a re-run only costs what changed.  Writes ``OUT/dse.csv`` and
``OUT/area_energy_by_format.png``, ``OUT/area_vs_quality.png`` (with the
Pareto front), and ``OUT/gpu_rank.csv``/``.png`` (the model next to the
H100's measured matrix throughput).  Bad configs: one line, exit 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import yaml

from . import formats
from .files import output_dir, write_atomic
from .models.batch import cost_specs, unit_spec
from .rtl import kind_names

__all__ = ["main", "load_config", "expand", "ConfigError", "DEFAULT_CONFIG"]

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = ROOT / "sweeps" / "default.yaml"
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
        bad = [kind for kind in lanes if kind not in kind_names()]
        if bad:
            raise ConfigError(f"lanes: unknown unit kind {bad[0]!r}; valid: {', '.join(kind_names())}")
        return {kind: _list({"lanes": lanes.get(kind, ["default"])}, "lanes", check, what) for kind in kind_names()}
    values = _list(config, "lanes", check, what + ", or a mapping unit kind -> such a list")
    return {kind: values for kind in kind_names()}


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
        "units": _list(config, "units", lambda v: v in kind_names(), ", ".join(kind_names())),
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
    """(unit specs to cost, skipped combinations with the reason), one spec per distinct unit (see
    :mod:`hw.models.batch`)."""
    specs, skipped, seen = [], [], set()
    for fmt in config["formats"]:
        for kind in config["units"]:
            for lanes in config["lanes"][kind]:
                for acc in config["accumulators"]:
                    for stages in config["stages"]:
                        options = {"lanes": None if lanes == "default" else lanes,
                                   "acc": None if acc == "default" else acc, "stages": stages}
                        try:
                            spec = unit_spec(kind, fmt, **options)
                        except ValueError as err:
                            skipped.append(f"{kind} {fmt} lanes={lanes} acc={acc} stages={stages}: {err}")
                            continue
                        if spec["unit"] not in seen:
                            seen.add(spec["unit"])
                            specs.append(spec)
    return specs, skipped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hw.dse", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=str(DEFAULT_CONFIG), help="sweep YAML (default: sweeps/default.yaml)")
    parser.add_argument("--out", default=str(ROOT / "build" / "dse"), help="output folder (default: build/dse)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel processes (default: cores)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--tech", default="osu018", help="cell library: osu018 (default), sky130hd, asap7 or a "
                                                         "Liberty file")
    parser.add_argument("--freq", type=float, default=200.0, help="clock in MHz the units are pipelined for "
                                                                  "(default 200)")
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
    from .models import technology
    from .models.sta import sta_path

    if sta_path() is None:
        print("hw.dse: OpenSTA is not installed (apt-get install opensta, or `make sysdeps`)", file=sys.stderr)
        return 2
    try:
        technology.get(args.tech)
        out = output_dir(args.out, "--out")
    except (technology.TechnologyError, ValueError) as err:
        print(f"hw.dse: {err}", file=sys.stderr)
        return 2
    specs, skipped = expand(config)
    if not specs:
        for line in skipped:
            print(f"skipped {line}")
        print(f"hw.dse: {args.config}: no design point to cost: every combination was skipped", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    rows, errors = cost_specs(specs, out / "cache", args.tech, args.freq, config["vectors"], config["seed"], args.jobs,
                              progress=not args.no_progress)
    from .models.report import table_csv, write_reports

    for line in skipped:
        print(f"skipped {line}")
    if rows:
        write_atomic(str(out / "dse.csv"), table_csv(rows))
        for line in write_reports(rows, out, failed=[line.split(":", 1)[0] for line in errors]):
            print(line)
    for line in errors:
        print(f"hw.dse: failed {line}", file=sys.stderr)
    print(f"{len(rows)} units costed, {len(skipped)} combinations skipped, {len(errors)} failed; results in {out}/")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
