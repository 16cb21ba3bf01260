"""Static timing of a mapped unit with OpenSTA (Debian's ``opensta``, 2.0.17).

Constraints: one clock ``clk`` of the target period on the unit's clock
port (a virtual clock for a combinational unit), inputs arriving at the
clock edge and outputs due at the next one (input and output delays 0,
i.e. the unit sits between registers of its own kind), every output loaded
with the input capacitance of the library's flip-flop D pin, the library's
wire-load model where it has one, ideal clock network.  Reported per path
group (input to output, input to register, register to register, register to
output): the delay including setup, i.e. the shortest period that group
allows.  The unit's critical path is the largest of them; its slack at the
clock is the period minus that, and its fmax the reciprocal.  An
accumulator's loop registers (named ``accumulator_*``) get their own path
group (``loop_ns``, register to register among them): the loop that sets a
MAC array's clock.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .synth import Netlist
from .technology import Technology
from .timers import timed

__all__ = ["Timing", "timing", "sta_path", "STAError", "loop_flops"]

_GROUPS = {
    "in2out": "-from [all_inputs] -to [all_outputs]",
    "in2reg": "-from [all_inputs] -to [all_registers -data_pins]",
    "reg2reg": "-from [all_registers -clock_pins] -to [all_registers -data_pins]",
    "reg2out": "-from [all_registers -clock_pins] -to [all_outputs]",
}


class STAError(RuntimeError):
    """OpenSTA is missing or failed; the message says which and why."""


@dataclass(frozen=True)
class Timing:
    """Shortest period (ns) each path group allows (None: no such path), and the result at ``period_ns``."""

    period_ns: float
    in2out_ns: float | None
    in2reg_ns: float | None
    reg2reg_ns: float | None
    reg2out_ns: float | None
    loop_ns: float | None = None

    @property
    def critical_ns(self) -> float:
        return max(v for v in (self.in2out_ns, self.in2reg_ns, self.reg2reg_ns, self.reg2out_ns, 0.0) if v is not None)

    @property
    def slack_ns(self) -> float:
        return self.period_ns - self.critical_ns

    @property
    def met(self) -> bool:
        return self.slack_ns >= 0

    @property
    def fmax_mhz(self) -> float:
        return 1000.0 / self.critical_ns if self.critical_ns > 0 else float("inf")


def sta_path() -> str | None:
    """The OpenSTA executable (``sta``), or None."""
    return shutil.which("sta")


#: Registers whose output nets are named so are an accumulator's loop state (see :mod:`hw.rtl.acc_mac`).
LOOP_PREFIX = "accumulator_"


def loop_flops(module: dict, tech: Technology) -> list[str]:
    """Names of the flip-flops that hold an accumulator's loop state: those driving a net named
    ``accumulator_*`` (a name the RTL gives its loop registers and synthesis keeps)."""
    state = {bit for name, net in module["netnames"].items() if name.startswith(LOOP_PREFIX)
             for bit in net["bits"] if isinstance(bit, int)}
    return sorted(name for name, cell in module["cells"].items() if tech.cells[cell["type"]].sequential
                  and any(bit in state for p, bits in cell["connections"].items()
                          if cell["port_directions"][p] == "output" for bit in bits))


def _script(lib: Path, netlist: Netlist, tech: Technology, clocked: bool) -> str:
    flop = min((c for c in tech.cells.values() if c.usable and c.sequential), key=lambda c: c.area_um2)
    d_cap = next((p.cap_ff for p in flop.pins.values() if p.direction == "input" and not p.clock), 0.0)
    cap_unit = 1e-3  # fF -> pF, the unit the constraints below are given in
    lines = [f"read_liberty {lib}", "read_verilog gates.v", f"link_design {netlist.top}",
             f"set_cmd_units -capacitance pF -time ns"]
    if clocked:
        lines += [f"create_clock -name clk -period {netlist.period_ns} [get_ports clk]",
                  "set_input_delay 0 -clock clk [delete_from_list [all_inputs] [get_ports clk]]"]
    else:
        lines += [f"create_clock -name clk -period {netlist.period_ns}", "set_input_delay 0 -clock clk [all_inputs]"]
    lines += ["set_output_delay 0 -clock clk [all_outputs]", f"set_load {d_cap * cap_unit:.6f} [all_outputs]"]
    if tech.wire_load is not None:
        lines += [f"set_wire_load_model -name {tech.wire_load.name}"]
    for name, paths in _GROUPS.items():
        if clocked or name == "in2out":
            lines += [f'puts "== {name}"', f"report_checks -path_delay max -digits 4 {paths}"]
    loop = loop_flops(netlist.module, tech) if clocked else []
    if loop:
        flops = [(cell, tech.cells[netlist.module["cells"][cell]["type"]].flop) for cell in loop]
        clock_pins = " ".join(f"{cell}/{flop.clock}" for cell, flop in flops if flop)
        data_pins = " ".join(f"{cell}/{flop.d}" for cell, flop in flops if flop)
        lines += ['puts "== loop"', f"report_checks -path_delay max -digits 4 -from [get_pins {{{clock_pins}}}] "
                                   f"-to [get_pins {{{data_pins}}}]"]
    return "\n".join(lines) + "\n"


def timing(netlist: Netlist, tech: Technology, clocked: bool) -> Timing:
    """OpenSTA's timing of ``netlist`` at its synthesis period (see the module docstring)."""
    sta = sta_path()
    if sta is None:
        raise STAError("OpenSTA is not installed (apt-get install opensta; `make sysdeps` does it)")
    with tempfile.TemporaryDirectory(prefix="hw-sta-") as tmp:
        work = Path(tmp)
        (work / "gates.v").write_text(netlist.verilog)
        (work / "sta.tcl").write_text(_script(tech.liberty(), netlist, tech, clocked))
        with timed("sta"):
            run = subprocess.run([sta, "-no_init", "-exit", "sta.tcl"], cwd=work, capture_output=True, text=True,
                                 timeout=600)
    text = run.stdout + run.stderr
    if run.returncode != 0 or "Error" in text:
        errors = [line for line in text.splitlines() if "Error" in line]
        raise STAError(f"OpenSTA failed on {netlist.top}: {errors[0] if errors else f'exit status {run.returncode}'}")
    groups = {}
    for name, body in re.findall(r"== (\w+)\n(.*?)(?===|\Z)", text, re.S):
        slack = re.search(r"(-?\d+\.\d+)\s+slack", body)
        groups[name] = None if slack is None else round(netlist.period_ns - float(slack[1]), 4)
    return Timing(netlist.period_ns, groups.get("in2out"), groups.get("in2reg"), groups.get("reg2reg"),
                  groups.get("reg2out"), groups.get("loop"))
