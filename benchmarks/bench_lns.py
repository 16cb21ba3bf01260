"""LNS-Madam's approximate MAC against exact arithmetic.

``python benchmarks/bench_lns.py`` draws Gaussian operands, encodes them in
lns8 (nearest on the log), runs the golden 16-lane MAC (table-based
log-to-linear conversion, fixed-point accumulation) and compares it with the
infinitely precise dot product of the same LNS values, for several table
precisions.  Errors are relative to |exact| (over dot products with |exact| >=
1% of sum|a_i b_i|, so that cancellation does not dominate) and to sum|a_i b_i|.
Seeded; a few seconds.
"""

from __future__ import annotations

import time

import numpy as np

from hw import formats as F
from hw.formats import LNSFormat


def main():
    start = time.perf_counter()
    rng = np.random.default_rng(2026)
    base = F.get("lns8")
    n, lanes = 20000, 16
    a = base.encode(rng.standard_normal((n, lanes)))
    b = base.encode(rng.standard_normal((n, lanes)))
    exact = base.exact_dot(a, b)
    scale = np.abs(base.decode(a) * base.decode(b)).sum(axis=1)
    keep = np.abs(exact) >= 0.01 * scale
    print(f"lns8 (sign + 4.3 log, gamma 8), {n} dot products of {lanes} Gaussian lanes\n")
    print(f"{'table bits':>10} {'mean rel err':>13} {'max rel err':>12} {'mean err/sum|ab|':>17} {'max err/sum|ab|':>16}")
    for table_bits in (3, 4, 6, 8, 10, 12, 16):
        fmt = LNSFormat("lns8", 4, 3, table_bits=table_bits)
        approx = fmt.acc_value(fmt.mac(a, b, np.zeros(n, dtype=np.uint64)))
        err = np.abs(approx - exact)
        rel = err[keep] / np.abs(exact[keep])
        print(f"{table_bits:>10} {rel.mean():>13.3e} {rel.max():>12.3e} {np.mean(err / scale):>17.3e} "
              f"{np.max(err / scale):>16.3e}")
    grouped = base.mac(a, b, np.zeros(n, dtype=np.uint64), grouped=True)
    assert (grouped == base.mac(a, b, np.zeros(n, dtype=np.uint64))).all()
    print("\ngrouped-by-remainder MAC: identical results (exact re-association)")
    print(f"({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
