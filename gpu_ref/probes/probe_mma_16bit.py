"""The H100's fp16, bf16 and tf32 matrix products against the published-data specs, and the PyTorch emulation
of every spec against the golden model, on the GPU.

``python gpu_ref/probes/probe_mma_16bit.py OUT.json`` (CUDA only).  Three paths compute ``a @ b.T`` for M = N
= 1024 (10^6 dot products per case) and several K, operands drawn unit-normal with exponents spread over
2^-8..2^8 and rounded into the input format:

* ``cublas``: ``torch.matmul`` with an fp16/bf16 result (fp32 accumulation rounded to nearest even in the
  epilogue; reduced-precision reductions off) and, where torch has it, ``torch.mm(..., out_dtype=float32)``;
  tf32: ``torch.matmul`` on fp32 tensors of tf32 values with ``allow_tf32``;
* ``triton``: one ``tl.dot`` K loop with an fp32 accumulator (wgmma on Hopper), 128 x 128 x 64 tiles.

Each result is compared bit for bit with :func:`gpu_ref.tensorcore.mma` of the spec (``h100_fp16``,
``h100_bf16``, ``h100_tf32`` (steps of 8) and a step-4 variant) run on the GPU from +0.  Then every registered spec's
emulation on CUDA is compared with :func:`hw.formats.tensorcore.mma` (numpy, exact) on 32 x 32 outputs with
K = 3 steps and random accumulators.  Writes one JSON (date, GPU, versions, rows).
"""

from __future__ import annotations

import datetime
import json
import sys
import time
from dataclasses import replace

import numpy as np
import torch
import triton
import triton.language as tl

from hw import formats
from hw.formats import tensorcore
from gpu_ref.tensorcore import compare_with_golden, mma

SIZE = 1024
KS = (16, 64, 256, 1024, 4096)
TORCH = {"fp16": torch.float16, "bf16": torch.bfloat16, "tf32": torch.float32}


@triton.jit
def _matmul(a_ptr, b_ptr, c_ptr, M, N, K, BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr,
            TF32: tl.constexpr):
    rm = tl.program_id(0) * BM + tl.arange(0, BM)
    rn = tl.program_id(1) * BN + tl.arange(0, BN)
    rk = tl.arange(0, BK)
    acc = tl.zeros((BM, BN), dtype=tl.float32)
    for k in range(0, K, BK):
        a = tl.load(a_ptr + rm[:, None] * K + (k + rk)[None, :])
        b = tl.load(b_ptr + rn[None, :] * K + (k + rk)[:, None])
        if TF32:
            acc = tl.dot(a, b, acc, input_precision="tf32")
        else:
            acc = tl.dot(a, b, acc)
    tl.store(c_ptr + rm[:, None] * N + rn[None, :], acc)


def triton_mm(a, b):
    m, k = a.shape
    n = b.shape[0]
    out = torch.empty(m, n, dtype=torch.float32, device=a.device)
    bk = min(64, k)
    _matmul[(m // 128, n // 128)](a, b, out, m, n, k, BM=128, BN=128, BK=bk, TF32=a.dtype == torch.float32,
                                  num_warps=8)
    return out


def operands(fmt, shape, gen):
    x = torch.randn(shape, generator=gen, device="cuda", dtype=torch.float64)
    x = x * torch.exp2(torch.randint(-8, 9, shape, generator=gen, device="cuda").double())
    if fmt.name == "tf32":  # round to nearest even into tf32: fp32 bits, 13 low bits cut
        bits = x.float().view(torch.int32).long()
        bits = (bits + 0xFFF + ((bits >> 13) & 1)) & ~0x1FFF
        return bits.to(torch.int32).view(torch.float32)
    return x.to(TORCH[fmt.name])


def codes(fmt, values):
    if fmt.name == "tf32":
        return (values.view(torch.int32).long() & 0xFFFFFFFF) >> 13
    return values.view(torch.int16).long() & 0xFFFF


def bits(x):
    return x.view(torch.int32) if x.dtype == torch.float32 else x.view(torch.int16)


def hardware_rows(gen):
    torch.backends.cuda.matmul.allow_fp16_reduced_precision_reduction = False
    torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction = False
    torch.backends.cuda.matmul.allow_tf32 = True
    rows = []
    for name in ("fp16", "bf16", "tf32"):
        fmt = formats.get(name)
        spec = tensorcore.get_spec(f"h100_{name}")
        variants = {spec.name: spec}
        if name == "tf32":
            variants["h100_tf32_step4"] = replace(spec, name="h100_tf32_step4", step=4)
        for k in KS:
            a, b = operands(fmt, (SIZE, k), gen), operands(fmt, (SIZE, k), gen)
            paths = {"triton": triton_mm(a, b)}
            if name == "tf32":
                paths["cublas_fp32"] = torch.matmul(a, b.T)
            else:
                paths[f"cublas_{name}"] = torch.matmul(a, b.T)
                try:
                    paths["cublas_fp32"] = torch.mm(a, b.T, out_dtype=torch.float32)
                except (TypeError, RuntimeError) as e:
                    print(f"torch.mm out_dtype: {e}", flush=True)
            models = {vname: mma(v, fmt, fmt, codes(fmt, a), codes(fmt, b)) for vname, v in variants.items()}
            for path, got in paths.items():
                for vname, acc in models.items():
                    want = acc.to(got.dtype)  # fp32 accumulator rounded to nearest even into the output
                    same = (bits(got) == bits(want))
                    rows.append({"input": name, "k": k, "path": path, "out": str(got.dtype).replace("torch.", ""),
                                 "spec": vname, "dot_products": int(same.numel()), "matched": int(same.sum())})
                    print(rows[-1], flush=True)
    return rows


def emulation_rows(rng):
    rows = []
    for name, spec in tensorcore.SPECS.items():
        for inp in spec.inputs:
            matched, total = compare_with_golden(spec, formats.get(inp), rng, 32, "cuda")
            rows.append({"spec": name, "input": inp, "dot_products": total, "matched": matched})
    print(f"emulation: {sum(r['matched'] == r['dot_products'] for r in rows)} of {len(rows)} specs x inputs exact",
          flush=True)
    return rows


def main(out):
    start = time.time()
    gen = torch.Generator(device="cuda").manual_seed(2026)
    result = {"date": datetime.date.today().isoformat(), "device": torch.cuda.get_device_name(),
              "torch": torch.__version__, "triton": triton.__version__, "cuda": torch.version.cuda,
              "cublas_note": "allow_fp16/bf16_reduced_precision_reduction = False, allow_tf32 = True",
              "hardware": hardware_rows(gen), "emulation": emulation_rows(np.random.default_rng(7))}
    result["seconds"] = round(time.time() - start, 1)
    with open(out, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
