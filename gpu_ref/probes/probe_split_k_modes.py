"""Does the split-K model hold beyond square fp32 E4M3 products?  (CUDA only.)

``python gpu_ref/probes/probe_split_k_modes.py OUTDIR``: like ``probe_split_k.py``
(fast accumulation, 64 x 64 corner, first matching split of K into P parts of
``ceil(K/P/G)*G``), over non-square shapes, E4M3 x E5M2 operands, bf16
outputs and tensorwise / rowwise non-unit scales, through
:func:`gpu_ref.tensorcore.scaled_mm`.  Writes ``split_k_modes.json``.
"""

from __future__ import annotations

import datetime
import json
import sys
import time
from pathlib import Path

import torch

from hw import formats
from hw.formats.tensorcore import H100_FP8, split_parts
from gpu_ref.tensorcore import scaled_mm

CORNER = 64
#: (M, N, K, B's dtype, output dtype, scales)
CASES = [(m, n, k, b, out, scales)
         for m, n in ((64, 1024), (1024, 64), (16, 4096), (256, 128))
         for k in (4096, 8192, 16384)
         for b, out, scales in (("e4m3", "fp32", "unit"), ("e5m2", "fp32", "unit"), ("e4m3", "bf16", "tensor"),
                                ("e4m3", "fp32", "row"))]


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    gen = torch.Generator(device="cuda").manual_seed(20261126)
    dtypes = {"e4m3": torch.float8_e4m3fn, "e5m2": torch.float8_e5m2}
    outs = {"fp32": torch.float32, "bf16": torch.bfloat16}
    rows, started = [], time.time()
    for m, n, k, b_name, out_name, scales in CASES:
        a = torch.randn(m, k, generator=gen, device="cuda").to(torch.float8_e4m3fn)
        b = torch.randn(n, k, generator=gen, device="cuda").to(dtypes[b_name])
        if scales == "unit":
            sa, sb = torch.tensor(1.0, device="cuda"), torch.tensor(1.0, device="cuda")
        elif scales == "tensor":
            sa, sb = torch.tensor(0.37, device="cuda"), torch.tensor(1.9, device="cuda")
        else:
            sa = torch.rand(m, 1, generator=gen, device="cuda") + 0.5
            sb = torch.rand(1, n, generator=gen, device="cuda") + 0.5
        gpu = torch._scaled_mm(a, b.t(), scale_a=sa, scale_b=sb, out_dtype=outs[out_name],
                               use_fast_accum=True)[:CORNER, :CORNER]
        ca, cb = a[:CORNER].view(torch.uint8).long(), b[:CORNER].view(torch.uint8).long()
        rsa = sa if sa.numel() == 1 else sa.reshape(-1)[:CORNER]
        rsb = sb if sb.numel() == 1 else sb.reshape(-1)[:CORNER]
        fa, fb = formats.get("e4m3"), formats.get(b_name)

        def rate(split):
            model = scaled_mm(H100_FP8, fa, fb, ca, cb, rsa, rsb, out_dtype=outs[out_name], split_k=split)
            bits = torch.int32 if out_name == "fp32" else torch.int16
            return float((model.view(bits) == gpu.view(bits)).float().mean())

        row = {"m": m, "n": n, "k": k, "b": b_name, "out": out_name, "scales": scales, "unsplit": rate(None),
               "found": None}
        if row["unsplit"] < 1 and time.time() - started < 500:
            for parts in range(2, 33):
                for grain in (1024, 512, 256, 128):
                    try:
                        split = split_parts(k, parts, grain)
                    except ValueError:
                        continue
                    if rate(split) == 1.0:
                        row["found"] = {"parts": parts, "grain": grain}
                        break
                if row["found"]:
                    break
        rows.append(row)
        print(json.dumps(row), flush=True)
        meta = {"date": datetime.date.today().isoformat(), "gpu": torch.cuda.get_device_name(0),
                "torch": torch.__version__, "cuda": torch.version.cuda, "corner": CORNER, "fast_accum": True,
                "seconds": round(time.time() - started, 1), "rows": rows}
        (out / "split_k_modes.json").write_text(json.dumps(meta, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
