"""Frequency-directed pipelining: the latency is an output, the clock an input (as in FloPoCo).

:func:`pipeline_for_clock` takes a combinational unit, a technology and a
clock, and returns a mapped netlist whose every stage meets the clock in
OpenSTA, with the latency it chose:

1. the unit is synthesized for the clock period (ABC's delay target);
2. per-piece delays: every cell arc's delay is read from the library's
   tables at the net's real load (fan-out pins plus the wire-load model) and
   the FO4 slew, giving each net an arrival time (a small static timing
   analysis of our own), calibrated by one factor so that the latest output
   arrives when OpenSTA says the combinational unit's critical path ends;
3. with ``P' = period - clock-to-Q - setup - margin`` the unit needs
   ``K = ceil(T_max / P')`` stages; a cell whose output arrives at ``t`` goes
   in stage ``floor(t / P')``, and every net that crosses ``k`` stage
   boundaries on its way to a cell (or to an output) gets ``k`` library
   flip-flops, shared by all its sinks: registers sit at the cuts that balance
   the stages, and only on the nets that cross them.  ``valid_in`` runs through
   ``K`` flip-flops with a synchronous reset (``rst``, active high) in front of
   each, so ``valid_out`` follows it as in every unit;
4. OpenSTA checks the result; where a stage misses, the margin grows by the
   worst violation (at least 3 % of the period) and steps 3-4 repeat (eight rounds at most).  If a single
   cell plus the flip-flop overhead is longer than the period, the clock cannot
   be met: :class:`Plan` says so and gives the fmax the unit reaches.

A unit that meets the clock without registers stays combinational (latency 0).
The result is bit-exact to the unit by construction (registers only delay
signals, every input-to-output path by the same ``K``); the cost flow checks
that by gate-level simulation of this very netlist.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from ..rtl import ports, to_verilog
from .sta import LOOP_PREFIX, Timing, timing
from .synth import DEFAULT_BUDGET_S, Netlist, cell_pins, synthesize
from .technology import Technology

__all__ = ["Plan", "pipeline_for_clock", "insert_registers", "arrival_times", "MAX_STAGES"]

#: The deepest pipeline the planner builds before it calls a clock unreachable.
MAX_STAGES = 64
#: Rounds of place-and-check before giving up on a clock.
ROUNDS = 8


@dataclass
class Plan:
    """A unit pipelined for a clock: its netlist, OpenSTA's timing, the stages (= latency in cycles)."""

    name: str
    freq_mhz: float
    stages: int
    netlist: Netlist = field(repr=False)
    timing: Timing
    met: bool
    rounds: int
    combinational_ns: float
    note: str = ""

    @property
    def fmax_mhz(self) -> float:
        return self.timing.fmax_mhz


def _loads(module: dict, tech: Technology) -> tuple[dict, dict, dict]:
    """(driver of each net bit: (cell, pin) or "port", sinks of each net bit: [(cell, pin)], load fF per net bit)."""
    drivers, sinks, cap = {}, defaultdict(list), defaultdict(float)
    for name, port in module["ports"].items():
        for bit in port["bits"]:
            if isinstance(bit, int):
                if port["direction"] == "input":
                    drivers[bit] = "port"
                else:
                    sinks[bit].append(("port", name))
    d_cap = tech.flop.pins[tech.flop.flop.d].cap_ff
    for cname, ctype, pin, direction, bit in cell_pins(module):
        if direction == "output":
            drivers[bit] = (cname, pin)
        else:
            sinks[bit].append((cname, pin))
            cap[bit] += tech.cells[ctype].pins[pin].cap_ff
    for bit, loads in sinks.items():
        cap[bit] += sum(d_cap for kind, _ in loads if kind == "port") + tech.wire_cap_ff(len(loads))
    return drivers, sinks, cap


def arrival_times(module: dict, tech: Technology, sources: dict | None = None,
                  through: set | None = None) -> tuple[dict, list]:
    """(arrival ns of every net bit reached, the cells passed in topological order), from the library's delay
    tables at each net's load and the FO4 slew.  ``sources``: net bit -> start time (default: every input
    port at 0); ``through``: the cells a path may pass (default: every combinational cell)."""
    drivers, sinks, cap = _loads(module, tech)
    cells = module["cells"]
    if through is None:
        through = {c for c, cell in cells.items() if not tech.cells[cell["type"]].sequential}
    if sources is None:
        sources = {bit: 0.0 for bit, d in drivers.items() if d == "port"}
    waiting, ready = {}, []
    for cname in through:
        inputs = [b for b in _pins(cells[cname], "input") if drivers.get(b, "port") != "port"
                  and drivers[b][0] in through]
        waiting[cname] = len(inputs)
        if not inputs:
            ready.append(cname)
    arrival = dict(sources)
    order = []
    while ready:
        cname = ready.pop()
        order.append(cname)
        cell = cells[cname]
        data = tech.cells[cell["type"]]
        ins = [(p, b) for p, bits in cell["connections"].items() if cell["port_directions"][p] == "input" for b in bits]
        for pin, bits in cell["connections"].items():
            if cell["port_directions"][pin] != "output":
                continue
            for bit in bits:
                if not isinstance(bit, int):
                    continue
                t = None
                for ipin, ibit in ins:
                    table = data.delay.get((pin, ipin))
                    if table is None or (isinstance(ibit, int) and ibit not in arrival):
                        continue
                    start = arrival[ibit] if isinstance(ibit, int) else 0.0
                    t = max(t or 0.0, start + table.worst(tech.slew_ns, cap[bit]))
                if t is not None:
                    arrival[bit] = t
                for sink, _ in sinks.get(bit, []):
                    if sink in waiting:
                        waiting[sink] -= 1
                        if waiting[sink] == 0:
                            ready.append(sink)
    if len(order) != len(through):
        raise ValueError("the netlist has a combinational loop")
    return arrival, order


def _regions(module: dict, tech: Technology):
    """(flip-flops, loop cells, front cells, back cells) of a netlist with registers: loop cells lie on paths
    from a flip-flop back to a flip-flop, front cells feed one only from the inputs, back cells the outputs."""
    cells = module["cells"]
    flops = {c for c, cell in cells.items() if tech.cells[cell["type"]].sequential}
    comb = set(cells) - flops
    readers: dict[int, list[str]] = {}
    for name in comb:
        for bit in _pins(cells[name], "input"):
            readers.setdefault(bit, []).append(name)
    writers = {b: name for name in comb for b in _pins(cells[name], "output")}

    def cone(starts, step):
        seen, stack = set(), list(starts)
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            seen.add(name)
            stack.extend(step(name))
        return seen

    after_q = cone([r for f in flops for b in _pins(cells[f], "output") for r in readers.get(b, [])],
                   lambda n: [r for b in _pins(cells[n], "output") for r in readers.get(b, [])])
    before_d = cone([writers[b] for f in flops for b in _pins(cells[f], "input") if b in writers],
                    lambda n: [writers[b] for b in _pins(cells[n], "input") if b in writers])
    loop = after_q & before_d
    return flops, loop, before_d - loop, comb - before_d - loop


def insert_registers(netlist: Netlist, tech: Technology, period_ns: float, margin_ns: float = 0.0,
                     calibrated_ns=None, port_order: list[str] | None = None):
    """(Verilog, JSON module, stages) of ``netlist`` (combinational) with flip-flops at the stage cuts for
    ``period_ns`` (see the module docstring); ValueError if a cell is longer than the period allows.

    ``calibrated_ns``: OpenSTA's critical path of the netlist; the table-based arrival times are scaled to
    match it (what one slew for every net leaves out, the calibration measures).
    """
    module = netlist.module
    flop = tech.flop
    overhead = flop.flop.clk_to_q.worst(tech.slew_ns, 4 * flop.pins[flop.flop.d].cap_ff) + flop.flop.setup_ns
    usable = period_ns - overhead - margin_ns
    if any(tech.cells[c["type"]].sequential for c in module["cells"].values()):
        return _around_loops(netlist, tech, usable, overhead, calibrated_ns, port_order)
    arrival, order = arrival_times(module, tech)
    if calibrated_ns:
        estimate = max((arrival.get(b, 0.0) for p in module["ports"].values() if p["direction"] == "output"
                        for b in p["bits"] if isinstance(b, int)), default=0.0)
        scale = calibrated_ns / estimate if estimate > 0 else 1.0
        arrival = {bit: t * scale for bit, t in arrival.items()}
    drivers, sinks, _ = _loads(module, tech)
    outputs = [b for p in module["ports"].values() if p["direction"] == "output" for b in p["bits"]
               if isinstance(b, int)]
    t_max = max((arrival.get(b, 0.0) for b in outputs), default=0.0)
    cell_delay = _longest_cell(module, arrival, order)
    if usable <= cell_delay:
        raise ValueError(f"a {period_ns:.3g} ns clock leaves {usable:.3f} ns per stage after the flip-flop's "
                         f"{overhead:.3f} ns, less than one cell ({cell_delay:.3f} ns): fmax at most "
                         f"{1000 / (overhead + cell_delay):.0f} MHz")
    stages = max(1, math.ceil(t_max / usable))
    level = {}
    for bit, d in drivers.items():
        level[bit] = 0 if d == "port" else min(int(arrival[bit] // usable), stages - 1)
    cell_stage = {c: max([level[b] for b in _pins(module["cells"][c], "output")] or [0]) for c in order}
    for c, k in cell_stage.items():  # a multi-output cell sits in one stage
        for b in _pins(module["cells"][c], "output"):
            level[b] = k
    return _emit(netlist, tech, level, cell_stage, stages, sinks, port_order)


def _around_loops(netlist: Netlist, tech: Technology, usable: float, overhead: float, calibrated, port_order):
    """Stage cuts for a netlist with registers (an accumulator): the front (inputs to the registers) and the
    back (registers to outputs) are cut for the clock; the loop (register to register through the loop
    cells) is left whole, one cycle.  ``calibrated``: OpenSTA's (input-to-register, register-to-output)."""
    module = netlist.module
    cells = module["cells"]
    flops, loop, front, back = _regions(module, tech)
    drivers, sinks, _ = _loads(module, tech)
    arrival_a, order_a = arrival_times(module, tech, through=front)
    longest = max(_longest_cell(module, arrival_a, order_a), 0.0)
    if usable <= longest:
        raise ValueError(f"the clock leaves {usable:.3f} ns per stage after the flip-flop's {overhead:.3f} ns, "
                         f"less than one cell ({longest:.3f} ns): fmax at most {1000 / (overhead + longest):.0f} MHz")
    q_bits = {b: 0.0 for f in flops | loop for b in _pins(cells[f], "output")}
    arrival_b, order_b = arrival_times(module, tech, sources=q_bits, through=back)
    entering = {b for c in loop | flops for b in _pins(cells[c], "input")}
    leaving = {b for p in module["ports"].values() if p["direction"] == "output" for b in p["bits"]
               if isinstance(b, int)}
    t_a = max((arrival_a.get(b, 0.0) for b in entering if b in arrival_a), default=0.0)
    t_b = max((arrival_b.get(b, 0.0) for b in leaving if b in arrival_b), default=0.0)
    if calibrated:
        sta_a, sta_b = calibrated
        arrival_a = {b: t * (sta_a / t_a if sta_a and t_a else 1.0) for b, t in arrival_a.items()}
        arrival_b = {b: t * (max(sta_b - overhead, 0.0) / t_b if sta_b and t_b else 1.0) for b, t in arrival_b.items()}
        t_a, t_b = sta_a or t_a, max((sta_b or 0.0) - overhead, t_b if not sta_b else 0.0)
    k_a = math.ceil(t_a / usable) if t_a > 0 else 0
    k_b = math.ceil(t_b / usable) if t_b > 0 else 0
    level = {b: 0 for b, d in drivers.items() if d == "port"}
    cell_stage = {}
    for c in order_a:
        cell_stage[c] = min(max([int(arrival_a.get(b, 0.0) // usable) for b in _pins(cells[c], "output")] or [0]),
                            max(k_a - 1, 0))
    for c in loop | flops:
        cell_stage[c] = k_a
    for c in order_b:
        cell_stage[c] = k_a + min(max([int(arrival_b.get(b, 0.0) // usable) for b in _pins(cells[c], "output")]
                                      or [0]), max(k_b - 1, 0))
    for c, k in cell_stage.items():
        for b in _pins(cells[c], "output"):
            level[b] = k
    text, new_module, _ = _emit(netlist, tech, level, cell_stage, k_a + k_b, sinks, port_order)
    return text, new_module, k_a + k_b + 1


def _pins(cell, direction):
    """Net bits on the ``direction`` pins of a JSON cell."""
    return [b for p, bits in cell["connections"].items() if cell["port_directions"][p] == direction
            for b in bits if isinstance(b, int)]


def _longest_cell(module, arrival, order) -> float:
    """The largest delay of one cell from its latest input to an output (what one stage must at least hold)."""
    longest = 0.0
    for name in order:
        cell = module["cells"][name]
        start = max((arrival.get(b, 0.0) for b in _pins(cell, "input")), default=0.0)
        longest = max([longest] + [arrival[b] - start for b in _pins(cell, "output")])
    return longest


def _emit(netlist, tech, level, cell_stage, stages, sinks, port_order=None):
    """The pipelined module as Verilog and as a yosys-style JSON module; ports ``clk``, ``rst``, then in
    ``port_order`` (default: the netlist's)."""
    module = netlist.module
    flop = tech.flop
    ports = module["ports"]
    next_bit = max([b for p in ports.values() for b in p["bits"] if isinstance(b, int)]
                   + [b for c in module["cells"].values() for bits in c["connections"].values() for b in bits
                      if isinstance(b, int)] + [1]) + 1
    cells, chains = {}, {}
    clocked = "clk" in ports
    clk = ports["clk"]["bits"][0] if clocked else next_bit
    rst = ports["rst"]["bits"][0] if "rst" in ports else next_bit + 1
    next_bit += 2
    inverter = tech.gate((1, 0))
    and2 = tech.gate((0, 0, 0, 1))

    def new_bit():
        nonlocal next_bit
        next_bit += 1
        return next_bit - 1

    def add_cell(kind, connections, directions):
        cells[f"_p{len(cells)}_"] = {"type": kind, "connections": connections, "port_directions": directions}

    def gate(spec, inputs):
        name, pins, out = spec
        bit = new_bit()
        add_cell(name, {**{p: [i] for p, i in zip(pins, inputs)}, out: [bit]},
                 {**{p: "input" for p in pins}, out: "output"})
        return bit

    def register(bit, reset=False):
        f = flop.flop
        d = gate(and2, [bit, rst_n]) if reset else bit
        q = new_bit()
        add_cell(flop.name, {f.clock: [clk], f.d: [d], f.q: [q]}, {f.clock: "input", f.d: "input", f.q: "output"})
        return gate(inverter, [q]) if f.inverted else q

    rst_n = gate(inverter, [rst])

    valid_in = ports["valid_in"]["bits"][0]

    def tap(bit, depth, reset=False):
        """``bit`` delayed by ``depth`` registers (a chain shared by every sink); the valid bits' with reset."""
        if depth < 0:
            raise AssertionError(f"net {bit} is read {-depth} stages before it is made")
        if not isinstance(bit, int) or depth == 0:
            return bit
        reset = reset or bit == valid_in
        chain = chains.setdefault((bit, reset), [bit])
        while len(chain) <= depth:
            chain.append(register(chain[-1], reset))
        return chain[depth]

    for cname, cell in module["cells"].items():
        k = cell_stage[cname]
        data = tech.cells[cell["type"]]
        conns = {}
        for pin, bits in cell["connections"].items():
            if cell["port_directions"][pin] == "input" and not data.pins[pin].clock and bits != [rst]:
                conns[pin] = [tap(b, k - level[b]) if isinstance(b, int) else b for b in bits]
            else:
                conns[pin] = list(bits)
        cells[cname] = {"type": cell["type"], "connections": conns, "port_directions": cell["port_directions"]}
    out_ports = {}
    for name, port in ports.items():
        if port["direction"] == "output":
            reset = name == "valid_out"
            out_ports[name] = [tap(b, stages - level[b], reset) if isinstance(b, int) else b for b in port["bits"]]
    new_ports = {} if clocked else {"clk": {"direction": "input", "bits": [clk]},
                                    "rst": {"direction": "input", "bits": [rst]}}
    new_ports.update({name: {"direction": p["direction"], "bits": out_ports.get(name, p["bits"])}
                      for name, p in ports.items()})
    rank = {name: i for i, name in enumerate(["clk", "rst"] + list(port_order or ports))}
    new_ports = dict(sorted(new_ports.items(), key=lambda item: rank.get(item[0], len(rank))))
    top = netlist.top
    _size_registers(cells, new_ports, tech)
    cells = {_instance(name): cell for name, cell in cells.items()}
    wires = {b for c in cells.values() for bits in c["connections"].values() for b in bits if isinstance(b, int)}
    wires |= {b for p in new_ports.values() for b in p["bits"] if isinstance(b, int)}
    names = {f"n{b}": {"bits": [b]} for b in sorted(wires)}
    names.update({name: net for name, net in module["netnames"].items() if name.startswith(LOOP_PREFIX)})
    new_module = {"ports": new_ports, "cells": cells, "netnames": names}
    return _verilog(top, new_ports, cells), new_module, stages


def _size_registers(cells: dict, ports: dict, tech: Technology):
    """Give every added flip-flop the drive strength its load wants (a register on a net with a large fan-out,
    a valid or clear bit, say, gets a stronger flip-flop)."""
    load = defaultdict(float)
    fanout = defaultdict(int)
    for cell in cells.values():
        data = tech.cells[cell["type"]]
        for pin, bits in cell["connections"].items():
            if cell["port_directions"][pin] == "input" and not data.pins[pin].clock:
                for bit in bits:
                    load[bit] += data.pins[pin].cap_ff
                    fanout[bit] += 1
    d_cap = tech.flop.pins[tech.flop.flop.d].cap_ff
    for port in ports.values():
        if port["direction"] == "output":
            for bit in port["bits"]:
                load[bit] += d_cap
                fanout[bit] += 1
    for name, cell in cells.items():
        if name.startswith("_p") and tech.cells[cell["type"]].flop is not None:
            q = cell["connections"][tech.flop.flop.q][0]
            cell["type"] = tech.flop_for(load[q] + tech.wire_cap_ff(fanout[q])).name


def _instance(name: str) -> str:
    """A cell's instance name in the emitted Verilog (and in its JSON module): a plain identifier."""
    return "c" + name.strip("_").replace("$", "_")


def _net(bit) -> str:
    return {"0": "1'b0", "1": "1'b1", "x": "1'b0", "z": "1'b0"}[bit] if isinstance(bit, str) else f"n{bit}"


def _verilog(top: str, ports: dict, cells: dict) -> str:
    lines = [f"module {top}({', '.join(ports)});"]
    wires = set()
    for name, port in ports.items():
        width = len(port["bits"])
        lines.append(f"  {port['direction']} {f'[{width - 1}:0] ' if width > 1 else ''}{name};")
    for cell in cells.values():
        for bits in cell["connections"].values():
            wires.update(b for b in bits if isinstance(b, int))
    for name, port in ports.items():
        wires.update(b for b in port["bits"] if isinstance(b, int))
    lines += [f"  wire n{b};" for b in sorted(wires)]
    for name, port in ports.items():
        for i, bit in enumerate(port["bits"]):
            target = f"{name}[{i}]" if len(port["bits"]) > 1 else name
            if port["direction"] == "input":
                lines.append(f"  assign {_net(bit)} = {target};")
            else:
                lines.append(f"  assign {target} = {_net(bit)};")
    for cname, cell in cells.items():
        conns = ", ".join(f".{pin}({_net(bits[0])})" for pin, bits in cell["connections"].items())
        lines.append(f"  {cell['type']} {cname} ({conns});")
    lines.append("endmodule")
    return "\n".join(lines) + "\n"


def pipeline_for_clock(unit, tech: Technology, freq_mhz: float, budget_s: float = DEFAULT_BUDGET_S,
                       verilog: str | None = None) -> Plan:
    """``unit`` (combinational, or an accumulator at its one-register depth) pipelined for ``freq_mhz`` on
    ``tech``; its Verilog is ``verilog`` or generated."""
    period = 1000.0 / freq_mhz
    name = unit.default_name
    first = synthesize(verilog or to_verilog(unit, name), name, tech, period, budget_s=budget_s)
    sequential = first.flops > 0
    start = timing(first, tech, clocked=sequential)
    if sequential and (unit.stages != 1 or start.loop_ns is None):
        raise ValueError(f"{name}: pipeline_for_clock takes a combinational unit, or an accumulator with stages=1")
    if start.met:
        return Plan(name, freq_mhz, unit.stages, first, start, True, 0, start.critical_ns,
                    "meets the clock without added registers")
    if sequential and start.loop_ns > period:
        return Plan(name, freq_mhz, unit.stages, first, start, False, 0, start.critical_ns,
                    f"the accumulation loop takes {start.loop_ns:.3f} ns, longer than the {period:.3f} ns period")
    calibrated = (start.in2reg_ns, start.reg2out_ns) if sequential else start.critical_ns
    margin, best, note = 0.0, None, ""
    for rounds in range(1, ROUNDS + 1):
        try:
            text, module, stages = insert_registers(first, tech, period, margin, calibrated,
                                                    [p.name for p in ports(unit)])
        except ValueError as err:
            note = str(err)
            break
        if stages > MAX_STAGES:
            note = f"needs more than {MAX_STAGES} stages"
            break
        piped = Netlist(name, tech.name, period, False, _count(module), 0.0, 0.0, 0, text, module, first.note)
        piped.area_um2 = sum(tech.cells[t].area_um2 * n for t, n in piped.cells.items())
        flops = {t: n for t, n in piped.cells.items() if tech.cells[t].sequential}
        piped.flops, piped.register_area_um2 = sum(flops.values()), sum(tech.cells[t].area_um2 * n
                                                                          for t, n in flops.items())
        measured = timing(piped, tech, clocked=True)
        best = Plan(name, freq_mhz, stages, piped, measured, measured.met, rounds, start.critical_ns)
        if measured.met:
            return best
        margin += max(-measured.slack_ns, 0.03 * period)
    else:
        note = f"missed after {ROUNDS} rounds"
    if best is None:
        return Plan(name, freq_mhz, unit.stages, first, start, False, 0, start.critical_ns, note)
    best.note = note
    return best


def _count(module):
    return Counter(cell["type"] for cell in module["cells"].values())
