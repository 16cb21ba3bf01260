"""cocotb regressions of the LNS units against the golden model, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from hw import formats as F
from hw.rtl import build_unit
from hw.rtl.stimulus import all_pairs, lns_mac_vectors
from hw.sim import Job, available_simulators, verify

pytestmark = [pytest.mark.sim, pytest.mark.skipif("verilator" not in available_simulators(),
                                                  reason="Verilator not installed")]


def lns_groups(name: str, rng, n: int):
    """Every operand pair through the multiplier and every product through the converter; vector MACs."""
    fmt = F.get(name)
    a, b = all_pairs(fmt)
    jobs = [Job(build_unit("mul", fmt, stages=1), {"a": a, "b": b}),
            Job(build_unit("linear", fmt, stages=0), {"a": fmt.mul(a, b)})]
    for lanes, stages, grouped in ((16, 2, False), (16, 1, True), (1, 0, False), (5, 3, True)):
        ma, mb, acc = lns_mac_vectors(fmt, lanes, n, rng)
        jobs.append(Job(build_unit("mac", fmt, lanes=lanes, stages=stages, grouped=grouped),
                        {"a": ma, "b": mb, "acc_in": acc}, copies=4))
    return jobs


@pytest.mark.parametrize("name", ["lns8", "lns8g4"])
def test_lns_units(name):
    verify(lns_groups(name, np.random.default_rng(21), 20000), name=f"lns-{name}")
