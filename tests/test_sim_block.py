"""cocotb regressions of the block-format units against the golden model, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from hw import formats as F
from hw.formats import block
from hw.rtl import build_unit
from sim.harness import Group
from sim.run import run_groups
from sim.tools import available_simulators
from sim.vectors import block_dot_vectors, quant_vectors

pytestmark = [pytest.mark.sim, pytest.mark.skipif("verilator" not in available_simulators(),
                                                  reason="Verilator not installed")]
FP32 = F.get("fp32")


def quant_expected(fmt, x, ts):
    """Golden element and scale codes of each fp32 block (row) of ``x``, with its tensor-scale code."""
    values = FP32.decode(x)
    if not fmt.tensor_scale:
        t = block.quantize(fmt, values)
        return {"elements": t.elements, "scale": t.scales[:, 0]}
    rows = [block.quantize(fmt, v[None], tensor_scale=s) for v, s in zip(values, FP32.decode(ts))]
    return {"elements": np.concatenate([t.elements for t in rows]), "scale": np.array([t.scales[0, 0] for t in rows])}


def block_groups(name: str, rng, n: int, align: int | None = None):
    """Dot units (exact sum with 2 stages; aligned sum, combinational) and a 1-stage quantizer."""
    fmt = F.get(name)
    a, b, sa, sb, acc = block_dot_vectors(fmt, FP32, n, rng)
    groups = []
    for stages, align_bits in ((2, None),) + (((0, align),) if align else ()):
        expected = block.block_dot(fmt, a, sa, b, sb, acc, FP32, align_bits=align_bits)
        groups.append(Group(build_unit("dot", fmt, stages=stages, align_bits=align_bits), 4, a, b, expected, acc=acc,
                            extra={"a_scale": sa, "b_scale": sb}))
    x, ts = quant_vectors(fmt, n, rng)
    extra = {"tensor_scale": ts} if fmt.tensor_scale else {}
    groups.append(Group(build_unit("quant", fmt, stages=1), 4, x, None, quant_expected(fmt, x, ts), extra=extra))
    return groups


def _check(summary):
    for result in summary:
        assert result["received"] == result["vectors"], result
        assert result["mismatches"] == 0, result


@pytest.mark.parametrize("name,align", [("mxfp8_e4m3", 16), ("mxfp4", 8), ("nvfp4", 10), ("mxint8", None)])
def test_block_units(name, align):
    """Dot unit (exact and aligned-truncated sums, every element pair) and quantizer."""
    _check(run_groups(block_groups(name, np.random.default_rng(11), 3000, align), name=f"block-{name}"))


@pytest.mark.parametrize("name", ["mxfp8_e5m2", "mxfp6_e3m2", "mxfp6_e2m3", "mx_e3m4_b16"])
def test_other_block_formats(name):
    _check(run_groups(block_groups(name, np.random.default_rng(12), 1200), name=f"block-{name}"))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mxfp8_e4m3", "mxfp4", "nvfp4", "mxint8"])
def test_block_units_large(name):
    _check(run_groups(block_groups(name, np.random.default_rng(13), 60000, 12), name=f"block-{name}"))
