"""Test vectors: every operand pair where that is cheap, directed corners, seeded random.

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

from hw.formats import Exact, FloatFormat, Format, IntFormat
from hw.formats.exact import bit_length, multiply

__all__ = ["all_pairs", "corner_codes", "random_codes", "mac_vectors", "dot_vectors"]


def all_pairs(fmt: Format) -> tuple[np.ndarray, np.ndarray]:
    """Every (a, b) pair of codes, a major."""
    codes = np.arange(1 << fmt.width, dtype=np.uint64)
    a, b = np.meshgrid(codes, codes, indexing="ij")
    return a.ravel(), b.ravel()


def corner_codes(fmt: Format) -> np.ndarray:
    """Directed codes of ``fmt``, both signs: zeros, subnormal and normal limits, one, max, Inf, NaN."""
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
