"""Simulation of generated units through cocotb (Verilator or Icarus): your vectors in, the outputs back.

``simulate(unit, {"a": ..., "b": ...})`` returns the outputs and the observed
latency; ``verify(jobs)`` checks many units against their golden references
in one simulator build.  See :mod:`hw.sim.run`.
"""

from .harness import Job, verilog_ports
from .run import BUILD_ROOT, Mismatch, Simulation, compare, simulate, simulate_many, verify
from .tools import available_simulators, use_verilator

__all__ = ["Job", "Simulation", "Mismatch", "simulate", "simulate_many", "verify", "compare", "verilog_ports",
           "available_simulators", "use_verilator", "BUILD_ROOT"]
