"""cocotb regressions of the posit units against the golden model, bit for bit.

posit8 (es 0, 1, 2): every operand pair through the exact and the rounding multiplier and the adder,
and every pair through the quire MAC step (each pair with a directed, a
cancelling and a random quire value); quire read-out on every posit value
placed in the quire, each nudged by one LSB either way, the midpoints between
neighbours, and random quires.  posit16 and posit32: directed plus seeded random.
"""

from __future__ import annotations

import numpy as np
import pytest

from hw import formats as F
from hw.rtl import build_unit
from hw.rtl.stimulus import all_pairs, corner_codes, posit_dot_vectors, quire_mac_vectors, quire_values, random_codes
from hw.sim import Job, available_simulators, verify

pytestmark = [pytest.mark.sim,
              pytest.mark.skipif("verilator" not in available_simulators(), reason="Verilator not installed")]


def posit_groups(name, rng, pairs=None, readout_random=2000, dot=True):
    fmt = F.get(name)
    if pairs is None:
        a, b = all_pairs(fmt)
    else:
        a, b = random_codes(fmt, pairs, rng), random_codes(fmt, pairs, rng)
        special = corner_codes(fmt)
        sa, sb = np.meshgrid(special, special, indexing="ij")
        a, b = np.concatenate([sa.ravel(), a]), np.concatenate([sb.ravel(), b])
    pairs = {"a": a, "b": b}
    groups = [Job(build_unit("round_mul", fmt, stages=1), pairs), Job(build_unit("add", fmt, stages=2), pairs)]
    if fmt.n <= 16:  # wider posits have no exact product format
        groups.append(Job(build_unit("mul", fmt), pairs))
    ma, mb, macc = quire_mac_vectors(fmt, a, b, rng)
    groups.append(Job(build_unit("mac", fmt, stages=2), {"a": ma, "b": mb, "acc_in": macc}))
    groups.append(Job(build_unit("readout", fmt, stages=1), {"acc_in": quire_values(fmt, rng, readout_random)}))
    if dot:
        da, db, dacc = posit_dot_vectors(fmt, 4, 5000, rng)
        groups.append(Job(build_unit("dot", fmt, lanes=4, stages=3), {"a": da, "b": db, "acc_in": dacc}))
    return groups


@pytest.mark.parametrize("name", ["posit8", "posit8es1", "posit8es2"])
def test_posit8_exhaustive(name):
    verify(posit_groups(name, np.random.default_rng(31)), name=f"posit-{name}")


@pytest.mark.parametrize("name", ["posit16", "posit16es2"])
def test_posit16_random(name):
    verify(posit_groups(name, np.random.default_rng(32), pairs=20_000), name=f"posit-{name}")


def test_posit32_random():
    verify(posit_groups("posit32", np.random.default_rng(33), pairs=5_000, readout_random=500, dot=False),
           name="posit-posit32")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["posit16", "posit32"])
def test_posit_wide_random_large(name):
    verify(posit_groups(name, np.random.default_rng(34), pairs=500_000, dot=False), name=f"posit-{name}")
