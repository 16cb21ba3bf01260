"""The main job: emit every registered format's MAC (a block format's block dot unit) into ``build/verilog/``.

``python -m hw.demo [--out DIR] [--stages N]`` writes one Verilog file per format
(through a temporary file and a rename), lints each with Verilator when it
is installed, and prints a table of formats, ports, size and generation time.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from amaranth import Shape
from amaranth.lib import wiring

from . import formats
from .files import write_atomic
from .rtl import build_unit, default_kind, default_name, to_verilog
from .lint import lint


def _ports(unit) -> str:
    parts = []
    for name, member in unit.signature.members.items():
        width = Shape.cast(member.shape).width
        parts.append(f"{'>' if member.flow is wiring.Out else ''}{name}[{width}]")
    return " ".join(parts + (["clk rst"] if unit.stages else []))


def _lint(path: Path) -> str:
    try:
        return "clean" if lint([path])[0] else "WARNINGS"
    except RuntimeError:
        return "no verilator"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m hw.demo", description=__doc__.splitlines()[0])
    p.add_argument("--out", default="build/verilog", help="output folder (default build/verilog)")
    p.add_argument("--stages", type=int, default=2, help="pipeline stages of each MAC (default 2)")
    args = p.parse_args(argv)
    if args.stages < 0:
        print(f"hw.demo: error: --stages must be a non-negative integer, not {args.stages}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"{'format':<10} {'module':<26} {'lines':>6} {'gen ms':>7}  {'lint':<8} ports ('>' = output)")
    failures = 0
    for fmt in formats.registered():
        start = time.perf_counter()
        unit = build_unit(default_kind(fmt), fmt, stages=args.stages)
        name = default_name(unit)
        text = to_verilog(unit, name)
        elapsed = (time.perf_counter() - start) * 1e3
        path = out / f"{name}.v"
        write_atomic(str(path), text)
        lint = _lint(path)
        failures += lint == "WARNINGS"
        print(f"{fmt.name:<10} {name:<26} {text.count(chr(10)):>6} {elapsed:>7.0f}  {lint:<8} {_ports(unit)}")
    print(f"\n{len(formats.registered())} units written to {out}/: MACs, and one-block dot units for block formats "
          f"(accumulator: fp32 for floats and blocks, int32 for integers, the quire for posits; "
          f"latency {args.stages} cycles)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
