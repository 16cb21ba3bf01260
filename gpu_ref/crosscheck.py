"""Three-way bit-exact cross-check: golden model, simulated Verilog, and the PyTorch reference.

``python -m gpu_ref.crosscheck [--fmt e4m3 ...] [--device cpu|cuda] [--vectors N] [--no-sim] [--json FILE]``

For every chosen format (default: the whole registry) the same seeded
operand vectors go through the golden model (``hw.formats``), through
``gpu_ref`` on the chosen device, and (unless ``--no-sim``) through a cocotb
simulation of the format's default unit's Verilog (MAC, quire MAC, block dot
unit, LNS MAC; one Verilator build for all).  Operations: encode
(float32 -> codes), decode, multiply, and the unit (MAC / dot).  Prints one
row per format and operation: vectors compared, mismatches for each pair of
implementations, the first mismatch in hex; exits 1 on any mismatch, 2 on
bad arguments.  A CUDA machine without Verilator runs ``--no-sim``: the
simulation pairs are then checked by CI on the same seeded vectors.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys

import numpy as np
import torch

from hw import formats
from hw.files import write_atomic
from hw.formats import BlockFormat, FloatFormat, IntFormat, LNSFormat, PositFormat, block, golden

from sim.vectors import all_pairs, block_dot_vectors, mac_vectors, random_codes

from . import block as gblock
from . import lns as glns
from . import numerics as N

__all__ = ["main", "check"]

FP32 = formats.get("fp32")


def _t(codes, device):
    return torch.from_numpy(np.asarray(codes).astype(np.int64)).to(device)


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


def _ops(fmt, n, rng, device):
    """[(op, golden codes, gpu_ref codes, unit group inputs or None)] for one format."""
    x = _values(rng, n)
    xt = torch.from_numpy(x).to(device)
    out = []
    if isinstance(fmt, BlockFormat):
        rows = x[: (n // 64) * 64].reshape(-1, 64)
        g = block.quantize(fmt, rows.astype(np.float64))
        e, s, ts = gblock.quantize(fmt, torch.from_numpy(rows).to(device))
        out.append(("quantize", np.concatenate([g.elements.astype(np.int64).ravel(), g.scales.astype(np.int64).ravel()]),
                    np.concatenate([_np(e).ravel(), _np(s).ravel()]), None))
        out.append(("dequantize", _float_bits(block.dequantize(g)), _float_bits(_np(gblock.dequantize(fmt, e, s, ts))),
                    None))
        a, b, sa, sb, acc = block_dot_vectors(fmt, FP32, max(n // 8, 64), rng)
        want = block.block_dot(fmt, a, sa, b, sb, acc, FP32).astype(np.int64)
        got = _np(gblock.block_dot(fmt, _t(a, device), _t(sa, device), _t(b, device), _t(sb, device), _t(acc, device)))
        out.append(("dot", want, got, dict(a=a, b=b, acc=acc, extra={"a_scale": sa, "b_scale": sb})))
        return out
    if isinstance(fmt, LNSFormat):
        sign, log = glns.lns_encode(xt, fmt)
        out.append(("encode", fmt.encode(x.astype(np.float64)).astype(np.int64), _np(glns.lns_codes(sign, log, fmt)), None))
        codes = np.arange(1 << fmt.width)
        s, l_ = (torch.from_numpy(f_) for f_ in fmt.fields(codes)[:2])
        out.append(("decode", _float_bits(fmt.decode(codes)),
                    _float_bits(_np(glns.lns_decode(s.to(device), l_.to(device).int(), fmt, torch.float64))), None))
        a, b = rng.integers(0, 1 << fmt.width, (n, 1)), rng.integers(0, 1 << fmt.width, (n, 1))
        acc = rng.integers(0, 1 << min(fmt.acc_bits, 62), n).astype(np.uint64)
        out.append(("mac", fmt.mac(a, b, acc).astype(np.int64), _np(glns.lns_mac(fmt, _t(a, device), _t(b, device),
                                                                              _t(acc, device))), dict(a=a, b=b, acc=acc)))
        return out
    if fmt.width <= 8:
        a, b = all_pairs(fmt)
    else:
        a, b = random_codes(fmt, n, rng), random_codes(fmt, n, rng)
    at, bt = _t(a, device), _t(b, device)
    if isinstance(fmt, FloatFormat):
        out.append(("encode", fmt.encode(x.astype(np.float64)).astype(np.int64), _np(N.encode_float(fmt, xt)), None))
        out.append(("decode", _float_bits(fmt.decode(a)), _float_bits(_np(N.decode_float(fmt, at))), None))
    elif isinstance(fmt, PositFormat):
        out.append(("encode", fmt.encode(x.astype(np.float64)).astype(np.int64), _np(N.encode_posit(fmt, xt)), None))
        out.append(("decode", _float_bits(fmt.decode(a)), _float_bits(_np(N.decode_posit(fmt, at))), None))
    else:
        ints = np.round(x.astype(np.float64) / 2.0 ** 20)
        out.append(("encode", fmt.encode(ints).astype(np.int64) & ((1 << fmt.bits) - 1),
                    _np(N.encode_int(fmt, torch.from_numpy(ints).to(device))), None))
    out.append(("mul", np.asarray(golden.mul(fmt, a, b)).astype(np.int64), _np(N.mul(fmt, at, bt)), None))
    acc_fmt = formats.default_accumulator(fmt)
    if isinstance(fmt, PositFormat):
        count = N.quire_limb_count(acc_fmt)
        pick = rng.integers(0, len(a), n)
        a, b = a[pick], b[pick]
        acc = np.array([int(v) for v in rng.integers(0, 1 << 62, n)], dtype=object) << max(acc_fmt.bits - 62, 0)
        acc = (acc | np.array([int(v) for v in rng.integers(0, 1 << 62, n)], dtype=object)) & ((1 << acc_fmt.bits) - 1)
        acc[:8] = acc_fmt.nar_code
        want = np.asarray(golden.mac(fmt, a, b, acc, acc_fmt), dtype=object)
        got = N.Limbs.to_ints(N.quire_mac(fmt, _t(a, device)[:, None], _t(b, device)[:, None],
                                          N.Limbs.from_ints(acc, count, device)))
        out.append(("mac", want, got, dict(a=a, b=b, acc=acc)))
        return out
    a, b, acc = mac_vectors(fmt, acc_fmt, a, b, rng, random_per_pair=1, directed_per_pair=1)
    pick = rng.choice(len(a), min(len(a), 4 * n), replace=False)
    a, b, acc = a[pick], b[pick], acc[pick]
    want = np.asarray(golden.mac(fmt, a, b, acc, acc_fmt)).astype(np.int64)
    got = _np(N.mac(fmt, _t(a, device)[:, None], _t(b, device)[:, None], _t(acc, device), acc_fmt))
    out.append(("mac", want, got, dict(a=a, b=b, acc=acc)))
    return out


def _mismatch(x, y):
    x, y = np.asarray(x).ravel(), np.asarray(y).ravel()
    bad = np.nonzero(x != y)[0]
    first = f"{hex(int(x[bad[0]]))} vs {hex(int(y[bad[0]]))} at {bad[0]}" if len(bad) else ""
    return int(len(bad)), first


def check(names, device="cpu", vectors=2000, sim=True, seed=2026):
    """Rows of the cross-check table (dicts); see the module docstring."""
    rng = np.random.default_rng(seed)
    rows, groups = [], []
    for name in names:
        fmt = formats.get(name)
        for op, want, got, unit_inputs in _ops(fmt, vectors, rng, device):
            count, first = _mismatch(want, got)
            row = {"format": name, "op": op, "vectors": int(np.asarray(want).size), "golden_vs_gpu_ref": count,
                   "first": first}
            rows.append(row)
            if sim and unit_inputs is not None:
                groups.append((row, unit_inputs, want, got))
    if groups:
        _simulate(groups)
    return rows


def _simulate(groups):
    """One Verilator build for every unit: each unit twice, once expecting golden, once gpu_ref's codes."""
    from hw.rtl import build_unit, default_unit
    from sim.harness import Group
    from sim.run import run_groups

    harness = []
    for row, inputs, want, got in groups:
        fmt = formats.get(row["format"])
        unit = build_unit(default_unit(fmt), fmt, stages=0)
        a = np.asarray(inputs["a"]).reshape(len(want), -1)
        b = np.asarray(inputs["b"]).reshape(len(want), -1)
        for expected in (want, got):
            harness.append(Group(unit, 1, a, b, expected, acc=inputs["acc"], extra=inputs.get("extra", {})))
    results = run_groups(harness, name="crosscheck")
    for k, (row, *_rest) in enumerate(groups):
        vs_golden, vs_gpu = results[2 * k], results[2 * k + 1]
        row["golden_vs_sim"] = vs_golden["mismatches"] + vs_golden["vectors"] - vs_golden["received"]
        row["sim_vs_gpu_ref"] = vs_gpu["mismatches"] + vs_gpu["vectors"] - vs_gpu["received"]
        if not row["first"] and (vs_golden.get("first") or vs_gpu.get("first")):
            row["first"] = json.dumps(vs_golden.get("first") or vs_gpu.get("first"))


def _table(rows) -> str:
    head = f"{'format':<12} {'op':<11} {'vectors':>8} {'gold/gpu':>9} {'gold/sim':>9} {'sim/gpu':>8}  first mismatch"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['format']:<12} {r['op']:<11} {r['vectors']:>8} {r['golden_vs_gpu_ref']:>9} "
                     f"{r.get('golden_vs_sim', '-'):>9} {r.get('sim_vs_gpu_ref', '-'):>8}  {r['first']}")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m gpu_ref.crosscheck", description=__doc__.splitlines()[0])
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
    rows = check(names, args.device, args.vectors, sim=not args.no_sim)
    print(_table(rows))
    failed = sum(r["golden_vs_gpu_ref"] + r.get("golden_vs_sim", 0) + r.get("sim_vs_gpu_ref", 0) for r in rows)
    print(f"{len(rows)} checks on {args.device}, {'no' if not failed else failed} mismatches")
    if args.json:
        from . import kernels
        meta = {"date": datetime.date.today().isoformat(),
                "device": torch.cuda.get_device_name(0) if args.device == "cuda" else "cpu", "torch": torch.__version__,
                "triton": kernels.triton.__version__ if kernels.triton is not None else None, "rows": rows}
        write_atomic(args.json, json.dumps(meta, indent=1) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
