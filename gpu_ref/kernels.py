"""Triton kernels for the elementwise hot path on CUDA: float32 -> any ExMy code, rounded to nearest even.

The kernel is :func:`gpu_ref.numerics.round_float` specialised to float32
inputs, written line for line after it (one program per 1024 elements); the
format's parameters are compile-time constants, so each format gets its own
kernel.  :func:`available` is false without CUDA or Triton, and the callers
then take the PyTorch path.  Tested against the PyTorch path and the golden
model on the device machine (``tests/test_gpu_ref.py`` runs there with CUDA).
"""

from __future__ import annotations

import torch

from hw.formats import FloatFormat, Special

try:
    import triton
    import triton.language as tl
except ImportError:  # CPU-only installs: the PyTorch path is used
    triton = None

__all__ = ["available", "encode_float"]


def available() -> bool:
    return triton is not None and torch.cuda.is_available()


if triton is not None:
    @triton.jit
    def _bit_length(x):
        n = tl.zeros_like(x)
        for step in tl.static_range(5):
            s = 16 >> step
            big = (x >> s) != 0
            x = tl.where(big, x >> s, x)
            n += tl.where(big, s, 0)
        return n + (x != 0).to(tl.int64)

    @triton.jit
    def _encode_kernel(x_ptr, out_ptr, count, EMIN: tl.constexpr, MAN: tl.constexpr, EXP_BITS: tl.constexpr,
                       WIDTH: tl.constexpr, MAX_CODE: tl.constexpr, OVER_CODE: tl.constexpr, NAN_CODE: tl.constexpr,
                       NAN_SIGNED: tl.constexpr, NEG_ZERO: tl.constexpr, SUBNORMALS: tl.constexpr,
                       FNUZ: tl.constexpr, BLOCK: tl.constexpr):
        offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        mask = offsets < count
        bits = tl.load(x_ptr + offsets, mask=mask, other=0).to(tl.int64) & 0xFFFFFFFF
        neg = (bits >> 31) == 1
        field = (bits >> 23) & 0xFF
        frac = bits & 0x7FFFFF
        nan = (field == 255) & (frac != 0)
        inf = (field == 255) & (frac == 0)
        sig = tl.where(field != 0, frac | 0x800000, frac)
        sig = tl.where(field == 255, 0, sig)
        exp = tl.maximum(field, 1) - 150
        top = exp + _bit_length(sig) - 1
        lsb = tl.maximum(top, EMIN) - MAN
        shift = lsb - exp
        right = tl.minimum(tl.maximum(shift, 0), 63)
        left = tl.minimum(tl.maximum(-shift, 0), 62)
        kept = tl.where(shift > 0, sig >> right, sig << left)
        rem = sig & ((tl.full(sig.shape, 1, tl.int64) << right) - 1)
        half = tl.where(right > 0, tl.full(sig.shape, 1, tl.int64) << tl.maximum(right - 1, 0), 0)
        up = (shift > 0) & (shift < 64) & ((rem > half) | ((rem == half) & ((kept & 1) == 1)))
        kept = kept + up.to(tl.int64)
        binade = tl.minimum(lsb - EMIN + MAN, 1 << (EXP_BITS + 1))
        code = tl.where(kept == 0, 0, (binade << MAN) + kept)
        if not SUBNORMALS:
            code = tl.where(top < EMIN, 0, code)
        code = tl.where((code > MAX_CODE) | inf, OVER_CODE, code)
        signed = neg & ((code != 0) | NEG_ZERO)
        if FNUZ:
            signed = signed & (code != NAN_CODE)
        code = code | (signed.to(tl.int64) << (WIDTH - 1))
        nan_code = tl.where(neg & NAN_SIGNED, NAN_CODE | (1 << (WIDTH - 1)), NAN_CODE)
        code = tl.where(nan, nan_code, code)
        tl.store(out_ptr + offsets, code, mask=mask)


def encode_float(fmt: FloatFormat, x: torch.Tensor, saturate: bool = False) -> torch.Tensor:
    """int64 codes of a CUDA float32 tensor in ``fmt`` (same results as the PyTorch path)."""
    if saturate or fmt.special is Special.NONE:
        over = fmt.max_code
    else:
        over = fmt.inf_code if fmt.special is Special.IEEE else fmt.nan_code
    flat = x.contiguous().view(torch.int32).reshape(-1)
    out = torch.empty(flat.shape, dtype=torch.int64, device=x.device)
    block = 1024
    _encode_kernel[(triton.cdiv(flat.numel(), block),)](
        flat, out, flat.numel(), EMIN=fmt.emin, MAN=fmt.man_bits, EXP_BITS=fmt.exp_bits, WIDTH=fmt.width,
        MAX_CODE=fmt.max_code, OVER_CODE=over, NAN_CODE=fmt.nan_code if fmt.has_nan else 0,
        NAN_SIGNED=fmt.has_nan and fmt.special is not Special.FNUZ, NEG_ZERO=fmt.has_negative_zero,
        SUBNORMALS=fmt.subnormals, FNUZ=fmt.special is Special.FNUZ, BLOCK=block)
    return out.reshape(x.shape)
