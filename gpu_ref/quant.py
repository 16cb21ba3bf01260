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

__all__ = ["block_fake_quantize", "elementwise_fake_quantize"]


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


def elementwise_fake_quantize(fmt, x: torch.Tensor, scale: torch.Tensor, dtype=torch.float32,
                              rescale: bool = False) -> torch.Tensor:
    """The values of ``x / scale`` (``scale``: a 1-element power-of-two tensor) in a posit or LNS format, in
    ``dtype`` (float32 holds every posit8/16 and lns8 value exactly); with ``rescale``, times ``scale``
    again (exact: a power of two), so that the result approximates ``x`` itself."""
    if _use_kernels(x):
        return kernels.fake_quantize_elementwise(fmt, x, scale, dtype=dtype, rescale=rescale)
    y = x.float() / scale
    if isinstance(fmt, PositFormat):
        values = numerics.decode_posit(fmt, numerics.encode_posit(fmt, y))
    else:
        values = glns.lns_decode(*glns.lns_encode(y, fmt), fmt)
    values = values.float()
    return (values * scale if rescale else values).to(dtype)
