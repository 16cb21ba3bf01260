"""A small Llama-style decoder trained per number format: measured throughput and emulated quality.

``python -m gpu_ref.train --precision P [--width 256 --depth 4 --steps 400 --seed 0 ...] [--json FILE]``
``python -m gpu_ref.train --suite quality|throughput --out DIR [--jobs N]`` (the committed H100 runs;
``Config`` flags such as ``--steps`` override the quality suite's settings)

Model: token embedding, ``depth`` blocks of RMSNorm -> causal attention with
rotary positions -> RMSNorm -> SwiGLU MLP (hidden 8/3 width, rounded to 64),
final RMSNorm, tied output embedding.  Data: byte-level tokens of the
Python standard library's own ``.py`` sources (read from this interpreter's
installation, sorted by path; every 20th file is held out), so nothing is
downloaded.  Fixed seed, fixed token budget (``steps * batch * seq``), AdamW
with warm-up and cosine decay (lns8: MadamLNS, weights held in LNS).

Precisions apply to every linear layer of the blocks (attention and MLP
projections, forward and both backward matmuls); embeddings, norms,
attention scores and the softmax run in bf16 autocast, as FP8 recipes do.

* ``bf16``: ``F.linear`` under bf16 autocast.
* ``fp8_tensorwise``: ``torch._scaled_mm``, current (just-in-time) per-tensor
  amax scaling; E4M3 activations and weights, E5M2 gradients.
* ``fp8_rowwise``: ``torch._scaled_mm`` with per-row scales of each operand
  along the reduction; E4M3 everywhere, gradients included (the row-wise
  kernel takes E4M3 only, as in torchao's row-wise recipe).
* Emulated (fake quantization: operands quantized and dequantized with
  :mod:`gpu_ref`'s bit-exact quantizers, the matmul in fp32): ``mxfp8_e4m3``,
  ``mxfp4``, ``nvfp4`` (blocks along each matmul's reduction axis, the
  operands re-quantized per matmul as the MX and NVFP4 recipes do),
  ``nvfp4_rht`` (NVFP4 with a 16-point random Hadamard transform on the
  weight-gradient operands, as the NVFP4 training paper does), ``posit8``,
  ``posit16`` and ``lns8`` (elementwise, after a per-tensor power-of-two
  scale that puts the tensor's RMS at 1, the formats' most precise region).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import sys
import sysconfig
import time
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from hw import formats
from hw.files import write_atomic

__all__ = ["Config", "PRECISIONS", "NATIVE", "corpus", "Decoder", "train", "main"]

NATIVE = ("bf16", "fp8_tensorwise", "fp8_rowwise")
EMULATED = ("mxfp8_e4m3", "mxfp4", "nvfp4", "nvfp4_rht", "posit8", "posit16", "lns8")
PRECISIONS = NATIVE + EMULATED


@dataclass
class Config:
    precision: str = "bf16"
    width: int = 256
    depth: int = 4
    heads: int = 4
    seq: int = 256
    batch: int = 32
    steps: int = 400
    lr: float = 3e-3
    warmup: int = 40
    weight_decay: float = 0.1
    seed: int = 0
    eval_every: int = 50
    eval_batches: int = 16
    corpus_bytes: int = 8 << 20

    def check(self):
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision {self.precision!r}; valid: {', '.join(PRECISIONS)}")
        for key in ("width", "depth", "heads", "seq", "batch", "steps", "eval_every", "eval_batches"):
            if not isinstance(getattr(self, key), int) or getattr(self, key) < 1:
                raise ValueError(f"{key} must be a positive integer, not {getattr(self, key)!r}")
        if self.width % (self.heads * 16):
            raise ValueError(f"width must be a multiple of 16 * heads ({16 * self.heads}), not {self.width}")


# ---------------------------------------------------------------- data

def corpus(max_bytes: int = 8 << 20) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """(train bytes, held-out bytes, description) from the standard library's ``.py`` files, sorted by path.

    Every 20th file (by position) is held out; reading stops once ``max_bytes`` are in and a file is held out.
    """
    root = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in root.rglob("*.py") if "site-packages" not in p.parts)
    train, held, total = [], [], 0
    for i, path in enumerate(files):
        data = path.read_bytes()
        (held if i % 20 == 19 else train).append(data)
        total += len(data)
        if total >= max_bytes and held:
            break
    blob_train, blob_held = b"".join(train), b"".join(held)
    info = {"source": str(root), "python": sys.version.split()[0], "files": i + 1,
            "train_bytes": len(blob_train), "heldout_bytes": len(blob_held),
            "crc32": zlib.crc32(blob_train + blob_held)}
    as_tensor = lambda blob: torch.frombuffer(bytearray(blob), dtype=torch.uint8).long()
    return as_tensor(blob_train), as_tensor(blob_held), info


def _windows(data: torch.Tensor, count: int, seq: int, generator: torch.Generator) -> torch.Tensor:
    starts = torch.randint(0, len(data) - seq - 1, (count,), generator=generator)
    return torch.stack([data[s:s + seq + 1] for s in starts.tolist()])


# ---------------------------------------------------------------- quantizers

def _pow2_rms_scale(x: torch.Tensor) -> torch.Tensor:
    rms = x.float().pow(2).mean().sqrt()
    return torch.where(rms > 0, torch.exp2(torch.round(torch.log2(rms))), torch.ones_like(rms))


def fake_quant(precision: str, x: torch.Tensor) -> torch.Tensor:
    """``x`` (fp32) quantized to ``precision`` and back, blocks along the last axis; bit-exact gpu_ref quantizers."""
    from . import block as gblock
    from . import lns as glns
    from . import numerics as N

    name = "nvfp4" if precision == "nvfp4_rht" else precision
    fmt = formats.get(name)
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
    def forward(ctx, x, w, rowwise):
        ctx.save_for_backward(x, w)
        ctx.rowwise = rowwise
        x2 = x.reshape(-1, x.shape[-1])
        y = _scaled_mm(x2, w, torch.float8_e4m3fn, torch.float8_e4m3fn, rowwise)
        return y.reshape(*x.shape[:-1], w.shape[0])

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        grad = torch.float8_e4m3fn if ctx.rowwise else torch.float8_e5m2
        g2, x2 = g.reshape(-1, g.shape[-1]), x.reshape(-1, x.shape[-1])
        dx = _scaled_mm(g2, w.t().contiguous(), grad, torch.float8_e4m3fn, ctx.rowwise)
        dw = _scaled_mm(g2.t().contiguous(), x2.t().contiguous(), grad, torch.float8_e4m3fn, ctx.rowwise)
        return dx.reshape(x.shape).to(x.dtype), dw.to(w.dtype), None


class QLinear(torch.nn.Module):
    """A bias-free linear layer whose matmuls run in ``precision``."""

    def __init__(self, fan_in: int, fan_out: int, precision: str, seed: int = 0):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(fan_out, fan_in) / math.sqrt(fan_in))
        self.precision = precision
        self.rht_seed = seed

    def forward(self, x):
        if self.precision == "bf16":
            return F.linear(x, self.weight)
        if self.precision.startswith("fp8"):
            return _Fp8Linear.apply(x.to(torch.bfloat16), self.weight.to(torch.bfloat16), self.precision == "fp8_rowwise")
        rht = _hadamard(16, self.rht_seed, x.device) if self.precision == "nvfp4_rht" else None
        with torch.autocast(x.device.type, enabled=False):
            return _FakeQuantLinear.apply(x.float(), self.weight.float(), self.precision, rht)


# ---------------------------------------------------------------- model

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
    def __init__(self, cfg: Config, index: int):
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
    def __init__(self, cfg: Config):
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


def flops_per_token(cfg: Config, model: Decoder) -> float:
    """Training FLOPs per token: 6 x (linear + output-embedding parameters) + 12 x depth x seq x width (attention)."""
    return 6 * (model.linear_params() + 256 * cfg.width) + 12 * cfg.depth * cfg.seq * cfg.width


# ---------------------------------------------------------------- training

def _loss(model, batch):
    """Next-byte cross-entropy of a (batch, seq + 1) window."""
    logits = model(batch[:, :-1])
    return F.cross_entropy(logits.float().reshape(-1, 256), batch[:, 1:].reshape(-1))


def train(cfg: Config, device: str = "cuda", data=None, timing_steps: int = 0, compile: bool = False) -> dict:
    """Train ``cfg``; a result dict with the loss curves, final losses, tokens/s and peak memory.

    ``timing_steps``: time the last that many steps (tokens/s); ``compile``: ``torch.compile`` the model.
    """
    cfg.check()
    if cfg.precision.startswith("fp8") and device != "cuda":
        raise ValueError(f"{cfg.precision} runs torch._scaled_mm, which needs a CUDA GPU")
    torch.manual_seed(cfg.seed)
    train_data, held_data, info = data or corpus(cfg.corpus_bytes)
    gen = torch.Generator().manual_seed(cfg.seed)
    eval_gen = torch.Generator().manual_seed(12345)
    eval_set = _windows(held_data, cfg.eval_batches * cfg.batch, cfg.seq, eval_gen).to(device)
    train_eval = _windows(train_data, cfg.eval_batches * cfg.batch, cfg.seq, eval_gen).to(device)
    model = Decoder(cfg).to(device)
    forward = torch.compile(model) if compile else model
    if cfg.precision == "lns8":
        from .lns import MadamLNS

        linear = [m.weight for m in model.modules() if isinstance(m, QLinear)]
        rest = [p for p in model.parameters() if all(p is not q for q in linear)]
        optimizers = [MadamLNS(linear, "lns8", lr=2.0 ** -7, seed=cfg.seed),
                      torch.optim.AdamW(rest, lr=cfg.lr, weight_decay=0.0)]
    else:
        optimizers = [torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay,
                                        betas=(0.9, 0.95))]
    schedules = [torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / cfg.warmup) * 0.5 * (1 + math.cos(math.pi * min(s, cfg.steps) / cfg.steps)))
        for opt in optimizers]
    amp = torch.autocast(device, dtype=torch.bfloat16)

    def evaluate(windows):
        model.eval()
        with torch.no_grad(), amp:
            losses = [_loss(forward, windows[i:i + cfg.batch]).item() for i in range(0, len(windows), cfg.batch)]
        model.train()
        return sum(losses) / len(losses)

    curve = []
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
        torch.cuda.synchronize()
    started = time.perf_counter()
    timed_from = None
    for step in range(cfg.steps):
        if step == cfg.steps - timing_steps:
            if device == "cuda":
                torch.cuda.synchronize()
            timed_from = time.perf_counter()
        batch = _windows(train_data, cfg.batch, cfg.seq, gen).to(device, non_blocking=True)
        with amp:
            loss = _loss(forward, batch)
        loss.backward()
        for opt, sched in zip(optimizers, schedules):
            torch.nn.utils.clip_grad_norm_(opt.param_groups[0]["params"], 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            sched.step()
        if (step + 1) % cfg.eval_every == 0 or step + 1 == cfg.steps:
            if not math.isfinite(loss.item()):
                curve.append({"step": step + 1, "train_loss": float("nan"), "heldout_loss": float("nan")})
                break
            if timing_steps == 0:
                curve.append({"step": step + 1, "train_loss": round(evaluate(train_eval), 5),
                              "heldout_loss": round(evaluate(eval_set), 5)})
    if device == "cuda":
        torch.cuda.synchronize()
    ended = time.perf_counter()
    result = {"config": asdict(cfg), "corpus": info, "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
              "torch": torch.__version__, "curve": curve, "seconds": round(ended - started, 2),
              "linear_params": model.linear_params(), "flops_per_token": flops_per_token(cfg, model)}
    if curve:
        result["final_train_loss"], result["final_heldout_loss"] = curve[-1]["train_loss"], curve[-1]["heldout_loss"]
    if timed_from is not None:
        result["tokens_per_s"] = timing_steps * cfg.batch * cfg.seq / (ended - timed_from)
    if device == "cuda":
        result["peak_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2 ** 30, 3)
    return result


# ---------------------------------------------------------------- suites and CLI

QUALITY = dict(width=256, depth=4, heads=4, seq=256, batch=8, steps=300, eval_every=100)
QUALITY_SEEDS = (0, 1, 2)
#: Emulated precisions from slowest to fastest per step on an H100 (the order parallel suites start them in).
_SLOWEST_FIRST = ("nvfp4_rht", "nvfp4", "lns8", "posit16", "posit8", "mxfp4", "mxfp8_e4m3")
THROUGHPUT_WIDTHS = (1024, 2048, 4096)
THROUGHPUT = dict(depth=4, seq=1024, batch=8, steps=30, eval_every=10 ** 6)


def _quality_path(out: Path, precision: str, seed: int) -> Path:
    """Where the quality suite keeps one run (``hw.rank`` reads these names)."""
    return out / f"quality_{precision}_seed{seed}.json"


def suite_quality(out: Path, device: str, precisions=PRECISIONS, seeds=QUALITY_SEEDS, jobs: int = 1,
                  settings: dict | None = None):
    """One run per precision and seed (``quality_<precision>_seed<k>.json``); runs already in ``out`` are kept.

    ``settings`` override :data:`QUALITY`; ``jobs`` > 1 runs that many training
    processes at once on the one GPU (one emulated run of the small model
    leaves most of an H100 idle between its many small quantizer kernels).
    """
    settings = {**QUALITY, **(settings or {})}
    if jobs > 1:
        return _parallel_quality(out, device, precisions, seeds, jobs, settings)
    data = corpus()
    for precision in precisions:
        for seed in seeds:
            path = _quality_path(out, precision, seed)
            if path.exists():
                continue
            result = train(Config(precision=precision, seed=seed, **settings), device, data)
            write_atomic(str(path), json.dumps(result, indent=1))
            print(f"{precision:16s} seed {seed}: heldout {result.get('final_heldout_loss')}  {result['seconds']} s",
                  flush=True)


def _parallel_quality(out: Path, device: str, precisions, seeds, jobs: int, settings: dict):
    import subprocess

    flags = [arg for key, value in settings.items() for arg in (f"--{key.replace('_', '-')}", str(value))]
    order = sorted(precisions, key=lambda p: _SLOWEST_FIRST.index(p) if p in _SLOWEST_FIRST else len(_SLOWEST_FIRST))
    todo = [(p, s) for p in order for s in seeds if not _quality_path(out, p, s).exists()]
    running, failed = [], []
    while todo or running:
        while todo and len(running) < jobs:
            precision, seed = todo.pop(0)
            command = [sys.executable, "-m", "gpu_ref.train", "--suite", "quality", "--out", str(out),
                       "--precisions", precision, "--seeds", str(seed), "--device", device, *flags]
            running.append(((precision, seed), subprocess.Popen(command)))
        time.sleep(1)
        for job in [job for job in running if job[1].poll() is not None]:
            running.remove(job)
            if job[1].returncode:
                failed.append(f"{job[0][0]} seed {job[0][1]}")
    if failed:
        raise RuntimeError("quality runs failed: " + ", ".join(failed))


def suite_throughput(out: Path, widths=THROUGHPUT_WIDTHS, compile: bool = False):
    """Tokens/s, MFU and peak memory of the native precisions at each width, with this run's measured peaks."""
    from .peaks import matmul_tflops

    data = corpus()
    peaks = matmul_tflops(8192)
    rows = []
    for width in widths:
        for precision in NATIVE:
            cfg = Config(precision=precision, width=width, heads=width // 128, **THROUGHPUT)
            result = train(cfg, "cuda", data, timing_steps=20, compile=compile)
            peak = peaks["bf16" if precision == "bf16" else "fp8_e4m3"]
            mfu = result["tokens_per_s"] * result["flops_per_token"] / (peak * 1e12)
            rows.append({"width": width, "precision": precision, "tokens_per_s": round(result["tokens_per_s"], 1),
                         "mfu_vs_own_peak": round(mfu, 4),
                         "mfu_vs_bf16_peak": round(result["tokens_per_s"] * result["flops_per_token"] / (peaks["bf16"] * 1e12), 4),
                         "peak_memory_gib": result["peak_memory_gib"], "linear_params": result["linear_params"]})
            print(rows[-1], flush=True)
    for row in rows:
        base = next(r for r in rows if r["width"] == row["width"] and r["precision"] == "bf16")
        row["speedup_vs_bf16"] = round(row["tokens_per_s"] / base["tokens_per_s"], 3)
    report = {"date": datetime.date.today().isoformat(), "device": torch.cuda.get_device_name(),
              "torch": torch.__version__, "compiled": compile, "peak_tflops": peaks, "config": THROUGHPUT, "rows": rows}
    name = "throughput_compiled.json" if compile else "throughput_eager.json"
    write_atomic(str(out / name), json.dumps(report, indent=1))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gpu_ref.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", choices=["quality", "throughput"], help="run a committed suite into --out")
    parser.add_argument("--out", help="output folder of a suite")
    parser.add_argument("--precisions", help="comma-separated subset for --suite quality")
    parser.add_argument("--seeds", default=",".join(map(str, QUALITY_SEEDS)), help="comma-separated seeds for --suite quality")
    parser.add_argument("--jobs", type=int, default=1, help="training processes at once (--suite quality)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model (throughput suite)")
    parser.add_argument("--widths", default=",".join(map(str, THROUGHPUT_WIDTHS)), help="throughput suite widths")
    parser.add_argument("--json", help="write one run's result here")
    for key, value in asdict(Config()).items():  # default: Config's, or the suite's (QUALITY, THROUGHPUT)
        parser.add_argument(f"--{key.replace('_', '-')}", type=type(value), default=None)
    args = parser.parse_args(argv)
    given = {key: getattr(args, key) for key in asdict(Config()) if getattr(args, key) is not None}
    try:
        if args.suite:
            if not args.out:
                raise ValueError("--suite needs --out DIR")
            out = Path(args.out)
            out.mkdir(parents=True, exist_ok=True)
            if args.suite == "quality":
                chosen = args.precisions.split(",") if args.precisions else PRECISIONS
                bad = [p for p in chosen if p not in PRECISIONS]
                if bad:
                    raise ValueError(f"unknown precision {bad[0]!r}; valid: {', '.join(PRECISIONS)}")
                if args.jobs < 1:
                    raise ValueError(f"--jobs must be >= 1, not {args.jobs}")
                suite_quality(out, args.device, chosen, [int(v) for v in args.seeds.split(",")], args.jobs,
                              {key: v for key, v in given.items() if key not in ("precision", "seed")})
            else:
                if args.device != "cuda":
                    raise ValueError("the throughput suite needs a CUDA GPU")
                suite_throughput(out, [int(v) for v in args.widths.split(",")], compile=args.compile)
            return 0
        cfg = Config(**given)
        result = train(cfg, args.device)
    except (ValueError, RuntimeError) as err:
        print(f"gpu_ref.train: {err}", file=sys.stderr)
        return 2
    text = json.dumps(result, indent=1)
    if args.json:
        write_atomic(args.json, text)
    print(f"{cfg.precision}: heldout loss {result.get('final_heldout_loss')}, {result['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
