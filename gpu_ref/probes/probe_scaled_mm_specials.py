"""Probe what the FP8 tensor-core model cannot learn from random matrices (CUDA only).

``python gpu_ref/probes/probe_scaled_mm_specials.py OUT.npz`` records raw
``torch._scaled_mm`` results (fp32/bf16 bit patterns) for: NaN operands, E5M2
infinities (also Inf - Inf and Inf * 0), signed zeros and exact cancellation,
tensorwise scales that are not powers of two or push results to fp32
subnormals and overflow, rowwise scales, and bf16 outputs.  Each case stores
its operand codes, scales and results under a common key prefix, so the model
can be checked offline.
"""

from __future__ import annotations

import sys

import numpy as np
import torch

E4, E5 = torch.float8_e4m3fn, torch.float8_e5m2


def codes(values, dtype) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32).to(dtype)


def run(store, key, a, b, scale_a=1.0, scale_b=1.0, out=torch.float32):
    """C = a @ b.T with both accumulation modes; a (M, K), b (N, K) fp8."""
    sa = scale_a if isinstance(scale_a, torch.Tensor) else torch.tensor(scale_a)
    sb = scale_b if isinstance(scale_b, torch.Tensor) else torch.tensor(scale_b)
    store[f"{key}_a"] = a.view(torch.uint8).numpy()
    store[f"{key}_b"] = b.view(torch.uint8).numpy()
    store[f"{key}_sa"] = sa.float().numpy()
    store[f"{key}_sb"] = sb.float().numpy()
    for fast in (False, True):
        try:
            c = torch._scaled_mm(a.cuda(), b.cuda().t(), scale_a=sa.float().cuda(), scale_b=sb.float().cuda(),
                                 out_dtype=out, use_fast_accum=fast).cpu()
            store[f"{key}_c{int(fast)}"] = (c.view(torch.int32).numpy().view(np.uint32) if out == torch.float32
                                            else c.view(torch.int16).numpy().view(np.uint16))
        except (RuntimeError, ValueError) as e:
            print(f"{key} fast={fast}: {str(e).splitlines()[0]}", file=sys.stderr)


def padded(rows, k=32, dtype=E4):
    """Matrix of 16 x k with the given rows (lists of values) padded by zeros (16 rows: the kernel minimum)."""
    out = torch.zeros(16, k)
    for i, r in enumerate(rows):
        out[i, :len(r)] = torch.tensor(r, dtype=torch.float32)
    return out.to(dtype)


def main(path):
    store = {}
    gen = torch.Generator().manual_seed(7)
    nan, inf = float("nan"), float("inf")
    # Specials: rows of A against B = ones (E4M3) or chosen E5M2 rows.
    rows = [[nan, 1.0], [1.0] * 5 + [nan], [-0.0] * 32, [0.0] * 32, [2.0, -2.0], [-2.0, 2.0],
            [-0.0, 0.0], [448.0, -448.0, 1.0, -1.0], [-1.0, 1.0] * 16, [2.0 ** -9, -(2.0 ** -9)],
            [-(2.0 ** -9)], [-0.0] * 31 + [-(2.0 ** -9)]]
    ones = padded([[1.0] * 32] * 16)
    run(store, "specials_e4", padded(rows), ones)
    b5 = padded([[inf] + [1.0] * 31, [-inf] + [1.0] * 31, [inf, -inf] + [1.0] * 30, [0.0] * 32,
                 [nan] + [1.0] * 31, [inf] * 32], dtype=E5)
    a4 = padded([[1.0] * 32, [0.0] + [1.0] * 31, [-1.0] * 32, [2.0 ** -9] * 32], dtype=E4)
    run(store, "specials_e5", a4, b5)
    # Scales (tensorwise): not powers of two, and towards fp32 subnormals and overflow.
    a = torch.randn(64, 64, generator=gen).to(E4)
    b = torch.randn(64, 64, generator=gen).to(E4)
    for i, (sa, sb) in enumerate([(3.0, 5.0), (0.1, 7.0), (1.7, 0.3), (1e-20, 1e-20), (2.0 ** -70, 2.0 ** -70),
                                   (1e-30, 1e-15), (1e20, 1e20), (3e19, 3e19), (1.0, 1e-40)]):
        run(store, f"scale{i}", a, b, sa, sb)
    # Rowwise scales, fp32 and bf16 outputs; tensorwise with bf16 output.
    sa = torch.rand(64, 1, generator=gen) + 0.5
    sb = torch.rand(1, 64, generator=gen) + 0.5
    run(store, "rowwise_f32", a, b, sa, sb)
    run(store, "rowwise_bf16", a, b, sa, sb, out=torch.bfloat16)
    run(store, "tensor_bf16", a, b, 1.0, 1.0, out=torch.bfloat16)
    run(store, "tensor_bf16s", a, b, 0.37, 1.9, out=torch.bfloat16)
    np.savez_compressed(path, **store)


if __name__ == "__main__":
    main(sys.argv[1])
