"""Run a yosys script with the PyPI ``pyosys`` build (yosys 0.70 and its ABC), in a child process with a time limit.

Why pyosys rather than Debian's yosys 0.23 (measured 2026-11-24 on the 2-core dev machine,
same script, combinational units, ``abc -liberty -D 5000`` with the buffering and
sizing script): areas within -14 %..+7 % of each other (sky130: e4m3 MAC 13,173 vs
12,306 um^2, int8 MAC 5,171 vs 6,022; osu018: 72,395 vs 77,171 and 30,848 vs
33,518), critical paths equal to 1 %, run times 0.8-8 s vs 1.3-9 s (a 32-lane
MXFP4 dot unit 89 s vs 58 s); and 0.23's ABC crashes (segmentation fault in
``stime``) when flip-flops go through ABC for retiming (``abc -dff``), which the
frequency-directed pipelining needs.  pyosys installs offline from PyPI with
the project, so no system package is involved.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

__all__ = ["run_script", "YosysError", "available"]

_RUNNER = """
import sys
from pyosys import libyosys as ys
design = ys.Design()
ys.run_pass("script " + sys.argv[1], design)
"""


class YosysError(RuntimeError):
    """yosys failed or ran out of time; the message names the unit, the reason and the log."""


def available() -> bool:
    try:
        import pyosys  # noqa: F401
    except ImportError:
        return False
    return True


def _kill(process):
    """End yosys and its yosys-abc child (one process group)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def run_script(script: str, workdir: Path, name: str, timeout_s: float) -> str:
    """Run ``script`` (yosys commands) in ``workdir``; its log.  YosysError on failure or after ``timeout_s``."""
    if not available():
        raise YosysError("pyosys is not installed (pip install pyosys; `make test` installs it)")
    path = Path(workdir) / "flow.ys"
    path.write_text(script)
    log = Path(workdir) / "yosys.log"
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "-c", _RUNNER, str(path)], cwd=workdir, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            code = process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _kill(process)
            raise YosysError(f"synthesis of {name} ran past its budget of {timeout_s:.0f} s") from None
        except BaseException:  # interrupted (Ctrl-C, a cancelled Dask task): no yosys left behind
            _kill(process)
            raise
    text = log.read_text(errors="replace")
    if code != 0 or "ERROR:" in text:
        errors = [line for line in text.splitlines() if "ERROR" in line]
        raise YosysError(f"yosys failed on {name}: {errors[-1] if errors else f'exit status {code}'}")
    return text
