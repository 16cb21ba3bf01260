"""A standard-cell technology read from Liberty: cells, areas, pins, timing and power tables, units, voltage.

``technology.get(NAME_OR_PATH)`` reads any Liberty file a user gives
(``.lib`` or ``.lib.gz``, or several files of one library, e.g. ASAP7's five)
with the `liberty-parser` package and keeps what the cost flow needs:

* units, scaled once: time in ns, capacitance in fF, energy in pJ (Liberty's
  internal-power tables are energies per transition in capacitive-load unit
  x voltage unit squared), leakage in nW; the nominal voltage;
* per cell: area (um^2), leakage (``cell_leakage_power``), pins (direction,
  capacitance, clock flag, function), the internal-power tables of every
  (pin, related pin) and the delay of every arc as :class:`Table`, the
  flip-flop description (:class:`Flop`), and whether synthesis may use it;
* the library's wire-load model (``default_wire_load``, else its first
  ``wire_load``) or, where it has none, :data:`FALLBACK_WIRE`;
* the FO4 transition time of its smallest inverter, the slew at which the
  power tables are read (:attr:`Technology.slew_ns`).

Cells synthesis may not use (documented rule): Liberty's ``dont_use``, isolation,
level-shifter, always-on, retention, switch, pad and clock-gating cells, cells
with a power pin other than the primary supply and wells (sky130's ``kapwr``
cells), cells with no output, and names matching the user's ``dont_use``
patterns.  :meth:`Technology.liberty` writes the usable cells of all files into
one Liberty file, which yosys, ABC and OpenSTA read.

Named technologies: ``osu018`` (the default: OSU 0.18 um, ``apt-get install
qflow-tech-osu018``), and where ``../shared/reference/pdk`` is present
``sky130hd`` (SkyWater 130 nm HD, typical 25 C 1.8 V) and ``asap7`` (7 nm
FinFET predictive, RVT typical 0.7 V).  Parsed libraries are cached by content
hash under ``build/tech``.
"""

from __future__ import annotations

import fnmatch
import gzip
import hashlib
import math
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["Technology", "CellData", "Pin", "Table", "Flop", "WireLoad", "truth_table", "get", "names", "NAMED", "FALLBACK_WIRE",
           "DEFAULT", "TechnologyError"]

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / "build" / "tech"
PDK = ROOT.parent / "shared" / "reference" / "pdk"
#: Named libraries: (files, a line on where they come from).
NAMED = {
    "osu018": ([Path("/usr/share/qflow/tech/osu018/osu018_stdcells.lib")],
               "OSU 0.18 um (apt-get install qflow-tech-osu018)"),
    "sky130hd": ([PDK / "sky130hd" / "sky130_fd_sc_hd__tt_025C_1v80.lib.gz"],
                 "SkyWater 130 nm HD, tt 25 C 1.80 V (../shared/reference/pdk)"),
    "asap7": ([PDK / "asap7" / f"asap7sc7p5t_{part}_RVT_TT_nldm.lib.gz" for part in ("SIMPLE", "INVBUF", "SEQ", "AO", "OA")],
              "ASAP7 7 nm FinFET predictive, RVT TT 0.7 V (../shared/reference/pdk)"),
}
DEFAULT = "osu018"
#: Parser and model revision: part of the cache key of a parsed library.
_REVISION = 4


class TechnologyError(ValueError):
    """A Liberty file that cannot be used; the message names the file and what is wrong."""


@dataclass(frozen=True)
class FallbackWire:
    """Wire load where a library defines none: ``C = ff_per_um * pitches * fanout * sqrt(inverter area)``.

    About four cell pitches of local wire per driven pin, at 0.2 fF/um, the
    capacitance of minimum-pitch local metal across CMOS nodes (Ho, Mai and
    Horowitz, "The future of wires", Proc. IEEE 89(4), 2001).
    """

    ff_per_um: float = 0.2
    pitches: float = 4.0


FALLBACK_WIRE = FallbackWire()


@dataclass(frozen=True)
class WireLoad:
    """A Liberty ``wire_load`` model: length per fanout (with ``slope`` beyond the table), capacitance per length."""

    name: str
    cap_ff_per_length: float
    slope: float
    lengths: tuple[tuple[int, float], ...]

    def length(self, fanout: int) -> float:
        table = dict(self.lengths)
        if fanout in table:
            return table[fanout]
        top = max(table)
        return table[top] + (fanout - top) * self.slope if fanout > top else table[min(table)] * fanout / min(table)


@dataclass(frozen=True)
class Table:
    """A Liberty table pair (rise, fall) over input slew (ns) and load (fF): internal energy (pJ) per
    transition, a delay (ns) or a constraint (ns)."""

    slew: tuple[float, ...]
    load: tuple[float, ...]
    rise: np.ndarray = field(repr=False)
    fall: np.ndarray = field(repr=False)

    def mean(self, slew_ns: float, load_ff: float) -> float:
        """Mean of rise and fall at one slew and load (linear interpolation, clamped to the table)."""
        return 0.5 * (_interpolate(self.rise, self.slew, self.load, slew_ns, load_ff)
                      + _interpolate(self.fall, self.slew, self.load, slew_ns, load_ff))

    def worst(self, slew_ns: float, load_ff: float) -> float:
        """The larger of rise and fall."""
        return max(_interpolate(self.rise, self.slew, self.load, slew_ns, load_ff),
                   _interpolate(self.fall, self.slew, self.load, slew_ns, load_ff))


def _interpolate(table: np.ndarray, xs, ys, x: float, y: float) -> float:
    table = np.atleast_2d(table)
    if len(xs) > 1:
        table = np.array([np.interp(x, xs, table[:, j]) for j in range(table.shape[1])])[None, :]
    if len(ys) > 1:
        return float(np.interp(y, ys, table[0]))
    return float(table[0, 0])


@dataclass(frozen=True)
class Pin:
    name: str
    direction: str
    cap_ff: float
    clock: bool = False
    function: str | None = None


@dataclass(frozen=True)
class Flop:
    """A plain positive-edge D flip-flop: its clock, data and output pin, whether that output is inverted, the
    clock-to-output delay table and the setup time (ns, at the FO4 slew)."""

    clock: str
    d: str
    q: str
    inverted: bool
    clk_to_q: Table
    setup_ns: float


@dataclass(frozen=True)
class CellData:
    """One library cell (see the module docstring).  ``power`` maps (pin, related pin or "") to its internal
    energy table; ``delay`` maps (output pin, input pin) to its propagation-delay table (ns); ``flop`` is
    set for a plain positive-edge D flip-flop."""

    name: str
    area_um2: float
    leakage_nw: float
    pins: dict
    power: dict
    sequential: bool
    usable: bool
    why_not: str = ""
    delay: dict = field(default_factory=dict)
    flop: Flop | None = None

    @property
    def inputs(self) -> list[str]:
        return [p.name for p in self.pins.values() if p.direction == "input"]

    @property
    def outputs(self) -> list[str]:
        return [p.name for p in self.pins.values() if p.direction == "output"]


@dataclass
class Technology:
    """A parsed library (see the module docstring)."""

    name: str
    files: tuple[str, ...]
    digest: str
    voltage: float
    cells: dict
    wire_load: WireLoad | None
    slew_ns: float
    inverter: str
    source: str = ""

    def __post_init__(self):
        usable = [c for c in self.cells.values() if c.usable]
        if not any(c.sequential for c in usable):
            raise TechnologyError(f"{self.name}: no usable flip-flop (a cell with an ff group)")

    @property
    def inverter_area(self) -> float:
        return self.cells[self.inverter].area_um2

    def wire_cap_ff(self, fanout: int) -> float:
        """Capacitance (fF) of a net driving ``fanout`` pins, by the library's wire-load model or the fallback."""
        if fanout <= 0:
            return 0.0
        if self.wire_load is not None:
            return self.wire_load.cap_ff_per_length * self.wire_load.length(fanout)
        pitch = math.sqrt(self.inverter_area)
        return FALLBACK_WIRE.ff_per_um * FALLBACK_WIRE.pitches * fanout * pitch

    def gate(self, table: tuple[int, ...]) -> tuple[str, list[str], str]:
        """(cell, its input pins in the order of ``table``'s inputs, output pin) of the smallest usable
        combinational cell computing ``table`` (see :func:`truth_table`); TechnologyError if there is none."""
        import itertools

        inputs = (len(table) - 1).bit_length()
        found = []
        for cell in self.cells.values():
            outputs = [self.cells[cell.name].pins[o] for o in cell.outputs]
            if not cell.usable or cell.sequential or len(outputs) != 1 or outputs[0].function is None \
                    or len(cell.inputs) != inputs:
                continue
            for order in itertools.permutations(cell.inputs):
                if truth_table(outputs[0].function, list(order)) == table:
                    found.append((cell.area_um2, cell.name, list(order), outputs[0].name))
                    break
        if not found:
            raise TechnologyError(f"{self.name}: no usable cell computes the truth table {table}")
        return min(found)[1:]

    @property
    def flops(self) -> list[CellData]:
        """The usable plain positive-edge D flip-flops, smallest first."""
        return sorted((c for c in self.cells.values() if c.usable and c.flop is not None),
                      key=lambda c: (c.area_um2, c.flop.inverted, c.name))

    @property
    def flop(self) -> CellData:
        """The smallest usable plain positive-edge D flip-flop."""
        if not self.flops:
            raise TechnologyError(f"{self.name}: no usable plain positive-edge D flip-flop")
        return self.flops[0]

    def flop_for(self, load_ff: float) -> CellData:
        """The plain D flip-flop (pins and polarity of :attr:`flop`) whose clock-to-output delay is shortest
        at ``load_ff``, the smaller of any two within 5 %."""
        base = self.flop
        same = [c for c in self.flops if (c.flop.clock, c.flop.d, c.flop.q, c.flop.inverted) ==
                (base.flop.clock, base.flop.d, base.flop.q, base.flop.inverted)]
        best = min(c.flop.clk_to_q.worst(self.slew_ns, load_ff) for c in same)
        return next(c for c in same if c.flop.clk_to_q.worst(self.slew_ns, load_ff) <= 1.05 * best)

    def describe(self) -> str:
        wire = f"wire load {self.wire_load.name}" if self.wire_load else "fallback wire load"
        return (f"{self.name}: {sum(c.usable for c in self.cells.values())} usable cells of {len(self.cells)}, "
                f"{self.voltage:g} V, FO4 slew {self.slew_ns * 1e3:.0f} ps, {wire}")

    def liberty(self) -> Path:
        """One Liberty file with the usable cells of every file (written once, under ``build/tech``)."""
        path = CACHE / self.digest / f"{self.name}_usable.lib"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            text = _merged_liberty([_read_text(Path(f)) for f in self.files],
                                   {c.name for c in self.cells.values() if c.usable})
            tmp = path.with_suffix(".tmp")
            tmp.write_text(text)
            tmp.replace(path)
        return path


def names() -> list[str]:
    return list(NAMED)


def get(name: str | Path | list, dont_use: tuple[str, ...] = ()) -> Technology:
    """A named technology (:data:`NAMED`) or one read from Liberty file(s); TechnologyError naming the problem."""
    if isinstance(name, (list, tuple)):
        files = [Path(p) for p in name]
        label = files[0].name.split(".")[0]
    elif str(name) in NAMED:
        files, source = NAMED[str(name)]
        label = str(name)
        missing = [str(f) for f in files if not f.exists()]
        if missing:
            raise TechnologyError(f"technology {name!r} is not installed: {missing[0]} is missing ({source})")
    else:
        files = [Path(name)]
        label = files[0].name.split(".")[0]
        if not files[0].exists():
            raise TechnologyError(f"unknown technology {str(name)!r}: not a file, and not one of {', '.join(NAMED)}")
    for f in files:
        if not f.is_file():
            raise TechnologyError(f"cannot read Liberty file {f}: not a file")
    hasher = hashlib.sha256(repr((_REVISION, sorted(dont_use))).encode())
    for f in files:
        hasher.update(f.read_bytes())
    digest = hasher.hexdigest()[:16]
    cached = CACHE / f"{label}-{digest}.pickle"
    if cached.exists():
        return pickle.loads(cached.read_bytes())
    tech = _parse(label, files, digest, dont_use)
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(".tmp")
    tmp.write_bytes(pickle.dumps(tech))
    tmp.replace(cached)
    return tech


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    return gzip.decompress(data).decode() if data[:2] == b"\x1f\x8b" else data.decode()


_UNITS = {"s": 1e9, "ms": 1e6, "us": 1e3, "ns": 1.0, "ps": 1e-3, "fs": 1e-6}
_POWER = {"W": 1e9, "mW": 1e6, "uW": 1e3, "nW": 1.0, "pW": 1e-3, "fW": 1e-6}
_CAP = {"pf": 1e3, "ff": 1.0, "nf": 1e6}
_BAD_FLAGS = ("dont_use", "is_isolation_cell", "is_level_shifter", "always_on", "retention_cell", "switch_cell_type",
              "pad_cell", "is_macro_cell", "clock_gating_integrated_cell")
_PG_OK = ("primary_power", "primary_ground", "nwell", "pwell", "deepnwell", "deeppwell")


def _unit(text, table: dict, what: str, file) -> float:
    m = re.fullmatch(r'"?\s*([0-9.e+-]*)\s*([A-Za-z]+)\s*"?', str(text).strip())
    if not m or m[2] not in table:
        raise TechnologyError(f"{file}: cannot read {what} {text!r}")
    return float(m[1] or 1) * table[m[2]]


def _strip(value) -> str:
    return str(value).strip().strip('"')


def _numbers(value) -> list[float]:
    text = value if isinstance(value, str) else ",".join(str(v) for v in (value if isinstance(value, list) else [value]))
    return [float(v) for v in re.split(r"[,\s\"\\]+", text) if v]


def _parse(label: str, files: list[Path], digest: str, dont_use) -> Technology:
    from liberty.parser import parse_liberty

    cells, wire_load, voltage, scales = {}, None, None, None
    inverter_timing = {}
    for path in files:
        try:
            lib = parse_liberty(_read_text(path))
        except Exception as err:  # the parser's own error types
            raise TechnologyError(f"{path}: not a Liberty file the parser reads ({type(err).__name__}: "
                                  f"{str(err).splitlines()[0] if str(err) else ''})") from None
        if lib.group_name != "library":
            raise TechnologyError(f"{path}: the top group is {lib.group_name!r}, not library")
        cap = lib.get("capacitive_load_unit")
        if cap is None:
            raise TechnologyError(f"{path}: no capacitive_load_unit")
        cap_ff = float(cap[0]) * _CAP[str(cap[1]).strip('"').lower()]
        volt = _unit(lib.get("voltage_unit", "1V"), {"V": 1.0, "mV": 1e-3}, "voltage_unit", path)
        time_ns = _unit(lib.get("time_unit", "1ns"), _UNITS, "time_unit", path)
        leak_nw = _unit(lib.get("leakage_power_unit", "1nW"), _POWER, "leakage_power_unit", path)
        energy_pj = cap_ff * 1e-3 * volt * volt  # pF * V^2 = pJ
        scales = scales or (time_ns, cap_ff, leak_nw, energy_pj)
        if voltage is None and lib.get("nom_voltage") is not None:
            voltage = float(lib.get("nom_voltage")) * volt
        templates = {_strip(t.args[0]): t for t in lib.get_groups("lu_table_template") + lib.get_groups("power_lut_template")}
        if wire_load is None:
            wire_load = _wire_load(lib, cap_ff)
        for cell in lib.get_groups("cell"):
            data, timing = _cell(cell, templates, time_ns, cap_ff, leak_nw, energy_pj, dont_use)
            cells[data.name] = data
            if timing:
                inverter_timing[data.name] = timing
    if voltage is None:
        raise TechnologyError(f"{files[0]}: no nom_voltage")
    inverters = [c for c in cells.values() if c.usable and c.name in inverter_timing]
    if not inverters:
        raise TechnologyError(f"{files[0]}: no usable inverter (a cell whose one output is !A)")
    inverter = min(inverters, key=lambda c: c.area_um2)
    tech = Technology(label, tuple(str(f) for f in files), digest, voltage, cells, wire_load, 0.0, inverter.name,
                      ", ".join(str(f) for f in files))
    tech.slew_ns = _fo4_slew(tech, inverter, inverter_timing[inverter.name])
    return tech


def _wire_load(lib, cap_ff: float) -> WireLoad | None:
    models = {_strip(w.args[0]): w for w in lib.get_groups("wire_load")}
    if not models:
        return None
    name = _strip(lib.get("default_wire_load", "")) or next(iter(models))
    model = models.get(name) or next(iter(models.values()))
    lengths = tuple((int(a.value[0]), float(a.value[1])) for a in model.attributes if a.name == "fanout_length")
    return WireLoad(name, float(model.get("capacitance", 0.0)) * cap_ff, float(model.get("slope", 0.0)), lengths)


def _table(group, templates, time_ns, cap_ff, scale):
    """(slew index ns, load index fF, values * scale with one row per slew) of a Liberty table group, whatever
    order its template gives the variables; an axis other than slew and load (a constraint's constrained-pin
    transition) is read at its middle."""
    template = templates.get(_strip(group.args[0])) if group.args else None
    axes, indices = [], []
    for i in (1, 2):
        variable = _strip(template.get(f"variable_{i}", "")) if template is not None else ""
        index = group.get(f"index_{i}") or (template.get(f"index_{i}") if template is not None else None)
        if index is None:
            continue
        axes.append("other" if "constrained" in variable else "slew" if "transition" in variable or not variable
                    else "load" if "capacitance" in variable else "other")
        indices.append(_numbers(index))
    values = np.asarray(group.get_array("values"), dtype=float) * scale
    values = values.reshape(len(indices[0]), -1) if indices else values.reshape(1, 1)
    if len(axes) == 2 and axes[1] == "other":
        values, axes, indices = values[:, [values.shape[1] // 2]], axes[:1], indices[:1]
    if axes and axes[0] == "other":
        values, axes, indices = values[[values.shape[0] // 2], :].T, axes[1:], indices[1:]
    if axes and axes[0] == "load":
        values = values.T
    found = dict(zip(axes, indices))
    slew = tuple(v * time_ns for v in found.get("slew", [0.0]))
    load = tuple(v * cap_ff for v in found.get("load", [0.0]))
    return slew, load, values.reshape(len(slew), len(load))


def _cell(cell, templates, time_ns, cap_ff, leak_nw, energy_pj, dont_use):
    name = _strip(cell.args[0])
    pins, power, why = {}, {}, ""
    for flag in _BAD_FLAGS:
        value = cell.get(flag)
        if value is not None and _strip(value).lower() not in ("false", "0"):
            why = why or f"{flag}"
    for pg in cell.get_groups("pg_pin"):
        if _strip(pg.get("pg_type", "primary_power")) not in _PG_OK:
            why = why or f"pg_pin {_strip(pg.args[0])} is {_strip(pg.get('pg_type'))}"
    if any(fnmatch.fnmatchcase(name, pattern) for pattern in dont_use):
        why = why or "dont_use pattern"
    groups = cell.get_groups("pin")
    for bus in cell.get_groups("bus"):
        groups += bus.get_groups("pin")
    timing, delay, setup = None, {}, {}
    for pin in groups:
        for pin_name in pin.args:
            pname = _strip(pin_name)
            direction = _strip(pin.get("direction", "input"))
            function = _strip(pin.get("function")) if pin.get("function") is not None else None
            pins[pname] = Pin(pname, direction, float(pin.get("capacitance", 0.0)) * cap_ff,
                              _strip(pin.get("clock", "false")) == "true", function)
            for entry in pin.get_groups("internal_power"):
                related = _strip(entry.get("related_pin", ""))
                tables = {g.group_name: _table(g, templates, time_ns, cap_ff, energy_pj)
                          for g in entry.groups if g.group_name in ("rise_power", "fall_power", "power")}
                if not tables:
                    continue
                rise = tables.get("rise_power") or tables.get("power")
                fall = tables.get("fall_power") or rise
                for r in related.split() or [""]:
                    power[(pname, r)] = Table(rise[0], rise[1], rise[2], fall[2])
            for t in pin.get_groups("timing"):
                kind = _strip(t.get("timing_type", "combinational"))
                tables = {g.group_name: _table(g, templates, time_ns, cap_ff, time_ns) for g in t.groups}
                for related in _strip(t.get("related_pin", "")).split():
                    if direction == "output" and "cell_rise" in tables and "cell_fall" in tables and kind in (
                            "combinational", "rising_edge", "combinational_rise", "combinational_fall"):
                        rise, fall = tables["cell_rise"], tables["cell_fall"]
                        delay[(pname, related)] = Table(rise[0], rise[1], rise[2], fall[2])
                    elif kind == "setup_rising" and "rise_constraint" in tables:
                        setup[pname] = tables
            if direction == "output" and function in ("!A", "(!A)", "A'", "(A')") and len(groups) == 2 and not why:
                timing = [(_strip(t.get("related_pin", "")), {g.group_name: _table(g, templates, time_ns, cap_ff, time_ns)
                                                               for g in t.groups})
                          for t in pin.get_groups("timing")]
    outputs = [p for p in pins.values() if p.direction == "output"]
    if not outputs:
        why = why or "no output pin"
    sequential = bool(cell.get_groups("ff"))
    if cell.get_groups("latch") or cell.get_groups("statetable"):
        why = why or "latch or state table"
    area = cell.get("area")
    if area is None:
        why = why or "no area"
    leakage = cell.get("cell_leakage_power")
    if leakage is None:  # the mean over the states a library lists instead
        states = [float(g.get("value", 0.0)) for g in cell.get_groups("leakage_power")]
        leakage = sum(states) / len(states) if states else 0.0
    data = CellData(name, float(area or 0.0), float(leakage) * leak_nw, pins, power,
                    sequential, not why, why, delay, _flop(cell, pins, delay, setup))
    return data, timing


def _flop(cell, pins: dict, delay: dict, setup: dict) -> Flop | None:
    """The cell as a plain positive-edge D flip-flop (no set, reset or enable), or None."""
    ffs = cell.get_groups("ff")
    if len(ffs) != 1 or ffs[0].get("clear") is not None or ffs[0].get("preset") is not None:
        return None
    ff = ffs[0]
    clock, state = _strip(ff.get("clocked_on", "")), _strip(ff.get("next_state", ""))
    names = [_strip(a) for a in ff.args]
    inputs = [p for p in pins.values() if p.direction == "input"]
    if clock not in pins or state not in pins or len(inputs) != 2:
        return None
    for q in (p for p in pins.values() if p.direction == "output"):
        if q.function in (names[0], f"({names[0]})") or (len(names) > 1 and q.function in (names[1], f"({names[1]})")):
            inverted = q.function.strip("()") != names[0]
            if (q.name, clock) not in delay or state not in setup:
                return None
            s = setup[state]["rise_constraint"]
            fall = setup[state].get("fall_constraint", s)
            setup_table = Table(s[0], s[1], s[2], fall[2])
            slew = s[0][len(s[0]) // 2] if len(s[0]) > 1 else 0.0
            return Flop(clock, state, q.name, inverted, delay[(q.name, clock)],
                        max(setup_table.worst(slew, 0.0), 0.0))
    return None


def _fo4_slew(tech: Technology, inverter: CellData, timing) -> float:
    """The output transition (ns) of the smallest inverter driving four of its inputs plus their wire, at its
    own output slew (a fixed point, reached in a few steps)."""
    cap = next(p.cap_ff for p in inverter.pins.values() if p.direction == "input")
    load = 4 * cap + tech.wire_cap_ff(4)
    tables = [t for _, groups in timing for key, t in groups.items() if key in ("rise_transition", "fall_transition")]
    if not tables:
        raise TechnologyError(f"{tech.name}: inverter {inverter.name} has no transition tables")
    slew = tables[0][0][len(tables[0][0]) // 2]
    for _ in range(8):
        slew = float(np.mean([_interpolate(t[2], t[0], t[1], slew, load) for t in tables]))
    return slew


def _merged_liberty(texts: list[str], usable: set[str]) -> str:
    """One library: the first file's header and templates, then the usable cells of every file, in order."""
    out, header_done = [], False
    for text in texts:
        cells = list(re.finditer(r'^(\s*)cell\s*\(\s*"?([^")\s]+)"?\s*\)\s*\{', text, re.M))
        if not cells:
            continue
        if not header_done:
            out.append(text[:cells[0].start()])
            header_done = True
        for m in cells:
            end = _group_end(text, m.end() - 1)
            if m[2] in usable:
                out.append(text[m.start():end] + "\n")
    out.append("}\n")
    return "".join(out)


def _group_end(text: str, brace: int) -> int:
    """Index after the ``}`` that closes the ``{`` at ``brace`` (Liberty strings hold no braces)."""
    depth = 0
    for m in re.compile(r"[{}]").finditer(text, brace):
        depth += 1 if m.group() == "{" else -1
        if depth == 0:
            return m.end()
    raise TechnologyError("unbalanced braces in a Liberty cell group")


def truth_table(function: str, inputs: list[str]) -> tuple[int, ...]:
    """Output of a Liberty boolean ``function`` for every assignment of ``inputs`` (input 0 the LSB of the index).

    Operators: ``!`` and postfix ``'`` (not), ``&``, ``*`` and juxtaposition (and), ``+`` and ``|`` (or),
    ``^`` (xor), parentheses, constants 0 and 1.
    """
    tokens = re.findall(r"[A-Za-z_][\w\[\]]*|[01]|[!'&*+|^()]", function)

    def evaluate(env):
        pos = 0

        def peek():
            return tokens[pos] if pos < len(tokens) else None

        def take():
            nonlocal pos
            pos += 1
            return tokens[pos - 1]

        def atom():
            token = take()
            if token == "!":
                value = not atom()
            elif token == "(":
                value = disjunction()
                take()
            elif token in ("0", "1"):
                value = token == "1"
            else:
                value = env[token]
            while peek() == "'":
                take()
                value = not value
            return value

        def conjunction():
            value = atom()
            while peek() is not None and peek() not in ("+", "|", "^", ")"):
                if peek() in ("&", "*"):
                    take()
                value = atom() and value
            return value

        def exclusive():
            value = conjunction()
            while peek() == "^":
                take()
                value = conjunction() != value
            return value

        def disjunction():
            value = exclusive()
            while peek() in ("+", "|"):
                take()
                value = exclusive() or value
            return value

        return disjunction()

    return tuple(int(evaluate({name: bool(i >> k & 1) for k, name in enumerate(inputs)}))
                 for i in range(1 << len(inputs)))
