"""Linear layers whose matmuls run in a training precision: bf16, native FP8, or bit-exact fake quantization.

Each ``*_linear(x, weight, layer)`` function is what a
:class:`~gpu_ref.precisions.Precision` names; :class:`QLinear` calls its
precision's.  Emulated precisions quantize every operand of the forward and
both backward matmuls along that matmul's reduction axis with the bit-exact
quantizers of :mod:`gpu_ref` (blocks for MX/NVFP4; a power-of-two per-tensor
RMS scale, then the format, for posits and LNS) and multiply in fp32.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from hw import formats

from . import block as gblock
from . import lns as glns
from . import numerics as N
from . import precisions

__all__ = ["fake_quant", "bf16_linear", "fp8_linear", "fake_quant_linear", "QLinear"]


def _pow2_rms_scale(x: torch.Tensor) -> torch.Tensor:
    rms = x.float().pow(2).mean().sqrt()
    return torch.where(rms > 0, torch.exp2(torch.round(torch.log2(rms))), torch.ones_like(rms))


def fake_quant(precision: str, x: torch.Tensor) -> torch.Tensor:
    """``x`` (fp32) quantized to ``precision`` and back, blocks along the last axis; bit-exact gpu_ref quantizers."""
    fmt = formats.get(precisions.get(precision).fmt)
    x = x.float()
    if isinstance(fmt, formats.BlockFormat):
        shape = x.shape
        flat = x.reshape(-1, shape[-1])
        elements, scales, ts = gblock.quantize(fmt, flat)
        return gblock.dequantize(fmt, elements, scales, ts).reshape(shape).float()
    scale = _pow2_rms_scale(x)
    y = x / scale
    if isinstance(fmt, formats.PositFormat):
        q = N.decode_posit(fmt, N.encode_posit(fmt, y))
    else:
        sign, log = glns.lns_encode(y, fmt)
        q = glns.lns_decode(sign, log, fmt)
    return (q.float() * scale).to(x.dtype)


def _hadamard(n: int, seed: int, device) -> torch.Tensor:
    """``n x n`` random Hadamard transform ``H diag(signs) / sqrt(n)`` (orthonormal)."""
    h = torch.ones(1, 1)
    while h.shape[0] < n:
        h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
    signs = torch.randint(0, 2, (n,), generator=torch.Generator().manual_seed(seed)).float() * 2 - 1
    return (h * signs / math.sqrt(n)).to(device)


class _FakeQuantLinear(torch.autograd.Function):
    """``x @ w.T`` with every matmul operand quantized along that matmul's reduction axis."""

    @staticmethod
    def forward(ctx, x, w, precision, rht):
        ctx.save_for_backward(x, w)
        ctx.precision, ctx.rht = precision, rht
        q = lambda t: fake_quant(precision, t)
        return q(x) @ q(w).t()

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        q = lambda t: fake_quant(ctx.precision, t)
        g2, x2 = g.reshape(-1, g.shape[-1]).float(), x.reshape(-1, x.shape[-1]).float()
        dx = q(g2) @ q(w.t().contiguous()).t()                # reduction over out-features
        gt, xt = g2.t().contiguous(), x2.t().contiguous()    # wgrad: reduction over tokens
        if ctx.rht is not None:
            m = gt.shape[1] - gt.shape[1] % 16
            h = ctx.rht
            gt = torch.cat([(gt[:, :m].reshape(gt.shape[0], -1, 16) @ h).reshape(gt.shape[0], m), gt[:, m:]], 1)
            xt = torch.cat([(xt[:, :m].reshape(xt.shape[0], -1, 16) @ h).reshape(xt.shape[0], m), xt[:, m:]], 1)
        dw = q(gt) @ q(xt).t()
        return dx.reshape(x.shape).to(x.dtype), dw.to(w.dtype), None, None


def _fp8_cast(t: torch.Tensor, dtype, rowwise: bool):
    """(fp8 tensor, fp32 scale) with ``t ~= fp8 * scale``; per row (along the last axis) if ``rowwise``."""
    top = torch.finfo(dtype).max
    amax = t.abs().amax(dim=-1, keepdim=True) if rowwise else t.abs().amax()
    scale = (amax.float().clamp_min(1e-12) / top)
    return (t.float() / scale).clamp(-top, top).to(dtype), scale


def _scaled_mm(a, b, a_dtype, b_dtype, rowwise):
    """``a @ b.T`` (a: M x K, b: N x K) through ``torch._scaled_mm``, scales along K."""
    aq, sa = _fp8_cast(a, a_dtype, rowwise)
    bq, sb = _fp8_cast(b, b_dtype, rowwise)
    if rowwise:
        return torch._scaled_mm(aq, bq.t(), scale_a=sa, scale_b=sb.reshape(1, -1), out_dtype=torch.bfloat16)
    return torch._scaled_mm(aq, bq.t(), scale_a=sa, scale_b=sb, out_dtype=torch.bfloat16)


class _Fp8Linear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w, rowwise, grad_dtype):
        ctx.save_for_backward(x, w)
        ctx.rowwise, ctx.grad_dtype = rowwise, grad_dtype
        x2 = x.reshape(-1, x.shape[-1])
        y = _scaled_mm(x2, w, torch.float8_e4m3fn, torch.float8_e4m3fn, rowwise)
        return y.reshape(*x.shape[:-1], w.shape[0])

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        grad = ctx.grad_dtype
        g2, x2 = g.reshape(-1, g.shape[-1]), x.reshape(-1, x.shape[-1])
        dx = _scaled_mm(g2, w.t().contiguous(), grad, torch.float8_e4m3fn, ctx.rowwise)
        dw = _scaled_mm(g2.t().contiguous(), x2.t().contiguous(), grad, torch.float8_e4m3fn, ctx.rowwise)
        return dx.reshape(x.shape).to(x.dtype), dw.to(w.dtype), None, None


_FP8_DTYPES = {"e4m3": torch.float8_e4m3fn, "e5m2": torch.float8_e5m2}


def bf16_linear(x, weight, layer):
    """``x @ weight.T`` under the surrounding bf16 autocast."""
    return F.linear(x, weight)


def fp8_linear(x, weight, layer):
    """``x @ weight.T`` through ``torch._scaled_mm`` in the layer's FP8 recipe (forward and both backward matmuls)."""
    spec = layer.spec
    return _Fp8Linear.apply(x.to(torch.bfloat16), weight.to(torch.bfloat16), spec.scaling == "rowwise",
                            _FP8_DTYPES[spec.grad_fmt])


def fake_quant_linear(x, weight, layer):
    """``x @ weight.T`` in fp32 with every matmul operand quantized to the layer's precision and back."""
    rht = _hadamard(16, layer.rht_seed, x.device) if layer.spec.rht else None
    with torch.autocast(x.device.type, enabled=False):
        return _FakeQuantLinear.apply(x.float(), weight.float(), layer.spec.name, rht)


class QLinear(torch.nn.Module):
    """A bias-free linear layer whose matmuls run in ``precision`` (a :mod:`gpu_ref.precisions` name)."""

    def __init__(self, fan_in: int, fan_out: int, precision: str, seed: int = 0):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(fan_out, fan_in) / math.sqrt(fan_in))
        self.spec = precisions.get(precision)
        self.precision = precision
        self.rht_seed = seed
        self._linear = self.spec.linear_function()

    def forward(self, x):
        return self._linear(x, self.weight, self)
