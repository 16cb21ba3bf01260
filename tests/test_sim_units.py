"""cocotb regressions: generated Verilog against the golden model, bit for bit.

One simulator build per operand format holds every unit variant under test
(multiplier, MACs into each accumulator format, dot products, several
pipeline depths), so each test pays the Verilator compile once.
"""

from __future__ import annotations

import numpy as np
import pytest

from hw import formats as F
from hw.rtl import build_unit
from hw.rtl.stimulus import all_pairs, corner_codes, dot_vectors, mac_vectors, random_codes
from hw.sim import Job, available_simulators, verify

SIMULATORS = available_simulators()
#: ``e3m4`` is not registered: it is the generic IEEE-style reading of the name,
#: built from its parameters like any new format would be; ``e4m3daz`` (below)
#: is E4M3 without subnormals.
SMALL_FORMATS = ["e4m3", "e5m2", "e4m3fnuz", "e5m2fnuz", "e3m2", "e2m3", "e2m1", "e3m4", "e4m3daz", "int8", "int4"]
WIDE_FORMATS = ["fp16", "bf16", "fp32"]

pytestmark = [pytest.mark.sim, pytest.mark.skipif("verilator" not in SIMULATORS, reason="Verilator not installed")]


def _mac_group(fmt, acc, stages, a, b, rng, copies=8, **kw):
    ma, mb, macc = mac_vectors(fmt, acc, a, b, rng, **kw)
    return Job(build_unit("mac", fmt, acc=acc, stages=stages), {"a": ma, "b": mb, "acc_in": macc}, copies)


def _dot_group(fmt, acc, lanes, stages, n, rng):
    a, b, accs = dot_vectors(fmt, acc, lanes, n, rng)
    return Job(build_unit("dot", fmt, lanes=lanes, acc=acc, stages=stages), {"a": a, "b": b, "acc_in": accs})


#: A format built only from parameters, with subnormal inputs read as zero (DAZ).
E4M3_DAZ = F.FloatFormat("e4m3daz", 4, 3, 7, F.Special.FN, subnormals=False)


def _format(name):
    return E4M3_DAZ if name == E4M3_DAZ.name else F.get(name)


def small_format_groups(name: str, rng, full: bool = False, dot_n: int = 20000):
    """Every pair through the multiplier, the adder and the MAC into each accumulator, plus dot units.

    The default accumulator gets directed, product-relative and random
    accumulators for every pair; the others a lighter mix.  ``full`` gives every
    pair every directed accumulator (the slow tier).
    """
    fmt = _format(name)
    a, b = all_pairs(fmt)
    groups = [Job(build_unit("mul", fmt, stages=1), {"a": a, "b": b}),
              Job(build_unit("add", fmt, stages=0), {"a": a, "b": b})]
    if isinstance(fmt, F.FloatFormat):
        groups.append(Job(build_unit("round_mul", fmt, stages=1), {"a": a, "b": b}))
    accs = F.accumulators(fmt)
    groups.append(_mac_group(fmt, F.get(accs[0]), 2, a, b, rng, random_per_pair=2 if not full else 4,
                             directed_per_pair=None if full else 2))
    for acc_name, stages in zip(accs[1:], (0, 3)):
        groups.append(_mac_group(fmt, F.get(acc_name), stages, a, b, rng, random_per_pair=1,
                                 directed_per_pair=None if full else 1, relative=full))
    groups.append(_dot_group(fmt, F.get(accs[0]), 4, 1, dot_n * (10 if full else 1), rng))
    groups.append(_dot_group(fmt, F.get(accs[-1]), 8, 4, dot_n * (5 if full else 1) // 2, rng))
    return groups


@pytest.mark.parametrize("name", SMALL_FORMATS)
def test_small_format_exhaustive(name):
    verify(small_format_groups(name, np.random.default_rng(2026)), name=f"small-{name}")


@pytest.mark.slow
@pytest.mark.parametrize("name", SMALL_FORMATS)
def test_small_format_every_directed_accumulator(name):
    verify(small_format_groups(name, np.random.default_rng(2027), full=True), name=f"full-{name}")


def wide_format_groups(name: str, rng, pairs: int):
    """Directed corner pairs plus ``pairs`` seeded random pairs: multiplier, adder and MACs."""
    fmt = F.get(name)
    corners = corner_codes(fmt)
    ca, cb = np.meshgrid(corners, corners, indexing="ij")
    a = np.concatenate([ca.ravel(), random_codes(fmt, pairs, rng)])
    b = np.concatenate([cb.ravel(), random_codes(fmt, pairs, rng)])
    groups = [Job(build_unit("mul", fmt, stages=2), {"a": a, "b": b}),
              Job(build_unit("add", fmt, stages=1), {"a": a, "b": b}),
              Job(build_unit("round_mul", fmt, stages=1), {"a": a, "b": b})]
    for acc_name, stages in zip(F.accumulators(fmt), (1, 0, 2)):
        groups.append(_mac_group(fmt, F.get(acc_name), stages, a, b, rng, copies=16, random_per_pair=2))
    if name == "fp16":  # bf16 and fp32 products are too wide to sum exactly in a dot unit
        groups.append(_dot_group(fmt, F.get("fp32"), 2, 1, pairs // 4, rng))
    return groups


@pytest.mark.parametrize("name", WIDE_FORMATS)
def test_wide_format_random(name):
    verify(wide_format_groups(name, np.random.default_rng(7), pairs=20000), name=f"wide-{name}")


@pytest.mark.slow
@pytest.mark.parametrize("name", WIDE_FORMATS)
def test_wide_format_random_large(name):
    verify(wide_format_groups(name, np.random.default_rng(8), pairs=1_000_000), name=f"wide-{name}")


@pytest.mark.skipif("icarus" not in SIMULATORS, reason="Icarus Verilog not installed")
@pytest.mark.parametrize("name", ["e4m3", "int8"])
def test_icarus_agrees(name):
    """The same Verilog on a second simulator: a subset of vectors through Icarus."""
    rng = np.random.default_rng(3)
    fmt = F.get(name)
    a, b = all_pairs(fmt)
    pick = rng.choice(len(a), 3000, replace=False)
    a, b = a[pick], b[pick]
    groups = [Job(build_unit("mul", fmt, stages=1), {"a": a, "b": b}),
              _mac_group(fmt, F.default_accumulator(fmt), 2, a, b, rng, copies=8, random_per_pair=1),
              _dot_group(fmt, F.default_accumulator(fmt), 4, 1, 2000, rng)]
    verify(groups, sim="icarus", name=f"icarus-{name}")
