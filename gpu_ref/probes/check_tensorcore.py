"""Measure the tensor-core model against the GPU: bit-exact match rate of ``torch._scaled_mm`` (CUDA only).

``python gpu_ref/probes/check_tensorcore.py OUT.json`` draws random FP8
matrices of several shapes and value distributions (normal, wide exponent
range, cancelling pairs, heavy tails, values near the subnormals, both mixed
E4M3/E5M2 pairings), multiplies them with ``torch._scaled_mm`` (unit scales,
fp32 output, ``use_fast_accum`` True and False) and with the emulation of
:data:`hw.formats.tensorcore.H100_FP8` / ``H100_FP8_PROMOTED`` on the same
GPU, and writes the counts (and the first mismatches, if any) with the date,
GPU and versions.
"""

from __future__ import annotations

import datetime
import json
import sys

import torch

from hw import formats
from hw.formats.tensorcore import H100_FP8, H100_FP8_PROMOTED
from gpu_ref.tensorcore import dot

SHAPES = ((512, 512, 32), (512, 512, 160), (256, 256, 1008), (1024, 1024, 64), (512, 512, 4096))
DISTS = ("normal", "wide", "cancel", "heavy", "tiny", "mixed", "mixed_ba")


def operand(dist, rows, k, dtype, gen):
    x = torch.randn(rows, k, generator=gen, device="cuda")
    if dist == "wide":
        x = x * torch.exp2(torch.randint(-12, 9, (rows, k), generator=gen, device="cuda").float())
    elif dist == "cancel":
        x[:, 1::2] = -x[:, 0::2] * (1 + 2.0 ** -4 * torch.randint(-1, 2, (rows, k // 2), generator=gen, device="cuda"))
    elif dist == "heavy":
        x = x / torch.rand(rows, k, generator=gen, device="cuda").clamp(min=1e-3) ** 1.5
    elif dist == "tiny":
        x = x * 2.0 ** -7
    limit = torch.finfo(dtype).max
    return x.clamp(-limit, limit).to(dtype)


def main(path):
    gen = torch.Generator(device="cuda").manual_seed(20261122)
    e4, e5 = torch.float8_e4m3fn, torch.float8_e5m2
    names = {e4: formats.get("e4m3"), e5: formats.get("e5m2")}
    one = torch.tensor(1.0, device="cuda")
    report = {"date": datetime.date.today().isoformat(), "gpu": torch.cuda.get_device_name(0),
              "torch": torch.__version__, "cuda": torch.version.cuda, "cases": [], "compared": 0, "mismatches": 0}
    for m, n, k in SHAPES:
        for dist in DISTS:
            ta, tb = {"mixed": (e4, e5), "mixed_ba": (e5, e4)}.get(dist, (e4, e4))
            base = "normal" if dist.startswith("mixed") else dist
            a, b = operand(base, m, k, ta, gen), operand(base, n, k, tb, gen)
            for fast, spec in ((True, H100_FP8), (False, H100_FP8_PROMOTED)):
                gpu = torch._scaled_mm(a, b.t(), scale_a=one, scale_b=one, out_dtype=torch.float32, use_fast_accum=fast)
                model = dot(spec, names[ta], names[tb], a.view(torch.uint8).long(), b.view(torch.uint8).long())
                bad = (gpu.view(torch.int32) != model.view(torch.int32))
                case = {"m": m, "n": n, "k": k, "dist": dist, "fast_accum": fast, "compared": gpu.numel(),
                        "mismatches": int(bad.sum())}
                if case["mismatches"]:
                    i, j = (int(x) for x in bad.nonzero()[0])
                    case["first"] = {"row": i, "col": j, "gpu": hex(int(gpu.view(torch.int32)[i, j]) & 0xFFFFFFFF),
                                     "model": hex(int(model.view(torch.int32)[i, j]) & 0xFFFFFFFF)}
                report["cases"].append(case)
                report["compared"] += case["compared"]
                report["mismatches"] += case["mismatches"]
                print(case, flush=True)
    print(f"compared {report['compared']} dot products, {report['mismatches']} mismatches")
    with open(path, "w") as f:
        json.dump(report, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
