"""Stimulus for simulation: every operand pair where that is cheap, directed corners, seeded random.

Everything works on integer codes.  Accumulator values for a MAC come in three
kinds, for every operand pair: a directed list (signed zeros, subnormals,
normal limits, one, max finite, Inf, NaN), values built from the exact
product (its negation, so the sum cancels exactly; powers of two that put the
product's lowest bit on the rounding guard, so the sum ties; one ulp away,
so the tie breaks the other way), and random values whose exponent lies near
the product's, so the alignment shifter sees every distance.
"""

from __future__ import annotations

import numpy as np

from ..formats import (FP32, BlockFormat, Exact, FloatFormat, Format, IntFormat, LNSFormat, PositFormat, ScaleFormat,
                       golden)
from ..formats.block import quantize
from ..formats.exact import bit_length, multiply
from ..formats.tensorcore import step

__all__ = ["all_pairs", "operand_pairs", "corner_codes", "random_codes", "mac_vectors", "dot_vectors",
           "block_dot_vectors", "quant_vectors", "tensorcore_vectors", "lns_mac_vectors", "quire_values",
           "quire_mac_vectors", "posit_dot_vectors"]


def all_pairs(fmt: Format) -> tuple[np.ndarray, np.ndarray]:
    """Every (a, b) pair of codes, a major."""
    codes = np.arange(1 << fmt.width, dtype=np.uint64)
    a, b = np.meshgrid(codes, codes, indexing="ij")
    return a.ravel(), b.ravel()


def operand_pairs(fmt: Format, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Every pair of codes for formats of up to 8 bits; otherwise every pair of corner codes plus ``n`` random pairs."""
    if fmt.width <= 8:
        return all_pairs(fmt)
    corners = corner_codes(fmt)
    ca, cb = np.meshgrid(corners, corners, indexing="ij")
    return (np.concatenate([ca.ravel(), random_codes(fmt, n, rng)]),
            np.concatenate([cb.ravel(), random_codes(fmt, n, rng)]))


def corner_codes(fmt: Format) -> np.ndarray:
    """Directed codes of ``fmt``, both signs: zeros, subnormal and normal limits, one, max, Inf, NaN
    (posits: zero, NaR, +-minpos, +-maxpos, +-1, +-2; LNS: zero, NaN, the extreme logs, 1)."""
    if isinstance(fmt, PositFormat):
        n = fmt.n
        return np.array(sorted({0, fmt.nar_code, 1, (1 << n) - 1, (1 << (n - 1)) - 1, (1 << (n - 1)) + 1,
                                1 << (n - 2), 3 << (n - 2), (1 << (n - 2)) + (1 << (n - 3))}), dtype=np.uint64)
    if isinstance(fmt, LNSFormat):
        mask, sign = (1 << fmt.log_bits) - 1, 1 << fmt.log_bits
        logs = [fmt.max_log & mask, fmt.min_log & mask, 0]
        return np.array(sorted({fmt.zero_code, fmt.nan_code, *logs, *(sign | v for v in logs)}), dtype=np.uint64)
    if isinstance(fmt, IntFormat):
        values = [0, 1, -1, 2, -2, fmt.min_value, fmt.max_value, fmt.min_value + 1, fmt.max_value - 1]
        return np.unique(np.array(values, dtype=np.int64) & ((1 << fmt.bits) - 1)).astype(np.uint64)
    m = fmt.man_bits
    mags = [0, 1, (1 << m) - 1, 1 << m, (1 << m) | 1, fmt.max_code, fmt.max_code - 1,
            int(fmt.encode(1.0)), int(fmt.encode(1.0)) + 1]
    if fmt.inf_code is not None:
        mags += [fmt.inf_code, fmt.inf_code + 1]
    codes = [c | s for c in mags for s in (0, fmt.sign_bit)]
    if fmt.nan_code is not None:
        codes.append(fmt.nan_code)
    return np.unique(np.array(codes, dtype=np.uint64) & np.uint64((1 << fmt.width) - 1))


def random_codes(fmt: Format, n: int, rng: np.random.Generator) -> np.ndarray:
    """Uniformly random codes (so every exponent is equally likely)."""
    return rng.integers(0, 1 << fmt.width, n, dtype=np.uint64)


def _near(acc: FloatFormat, top: np.ndarray, spread: int, rng) -> np.ndarray:
    """Random finite codes of ``acc`` with leading exponent within ``spread`` of ``top``."""
    n = len(top)
    exp = np.clip(top + rng.integers(-spread, spread + 1, n), acc.emin - acc.man_bits, acc.emax)
    frac = rng.integers(0, 1 << 52, n, dtype=np.uint64).astype(np.float64) / 2.0**52
    values = np.ldexp(1.0 + frac, exp) * np.where(rng.random(n) < 0.5, -1.0, 1.0)
    return acc.encode(values, rounding="rtz", saturate=True).astype(np.uint64)


def mac_vectors(fmt: Format, acc: Format, a: np.ndarray, b: np.ndarray, rng: np.random.Generator,
                random_per_pair: int = 2, directed_per_pair: int | None = 2, relative: bool = True):
    """Expand operand pairs with accumulator values (see the module docstring).

    ``directed_per_pair=None`` gives every pair every directed accumulator;
    an integer k gives each pair k of them, rotating through the list so that
    every directed value meets every k-th pair.  Returns ``(a, b, acc)`` code
    arrays, each pair repeated once per accumulator.
    """
    a = np.asarray(a, dtype=np.uint64)
    b = np.asarray(b, dtype=np.uint64)
    columns = []
    corners = corner_codes(acc)
    if directed_per_pair is None:
        columns += [np.full(len(a), code, dtype=np.uint64) for code in corners]
    else:
        index = np.arange(len(a))
        columns += [corners[(index + j * (len(corners) // max(directed_per_pair, 1) + 1)) % len(corners)]
                    for j in range(directed_per_pair)]
    if isinstance(acc, FloatFormat):
        product = multiply(fmt.unpack(a), fmt.unpack(b))
        finite = ~(product.nan | product.inf) & ~product.zero
        mag = np.where(finite, product.mag, 1).astype(object)
        low = product.exp + _trailing_zeros(mag)
        top = product.exp + bit_length(mag) - 1
        if relative:
            negated = Exact(~product.neg, product.mag, product.exp, product.nan, product.inf)
            columns.append(acc.pack(negated).astype(np.uint64))
            ulp = 2.0 ** (1 - acc.precision)
            for sign in (1.0, -1.0):
                for j in (0, 1):
                    values = sign * np.ldexp(1.0 + j * ulp, low + acc.precision)
                    columns.append(acc.encode(values, saturate=True).astype(np.uint64))
        for _ in range(random_per_pair):
            columns.append(_near(acc, top, acc.precision + 4, rng))
    else:
        for _ in range(random_per_pair):
            columns.append(random_codes(acc, len(a), rng))
    accs = np.stack(columns, axis=1)
    k = accs.shape[1]
    return np.repeat(a, k), np.repeat(b, k), accs.ravel()


def _trailing_zeros(mag: np.ndarray) -> np.ndarray:
    return bit_length(mag & -mag) - 1


def dot_vectors(fmt: Format, acc: Format, lanes: int, n: int, rng: np.random.Generator):
    """``n`` dot-product vectors ``(a[n, lanes], b[n, lanes], acc[n])``.

    A quarter are plain random codes; a quarter cancel (lane pairs with
    ``b`` negated so big products meet their negatives); a quarter carry one
    corner code per vector; the rest mix random operands with accumulators
    near the products.
    """
    a = random_codes(fmt, n * lanes, rng).reshape(n, lanes)
    b = random_codes(fmt, n * lanes, rng).reshape(n, lanes)
    accs = random_codes(acc, n, rng)
    q = n // 4
    sign = np.uint64(fmt.sign_bit) if isinstance(fmt, FloatFormat) else None
    if sign is not None and lanes >= 2:
        # cancellation: lane 2k+1 is lane 2k with b negated
        a[q:2 * q, 1::2] = a[q:2 * q, 0:lanes - lanes % 2:2]
        b[q:2 * q, 1::2] = b[q:2 * q, 0:lanes - lanes % 2:2] ^ sign
    corners = corner_codes(fmt)
    rows = np.arange(2 * q, 3 * q)
    a[rows, rng.integers(0, lanes, q)] = corners[rng.integers(0, len(corners), q)]
    b[rows, rng.integers(0, lanes, q)] = corners[rng.integers(0, len(corners), q)]
    accs[rows] = corner_codes(acc)[rng.integers(0, len(corner_codes(acc)), q)]
    if isinstance(acc, FloatFormat):
        product = multiply(fmt.unpack(a[3 * q:, 0]), fmt.unpack(b[3 * q:, 0]))
        mag = np.where(~(product.nan | product.inf) & ~product.zero, product.mag, 1).astype(object)
        accs[3 * q:] = _near(acc, product.exp + bit_length(mag) - 1, acc.precision + 4, rng)
    return a, b, accs


def _scale_corners(fmt: BlockFormat) -> np.ndarray:
    """Directed scale codes: the smallest, one, large and small, the largest, NaN."""
    if isinstance(fmt.scale, ScaleFormat):
        bias, nan = fmt.scale.bias, fmt.scale.nan_code
        return np.array([0, 1, bias - 30, bias - 1, bias, bias + 1, bias + 30, nan - 1, nan], dtype=np.uint64)
    return corner_codes(fmt.scale)


def block_dot_vectors(fmt: BlockFormat, acc: FloatFormat, n: int, rng: np.random.Generator):
    """``(a, b, a_scale, b_scale, acc)`` for a block dot unit: n random vectors plus every element pair.

    A quarter are quantized Gaussian blocks (realistic codes and scales, with
    accumulators of similar size); a quarter random codes and scales; a
    quarter cancel (lane pairs with ``b`` negated); a quarter carry directed
    element, scale and accumulator codes.  Then every element pair, spread
    over the lanes, at unit scale.
    """
    bs = fmt.block_size
    q = n // 4
    x = rng.standard_normal((2, q, bs)) * np.ldexp(1.0, rng.integers(-30, 30, (2, q, 1)))
    qa, qb = quantize(fmt, x[0]), quantize(fmt, x[1])
    a = [qa.elements, random_codes(fmt.element, 3 * q * bs, rng).reshape(3 * q, bs)]
    b = [qb.elements, random_codes(fmt.element, 3 * q * bs, rng).reshape(3 * q, bs)]
    scale_bits = fmt.scale.width
    sa = [qa.scales[:, 0], rng.integers(0, 1 << scale_bits, 3 * q, dtype=np.uint64)]
    sb = [qb.scales[:, 0], rng.integers(0, 1 << scale_bits, 3 * q, dtype=np.uint64)]
    expected_size = np.sum(qa.dequantize() * qb.dequantize(), axis=-1)
    accs = [acc.encode(expected_size * rng.standard_normal(q)), random_codes(acc, 3 * q, rng)]
    a, b, sa, sb, accs = (np.concatenate(v).astype(np.uint64) for v in (a, b, sa, sb, accs))
    if isinstance(fmt.element, FloatFormat) and bs >= 2:
        rows = slice(2 * q, 3 * q)
        a[rows, 1::2] = a[rows, 0:bs - bs % 2:2]
        b[rows, 1::2] = b[rows, 0:bs - bs % 2:2] ^ np.uint64(fmt.element.sign_bit)
    rows = np.arange(3 * q, 4 * q)
    corners = corner_codes(fmt.element)
    a[rows, rng.integers(0, bs, q)] = corners[rng.integers(0, len(corners), q)]
    b[rows, rng.integers(0, bs, q)] = corners[rng.integers(0, len(corners), q)]
    scales = _scale_corners(fmt)
    sa[rows] = scales[rng.integers(0, len(scales), q)]
    sb[rows] = scales[rng.integers(0, len(scales), q)]
    accs[rows] = corner_codes(acc)[rng.integers(0, len(corner_codes(acc)), q)]

    pa, pb = all_pairs(fmt.element)
    pad = (-len(pa)) % bs
    pa, pb = (np.concatenate([p, np.zeros(pad, dtype=np.uint64)]).reshape(-1, bs) for p in (pa, pb))
    one = np.uint64(fmt.scale.bias if isinstance(fmt.scale, ScaleFormat) else fmt.scale.encode(1.0))
    m = len(pa)
    a, b = np.concatenate([a, pa]), np.concatenate([b, pb])
    sa, sb = np.concatenate([sa, np.full(m, one)]), np.concatenate([sb, np.full(m, one)])
    accs = np.concatenate([accs, np.zeros(m, dtype=np.uint64)])
    return a, b, sa, sb, accs


def quant_vectors(fmt: BlockFormat, n: int, rng: np.random.Generator):
    """``(x, tensor_scale)``: n blocks of fp32 codes for a quantizer, and fp32 tensor-scale codes.

    Gaussian blocks over fp32's whole range (subnormals included), some with
    one large outlier; random fp32 bit patterns (NaN and Inf turn up); and
    directed blocks: all zeros (both signs), one NaN or +-Inf, element-grid
    midpoints times a power of two (ties), values just past the element
    maximum (saturation).  Tensor scales lie near each block's own.
    """
    fp32 = FP32
    bs = fmt.block_size
    q = n // 3
    x = rng.standard_normal((q, bs)) * np.ldexp(1.0, rng.integers(-148, 126, (q, 1)))
    outlier = rng.random(q) < 0.3
    x[outlier, 0] *= 2.0 ** 10
    blocks = [fp32.encode(x, saturate=True), random_codes(fp32, q * bs, rng).reshape(q, bs)]

    grid = np.unique(np.abs(fmt.element_decode(np.arange(1 << fmt.element.width))))
    mids = (grid[:-1] + grid[1:]) / 2
    directed = []
    for k in range(q):
        kind = k % 6
        power = np.ldexp(1.0, int(rng.integers(-120, 110)))
        if kind == 0:
            row = np.where(rng.random(bs) < 0.5, -0.0, 0.0)
        elif kind in (1, 2):
            row = rng.standard_normal(bs) * power
            row[rng.integers(0, bs)] = [np.nan, np.inf, -np.inf][int(rng.integers(0, 3))]
        elif kind in (3, 4):
            row = rng.choice(mids, bs) * power * np.where(rng.random(bs) < 0.5, -1, 1)
            row[0] = fmt.element_max * power
        else:
            row = rng.uniform(fmt.element_max, 2.0 ** (fmt.element_emax + 1), bs) * power
        directed.append(fp32.encode(row, saturate=True))
    x = np.concatenate(blocks + [np.array(directed)]).astype(np.uint64)
    values = fp32.decode(x)
    amax = np.max(np.where(np.isfinite(values), np.abs(values), 0), axis=1)
    limit = fmt.element_max * (fmt.scale.max_finite if fmt.tensor_scale else 1.0)
    ts = np.where(amax > 0, amax / limit, 1.0) * np.ldexp(1.0, rng.integers(-3, 4, len(x)))
    ts = np.clip(ts, 2.0 ** -120, 2.0 ** 120)
    return x, fp32.encode(ts).astype(np.uint64)


def tensorcore_vectors(spec, fmt_a: FloatFormat, fmt_b: FloatFormat, lanes: int, n: int, rng: np.random.Generator):
    """Operands and accumulators ``(a, b, acc)`` (codes of ``spec.output``) for one fused step of a tensor-core unit.

    A quarter are random codes (NaN, Inf, zeros and subnormals included) with
    random fp32 accumulators; a quarter are whole K = 8 * lanes dot products
    walked step by step, each accumulator the golden result of the step before
    (Gaussian operands, some with exponents spread over 2^-12..2^8, some whose
    odd lanes nearly cancel the even ones); a quarter put the accumulator's
    leading bit near the largest product's, so the window cuts it at every
    distance; the rest mix directed corner codes into Gaussian operands.
    """
    out = spec.output
    q = n // 4
    a = np.stack([random_codes(fmt_a, lanes, rng) for _ in range(n)])
    b = np.stack([random_codes(fmt_b, lanes, rng) for _ in range(n)])
    acc = rng.integers(0, 1 << out.width, n, dtype=np.uint64).astype(np.uint32)

    def gaussian(fmt, shape, spread):
        x = rng.normal(size=shape) * (np.exp2(rng.integers(-12, 9, shape)) if spread else 1)
        return fmt.encode(np.clip(x, -fmt.max_finite, fmt.max_finite))

    chain_rows = []
    steps = 8
    for chain in range(q // steps):
        kind = chain % 3
        ka, kb = gaussian(fmt_a, (steps, lanes), kind == 1), gaussian(fmt_b, (steps, lanes), kind == 1)
        if kind == 2:
            kb[:, 1::2] = fmt_b.encode(-fmt_b.decode(kb[:, 0::2][:, :lanes // 2]) * (1 + rng.integers(-1, 2, (steps, lanes // 2)) / 16))
            ka[:, 1::2] = ka[:, 0::2][:, :lanes // 2]
        c = np.uint32(0)
        for s in range(steps):
            chain_rows.append((ka[s], kb[s], c))
            c = step(spec, fmt_a, fmt_b, ka[s], kb[s], c)
    for i, (ra, rb, c) in enumerate(chain_rows):
        a[q + i], b[q + i], acc[q + i] = ra, rb, c
    rows = slice(2 * q, 3 * q)
    a[rows], b[rows] = gaussian(fmt_a, (q, lanes), False), gaussian(fmt_b, (q, lanes), False)
    products = fmt_a.decode(a[rows]) * fmt_b.decode(b[rows])
    top = np.max(np.where(np.isfinite(products), np.floor(np.log2(np.abs(products) + 1e-300)), -40), axis=-1)
    acc[rows] = _near(out, top.astype(np.int64), 20, rng).astype(np.uint32)
    rest = slice(3 * q, n)
    corner_a, corner_b = corner_codes(fmt_a), corner_codes(fmt_b)
    a[rest], b[rest] = gaussian(fmt_a, (n - 3 * q, lanes), True), gaussian(fmt_b, (n - 3 * q, lanes), True)
    pick = rng.random((n - 3 * q, lanes)) < 0.15
    a[rest] = np.where(pick, corner_a[rng.integers(0, len(corner_a), pick.shape)], a[rest])
    b[rest] = np.where(pick[:, ::-1], corner_b[rng.integers(0, len(corner_b), pick.shape)], b[rest])
    return a.astype(np.uint64), b.astype(np.uint64), acc


def lns_mac_vectors(fmt: LNSFormat, lanes: int, n: int, rng: np.random.Generator):
    """``(a, b, acc)`` for an LNS MAC: random codes; a quarter cancel (lane pairs with b's sign flipped); a
    quarter carry zeros, NaNs and the extreme logs; accumulators random or near the wrap-around."""
    a = rng.integers(0, 1 << fmt.width, (n, lanes), dtype=np.uint64)
    b = rng.integers(0, 1 << fmt.width, (n, lanes), dtype=np.uint64)
    q = n // 4
    sign = np.uint64(1 << fmt.log_bits)
    a[q:2 * q, 1::2], b[q:2 * q, 1::2] = a[q:2 * q, 0:lanes - lanes % 2:2], b[q:2 * q, 0:lanes - lanes % 2:2] ^ sign
    mask = (1 << fmt.log_bits) - 1
    corners = np.array([fmt.zero_code, fmt.nan_code, fmt.max_log, fmt.min_log & mask, (1 << fmt.log_bits) | fmt.max_log,
                        (1 << fmt.log_bits) | (fmt.min_log & mask), 0, 1 << fmt.log_bits], dtype=np.uint64)
    rows = slice(2 * q, 3 * q)
    a[rows] = np.where(rng.random((q, lanes)) < 0.5, corners[rng.integers(0, len(corners), (q, lanes))], a[rows])
    b[rows] = np.where(rng.random((q, lanes)) < 0.5, corners[rng.integers(0, len(corners), (q, lanes))], b[rows])
    acc_bits = fmt.acc_bits
    acc = np.array([int(v) for v in rng.integers(0, 1 << 62, n)], dtype=object) << max(acc_bits - 62, 0)
    acc = acc & ((1 << acc_bits) - 1)
    acc[3 * q:] = (1 << (acc_bits - 1)) - 1 - rng.integers(0, 1 << 40, n - 3 * q).astype(object)
    return a, b, acc


def quire_values(fmt: PositFormat, rng: np.random.Generator, count: int) -> np.ndarray:
    """Directed and random quire codes: every posit value exactly (posits of up to 8 bits; else 2,000 random
    ones), each +-1 LSB, midpoints of neighbours, NaR, zero, and ``count`` random quires of every size."""
    quire = fmt.quire()
    codes = np.arange(1 << fmt.n) if fmt.n <= 8 else random_codes(fmt, 2000, rng)
    exact = [int(v) for v in golden.convert(fmt, quire, codes)]
    mask = (1 << quire.bits) - 1
    values = exact + [(v + 1) & mask for v in exact] + [(v - 1) & mask for v in exact]
    ordered = sorted(set(int(q) for q in golden.convert(fmt, quire, codes[codes != fmt.nar_code])),
                     key=lambda q: q - (1 << quire.bits) if q >> (quire.bits - 1) else q)
    signed = [q - (1 << quire.bits) if q >> (quire.bits - 1) else q for q in ordered]
    values += [((x + y) // 2) & mask for x, y in zip(signed, signed[1:])]
    values += [quire.nar_code, 0, 1, mask]
    values += [int.from_bytes(rng.bytes((quire.bits + 7) // 8), "little") & mask for _ in range(count)]
    # random quires of moderate size exercise every regime of the read-out
    values += [(int(rng.integers(1, 2**16)) << int(rng.integers(0, quire.bits - 17))) & mask for _ in range(count)]
    return np.array(values, dtype=object)


def quire_mac_vectors(fmt: PositFormat, a, b, rng: np.random.Generator):
    """Each pair with a directed quire (rotating), the negated product, and a random quire."""
    quire = fmt.quire()
    directed = [0, quire.nar_code, 1, (1 << quire.bits) - 1, 1 << (quire.bits - 2), (1 << (quire.bits - 1)) - 1]
    product = multiply(fmt.unpack(a), fmt.unpack(b))
    negated = quire.pack(Exact(~product.neg, product.mag, product.exp, product.nan, product.inf))
    rot = np.array(directed, dtype=object)[np.arange(len(a)) % len(directed)]
    near = [int(v) for v in golden.convert(fmt, quire, random_codes(fmt, len(a), rng))]
    accs = np.stack([rot, negated.astype(object), np.array(near, dtype=object)], axis=1)
    return np.repeat(a, 3), np.repeat(b, 3), accs.ravel()


def posit_dot_vectors(fmt: PositFormat, lanes: int, n: int, rng: np.random.Generator):
    """``(a, b, quire)``: random operand codes and quires holding a random posit value."""
    a = random_codes(fmt, n * lanes, rng).reshape(n, lanes)
    b = random_codes(fmt, n * lanes, rng).reshape(n, lanes)
    acc = np.array([int(v) for v in golden.convert(fmt, fmt.quire(), random_codes(fmt, n, rng))], dtype=object)
    return a, b, acc

