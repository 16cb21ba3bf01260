"""Where the H100 FP8 model stops matching ``torch._scaled_mm`` on long reductions, and candidate structures.

``python gpu_ref/probes/probe_long_k.py OUTDIR`` (CUDA only).  For square
outputs M = N in SIZES and K in KS, unit-normal E4M3 operands, both
``use_fast_accum`` modes, fp32 output and unit scales: the bit-exact match rate
of the emulation (:data:`H100_FP8` fast, :data:`H100_FP8_PROMOTED` otherwise)
on a 64 x 64 corner of the output (the library's kernel choice depends on the
whole shape; the model needs only those rows).  Where fast accumulation misses,
it also scores candidate structures on the same corner:

* ``splitS``: K cut into S contiguous equal parts, each part the model's
  result from +0, the parts summed in fp32 in order (split-K with a serial
  reduction);
* ``treeS``: the same parts summed pairwise (a tree reduction);
* ``chunkC``: the model restarted from +0 every C elements of K, the chunks
  accumulated in fp32 (periodic promotion to an fp32 accumulator).

Writes ``long_k.json`` (date, GPU, versions, one row per case) and
``long_k_samples.npz`` (operands and both outputs of a few shapes, for fitting
offline).
"""

from __future__ import annotations

import datetime
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from hw import formats
from hw.formats.tensorcore import H100_FP8, H100_FP8_PROMOTED
from gpu_ref.tensorcore import dot

SIZES = (16, 64, 256, 1024, 4096)
KS = (2048, 4096, 4112, 4128, 4160, 4224, 4352, 4608, 5120, 6144, 8192, 12288, 16384, 32768, 65536)
CORNER = 64
SAMPLES = {(64, 8192), (256, 16384), (1024, 32768)}


def _parts(total: int, count: int) -> list[tuple[int, int]]:
    size = -(-total // count)
    return [(start, min(start + size, total)) for start in range(0, total, size)]


def candidates(spec, fmt, a, b) -> dict[str, torch.Tensor]:
    """fp32 results of the candidate structures for code matrices ``a`` (m, K), ``b`` (n, K)."""
    k = a.shape[1]
    out = {}
    for count in (2, 4, 8, 16):
        pieces = [dot(spec, fmt, fmt, a[:, s:e], b[:, s:e]) for s, e in _parts(k, count)]
        serial = pieces[0]
        for piece in pieces[1:]:
            serial = serial + piece
        out[f"split{count}"] = serial
        level = pieces
        while len(level) > 1:
            level = [level[i] + level[i + 1] if i + 1 < len(level) else level[i] for i in range(0, len(level), 2)]
        out[f"tree{count}"] = level[0]
    for chunk in (1024, 2048, 4096):
        total = torch.zeros(a.shape[0], b.shape[0], dtype=torch.float32, device=a.device)
        for s in range(0, k, chunk):
            total = total + dot(spec, fmt, fmt, a[:, s:s + chunk], b[:, s:s + chunk])
        out[f"chunk{chunk}"] = total
    return out


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    gen = torch.Generator(device="cuda").manual_seed(20261124)
    e4m3 = formats.get("e4m3")
    one = torch.tensor(1.0, device="cuda")
    rows, samples = [], {}
    started = time.time()
    for size in SIZES:
        for k in KS:
            a = torch.randn(size, k, generator=gen, device="cuda").to(torch.float8_e4m3fn)
            b = torch.randn(size, k, generator=gen, device="cuda").to(torch.float8_e4m3fn)
            codes_a = a[:CORNER].view(torch.uint8).long()
            codes_b = b[:CORNER].view(torch.uint8).long()
            exact = (a[:CORNER].double() @ b[:CORNER].double().t())
            for fast, spec in ((True, H100_FP8), (False, H100_FP8_PROMOTED)):
                gpu = torch._scaled_mm(a, b.t(), scale_a=one, scale_b=one, out_dtype=torch.float32,
                                       use_fast_accum=fast)[:CORNER, :CORNER]
                model = dot(spec, e4m3, e4m3, codes_a, codes_b)
                match = float((gpu.view(torch.int32) == model.view(torch.int32)).float().mean())
                row = {"m": size, "n": size, "k": k, "fast_accum": fast, "compared": gpu.numel(), "match": match,
                       "gpu_mean_abs_error": float((gpu.double() - exact).abs().mean()),
                       "model_mean_abs_error": float((model.double() - exact).abs().mean())}
                if fast and match < 1.0:
                    for name, result in candidates(spec, e4m3, codes_a, codes_b).items():
                        row[name] = float((gpu.view(torch.int32) == result.view(torch.int32)).float().mean())
                rows.append(row)
                print(json.dumps(row), flush=True)
                if (size, k) in SAMPLES:
                    samples[f"c_m{size}_k{k}_fast{int(fast)}"] = gpu.cpu().view(torch.int32).numpy()
            if (size, k) in SAMPLES:
                samples[f"a_m{size}_k{k}"] = codes_a.cpu().numpy().astype(np.uint8)
                samples[f"b_m{size}_k{k}"] = codes_b.cpu().numpy().astype(np.uint8)
            meta = {"date": datetime.date.today().isoformat(), "gpu": torch.cuda.get_device_name(0),
                    "torch": torch.__version__, "cuda": torch.version.cuda, "corner": CORNER,
                    "call": "torch._scaled_mm(a, b.t(), scale_a=1, scale_b=1, out_dtype=float32, use_fast_accum=...)",
                    "operands": "unit-normal values cast to E4M3", "seconds": round(time.time() - started, 1),
                    "rows": rows}
            (out / "long_k.json").write_text(json.dumps(meta, indent=1))  # checkpoint after every shape
    np.savez_compressed(out / "long_k_samples.npz", **samples)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
