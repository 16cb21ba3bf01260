"""The rounding multiplier: ``product = round(a * b)`` into the operand format or a chosen one (IEEE's ``f16_mul``).

A whole unit kind in one module: the unit, its golden reference, stimulus,
workload and PyTorch reference, and the :func:`~hw.rtl.registry.register`
call; ``hw/rtl/__init__.py`` imports it.
"""

from __future__ import annotations

import numpy as np

from ..formats import FloatFormat, PositFormat, golden
from .builtin_kinds import pair_stimulus, pair_workload, torch_codes, torch_inputs
from .registry import UnitKind, lanes_of, register
from .units import MulUnit

__all__ = ["RoundMulUnit", "ROUND_MUL"]


class RoundMulUnit(MulUnit):
    """``product = round(a * b)``, RNE, once, into ``out`` (a float or posit format; default: the operand format).

    The exact raw product of :class:`~hw.rtl.units.MulUnit` goes through the
    rounder of ``out``'s family (the shared float :class:`~hw.fpu.rounder.Rounder`
    with ``out``'s overflow, NaN and subnormal rules, or the posit rounder).
    Cut points: after the raw product, then the output.
    """

    kind = "round_mul"

    def __init__(self, fmt, out=None, stages: int = 0):
        self.out = fmt if out is None else out
        super().__init__(fmt, stages=stages)

    def result_format(self, fmt):
        """The format ``product`` is rounded into."""
        if not isinstance(self.out, (FloatFormat, PositFormat)):
            raise ValueError(f"a round_mul unit rounds into a float or posit format, not {self.out.name}")
        return self.out

    def name_parts(self) -> list[str]:
        return [self.fmt.name] + ([self.out.name] if self.out != self.fmt else [])


def _reference(unit, inputs):
    product = golden.round_mul(unit.fmt, lanes_of(inputs, "a")[:, 0], lanes_of(inputs, "b")[:, 0], unit.out)
    return {"product": np.asarray(product).reshape(-1)}


def _gpu_reference(unit, inputs, device):
    from gpu_ref import numerics

    t = torch_inputs(inputs, device)
    return {"product": torch_codes(numerics.round_mul(unit.fmt, t["a"][:, 0], t["b"][:, 0], unit.out))}


def _build(fmt, stages, out_fmt=None):
    return RoundMulUnit(fmt, out_fmt, stages=stages)


ROUND_MUL = register(UnitKind(
    name="round_mul",
    summary="round(a * b), RNE, once, into the operand format or --out-fmt FMT",
    families=("float", "posit"),
    build=_build,
    reference=_reference,
    stimulus=pair_stimulus,
    workload=pair_workload,
    ports=(("a", "operand"), ("b", "operand"), ("product", "round(a * b) in the result format")),
    options=("out_fmt",),
    samples=(("e4m3", {}), ("bf16", {"stages": 1}), ("fp16", {"out_fmt": "fp32"}), ("e4m3", {"out_fmt": "bf16"}),
             ("posit8", {}), ("posit16", {"stages": 2})),
    gpu_reference=_gpu_reference,
))
