"""Throughput of the reference on a GPU: achieved GB/s of the MX/NVFP4 quantizers, the dequantizer and the
emulated tensor-core dot product, against the device-to-device copy bandwidth measured in the same run.

``python -m gpu_ref.bench [--elements N] [--json FILE]`` (CUDA).  Bytes counted
are the ones a kernel must move: float32 in plus codes (one byte per
element, as stored here) and scales out for a quantizer; the reverse plus
float32 out for the dequantizer; operand codes in and fp32 results out for
the dot product.  These are the PyTorch/Triton reference paths, not tuned
kernels: the ratio to the copy says how far they are from memory-bound.
"""

from __future__ import annotations

import argparse
import sys

import torch

from hw import formats
from hw.formats.tensorcore import H100_FP8

from . import block, numerics, peaks, tensorcore


def measure(elements: int) -> dict:
    x = torch.randn(elements // 64, 64, device="cuda")
    out = {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__, "elements": elements,
           "copy_gbs": peaks.copy_bandwidth_gbs(), "kernels": {}}
    for name in ("mxfp8_e4m3", "mxfp4", "nvfp4"):
        fmt = formats.get(name)
        nbytes = x.numel() * 5 + x.numel() // fmt.block_size
        ms = peaks.time_ms(lambda: block.quantize(fmt, x), repeat=5, warmup=1)
        out["kernels"][f"quantize_{name}"] = {"ms": ms, "gbs": nbytes / ms / 1e6}
        e, s, ts = block.quantize(fmt, x)
        ms = peaks.time_ms(lambda: block.dequantize(fmt, e, s, ts), repeat=5, warmup=1)
        out["kernels"][f"dequantize_{name}"] = {"ms": ms, "gbs": nbytes / ms / 1e6}
    e3m2 = formats.get("e3m2")
    ms = peaks.time_ms(lambda: numerics.encode_float(e3m2, x), repeat=5, warmup=1)
    out["kernels"]["encode_e3m2_triton"] = {"ms": ms, "gbs": x.numel() * 5 / ms / 1e6}
    e4 = formats.get("e4m3")
    a = torch.randn(2048, 1024, device="cuda").to(torch.float8_e4m3fn).view(torch.uint8).long()
    b = torch.randn(2048, 1024, device="cuda").to(torch.float8_e4m3fn).view(torch.uint8).long()
    ms = peaks.time_ms(lambda: tensorcore.dot(H100_FP8, e4, e4, a, b), repeat=3, warmup=1)
    out["kernels"]["tensorcore_dot_2048x2048x1024"] = {"ms": ms, "gbs": (2 * 2048 * 1024 + 4 * 2048 * 2048) / ms / 1e6,
                                                        "dots_per_s": 2048 * 2048 / ms * 1e3}
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m gpu_ref.bench", description=__doc__.splitlines()[0])
    p.add_argument("--elements", type=int, default=1 << 26, help="float32 elements quantized (default 2**26)")
    p.add_argument("--json", help="also write the figures to this JSON file")
    args = p.parse_args(argv)
    return peaks.emit("gpu_ref.bench", lambda: measure(args.elements), args.json)


if __name__ == "__main__":
    sys.exit(main())
