"""Design-space sweep at a clock: cost every design point of a YAML config on real cells, write CSVs and plots.

``python -m hw.dse [--config sweeps/default.yaml] [--out build/dse] [--jobs N] [--scheduler ADDRESS]
[--tech LIB[,LIB]] [--freq MHZ[,MHZ]]``

The config crosses ``formats`` x ``units`` x every option ``hw.gen`` takes
(``lanes``, ``accumulators``, ``align_bits``, ``grouped``, ``fmt_b``,
``spec``, ``out_fmt``, ``stages``) x ``tech`` x ``freq_mhz``.  Formats are
any name ``hw.gen --fmt`` accepts (``e3m4``, ``posit12``, ``mx_e3m4_b16``
...).  Option lists take ``default`` for the unit's own choice and may map
unit kinds to their own lists (kinds a mapping omits, and kinds that do not
take the option, get the default).  Combinations a unit family does not have
(a dot unit of an LNS format, an fp16 accumulator for int8, ...) are skipped
and listed, so one config serves every family.  ``stages: 0`` (the default)
pipelines each unit for its clock (its latency is chosen); ``stages: N > 0``
keeps N registers, and a clock they cannot meet is marked infeasible.

Each (unit, technology, clock) is costed by :func:`hw.models.batch.cost_specs`
(yosys synthesis, OpenSTA, frequency-directed pipelining, a gate-level
Verilator simulation of the kind's workload that checks the netlist and
measures its toggles) as tasks on Dask: a ``LocalCluster`` of ``--jobs``
worker processes, or the cluster at ``--scheduler``.  Results are cached in
``OUT/cache`` by a hash of the Verilog, the library and the model settings,
so a re-run costs only what changed.  Writes ``OUT/dse.csv`` (every row),
per (technology, clock) ``OUT/<tech>_<MHz>mhz/`` with ``dse.csv``,
``area_energy_by_format.png``, ``area_vs_quality.png`` (Pareto front),
``pareto.csv`` and ``gpu_rank.csv``/``.png``, and with more than one place
``OUT/pareto_by_clock.png``.  ``--tech``/``--freq`` replace the config's
lists.  Bad configs: one line, exit 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import yaml

from . import formats
from .files import output_dir, write_atomic
from .formats import tensorcore
from .models.batch import cost_specs, unit_spec
from .rtl import get_kind, kind_names

__all__ = ["main", "load_config", "expand", "places", "ConfigError", "DEFAULT_CONFIG"]

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = ROOT / "sweeps" / "default.yaml"
#: Config key -> the build_unit option it sets (lists of values per key; "default" = the unit's own choice).
OPTION_KEYS = {"lanes": "lanes", "accumulators": "acc", "align_bits": "align_bits", "grouped": "grouped",
               "fmt_b": "fmt_b", "spec": "spec", "out_fmt": "out_fmt"}
_DEFAULTS = {"stages": [0], "tech": ["osu018"], "freq_mhz": [200], "vectors": 2048, "seed": 1}
_KEYS = ("formats", "units", *OPTION_KEYS, "stages", "tech", "freq_mhz", "vectors", "seed")


class ConfigError(ValueError):
    """A config that cannot run; the message names the key and the valid choices."""


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_format(v) -> bool:
    try:
        formats.get(v)
    except (ValueError, TypeError):
        return False
    return True


#: Per option key: (check of one value other than "default", what is valid).
_CHECKS = {
    "lanes": (lambda v: _is_int(v) and v >= 1, "'default' or positive integers"),
    "accumulators": (_is_format, "'default' or format names (fp32, fp16, bf16, int32, quire_posit8, ...)"),
    "align_bits": (lambda v: _is_int(v) and 2 <= v <= 160, "'default' or integers 2..160"),
    "grouped": (lambda v: isinstance(v, bool), "true or false"),
    "fmt_b": (_is_format, "'default' or format names"),
    "spec": (lambda v: v in tensorcore.SPECS, "'default' or tensor-core specs (" + ", ".join(tensorcore.SPECS) + ")"),
    "out_fmt": (_is_format, "'default' or format names"),
}


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


def _per_kind(config, key) -> dict:
    """An option key as a mapping unit kind -> values: a list applies to every kind that takes the option,
    a mapping to the kinds it names; every other kind gets the default only."""
    check, what = _CHECKS[key]
    value_ok = lambda v: v == "default" or (v is False if key == "grouped" else False) or check(v)
    default = [False] if key == "grouped" else ["default"]
    values = config.get(key, default)
    takes = lambda kind: OPTION_KEYS[key] in get_kind(kind).options
    if isinstance(values, dict):
        bad = [kind for kind in values if kind not in kind_names()]
        if bad:
            raise ConfigError(f"{key}: unknown unit kind {bad[0]!r}; valid: {', '.join(kind_names())}")
        return {kind: _list({key: values.get(kind, default)}, key, value_ok, what) if takes(kind) else default
                for kind in kind_names()}
    values = _list({key: values}, key, value_ok, what + ", or a mapping unit kind -> such a list")
    return {kind: values if takes(kind) else default for kind in kind_names()}


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
    out = {
        "formats": _list(config, "formats", _is_format,
                         "format names: registered (" + ", ".join(formats.names()) + ") or generic "
                         "(eXmY, intN, positN[esE], mx_<element>_b<K>, lns<W>g<G>)"),
        "units": _list(config, "units", lambda v: v in kind_names(), ", ".join(kind_names())),
        "stages": _list(config, "stages", lambda v: _is_int(v) and 0 <= v <= 16,
                        "integers 0..16 (0: pipelined for the clock)"),
        "tech": _list(config, "tech", lambda v: isinstance(v, str) and v.strip() != "",
                      "cell libraries: osu018, sky130hd, asap7 or Liberty paths"),
        "freq_mhz": _list(config, "freq_mhz", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
                          and 0 < v <= 10000, "clocks in MHz, numbers in (0, 10000]"),
        **{key: _per_kind(config, key) for key in OPTION_KEYS},
    }
    for key, low in (("vectors", 64), ("seed", 0)):
        value = config.get(key, _DEFAULTS[key])
        if not _is_int(value) or value < low:
            raise ConfigError(f"{key!r} must be an integer >= {low}, not {value!r}")
        out[key] = value
    return out


def _product(lists: list[list]):
    if not lists:
        yield ()
        return
    for head in lists[0]:
        for rest in _product(lists[1:]):
            yield (head, *rest)


def expand(config: dict) -> tuple[list[dict], list[str]]:
    """(unit specs to cost, skipped combinations with the reason), one spec per distinct unit (see
    :mod:`hw.models.batch`)."""
    specs, skipped, seen = [], [], set()
    keys = list(OPTION_KEYS)
    for fmt in config["formats"]:
        for kind in config["units"]:
            for values in _product([config[key][kind] for key in keys] + [config["stages"]]):
                *option_values, stages = values
                options = {OPTION_KEYS[key]: None if value in ("default", False) else value
                           for key, value in zip(keys, option_values)}
                options["stages"] = stages
                try:
                    spec = unit_spec(kind, fmt, **options)
                except ValueError as err:
                    given = " ".join(f"{k}={v}" for k, v in options.items() if v is not None)
                    skipped.append(f"{kind} {fmt} {given}: {err}")
                    continue
                if spec["unit"] not in seen:
                    seen.add(spec["unit"])
                    specs.append(spec)
    return specs, skipped


def places(config: dict) -> list[tuple[str, float]]:
    """Every (technology, clock in MHz) of the config."""
    return [(tech, float(freq)) for tech in config["tech"] for freq in config["freq_mhz"]]


def _comma_list(text: str, parse, flag: str) -> list:
    try:
        values = [parse(v.strip()) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values:
        raise ConfigError(f"{flag} needs a comma-separated list, not {text!r}")
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hw.dse", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=str(DEFAULT_CONFIG), help="sweep YAML (default: sweeps/default.yaml)")
    parser.add_argument("--out", default=str(ROOT / "build" / "dse"), help="output folder (default: build/dse)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="worker processes of the local Dask cluster (default: cores)")
    parser.add_argument("--scheduler", help="address of a running Dask scheduler (e.g. tcp://host:8786) to run "
                                            "the jobs on instead of a local cluster")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--tech", help="cell libraries, comma-separated (replaces the config's tech list): "
                                       "osu018, sky130hd, asap7 or Liberty files")
    parser.add_argument("--freq", help="clocks in MHz, comma-separated (replaces the config's freq_mhz list)")
    args = parser.parse_args(argv)
    try:
        if args.jobs < 1:
            raise ConfigError(f"--jobs must be >= 1, not {args.jobs}")
        try:
            text = Path(args.config).read_text()
        except OSError as err:
            raise ConfigError(f"cannot read {args.config}: {err.strerror}") from None
        config = load_config(text)
        if args.tech is not None:
            config["tech"] = _comma_list(args.tech, str, "--tech")
        if args.freq is not None:
            config["freq_mhz"] = _comma_list(args.freq, float, "--freq")
            if not all(0 < f <= 10000 for f in config["freq_mhz"]):
                raise ConfigError(f"--freq: clocks must be in (0, 10000] MHz, not {args.freq!r}")
    except ConfigError as err:
        print(f"hw.dse: {args.config}: {err}", file=sys.stderr)
        return 2
    from .models import technology
    from .models.sta import sta_path

    if sta_path() is None:
        print("hw.dse: OpenSTA is not installed (apt-get install opensta, or `make sysdeps`)", file=sys.stderr)
        return 2
    try:
        for tech in config["tech"]:
            technology.get(tech)
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
    started = time.perf_counter()
    where = places(config)
    rows, errors = cost_specs(specs, out / "cache", where, config["vectors"], config["seed"], args.jobs,
                              progress=not args.no_progress, scheduler=args.scheduler)
    seconds = time.perf_counter() - started
    from .models.report import table_csv, write_place_reports

    for line in skipped:
        print(f"skipped {line}")
    if rows:
        write_atomic(str(out / "dse.csv"), table_csv(rows))
        for line in write_place_reports(rows, out, failed=[line.split(":", 1)[0] for line in errors]):
            print(line)
    for line in errors:
        print(f"hw.dse: failed {line}", file=sys.stderr)
    points = len(specs) * len(where)
    print(f"{len(rows)} of {points} design points costed ({len(specs)} units x {len(where)} (technology, clock)), "
          f"{len(skipped)} combinations skipped, {len(errors)} failed, in {seconds:.0f} s "
          f"({points / seconds:.2f} points/s); results in {out}/")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
