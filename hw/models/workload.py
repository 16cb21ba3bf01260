"""Realistic operand streams for a unit: K = 64-term dot products of Gaussian data, step by step.

Each stream walks whole dot products through the unit, one step per cycle:
the accumulator input of a step is the golden result of the step before
(zero at the start of each dot product), so the accumulator switches as it
does in a matrix engine.  Operands are standard-normal values quantized to
the unit's format: integers scale each dot product's vectors so their
largest magnitude meets the format's largest value (per-tensor absmax, as
INT8 inference does); block formats quantize each block with their own
scales (NVFP4 with its per-tensor scale); floats, posits and LNS take the
values as they are (unit variance sits in the middle of their range).

The same streams measure a unit's numerical quality: the mean absolute error
of the finished dot products against the float64 dot product of the
unquantized values, over the mean magnitude of the latter.

Multiply and add units get independent Gaussian operand pairs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import formats
from ..formats import BlockFormat, FloatFormat, IntFormat, LNSFormat, PositFormat, block, golden
from ..formats.tensorcore import step as tensorcore_step
from ..rtl import BlockDotUnit, DotUnit, FusedDotUnit, LNSMacUnit

__all__ = ["Stream", "stream", "dot_quality", "TERMS", "ops_per_step"]

#: Terms of every dot product in a stream.
TERMS = 64


@dataclass
class Stream:
    """Inputs and golden outputs for :class:`sim.harness.Group`, and the operations each vector performs."""

    a: np.ndarray
    b: np.ndarray
    expected: np.ndarray
    ops: int
    acc: np.ndarray | None = None
    extra: dict = field(default_factory=dict)

    @property
    def vectors(self) -> int:
        return len(self.expected)


def ops_per_step(unit) -> int:
    """Multiply-accumulates (or single operations, for mul/add units) a unit performs per vector."""
    if isinstance(unit, BlockDotUnit):
        return unit.fmt.block_size
    return getattr(unit, "lanes", 1) or 1


def _quantize(fmt, x: np.ndarray):
    """(codes, scale) of standard-normal ``x`` (chains, terms) for a non-block format."""
    if isinstance(fmt, IntFormat):
        scale = np.max(np.abs(x), axis=-1, keepdims=True) / fmt.max_value
        return fmt.encode(x / scale, saturate=True), scale
    if isinstance(fmt, FloatFormat):
        x = np.clip(x, -fmt.max_finite, fmt.max_finite)
    return fmt.encode(x), np.ones(x.shape[:-1] + (1,))


def _acc_value(unit, codes) -> np.ndarray:
    if isinstance(unit, LNSMacUnit):
        return unit.fmt.acc_value(codes)
    acc = getattr(unit, "acc", None) or formats.get("fp32")
    return np.asarray(acc.decode(codes), dtype=np.float64)


def _chains(unit, chains: int, rng: np.random.Generator):
    """Operands and accumulators of ``chains`` dot products walked through ``unit``.

    Returns ``(a, b, acc_in, acc_out, extra, result, exact)``: per step rows
    (chains * steps, lanes), the float64 results of the finished dot products
    and their float64 references.
    """
    lanes = ops_per_step(unit)
    steps = max(1, round(TERMS / lanes))
    x = rng.standard_normal((2, chains, steps * lanes))
    exact = np.einsum("ck,ck->c", x[0], x[1])
    extra = {}
    if isinstance(unit, BlockDotUnit):
        fmt = unit.fmt
        qa, qb = (block.quantize(fmt, v.reshape(chains * steps, lanes)) for v in x)
        a, b = qa.elements, qb.elements
        sa, sb = qa.scales[:, 0], qb.scales[:, 0]
        extra = {"a_scale": sa.reshape(chains, steps), "b_scale": sb.reshape(chains, steps)}
        scale = np.full(chains, qa.tensor_scale * qb.tensor_scale)
    else:
        fmt_b = unit.fmt_b if isinstance(unit, FusedDotUnit) else unit.fmt
        (a, scale_a), (b, scale_b) = _quantize(unit.fmt, x[0]), _quantize(fmt_b, x[1])
        scale = (scale_a * scale_b)[:, 0]
    a, b = (np.asarray(v).reshape(chains, steps, lanes) for v in (a, b))

    def advance(s, acc):
        if isinstance(unit, BlockDotUnit):
            return block.block_dot(unit.fmt, a[:, s], extra["a_scale"][:, s], b[:, s], extra["b_scale"][:, s], acc,
                                   unit.acc, align_bits=unit.align_bits)
        if isinstance(unit, FusedDotUnit):
            return tensorcore_step(unit.spec, unit.fmt, unit.fmt_b, a[:, s], b[:, s], acc)
        if isinstance(unit, LNSMacUnit):
            return unit.fmt.mac(a[:, s], b[:, s], acc, grouped=unit.grouped)
        return golden.dot(unit.fmt, a[:, s], b[:, s], acc, unit.acc)

    wide = isinstance(getattr(unit, "acc", None), formats.QuireFormat) or (
        isinstance(unit, LNSMacUnit) and unit.fmt.acc_bits > 64)
    acc = np.zeros(chains, dtype=object if wide else np.uint64)
    acc_in, acc_out = [], []
    for s in range(steps):
        acc_in.append(acc)
        acc = np.asarray(advance(s, acc))
        acc_out.append(acc)
    rows = lambda v: np.stack(v, axis=1).reshape(chains * steps, *np.shape(v[0])[1:])
    result = _acc_value(unit, acc) * scale
    flat = {port: codes.reshape(-1) for port, codes in extra.items()}
    return (a.reshape(-1, lanes), b.reshape(-1, lanes), rows(acc_in), rows(acc_out), flat, result, exact)


def _accumulates(unit) -> bool:
    return isinstance(unit, (DotUnit, BlockDotUnit, FusedDotUnit, LNSMacUnit))


def stream(unit, vectors: int, rng: np.random.Generator) -> Stream:
    """About ``vectors`` steps of realistic work for ``unit``; ValueError for units that are not mul/add/MAC/dot."""
    if _accumulates(unit):
        steps = max(1, round(TERMS / ops_per_step(unit)))
        a, b, acc_in, acc_out, extra, _, _ = _chains(unit, max(1, -(-vectors // steps)), rng)
        return Stream(a, b, acc_out, ops_per_step(unit), acc=acc_in, extra=extra)
    if unit.kind in ("mul", "add") and not isinstance(unit.fmt, BlockFormat):
        (a, _), (b, _) = (_quantize(unit.fmt, rng.standard_normal((1, vectors))) for _ in range(2))
        a, b = a.reshape(-1), b.reshape(-1)
        if isinstance(unit.fmt, LNSFormat):
            expected = unit.fmt.mul(a, b)
        else:
            expected = (golden.mul if unit.kind == "mul" else golden.add)(unit.fmt, a, b)
        return Stream(a, b, expected, 1)
    raise ValueError(f"no workload for a {unit.kind} unit of {unit.fmt.name}: the cost model runs mul, add, mac, "
                     "dot and tensorcore units")


def dot_quality(unit, chains: int = 256, seed: int = 7) -> float:
    """Mean |dot - exact| / mean |exact| of ``chains`` 64-term Gaussian dot products through ``unit``; NaN for mul/add."""
    if not _accumulates(unit):
        return float("nan")
    *_, result, exact = _chains(unit, chains, np.random.default_rng(seed))
    return float(np.mean(np.abs(result - exact)) / np.mean(np.abs(exact)))
