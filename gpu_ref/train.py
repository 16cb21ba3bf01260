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
* ``fp8_tensorwise``: torchao's float8 training (``Float8Linear``, tensorwise
  recipe; ``torch._scaled_mm`` with this package's scales where torchao is
  missing), current (just-in-time) per-tensor amax scaling; E4M3 activations
  and weights, E5M2 gradients.
* ``fp8_rowwise``: ``torch._scaled_mm`` with per-row scales of each operand
  along the reduction; E4M3 everywhere, gradients included (the row-wise
  kernel takes E4M3 only, as in torchao's row-wise recipe).
* Emulated (fake quantization: operands quantized and dequantized with
  :mod:`gpu_ref`'s bit-exact quantizers, Triton kernels on CUDA; the matmul
  on bf16 tensor cores with fp32 results where the quantized values are exact
  in bf16, in fp32 for posit16 and lns8): ``mxfp8_e4m3``,
  ``mxfp4``, ``nvfp4`` (blocks along each matmul's reduction axis, the
  operands re-quantized per matmul as the MX and NVFP4 recipes do),
  ``nvfp4_rht`` (NVFP4 with a 16-point random Hadamard transform on the
  weight-gradient operands, as the NVFP4 training paper does), ``posit8``,
  ``posit16`` and ``lns8`` (elementwise, after a per-tensor power-of-two
  scale that puts the tensor's RMS at 1, the formats' most precise region).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

import torch

from hw.files import output_dir, output_file, write_atomic

from .loop import Config, train
from .precisions import PRECISIONS
from .suites import QUALITY_SEEDS, THROUGHPUT_WIDTHS, suite_quality, suite_throughput

__all__ = ["main"]

#: What each training setting means (the flags' help).
CONFIG_HELP = {"precision": "training precision (see gpu_ref/precisions.py)", "width": "model width",
               "depth": "decoder layers", "heads": "attention heads", "seq": "sequence length in bytes",
               "batch": "sequences per step", "steps": "optimizer steps", "lr": "peak learning rate",
               "warmup": "linear warm-up steps", "weight_decay": "AdamW weight decay", "seed": "random seed",
               "eval_every": "steps between held-out evaluations", "eval_batches": "held-out batches per evaluation",
               "corpus_bytes": "bytes of the training corpus"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gpu_ref.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", choices=["quality", "throughput"], help="run a committed suite into --out")
    parser.add_argument("--out", help="output folder of a suite")
    parser.add_argument("--precisions", help="comma-separated subset for --suite quality")
    parser.add_argument("--seeds", default=",".join(map(str, QUALITY_SEEDS)), help="comma-separated seeds for --suite quality")
    parser.add_argument("--jobs", type=int, default=1, help="training processes at once (--suite quality)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                        help="cpu or cuda (default: cuda where available)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model (throughput suite)")
    parser.add_argument("--widths", default=",".join(map(str, THROUGHPUT_WIDTHS)), help="throughput suite widths")
    parser.add_argument("--json", help="write one run's result here")
    for key, value in asdict(Config()).items():  # default: Config's, or the suite's (QUALITY, THROUGHPUT)
        parser.add_argument(f"--{key.replace('_', '-')}", type=type(value), default=None,
                            help=f"{CONFIG_HELP[key]} (default {value})")
    args = parser.parse_args(argv)
    given = {key: getattr(args, key) for key in asdict(Config()) if getattr(args, key) is not None}
    try:
        if args.device not in ("cpu", "cuda"):
            raise ValueError(f"--device must be cpu or cuda, not {args.device!r}")
        if args.device == "cuda" and not torch.cuda.is_available():
            raise ValueError("--device cuda: no CUDA GPU here (torch.cuda.is_available() is False); use --device cpu")
        if args.json is not None:
            output_file(args.json, "--json")
        if args.suite:
            if not args.out:
                raise ValueError("--suite needs --out DIR")
            out = output_dir(args.out, "--out")
            out.mkdir(parents=True, exist_ok=True)
            if args.suite == "quality":
                chosen = args.precisions.split(",") if args.precisions else list(PRECISIONS)
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
