"""Three-way bit-exact cross-check: golden model, simulated Verilog, and the PyTorch reference (``gpu_ref``).

``python -m hw.crosscheck [--fmt e4m3 ...] [--device cpu|cuda] [--vectors N] [--no-sim] [--json FILE]``

For every chosen format (default: the whole registry) the same seeded inputs
go through the golden model (``hw.formats``), through ``gpu_ref`` on the
chosen device, and (unless ``--no-sim``) through a cocotb simulation of the
unit's Verilog (one Verilator build for all).  Format operations: encode
(float32 -> codes) and decode, or a block format's quantize and dequantize.
Unit operations: every unit kind the format has whose registry record gives a
PyTorch reference (:attr:`hw.rtl.UnitKind.gpu_reference`), built with its
default options, on its kind's stimulus.  Prints one row per format and
operation: vectors compared, mismatches for each pair of implementations, the
first mismatch in hex; exits 1 on any mismatch, 2 on bad arguments.  A CUDA
machine without Verilator runs ``--no-sim``: the simulation pairs are then
checked by CI on the same seeded vectors.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys

import numpy as np
import torch

from gpu_ref import block as gblock
from gpu_ref import lns as glns
from gpu_ref import numerics as N

from . import formats
from .files import output_file, write_atomic
from .formats import BlockFormat, FloatFormat, LNSFormat, PositFormat, block
from .rtl import build_unit, get_kind, kinds_for

__all__ = ["main", "check"]


def _np(t: torch.Tensor) -> np.ndarray:
    return t.cpu().numpy()


def _values(rng, n):
    """float32 inputs for encoders: Gaussian over a wide exponent range, ties, specials."""
    x = rng.normal(size=n) * np.exp2(rng.integers(-30, 30, n))
    x[:16] = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 3e38, -3e38, 448.0, 464.0, 480.0, 0.5, 1.5, 2.5, 6.0]
    return x.astype(np.float32)


def _float_bits(values: np.ndarray) -> np.ndarray:
    """float64 values as comparable bit patterns (every NaN alike, all ones)."""
    v = np.asarray(values, dtype=np.float64)
    return np.where(np.isnan(v), np.uint64(2 ** 64 - 1), v.view(np.uint64))


def _format_ops(fmt, n, rng, device):
    """[(op, golden, gpu_ref)] of the format's own operations: encode/decode, or quantize/dequantize."""
    x = _values(rng, n)
    xt = torch.from_numpy(x).to(device)
    if isinstance(fmt, BlockFormat):
        rows = x[: (n // 64) * 64].reshape(-1, 64)
        g = block.quantize(fmt, rows.astype(np.float64))
        e, s, ts = gblock.quantize(fmt, torch.from_numpy(rows).to(device))
        return [("quantize", np.concatenate([g.elements.astype(np.int64).ravel(), g.scales.astype(np.int64).ravel()]),
                 np.concatenate([_np(e).ravel(), _np(s).ravel()])),
                ("dequantize", _float_bits(block.dequantize(g)), _float_bits(_np(gblock.dequantize(fmt, e, s, ts))))]
    codes = np.arange(1 << fmt.width) if fmt.width <= 16 else rng.integers(0, 1 << fmt.width, n)
    ct = torch.from_numpy(codes.astype(np.int64)).to(device)
    if isinstance(fmt, LNSFormat):
        sign, log = glns.lns_encode(xt, fmt)
        s, l_ = (torch.from_numpy(f_).to(device) for f_ in fmt.fields(codes)[:2])
        return [("encode", fmt.encode(x.astype(np.float64)).astype(np.int64), _np(glns.lns_codes(sign, log, fmt))),
                ("decode", _float_bits(fmt.decode(codes)), _float_bits(_np(glns.lns_decode(s, l_.int(), fmt, torch.float64))))]
    if isinstance(fmt, FloatFormat):
        return [("encode", fmt.encode(x.astype(np.float64)).astype(np.int64), _np(N.encode_float(fmt, xt))),
                ("decode", _float_bits(fmt.decode(codes)), _float_bits(_np(N.decode_float(fmt, ct))))]
    if isinstance(fmt, PositFormat):
        return [("encode", fmt.encode(x.astype(np.float64)).astype(np.int64), _np(N.encode_posit(fmt, xt))),
                ("decode", _float_bits(fmt.decode(codes)), _float_bits(_np(N.decode_posit(fmt, ct))))]
    ints = np.round(x.astype(np.float64) / 2.0 ** 20)
    return [("encode", fmt.encode(ints).astype(np.int64) & ((1 << fmt.bits) - 1),
             _np(N.encode_int(fmt, torch.from_numpy(ints).to(device))))]


def _unit_ops(fmt, n, rng, device):
    """[(op, unit, inputs, golden outputs, gpu_ref outputs)] for every unit kind of ``fmt`` with a torch reference."""
    out = []
    for name in kinds_for(fmt):
        kind = get_kind(name)
        if kind.gpu_reference is None:
            continue
        try:
            unit = build_unit(name, fmt)
        except ValueError:  # no default unit of this kind for this format (e.g. a bf16 dot unit)
            continue
        inputs = kind.stimulus(unit, rng, n)
        rows = len(next(iter(inputs.values())))
        limit = 8 * n
        if rows > limit:
            pick = np.sort(rng.choice(rows, limit, replace=False))
            inputs = {port: np.asarray(v)[pick] for port, v in inputs.items()}
        gpu = kind.gpu_reference(unit, inputs, device)
        if gpu is not None:
            out.append((name, unit, inputs, kind.reference(unit, inputs), gpu))
    return out


def _mismatch(x, y):
    x, y = np.asarray(x).ravel(), np.asarray(y).ravel()
    bad = np.nonzero(x != y)[0]
    first = f"{hex(int(x[bad[0]]))} vs {hex(int(y[bad[0]]))} at {bad[0]}" if len(bad) else ""
    return int(len(bad)), first


def _outputs_mismatch(want: dict, got: dict):
    """(rows that differ in any output port, the first in hex)."""
    bad, first = 0, ""
    for port, w in want.items():
        w = np.asarray(w, dtype=object).reshape(len(w), -1)
        g = np.asarray(got[port], dtype=object).reshape(len(w), -1)
        rows = np.flatnonzero([any(int(x) != int(y) for x, y in zip(wr, gr)) for wr, gr in zip(w, g)])
        if len(rows) and not first:
            i = rows[0]
            first = f"{port}: {[hex(int(v)) for v in w[i]]} vs {[hex(int(v)) for v in g[i]]} at {i}"
        bad = max(bad, len(rows))
    return bad, first


def check(names, device="cpu", vectors=2000, sim=True, seed=2026):
    """Rows of the cross-check table (dicts); see the module docstring."""
    rng = np.random.default_rng(seed)
    rows, units = [], []
    for name in names:
        fmt = formats.get(name)
        for op, want, got in _format_ops(fmt, vectors, rng, device):
            count, first = _mismatch(want, got)
            rows.append({"format": name, "op": op, "vectors": int(np.asarray(want).size), "golden_vs_gpu_ref": count,
                         "first": first})
        for op, unit, inputs, want, got in _unit_ops(fmt, vectors, rng, device):
            count, first = _outputs_mismatch(want, got)
            row = {"format": name, "op": op, "vectors": len(next(iter(want.values()))), "golden_vs_gpu_ref": count,
                   "first": first}
            rows.append(row)
            units.append((row, unit, inputs, want, got))
    if sim and units:
        _simulate(units)
    return rows


def _simulate(units):
    """One Verilator build for every unit; its outputs compared with golden's and gpu_ref's."""
    from .sim import Job, simulate_many

    jobs = [Job(unit, inputs, copies=8) for _, unit, inputs, _, _ in units]
    for (row, _, _, want, got), result in zip(units, simulate_many(jobs, name="crosscheck")):
        row["golden_vs_sim"], first_golden = _outputs_mismatch(want, result.outputs)
        row["sim_vs_gpu_ref"], first_gpu = _outputs_mismatch(result.outputs, got)
        row["first"] = row["first"] or first_golden or first_gpu


def _table(rows) -> str:
    head = f"{'format':<12} {'op':<11} {'vectors':>8} {'gold/gpu':>9} {'gold/sim':>9} {'sim/gpu':>8}  first mismatch"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['format']:<12} {r['op']:<11} {r['vectors']:>8} {r['golden_vs_gpu_ref']:>9} "
                     f"{r.get('golden_vs_sim', '-'):>9} {r.get('sim_vs_gpu_ref', '-'):>8}  {r['first']}")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m hw.crosscheck", description=__doc__.splitlines()[0])
    p.add_argument("--fmt", action="append", help="format to check (repeatable; default: every registered one)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--vectors", type=int, default=2000, help="random vectors per operation (default 2000)")
    p.add_argument("--no-sim", action="store_true", help="skip the Verilog simulation (golden vs gpu_ref only)")
    p.add_argument("--json", help="also write the rows, device and versions to this JSON file")
    try:
        args = p.parse_args(argv)
    except SystemExit as e:
        return 2 if e.code else 0
    names = args.fmt or formats.names()
    for name in names:
        try:
            formats.get(name)
        except ValueError as e:
            print(f"crosscheck: error: {e}", file=sys.stderr)
            return 2
    if args.device not in ("cpu", "cuda") or (args.device == "cuda" and not torch.cuda.is_available()):
        print(f"crosscheck: error: device {args.device!r} is not available; valid: cpu"
              + (", cuda" if torch.cuda.is_available() else ""), file=sys.stderr)
        return 2
    if args.vectors < 64:
        print(f"crosscheck: error: --vectors must be at least 64, not {args.vectors}", file=sys.stderr)
        return 2
    if args.json is not None:
        try:
            output_file(args.json, "--json")
        except ValueError as e:
            print(f"crosscheck: error: {e}", file=sys.stderr)
            return 2
    rows = check(names, args.device, args.vectors, sim=not args.no_sim)
    print(_table(rows))
    failed = sum(r["golden_vs_gpu_ref"] + r.get("golden_vs_sim", 0) + r.get("sim_vs_gpu_ref", 0) for r in rows)
    print(f"{len(rows)} checks on {args.device}, {'no' if not failed else failed} mismatches")
    if args.json:
        from gpu_ref import kernels

        meta = {"date": datetime.date.today().isoformat(),
                "device": torch.cuda.get_device_name(0) if args.device == "cuda" else "cpu", "torch": torch.__version__,
                "triton": kernels.triton.__version__ if kernels.triton is not None else None, "rows": rows}
        write_atomic(args.json, json.dumps(meta, indent=1) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
