"""cocotb regressions of the tensor-core step unit against the golden model (and so the H100), bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from hw import formats as F
from hw.formats import tensorcore
from hw.rtl import build_unit
from hw.rtl.stimulus import tensorcore_vectors
from hw.sim import Job, available_simulators, verify

pytestmark = [pytest.mark.sim, pytest.mark.skipif("verilator" not in available_simulators(),
                                                  reason="Verilator not installed")]
DATA = "results/h100/scaled_mm_2026-11-22/scaled_mm_{}.npz"


def _unit(fmt_a, fmt_b, lanes, stages, align_bits=None):
    return build_unit("tensorcore", F.get(fmt_a), fmt_b=F.get(fmt_b), lanes=lanes, stages=stages, align_bits=align_bits)


def h100_steps(unit):
    """Dot products measured on an H100 (K = 256), cut into the unit's steps; returns (a, b, acc, expected).

    Each step's accumulator is the golden result of the step before, and the
    last step's result is asserted to be the GPU's.
    """
    fmt = unit.fmt
    data = np.load(DATA.format("wide"))
    a, b = np.broadcast_arrays(data["a_k256"][:6, None, :], data["b_k256"][None, :6, :])
    a, b = a.reshape(-1, 8, 32), b.reshape(-1, 8, 32)
    acc = np.zeros(len(a), dtype=np.uint32)
    rows = []
    for s in range(8):
        out = tensorcore.step(unit.spec, fmt, fmt, a[:, s], b[:, s], acc)
        rows.append((a[:, s], b[:, s], acc, out))
        acc = out
    assert np.array_equal(acc, data["c_k256_fast1"][:6, :6].reshape(-1))
    return [np.concatenate(column) for column in zip(*rows)]


def test_tensorcore_units():
    """32-lane E4M3 x E4M3 (pipelined; random, chained, windowed and corner vectors plus H100 dot products
    replayed step by step), E4M3 x E5M2, and an 8-lane E5M2 x E4M3 unit with a wider window."""
    rng = np.random.default_rng(31)
    jobs = []
    for unit, n in ((_unit("e4m3", "e4m3", 32, 2), 1200), (_unit("e4m3", "e5m2", 32, 0), 1000),
                    (_unit("e5m2", "e4m3", 8, 1, align_bits=24), 2000)):
        a, b, acc = tensorcore_vectors(unit.spec, unit.fmt, unit.fmt_b, unit.lanes, n, rng)
        if not jobs:
            ha, hb, hacc, _ = h100_steps(unit)
            a, b = np.concatenate([a, ha.astype(np.uint64)]), np.concatenate([b, hb.astype(np.uint64)])
            acc = np.concatenate([acc, hacc])
        jobs.append(Job(unit, {"a": a, "b": b, "acc_in": acc}, copies=2))
    verify(jobs, name="tensorcore")
