"""A small Llama-style decoder: RMSNorm, causal attention with rotary positions, SwiGLU MLP, tied embedding.

``Decoder(cfg)`` reads ``width``, ``depth``, ``heads``, ``precision`` and
``seed`` from ``cfg`` (a :class:`gpu_ref.loop.Config`); every linear layer of
the blocks is a :class:`~gpu_ref.layers.QLinear` in ``cfg.precision``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .layers import QLinear

__all__ = ["RMSNorm", "Block", "Decoder", "flops_per_token"]


class RMSNorm(torch.nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(width))

    def forward(self, x):
        x32 = x.float()
        return (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + 1e-6) * self.weight).to(x.dtype)


def _rotary(seq: int, dim: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    freq = 1.0 / (10000 ** (torch.arange(0, dim, 2, device=device).float() / dim))
    angles = torch.outer(torch.arange(seq, device=device).float(), freq)
    return angles.cos(), angles.sin()


def _rotate(x, cos, sin):
    """Rotary positions on ``x`` (batch, seq, heads, head_dim)."""
    x1, x2 = x[..., 0::2], x[..., 1::2]
    cos, sin = cos[:, None, :], sin[:, None, :]
    return torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1).flatten(-2)


class Block(torch.nn.Module):
    def __init__(self, cfg, index: int):
        super().__init__()
        w, p = cfg.width, cfg.precision
        hidden = 64 * math.ceil(8 * w / 3 / 64)
        seed = cfg.seed * 1000 + index * 10
        self.heads = cfg.heads
        self.norm1, self.norm2 = RMSNorm(w), RMSNorm(w)
        self.qkv = QLinear(w, 3 * w, p, seed)
        self.out = QLinear(w, w, p, seed + 1)
        self.gate_up = QLinear(w, 2 * hidden, p, seed + 2)
        self.down = QLinear(hidden, w, p, seed + 3)

    def forward(self, x, cos, sin):
        b, t, w = x.shape
        q, k, v = self.qkv(self.norm1(x)).split(w, dim=-1)
        shape = (b, t, self.heads, w // self.heads)
        q, k = (_rotate(z.reshape(shape), cos, sin).transpose(1, 2) for z in (q, k))
        v = v.reshape(shape).transpose(1, 2)
        attn = F.scaled_dot_product_attention(q, k, v.to(q.dtype), is_causal=True)
        x = x + self.out(attn.transpose(1, 2).reshape(b, t, w))
        gate, up = self.gate_up(self.norm2(x)).chunk(2, dim=-1)
        return x + self.down(F.silu(gate) * up)


class Decoder(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.embed = torch.nn.Embedding(256, cfg.width)
        torch.nn.init.normal_(self.embed.weight, std=0.02)
        self.blocks = torch.nn.ModuleList(Block(cfg, i) for i in range(cfg.depth))
        self.norm = RMSNorm(cfg.width)

    def forward(self, tokens):
        cos, sin = _rotary(tokens.shape[1], self.cfg.width // self.cfg.heads, tokens.device)
        x = self.embed(tokens)
        for block in self.blocks:
            x = block(x, cos, sin)
        return self.norm(x) @ self.embed.weight.t().to(x.dtype)

    def linear_params(self) -> int:
        return sum(m.weight.numel() for m in self.modules() if isinstance(m, QLinear))


def flops_per_token(cfg, model: Decoder) -> float:
    """Training FLOPs per token: 6 x (linear + output-embedding parameters) + 12 x depth x seq x width (attention)."""
    return 6 * (model.linear_params() + 256 * cfg.width) + 12 * cfg.depth * cfg.seq * cfg.width
