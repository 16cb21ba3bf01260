"""Replay the published single-instruction tensor-core measurements through the spec library, bit for bit.

Khattak and Mikaitis measured single matrix-multiply-accumulate instructions
on V100, A2, A100, Ada, L40S, H100, H200 and B200 (5,000 tests per file; the
data lives outside the project, in ``../shared/reference/tensorcore-validation``,
its README describes the files).  For each file this replays every test
through :func:`hw.formats.tensorcore.mma` with the registered spec
``<gpu>_<input>`` (``_to_fp16`` for the fp16 outputs) and compares raw bit
patterns.  Harness rules, as in the authors' own script: the H100 and H200
FP8 tests ran with wgmma from a zero accumulator, so their C is +0; an fp16
output's C is the file's fp32 value rounded to nearest even into fp16.

``python -m hw.published [--root DIR] [--json FILE]`` prints the match table.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from . import formats
from .files import output_file
from .formats import FP16, FP32, Rounding
from .formats.tensorcore import SPECS, get_spec, mma

__all__ = ["DEFAULT_ROOT", "GPUS", "Case", "cases", "load", "replay", "main"]

#: Where the published data is looked for unless ``--root`` or ``HW_TENSORCORE_DATA`` says otherwise.
DEFAULT_ROOT = Path(__file__).resolve().parent.parent.parent / "shared" / "reference" / "tensorcore-validation"
GPUS = ("V100", "A2", "A100", "Ada", "L40S", "H100", "H200", "B200")
#: Input folder -> (spec input name, operand format name).
_INPUTS = {"fp16": ("fp16", "fp16"), "bf16": ("bf16", "bf16"), "tf32": ("tf32", "tf32"),
           "E4M3": ("fp8", "e4m3"), "E5M2": ("fp8", "e5m2")}


@dataclass(frozen=True)
class Case:
    """One published file of results: a GPU, an input folder (``fp16``, ``E4M3`` ...) and an output format."""

    gpu: str
    inputs: str
    output: str  # "fp32" or "fp16"

    @property
    def spec_name(self) -> str:
        base = f"{self.gpu.lower()}_{_INPUTS[self.inputs][0]}"
        return base if self.output == "fp32" else f"{base}_to_fp16"

    @property
    def zero_c(self) -> bool:
        """wgmma FP8 tests (H100, H200) start from a zero accumulator."""
        return self.gpu in ("H100", "H200") and self.inputs in ("E4M3", "E5M2")

    def path(self, root: Path, what: str) -> Path:
        fmt = "fp32" if what == "c" else (self.output if what == "d" else self.inputs)
        return Path(root) / self.gpu / self.inputs / f"{what}_{self.gpu}_{fmt}.txt.gz"


def default_root() -> Path:
    return Path(os.environ.get("HW_TENSORCORE_DATA", DEFAULT_ROOT))


def cases(root: Path) -> list[Case]:
    """Every (GPU, input, output) file of results under ``root``, in the README's order."""
    found = []
    for gpu in GPUS:
        for inputs in _INPUTS:
            for output in ("fp32", "fp16"):
                case = Case(gpu, inputs, output)
                if case.path(root, "d").exists():
                    found.append(case)
    return found


def _rows(path: Path, base: int) -> np.ndarray:
    with gzip.open(path, "rt") as f:
        rows = [[int(token, base) for token in line.split()] for line in f if line.strip()]
    return np.array(rows, dtype=np.uint64).astype(np.uint32)


def load(root: Path, case: Case) -> dict:
    """The case's operands (codes of its input format), C (codes of its output format, the harness rules
    applied) and the GPU's results (codes of its output format)."""
    fmt = formats.get(_INPUTS[case.inputs][1])
    a32, b32 = _rows(case.path(root, "a"), 16), _rows(case.path(root, "b"), 16)
    c32 = _rows(case.path(root, "c"), 2)[:, 0]
    d32 = _rows(case.path(root, "d"), 2)[:, 0]
    a, b = fmt.encode(a32.view(np.float32)), fmt.encode(b32.view(np.float32))
    for name, codes, bits in (("a", a, a32), ("b", b, b32)):
        if not np.array_equal(fmt.decode(codes).astype(np.float32).view(np.uint32), bits):
            raise ValueError(f"{case.path(root, name)}: values that are not exact in {fmt.name}")
    out = FP32 if case.output == "fp32" else FP16
    c = out.encode(c32.view(np.float32))  # exact for fp32; to nearest even into fp16
    if case.zero_c:
        c = np.zeros_like(c)
    d = out.encode(d32.view(np.float32))
    return {"fmt": fmt, "a": a, "b": b, "c": c, "d": d}


def replay(root: Path, case: Case) -> dict:
    """Match count of the case's registered spec (or, for a file no spec matches, of the nearest model:
    the fp32 spec's window rounded to nearest even into fp16) over every test, and the failing tests."""
    data = load(root, case)
    fmt = data["fmt"]
    if case.spec_name in SPECS:
        spec, registered = get_spec(case.spec_name), True
    else:
        fp32_spec = get_spec(case.spec_name.removesuffix("_to_fp16"))
        spec = replace(fp32_spec, name=case.spec_name, output=FP16, sum_bits=10, sum_rounding=Rounding.RNE,
                       nan_code=None)
        registered = False
    got = mma(spec, fmt, fmt, data["a"], data["b"], data["c"])
    failing = np.flatnonzero(got != data["d"])
    return {"gpu": case.gpu, "input": case.inputs, "output": case.output, "spec": spec.name,
            "registered": registered, "k": int(data["a"].shape[1]), "tests": int(len(got)),
            "matched": int(len(got) - len(failing)), "failing": [int(i) for i in failing[:20]],
            "step": spec.step, "align_bits": spec.align_bits, "sum_bits": spec.sum_bits,
            "sum_rounding": spec.sum_rounding.value, "c_term": spec.c_term.value,
            "subnormal_inputs": int(np.count_nonzero(fmt.is_subnormal(data["a"]) | fmt.is_subnormal(data["b"])))}


def table(rows: list[dict]) -> str:
    """Markdown: GPU, input, output, spec parameters, matches."""
    lines = ["| GPU | input | output | spec | K | step | align bits (extra) | sum | C | matched |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        spec = f"`{r['spec']}`" if r["registered"] else "none (nearest model shown)"
        sum_ = f"{r['sum_bits']} bits {r['sum_rounding'].upper()}"
        lines.append(f"| {r['gpu']} | {r['input']} | {r['output']} | {spec} | {r['k']} | {r['step']} | "
                     f"{r['align_bits']} ({r['align_bits'] - 25:+d}) | {sum_} | {r['c_term']} | "
                     f"{r['matched']:,}/{r['tests']:,} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m hw.published", description=__doc__.splitlines()[0])
    p.add_argument("--root", type=Path, default=None, help="the published data (default: HW_TENSORCORE_DATA or "
                                                            "../shared/reference/tensorcore-validation)")
    p.add_argument("--json", help="also write the rows to this JSON file")
    args = p.parse_args(argv)
    try:
        out = output_file(args.json, "--json") if args.json else None
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    root = args.root or default_root()
    found = cases(root) if root.is_dir() else []
    if not found:
        print(f"error: no published tensor-core data under {root} (expected <GPU>/<input>/d_<GPU>_fp32.txt.gz; "
              f"pass --root DIR)", file=sys.stderr)
        return 2
    rows = [replay(root, case) for case in found]
    print(table(rows))
    matched = sum(r["registered"] and r["matched"] == r["tests"] for r in rows)
    print(f"\n{matched} of {len(rows)} files matched bit for bit by a registered spec")
    if out:
        with open(out, "w") as f:
            json.dump({"source": str(root), "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
