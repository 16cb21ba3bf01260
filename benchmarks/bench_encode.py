"""Encode and decode speed against ml_dtypes' casts, for the formats ml_dtypes has.

    .venv/bin/python benchmarks/bench_encode.py [--n 4194304]

For each format: ``fmt.encode`` of n standard-normal values scaled into the
format's range (float32 and float64 inputs, both float32-exact) against
``values.astype(ml_dtype)``, the exact rounder (``fmt.pack``) for scale, and
``fmt.decode`` against the ml_dtypes view-and-cast; checks the codes are
bit-identical.  Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import time

import numpy as np

from hw import formats as F
from hw.formats.exact import Exact


def seconds(call, repeat=3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - started)
    return best


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=4 * 1024 * 1024)
    args = p.parse_args()
    print(f"{datetime.date.today()}, {platform.machine()} {platform.processor() or 'cpu'}, n = {args.n:,}, "
          f"numpy {np.__version__}")
    rng = np.random.default_rng(0)
    print(f"{'format':8} {'input':8} {'encode s':>9} {'ml_dtypes s':>11} {'ratio':>6} {'exact rounder s':>15} "
          f"{'decode s':>9} {'ml_dtypes s':>11} {'identical':>9}")
    for name in ("e4m3", "e5m2", "e2m1", "bf16", "fp16"):
        fmt = F.get(name)
        values32 = (rng.standard_normal(args.n) * fmt.max_finite / 8).astype(np.float32)
        for values in (values32, values32.astype(np.float64)):
            ours = fmt.encode(values)
            theirs = values.astype(fmt.dtype).view(ours.dtype)
            t_ours = seconds(lambda: fmt.encode(values))
            t_ref = seconds(lambda: values.astype(fmt.dtype))
            sample = values[:65536]
            t_exact = seconds(lambda: fmt.pack(Exact.from_float(sample), nan_sign=True), 1) * args.n / sample.size
            t_dec = seconds(lambda: fmt.decode(ours))
            t_dec_ref = seconds(lambda: ours.view(fmt.dtype).astype(np.float64))
            same = np.array_equal(ours, theirs) and np.array_equal(fmt.decode(ours), theirs.view(fmt.dtype)
                                                                   .astype(np.float64))
            print(f"{name:8} {values.dtype.name:8} {t_ours:9.3f} {t_ref:11.3f} {t_ours / t_ref:6.1f} "
                  f"{t_exact:15.1f} {t_dec:9.3f} {t_dec_ref:11.3f} {str(same):>9}")


if __name__ == "__main__":
    main()
