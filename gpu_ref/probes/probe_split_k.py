"""Find the split-K structure of ``torch._scaled_mm`` with fast accumulation on long reductions (CUDA only).

``python gpu_ref/probes/probe_split_k.py OUTDIR``.  ``probe_long_k.py`` showed
that with ``use_fast_accum=True`` the H100 FP8 model stops matching past
K = 5120 for small outputs (M = N <= 256) and that the GPU's result is then
the model run on contiguous parts of K from +0, summed in fp32.  This probe
searches, per (M = N, K), for the number of parts S (2..32) and their size
granularity G (parts of ``ceil(K / S / G) * G`` elements, the last one
shorter) and reduction order (serial, reversed, pairwise tree) that match
every element of a 64 x 64 corner bit for bit.  Writes ``split_k.json``.
"""

from __future__ import annotations

import datetime
import json
import sys
import time
from pathlib import Path

import torch

from hw import formats
from hw.formats.tensorcore import H100_FP8
from gpu_ref.tensorcore import dot

SIZES = (16, 128, 256, 512)
KS = (5120, 5632, 6144, 7168, 8192, 10240, 12288, 16384, 20480, 24576, 32768, 49152, 65536)
CORNER = 64


def reductions(pieces: list[torch.Tensor]) -> dict[str, torch.Tensor]:
    serial = pieces[0]
    for piece in pieces[1:]:
        serial = serial + piece
    backwards = pieces[-1]
    for piece in reversed(pieces[:-1]):
        backwards = backwards + piece
    level = pieces
    while len(level) > 1:
        level = [level[i] + level[i + 1] if i + 1 < len(level) else level[i] for i in range(0, len(level), 2)]
    return {"serial": serial, "reversed": backwards, "tree": level[0]}


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    gen = torch.Generator(device="cuda").manual_seed(20261125)
    e4m3 = formats.get("e4m3")
    one = torch.tensor(1.0, device="cuda")
    rows, started = [], time.time()
    for size in SIZES:
        for k in KS:
            a = torch.randn(size, k, generator=gen, device="cuda").to(torch.float8_e4m3fn)
            b = torch.randn(size, k, generator=gen, device="cuda").to(torch.float8_e4m3fn)
            gpu = torch._scaled_mm(a, b.t(), scale_a=one, scale_b=one, out_dtype=torch.float32,
                                   use_fast_accum=True)[:CORNER, :CORNER].view(torch.int32)
            ca, cb = a[:CORNER].view(torch.uint8).long(), b[:CORNER].view(torch.uint8).long()
            row = {"m": size, "n": size, "k": k, "unsplit": float((dot(H100_FP8, e4m3, e4m3, ca, cb).view(torch.int32)
                                                                   == gpu).float().mean())}
            found, best = [], 0.0
            if row["unsplit"] < 1 and time.time() - started < 480:  # leave time to write what was found
                for parts in range(2, 33):
                    seen = set()
                    for grain in (1024, 512, 256, 128, 64, 32, 16):
                        step = -(-k // parts // grain) * grain
                        bounds = tuple((s, min(s + step, k)) for s in range(0, k, step))
                        if len(bounds) != parts or bounds in seen:
                            continue
                        seen.add(bounds)
                        pieces = [dot(H100_FP8, e4m3, e4m3, ca[:, s:e], cb[:, s:e]) for s, e in bounds]
                        for order, result in reductions(pieces).items():
                            rate = float((result.view(torch.int32) == gpu).float().mean())
                            best = max(best, rate)
                            if rate == 1.0:
                                found.append({"parts": parts, "grain": grain, "part_k": step, "order": order})
                    if found:
                        break
            row["found"], row["best_rate"] = found, best
            rows.append(row)
            print(json.dumps(row), flush=True)
            meta = {"date": datetime.date.today().isoformat(), "gpu": torch.cuda.get_device_name(0),
                    "torch": torch.__version__, "cuda": torch.version.cuda, "corner": CORNER,
                    "call": "torch._scaled_mm(a, b.t(), 1, 1, out_dtype=float32, use_fast_accum=True)",
                    "seconds": round(time.time() - started, 1), "rows": rows}
            (out / "split_k.json").write_text(json.dumps(meta, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
