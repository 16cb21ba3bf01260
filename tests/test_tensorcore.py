"""The tensor-core golden model against an H100's measured FP8 products (saved in results/h100/)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from hw import formats as F
from hw import published
from hw.formats import golden, tensorcore
from hw.formats.exact import Rounding
from hw.formats.tensorcore import H100_FP8, H100_FP8_PROMOTED, FusedDotSpec, scaled_mm, split_parts

DATA = "results/h100/scaled_mm_2026-11-22/"
E4, E5, FP32, BF16 = F.get("e4m3"), F.get("e5m2"), F.get("fp32"), F.get("bf16")
PAIRS = {"normal": (E4, E4), "wide": (E4, E4), "cancel": (E4, E4), "mixed": (E4, E5), "mixed_ba": (E5, E4)}
MODES = ((1, H100_FP8), (0, H100_FP8_PROMOTED))


def measured(dist, k, rows=6):
    data = np.load(f"{DATA}scaled_mm_{dist}.npz")
    return data[f"a_k{k}"][:rows], data[f"b_k{k}"][:rows], {f: data[f"c_k{k}_fast{f}"][:rows, :rows] for f in (0, 1)}


@pytest.mark.parametrize("dist", list(PAIRS))
@pytest.mark.parametrize("k", [16, 48, 128, 160 - 32, 512])
def test_golden_reproduces_h100_scaled_mm(dist, k):
    """Bit for bit, fast accumulation on and off (promotion every 128 shows from K = 256 on)."""
    a, b, c = measured(dist, k)
    fa, fb = PAIRS[dist]
    for fast, spec in MODES:
        assert np.array_equal(tensorcore.dot(spec, fa, fb, a[:, None, :], b[None, :, :]), c[fast]), (dist, k, fast)


def test_promotion_matters_beyond_128():
    a, b, c = measured("normal", 512)
    fast = tensorcore.dot(H100_FP8, E4, E4, a[:, None, :], b[None, :, :])
    assert not np.array_equal(fast, c[0]) and np.array_equal(fast, c[1])


@pytest.mark.parametrize("change", [dict(step=16), dict(align_bits=14), dict(align_bits=16), dict(sum_bits=12),
                                    dict(sum_bits=14), dict(sum_rounding=Rounding.RNE), dict(term_rounding=Rounding.RNE)])
def test_every_parameter_is_pinned_by_the_data(change):
    """Each parameter of H100_FP8 is the only value that fits: changing any one breaks the match."""
    a, b, c = measured("wide", 64, rows=16)
    spec = replace(H100_FP8, **change)
    assert not np.array_equal(tensorcore.dot(spec, E4, E4, a[:, None, :], b[None, :, :]), c[1])


def test_specials_and_zero_sign():
    """NaN operands, Inf - Inf and 0 * Inf give 0x7FFFFFFF; infinities keep their sign; zero sums are +0."""
    data = np.load(f"{DATA}specials.npz")
    for key, fa, fb in (("specials_e4", E4, E4), ("specials_e5", E4, E5)):
        for fast, spec in MODES:
            out = tensorcore.dot(spec, fa, fb, data[f"{key}_a"][:, None, :], data[f"{key}_b"][None, :, :])
            assert np.array_equal(out, data[f"{key}_c{fast}"]), (key, fast)
    assert out[0, 0] == 0x7F800000 and out[1, 0] == 0x7FFFFFFF  # inf * 1 ... ; inf * 0


@pytest.mark.parametrize("key", [f"scale{i}" for i in range(9)] + ["rowwise_f32", "rowwise_bf16", "tensor_bf16",
                                                                      "tensor_bf16s"])
def test_scales_and_outputs(key):
    """Tensorwise D = acc * fp32(sa * sb); rowwise D = (acc * sb[n]) * sa[m]; bf16 = RNE of the fp32 result;
    including scales that push results to fp32 subnormals and to overflow."""
    data = np.load(f"{DATA}specials.npz")
    sa, sb = (data[f"{key}_s{x}"].astype(np.float32).view(np.uint32).reshape(-1) for x in "ab")
    if sa.size == 1:
        sa, sb = sa[0], sb[0]
    else:
        sa, sb = sa[:12], sb[:12]
    out_fmt = BF16 if "bf16" in key else FP32
    for fast, spec in MODES:
        out = tensorcore.scaled_mm(spec, E4, E4, data[f"{key}_a"][:12], data[f"{key}_b"][:12], sa, sb, out_fmt)
        assert np.array_equal(out, data[f"{key}_c{fast}"][:12, :12]), (key, fast)


def test_wide_window_is_the_exact_fused_dot():
    """With a window wider than any exponent spread and RNE, a step is golden.dot's single rounding."""
    rng = np.random.default_rng(3)
    exact = FusedDotSpec("exact", step=8, align_bits=160, sum_bits=23, term_rounding=Rounding.RNE,
                         sum_rounding=Rounding.RNE)
    a = E4.encode(rng.normal(size=(4000, 8)) * np.exp2(rng.integers(-8, 8, (4000, 8))))
    b = E4.encode(rng.normal(size=(4000, 8)))
    acc = FP32.encode(rng.normal(size=4000) * np.exp2(rng.integers(-30, 30, 4000))).astype(np.uint32)
    ours = tensorcore.step(exact, E4, E4, a, b, acc)
    assert np.array_equal(ours, golden.dot(E4, a, b, acc, FP32))


def test_rtz_overflow_and_window_behaviour():
    """Directed: the window keeps 13 bits below the top; the accumulator is cut like a product;
    fp32's largest accumulator is cut to the step format's largest value."""
    one = E4.encode([1.0] + [0.0] * 31)
    tiny = E4.encode([2.0 ** -6] * 32)
    acc = FP32.encode(256.0)
    assert FP32.decode(tensorcore.step(H100_FP8, E4, E4, tiny, one, acc)) == 256.0  # 2^-6 is 14 bits below 2^8
    small = E4.encode([2.0 ** -5] * 2 + [0.0] * 30)
    assert FP32.decode(tensorcore.step(H100_FP8, E4, E4, small, one, acc)) == 256.0 + 2.0 ** -5
    acc = FP32.encode(1.0 + 2.0 ** -20)  # the accumulator keeps 13 fraction bits
    assert FP32.decode(tensorcore.step(H100_FP8, E4, E4, E4.encode([0.0] * 32), one, acc)) == 1.0
    big = FP32.max_code
    out = tensorcore.step(H100_FP8, E4, E4, E4.encode([448.0] * 32), E4.encode([448.0] * 32), big)
    assert out == FP32.pack(H100_FP8.sum_format.unpack(H100_FP8.sum_format.max_code))


@pytest.mark.parametrize("bad,match", [(dict(step=0), "step"), (dict(align_bits=1), "align_bits"),
                                       (dict(sum_bits=24), "sum_bits"), (dict(promote_every=48), "multiple"),
                                       (dict(term_rounding=Rounding.STOCHASTIC), "term_rounding")])
def test_spec_validation(bad, match):
    with pytest.raises(ValueError, match=match):
        FusedDotSpec("bad", **bad)


def test_step_rejects_too_many_products():
    with pytest.raises(ValueError, match="at most 32"):
        tensorcore.step(H100_FP8, E4, E4, np.zeros((1, 33), np.uint8), np.zeros((1, 33), np.uint8), 0)


LONG_K = Path(__file__).resolve().parents[1] / "results" / "h100" / "long_k_2026-11-24"


def test_the_unsplit_model_holds_exactly_in_its_documented_domain():
    """Measured on the H100: without fast accumulation every case matches; with it, every case with
    K <= 5120 or M = N >= 512 matches and every other one is a split-K that a search found."""
    long_k = json.loads((LONG_K / "long_k.json").read_text())
    split_k = json.loads((LONG_K / "split_k.json").read_text())
    for row in long_k["rows"]:
        inside = not row["fast_accum"] or row["k"] <= 5120 or row["m"] >= 512
        assert (row["match"] == 1.0) == inside, row
    for row in split_k["rows"]:
        inside = row["k"] <= 5120 or row["m"] >= 512
        assert (row["unsplit"] == 1.0) == inside and (inside or row["found"]), row
    modes = json.loads((LONG_K / "split_k_modes.json").read_text())
    for row in modes["rows"]:  # non-square, E5M2, bf16 out, scales: unsplit, or a split found; rowwise never splits
        assert row["unsplit"] == 1.0 or row["found"], row
        assert row["scales"] != "row" or row["unsplit"] == 1.0, row


@pytest.mark.parametrize("m, k, parts, grain", [(64, 8192, 3, 256), (256, 16384, 2, 1024)])
def test_split_k_reproduces_committed_h100_products(m, k, parts, grain):
    torch = pytest.importorskip("torch")
    from gpu_ref.tensorcore import split_dot

    data = np.load(LONG_K / "long_k_samples.npz")
    a = torch.tensor(data[f"a_m{m}_k{k}"][:16].astype(np.int64))
    b = torch.tensor(data[f"b_m{m}_k{k}"][:16].astype(np.int64))
    gpu = torch.tensor(data[f"c_m{m}_k{k}_fast1"][:16, :16])
    unsplit = split_dot(H100_FP8, E4, E4, a, b).view(torch.int32)
    split = split_dot(H100_FP8, E4, E4, a, b, split_parts(k, parts, grain)).view(torch.int32)
    assert (unsplit != gpu).any() and bool((split == gpu).all())
    # the numpy golden model agrees on a corner
    golden = scaled_mm(H100_FP8, E4, E4, a[:2].numpy(), b[:2].numpy(), FP32.encode(1.0), FP32.encode(1.0),
                       split_k=split_parts(k, parts, grain))
    assert np.array_equal(golden.astype(np.uint32), gpu[:2, :2].numpy().view(np.uint32))


def test_split_parts_rule_and_errors():
    assert split_parts(8192, 3, 256) == [(0, 2816), (2816, 5632), (5632, 8192)]
    with pytest.raises(ValueError, match="does not split into 25 parts"):
        split_parts(1024, 25, 256)


# -- the spec library: published single-instruction vectors, H100 fp16/bf16/tf32 products ------------------
PUBLISHED_ROOT = published.default_root()
#: Files no registered spec matches (FP8 operands with fp16 results on H100, H200 and B200; see the README).
UNMATCHED = {("H100", "E4M3"), ("H100", "E5M2"), ("H200", "E4M3"), ("H200", "E5M2"), ("B200", "E4M3"),
             ("B200", "E5M2")}
needs_published = pytest.mark.skipif(not PUBLISHED_ROOT.is_dir(), reason=f"no published data at {PUBLISHED_ROOT}")


@needs_published
@pytest.mark.parametrize("case", published.cases(PUBLISHED_ROOT) if PUBLISHED_ROOT.is_dir() else [],
                         ids=lambda c: f"{c.gpu}-{c.inputs}-{c.output}")
def test_published_vectors_replay(case):
    """Every published test of every file, raw bits: 5,000/5,000 for each file with a registered spec."""
    row = published.replay(PUBLISHED_ROOT, case)
    if case.output == "fp16" and (case.gpu, case.inputs) in UNMATCHED:
        assert not row["registered"] and row["matched"] < row["tests"]
    else:
        assert row["registered"] and (row["matched"], row["tests"]) == (5000, 5000), row["failing"]


@needs_published
def test_every_gpu_and_input_is_covered():
    found = published.cases(PUBLISHED_ROOT)
    assert {c.gpu for c in found} == set(published.GPUS) and len(found) == 48
    assert {c.spec_name for c in found if (c.gpu, c.inputs) not in UNMATCHED or c.output == "fp32"} <= set(
        tensorcore.SPECS)


def test_h100_16bit_products_match_on_committed_data():
    """The H100 measurements (results/h100/mma_16bit_2026-11-24): cuBLAS and Triton fp16/bf16/tf32 products,
    10^6 dot products per K up to 4096, all match the registered specs; tf32 steps of 4 do not."""
    data = json.loads(Path("results/h100/mma_16bit_2026-11-24/mma_16bit.json").read_text())
    rows = data["hardware"]
    assert {r["path"] for r in rows} >= {"triton", "cublas_fp16", "cublas_bf16", "cublas_fp32"}
    for r in rows:
        registered = r["spec"] in tensorcore.SPECS
        assert (r["matched"] == r["dot_products"]) == registered, r
        if registered:
            assert tensorcore.SPECS[r["spec"]].step == (8 if r["input"] == "tf32" else 16)
    assert sum(r["dot_products"] for r in rows if r["spec"] in tensorcore.SPECS) >= 10 ** 6
    assert all(r["matched"] == r["dot_products"] for r in data["emulation"])


def test_c_added_after_the_window():
    """B200 FP8: the products' sum, truncated to fp32, is added to c rounded to nearest; aligned with c in
    the window (the Hopper way) the same step truncates."""
    a = E4.encode(np.array([2.0 ** -8, 2.0 ** -9]))
    c = np.uint32(FP32.encode(256.0))
    b200 = tensorcore.get_spec("b200_fp8")
    assert tensorcore.step(b200, E4, E4, a, a, c) == 0x43800001  # 256 + 2^-16 + 2^-18 -> up to 256 + 2^-15
    aligned = replace(b200, c_term=tensorcore.CTerm.ALIGNED)
    assert tensorcore.step(aligned, E4, E4, a, a, c) == 0x43800000


def test_fp16_output_spec_accumulates_in_fp16():
    spec = tensorcore.get_spec("v100_fp16_to_fp16")
    fp16 = F.get("fp16")
    ones = fp16.encode(np.ones(4))
    out = tensorcore.mma(spec, fp16, fp16, ones, ones, np.uint16(fp16.encode(2048.0)))
    assert out.dtype == np.uint16 and float(fp16.decode(out)) == 2052.0  # 2048 + 4: ulp 2, exact
    with pytest.raises(ValueError, match="accumulates in fp16"):
        tensorcore.scaled_mm(spec, fp16, fp16, ones[None], ones[None], FP32.encode(1.0), FP32.encode(1.0))


@pytest.mark.parametrize("kwargs, message", [
    ({"output": F.get("bf16")}, "output must be fp32 or fp16"),
    ({"output": F.get("fp16"), "sum_bits": 13}, "sum_bits must be an int in 1..10"),
    ({"nan_code": 0x7F800000}, "is not a NaN of fp32"),
    ({"c_term": "added"}, "c_term must be a CTerm"),
    ({"output": F.get("fp16"), "sum_bits": 10, "promote_every": 128}, "with an fp32 output"),
])
def test_spec_checks(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FusedDotSpec("bad", **kwargs)


def test_unknown_spec_names_the_valid_ones():
    with pytest.raises(ValueError, match="unknown tensor-core spec 'b300_fp8'; valid: h100_fp8, "):
        tensorcore.get_spec("b300_fp8")
    assert "b200_fp8" in tensorcore.specs_for("e5m2") and "b200_fp8" not in tensorcore.specs_for("fp16")
