"""Pipeline registers placed at a unit's natural cut points, or all at its output for retiming."""

from __future__ import annotations

from amaranth import Signal

__all__ = ["Pipeline"]


class Pipeline:
    """Registers a unit's datapath values at chosen cut points, with a valid bit alongside.

    ``cuts`` names the unit's internal cut points in the order they are filled
    as ``unit.stages`` grows; the output always gets the first register and
    every stage beyond the internal cuts adds one more at the output, so the
    latency is exactly ``stages`` cycles and the throughput one result per
    cycle.  Data registers load only when their valid bit is set (no toggling
    while idle).

    A ``retimed`` unit instead puts every stage at the output, with data
    registers that load every cycle and have no reset (the valid bits keep
    theirs): the form a synthesis tool's retiming can move into the logic to
    balance the stages for a clock (:mod:`hw.models.pipelining`).
    """

    def __init__(self, m, unit, cuts: list[str]):
        stages = unit.stages
        if not isinstance(stages, int) or stages < 0:
            raise ValueError(f"stages must be a non-negative integer, not {stages!r}")
        self.m = m
        self.retimed = unit.retimed
        internal = 0 if self.retimed else max(0, min(stages - 1, len(cuts)))
        self.active = set(cuts[:internal])
        self.output_stages = stages - internal
        self.valid = unit.valid_in

    def _register(self, name, values):
        regs = []
        valid = Signal(name=f"{name}_valid")
        for i, v in enumerate(values):
            if self.retimed:
                reg = Signal.like(v, name=f"{name}_r{i}", reset_less=True)
                self.m.d.sync += reg.eq(v)
            else:
                reg = Signal.like(v, name=f"{name}_r{i}")
                with self.m.If(self.valid):
                    self.m.d.sync += reg.eq(v)
            regs.append(reg)
        self.m.d.sync += valid.eq(self.valid)
        self.valid = valid
        return regs

    def cut(self, name: str, *values):
        """``values`` after cut point ``name``: registered if that cut is active."""
        if name in self.active:
            values = self._register(name, values)
        return values if len(values) != 1 else values[0]

    def output(self, value):
        """(value, valid) after the output registers."""
        for i in range(self.output_stages):
            (value,) = self._register(f"out{i}", [value])
        return value, self.valid
