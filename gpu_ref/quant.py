"""The quantizers the training uses, dispatched: Triton kernels on CUDA (:mod:`gpu_ref.kernels`), the PyTorch
reference elsewhere; both give the same bits (tested on CUDA by ``tests/test_kernels.py``).

Block formats return ``element * block scale`` and the tensor scale apart, so
that a matmul of two quantized operands runs on exact bf16 values and the
fp32 tensor scales multiply its result; elementwise formats (posits, LNS)
return the format's values of ``x / scale`` for a power-of-two ``scale``.
"""

from __future__ import annotations

import torch

from hw.formats import BlockFormat, PositFormat

from . import block, kernels
from . import lns as glns
from . import numerics

__all__ = ["block_fake_quantize", "elementwise_fake_quantize", "pow2_rms_scale", "bf16_parts"]


def _use_kernels(x: torch.Tensor) -> bool:
    return x.is_cuda and kernels.available()


def block_fake_quantize(fmt: BlockFormat, x: torch.Tensor, rht_seed: int | None = None, two_d: bool = False,
                        rounding: str = "rne", seed: int = 0, dtype=torch.bfloat16):
    """``(values, ts)``: ``x`` (2-D, blocks along the last axis; after the 16-point RHT with ``rht_seed``)
    quantized and dequantized to ``element * block scale`` in ``dtype``; ``ts`` the fp32 tensor scale (a
    1-element tensor; 1 for MX)."""
    if _use_kernels(x):
        return kernels.block_quantize(fmt, x, rounding=rounding, seed=seed, two_d=two_d, rht_seed=rht_seed,
                                      values=True, dtype=dtype)
    x = block.rht16(x, rht_seed) if rht_seed is not None else x.float()
    values, ts = block.fake_quantize(fmt, x, None, rounding, seed, two_d, dtype)
    return values, torch.tensor([ts], dtype=torch.float32, device=x.device)


def pow2_rms_scale(x: torch.Tensor) -> torch.Tensor:
    """A 1-element fp32 power of two near the RMS of ``x``: ``2**k``, ``k`` the integer nearest (ties to
    even) to ``log2(ms) / 2``, found exactly from the binary exponent and fraction of the fp32 mean square
    ``ms = sum(x**2) / n``; 1 where ``ms`` is 0 or not finite.  The sum's order is the device's (a fixed
    tree of partial sums on CUDA), so where ``ms`` lies within rounding of a power of two the two paths
    may pick neighbouring scales."""
    if _use_kernels(x):
        return kernels.pow2_rms_scale(x)
    ms = x.float().square().sum() / max(x.numel(), 1)
    fraction, exponent = torch.frexp(ms)  # ms = fraction * 2**exponent, 0.5 <= fraction < 1
    e = exponent.long() - 1
    low = torch.div(e, 2, rounding_mode="floor")
    tie = fraction == 0.5
    k = torch.where(e % 2 == 0, low, torch.where(tie & (low % 2 == 0), low, low + 1))
    ok = torch.isfinite(ms) & (ms > 0)
    return torch.where(ok, torch.exp2(k.float()), torch.ones_like(ms)).reshape(1)


def elementwise_fake_quantize(fmt, x: torch.Tensor, scale: torch.Tensor, dtype=torch.float32,
                              rescale: bool = False, parts: int = 1) -> torch.Tensor:
    """The values of ``x / scale`` (``scale``: a 1-element power-of-two tensor) in a posit or LNS format, in
    ``dtype`` (float32 holds every posit8/16 and lns8 value exactly); with ``rescale``, times ``scale``
    again (exact: a power of two), so that the result approximates ``x`` itself; ``parts`` > 1: as
    :func:`bf16_parts`, stacked (a ``(parts, *x.shape)`` bf16 tensor)."""
    if not isinstance(parts, int) or parts < 1:
        raise ValueError(f"parts must be a positive integer, not {parts!r}")
    if _use_kernels(x):
        return kernels.fake_quantize_elementwise(fmt, x, scale, dtype=dtype, rescale=rescale, parts=parts)
    y = x.float() / scale
    if isinstance(fmt, PositFormat):
        values = numerics.decode_posit(fmt, numerics.encode_posit(fmt, y))
    else:
        values = glns.lns_decode(*glns.lns_encode(y, fmt), fmt)
    values = values.float()
    values = values * scale if rescale else values
    return torch.stack(bf16_parts(values, parts)) if parts > 1 else values.to(dtype)


def bf16_parts(x: torch.Tensor, count: int) -> list[torch.Tensor]:
    """``count`` bf16 tensors summing to ``x`` exactly (fp32 values of at most ``8 * count`` significant bits,
    above bf16's normal range floor 2**-126): each part is bf16 (RNE) of what the parts before it leave; every
    subtraction is exact."""
    rest, parts = x.float(), []
    for _ in range(count):
        parts.append(rest.to(torch.bfloat16))
        rest = rest - parts[-1].float()
    return parts
