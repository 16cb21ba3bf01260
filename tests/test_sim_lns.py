"""cocotb regressions of the LNS units against the golden model, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from hw import formats as F
from hw.rtl import build_unit
from sim.harness import Group
from sim.run import run_groups
from sim.tools import available_simulators
from sim.vectors import all_pairs

pytestmark = [pytest.mark.sim, pytest.mark.skipif("verilator" not in available_simulators(),
                                                  reason="Verilator not installed")]


def lns_mac_vectors(fmt, lanes, n, rng):
    """Random codes; a quarter cancel (lane pairs with b's sign flipped); a quarter carry
    zeros, NaNs and the extreme logs; accumulators random or near the wrap-around."""
    a = rng.integers(0, 1 << fmt.width, (n, lanes), dtype=np.uint64)
    b = rng.integers(0, 1 << fmt.width, (n, lanes), dtype=np.uint64)
    q = n // 4
    sign = np.uint64(1 << fmt.log_bits)
    a[q:2 * q, 1::2], b[q:2 * q, 1::2] = a[q:2 * q, 0:lanes - lanes % 2:2], b[q:2 * q, 0:lanes - lanes % 2:2] ^ sign
    mask = (1 << fmt.log_bits) - 1
    corners = np.array([fmt.zero_code, fmt.nan_code, fmt.max_log, fmt.min_log & mask, (1 << fmt.log_bits) | fmt.max_log,
                        (1 << fmt.log_bits) | (fmt.min_log & mask), 0, 1 << fmt.log_bits], dtype=np.uint64)
    rows = slice(2 * q, 3 * q)
    a[rows] = np.where(rng.random((q, lanes)) < 0.5, corners[rng.integers(0, len(corners), (q, lanes))], a[rows])
    b[rows] = np.where(rng.random((q, lanes)) < 0.5, corners[rng.integers(0, len(corners), (q, lanes))], b[rows])
    acc_bits = fmt.acc_bits
    acc = np.array([int(v) for v in rng.integers(0, 1 << 62, n)], dtype=object) << max(acc_bits - 62, 0)
    acc = acc & ((1 << acc_bits) - 1)
    acc[3 * q:] = (1 << (acc_bits - 1)) - 1 - rng.integers(0, 1 << 40, n - 3 * q).astype(object)
    return a, b, acc


def lns_groups(name: str, rng, n: int):
    fmt = F.get(name)
    a, b = all_pairs(fmt)
    products = fmt.mul(a, b)
    width = fmt.linear_width
    linear = fmt.to_linear(products).astype(object) & ((1 << width) - 1)
    groups = [Group(build_unit("mul", fmt, stages=1), 8, a, b, products),
              Group(build_unit("linear", fmt, stages=0), 8, products, None, linear)]
    for lanes, stages, grouped in ((16, 2, False), (16, 1, True), (1, 0, False), (5, 3, True)):
        ma, mb, acc = lns_mac_vectors(fmt, lanes, n, rng)
        groups.append(Group(build_unit("mac", fmt, lanes=lanes, stages=stages, grouped=grouped), 4, ma, mb,
                            fmt.mac(ma, mb, acc), acc=acc))
    return groups


def _check(summary):
    for result in summary:
        assert result["received"] == result["vectors"], result
        assert result["mismatches"] == 0, result


@pytest.mark.parametrize("name", ["lns8", "lns8g4"])
def test_lns_units(name):
    """Every operand pair through the multiplier and every product through the converter; vector MACs."""
    _check(run_groups(lns_groups(name, np.random.default_rng(21), 20000), name=f"lns-{name}"))
