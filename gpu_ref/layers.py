"""Linear layers whose matmuls run in a training precision: bf16, native FP8, or bit-exact fake quantization.

Each ``*_linear(x, weight, layer)`` function is what a
:class:`~gpu_ref.precisions.Precision` names; :class:`QLinear` calls its
precision's.  Emulated precisions quantize every operand of the forward and
both backward matmuls along that matmul's reduction axis with the bit-exact
quantizers of :mod:`gpu_ref` (blocks for MX/NVFP4; a power-of-two per-tensor
RMS scale, then the format, for posits and LNS) and multiply on bf16 tensor
cores with fp32 results, as the precision's ``matmul`` says
(:data:`gpu_ref.precisions.MATMULS`: operands exact in bf16, or split exactly
into two or three bf16 parts); NVFP4's tensor scales multiply the result.
Posit and LNS operands, scaled per tensor, are quantized once per tensor: the
backward matmuls take the forward's quantized ``x`` and ``w`` transposed.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from hw import formats

from . import precisions, quant

__all__ = ["quantize_operand", "fake_quant", "bf16_linear", "fp8_linear", "fake_quant_linear", "QLinear"]


def quantize_operand(precision: str, x: torch.Tensor, rht_seed: int | None = None):
    """``(values, scale)`` of a 2-D matmul operand (blocks along its last axis): ``x ~= values * scale``.

    Block formats: ``values`` = element x block scale, exact in bf16, ``scale``
    the fp32 tensor scale (NVFP4; 1 for MX); ``rht_seed``: the 16-point random
    Hadamard transform first.  Posits and LNS: ``values`` = the format's values
    of ``x / s`` times ``s``, ``s`` a power of two near the RMS, in bf16 or, for
    the split matmuls, as their bf16 parts stacked (parts x rows x columns);
    ``scale`` 1.0.  Triton kernels on CUDA, the bit-identical PyTorch reference
    elsewhere (:mod:`gpu_ref.quant`).
    """
    spec = precisions.get(precision)
    fmt = formats.get(spec.fmt)
    if isinstance(fmt, formats.BlockFormat):
        return quant.block_fake_quantize(fmt, x, rht_seed)
    parts = precisions.MATMULS[spec.matmul][0]
    return quant.elementwise_fake_quantize(fmt, x, quant.pow2_rms_scale(x), torch.bfloat16, rescale=True,
                                           parts=parts), 1.0


def fake_quant(precision: str, x: torch.Tensor) -> torch.Tensor:
    """``x`` (fp32) quantized to ``precision`` and back in fp32, blocks along the last axis."""
    values, scale = quantize_operand(precision, x.reshape(-1, x.shape[-1]))
    if values.dim() == 3:  # bf16 parts: their fp32 sum, in order, is exact
        values = sum(part.float() for part in values)
    return (values.float() * scale).reshape(x.shape)


def _matmul(a, b, scale_a, scale_b, matmul: str, scaled: bool = True):
    """``(a @ b.T) * scale_a * scale_b`` in fp32 (a: M x K, b: N x K), as :data:`gpu_ref.precisions.MATMULS`
    says: bf16 tensor-core matmuls with fp32 results, the split precisions' operands given as stacked bf16
    parts (parts x M x K), one matmul per kept pair of parts accumulated into the fp32 result; ``scaled``
    False where both scales are 1 (MX, posits, LNS), which saves a pass over the result."""
    pairs = precisions.MATMULS[matmul][1]
    if a.dim() == 2:
        a, b = a[None], b[None]
    y = None
    for i, j in pairs:
        if a.is_cuda:
            y = (torch.mm(a[i], b[j].mT, out_dtype=torch.float32) if y is None
                 else torch.addmm(y, a[i], b[j].mT, out_dtype=torch.float32))
        else:
            term = a[i].float() @ b[j].float().mT
            y = term if y is None else y + term
    return y * (scale_a * scale_b) if scaled else y


def _has_scales(precision: str) -> bool:
    """Whether ``quantize_operand`` of ``precision`` returns scales other than 1 (NVFP4's tensor scales)."""
    fmt = formats.get(precisions.get(precision).fmt)
    return isinstance(fmt, formats.BlockFormat) and fmt.tensor_scale


def _per_tensor(precision: str) -> bool:
    """Whether ``precision`` quantizes elementwise after one scale per tensor (posits, LNS): then an operand
    and its transpose quantize to the same values."""
    return not isinstance(formats.get(precisions.get(precision).fmt), formats.BlockFormat)


class _FakeQuantLinear(torch.autograd.Function):
    """``x @ w.T`` with every matmul operand quantized along that matmul's reduction axis."""

    @staticmethod
    def forward(ctx, x, w, precision, rht_seed):
        ctx.precision, ctx.rht_seed, ctx.x_shape, ctx.dtypes = precision, rht_seed, x.shape, (x.dtype, w.dtype)
        matmul = precisions.get(precision).matmul
        x2 = x.reshape(-1, x.shape[-1])
        qx, sx = quantize_operand(precision, x2)
        qw, sw = quantize_operand(precision, w)
        ctx.save_for_backward(*((qx, qw) if _per_tensor(precision) else (x2, w)))
        y = _matmul(qx, qw, sx, sw, matmul, _has_scales(precision))
        return y.reshape(*x.shape[:-1], w.shape[0])

    @staticmethod
    def backward(ctx, g):
        p = ctx.precision
        matmul, scaled = precisions.get(p).matmul, _has_scales(p)
        g2 = g.reshape(-1, g.shape[-1])
        if _per_tensor(p):  # saved: the forward's quantized x and w
            qx, qw = ctx.saved_tensors
            qg, _ = quantize_operand(p, g2)
            dx = _matmul(qg, qw.mT, 1.0, 1.0, matmul, False)
            dw = _matmul(qg.mT, qx.mT, 1.0, 1.0, matmul, False)
        else:
            x2, w = ctx.saved_tensors
            qg, sg = quantize_operand(p, g2)
            qwt, swt = quantize_operand(p, w.t())
            dx = _matmul(qg, qwt, sg, swt, matmul, scaled)                                 # reduction over out-features
            qgt, sgt = quantize_operand(p, g2.t(), ctx.rht_seed)    # wgrad: reduction over tokens
            qxt, sxt = quantize_operand(p, x2.t(), ctx.rht_seed)
            dw = _matmul(qgt, qxt, sgt, sxt, matmul, scaled)
        return dx.reshape(ctx.x_shape).to(ctx.dtypes[0]), dw.to(ctx.dtypes[1]), None, None


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


#: Which implementation runs the native FP8 precisions: ``torchao`` (its float8 training), ``own`` (this
#: module's ``torch._scaled_mm`` recipe) or ``auto``, the faster one measured on the H100 per recipe
#: (results/h100/kernels_2026-11-24/train_fp8.json): torchao for tensorwise, own for rowwise.  Read when a
#: QLinear is built; without torchao the own path runs.
FP8_ENGINES = ("auto", "torchao", "own")
FASTER_ENGINE = {"tensorwise": "torchao", "rowwise": "own"}
fp8_engine = "auto"


def _torchao_float8(fan_in: int, fan_out: int, scaling: str, weight: torch.nn.Parameter):
    """A torchao ``Float8Linear`` in the named recipe sharing ``weight``, or None where torchao does not import."""
    try:
        from torchao.float8 import Float8LinearConfig
        from torchao.float8.float8_linear import Float8Linear
    except Exception:  # noqa: BLE001 - no torchao (or a broken install): this module's own FP8 path runs
        return None
    module = Float8Linear(fan_in, fan_out, bias=False, config=Float8LinearConfig.from_recipe_name(scaling))
    module.weight = weight
    return module


def fp8_linear(x, weight, layer):
    """``x @ weight.T`` in the layer's FP8 recipe: torchao's float8 training (:data:`fp8_engine` ``torchao``),
    else ``torch._scaled_mm`` with this module's scales (forward and both backward matmuls)."""
    if layer.float8 is not None:
        return layer.float8(x)
    spec = layer.spec
    return _Fp8Linear.apply(x.to(torch.bfloat16), weight.to(torch.bfloat16), spec.scaling == "rowwise",
                            _FP8_DTYPES[spec.grad_fmt])


def fake_quant_linear(x, weight, layer):
    """``x @ weight.T`` with every matmul operand quantized to the layer's precision (fp32 result)."""
    rht_seed = layer.rht_seed if layer.spec.rht else None
    with torch.autocast(x.device.type, enabled=False):
        return _FakeQuantLinear.apply(x, weight, layer.spec.name, rht_seed)


class QLinear(torch.nn.Module):
    """A bias-free linear layer whose matmuls run in ``precision`` (a :mod:`gpu_ref.precisions` name)."""

    def __init__(self, fan_in: int, fan_out: int, precision: str, seed: int = 0):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(fan_out, fan_in) / math.sqrt(fan_in))
        self.spec = precisions.get(precision)
        self.precision = precision
        self.rht_seed = seed
        self._linear = self.spec.linear_function()
        self.float8 = None
        if fp8_engine not in FP8_ENGINES:
            raise ValueError(f"fp8_engine must be one of {', '.join(FP8_ENGINES)}, not {fp8_engine!r}")
        engine = FASTER_ENGINE.get(self.spec.scaling) if fp8_engine == "auto" else fp8_engine
        if self.spec.native and self.spec.scaling and engine == "torchao":
            self.float8 = _torchao_float8(fan_in, fan_out, self.spec.scaling, self.weight)

    def forward(self, x):
        return self._linear(x, self.weight, self)
