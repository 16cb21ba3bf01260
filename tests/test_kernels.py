"""The quantizers' PyTorch reference (CPU, in CI) and the Triton kernels against it bit for bit (CUDA only).

CUDA results of a run on the device machine are committed under
``results/h100/kernels_*`` (``python -m pytest tests/test_kernels.py`` there).
"""

import dataclasses

import numpy as np
import pytest
import torch

from gpu_ref import block as gblock
from gpu_ref import kernels, lns, numerics
from hw import formats as F
from hw.formats import block as golden_block

cuda = pytest.mark.skipif(not kernels.available(), reason="needs CUDA and Triton")
BLOCK_FORMATS = ["mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e3m2", "mxfp6_e2m3", "mxfp4", "nvfp4"]


def adversarial(shape, fmt, seed):
    """Gaussian rows at scales 2**-30 .. 2**30 with 6 % special entries: signed zeros, NaN, +-Inf, fp32
    subnormals, the element format's midpoints and maximum (+- a hair) at random powers of two."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=gen) * torch.exp2(torch.randint(-30, 31, (shape[0], 1), generator=gen).float())
    element = fmt.element if isinstance(fmt, F.BlockFormat) else fmt
    grid = torch.tensor(sorted({abs(float(v)) for v in np.asarray(element.decode(np.arange(1 << element.width)))
                                if np.isfinite(float(v))}), dtype=torch.float64)
    mids = ((grid[1:] + grid[:-1]) / 2).float()
    top = float(grid[-1])
    pool = torch.cat([torch.tensor([0.0, -0.0, float("nan"), float("inf"), -float("inf"), 2.0 ** -149, 2.0 ** -126,
                                    3.4e38, top, top * (1 + 2 ** -20), top * (1 - 2 ** -20)]), mids])
    pick = torch.rand(shape, generator=gen) < 0.06
    choice = pool[torch.randint(0, len(pool), shape, generator=gen)]
    power = torch.exp2(torch.randint(-12, 13, shape, generator=gen).float())
    sign = torch.where(torch.rand(shape, generator=gen) < 0.5, -1.0, 1.0)
    special = torch.where(torch.isfinite(choice) & (choice.abs() < 1e30) & (choice.abs() > 1e-30),
                          choice * power * sign, choice)
    return torch.where(pick, special, x)


# -- the PyTorch reference (CPU) --------------------------------------------------------------------------------
def test_counter_random_is_a_pure_function_of_seed_and_index():
    index = torch.arange(1 << 16)
    a, b = numerics.counter_random24(7, index), numerics.counter_random24(7, index)
    assert torch.equal(a, b) and int(a.min()) >= 0 and int(a.max()) < 1 << 24
    assert not torch.equal(a, numerics.counter_random24(8, index))
    assert abs(float(a.double().mean()) / (1 << 24) - 0.5) < 0.01 and len(torch.unique(a)) > 65000
    big = numerics.counter_random24(7, index + (5 << 32))  # the index's high half counts too
    assert (big != a).float().mean() > 0.99


@pytest.mark.parametrize("name", ["e4m3", "e2m1", "e5m2"])
def test_stochastic_rounding_is_unbiased_and_picks_a_neighbour(name):
    fmt = F.get(name)
    x = torch.rand(20000, dtype=torch.float64) * float(fmt.max_finite) * 0.9
    x = x.float()
    codes = numerics.encode_float(fmt, x, rounding="sr", seed=3)
    got = numerics.decode_float(fmt, codes)
    rtz = numerics.decode_float(fmt, numerics.round_float(fmt, *numerics.float_fields(x), rounding="rtz"))
    step_up = numerics.decode_float(fmt, numerics.round_float(fmt, *numerics.float_fields(x), rounding="rtz") + 1)
    exact = rtz == x.double()
    assert torch.all((got == rtz) | ((got == step_up) & ~exact))
    frac = torch.where(exact, 0.0, (x.double() - rtz) / (step_up - rtz))
    up = (got != rtz).double()
    assert abs(float(up.mean() - frac.mean())) < 0.01  # unbiased on average
    grid_values = numerics.decode_float(fmt, torch.arange(0, fmt.max_code + 1)).float()  # exact: never moved
    assert torch.equal(numerics.encode_float(fmt, grid_values, rounding="sr", seed=1), torch.arange(0, fmt.max_code + 1))


def test_block_stochastic_rounding_averages_to_the_input():
    fmt = F.get("mxfp4")
    x = torch.full((4000, 32), 0.3) * torch.linspace(1, 2, 32)
    values = gblock.dequantize(fmt, *gblock.quantize(fmt, x, rounding="sr", seed=5)[:2])
    assert torch.allclose(values.mean(0), x[0].double(), rtol=0.02)
    rne = gblock.dequantize(fmt, *gblock.quantize(fmt, x)[:2])
    assert not torch.allclose(rne.mean(0), x[0].double(), rtol=0.02)  # the test can tell SR from RNE


@pytest.mark.parametrize("name", ["nvfp4", "mxfp8_e4m3"])
def test_two_d_blocks_are_one_block_per_tile(name):
    fmt = F.get(name)
    b = fmt.block_size
    x = adversarial((2 * b + 3, 3 * b + 5), fmt, 1)
    x = torch.where(torch.isfinite(x), x, 1.0)
    codes, scales, ts = gblock.quantize(fmt, x, two_d=True)
    assert scales.shape == (3, 4)
    tile_fmt = dataclasses.replace(fmt, name=f"{name}_tile", block_size=b * b) if b * b <= 256 else None
    for i in range(3):
        for j in range(4):
            tile = torch.zeros(b, b)
            part = x[i * b:(i + 1) * b, j * b:(j + 1) * b]
            tile[:part.shape[0], :part.shape[1]] = part
            if tile_fmt is not None:
                c, s, _ = gblock.quantize(tile_fmt, tile.reshape(1, -1), ts)
                assert int(s[0, 0]) == int(scales[i, j])
                assert torch.equal(c.reshape(b, b)[:part.shape[0], :part.shape[1]],
                                   codes[i * b:(i + 1) * b, j * b:(j + 1) * b])
            amax = float(part.abs().max())
            assert int(scales[i, j]) == int(gblock.quantize(fmt, torch.tensor([[amax]]), ts)[1][0, 0])


def test_rht16_is_the_orthonormal_signed_hadamard_transform():
    h = torch.ones(1, 1, dtype=torch.float64)
    while h.shape[0] < 16:
        h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
    signs = gblock.rht_signs(11)
    d = torch.tensor([-1.0 if (signs >> j) & 1 else 1.0 for j in range(16)], dtype=torch.float64)
    matrix = (h * d[:, None]).t() / 4  # y = x @ matrix: output j = sign_j * (H x)_j / 4
    x = torch.randn(64, 48)
    y = gblock.rht16(x, 11)
    want = (x.double().reshape(-1, 16) @ matrix).reshape(x.shape)
    assert torch.allclose(y.double(), want, rtol=1e-6, atol=1e-6)
    assert torch.allclose((matrix @ matrix.t()), torch.eye(16, dtype=torch.float64))
    assert 0 < bin(signs).count("1") < 16 and gblock.rht_signs(12) != signs
    with pytest.raises(ValueError, match="multiple of 16"):
        gblock.rht16(torch.zeros(2, 20), 1)


def test_nibbles_pack_low_first_and_unpack():
    codes = torch.randint(0, 16, (5, 7))
    packed = gblock.pack_nibbles(codes)
    assert packed.shape == (5, 4) and int(packed[0, 0]) == int(codes[0, 0]) | int(codes[0, 1]) << 4
    assert torch.equal(gblock.unpack_nibbles(packed, 7), codes)


@pytest.mark.parametrize("name", ["posit8", "posit16", "lns8"])
def test_threshold_tables_encode_as_the_reference(name):
    """The kernels' posit/LNS encoder, its bucket lookup and binary search emulated step by step: every
    threshold and its neighbours, every bucket edge, and random fp32 patterns, encode as the reference does."""
    fmt = F.get(name)
    tables = kernels.encode_tables(fmt, "cpu")
    thresholds = tables.thresholds.long()
    t = thresholds[thresholds != 0x7FFFFFFF]
    edges = torch.arange(1, len(tables.starts)) << tables.shift
    bits = torch.cat([t - 1, t, t + 1, edges - 1, edges, torch.randint(0, 0x7F800000, (200000,)),
                      torch.tensor([0, 0x7F800000, 0x7FC00000, 0x7FFFFFFF])])
    bits = torch.cat([bits, bits | (1 << 31)]).int()
    x = bits.view(torch.float32)
    a = (bits & 0x7FFFFFFF).long()
    idx = tables.starts.long()[a >> tables.shift]
    for step in range(tables.steps):
        probe = idx + (1 << (tables.steps - 1 - step))
        idx = torch.where(thresholds[probe - 1] <= a, probe, idx)
    finite = a < 0x7F800000  # NaN/Inf patterns take the NaN code whatever their rank
    assert torch.equal(idx[finite], torch.searchsorted(thresholds, a[finite], right=True))
    mag = tables.codes.long()[idx]
    if name.startswith("posit"):
        got = torch.where(bits < 0, (-mag) & ((1 << fmt.n) - 1), mag)
        got = torch.where((bits & 0x7FFFFFFF) >= 0x7F800000, fmt.nar_code, got)
        want = numerics.encode_posit(fmt, x)
    else:
        zero = fmt.zero_log & ((1 << fmt.log_bits) - 1)
        got = torch.where((bits < 0) & (mag != zero), mag | (1 << fmt.log_bits), mag)
        got = torch.where((bits & 0x7FFFFFFF) >= 0x7F800000, (1 << fmt.log_bits) | zero, got)
        want = lns.lns_codes(*lns.lns_encode(x, fmt), fmt)
    assert torch.equal(got, want)


def _same_bits(a, b):
    """Equal float32 tensors, NaNs compared as NaN (their payloads are the decoders' choice)."""
    return torch.equal(torch.isnan(a), torch.isnan(b)) and torch.equal(a[~torch.isnan(a)].view(torch.int32),
                                                                         b[~torch.isnan(b)].view(torch.int32))


# -- the kernels against the reference (CUDA) ------------------------------------------------------------------
SHAPES = [(1, 1), (3, 17), (33, 100), (130, 257), (64, 512), (33, 96)]  # the last two: rows of whole blocks,
# the bf16 fast paths (E2M1 pair kernels, fp8 dequantizer), with a last program part full in (33, 96)


def _reference(fmt, x, rounding, two_d, rht_seed, ts=None):
    x = x.float().cpu()
    if rht_seed is not None:
        x = gblock.rht16(x, rht_seed)
    return gblock.quantize(fmt, x, ts, rounding, seed=9, two_d=two_d)


@cuda
@pytest.mark.parametrize("name", BLOCK_FORMATS)
@pytest.mark.parametrize("rounding", ["rne", "sr"])
@pytest.mark.parametrize("two_d", [False, True])
def test_block_quantize_kernel_is_the_reference(name, rounding, two_d):
    fmt = F.get(name)
    for i, shape in enumerate(SHAPES):
        for dtype in (torch.float32, torch.bfloat16):
            for transposed in (False, True):
                x = adversarial(shape[::-1] if transposed else shape, fmt, 100 + i).to(dtype)
                xc = x.cuda().t() if transposed else x.cuda()
                ref_x = x.t() if transposed else x
                codes, scales, ts = kernels.block_quantize(fmt, xc, rounding=rounding, seed=9, two_d=two_d)
                want_codes, want_scales, want_ts = _reference(fmt, ref_x, rounding, two_d, None)
                if fmt.element.width <= 4:
                    want_codes = gblock.pack_nibbles(want_codes)
                where = f"{name} {shape} {dtype} transposed={transposed}"
                assert float(ts.cpu()[0]) == want_ts, where
                assert torch.equal(scales.cpu().long(), want_scales), where
                assert torch.equal(codes.cpu().long(), want_codes.long()), where
                values, _ = kernels.block_quantize(fmt, xc, rounding=rounding, seed=9, two_d=two_d, values=True)
                want_values, _ = gblock.fake_quantize(fmt, ref_x.float(), None, rounding, 9, two_d)
                assert _same_bits(values.cpu().float(), want_values.float()), where
                count = ref_x.shape[-1]
                for out in (torch.float32, torch.bfloat16):
                    got = kernels.block_dequantize(fmt, codes, scales, ts, count, two_d, out).cpu()
                    want = gblock.dequantize(fmt, gblock.unpack_nibbles(want_codes, count) if fmt.element.width <= 4
                                             else want_codes, want_scales, want_ts, two_d).float().to(out)
                    assert _same_bits(got.float(), want.float()), where


@cuda
@pytest.mark.parametrize("name", ["nvfp4", "mxfp4", "mxfp8_e4m3"])
def test_block_kernels_at_the_ends_of_the_range(name):
    """Whole tensors near the bottom of fp32/bf16 (tensor and block scales subnormal, bf16 subnormal elements
    and bounds) and near the top, through the bf16 fast paths and the general kernel (fp32 in)."""
    fmt = F.get(name)
    gen = torch.Generator().manual_seed(11)
    for power in (-131, -120, 100, 120):
        x = (torch.randn(96, 256, generator=gen) * 2.0 ** power).to(torch.bfloat16).float()
        want_codes, want_scales, want_ts = _reference(fmt, x, "rne", False, None)
        if fmt.element.width <= 4:
            want_codes = gblock.pack_nibbles(want_codes)
        for dtype in (torch.bfloat16, torch.float32):
            codes, scales, ts = kernels.block_quantize(fmt, x.to(dtype).cuda())
            assert float(ts.cpu()[0]) == want_ts, (power, dtype)
            assert torch.equal(scales.cpu().long(), want_scales), (power, dtype)
            assert torch.equal(codes.cpu().long(), want_codes.long()), (power, dtype)
            values, _ = kernels.block_quantize(fmt, x.to(dtype).cuda(), values=True)
            assert _same_bits(values.cpu().float(), gblock.fake_quantize(fmt, x, None)[0].float()), (power, dtype)
        got = kernels.block_dequantize(fmt, codes, scales, ts, 256, dtype=torch.bfloat16).cpu()
        unpacked = gblock.unpack_nibbles(want_codes, 256) if fmt.element.width <= 4 else want_codes
        want = gblock.dequantize(fmt, unpacked, want_scales, want_ts).float().to(torch.bfloat16)
        assert _same_bits(got.float(), want.float()), power


@cuda
@pytest.mark.parametrize("name", ["nvfp4", "mxfp8_e4m3"])
def test_fast_paths_take_views_that_do_not_start_on_a_word(name):
    """Contiguous views starting one element (one code byte) into their storage: no int32 view of them
    exists, so the general kernels take them, with the same results."""
    fmt = F.get(name)
    x = adversarial((32, 256), fmt, 21).to(torch.bfloat16)
    shifted = torch.cat([torch.zeros(1, dtype=torch.bfloat16), x.flatten()]).cuda()[1:].view(32, 256)
    assert shifted.storage_offset() == 1
    want = kernels.block_quantize(fmt, x.cuda())
    got = kernels.block_quantize(fmt, shifted)
    assert all(torch.equal(a, b) for a, b in zip(got, want))
    codes = torch.cat([torch.zeros(1, dtype=torch.uint8, device="cuda"), want[0].flatten()])[1:].view(want[0].shape)
    assert _same_bits(kernels.block_dequantize(fmt, codes, want[1], want[2], 256, dtype=torch.bfloat16).float(),
                      kernels.block_dequantize(fmt, want[0], want[1], want[2], 256, dtype=torch.bfloat16).float())


@cuda
def test_nvfp4_ties_and_fused_hadamard():
    fmt = F.get("nvfp4")
    # ts = 1 exactly (amax 2688), block scale s exactly (block amax 6 s), elements on the midpoints t * s: ties
    scales = torch.tensor([0.5, 1.0, 1.5, 3.0, 448.0 / 6 * 0 + 64.0, 2.0 ** -6, 0.875, 12.0])
    rows = []
    for s in scales:
        mids = torch.tensor([0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0, 6.0]) * s
        rows.append(torch.cat([mids, -mids]))
    x = torch.stack(rows)
    x[0, 0] = 2688.0
    codes, sc, ts = kernels.block_quantize(fmt, x.cuda())
    want_codes, want_scales, want_ts = gblock.quantize(fmt, x)
    assert want_ts == 1.0 and float(ts.cpu()[0]) == 1.0
    assert torch.equal(codes.cpu().long(), gblock.pack_nibbles(want_codes).long())
    assert torch.equal(sc.cpu().long(), want_scales)
    golden = golden_block.quantize(fmt, x.double().numpy())
    assert np.array_equal(want_codes.numpy(), golden.elements.astype(np.int64))
    for seed in (1, 2):
        x = adversarial((96, 256), fmt, seed)
        x = torch.where(torch.isfinite(x), x, 0.0)
        for values in (False, True):
            got = kernels.block_quantize(fmt, x.cuda().t().contiguous().t(), rht_seed=seed, values=values)
            want = _reference(fmt, x, "rne", False, seed)
            if values:
                want_values, _ = gblock.fake_quantize(fmt, gblock.rht16(x, seed), None)
                assert _same_bits(got[0].cpu().float(), want_values.float())
            else:
                assert torch.equal(got[0].cpu().long(), gblock.pack_nibbles(want[0]).long())
                assert torch.equal(got[1].cpu().long(), want[1]) and float(got[2].cpu()[0]) == want[2]
        ts = kernels.tensor_scale(fmt, x.cuda(), rht_seed=seed)
        assert float(ts.cpu()[0]) == gblock.tensor_scale(fmt, gblock.rht16(x, seed))


@cuda
@pytest.mark.parametrize("name", ["e4m3", "e5m2", "e3m2", "e2m3", "e2m1", "e4m3fnuz", "bf16", "fp16"])
def test_minifloat_encode_kernel_is_the_reference(name):
    fmt = F.get(name)
    gen = torch.Generator().manual_seed(4)
    bits = torch.cat([torch.randint(-2 ** 31, 2 ** 31 - 1, (1 << 22,), generator=gen, dtype=torch.int64),
                      torch.arange(-(1 << 16), 1 << 16) << 12]).int()
    x = torch.cat([bits.view(torch.float32), adversarial((256, 256), fmt, 3).reshape(-1)])
    for rounding in ("rne", "sr"):
        for saturate in (False, True):
            if rounding == "sr" and saturate:
                continue
            got = kernels.encode(fmt, x.cuda(), rounding, seed=21, saturate=saturate).cpu().long()
            want = numerics.encode_float(fmt, x, saturate=saturate, rounding=rounding, seed=21)
            if rounding == "rne":  # the reference's RNE path on CPU (not the torch casts)
                want = numerics.round_float(fmt, *numerics.float_fields(x), saturate=saturate, nan_sign=True)
            assert torch.equal(got & ((1 << fmt.width) - 1), want & ((1 << fmt.width) - 1)), (rounding, saturate)


def _reference_codes(fmt, x):
    if isinstance(fmt, F.PositFormat):
        return numerics.encode_posit(fmt, x)
    if isinstance(fmt, F.LNSFormat):
        return lns.lns_codes(*lns.lns_encode(x, fmt), fmt)
    return numerics.round_float(fmt, *numerics.float_fields(x), nan_sign=True) & ((1 << fmt.width) - 1)


def _reference_values(fmt):
    codes = torch.arange(1 << fmt.width)
    if isinstance(fmt, F.PositFormat):
        return numerics.decode_posit(fmt, codes).float()
    if isinstance(fmt, F.LNSFormat):
        return lns.lns_decode(*lns.lns_fields(codes, fmt), fmt, torch.float32)
    return numerics.decode_float(fmt, codes).float()


@cuda
@pytest.mark.parametrize("name", ["posit8", "posit16", "lns8", "e4m3", "e2m1"])
def test_table_encode_and_decode_kernels_are_the_reference(name):
    fmt = F.get(name)
    gen = torch.Generator().manual_seed(5)
    bits = torch.cat([torch.randint(-2 ** 31, 2 ** 31 - 1, (1 << 22,), generator=gen, dtype=torch.int64),
                      torch.arange(-(1 << 16), 1 << 16) << 12]).int()
    x = bits.view(torch.float32)
    want = _reference_codes(fmt, x)
    assert torch.equal(kernels.encode(fmt, x.cuda()).cpu().long() & ((1 << fmt.width) - 1), want)
    table = _reference_values(fmt)
    assert _same_bits(kernels.decode(fmt, torch.arange(1 << fmt.width).cuda()).cpu(), table)
    scale = torch.tensor([0.25], device="cuda")
    fused = kernels.fake_quantize_elementwise(fmt, x.cuda(), scale, dtype=torch.float32).cpu()
    assert _same_bits(fused, table[_reference_codes(fmt, x / 0.25)])
    rescaled = kernels.fake_quantize_elementwise(fmt, x.cuda(), scale, dtype=torch.float32, rescale=True).cpu()
    assert _same_bits(rescaled, table[_reference_codes(fmt, x / 0.25)] * 0.25)
    if name in ("posit16", "lns8"):  # the split matmuls' operands: three bf16 parts summing to each value
        from gpu_ref.quant import bf16_parts

        parts = kernels.fake_quantize_elementwise(fmt, x.cuda(), scale, rescale=True, parts=3).cpu()
        finite = torch.isfinite(rescaled)
        assert torch.equal(parts[:, finite], torch.stack(bf16_parts(rescaled[finite], 3)))
        assert torch.isnan(parts[0, ~finite]).all()


def test_bad_rounding_and_engine_values_are_refused():
    x = torch.ones(4)
    with pytest.raises(ValueError, match="rounding must be 'rne' or 'sr'"):
        numerics.encode_float(F.get("e4m3"), x, rounding="rtz")
    with pytest.raises(ValueError, match="random bits"):
        numerics.round_float(F.get("e4m3"), *numerics.float_fields(x), rounding="sr")
    with pytest.raises(ValueError, match="rounding must be 'rne' or 'sr'"):
        gblock.quantize(F.get("mxfp4"), x.reshape(1, 4), rounding="up")
    from gpu_ref import layers
    previous, layers.fp8_engine = layers.fp8_engine, "fast"
    try:
        with pytest.raises(ValueError, match="fp8_engine must be one of auto, torchao, own, not 'fast'"):
            layers.QLinear(16, 16, "fp8_tensorwise")
    finally:
        layers.fp8_engine = previous


def test_timers_refuse_counts_that_time_nothing():
    from gpu_ref import peaks

    for call, match in ((lambda: peaks.time_ms(lambda: None, repeat=0), "repeat must be an integer >= 1"),
                        (lambda: peaks.time_ms(lambda: None, warmup=-1), "warmup must be an integer >= 0"),
                        (lambda: peaks.host_us(lambda: None, repeat=2.5), "repeat must be an integer >= 1")):
        with pytest.raises(ValueError, match=match):
            call()


def test_kernel_entry_points_refuse_bad_arguments_before_launching():
    fmt = F.get("nvfp4")
    with pytest.raises(ValueError, match="2-D blocks need a matrix"):
        kernels.block_quantize(fmt, torch.zeros(2, 16, 16), two_d=True)
    with pytest.raises(ValueError, match="output dtype must be"):
        kernels.block_quantize(fmt, torch.zeros(2, 16), values=True, dtype=torch.float16)
    with pytest.raises(ValueError, match="output dtype must be"):
        kernels.block_dequantize(fmt, torch.zeros(2, 8, dtype=torch.uint8), torch.zeros(2, 1, dtype=torch.uint8), None,
                                 16, dtype=torch.int32)
    with pytest.raises(ValueError, match="fused Hadamard transform"):
        kernels.block_quantize(fmt, torch.zeros(2, 24), rht_seed=1)
    with pytest.raises(ValueError, match="rounding must be"):
        kernels.block_quantize(fmt, torch.zeros(2, 16), rounding="up")


@cuda
def test_pow2_rms_scale_kernel_is_the_reference():
    """Inputs whose sums of squares are exact in any order (small integers times powers of two), so that
    the kernel's fixed tree of partial sums and the reference's sum must give the same scale."""
    from gpu_ref import quant

    gen = torch.Generator().manual_seed(8)
    for i, shape in enumerate([(1, 1), (3, 17), (256, 256), (97, 1000)]):
        for k in (-60, -3, 0, 5, 40):
            x = torch.randint(-8, 9, shape, generator=gen).float() * 2.0 ** k
            for view in (x, x.t().contiguous().t()):
                got = kernels.pow2_rms_scale(view.cuda()).cpu()
                assert torch.equal(got, quant.pow2_rms_scale(view)), (shape, k)
