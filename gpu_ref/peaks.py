"""Measured peaks of the GPU: device-memory bandwidth and dense bf16 / fp8 matrix throughput.

``python -m gpu_ref.peaks [--size N] [--json FILE]`` (CUDA only) times, with
CUDA events (median of repeated runs after warm-up):

* a device-to-device copy of 1 GiB: bandwidth = bytes read + written per second;
* ``torch.mm`` of N x N bf16 matrices: 2 N^3 FLOP per call;
* ``torch._scaled_mm`` of N x N E4M3 matrices, fp32-scale, bf16 output, with
  ``use_fast_accum`` off and on.

These are the denominators for achieved bandwidth (``gpu_ref.bench``) and
model FLOP utilisation (training), measured in the same run as what they divide.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import torch

from hw.files import write_atomic


def time_ms(fn, repeat: int = 20, warmup: int = 5) -> float:
    """Median GPU time of ``fn()`` on the current CUDA stream, in milliseconds: the calls are queued back to back
    between CUDA events, with no synchronisation until the last, so that the host's time to launch them is
    hidden wherever it is shorter than the GPU's (:func:`host_us` measures it)."""
    _check_count("repeat", repeat, 1)
    _check_count("warmup", warmup, 0)
    for _ in range(warmup):
        fn()
    events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(repeat)]
    torch.cuda.synchronize()
    for start, end in events:
        start.record()
        fn()
        end.record()
    torch.cuda.synchronize()
    times = sorted(start.elapsed_time(end) for start, end in events)
    return times[len(times) // 2]


def host_us(fn, repeat: int = 50) -> float:
    """Mean host time of one ``fn()`` call in microseconds (what a caller waits before its next line)."""
    _check_count("repeat", repeat, 1)
    fn()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    elapsed = time.perf_counter() - start
    torch.cuda.synchronize()
    return elapsed / repeat * 1e6


def _check_count(name: str, value, least: int):
    if not isinstance(value, int) or isinstance(value, bool) or value < least:
        raise ValueError(f"{name} must be an integer >= {least}, not {value!r}")


def copy_bandwidth_gbs(nbytes: int = 1 << 30) -> float:
    """Device-to-device copy bandwidth in GB/s (10^9 bytes), counting bytes read plus written."""
    src = torch.empty(nbytes, dtype=torch.uint8, device="cuda")
    dst = torch.empty_like(src)
    ms = time_ms(lambda: dst.copy_(src))
    return 2 * nbytes / ms / 1e6


def matmul_tflops(size: int = 8192) -> dict:
    """Dense matrix throughput (TFLOP/s) for bf16 and E4M3 (fast accumulation off/on)."""
    a = torch.randn(size, size, device="cuda").to(torch.bfloat16)
    b = torch.randn(size, size, device="cuda").to(torch.bfloat16)
    flop = 2 * size ** 3
    out = {"bf16": flop / time_ms(lambda: torch.mm(a, b)) / 1e9}
    a8, b8 = a.to(torch.float8_e4m3fn), b.t().contiguous().to(torch.float8_e4m3fn)
    one = torch.tensor(1.0, device="cuda")
    for fast in (False, True):
        ms = time_ms(lambda: torch._scaled_mm(a8, b8.t(), scale_a=one, scale_b=one, out_dtype=torch.bfloat16,
                                              use_fast_accum=fast))
        out[f"fp8_e4m3{'_fast' if fast else ''}"] = flop / ms / 1e9
    return out


def measure(size: int = 8192) -> dict:
    props = torch.cuda.get_device_properties(0)
    return {"gpu": props.name, "torch": torch.__version__, "cuda": torch.version.cuda,
            "copy_gbs": copy_bandwidth_gbs(), "matmul_size": size, "tflops": matmul_tflops(size)}


def emit(prog: str, figures, json_path: str | None) -> int:
    """The measuring commands' ending: ``figures()`` printed as JSON and, with ``json_path``, written there
    (atomically); status 2 with one line when there is no CUDA GPU to measure."""
    if not torch.cuda.is_available():
        print(f"error: {prog} measures a CUDA GPU and none is available", file=sys.stderr)
        return 2
    text = json.dumps(figures(), indent=1)
    print(text)
    if json_path:
        write_atomic(json_path, text + "\n")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gpu_ref.peaks", description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=8192, help="matrix size N (default 8192)")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    return emit("gpu_ref.peaks", lambda: measure(args.size), args.json)


if __name__ == "__main__":
    sys.exit(main())
