"""Tile size and warps of the block quantize/dequantize kernels against the copy bandwidth (CUDA; an experiment).

``python benchmarks/tune_block_tiles.py [--json FILE]``: for MXFP8 and NVFP4 (bf16 in, 2**28 elements), every
(elements per program, warps) pair; prints GB/s and the share of the copy bandwidth.
"""

from __future__ import annotations

import argparse
import json
import sys

import torch

from gpu_ref import kernels, peaks
from hw import formats


class _Warps:
    """A Triton kernel launched with ``num_warps`` set."""

    def __init__(self, kernel, warps):
        self.kernel, self.warps = kernel, warps

    def __getitem__(self, grid):
        return lambda *args, **kw: self.kernel[grid](*args, num_warps=self.warps, **kw)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json")
    args = p.parse_args(argv)
    if not kernels.available():
        print("error: needs CUDA and Triton", file=sys.stderr)
        return 2
    x = torch.randn(1 << 15, 1 << 13, device="cuda").to(torch.bfloat16)
    n = x.numel()
    copy = peaks.copy_bandwidth_gbs()
    tile, quant, dequant = kernels._tile_shape, kernels._block_quant_kernel, kernels._block_dequant_kernel
    rows = []
    for name in ("mxfp8_e4m3", "nvfp4"):
        fmt = formats.get(name)
        coded = n * fmt.element.width // 8 + n // fmt.block_size
        ts = kernels.tensor_scale(fmt, x) if fmt.tensor_scale else None
        for elements in (2048, 4096, 8192, 16384):
            for warps in (4, 8, 16):
                kernels._tile_shape = lambda f, two_d, k, e=None, _n=elements: tile(f, two_d, k, _n)
                kernels._block_quant_kernel = _Warps(quant, warps)
                kernels._block_dequant_kernel = _Warps(dequant, warps)
                codes, scales, ts_ = kernels.block_quantize(fmt, x, ts=ts)
                q = peaks.time_ms(lambda: kernels.block_quantize(fmt, x, ts=ts))
                d = peaks.time_ms(lambda: kernels.block_dequantize(fmt, codes, scales, ts_, x.shape[1],
                                                                   dtype=torch.bfloat16))
                row = {"format": name, "elements": elements, "warps": warps,
                       "quantize_gbs": round((2 * n + coded) / q / 1e6, 1),
                       "dequantize_gbs": round((2 * n + coded) / d / 1e6, 1)}
                row["quantize_of_copy"] = round(row["quantize_gbs"] / copy, 3)
                row["dequantize_of_copy"] = round(row["dequantize_gbs"] / copy, 3)
                rows.append(row)
                print(row, flush=True)
    kernels._tile_shape, kernels._block_quant_kernel, kernels._block_dequant_kernel = tile, quant, dequant
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"gpu": torch.cuda.get_device_name(0), "copy_gbs": round(copy, 1), "rows": rows}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
