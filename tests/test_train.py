"""The training harness on the CPU (the H100 runs are committed under results/h100/train_*)."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from gpu_ref.data import corpus
from gpu_ref.layers import fake_quant
from gpu_ref.loop import Config, train
from hw import formats as F
from hw.formats import block

TINY = dict(width=64, depth=1, heads=4, seq=32, batch=8, steps=40, eval_every=20, eval_batches=2, lr=1e-2, warmup=5)


@pytest.fixture(scope="module")
def data():
    return corpus(300_000)


def test_corpus_is_the_stdlib_split_into_disjoint_files(data):
    train_bytes, held, info = data
    assert info["train_bytes"] == len(train_bytes) > 250_000 and info["heldout_bytes"] == len(held) > 0
    assert corpus(300_000)[2]["crc32"] == info["crc32"]  # the same bytes every time
    assert b"import" in bytes(train_bytes[:200_000].to(torch.uint8).numpy())


@pytest.mark.parametrize("precision", ["bf16", "mxfp4", "posit8", "lns8"])
def test_tiny_model_learns_in_every_precision(data, precision):
    result = train(Config(precision=precision, **TINY), "cpu", data)
    curve = result["curve"]
    assert len(curve) == 2 and all(np.isfinite(p["heldout_loss"]) for p in curve)
    assert result["final_train_loss"] < 0.8 * np.log(256)  # well below a uniform guess over bytes


def test_fake_quant_is_the_golden_block_quantizer():
    x = torch.randn(8, 64, dtype=torch.float64) * torch.logspace(-3, 3, 8, dtype=torch.float64)[:, None]
    for name in ("mxfp4", "mxfp8_e4m3", "nvfp4"):
        fmt = F.get(name)
        want = block.quantize(fmt, x.float().double().numpy()).dequantize()
        got = fake_quant(name, x.float()).double().numpy()
        np.testing.assert_array_equal(got, want.astype(np.float32))


def test_fp8_needs_cuda_and_bad_input_is_one_line():
    with pytest.raises(ValueError, match="CUDA"):
        train(Config(precision="fp8_tensorwise", **TINY), "cpu")
    run = subprocess.run([sys.executable, "-m", "gpu_ref.train", "--precision", "fp7", "--device", "cpu"],
                         capture_output=True, text=True)
    assert run.returncode == 2 and "unknown precision 'fp7'" in run.stderr and "Traceback" not in run.stderr


def test_parallel_quality_suite_takes_overrides_and_keeps_finished_runs(tmp_path):
    kept = tmp_path / "quality_bf16_seed0.json"
    kept.write_text("{}")  # a finished run is not redone
    run = subprocess.run([sys.executable, "-m", "gpu_ref.train", "--suite", "quality", "--out", str(tmp_path),
                          "--precisions", "bf16", "--seeds", "0,1,2", "--jobs", "2", "--device", "cpu",
                          "--width", "64", "--depth", "1", "--seq", "32", "--batch", "4", "--steps", "4",
                          "--eval-every", "2", "--eval-batches", "1", "--warmup", "2", "--corpus-bytes", "200000"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert kept.read_text() == "{}"
    for seed in (1, 2):
        result = json.loads((tmp_path / f"quality_bf16_seed{seed}.json").read_text())
        assert result["config"]["seed"] == seed and result["config"]["steps"] == 4 and result["config"]["width"] == 64
        assert [p["step"] for p in result["curve"]] == [2, 4]


def test_cuda_graph_steps_need_cuda_and_adamw():
    with pytest.raises(ValueError, match="cuda_graph needs a CUDA device"):
        train(Config(precision="bf16", **TINY), "cpu", cuda_graph=True)


def test_posit_and_lns_operands_carry_their_power_of_two_scale():
    """quantize_operand's posit/LNS values are the format's values of x / s times s (exact), scale 1."""
    from gpu_ref import layers, precisions, quant
    from hw import formats

    x = torch.randn(64, 96, generator=torch.Generator().manual_seed(3)) * 37.0
    for precision, name in (("posit8", "posit8"), ("lns8", "lns8"), ("posit16", "posit16")):
        values, scale = layers.quantize_operand(precision, x)
        s = quant.pow2_rms_scale(x)
        unscaled = quant.elementwise_fake_quantize(formats.get(name), x, s, torch.float32)
        assert scale == 1.0
        assert torch.equal(layers.fake_quant(precision, x), unscaled * s)
        parts = precisions.MATMULS[precisions.get(precision).matmul][0]  # posit8 1, posit16 2, lns8 3
        if parts == 1:
            assert torch.equal(values.float(), (unscaled * s).bfloat16().float())
        else:
            assert torch.equal(values, torch.stack(quant.bf16_parts(unscaled * s, parts)))


@pytest.mark.parametrize("value, share, scale", [(3.0, 1, 4.0), (2.0, 2, 1.0), (4.0, 2, 4.0), (8.0, 2, 4.0),
                                                 (1.0, 1, 1.0), (0.5, 1, 0.5), (0.5, 2, 0.25), (0.0, 1, 1.0),
                                                 (float("inf"), 1, 1.0)])
def test_pow2_rms_scale_rounds_half_the_log_of_the_mean_square(value, share, scale):
    """2**k with k nearest (ties to even) to log2(ms) / 2, ms the mean square of ``value`` in every
    ``share``-th element: ms 9 -> 4; ms 2 -> 2**0.5 -> 1 and ms 8 -> 2**1.5 -> 4 (ties); ms 32 -> 4."""
    from gpu_ref import quant

    x = torch.zeros(4, 8)
    x.view(-1)[::share] = value
    assert float(quant.pow2_rms_scale(x)) == scale


def test_bf16_parts_hold_posit16_and_lns8_values_exactly():
    """posit16 values (<= 13 significant bits) are two bf16 parts, lns8's fp32 values (24) three; fewer parts
    do not suffice, so the split matmuls are needed."""
    from gpu_ref.quant import bf16_parts
    from gpu_ref.numerics import decode_posit

    for name, count in (("posit16", 2), ("lns8", 3)):
        fmt = F.get(name)
        if name == "posit16":
            values = decode_posit(fmt, torch.arange(1 << 16)).float()
        else:
            values = torch.tensor(fmt.decode(np.arange(256)), dtype=torch.float32)
        values = values[torch.isfinite(values)]
        values = torch.cat([values * 2.0 ** k for k in (-40, 0, 37)])
        parts = bf16_parts(values, count)
        assert all(p.dtype == torch.bfloat16 for p in parts)
        assert torch.equal(sum(p.float() for p in parts), values)
        assert not torch.equal(sum(p.float() for p in bf16_parts(values, count - 1)), values)
    from gpu_ref import quant

    for parts in (0, 2.0):
        with pytest.raises(ValueError, match="parts must be a positive integer"):
            quant.elementwise_fake_quantize(F.get("posit16"), torch.ones(4), torch.ones(1), parts=parts)


@pytest.mark.parametrize("precision", ["posit8", "posit16", "lns8"])
def test_per_tensor_linear_is_the_quantized_matmuls(precision):
    """Forward and both backward matmuls of a posit/LNS layer are the quantized operands' products within
    fp32 rounding (the split matmuls of posit16/lns8 included): x q(w)^T, q(g) q(w), q(g)^T q(x)."""
    from gpu_ref.layers import QLinear

    gen = torch.Generator().manual_seed(5)
    layer = QLinear(96, 48, precision)
    x = (torch.randn(2, 40, 96, generator=gen) * 3.0).requires_grad_()
    g = torch.randn(2, 40, 48, generator=gen) * 1e-3
    y = layer(x)
    y.backward(g)

    def q(t):
        return fake_quant(precision, t).double()

    qx, qw, qg = q(x.detach().reshape(-1, 96)), q(layer.weight.detach()), q(g.reshape(-1, 48))
    for got, a, b in ((y.detach().reshape(-1, 48), qx, qw.t()), (x.grad.reshape(-1, 96), qg, qw),
                      (layer.weight.grad, qg.t(), qx)):
        bound = 2.0 ** -16 * (a.abs() @ b.abs())  # dropping a bf16 part would cost 2**-9
        assert torch.all((got.double() - a @ b).abs() <= bound)
