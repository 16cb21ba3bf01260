"""Training step times on a CUDA GPU: the emulated precisions against bf16 (eager), and native FP8 through
torchao's float8 training and through this package's own ``torch._scaled_mm`` recipe (``torch.compile``).

``python benchmarks/bench_gpu_training.py --out FILE.json [--part emulated|fp8|all] [--widths 1024]``

Each run is one :func:`gpu_ref.loop.train` of the decoder (depth 4, seq
1024) timed over its last steps, the emulated part both eager and with the step captured as a CUDA
graph (``cuda_graph``: the host's Python and launches off the critical path); the JSON is rewritten after every run and
runs already in it are kept, so an interrupted benchmark resumes.  Step time
= tokens per step / tokens per second.  The FP8 part also records peak
memory and TorchDynamo's graph and recompile counters, to tell a
recompilation or memory effect from a real slowdown.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from pathlib import Path

import torch

from gpu_ref import layers, precisions
from gpu_ref.data import corpus
from gpu_ref.loop import Config, train
from hw.files import write_atomic

EMULATED = ("mxfp8_e4m3", "nvfp4", "nvfp4_rht", "posit8", "lns8", "mxfp4", "posit16")


def run(key, results, out, data, precision, width, batch, compile, engine="torchao", steps=10, timed=5,
        cuda_graph=False):
    if key in results["runs"]:
        return results["runs"][key]
    import torch._dynamo
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    counters.clear()
    layers.fp8_engine = engine
    torch.cuda.empty_cache()
    cfg = Config(precision=precision, width=width, depth=4, heads=width // 128, seq=1024, batch=batch, steps=steps,
                 eval_every=10 ** 6)
    try:
        result = train(cfg, "cuda", data, timing_steps=timed, compile=compile, cuda_graph=cuda_graph)
        row = {"precision": precision, "width": width, "batch": batch, "compiled": compile, "engine": engine,
               "cuda_graph": cuda_graph,
               "step_ms": round(1e3 * batch * 1024 / result["tokens_per_s"], 3),
               "tokens_per_s": round(result["tokens_per_s"], 1), "peak_memory_gib": result["peak_memory_gib"],
               "matmul": precisions.get(precision).matmul if not precisions.get(precision).native else "native",
               "dynamo": {k: dict(v) for k, v in counters.items() if k in ("stats", "recompiles", "graph_break")}}
    except (RuntimeError, ValueError, torch.cuda.OutOfMemoryError) as err:
        row = {"precision": precision, "width": width, "batch": batch, "compiled": compile, "engine": engine,
               "error": str(err).splitlines()[0][:300]}
    results["runs"][key] = row
    write_atomic(str(out), json.dumps(results, indent=1))
    print(key, row, flush=True)
    return row


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--part", choices=["emulated", "fp8", "all"], default="all")
    p.add_argument("--widths", default="1024", help="widths of the emulated part")
    args = p.parse_args(argv)
    widths = args.widths.split(",")
    if not all(w.isdigit() and int(w) % 128 == 0 and int(w) > 0 for w in widths):
        print(f"error: --widths takes positive multiples of 128 (heads of 128), not {args.widths!r}", file=sys.stderr)
        return 2
    if not torch.cuda.is_available():
        print("error: bench_gpu_training needs a CUDA GPU", file=sys.stderr)
        return 2
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.exists() else {
        "date": datetime.date.today().isoformat(), "device": torch.cuda.get_device_name(), "torch": torch.__version__,
        "triton": __import__("triton").__version__, "runs": {}}
    try:
        import torchao
        results["torchao"] = torchao.__version__
    except Exception:  # noqa: BLE001
        results["torchao"] = None
    data = corpus()
    if args.part in ("emulated", "all"):
        for width in [int(w) for w in widths]:
            for graph, suffix in ((False, ""), (True, "_graph")):
                base = run(f"emulated_w{width}_bf16{suffix}", results, out, data, "bf16", width, 8, False,
                           cuda_graph=graph, steps=12 if graph else 10)
                for precision in EMULATED:
                    row = run(f"emulated_w{width}_{precision}{suffix}", results, out, data, precision, width, 8,
                              False, cuda_graph=graph, steps=12 if graph else 10)
                    if "step_ms" in row and "step_ms" in base:
                        row["vs_bf16"] = round(row["step_ms"] / base["step_ms"], 3)
            write_atomic(str(out), json.dumps(results, indent=1))
    if args.part in ("fp8", "all"):
        for width, batch in ((4096, 8), (8192, 4), (2048, 8)):
            base = run(f"fp8_w{width}_b{batch}_bf16", results, out, data, "bf16", width, batch, True)
            for precision in ("fp8_tensorwise", "fp8_rowwise"):
                for engine in ("torchao", "own"):
                    row = run(f"fp8_w{width}_b{batch}_{precision}_{engine}", results, out, data, precision, width,
                              batch, True, engine)
                    if "step_ms" in row and "step_ms" in base:
                        row["speedup_vs_bf16"] = round(base["step_ms"] / row["step_ms"], 3)
            write_atomic(str(out), json.dumps(results, indent=1))
        for precision in ("bf16", "fp8_tensorwise"):  # the width-8192 case eager too: compile effects apart
            run(f"fp8_w8192_b4_{precision}_torchao_eager", results, out, data, precision, 8192, 4, False)
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTORCH_CUDA_ALLOC_CONF", "expandable_segments:True")
    sys.exit(main())
