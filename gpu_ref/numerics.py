"""Bit-exact emulation of every scalar format family in PyTorch (CPU and CUDA alike).

The same numerics as :mod:`hw.formats` (golden model) and the ``hw.rtl``
units, on integer tensors: a value is ``(neg, sig, exp)`` with an int64
significand below ``2**62`` (HardFloat's raw form, as in ``hw.fpu``), every
encoder ends in one shared rounder (:func:`round_float`, :func:`round_posit`),
and sums too wide for int64 (posit quires, E5M2 and wider dot products) go
through :class:`Limbs`, an exact fixed-point accumulator of 30-bit limbs.
Codes are int64 tensors; quire codes are limb tensors (``Limbs.from_ints``).

Formats torch knows natively (float8_e4m3fn, float8_e5m2, the fnuz pair, and
float8_e8m0fnu for MX scales in ``gpu_ref.block``) use its dtypes where its
casts agree with the golden model; the rest use the integer path (torch's
float4_e2m1fn_x2 packs two elements per byte and has no cast to float), and
on CUDA the elementwise float encoder runs as a Triton kernel
(:mod:`gpu_ref.kernels`) when Triton is present.
"""

from __future__ import annotations

import numpy as np
import torch

from hw.formats import FloatFormat, IntFormat, PositFormat, QuireFormat, Special

from . import kernels

__all__ = ["NATIVE", "NATIVE_ENCODE", "bit_length", "sr_threshold", "seed_key", "counter_random24", "float_fields", "pow2", "value_from_raw", "round_float", "encode_float", "decode_float",
           "unpack_float", "unpack_posit", "round_posit", "encode_posit", "decode_posit", "encode_int", "decode_int",
           "Limbs", "multiply_raw", "lanes", "sum_raw", "mul", "round_mul", "mac", "quire_mac", "quire_readout"]

#: Formats with a torch dtype: decode views the codes as that dtype.
NATIVE = {"e4m3": torch.float8_e4m3fn, "e5m2": torch.float8_e5m2, "e4m3fnuz": torch.float8_e4m3fnuz,
          "e5m2fnuz": torch.float8_e5m2fnuz}
#: (format, saturate) pairs whose torch cast from float32 rounds as the golden model, NaNs aside.  torch
#: saturates E4M3 overflow where OCP's conversion (and ml_dtypes, and the golden model) gives NaN, so a
#: non-saturating E4M3 encode and every saturating one but E4M3's take the integer path.
NATIVE_ENCODE = {("e4m3", True), ("e5m2", False), ("e4m3fnuz", False), ("e5m2fnuz", False)}
I64 = torch.int64


def bit_length(x: torch.Tensor) -> torch.Tensor:
    """Bits of each non-negative int64 (0 for 0), exactly (no float conversion)."""
    n = torch.zeros_like(x)
    for step in (32, 16, 8, 4, 2, 1):
        big = (x >> step) != 0
        x = torch.where(big, x >> step, x)
        n = n + big.long() * step
    return n + (x != 0).long()


def float_fields(x: torch.Tensor):
    """Exact ``(neg, sig, exp, nan, inf)`` of a float32 or float64 tensor (``|x| = sig * 2**exp``)."""
    x = x.double()
    bits = x.view(I64)
    field = (bits >> 52) & 0x7FF
    frac = bits & ((1 << 52) - 1)
    sig = torch.where(field != 0, frac | (1 << 52), frac)
    exp = torch.clamp(field, min=1) - 1075
    special = field == 0x7FF
    return bits < 0, torch.where(special, 0, sig), exp, special & (frac != 0), special & (frac == 0)


def pow2(exp: torch.Tensor) -> torch.Tensor:
    """float64 ``2**exp`` built from its bits, exact for exponents in -1022..1023 (torch.ldexp and pow are not on CUDA)."""
    return ((exp.clamp(-1022, 1023) + 1023) << 52).view(torch.float64)


def value_from_raw(neg, sig, exp) -> torch.Tensor:
    """float64 ``(-1)**neg * sig * 2**exp`` for ``sig < 2**53`` and results inside float64's normal range (exact)."""
    value = sig.double() * pow2(exp)
    return torch.where(neg, -value, value)


def round_float(fmt: FloatFormat, neg, sig, exp, nan=None, inf=None, rounding: str = "rne", saturate: bool = False,
                nan_sign: bool = False, random=None) -> torch.Tensor:
    """Codes of ``fmt`` for exact values (the golden ``FloatFormat.pack``): RNE, RTZ or stochastic, the format's
    overflow rule.

    ``sig`` (int64, < 2**62) may carry a sticky 1 in its LSB two or more places
    below the rounding position (RNE/RTZ only).  NaN gives the canonical NaN
    (signed when ``nan_sign``, as encode does).  ``rounding="sr"`` with
    ``random`` (int64 in ``[0, 2**24)``, see :func:`counter_random24`) rounds
    the magnitude up when ``random < ceil(rem * 2**24 / 2**shift)``, ``rem``
    being the ``shift`` dropped bits: probability ``rem / 2**shift`` to within
    ``2**-24``; overflow as RNE's.
    """
    nan = torch.zeros_like(neg) if nan is None else nan
    inf = torch.zeros_like(neg) if inf is None else inf
    sig = torch.where(nan | inf, 0, sig)
    top = exp + bit_length(sig) - 1
    lsb = torch.clamp(top, min=fmt.emin) - fmt.man_bits
    shift = lsb - exp
    right = shift.clamp(0, 63)
    kept = torch.where(shift > 0, sig >> right, sig << (-shift).clamp(0, 62))
    rem = sig & ((torch.ones_like(sig) << right) - 1)
    if rounding == "rne":
        half = torch.where(right > 0, torch.ones_like(sig) << (right - 1).clamp(min=0), 0)
        up = (shift > 0) & (shift < 64) & ((rem > half) | ((rem == half) & ((kept & 1) == 1)))  # sig < 2**63
        kept = kept + up.long()
    elif rounding == "sr":
        if random is None:
            raise ValueError("stochastic rounding needs random bits (counter_random24)")
        kept = kept + ((shift > 0) & (random < sr_threshold(rem, shift))).long()
    binade = torch.clamp(lsb - fmt.emin + fmt.man_bits, max=1 << (fmt.exp_bits + 1))
    code = torch.where(kept == 0, 0, (binade << fmt.man_bits) + kept)
    if not fmt.subnormals:
        code = torch.where(top < fmt.emin, 0, code)
    overflow = (code > fmt.max_code) | inf
    if fmt.special is Special.NONE or saturate:
        over = torch.full_like(code, fmt.max_code)
    elif fmt.special is Special.IEEE:
        over = torch.where(inf | (rounding != "rtz"), fmt.inf_code, fmt.max_code)
    else:
        over = torch.where(~inf & (rounding == "rtz"), fmt.max_code, fmt.nan_code)
    code = torch.where(overflow, over, code)
    signed = neg & ((code != 0) | fmt.has_negative_zero)
    if fmt.special is Special.FNUZ:
        signed = signed & (code != fmt.nan_code)
    code = code | (signed.long() << (fmt.width - 1))
    if fmt.has_nan:
        nan_code = fmt.nan_code | ((neg & nan_sign).long() << (fmt.width - 1) if fmt.special is not Special.FNUZ else 0)
    else:
        nan_code = torch.zeros_like(code)
    return torch.where(nan, nan_code, code)


def sr_threshold(rem, shift):
    """``ceil(rem * 2**24 / 2**shift)`` exactly (int64; ``rem < 2**min(shift, 62)``): stochastic rounding goes up
    when a 24-bit random integer is below it."""
    k = (shift - 24).clamp(min=0)
    up = (rem + (torch.ones_like(rem) << k.clamp(max=61)) - 1) >> k.clamp(max=61)
    return torch.where(shift <= 24, rem << (24 - shift).clamp(0, 24), torch.where(k >= 61, (rem > 0).long(), up))


def _mix32(x):
    """Wellons' lowbias32 integer hash on int64 tensors holding uint32 values (products split to stay < 2**48)."""
    def mul(v, c):
        return ((v * (c & 0xFFFF)) + (((v * (c >> 16)) & 0xFFFF) << 16)) & 0xFFFFFFFF

    x = x ^ (x >> 16)
    x = mul(x, 0x7FEB352D)
    x = x ^ (x >> 15)
    x = mul(x, 0x846CA68B)
    return x ^ (x >> 16)


def seed_key(seed: int) -> int:
    """The 32-bit key of a seed (a Python int), shared by the PyTorch path and the Triton kernels."""
    return int(_mix32(torch.tensor([(seed ^ 0x9E3779B9) & 0xFFFFFFFF]))[0])


def counter_random24(seed: int, index: torch.Tensor) -> torch.Tensor:
    """24 random bits per element, a pure function of (seed, element index): ``mix32(mix32(lo ^ key) ^ hi) >> 8``
    with ``lo``/``hi`` the index's 32-bit halves (a counter-based generator, so the CPU reproduces the GPU's bits)."""
    index = index.long()
    return _mix32(_mix32((index & 0xFFFFFFFF) ^ seed_key(seed)) ^ (index >> 32)) >> 8


def unpack_float(fmt: FloatFormat, codes):
    """Exact ``(neg, sig, exp, nan, inf)`` of codes of ``fmt`` (the golden ``unpack``)."""
    codes = codes.long() & ((1 << fmt.width) - 1)
    neg = (codes >> (fmt.width - 1)) == 1
    mag = codes & ((1 << (fmt.width - 1)) - 1)
    field = mag >> fmt.man_bits
    frac = mag & ((1 << fmt.man_bits) - 1)
    sig = torch.where(field != 0, frac | (1 << fmt.man_bits), frac if fmt.subnormals else torch.zeros_like(frac))
    exp = torch.clamp(field, min=1) - fmt.bias - fmt.man_bits
    if fmt.special is Special.IEEE:
        nan, inf = mag > fmt.inf_code, mag == fmt.inf_code
    elif fmt.special is Special.FN:
        nan, inf = mag == fmt.nan_code, torch.zeros_like(neg)
    elif fmt.special is Special.FNUZ:
        nan, inf = codes == fmt.nan_code, torch.zeros_like(neg)
    else:
        nan = inf = torch.zeros_like(neg)
    return neg, torch.where(nan | inf, 0, sig), exp, nan, inf


def encode_float(fmt: FloatFormat, x: torch.Tensor, saturate: bool = False, rounding: str = "rne",
                 seed: int = 0) -> torch.Tensor:
    """Codes of ``x`` (float32 or float64) rounded to nearest even into ``fmt`` (the golden ``encode``), or
    stochastically (``rounding="sr"``) with :func:`counter_random24` bits of (``seed``, flat element index)."""
    if rounding not in ("rne", "sr"):
        raise ValueError(f"rounding must be 'rne' or 'sr', not {rounding!r}")
    if rounding == "sr":
        neg, sig, exp, nan, inf = float_fields(x)
        random = counter_random24(seed, torch.arange(x.numel(), device=x.device).reshape(x.shape))
        return round_float(fmt, neg, sig, exp, nan, inf, "sr", saturate, True, random)
    if x.dtype == torch.float32 and (fmt.name, saturate) in NATIVE_ENCODE:
        codes = x.to(NATIVE[fmt.name]).view(torch.uint8).long()
        sign = torch.signbit(x).long() << (fmt.width - 1) if fmt.special is not Special.FNUZ else 0
        return torch.where(torch.isnan(x), fmt.nan_code | sign, codes)
    if x.is_cuda and x.dtype == torch.float32 and kernels.available():
        return kernels.encode_float(fmt, x, saturate)
    neg, sig, exp, nan, inf = float_fields(x)
    return round_float(fmt, neg, sig, exp, nan, inf, saturate=saturate, nan_sign=True)


def decode_float(fmt: FloatFormat, codes: torch.Tensor) -> torch.Tensor:
    """float64 values of codes of ``fmt`` (exact; NaN and +-Inf as such)."""
    if fmt.name in NATIVE:
        return codes.to(torch.uint8).view(NATIVE[fmt.name]).double()
    neg, sig, exp, nan, inf = unpack_float(fmt, codes)
    value = value_from_raw(neg, sig, exp)
    value = torch.where(inf, torch.where(neg, -torch.inf, torch.inf), value)
    return torch.where(nan, torch.nan, value)


# -- integers ------------------------------------------------------------------------
def encode_int(fmt: IntFormat, x: torch.Tensor, saturate: bool = False) -> torch.Tensor:
    """Codes of ``x`` rounded to nearest even, wrapped (or saturated) into ``fmt.bits``; NaN -> 0, Inf saturates."""
    x = x.double()
    r = torch.round(x)  # round half to even; exact for |x| < 2**52
    mask = (1 << fmt.bits) - 1
    clamped = r.clamp(fmt.min_value, fmt.max_value)
    v = torch.where(torch.isinf(x) | torch.tensor(saturate), clamped, r)
    v = torch.where(torch.isnan(x), 0, v)
    # Beyond 2**62 a float -> int64 cast is undefined (CPU and CUDA differ): wrap those exactly from the fields.
    neg, sig, exp, _, _ = float_fields(v)
    keep = (fmt.bits - exp).clamp(0, 62)
    wrapped = ((sig & ((torch.ones_like(sig) << keep) - 1)) << exp.clamp(0, 62)) & mask
    wrapped = torch.where(exp >= fmt.bits, 0, torch.where(neg, -wrapped, wrapped))
    return torch.where(v.abs() < 2.0 ** 62, v.clamp(-2.0 ** 62, 2.0 ** 62).long(), wrapped) & mask


def decode_int(fmt: IntFormat, codes: torch.Tensor) -> torch.Tensor:
    v = codes.long() & ((1 << fmt.bits) - 1)
    if fmt.signed:
        v = torch.where(v >= 1 << (fmt.bits - 1), v - (1 << fmt.bits), v)
    return v


# -- posits --------------------------------------------------------------------------
def unpack_posit(fmt: PositFormat, codes):
    """Exact ``(neg, sig, exp, nar)`` of posit codes: regime run length by a loop over the bits."""
    n, es = fmt.n, fmt.es
    word = codes.long() & ((1 << n) - 1)
    nar = word == fmt.nar_code
    zero = word == 0
    neg = (word >> (n - 1)) == 1
    w = torch.where(neg, (-word) & ((1 << n) - 1), word)
    body = w & ((1 << (n - 1)) - 1)
    first = (body >> (n - 2)) & 1
    run = torch.zeros_like(w)
    going = torch.ones_like(neg)
    for i in range(n - 1):
        going = going & (((body >> (n - 2 - i)) & 1) == first)
        run = run + going.long()
    k = torch.where(first == 1, run - 1, -run)
    rest_len = (n - 2 - run).clamp(min=0)
    rest = body & ((torch.ones_like(w) << rest_len) - 1)
    exp_bits = rest_len.clamp(max=es)
    e = (rest >> (rest_len - exp_bits)) << (es - exp_bits)
    frac_len = rest_len - exp_bits
    frac = rest & ((torch.ones_like(w) << frac_len) - 1)
    sig = torch.where(zero | nar, 0, (torch.ones_like(w) << frac_len) | frac)
    return neg & ~nar, sig, (k << es) + e - frac_len, nar


def round_posit(fmt: PositFormat, neg, sig, exp, nar) -> torch.Tensor:
    """Posit codes of exact values: RNE on the bit pattern, no underflow to 0, no overflow to NaR (golden ``pack``)."""
    n, es = fmt.n, fmt.es
    length = bit_length(sig)
    scale = exp + length - 1
    k, e = scale >> es, scale & ((1 << es) - 1)
    frac_len = (length - 1).clamp(min=0)
    frac = sig - (torch.ones_like(sig) << frac_len)
    # body = regime | e | frac, of body_len bits; kept: the top n-1 bits, rounded on the rest.
    kc = k.clamp(-(n - 1), n - 1)
    regime_len = torch.where(kc >= 0, kc + 2, -kc + 1)
    regime = torch.where(kc >= 0, ((torch.ones_like(k) << (kc + 1).clamp(min=0)) - 1) << 1, torch.ones_like(k))
    head = (regime << es) | e  # regime then exponent: at most n + es + 1 bits
    avail = n - 1 - (regime_len + es)  # fraction bits that fit beside the head
    cut = (frac_len - avail).clamp(0, 62)  # fraction bits dropped (avail >= 0)
    ones = torch.ones_like(sig)
    fits = head << avail.clamp(min=0)
    pattern = torch.where(frac_len > avail, fits | (frac >> cut), fits | (frac << (avail - frac_len).clamp(min=0)))
    guard = torch.where(cut > 0, (frac >> (cut - 1).clamp(min=0)) & 1, 0)
    sticky = (frac & ((ones << (cut - 1).clamp(min=0)) - 1)) != 0
    d = (-avail).clamp(0, 62)  # head bits dropped (avail < 0): the whole fraction is below the guard
    pattern = torch.where(avail < 0, head >> d, pattern)
    guard = torch.where(avail < 0, (head >> (d - 1).clamp(min=0)) & 1, guard)
    sticky = torch.where(avail < 0, ((head & ((ones << (d - 1).clamp(min=0)) - 1)) != 0) | (frac != 0), sticky)
    pattern = pattern + (guard & (sticky.long() | (pattern & 1)))
    maxpos = (1 << (n - 1)) - 1
    pattern = torch.where(k >= n - 2, maxpos, torch.where(k < -(n - 2), 1, pattern.clamp(1, maxpos)))
    code = torch.where(neg, (-pattern) & ((1 << n) - 1), pattern)
    code = torch.where(sig == 0, 0, code)
    return torch.where(nar, fmt.nar_code, code)


def encode_posit(fmt: PositFormat, x: torch.Tensor) -> torch.Tensor:
    neg, sig, exp, nan, inf = float_fields(x)
    return round_posit(fmt, neg, sig, exp, nan | inf)


def decode_posit(fmt: PositFormat, codes: torch.Tensor) -> torch.Tensor:
    neg, sig, exp, nar = unpack_posit(fmt, codes)
    return torch.where(nar, torch.nan, value_from_raw(neg, sig, exp))


# -- exact wide sums -------------------------------------------------------------------
class Limbs:
    """Exact signed fixed-point numbers: int64 limbs of 30 bits (little-endian) at LSB weight ``2**lsb``.

    Terms are placed with :meth:`add` (each adds < 2**30 to up to four limbs,
    so billions of terms never overflow), :meth:`normalize` propagates
    carries, :meth:`raw` reads a rounding-ready ``(neg, sig, exp)``.
    """

    BITS = 30
    MASK = (1 << BITS) - 1

    def __init__(self, shape, count: int, lsb: int, device=None):
        self.limbs = torch.zeros(*shape, count + 4, dtype=I64, device=device)
        self.lsb = lsb

    def add(self, neg, sig, exp):
        """Add ``(-1)**neg * sig * 2**exp`` (``sig < 2**62``, ``exp >= lsb`` where ``sig != 0``)."""
        offset = torch.where(sig != 0, exp - self.lsb, 0)
        q, r = offset // self.BITS, offset % self.BITS
        low = (sig & ((torch.ones_like(sig) << (self.BITS - r)) - 1)) << r
        rest = sig >> (self.BITS - r)
        parts = torch.stack([low, rest & self.MASK, (rest >> self.BITS) & self.MASK, rest >> (2 * self.BITS)], -1)
        parts = torch.where(neg[..., None], -parts, parts)
        index = q[..., None] + torch.arange(4, device=sig.device)
        self.limbs.scatter_add_(-1, index, parts)
        return self

    def add_limbs(self, other: torch.Tensor):
        self.limbs[..., :other.shape[-1]] += other
        return self

    def normalize(self) -> torch.Tensor:
        """Carry-propagate: limbs in [0, 2**30) except the top one, which holds the sign."""
        return Limbs._carry(self.limbs)

    def raw(self):
        """``(neg, sig, exp, zero)``: the value with 61+ significant bits and a sticky LSB, ready to round."""
        limbs = self.normalize()
        neg = limbs[..., -1] < 0
        mag = torch.where(neg[..., None], -limbs, limbs)
        mag = Limbs._carry(mag)
        mag = torch.cat([torch.zeros_like(mag[..., :2]), mag], -1)  # two zero limbs below: a 3-limb window always fits
        nonzero = mag != 0
        index = torch.arange(mag.shape[-1], device=mag.device)
        high = torch.where(nonzero, index, -1).max(-1).values
        zero = high < 0
        h = high.clamp(min=2)

        def take(j):
            return mag.gather(-1, (h - j)[..., None])[..., 0]

        below = (nonzero & (index < (h - 2)[..., None])).any(-1)
        sig = (take(0) << 32) | (take(1) << 2) | (take(2) >> 28)
        sticky = ((take(2) & ((1 << 28) - 1)) != 0) | below
        sig = (sig << 1) | sticky.long()
        exp = self.lsb + (h - 4) * self.BITS + 28 - 1
        return neg & ~zero, torch.where(zero, 0, sig), exp, zero

    @staticmethod
    def _carry(limbs):
        """``limbs`` carry-propagated in place (arithmetic shifts: negative limbs borrow)."""
        for i in range(limbs.shape[-1] - 1):
            carry = limbs[..., i] >> Limbs.BITS
            limbs[..., i] -= carry << Limbs.BITS
            limbs[..., i + 1] += carry
        return limbs

    @staticmethod
    def from_ints(values, count: int, device=None) -> torch.Tensor:
        """Limbs of non-negative Python ints (an object numpy array or list), e.g. quire codes."""
        flat = np.asarray(values, dtype=object).ravel()
        out = [[(int(v) >> (Limbs.BITS * i)) & Limbs.MASK for i in range(count)] for v in flat]
        return torch.tensor(out, dtype=I64, device=device).reshape(*np.shape(values), count)

    @staticmethod
    def to_ints(limbs: torch.Tensor):
        """Python ints of normalised non-negative limbs (an object numpy array)."""
        rows = limbs.cpu().tolist()
        flat = np.asarray(rows, dtype=object).reshape(-1, limbs.shape[-1])
        out = np.array([sum(int(x) << (Limbs.BITS * i) for i, x in enumerate(r)) for r in flat], dtype=object)
        return out.reshape(limbs.shape[:-1])


# -- arithmetic of the units -------------------------------------------------------------
def multiply_raw(x, y):
    """Exact product of raw tuples ``(neg, sig, exp, nan, inf)``: NaN for a NaN operand and 0 * Inf (golden ``multiply``)."""
    na, sa, ea, nan_a, inf_a = x
    nb, sb, eb, nan_b, inf_b = y
    nan = nan_a | nan_b | (inf_a & (sb == 0) & ~nan_b & ~inf_b) | (inf_b & (sa == 0) & ~nan_a & ~inf_a)
    return na ^ nb, sa * sb, ea + eb, nan, (inf_a | inf_b) & ~nan


def lanes(raw) -> list:
    """A raw tuple's values along the last axis, one tuple per index (the terms of a sum)."""
    return [tuple(field[..., i] for field in raw) for i in range(raw[0].shape[-1])]


def sum_raw(terms: list, lsb: int, top: int):
    """Exact sum of raw tuples in :class:`Limbs` (LSB ``2**lsb``, magnitudes below ``2**top``), ready to round.

    IEEE specials as the golden ``add``: NaN if a term is NaN or infinities of
    both signs meet; an exact zero is -0 only when every term is -0.
    """
    shape = terms[0][0].shape
    total = Limbs(shape, (top - lsb) // Limbs.BITS + 2, lsb, terms[0][0].device)
    nan = torch.zeros(shape, dtype=torch.bool, device=terms[0][0].device)
    pos_inf, neg_inf, all_neg_zero = nan.clone(), nan.clone(), ~nan
    for neg, sig, exp, t_nan, t_inf in terms:
        total.add(neg, sig, exp)
        nan = nan | t_nan
        pos_inf, neg_inf = pos_inf | (t_inf & ~neg), neg_inf | (t_inf & neg)
        all_neg_zero = all_neg_zero & neg & (sig == 0) & ~t_nan & ~t_inf
    neg, sig, exp, zero = total.raw()
    nan = nan | (pos_inf & neg_inf)
    inf = (pos_inf | neg_inf) & ~nan
    neg = torch.where(inf, neg_inf, torch.where(zero, all_neg_zero, neg))
    return neg, sig, exp, nan, inf


def _unpack(fmt, codes):
    if isinstance(fmt, PositFormat):
        neg, sig, exp, nar = unpack_posit(fmt, codes)
        return neg, sig, exp, nar, torch.zeros_like(nar)
    return unpack_float(fmt, codes)


def mul(fmt, a, b) -> torch.Tensor:
    """The exact multiplier: product codes in ``fmt.product_format()`` (floats, ints, posits), nothing rounded."""
    if isinstance(fmt, IntFormat):
        return (decode_int(fmt, a) * decode_int(fmt, b)) & ((1 << (2 * fmt.bits)) - 1)
    return round_float(fmt.product_format(), *multiply_raw(_unpack(fmt, a), _unpack(fmt, b)))


def round_mul(fmt, a, b, out=None) -> torch.Tensor:
    """The rounding multiplier: ``round(a * b)`` once (RNE) into ``out`` (float or posit; default ``fmt``)."""
    out = fmt if out is None else out
    neg, sig, exp, nan, inf = multiply_raw(_unpack(fmt, a), _unpack(fmt, b))
    if isinstance(out, PositFormat):
        return round_posit(out, neg, sig, exp, nan | inf)
    return round_float(out, neg, sig, exp, nan, inf)


def mac(fmt, a, b, acc, acc_fmt) -> torch.Tensor:
    """The MAC / dot unit: ``round(acc + sum_i a[..., i] * b[..., i])`` once, RNE, into ``acc_fmt``.

    Floats: exact products summed exactly (:func:`sum_raw`) with the
    accumulator, IEEE specials.  Integers: wrapping modulo
    ``2**acc_fmt.bits``.  ``a``/``b`` are ``(..., lanes)``; ``acc`` is ``(...)``.
    """
    if isinstance(fmt, IntFormat):
        total = decode_int(acc_fmt, acc) + (decode_int(fmt, a) * decode_int(fmt, b)).sum(-1)
        return total & ((1 << acc_fmt.bits) - 1)
    products = multiply_raw(unpack_float(fmt, a), unpack_float(fmt, b))
    lsb = min(2 * (fmt.emin - fmt.man_bits), acc_fmt.emin - acc_fmt.man_bits)
    top = max(2 * (fmt.emax + 1), acc_fmt.emax + 1) + 8 + a.shape[-1].bit_length()
    return round_float(acc_fmt, *sum_raw([unpack_float(acc_fmt, acc)] + lanes(products), lsb, top))


def quire_mac(fmt: PositFormat, a, b, quire: torch.Tensor) -> torch.Tensor:
    """The posit MAC: quire limbs (``Limbs.from_ints`` of quire codes) plus exact products, wrapping; NaR absorbs."""
    q = fmt.quire()
    count = quire.shape[-1]
    na, sa, ea, nar_a = unpack_posit(fmt, a)
    nb, sb, eb, nar_b = unpack_posit(fmt, b)
    total = Limbs(quire.shape[:-1], count, q.lsb_exp, quire.device)
    total.add_limbs(quire)
    for i in range(a.shape[-1]):
        total.add(na[..., i] ^ nb[..., i], sa[..., i] * sb[..., i], ea[..., i] + eb[..., i])
    limbs = _wrap(total.normalize()[..., :count], q.bits)
    nar = (nar_a | nar_b).any(-1) | _equals(quire, q.nar_code)
    return torch.where(nar[..., None], Limbs.from_ints([q.nar_code], count, quire.device)[0], limbs)


def quire_readout(fmt: PositFormat, quire: torch.Tensor) -> torch.Tensor:
    """The read-out unit: quire limbs rounded once (RNE) to the posit; NaR stays NaR."""
    q = fmt.quire()
    count = quire.shape[-1]
    negative = _bit(quire, q.bits - 1)
    total = Limbs(quire.shape[:-1], count, q.lsb_exp, quire.device)
    total.add_limbs(quire)
    top = (q.bits - 1) // Limbs.BITS
    total.limbs[..., top] -= negative.long() << ((q.bits - 1) % Limbs.BITS + 1)  # two's complement sign
    neg, sig, exp, zero = total.raw()
    return round_posit(fmt, neg, sig, exp, _equals(quire, q.nar_code))


def _bit(limbs, pos):
    return ((limbs[..., pos // Limbs.BITS] >> (pos % Limbs.BITS)) & 1) == 1


def _wrap(limbs, bits):
    """Limbs reduced modulo ``2**bits`` (non-negative)."""
    out = limbs.clone()
    top, used = divmod(bits, Limbs.BITS)
    if top < out.shape[-1]:
        out[..., top] &= (1 << used) - 1
        out[..., top + 1:] = 0
    return out


def _equals(limbs, value: int):
    reference = Limbs.from_ints([value], limbs.shape[-1], limbs.device)[0]
    return (limbs == reference).all(-1)


def quire_limb_count(q: QuireFormat) -> int:
    return (q.bits + Limbs.BITS - 1) // Limbs.BITS + 1
