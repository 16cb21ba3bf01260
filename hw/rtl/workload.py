"""Realistic operand streams for a unit: K = 64-term dot products of Gaussian data, step by step.

An accumulating unit (MAC, dot, block dot, tensor-core step, LNS PE) walks
whole dot products, one step per cycle: the accumulator input of a step is
the golden result of the step before (zero at the start of each dot
product), so the accumulator switches as it does in a matrix engine.
Operands are standard-normal values quantized to the unit's format:
integers scale each dot product's vectors so their largest magnitude meets
the format's largest value (per-tensor absmax, as INT8 inference does);
block formats quantize each block with their own scales (NVFP4 with its
per-tensor scale); floats, posits and LNS take the values as they are (unit
variance sits in the middle of their range).  The finished dot products,
against the float64 dot product of the unquantized values, measure a unit's
numerical quality.

Other units get independent Gaussian operands the same way (multipliers and
adders), Gaussian blocks in fp32 (quantizers), quires of such dot products
(posit read-out) or LNS products of Gaussian pairs (log-to-linear).
The unit kinds (:mod:`hw.rtl.builtin_kinds`) choose among these.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..formats import FP32, BlockFormat, FloatFormat, IntFormat, block

__all__ = ["Workload", "TERMS", "gaussian_codes", "dot_chains", "operand_pairs", "fp32_blocks"]

#: Terms of every dot product in a stream.
TERMS = 64


@dataclass
class Workload:
    """Inputs and golden outputs of a stream, by port, and the operations each vector performs.

    Accumulating units also give ``result``, the float64 values of the
    finished dot products, and ``exact``, the float64 dot products of the
    unquantized data.
    """

    inputs: dict
    expected: dict
    ops: int
    result: np.ndarray | None = None
    exact: np.ndarray | None = None

    @property
    def vectors(self) -> int:
        return len(next(iter(self.expected.values())))


def gaussian_codes(fmt, x: np.ndarray):
    """(codes, scale) of standard-normal ``x`` (rows, terms) in a non-block format; ``codes * scale ~ x``."""
    if isinstance(fmt, IntFormat):
        scale = np.max(np.abs(x), axis=-1, keepdims=True) / fmt.max_value
        return fmt.encode(x / scale, saturate=True), scale
    if isinstance(fmt, FloatFormat):
        x = np.clip(x, -fmt.max_finite, fmt.max_finite)
    return fmt.encode(x), np.ones(x.shape[:-1] + (1,))


def dot_chains(unit, vectors: int, rng: np.random.Generator, step, value, fmt_b=None) -> Workload:
    """About ``vectors`` steps of 64-term dot products through an accumulating ``unit`` (``unit.lanes`` per step).

    ``step(inputs)`` is the golden ``acc_out`` of one step's inputs (ports
    ``a``, ``b``, ``acc_in`` and a block format's ``a_scale``/``b_scale``);
    ``value(codes)`` reads accumulator codes as float64; ``fmt_b`` is operand
    b's format when it differs from ``unit.fmt``.
    """
    lanes = unit.lanes
    steps = max(1, round(TERMS / lanes))
    chains = max(1, -(-vectors // steps))
    x = rng.standard_normal((2, chains, steps * lanes))
    exact = np.einsum("ck,ck->c", x[0], x[1])
    scales = {}
    if isinstance(unit.fmt, BlockFormat):
        qa, qb = (block.quantize(unit.fmt, v.reshape(chains * steps, lanes)) for v in x)
        a, b = qa.elements, qb.elements
        scales = {"a_scale": qa.scales[:, 0].reshape(chains, steps), "b_scale": qb.scales[:, 0].reshape(chains, steps)}
        scale = np.full(chains, qa.tensor_scale * qb.tensor_scale)
    else:
        (a, scale_a), (b, scale_b) = gaussian_codes(unit.fmt, x[0]), gaussian_codes(fmt_b or unit.fmt, x[1])
        scale = (scale_a * scale_b)[:, 0]
    a, b = (np.asarray(v).reshape(chains, steps, lanes) for v in (a, b))
    acc = np.zeros(chains, dtype=object if unit.acc.width > 64 else np.uint64)
    acc_in, acc_out = [], []
    for s in range(steps):
        acc_in.append(acc)
        inputs = {"a": a[:, s], "b": b[:, s], "acc_in": acc, **{port: v[:, s] for port, v in scales.items()}}
        acc = np.asarray(step(inputs))
        acc_out.append(acc)
    rows = lambda v: np.stack(v, axis=1).reshape(chains * steps, *np.shape(v[0])[1:])
    inputs = {"a": a.reshape(-1, lanes), "b": b.reshape(-1, lanes), "acc_in": rows(acc_in),
              **{port: v.reshape(-1) for port, v in scales.items()}}
    return Workload(inputs, {"acc_out": rows(acc_out)}, lanes, value(acc) * scale, exact)


def operand_pairs(fmt, vectors: int, rng: np.random.Generator) -> dict:
    """Inputs ``a``, ``b`` (vectors, 1) of independent standard-normal values in ``fmt``."""
    (a, _), (b, _) = (gaussian_codes(fmt, rng.standard_normal((1, vectors))) for _ in range(2))
    return {"a": np.asarray(a).reshape(-1, 1), "b": np.asarray(b).reshape(-1, 1)}


def fp32_blocks(block_size: int, vectors: int, rng: np.random.Generator) -> np.ndarray:
    """fp32 codes (vectors, block_size) of standard-normal rows, each scaled by a power of two in 2^-4..2^4."""
    x = rng.standard_normal((vectors, block_size)) * np.exp2(rng.integers(-4, 5, (vectors, 1)))
    return FP32.encode(x).astype(np.uint64)
