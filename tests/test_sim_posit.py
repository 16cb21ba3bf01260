"""cocotb regressions of the posit units against the golden model, bit for bit.

posit8 (es 0, 1, 2): every operand pair through the multiplier and the adder,
and every pair through the quire MAC step (each pair with a directed, a
cancelling and a random quire value); quire read-out on every posit value
placed in the quire, each nudged by one LSB either way, the midpoints between
neighbours, and random quires.  posit16 and posit32: directed plus seeded random.
"""

from __future__ import annotations

import numpy as np
import pytest

from hw import formats as F
from hw.formats import Exact, golden
from hw.formats.exact import multiply
from hw.rtl import build_unit
from sim.harness import Group
from sim.run import run_groups
from sim.tools import available_simulators
from sim.vectors import all_pairs, random_codes

pytestmark = [pytest.mark.sim,
              pytest.mark.skipif("verilator" not in available_simulators(), reason="Verilator not installed")]


def _check(summary):
    for result in summary:
        assert result["received"] == result["vectors"], result
        assert result["mismatches"] == 0, result


def quire_values(fmt, rng, count):
    """Directed and random quire codes: every posit value exactly, +-1 LSB, midpoints, NaR, random."""
    quire = fmt.quire()
    codes = np.arange(1 << fmt.n) if fmt.n <= 8 else random_codes(fmt, 2000, rng)
    exact = [int(v) for v in golden.convert(fmt, quire, codes)]
    mask = (1 << quire.bits) - 1
    values = exact + [(v + 1) & mask for v in exact] + [(v - 1) & mask for v in exact]
    ordered = sorted(set(int(q) for q in golden.convert(fmt, quire, codes[codes != fmt.nar_code])),
                     key=lambda q: q - (1 << quire.bits) if q >> (quire.bits - 1) else q)
    signed = [q - (1 << quire.bits) if q >> (quire.bits - 1) else q for q in ordered]
    values += [((x + y) // 2) & mask for x, y in zip(signed, signed[1:])]
    values += [quire.nar_code, 0, 1, mask]
    values += [int.from_bytes(rng.bytes((quire.bits + 7) // 8), "little") & mask for _ in range(count)]
    # random quires of moderate size exercise every regime of the read-out
    values += [(int(rng.integers(1, 2**16)) << int(rng.integers(0, quire.bits - 17))) & mask for _ in range(count)]
    return np.array(values, dtype=object)


def quire_mac_vectors(fmt, a, b, rng):
    """Each pair with a directed quire (rotating), the negated product, and a random quire."""
    quire = fmt.quire()
    directed = [0, quire.nar_code, 1, (1 << quire.bits) - 1, 1 << (quire.bits - 2), (1 << (quire.bits - 1)) - 1]
    product = multiply(fmt.unpack(a), fmt.unpack(b))
    negated = quire.pack(Exact(~product.neg, product.mag, product.exp, product.nan, product.inf))
    rot = np.array(directed, dtype=object)[np.arange(len(a)) % len(directed)]
    near = [int(v) for v in golden.convert(fmt, quire, random_codes(fmt, len(a), rng))]
    accs = np.stack([rot, negated.astype(object), np.array(near, dtype=object)], axis=1)
    return np.repeat(a, 3), np.repeat(b, 3), accs.ravel()


def posit_groups(name, rng, pairs=None, readout_random=2000, dot=True):
    fmt = F.get(name)
    quire = fmt.quire()
    if pairs is None:
        a, b = all_pairs(fmt)
    else:
        a, b = random_codes(fmt, pairs, rng), random_codes(fmt, pairs, rng)
        special = np.array([0, fmt.nar_code, 1, (1 << fmt.n) - 1, (1 << (fmt.n - 1)) - 1, (1 << (fmt.n - 1)) + 1,
                            1 << (fmt.n - 2), 3 << (fmt.n - 2)], dtype=np.uint64)
        sa, sb = np.meshgrid(special, special, indexing="ij")
        a, b = np.concatenate([sa.ravel(), a]), np.concatenate([sb.ravel(), b])
    groups = [Group(build_unit("mul", fmt, stages=1), 8, a, b, golden.mul(fmt, a, b)),
              Group(build_unit("add", fmt, stages=2), 8, a, b, golden.add(fmt, a, b))]
    ma, mb, macc = quire_mac_vectors(fmt, a, b, rng)
    groups.append(Group(build_unit("mac", fmt, stages=2), 8, ma, mb,
                        golden.mac(fmt, ma, mb, macc, quire), acc=macc))
    q = quire_values(fmt, rng, readout_random)
    groups.append(Group(build_unit("readout", fmt, stages=1), 8, None, None, golden.convert(quire, fmt, q), acc=q))
    if dot:
        da, db = random_codes(fmt, 4 * 5000, rng).reshape(-1, 4), random_codes(fmt, 4 * 5000, rng).reshape(-1, 4)
        dacc = np.array([int(v) for v in golden.convert(fmt, quire, random_codes(fmt, 5000, rng))], dtype=object)
        groups.append(Group(build_unit("dot", fmt, lanes=4, stages=3), 8, da, db,
                            golden.dot(fmt, da, db, dacc, quire), acc=dacc))
    return groups


@pytest.mark.parametrize("name", ["posit8", "posit8es1", "posit8es2"])
def test_posit8_exhaustive(name):
    _check(run_groups(posit_groups(name, np.random.default_rng(31)), name=f"posit-{name}"))


@pytest.mark.parametrize("name", ["posit16", "posit16es2"])
def test_posit16_random(name):
    _check(run_groups(posit_groups(name, np.random.default_rng(32), pairs=20_000), name=f"posit-{name}"))


def test_posit32_random():
    _check(run_groups(posit_groups("posit32", np.random.default_rng(33), pairs=5_000, readout_random=500, dot=False),
                      name="posit-posit32"))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["posit16", "posit32"])
def test_posit_wide_random_large(name):
    _check(run_groups(posit_groups(name, np.random.default_rng(34), pairs=500_000, dot=False), name=f"posit-{name}"))
