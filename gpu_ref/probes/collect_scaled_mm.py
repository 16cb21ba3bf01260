"""Record raw FP8 matrix products of the GPU for offline fitting of the tensor-core model.

``python gpu_ref/probes/collect_scaled_mm.py OUTDIR`` (CUDA only) writes one
``.npz`` per operand distribution: for each K, the operand codes (A: M x K,
B: N x K, uint8) and ``torch._scaled_mm`` results (fp32 bit patterns) with unit
scales, ``use_fast_accum`` False and True; plus ``meta.json`` (date, GPU,
torch and CUDA versions).  Distributions: ``normal``; ``wide`` (exponents spread
over 2^-12..2^8); ``cancel`` (odd lanes nearly negate even ones); ``mixed``
(E4M3 A, E5M2 B) and ``mixed_ba`` (E5M2 A, E4M3 B).  (E5M2 x E5M2 is refused
by torch 2.11: "Multiplication of two Float8_e5m2 matrices is not supported".)
"""

from __future__ import annotations

import datetime
import json
import sys
from pathlib import Path

import numpy as np
import torch

M = N = 256
KS = (16, 32, 48, 64, 128, 256, 512, 1024)


def operand(dist: str, rows: int, k: int, dtype, gen) -> torch.Tensor:
    x = torch.randn(rows, k, generator=gen)
    if dist == "wide":
        x = x * torch.exp2(torch.randint(-12, 9, (rows, k), generator=gen).float())
    elif dist == "cancel":
        jitter = 1 + 2.0 ** -4 * torch.randint(-1, 2, (rows, k // 2), generator=gen).float()
        x[:, 1::2] = -x[:, 0::2] * jitter
    limit = torch.finfo(dtype).max
    return x.clamp(-limit, limit).to(dtype)


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    gen = torch.Generator().manual_seed(2026)
    one = torch.tensor(1.0, device="cuda")
    e4, e5 = torch.float8_e4m3fn, torch.float8_e5m2
    for dist, (ta, tb) in {"normal": (e4, e4), "wide": (e4, e4), "cancel": (e4, e4),
                           "mixed": (e4, e5), "mixed_ba": (e5, e4)}.items():
        arrays = {}
        for k in KS:
            a = operand("normal" if dist.startswith("mixed") else dist, M, k, ta, gen)
            b = operand("normal" if dist.startswith("mixed") else dist, N, k, tb, gen)
            arrays[f"a_k{k}"] = a.view(torch.uint8).numpy()
            arrays[f"b_k{k}"] = b.view(torch.uint8).numpy()
            for fast in (False, True):
                try:
                    c = torch._scaled_mm(a.cuda(), b.cuda().t(), scale_a=one, scale_b=one, out_dtype=torch.float32,
                                         use_fast_accum=fast)
                    arrays[f"c_k{k}_fast{int(fast)}"] = c.cpu().view(torch.int32).numpy().view(np.uint32)
                except (RuntimeError, ValueError) as e:  # e.g. a dtype pairing the GPU does not run
                    print(f"{dist} K={k} fast={fast}: {str(e).splitlines()[0]}", file=sys.stderr)
        np.savez_compressed(out / f"scaled_mm_{dist}.npz", **arrays)
    props = torch.cuda.get_device_properties(0)
    meta = {"date": datetime.date.today().isoformat(), "gpu": props.name, "torch": torch.__version__,
            "cuda": torch.version.cuda, "M": M, "N": N, "K": list(KS), "scales": "unit",
            "call": "torch._scaled_mm(a, b.t(), scale_a=1, scale_b=1, out_dtype=float32, use_fast_accum=...)"}
    (out / "meta.json").write_text(json.dumps(meta, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
