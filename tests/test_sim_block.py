"""cocotb regressions of the block-format units against the golden model, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from hw import formats as F
from hw.rtl import build_unit, get_kind
from hw.rtl.stimulus import block_dot_vectors
from hw.sim import Job, available_simulators, verify

pytestmark = [pytest.mark.sim, pytest.mark.skipif("verilator" not in available_simulators(),
                                                  reason="Verilator not installed")]


def block_groups(name: str, rng, n: int, align: int | None = None):
    """Dot units (exact sum with 2 stages; aligned sum, combinational) and a 1-stage quantizer."""
    fmt = F.get(name)
    a, b, sa, sb, acc = block_dot_vectors(fmt, F.FP32, n, rng)
    jobs = []
    for stages, align_bits in ((2, None),) + (((0, align),) if align else ()):
        jobs.append(Job(build_unit("dot", fmt, stages=stages, align_bits=align_bits),
                        {"a": a, "b": b, "a_scale": sa, "b_scale": sb, "acc_in": acc}, copies=4))
    quant = build_unit("quant", fmt, stages=1)
    jobs.append(Job(quant, get_kind("quant").stimulus(quant, rng, n), copies=4))
    return jobs


@pytest.mark.parametrize("name,align", [("mxfp8_e4m3", 16), ("mxfp4", 8), ("nvfp4", 10), ("mxint8", None)])
def test_block_units(name, align):
    """Dot unit (exact and aligned-truncated sums, every element pair) and quantizer."""
    verify(block_groups(name, np.random.default_rng(11), 3000, align), name=f"block-{name}")


@pytest.mark.parametrize("name", ["mxfp8_e5m2", "mxfp6_e3m2", "mxfp6_e2m3", "mx_e3m4_b16"])
def test_other_block_formats(name):
    verify(block_groups(name, np.random.default_rng(12), 1200), name=f"block-{name}")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mxfp8_e4m3", "mxfp4", "nvfp4", "mxint8"])
def test_block_units_large(name):
    verify(block_groups(name, np.random.default_rng(13), 60000, 12), name=f"block-{name}")
