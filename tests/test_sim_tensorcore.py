"""cocotb regressions of the tensor-core step unit against the golden model (and so the H100), bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from dataclasses import replace

from hw import formats as F
from hw import published
from hw.formats import tensorcore
from hw.lint import lint
from hw.rtl import build_unit, to_verilog
from hw.rtl.stimulus import tensorcore_vectors
from hw.sim import Job, available_simulators, verify

pytestmark = [pytest.mark.sim, pytest.mark.skipif("verilator" not in available_simulators(),
                                                  reason="Verilator not installed")]
DATA = "results/h100/scaled_mm_2026-11-22/scaled_mm_{}.npz"


def _unit(fmt_a, fmt_b, lanes, stages, align_bits=None):
    return build_unit("tensorcore", F.get(fmt_a), fmt_b=F.get(fmt_b), lanes=lanes, stages=stages, align_bits=align_bits)


def h100_steps(unit):
    """Dot products measured on an H100 (K = 256), cut into the unit's steps; returns (a, b, acc, expected).

    Each step's accumulator is the golden result of the step before, and the
    last step's result is asserted to be the GPU's.
    """
    fmt = unit.fmt
    data = np.load(DATA.format("wide"))
    a, b = np.broadcast_arrays(data["a_k256"][:6, None, :], data["b_k256"][None, :6, :])
    a, b = a.reshape(-1, 8, 32), b.reshape(-1, 8, 32)
    acc = np.zeros(len(a), dtype=np.uint32)
    rows = []
    for s in range(8):
        out = tensorcore.step(unit.spec, fmt, fmt, a[:, s], b[:, s], acc)
        rows.append((a[:, s], b[:, s], acc, out))
        acc = out
    assert np.array_equal(acc, data["c_k256_fast1"][:6, :6].reshape(-1))
    return [np.concatenate(column) for column in zip(*rows)]


def test_tensorcore_units():
    """32-lane E4M3 x E4M3 (pipelined; random, chained, windowed and corner vectors plus H100 dot products
    replayed step by step), E4M3 x E5M2, and an 8-lane E5M2 x E4M3 unit with a wider window."""
    rng = np.random.default_rng(31)
    jobs = []
    for unit, n in ((_unit("e4m3", "e4m3", 32, 2), 1200), (_unit("e4m3", "e5m2", 32, 0), 1000),
                    (_unit("e5m2", "e4m3", 8, 1, align_bits=24), 2000)):
        a, b, acc = tensorcore_vectors(unit.spec, unit.fmt, unit.fmt_b, unit.lanes, n, rng)
        if not jobs:
            ha, hb, hacc, _ = h100_steps(unit)
            a, b = np.concatenate([a, ha.astype(np.uint64)]), np.concatenate([b, hb.astype(np.uint64)])
            acc = np.concatenate([acc, hacc])
        jobs.append(Job(unit, {"a": a, "b": b, "acc_in": acc}, copies=2))
    verify(jobs, name="tensorcore")


#: One spec per distinct hardware design (every other registered spec has the same parameters as one of these,
#: checked below), with the published file whose vectors go through its RTL (GPU, input folder).
DESIGNS = {"v100_fp16": ("V100", "fp16"), "v100_fp16_to_fp16": ("V100", "fp16"),
           "a100_fp16": ("A100", "fp16"), "a100_fp16_to_fp16": ("A100", "fp16"), "a100_bf16": ("A100", "bf16"),
           "a100_tf32": ("A100", "tf32"), "ada_fp8": ("Ada", "E5M2"), "ada_fp8_to_fp16": ("Ada", "E4M3"),
           "h100_fp16": ("H100", "fp16"), "h100_fp16_to_fp16": ("H100", "fp16"), "h100_bf16": ("H100", "bf16"),
           "h100_tf32": ("H100", "tf32"), "b200_fp8": ("B200", "E4M3")}
#: The designs the default test tier simulates (every feature: fp16/tf32 operands, fp16 output, C added, a K
#: loop of two steps); the slow tier simulates them all.
QUICK = ("v100_fp16_to_fp16", "h100_tf32", "ada_fp8", "b200_fp8")


def test_every_spec_has_a_design():
    anonymous = lambda spec: replace(spec, name="", source="")
    designs = {anonymous(tensorcore.SPECS[name]) for name in DESIGNS} | {anonymous(tensorcore.H100_FP8)}
    for name, spec in tensorcore.SPECS.items():
        if spec.promote_every is None:
            assert anonymous(spec) in designs, name


def published_steps(spec, gpu, inputs):
    """The published vectors of (gpu, inputs) cut into the spec's steps (a shorter instruction padded with +0
    lanes, which take no part), each step's accumulator the golden result of the step before; the last step's
    golden result is asserted to be the GPU's.  (a, b, acc_in) or None."""
    root = published.default_root()
    case = published.Case(gpu, inputs, spec.output.name)
    if not case.path(root, "d").exists():
        return None
    data = published.load(root, case)
    fmt, acc, rows = data["fmt"], data["c"], []
    for start in range(0, data["a"].shape[1], spec.step):
        a, b = data["a"][:, start:start + spec.step], data["b"][:, start:start + spec.step]
        pad = ((0, 0), (0, spec.step - a.shape[1]))  # a shorter instruction (tf32 K = 4 on a step of 8): +0 lanes
        a, b = np.pad(a, pad), np.pad(b, pad)
        rows.append((a, b, acc))
        acc = tensorcore.step(spec, fmt, fmt, a, b, acc)
    assert np.array_equal(acc, data["d"])
    return [np.concatenate(column) for column in zip(*rows)]


def design_jobs(names, rng):
    jobs = []
    for name in names:
        spec = tensorcore.SPECS[name]
        gpu, inputs = DESIGNS[name]
        fmt = F.get("e4m3" if inputs == "E4M3" else "e5m2" if inputs == "E5M2" else inputs)
        unit = build_unit("tensorcore", fmt, spec=name, stages=1)
        a, b, acc = tensorcore_vectors(spec, fmt, fmt, unit.lanes, 800, rng)
        replayed = published_steps(spec, gpu, inputs)
        if replayed is not None:
            a, b = (np.concatenate([x, y.astype(np.uint64)]) for x, y in zip((a, b), replayed[:2]))
            acc = np.concatenate([acc, replayed[2].astype(acc.dtype)])
        jobs.append(Job(unit, {"a": a, "b": b, "acc_in": acc}))
    return jobs


def test_published_designs():
    """The RTL of one step of V100 fp16 (fp16 output), H100 tf32, Ada FP8 (two steps per instruction) and
    B200 FP8 (C added after the window): random, chained, windowed and corner vectors, and every published
    vector of the GPU (where ../shared is present) replayed step by step through the RTL."""
    verify(design_jobs(QUICK, np.random.default_rng(19)), name="tensorcore_published")


@pytest.mark.slow
def test_all_published_designs():
    verify(design_jobs([n for n in DESIGNS if n not in QUICK], np.random.default_rng(20)),
           name="tensorcore_published_all")


def test_every_design_lints_clean(tmp_path):
    """Each design's Verilog (pipelined, so with its clock and registers) passes Verilator's -Wall lint."""
    for name in ["h100_fp8", *DESIGNS]:
        spec = tensorcore.SPECS[name]
        path = tmp_path / f"{name}.v"
        path.write_text(to_verilog(build_unit("tensorcore", F.get(spec.inputs[0]), spec=name, stages=2)))
        clean, text = lint([path])
        assert clean, (name, text[-2000:])
