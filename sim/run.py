"""Build a harness of units with a cocotb runner, push vectors through it, return the summary."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np

from hw.files import write_atomic

from .harness import Group, harness_verilog, port_shape, store_codes
from .tools import use_verilator

__all__ = ["run_groups", "BUILD_ROOT"]

BUILD_ROOT = Path(os.environ.get("HW_SIM_BUILD", Path(__file__).resolve().parent.parent / "build" / "sim"))

#: Verilator: no warnings as errors (the units are linted on their own in the tests).
VERILATOR_ARGS = ["--no-public-flat-rw", "--public-depth", "1", "-Wno-fatal", "-Wno-lint", "-Wno-style", "--x-assign", "0", "--x-initial", "0"]
#: Verilator: count the toggles of every net (yosys names its nets ``_123_``), however wide.
TOGGLE_ARGS = ["--coverage-toggle", "--coverage-underscore", "--coverage-max-width", "65536"]


def run_groups(groups: list[Group], sim: str = "verilator", seed: int = 1, name: str = "harness",
               toggles: bool = False) -> list[dict]:
    """Simulate ``groups`` on ``sim`` ("verilator" or "icarus"); one summary dict per group.

    Each summary has ``vectors``, ``received`` and ``mismatches`` (and ``first``,
    the first mismatch in hex), plus the harness's ``build_seconds`` and
    ``sim_seconds``.  Builds are cached by a hash of the harness.
    ``toggles`` (Verilator only) builds with toggle coverage of every net and
    adds ``coverage``: the path of Verilator's coverage.dat of this run.
    """
    from cocotb_tools.runner import get_runner

    if sim == "verilator":
        use_verilator()
    if toggles and sim != "verilator":
        raise ValueError("toggle counts come from Verilator's coverage; use sim='verilator'")
    source = harness_verilog(groups)
    build_args = (VERILATOR_ARGS + (TOGGLE_ARGS if toggles else [])) if sim == "verilator" else []
    key = hashlib.sha256((source + " ".join(build_args)).encode()).hexdigest()[:16]
    build_dir = BUILD_ROOT / f"{name}-{sim}-{key}"
    build_dir.mkdir(parents=True, exist_ok=True)
    verilog = build_dir / "harness.v"
    if not verilog.exists() or verilog.read_text() != source:
        write_atomic(str(verilog), source)

    metas, arrays = [], {}
    for k, g in enumerate(groups):
        meta = {"name": g.name, "copies": g.copies, "vectors": g.vectors, "latency": g.unit.latency,
                "inputs": [], "outputs": []}
        for kind, ports in (("inputs", g.inputs), ("outputs", g.outputs)):
            for port, values in ports.items():
                width, lanes = port_shape(g.unit, port)
                meta[kind].append({"port": port, "width": width, "lanes": lanes})
                arrays[f"g{k}_{kind}_{port}"] = store_codes(values, width, lanes)
        metas.append(meta)
    arrays["meta"] = json.dumps(metas)
    vectors = build_dir / f"vectors-{os.getpid()}.npz"
    results = build_dir / f"results-{os.getpid()}.json"
    np.savez(vectors, **arrays)

    started = time.perf_counter()
    runner = get_runner(sim)
    flags = os.environ.get("MAKEFLAGS", "")
    if toggles:  # gate-level netlists make huge C++; a short toggle run needs no optimisation
        os.environ["MAKEFLAGS"] = flags.replace("OPT_FAST=-O1", "OPT_FAST=-O0")
    try:
        runner.build(sources=[verilog], hdl_toplevel="harness", build_dir=build_dir, build_args=build_args,
                     timescale=("1ns", "1ps"), log_file=build_dir / "build.log")
    finally:
        os.environ["MAKEFLAGS"] = flags
    built = time.perf_counter()
    results.unlink(missing_ok=True)
    coverage = build_dir / f"coverage-{os.getpid()}.dat"
    plusargs = [f"+verilator+coverage+file+{coverage}"] if toggles else []
    runner.test(plusargs=plusargs, test_module="sim.tb_units", hdl_toplevel="harness", build_dir=build_dir, test_dir=build_dir,
                seed=seed, extra_env={"HW_VECTORS": str(vectors), "HW_RESULTS": str(results)},
                results_xml=str(build_dir / f"results-{os.getpid()}.xml"), log_file=build_dir / f"test-{os.getpid()}.log")
    if not results.exists():
        raise RuntimeError(f"the {sim} simulation wrote no results; see {build_dir}/test-{os.getpid()}.log")
    summary = json.loads(results.read_text())
    finished = time.perf_counter()
    for result in summary:
        result["build_seconds"] = built - started
        result["sim_seconds"] = finished - built
        if toggles:
            result["coverage"] = str(coverage)
    vectors.unlink(missing_ok=True)
    return summary
