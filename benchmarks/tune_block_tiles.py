"""Tile size and warps of the block quantize/dequantize kernels against the copy bandwidth (CUDA; an experiment).

``python benchmarks/tune_block_tiles.py [--json FILE]``: MXFP8 (general kernel: every elements-per-program x
warps pair; its fp8 dequantizer: blocks per program, half of each, 16 elements a thread) and NVFP4 /
MXFP4 (the E2M1 pair kernels: elements per program, one block per thread), bf16 in, 2**28 elements;
prints GB/s and the share of the copy bandwidth measured in the same run.  The defaults in :mod:`gpu_ref.kernels` came from it.
It varies the kernels' private tile settings, which is why it is an experiment and not part of the package.
"""

from __future__ import annotations

import argparse
import json
import sys

import torch

from gpu_ref import kernels, peaks
from hw import formats


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
    rows = []

    def measure(fmt, setting, ts=None):
        coded = n * fmt.element.width // 8 + n // fmt.block_size
        codes, scales, ts_ = kernels.block_quantize(fmt, x, ts=ts)
        q = peaks.time_ms(lambda: kernels.block_quantize(fmt, x, ts=ts))
        d = peaks.time_ms(lambda: kernels.block_dequantize(fmt, codes, scales, ts_, x.shape[1], dtype=torch.bfloat16))
        row = {"format": fmt.name, **setting, "quantize_gbs": round((2 * n + coded) / q / 1e6, 1),
               "dequantize_gbs": round((2 * n + coded) / d / 1e6, 1)}
        row["quantize_of_copy"] = round(row["quantize_gbs"] / copy, 3)
        row["dequantize_of_copy"] = round(row["dequantize_gbs"] / copy, 3)
        rows.append(row)
        print(row, flush=True)

    tile, pair_elements, fp8_blocks = kernels._tile_shape, kernels._PAIR_ELEMENTS, kernels._FP8_DEQUANT_BLOCKS
    fmt = formats.get("mxfp8_e4m3")
    for elements in (2048, 4096, 8192, 16384):
        for warps in (4, 8, 16):
            kernels._tile_shape = lambda f, two_d, k, e=None, _n=elements, _w=warps: tile(f, two_d, k, _n)[:2] + (_w,)
            measure(fmt, {"elements": elements, "warps": warps})
    kernels._tile_shape = tile
    for blocks in (128, 256, 512):
        kernels._FP8_DEQUANT_BLOCKS = blocks
        measure(fmt, {"dequantize_blocks": blocks})
    kernels._FP8_DEQUANT_BLOCKS = fp8_blocks
    for name in ("nvfp4", "mxfp4"):
        fmt = formats.get(name)
        ts = kernels.tensor_scale(fmt, x) if fmt.tensor_scale else None
        for elements in (1024, 2048, 4096, 8192):
            kernels._PAIR_ELEMENTS = elements
            measure(fmt, {"elements": elements}, ts)
    kernels._PAIR_ELEMENTS = pair_elements
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"gpu": torch.cuda.get_device_name(0), "copy_gbs": round(copy, 1), "rows": rows}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
