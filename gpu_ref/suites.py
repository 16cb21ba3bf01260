"""The committed H100 suites: quality (every precision, several seeds) and native throughput (several widths)."""

from __future__ import annotations

import datetime
import json
import sys
import time
from pathlib import Path

import torch

from hw.files import write_atomic

from . import precisions
from .data import corpus
from .loop import Config, train
from .precisions import NATIVE, PRECISIONS

__all__ = ["QUALITY", "QUALITY_SEEDS", "THROUGHPUT", "THROUGHPUT_WIDTHS", "suite_quality", "suite_throughput"]


QUALITY = dict(width=256, depth=4, heads=4, seq=256, batch=8, steps=300, eval_every=100)
QUALITY_SEEDS = (0, 1, 2)
#: Emulated precisions from slowest to fastest per step on an H100 (the order parallel suites start them in).
_SLOWEST_FIRST = ("nvfp4_rht", "nvfp4", "lns8", "posit16", "posit8", "mxfp4", "mxfp8_e4m3")
THROUGHPUT_WIDTHS = (1024, 2048, 4096)
THROUGHPUT = dict(depth=4, seq=1024, batch=8, steps=30, eval_every=10 ** 6)


def _quality_path(out: Path, precision: str, seed: int) -> Path:
    """Where the quality suite keeps one run (``hw.rank`` reads these names)."""
    return out / f"quality_{precision}_seed{seed}.json"


def suite_quality(out: Path, device: str, chosen=PRECISIONS, seeds=QUALITY_SEEDS, jobs: int = 1,
                  settings: dict | None = None):
    """One run per precision and seed (``quality_<precision>_seed<k>.json``); runs already in ``out`` are kept.

    ``settings`` override :data:`QUALITY`; ``jobs`` > 1 runs that many training
    processes at once on the one GPU (one emulated run of the small model
    leaves most of an H100 idle between its many small quantizer kernels).
    """
    settings = {**QUALITY, **(settings or {})}
    if jobs > 1:
        return _parallel_quality(out, device, chosen, seeds, jobs, settings)
    data = corpus()
    for precision in chosen:
        for seed in seeds:
            path = _quality_path(out, precision, seed)
            if path.exists():
                continue
            result = train(Config(precision=precision, seed=seed, **settings), device, data)
            write_atomic(str(path), json.dumps(result, indent=1))
            print(f"{precision:16s} seed {seed}: heldout {result.get('final_heldout_loss')}  {result['seconds']} s",
                  flush=True)


def _parallel_quality(out: Path, device: str, chosen, seeds, jobs: int, settings: dict):
    import subprocess

    flags = [arg for key, value in settings.items() for arg in (f"--{key.replace('_', '-')}", str(value))]
    order = sorted(chosen, key=lambda p: _SLOWEST_FIRST.index(p) if p in _SLOWEST_FIRST else len(_SLOWEST_FIRST))
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
            peak = peaks[precisions.get(precision).gpu_peak]
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
