"""Where an eager training step's time goes: wall time per step against the GPU's busy time, and the GPU
time by kernel family and the eight longest kernels, for bf16 and emulated precisions (CUDA).

``python benchmarks/profile_emulated_step.py --out FILE.json [--precisions bf16,mxfp8_e4m3,nvfp4]
[--width 1024]``: the decoder of ``bench_gpu_training.py`` (depth 4, seq 1024, batch 8), 3 warm-up steps
and 5 profiled ones under ``torch.profiler``.  A step whose GPU busy time is well below its wall time is
bound by the host (Python and kernel launches), which faster kernels do not shorten.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import torch

from gpu_ref import precisions
from gpu_ref.data import corpus, windows
from gpu_ref.loop import Config, next_byte_loss
from gpu_ref.model import Decoder
from hw.files import write_atomic

FAMILIES = (("quantize", ("_block_quant", "_encode_", "_amax", "_tensor_scale", "_decode_")),
            ("matmul", ("gemm", "sm90", "cutlass", "xmma", "nvjet")),)


def _family(name: str) -> str:
    for family, keys in FAMILIES:
        if any(key in name for key in keys):
            return family
    return "other"


def profile(precision: str, width: int, data) -> dict:
    cfg = Config(precision=precision, width=width, depth=4, heads=width // 128, seq=1024, batch=8)
    torch.manual_seed(0)
    model = Decoder(cfg).cuda()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    gen = torch.Generator().manual_seed(0)

    def step():
        batch = windows(data[0], cfg.batch, cfg.seq, gen).cuda(non_blocking=True)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = next_byte_loss(model, batch)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(3):
        step()
    torch.cuda.synchronize()
    steps = 5
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
        started = time.perf_counter()
        for _ in range(steps):
            step()
        torch.cuda.synchronize()
        wall = (time.perf_counter() - started) / steps
    gpu = {"quantize": 0.0, "matmul": 0.0, "other": 0.0}
    by_kernel = {}
    launches = 0
    for event in prof.events():
        if event.device_type == torch.autograd.DeviceType.CUDA:
            gpu[_family(event.name)] += event.device_time / 1e3 / steps
            by_kernel[event.name[:80]] = by_kernel.get(event.name[:80], 0.0) + event.device_time / 1e3 / steps
            launches += 1
    top = sorted(by_kernel.items(), key=lambda item: -item[1])[:8]
    return {"precision": precision, "width": width, "wall_ms": round(wall * 1e3, 3),
            "gpu_busy_ms": round(sum(gpu.values()), 3), "gpu_ms": {k: round(v, 3) for k, v in gpu.items()},
            "kernels_per_step": launches // steps, "top_kernels_ms": {name: round(ms, 3) for name, ms in top}}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--precisions", default="bf16,mxfp8_e4m3,nvfp4,posit8")
    p.add_argument("--width", type=int, default=1024)
    args = p.parse_args(argv)
    if args.width <= 0 or args.width % 128:
        print(f"error: --width must be a positive multiple of 128, not {args.width}", file=sys.stderr)
        return 2
    unknown = [name for name in args.precisions.split(",") if name not in precisions.PRECISIONS]
    if unknown:
        print(f"error: unknown precision {unknown[0]!r} in --precisions; valid: {', '.join(precisions.PRECISIONS)}",
              file=sys.stderr)
        return 2
    if not torch.cuda.is_available():
        print("error: profile_emulated_step needs a CUDA GPU", file=sys.stderr)
        return 2
    data = corpus()
    rows = []
    for precision in args.precisions.split(","):
        rows.append(profile(precision, args.width, data))
        print(rows[-1], flush=True)
        write_atomic(args.out, json.dumps({"device": torch.cuda.get_device_name(), "torch": torch.__version__,
                                           "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
