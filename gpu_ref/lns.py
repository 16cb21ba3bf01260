"""LNS in PyTorch and the Madam multiplicative weight update on LNS-held weights (LNS-Madam).

Codes follow :class:`hw.formats.LNSFormat` exactly (sign, integer log in units
of ``1/gamma``, the reserved most-negative log for zero and NaN); the functions
run on CPU and CUDA tensors alike.  ``python -m gpu_ref.lns`` trains a small
network with :class:`MadamLNS` on a task generated in code and prints its loss.
"""

from __future__ import annotations

import argparse
import functools
import math
import sys

import torch

from hw import formats
from hw.formats import LNSFormat

from . import kernels
from .numerics import counter_random24

__all__ = ["lns_encode", "lns_decode", "lns_codes", "lns_fields", "lns_mac", "MadamLNS", "train_example"]


def lns_encode(x: torch.Tensor, fmt: LNSFormat, stochastic: bool = False, generator=None):
    """(sign, log) of ``x``: ``log`` (int32, units of 1/gamma) rounded to nearest or stochastically,
    saturated above; values that round below the smallest log become zero (log = ``fmt.zero_log``,
    sign 0); NaN and +-Inf become NaN (``fmt.zero_log``, sign 1)."""
    x = x.double()
    nan = torch.isnan(x) | torch.isinf(x)
    live = ~nan & (x != 0)
    mag = torch.where(live, x.abs(), torch.ones_like(x))
    if stochastic:
        scaled = torch.log2(mag) * fmt.gamma
        low = torch.floor(scaled)
        noise = torch.rand(x.shape, generator=generator, device=x.device, dtype=torch.float64)
        log = low.long() + (noise < scaled - low).long()
    else:  # as the golden model: the significand against the float64 midpoint constants
        frac, exp = torch.frexp(mag)
        midpoints = torch.tensor(fmt.midpoints, dtype=torch.float64, device=x.device)
        log = (exp.long() - 1) * fmt.gamma + torch.searchsorted(midpoints, (2 * frac).contiguous(), right=True)
    zero = ~nan & ((x == 0) | (log < fmt.min_log))
    log = torch.where(zero | nan, torch.full_like(log, fmt.zero_log), log.clamp(max=fmt.max_log))
    return (torch.signbit(x) & ~zero) | nan, log.to(torch.int32)


@functools.lru_cache(maxsize=None)
def _roots(fmt: LNSFormat, device: torch.device) -> torch.Tensor:
    """``fmt.roots`` on ``device``, made once (a later copy from the host would break a CUDA graph capture)."""
    return torch.tensor(fmt.roots, dtype=torch.float64, device=device)


def lns_decode(sign: torch.Tensor, log: torch.Tensor, fmt: LNSFormat, dtype=torch.float32) -> torch.Tensor:
    """Values of (sign, log) as ``fmt.roots[r] * 2**q``, bit for bit the golden decode on CPU and CUDA;
    the reserved log gives 0 (sign 0) or NaN (sign 1)."""
    log = log.long()
    q = torch.div(log, fmt.gamma, rounding_mode="floor")
    roots = _roots(fmt, log.device)
    power = ((q.clamp(-1022, 1023) + 1023) << 52).view(torch.float64)  # 2**q built from its bits: exact
    mag = roots[log - q * fmt.gamma] * power
    value = torch.where(sign, -mag, mag)
    reserved = log == fmt.zero_log
    value = torch.where(reserved, torch.where(sign, torch.full_like(mag, math.nan), torch.zeros_like(mag)), value)
    return value.to(dtype)


def lns_codes(sign: torch.Tensor, log: torch.Tensor, fmt: LNSFormat) -> torch.Tensor:
    """Bit patterns (int64) of (sign, log), comparable with ``fmt.encode``."""
    return (sign.long() << fmt.log_bits) | (log.long() & ((1 << fmt.log_bits) - 1))


def lns_fields(codes: torch.Tensor, fmt: LNSFormat):
    """(sign, log) of bit patterns, the inverse of :func:`lns_codes`: ``log`` (int64) in units of 1/gamma, the
    reserved most-negative log for zero (sign 0) and NaN (sign 1)."""
    codes = codes.long() & ((1 << fmt.width) - 1)
    raw = codes & ((1 << fmt.log_bits) - 1)
    return (codes >> fmt.log_bits) == 1, torch.where(raw >= fmt.zero_code, raw - (1 << fmt.log_bits), raw)


def lns_mac(fmt: LNSFormat, a: torch.Tensor, b: torch.Tensor, acc: torch.Tensor) -> torch.Tensor:
    """The LNS MAC (``fmt.mac``): ``acc + sum_i lin(a_i * b_i)`` wrapped to ``fmt.acc_bits``, codes in and out.

    Products add logs; each converts through the table ``T[r] << (q - q_min)``
    (zero and NaN give 0); ``a``/``b`` are ``(..., lanes)`` codes, ``acc`` ``(...)``.
    """
    def fields(codes):
        sign, log = lns_fields(codes, fmt)
        return sign, log, log == fmt.zero_log

    sa, la, ra = fields(a)
    sb, lb, rb = fields(b)
    log = la + lb
    q = torch.div(log, fmt.gamma, rounding_mode="floor")
    table = torch.tensor(fmt.table, dtype=torch.int64, device=a.device)
    mag = table[log - q * fmt.gamma] << (q - fmt.q_min).clamp(min=0)
    total = acc.long() + torch.where(ra | rb, 0, torch.where(sa ^ sb, -mag, mag)).sum(-1)
    return total & ((1 << fmt.acc_bits) - 1)


class MadamLNS(torch.optim.Optimizer):
    """Madam (Bernstein et al., 2020) on weights held in an LNS format, as LNS-Madam trains.

    Each parameter is kept as (sign, integer log); a step normalises the
    gradient by its running RMS, ``g* = g / sqrt(v)`` with
    ``v = beta * v + (1 - beta) * g**2`` (bias-corrected), and moves the log:
    ``log2|w| -= lr * sign(w) * g*`` — a multiplicative update, ``w *= 2**(-lr
    sign(w) g*)``, so signs never change and zero stays zero.  The new log is
    rounded to the format's grid (stochastic by default, as the paper does, or
    nearest) and saturated to its range; the parameter then holds the
    decoded value, so forward passes see exactly the LNS weights.

    Stochastic rounding moves a log up when 24 counter-based random bits
    (:func:`gpu_ref.numerics.counter_random24`, keyed by ``seed`` plus the
    parameter's position, indexed by ``(step - 1) * numel + element``) are
    below its fraction times 2**24: the same bits on CPU and CUDA.  The state
    (step count included) lives in device tensors updated in place and ``lr``
    may be a 0-d tensor, so a step can be captured in a CUDA graph (``beta``
    is read once, at construction).  On CUDA
    one Triton kernel per parameter does the same float64 operations in the
    same order (:func:`gpu_ref.kernels.madam_lns_update`, bit for bit).
    """

    def __init__(self, params, fmt: LNSFormat | str = "lns8", lr: float = 2.0 ** -6, beta: float = 0.999,
                 stochastic: bool = True, seed: int = 0):
        fmt = formats.get(fmt) if isinstance(fmt, str) else fmt
        if not isinstance(fmt, LNSFormat):
            raise ValueError(f"MadamLNS needs an LNS format, not {fmt!r}")
        if not lr > 0 or not 0 <= beta < 1:
            raise ValueError(f"need lr > 0 and 0 <= beta < 1, not lr={lr}, beta={beta}")
        super().__init__(params, dict(lr=lr, beta=beta))
        self.fmt, self.stochastic = fmt, stochastic
        position = 0
        for group in self.param_groups:
            for p in group["params"]:
                sign, log = lns_encode(p.detach(), fmt)
                state = self.state[p]
                state.update(sign=sign, log=log.double(), v=torch.zeros_like(p, dtype=torch.float64),
                             step=torch.zeros((), dtype=torch.int64, device=p.device), seed=seed + position,
                             # beta, 1 - beta, the bias correction 1 - beta**step (set each step), the RMS floor
                             consts=torch.tensor([beta, 1 - beta, 1.0, 1e-30], dtype=torch.float64, device=p.device))
                position += 1
                p.data.copy_(lns_decode(sign, log, fmt, p.dtype))

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure() if closure is not None else None
        fmt = self.fmt
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                consts = state["consts"]
                state["step"].add_(1)
                consts[2] = 1 - torch.pow(consts[0], state["step"].double())
                if p.is_cuda and kernels.available():  # the same float64 operations, one fused pass
                    rate = torch.as_tensor(group["lr"], dtype=torch.float32, device=p.device) * fmt.gamma
                    kernels.madam_lns_update(p, p.grad, state["v"], state["log"], state["sign"], consts, rate,
                                             state["step"], _roots(fmt, p.device), fmt, self.stochastic,
                                             state["seed"])
                    continue
                g = p.grad.double()
                state["v"].mul_(consts[0]).add_(consts[1] * g * g)
                v_hat = state["v"] / consts[2]
                g_star = torch.where(v_hat > 0, g / v_hat.sqrt().clamp_min(consts[3]), torch.zeros_like(g))
                sign, log = state["sign"], state["log"]
                live = log != fmt.zero_log
                direction = torch.where(sign, -1.0, 1.0)
                target = log - group["lr"] * fmt.gamma * direction * g_star
                if self.stochastic:
                    low = torch.floor(target)
                    index = (state["step"] - 1) * p.numel() + torch.arange(p.numel(), device=p.device)
                    bits = counter_random24(state["seed"], index).reshape(p.shape)
                    new = low + (bits.double() < (target - low) * 2.0 ** 24).double()
                else:
                    new = torch.round(target)
                log.copy_(torch.where(live, new.clamp(fmt.min_log, fmt.max_log), log))
                p.copy_(lns_decode(sign, log.to(torch.int32), fmt, p.dtype))
        return loss


def train_example(steps: int = 400, device: str = "cpu", seed: int = 0, fmt: str = "lns8",
                  lr: float = 2.0 ** -5) -> list[float]:
    """A 16-32-1 tanh network learns a random teacher network's outputs, all weights in LNS.

    Data are generated in code (Gaussian inputs, a fixed teacher); returns the
    training loss (MSE on a fixed batch of 512) before the first step and after each step.
    """
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(512, 16, generator=gen)
    teacher = torch.nn.Sequential(torch.nn.Linear(16, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    torch.nn.init.normal_(teacher[0].weight, std=0.5, generator=gen)
    torch.nn.init.normal_(teacher[2].weight, std=0.5, generator=gen)
    with torch.no_grad():
        y = teacher(x)
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.Tanh(), torch.nn.Linear(32, 1))
    x, y, model = x.to(device), y.to(device), model.to(device)
    opt = MadamLNS(model.parameters(), fmt=fmt, lr=lr, seed=seed)
    losses = []
    for _ in range(steps + 1):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        losses.append(float(loss.detach()))
        loss.backward()
        opt.step()
    return losses[:steps + 1]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m gpu_ref.lns", description="Train a small network with MadamLNS.")
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--fmt", default="lns8")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.steps < 1:
        print(f"gpu_ref.lns: error: --steps must be positive, not {args.steps}", file=sys.stderr)
        return 2
    try:
        losses = train_example(args.steps, args.device, args.seed, args.fmt)
    except (ValueError, RuntimeError) as e:
        print(f"gpu_ref.lns: error: {str(e).splitlines()[0]}", file=sys.stderr)
        return 2
    for k in sorted({0, args.steps // 4, args.steps // 2, 3 * args.steps // 4, args.steps}):
        print(f"step {k:>5}  loss {losses[k]:.5f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
