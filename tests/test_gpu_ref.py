"""gpu_ref against the golden model (and, in the crosscheck, the simulated Verilog): CPU in CI, CUDA where present."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gpu_ref import tensorcore
from hw import crosscheck
from hw import formats as F
from hw.formats import tensorcore as tc
from hw.sim import available_simulators

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
DATA = "results/h100/scaled_mm_2026-11-22/"


@pytest.mark.parametrize("device", DEVICES)
def test_gpu_ref_matches_golden_for_every_registered_format(device):
    rows = crosscheck.check(F.names(), device=device, vectors=3000, sim=False)
    assert {r["format"] for r in rows} == set(F.names())
    bad = [r for r in rows if r["golden_vs_gpu_ref"]]
    assert not bad, bad


@pytest.mark.sim
@pytest.mark.skipif("verilator" not in available_simulators(), reason="Verilator not installed")
def test_crosscheck_command_three_way(capsys):
    """The CLI on one format of each family: golden, simulated Verilog and gpu_ref agree; exit status 0
    (the whole registry's golden-vs-gpu_ref check is the test above)."""
    chosen = ["e4m3", "int8", "posit8", "posit32", "mxfp4", "nvfp4", "lns8"]
    assert crosscheck.main([arg for name in chosen for arg in ("--fmt", name)] + ["--vectors", "300"]) == 0
    out = capsys.readouterr().out
    assert "no mismatches" in out and "posit32" in out and "nvfp4" in out
    for op in ("mul", "round_mul", "mac", "readout", "dot", "quant"):
        assert f" {op} " in out, op


def test_crosscheck_bad_input(capsys):
    assert crosscheck.main(["--fmt", "e9m9"]) == 2
    assert crosscheck.main(["--device", "tpu"]) == 2
    assert crosscheck.main(["--vectors", "3"]) == 2
    err = capsys.readouterr().err
    assert err.count("crosscheck: error:") == 3 and "Traceback" not in err


@pytest.mark.parametrize("device", DEVICES)
def test_tensorcore_emulation_reproduces_h100(device):
    e4, e5 = F.get("e4m3"), F.get("e5m2")
    for dist, fa, fb in (("wide", e4, e4), ("mixed", e4, e5), ("cancel", e4, e4)):
        data = np.load(f"{DATA}scaled_mm_{dist}.npz")
        for k in (48, 512):
            a = torch.from_numpy(data[f"a_k{k}"][:24].astype(np.int64)).to(device)
            b = torch.from_numpy(data[f"b_k{k}"][:24].astype(np.int64)).to(device)
            for fast, spec in ((1, tc.H100_FP8), (0, tc.H100_FP8_PROMOTED)):
                got = tensorcore.dot(spec, fa, fb, a, b).cpu().view(torch.int32).numpy().view(np.uint32)
                assert np.array_equal(got, data[f"c_k{k}_fast{fast}"][:24, :24]), (dist, k, fast)


@pytest.mark.parametrize("device", DEVICES)
def test_tensorcore_emulation_of_every_spec(device):
    """gpu_ref.tensorcore.mma and dot against the golden model for every registered spec and input format:
    three steps of K, exponents spread over 2^-6..2^6, random accumulators (fp32 or fp16)."""
    rng = np.random.default_rng(5)
    for name, spec in tc.SPECS.items():
        for inp in spec.inputs:
            matched, total = tensorcore.compare_with_golden(spec, F.get(inp), rng, 6, device)
            assert matched == total, (name, inp, matched, total)
