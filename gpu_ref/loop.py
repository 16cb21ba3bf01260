"""The training loop: a fixed seed, a fixed token budget, AdamW with warm-up and cosine decay (or MadamLNS).

``train(Config(precision=...), device)`` returns the loss curves (training and
held-out, every ``eval_every`` steps), the final losses, tokens/s over the
last ``timing_steps`` steps and the peak memory.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from . import precisions
from .data import corpus, windows
from .layers import QLinear
from .lns import MadamLNS
from .model import Decoder, flops_per_token
from .precisions import NATIVE

__all__ = ["Config", "train", "next_byte_loss"]


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
        if self.precision not in precisions.PRECISIONS:
            raise ValueError(f"unknown precision {self.precision!r}; valid: {', '.join(precisions.PRECISIONS)}")
        for key in ("width", "depth", "heads", "seq", "batch", "steps", "eval_every", "eval_batches"):
            if not isinstance(getattr(self, key), int) or getattr(self, key) < 1:
                raise ValueError(f"{key} must be a positive integer, not {getattr(self, key)!r}")
        if self.width % (self.heads * 16):
            raise ValueError(f"width must be a multiple of 16 * heads ({16 * self.heads}), not {self.width}")


def next_byte_loss(model, batch):
    """Next-byte cross-entropy of a (batch, seq + 1) window."""
    logits = model(batch[:, :-1])
    return F.cross_entropy(logits.float().reshape(-1, 256), batch[:, 1:].reshape(-1))


GRAPH_WARMUP = 3  #: eager steps (on a side stream) before a CUDA graph of the step is captured


def train(cfg: "Config", device: str = "cuda", data=None, timing_steps: int = 0, compile: bool = False,
          cuda_graph: bool = False) -> dict:
    """Train ``cfg``; a result dict with the loss curves, final losses, tokens/s and peak memory.

    ``timing_steps``: time the last that many steps (tokens/s); ``compile``: ``torch.compile`` the model;
    ``cuda_graph``: after :data:`GRAPH_WARMUP` eager steps, capture one step (forward, backward, clipping,
    optimizer) as a CUDA graph and replay it, so that the host's Python and kernel launches leave the
    step's critical path (the same arithmetic, learning rates kept in device tensors).
    """
    cfg.check()
    if cuda_graph and (device != "cuda" or compile):
        raise ValueError("cuda_graph needs a CUDA device and an eager model")
    if cfg.precision in NATIVE and cfg.precision != "bf16" and device != "cuda":
        raise ValueError(f"{cfg.precision} runs torch._scaled_mm, which needs a CUDA GPU")
    torch.manual_seed(cfg.seed)
    train_data, held_data, info = data or corpus(cfg.corpus_bytes)
    gen = torch.Generator().manual_seed(cfg.seed)
    eval_gen = torch.Generator().manual_seed(12345)
    eval_set = windows(held_data, cfg.eval_batches * cfg.batch, cfg.seq, eval_gen).to(device)
    train_eval = windows(train_data, cfg.eval_batches * cfg.batch, cfg.seq, eval_gen).to(device)
    model = Decoder(cfg).to(device)
    forward = torch.compile(model) if compile else model
    def rate(value):  # a graph reads learning rates from device tensors
        return torch.tensor(value, device=device) if cuda_graph else value

    if precisions.get(cfg.precision).optimizer == "madam_lns":
        linear = [m.weight for m in model.modules() if isinstance(m, QLinear)]
        rest = [p for p in model.parameters() if all(p is not q for q in linear)]
        optimizers = [MadamLNS(linear, precisions.get(cfg.precision).fmt, lr=rate(2.0 ** -7), seed=cfg.seed),
                      torch.optim.AdamW(rest, lr=rate(cfg.lr), weight_decay=0.0, capturable=cuda_graph)]
    else:
        optimizers = [torch.optim.AdamW(model.parameters(), lr=rate(cfg.lr), weight_decay=cfg.weight_decay,
                                        betas=(0.9, 0.95), capturable=cuda_graph)]
    schedules = [torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / cfg.warmup) * 0.5 * (1 + math.cos(math.pi * min(s, cfg.steps) / cfg.steps)))
        for opt in optimizers]
    amp = torch.autocast(device, dtype=torch.bfloat16, cache_enabled=not cuda_graph)
    lr_tensors = [group["lr"] for opt in optimizers for group in opt.param_groups]

    def step_body(batch, zero_grad=True):
        with amp:
            loss = next_byte_loss(forward, batch)
        loss.backward()
        for opt in optimizers:
            torch.nn.utils.clip_grad_norm_(opt.param_groups[0]["params"], 1.0)
            opt.step()
            if zero_grad:
                opt.zero_grad(set_to_none=True)
        return loss

    graph, static_batch, static_loss = None, None, None
    side = torch.cuda.Stream() if cuda_graph else None

    def evaluate(windows):
        model.eval()
        with torch.no_grad(), amp:
            losses = [next_byte_loss(forward, windows[i:i + cfg.batch]).item()
                      for i in range(0, len(windows), cfg.batch)]
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
        batch = windows(train_data, cfg.batch, cfg.seq, gen).to(device, non_blocking=True)
        if not cuda_graph:
            loss = step_body(batch)
        elif step < GRAPH_WARMUP:
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                loss = step_body(batch)
            torch.cuda.current_stream().wait_stream(side)
        else:
            if graph is None:
                static_batch, graph = batch.clone(), torch.cuda.CUDAGraph()
                with torch.cuda.graph(graph):
                    static_loss = step_body(static_batch, zero_grad=False)
            else:
                static_batch.copy_(batch)
            graph.replay()
            loss = static_loss
        for sched in schedules:
            sched.step()
        if cuda_graph:  # the graph reads the learning rates from the tensors it was captured with
            groups = [group for opt in optimizers for group in opt.param_groups]
            for group, tensor in zip(groups, lr_tensors):
                if group["lr"] is not tensor:
                    tensor.fill_(float(group["lr"]))
                    group["lr"] = tensor
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
