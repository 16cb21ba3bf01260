"""Pipeline registers placed at a unit's natural cut points."""

from __future__ import annotations

from amaranth import Signal

__all__ = ["Pipeline"]


class Pipeline:
    """Registers a datapath's values at chosen cut points, with a valid bit alongside.

    ``cuts`` names the unit's internal cut points in the order they are filled
    as ``stages`` grows; the output always gets the first register and every
    stage beyond the internal cuts adds one more at the output, so the latency
    is exactly ``stages`` cycles and the throughput one result per cycle.
    Data registers load only when their valid bit is set (no toggling while idle).
    """

    def __init__(self, m, stages: int, cuts: list[str], valid):
        if not isinstance(stages, int) or stages < 0:
            raise ValueError(f"stages must be a non-negative integer, not {stages!r}")
        self.m = m
        internal = max(0, min(stages - 1, len(cuts)))
        self.active = set(cuts[:internal])
        self.output_stages = stages - internal
        self.valid = valid

    def _register(self, name, values):
        regs = []
        valid = Signal(name=f"{name}_valid")
        for i, v in enumerate(values):
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
