"""Block formats: quantization error per format, and the accuracy cost of a limited-width adder tree.

``python benchmarks/bench_block.py`` prints (1) the signal-to-quantization-noise
ratio of each block format on Gaussian data with outliers, and (2) for
MXFP8-E4M3 and MXFP4 block dot products, the mean and max relative error of
the aligned-and-truncated sum (``align_bits`` W) against the exact one (relative
to ``sum |a_i b_i|``), and
how often the fp32 result differs at all.  Seeded; takes about a minute.
"""

from __future__ import annotations

import time

import numpy as np

from hw import formats as F
from hw.formats import block

FP32 = F.get("fp32")


def snr_table(rng):
    x = rng.standard_normal((256, 1024))
    x[rng.random(x.shape) < 0.001] *= 50.0  # rare outliers, as activations have
    x = x.astype(np.float32)
    print(f"{'format':<12} {'bits/elem':>9} {'SQNR dB':>8} {'SQNR dB (ceil)':>15}")
    for name in ["mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e3m2", "mxfp6_e2m3", "mxfp4", "mxint8", "nvfp4"]:
        fmt = F.get(name)
        row = []
        for rule in (None, "ceil"):
            d = block.quantize(fmt, x, rule=rule).dequantize()
            row.append(10 * np.log10(np.sum(x.astype(np.float64) ** 2) / np.sum((d - x) ** 2)))
        print(f"{name:<12} {fmt.bits_per_element:>9g} {row[0]:>8.2f} {row[1]:>15.2f}")


def alignment_table(rng):
    print(f"\n{'format':<12} {'W':>4} {'mean err/sum|ab|':>17} {'max':>10} {'results changed':>16}")
    for name in ["mxfp8_e4m3", "mxfp4"]:
        fmt = F.get(name)
        x = rng.standard_normal((2, 20000, fmt.block_size))
        qa, qb = block.quantize(fmt, x[0]), block.quantize(fmt, x[1])
        args = (fmt, qa.elements, qa.scales[:, 0], qb.elements, qb.scales[:, 0], np.zeros(20000, np.uint32), FP32)
        exact_codes = block.block_dot(*args)
        exact = FP32.decode(exact_codes)
        magnitude = np.sum(np.abs(qa.dequantize() * qb.dequantize()), axis=-1)  # sum |a_i b_i|: the error's natural unit
        for w in (4, 8, 12, 16, 24, 32):
            codes = block.block_dot(*args, align_bits=w)
            rel = np.abs(FP32.decode(codes) - exact) / np.maximum(magnitude, 1e-30)
            print(f"{name:<12} {w:>4} {rel.mean():>17.3e} {rel.max():>10.3e} {np.mean(codes != exact_codes):>15.2%}")


def main():
    start = time.perf_counter()
    rng = np.random.default_rng(2026)
    snr_table(rng)
    alignment_table(rng)
    print(f"\n({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
