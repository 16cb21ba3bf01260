"""Build and run one cocotb harness in its own process: ``python -m hw.sim.launch SPEC.json``.

:func:`hw.sim.run.simulate_many` calls this instead of importing ``cocotb_tools``
itself, so that cocotb's simulator extension (a pybind11 module) is never loaded
into a process that also draws plots: matplotlib's ``ft2font`` (pybind11 too) was
seen to fail on import next to it in a fresh environment (2026-11-24, cocotb 2.1,
matplotlib 3.11).  The spec holds the runner's build and test arguments; the exit
status is 0 when the simulator ran, whatever the testbench found; the last line of
stdout is ``{"build_s": ..., "run_s": ...}``.
"""

from __future__ import annotations

import json
import os
import sys
import time


def main(spec_path: str) -> int:
    from cocotb_tools.runner import get_runner

    spec = json.loads(open(spec_path).read())
    runner, waves = get_runner(spec["sim"]), spec["waves"]
    os.environ["MAKEFLAGS"] = spec["makeflags"]
    started = time.perf_counter()
    runner.build(sources=spec["sources"], hdl_toplevel="harness", build_dir=spec["build_dir"],
                 build_args=spec["build_args"], timescale=("1ns", "1ps"), log_file=spec["build_log"],
                 waves=waves)
    built = time.perf_counter()
    runner.test(plusargs=spec["plusargs"], test_module="hw.sim.tb_units", hdl_toplevel="harness",
                build_dir=spec["build_dir"], test_dir=spec["build_dir"], seed=spec["seed"],
                extra_env=spec["env"], results_xml=spec["results_xml"], log_file=spec["log"],
                waves=waves)
    print(json.dumps({"build_s": built - started, "run_s": time.perf_counter() - built}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
