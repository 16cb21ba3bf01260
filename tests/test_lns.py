"""LNS (LNS-Madam): the golden model against direct references, and the PyTorch reference with MadamLNS."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hw import formats as F
from hw.formats import LNSFormat

LNS8 = F.get("lns8")
FORMATS = ["lns8", "lns8g4", "lns6g2"]


def test_parameters_and_names():
    assert (LNS8.int_bits, LNS8.frac_bits, LNS8.gamma, LNS8.width) == (4, 3, 8, 8)
    assert LNS8.max_finite == 2 ** (63 / 8) and LNS8.min_positive == 2 ** (-63 / 8)
    assert LNS8.table == tuple(round(2 ** (r / 8) * 256) for r in range(8))
    g4 = F.get("lns8g4")
    assert (g4.int_bits, g4.frac_bits) == (5, 2)
    assert F.get("acc_lns8") == LNS8.accumulator() and LNS8.accumulator().bits == LNS8.acc_bits
    with pytest.raises(ValueError, match="gamma must be a power of two"):
        F.get("lns8g3")
    with pytest.raises(ValueError, match="int_bits must be"):
        LNSFormat("x", 0, 3)


@pytest.mark.parametrize("name", FORMATS)
def test_every_code_round_trips_and_specials(name):
    fmt = F.get(name)
    codes = np.arange(1 << fmt.width)
    values = fmt.decode(codes)
    assert np.isnan(values).sum() == 1 and values[fmt.nan_code] != values[fmt.nan_code]
    assert values[fmt.zero_code] == 0 and (values == 0).sum() == 1
    back = fmt.encode(values)
    np.testing.assert_array_equal(back[~np.isnan(values)], codes[~np.isnan(values)])
    assert back[fmt.nan_code] == fmt.nan_code
    specials = fmt.encode(np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e30, -1e30, 1e-30]))
    assert list(specials) == [fmt.zero_code, fmt.zero_code, fmt.nan_code, fmt.nan_code, fmt.nan_code,
                              fmt.max_log, (1 << fmt.log_bits) | fmt.max_log, fmt.zero_code]


@pytest.mark.parametrize("name", FORMATS)
def test_encode_is_nearest_on_the_log(name):
    """Against a brute-force search over every finite code, by distance of the logs."""
    fmt = F.get(name)
    rng = np.random.default_rng(0)
    lo, hi = fmt.min_log / fmt.gamma, fmt.max_log / fmt.gamma
    v = np.exp2(rng.uniform(lo - 0.4 / fmt.gamma, hi + 2, 20000)) * np.where(rng.random(20000) < 0.5, -1, 1)
    logs = np.arange(fmt.min_log, fmt.max_log + 1)
    target = np.log2(np.abs(v))[:, None] * fmt.gamma
    best = logs[np.argmin(np.abs(target - logs[None, :]), axis=1)]
    expected = fmt.pack_fields(v < 0, best, np.zeros(len(v), bool), np.zeros(len(v), bool))
    np.testing.assert_array_equal(fmt.encode(v), expected)


def test_stochastic_encode_is_unbiased_on_the_log():
    rng = np.random.default_rng(1)
    v = np.full(200_000, 2 ** (10.3 / 8))
    _, log, _, _ = LNS8.fields(LNS8.encode(v, "stochastic", rng=rng))
    assert set(np.unique(log)) == {10, 11} and abs(np.mean(log) - 10.3) < 0.005
    with pytest.raises(ValueError, match="seeded numpy Generator"):
        LNS8.encode(v, "stochastic")


@pytest.mark.parametrize("name", FORMATS)
def test_product_adds_logs_exactly(name):
    fmt = F.get(name)
    codes = np.arange(1 << fmt.width)
    a, b = (x.ravel() for x in np.meshgrid(codes, codes, indexing="ij"))
    p = fmt.mul(a, b)
    va, vb, vp = fmt.decode(a), fmt.decode(b), fmt.product_format().decode(p)
    finite = ~(np.isnan(va) | np.isnan(vb))
    np.testing.assert_allclose(vp[finite], (va * vb)[finite], rtol=1e-15, atol=0)
    assert np.isnan(vp[~finite]).all()
    assert (p[(va == 0) & finite] == fmt.product_format().zero_code).all()


def test_linear_conversion_is_the_table_times_a_shift():
    codes = np.arange(1 << LNS8.product_format().width)
    sign, log, zero, nan = LNS8.product_format().fields(codes)
    lin = LNS8.to_linear(codes)
    for c in range(len(codes)):
        if zero[c] or nan[c]:
            assert lin[c] == 0
            continue
        q, r = divmod(int(log[c]), 8)
        value = LNS8.table[r] * 2.0 ** (q - 8)
        assert float(lin[c]) * 2.0 ** LNS8.acc_lsb_exp == (-value if sign[c] else value), c
        assert abs(value / 2 ** (log[c] / 8) - 1) <= 2.0 ** -9  # table rounded to 8 fraction bits


@pytest.mark.parametrize("name", FORMATS)
def test_mac_grouped_equals_direct_and_wraps(name):
    fmt = F.get(name)
    rng = np.random.default_rng(2)
    a = rng.integers(0, 1 << fmt.width, (3000, 16))
    b = rng.integers(0, 1 << fmt.width, (3000, 16))
    acc = np.array([int(x) for x in rng.integers(0, 1 << 40, 3000)], dtype=object)
    direct = fmt.mac(a, b, acc)
    np.testing.assert_array_equal(direct, fmt.mac(a, b, acc, grouped=True))
    # the same sum written as a loop over lanes
    loop = [(int(acc[i]) + sum(int(t) for t in fmt.to_linear(fmt.mul(a[i], b[i])))) % (1 << fmt.acc_bits)
            for i in range(200)]
    assert [int(x) for x in direct[:200]] == loop
    top = (1 << (fmt.acc_bits - 1)) - 1  # the largest accumulator value wraps to the most negative
    big = np.full((1, 1), fmt.max_log)
    wrapped = fmt.mac(big, big, np.array([top], dtype=object))
    assert int(wrapped[0]) == (top + int(fmt.to_linear(fmt.mul(big, big))[0, 0])) % (1 << fmt.acc_bits)


def test_approximate_mac_error_is_bounded_by_the_table():
    """|MAC - exact| <= 2**-(table_bits+1) * sum|a_i b_i| (each term's table constant is off by at most half an LSB)."""
    rng = np.random.default_rng(3)
    a, b = (LNS8.encode(rng.standard_normal((5000, 16))) for _ in range(2))
    approx = LNS8.acc_value(LNS8.mac(a, b, np.zeros(5000, dtype=np.uint64)))
    exact = LNS8.exact_dot(a, b)
    scale = np.abs(LNS8.decode(a) * LNS8.decode(b)).sum(axis=1)
    assert np.all(np.abs(approx - exact) <= 2.0 ** -9 * scale * (1 + 1e-12))
    assert np.mean(np.abs(approx - exact) / scale) > 0  # the approximation is visible


# -- PyTorch reference --------------------------------------------------------------
torch = pytest.importorskip("torch")
from gpu_ref.lns import MadamLNS, lns_codes, lns_decode, lns_encode, train_example  # noqa: E402

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", FORMATS)
def test_torch_encode_decode_match_golden(name, device):
    fmt = F.get(name)
    rng = np.random.default_rng(4)
    values = np.concatenate([fmt.decode(np.arange(1 << fmt.width)), rng.standard_normal(5000) * 10,
                             [0.0, -0.0, np.inf, -np.inf, np.nan, 1e30, 1e-30]])
    sign, log = lns_encode(torch.tensor(values, device=device), fmt)
    np.testing.assert_array_equal(lns_codes(sign, log, fmt).cpu().numpy(), fmt.encode(values))
    decoded = lns_decode(sign, log, fmt, torch.float64).cpu().numpy()
    np.testing.assert_array_equal(decoded, fmt.decode(fmt.encode(values)))


@pytest.mark.parametrize("device", DEVICES)
def test_madam_trains_and_keeps_weights_on_the_grid(device):
    losses = train_example(steps=150, device=device, seed=1)
    assert losses[-1] < 0.2 * losses[0], losses[::30]
    model = torch.nn.Linear(4, 3).to(device)
    signs = torch.signbit(model.weight.detach()).clone()
    opt = MadamLNS(model.parameters(), fmt="lns8", lr=0.05)
    for _ in range(5):
        opt.zero_grad()
        model(torch.randn(8, 4, device=device)).square().sum().backward()
        opt.step()
    w = model.weight.detach().double()
    assert torch.equal(torch.signbit(w), signs)  # multiplicative: signs never flip
    logs = torch.log2(w.abs()) * 8
    assert torch.allclose(logs, logs.round(), atol=1e-9)  # every weight is an lns8 value
    with pytest.raises(ValueError, match="needs an LNS format"):
        MadamLNS(model.parameters(), fmt="e4m3")


def _madam_steps(device, lr, steps=3, stochastic=True):
    gen = torch.Generator().manual_seed(2)
    weight = torch.nn.Parameter((torch.randn(37, 53, generator=gen) * 0.3).to(device))
    opt = MadamLNS([weight], fmt="lns8", lr=lr, seed=9, stochastic=stochastic)
    for step in range(steps):
        weight.grad = (torch.randn(37, 53, generator=gen) * 10.0 ** (step - 1)).to(device)
        opt.step()
    return weight.detach().cpu(), opt.state[weight]


def test_madam_rounds_with_counter_based_bits_and_takes_tensor_rates():
    """The stochastic rounding's bits are counter_random24 of (seed, (step - 1) * numel + index): a step of
    one weight is reproduced from them; a 0-d tensor learning rate (as a CUDA graph needs) is the same run;
    on CUDA (one Triton kernel per parameter) the weights, logs and RMS state are the CPU's bit for bit."""
    from gpu_ref.numerics import counter_random24

    weight, state = _madam_steps("cpu", 0.05)
    assert int(state["step"]) == 3 and state["step"].dtype == torch.int64
    assert torch.equal(_madam_steps("cpu", torch.tensor(0.05))[0], weight)
    assert not torch.equal(_madam_steps("cpu", 0.05, steps=4)[0], weight)
    one = torch.nn.Parameter(torch.tensor([0.5, -0.75, 1.5]))
    opt = MadamLNS([one], fmt="lns8", lr=0.05, seed=4)
    log = opt.state[one]["log"].clone()
    one.grad = torch.tensor([0.1, 0.2, -0.3])
    opt.step()
    target = log - 0.05 * 8 * torch.tensor([1.0, -1.0, 1.0]) * torch.sign(one.grad.double())  # |g*| = 1
    up = counter_random24(4, torch.arange(3)).double() < (target - target.floor()) * 2.0 ** 24
    assert torch.equal(opt.state[one]["log"], target.floor() + up.double())
    if torch.cuda.is_available():
        for stochastic in (True, False):
            cpu_weight, cpu_state = _madam_steps("cpu", 0.05, stochastic=stochastic)
            gpu_weight, gpu_state = _madam_steps("cuda", torch.tensor(0.05, device="cuda"), stochastic=stochastic)
            assert torch.equal(gpu_weight, cpu_weight)
            assert torch.equal(gpu_state["log"].cpu(), cpu_state["log"]) and torch.equal(gpu_state["v"].cpu(),
                                                                                         cpu_state["v"])
