"""Emit synthesizable Verilog of a unit: ``python -m hw.gen --fmt e4m3``.

Writes to stdout, or to ``-o FILE`` (through a temporary file and a rename,
so a failed run leaves no partial file).  Bad input prints one line naming
the valid choices and exits with status 2.

``--freq MHZ [--tech NAME|LIB]`` pipelines the unit for that clock on a cell
library (:mod:`hw.models.pipelining`): the output is then the mapped netlist
whose every stage meets the clock in OpenSTA, and one line on stderr reports
the latency it chose, the slack, the fmax and the area.  A clock the unit
cannot reach is reported with the fmax it does reach (exit status 1, no file).
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys

from . import formats
from .formats import tensorcore
from .files import output_file, write_atomic
from .rtl import build_unit, default_kind, default_name, get_kind, kind_names, kinds_for, to_verilog
from .rtl.testbench import testbench

__all__ = ["main", "format_table"]


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise _BadInput(message)


class _BadInput(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m hw.gen", description="Generate the Verilog of an arithmetic unit for a number format.")
    p.add_argument("--fmt", help="operand format, e.g. e4m3, e5m2, bf16, int8 or a generic eXmY (see --list)")
    p.add_argument("--unit", help=f"unit kind: {', '.join(kind_names())} (default: mac; dot for block formats; "
                                  "--list shows which each format has)")
    p.add_argument("--lanes", type=int, help="products per dot unit, 1..256 (dot only; default 4; a block format's block size)")
    p.add_argument("--align-bits", type=int, help="block dot units: align the products to the largest and "
                                                  "truncate them to this many bits before the sum (default: exact)")
    p.add_argument("--fmt-b", help="tensorcore units: format of operand b (default: --fmt), e.g. e5m2")
    p.add_argument("--spec", help="tensorcore units: the matrix unit's numerics, <gpu>_<input>[_to_fp16] "
                                  "(e.g. b200_fp8, a100_tf32, v100_fp16_to_fp16; default h100_fp8; implies "
                                  "--unit tensorcore and, without --fmt, the spec's first input format)")
    p.add_argument("--out-fmt", help="round_mul units: the format the product is rounded into (default: --fmt)")
    p.add_argument("--acc", help="accumulator format (mac/dot; fp32, fp16 or bf16 for floats, int32 for ints, "
                                 "quire_<posit> for posits)")
    p.add_argument("--grouped", action="store_true", help="LNS mac units: sum the products by log remainder, "
                                                         "then one table constant per group (LNS-Madam's sharing)")
    p.add_argument("--stages", type=int, default=0, help="pipeline register stages = latency in cycles (default 0)")
    p.add_argument("--freq", type=float, help="pipeline for this clock (MHz) on --tech: the latency is chosen, the "
                                              "output is the mapped netlist (instead of --stages)")
    p.add_argument("--tech", default="osu018", help="cell library for --freq: osu018 (default), sky130hd, asap7 "
                                                    "or the path of a Liberty file (.lib or .lib.gz)")
    p.add_argument("--top", help="top module name (default encodes the parameters, e.g. mac_e4m3_fp32_s0)")
    p.add_argument("-o", "--output", help="write to this file instead of stdout")
    p.add_argument("--testbench", type=int, metavar="N",
                   help="with -o FILE: also write a self-checking Verilog testbench TOP_tb.v and its N golden "
                        "vectors TOP_vectors.hex beside FILE (Icarus and Verilator run it as is)")
    p.add_argument("--list", action="store_true", help="list the registered formats and exit")
    return p


def format_table() -> str:
    """One line per registered format: name, width, parameters, accumulators, unit kinds; then the kinds."""
    rows = [f"{'name':<10} {'bits':>4}  {'parameters':<62} {'accumulators':<24} units"]
    for fmt in formats.registered():
        rows.append(f"{fmt.name:<10} {fmt.width:>4}  {fmt.describe():<62} {', '.join(formats.accumulators(fmt)):<24} "
                    f"{', '.join(kinds_for(fmt))}")
    rows.append("\nunit kinds:")
    for name in kind_names():
        kind = get_kind(name)
        rows.append(f"  {name:<11} {kind.summary}" + (f" [options: {', '.join(kind.options)}]" if kind.options else ""))
    return "\n".join(rows)


def _unit_from_args(args):
    if args.spec is not None:
        try:
            spec = tensorcore.get_spec(args.spec)
        except ValueError as e:
            raise _BadInput(f"--spec: {e}") from None
        args.unit = args.unit or "tensorcore"
        args.fmt = args.fmt or spec.inputs[0]
    if args.fmt is None:
        raise _BadInput("--fmt is required; valid: " + ", ".join(formats.names()) + " or a generic eXmY")
    try:
        fmt = formats.get(args.fmt)
    except ValueError as e:
        raise _BadInput(str(e)) from None
    if args.unit is None:
        args.unit = default_kind(fmt)
    if args.unit not in kind_names():
        raise _BadInput(f"unknown unit {args.unit!r}; valid: {', '.join(kind_names())}")
    if args.lanes is not None and args.lanes < 1:
        raise _BadInput(f"--lanes must be a positive integer, not {args.lanes}")
    if args.stages < 0:
        raise _BadInput(f"--stages must be a non-negative integer, not {args.stages}")
    valid = formats.accumulators(fmt)
    if args.acc is not None and "acc" in get_kind(args.unit).options and args.acc not in valid:
        raise _BadInput(f"unknown accumulator {args.acc!r} for {fmt.name}; valid: {', '.join(valid)}")
    named = {}
    for option in ("fmt_b", "acc", "out_fmt"):
        value = getattr(args, option)
        if value is not None:
            try:
                named[option] = formats.get(value)
            except ValueError as e:
                raise _BadInput(f"--{option.replace('_', '-')}: {e}") from None
    if args.top is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_$]*", args.top):
        raise _BadInput(f"--top {args.top!r} is not a Verilog identifier (letters, digits, _ and $; not a digit first)")
    try:
        return build_unit(args.unit, fmt, lanes=args.lanes, stages=args.stages, align_bits=args.align_bits,
                          grouped=args.grouped, spec=args.spec, **named)
    except ValueError as e:
        raise _BadInput(str(e)) from None


def _design_args(argv: list[str]) -> list[str]:
    """The arguments that define the design: all but ``-o FILE`` (same design, same bytes, wherever written)."""
    kept, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("-o", "--output"):
            skip = True
        elif not arg.startswith(("-o", "--output=")) or arg.startswith("--out-"):
            kept.append(arg)
    return kept


def main(argv=None) -> int:
    try:
        args = _parser().parse_args(argv)
        if args.list:
            print(format_table())
            return 0
        if args.freq is not None and args.stages:
            raise _BadInput("--freq chooses the stages; give --freq or --stages, not both")
        if args.freq is not None and not 0 < args.freq <= 100000:
            raise _BadInput(f"--freq must be a clock in MHz (0 < f <= 100000), not {args.freq:g}")
        if args.output is not None:
            try:
                output_file(args.output, "-o")
            except ValueError as e:
                raise _BadInput(str(e)) from None
        if args.testbench is not None and (args.output is None or args.freq is not None or args.testbench < 1):
            raise _BadInput("--testbench N needs -o FILE (not --freq) and N >= 1 vectors")
        unit = _unit_from_args(args)
        if args.freq is not None:
            tech = _technology(args.tech)
            return _for_clock(unit, tech, args)
        command = "python -m hw.gen " + " ".join(shlex.quote(a) for a in _design_args(sys.argv[1:] if argv is None
                                                                                  else argv))
        text = to_verilog(unit, args.top or default_name(unit), command=command)
    except _BadInput as e:
        print(f"hw.gen: error: {e}", file=sys.stderr)
        return 2
    if args.output is None:
        sys.stdout.write(text)
        return 0
    if args.testbench is not None:
        top = args.top or default_name(unit)
        bench, vectors = testbench(unit, top, args.testbench, unit_file=os.path.basename(args.output))
        folder = os.path.dirname(os.path.abspath(args.output))
        write_atomic(os.path.join(folder, f"{top}_vectors.hex"), vectors)
        write_atomic(os.path.join(folder, f"{top}_tb.v"), bench)
    write_atomic(args.output, text)
    return 0


def _technology(name):
    from .models import technology

    try:
        return technology.get(name)
    except technology.TechnologyError as e:
        raise _BadInput(str(e)) from None


def _for_clock(unit, tech, args) -> int:
    """Pipeline ``unit`` for ``args.freq`` on ``tech``; write its netlist and report on stderr."""
    from .models.cost import implement

    impl = implement(unit, tech, args.freq)
    t = impl.timing
    name = args.top or impl.name
    summary = (f"{name}: {impl.latency} stage{'s' * (impl.latency != 1)} (latency {impl.latency} cycles) at "
               f"{args.freq:g} MHz on {tech.name}: slack {t.slack_ns:+.3f} ns, fmax {t.fmax_mhz:.0f} MHz, "
               f"area {impl.netlist.area_um2:,.0f} um^2 ({impl.netlist.flops} flip-flops)"
               + (f", accumulation loop {t.loop_ns:.3f} ns" if t.loop_ns is not None else ""))
    if not t.met:
        reach = impl.note if impl.note and "fmax at most" in impl.note else \
            f"it reaches {t.fmax_mhz:.0f} MHz ({impl.note or 'its stages miss the clock'})"
        print(f"hw.gen: error: {unit.default_name} cannot meet {args.freq:g} MHz on {tech.name}: {reach}",
              file=sys.stderr)
        return 1
    header = "\n".join([
        f"// {name}: {unit.default_name} pipelined for {args.freq:g} MHz on {tech.name} by hw.gen --freq",
        f"// ({tech.source}).  Mapped netlist of library cells; every stage meets the clock in OpenSTA",
        f"// (slack {t.slack_ns:+.3f} ns, fmax {t.fmax_mhz:.0f} MHz).  Latency {impl.latency} cycles, one result",
        "// per cycle; clk rising edge, rst synchronous active high; valid_out follows valid_in.", ""])
    text = header + impl.netlist.verilog.replace(f"module {impl.name}(", f"module {name}(", 1)
    if args.output is None:
        sys.stdout.write(text)
    else:
        write_atomic(args.output, text)
    print(summary, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
