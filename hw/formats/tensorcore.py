"""Golden models of GPU tensor cores' fused dot-product steps: one spec per (GPU, input, output) format.

A :class:`FusedDotSpec` is the handful of parameters that describe how a
matrix unit sums products into a float accumulator.  :data:`SPECS` holds one
per GPU x input format x output format of the published single-instruction
measurements (Khattak and Mikaitis; every vector replayed by
:mod:`hw.formats.published`, match rates in the README) and the H100's
``torch._scaled_mm`` behaviour (:data:`H100_FP8`, :data:`H100_FP8_PROMOTED`;
measured on > 10^7 dot products, see ``results/h100/``).  One **step** takes
``step`` products and the accumulator ``c`` (a code of ``spec.output``, fp32
or fp16):

1. every product ``a_i * b_i`` is exact, subnormal operands at their value
   (the published FP8 and fp16 vectors hold subnormals; all match); its *top*
   is the sum of the operands' exponents plus 2 (the two integer bits of a
   significand product); the accumulator's top is the exponent of its leading
   bit plus 2;
2. ``T`` = the largest top among finite nonzero terms (zeros take no part);
   every term is cut to a multiple of ``2**(T - align_bits)`` with
   ``term_rounding`` (RTZ on every GPU measured: truncation, no sticky bit).
   ``align_bits`` = 25 + the published "extra alignment bits": 25 keeps
   fp32's 24 bits below an fp32 term's top;
3. with ``c_term = ALIGNED`` (every GPU but B200 FP8) ``c`` is one of those
   terms; the cut terms are summed exactly and rounded once with
   ``sum_rounding`` into ``sum_format`` (``output``'s exponent range,
   ``sum_bits`` fraction bits), which ``output`` holds exactly.  With
   ``c_term = ADDED`` (B200 FP8) the products alone are summed and rounded
   so, and the result is added to ``c`` by an IEEE add in ``output``,
   rounded to nearest even (a zero sum is -0 only when both are -0);
4. fp16 output (``output = FP16``): ``c`` is fp16 and the sum is rounded to
   nearest even straight into fp16 (not through fp32).

A dot product over ``K`` runs steps over consecutive slices of ``step``
elements from ``c = +0``.  With ``promote_every = P`` the step accumulator is
added into a separate fp32 accumulator (IEEE add, round to nearest even)
every ``P`` elements and restarted from +0, as cuBLAS does for FP8 without
fast accumulation.  Scales apply after the sum (:func:`scaled_mm`).

**Split-K** (measured 2026-11-24, ``results/h100/long_k_2026-11-24``): with
fast accumulation, cuBLAS splits long reductions of small outputs into
contiguous parts of K, runs each part as above from +0 and adds the parts'
fp32 results (IEEE, round to nearest even).  ``scaled_mm(..., split_k=parts)``
models it; :func:`split_parts` gives the part boundaries measured
(``ceil(K / parts / grain) * grain`` elements each, the last part shorter).
Without a split the model matched every element for K <= 5120 at every
output size tried (16 to 4096 square) and for every K up to 65,536 when M = N
>= 512, and always with rowwise scales; smaller outputs (also 64 x 1024,
16 x 4096, 256 x 128) with K >= 5632 are split (2-25 parts; the number cuBLAS
picks depends on the shape and is not modelled: it is an input).  The same
split reproduces E4M3 x E5M2 products and bf16 outputs with tensorwise scales.

Specials (measured on the H100 with FP8 operands; the published vectors hold
none, so other GPUs' specials are this rule, unvalidated): NaN operands,
Inf - Inf and 0 * Inf give ``nan_code`` (0x7FFFFFFF on the H100, not IEEE's
0x7FC00000; fp16 outputs use fp16's canonical NaN); infinities pass through
with their sign; an exact zero result is +0, even from -0 products.  A step
sum beyond the step format's range gives its largest finite value under RTZ
and infinity under RNE (IEEE's rules).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace

import numpy as np

from .exact import Exact, Rounding, add, align_window, bit_length, multiply
from .float import FP16, FP32, FloatFormat, Special

__all__ = ["CTerm", "FusedDotSpec", "H100_FP8", "H100_FP8_PROMOTED", "SPECS", "get_spec", "default_spec", "specs_for",
           "step", "mma", "dot", "scaled_mm", "split_parts"]


class CTerm(enum.Enum):
    """How the accumulator ``c`` enters a step."""

    ALIGNED = "aligned"  #: one more term of the aligned window, summed with the products
    ADDED = "added"  #: the products' rounded step sum + c, one IEEE add in the output format (RNE)


@dataclass(frozen=True)
class FusedDotSpec:
    """How a matrix unit sums products (see the module docstring).

    ``step``: products fused per step; ``align_bits``: width of the aligned
    window below the largest top (25 + the extra alignment bits; the H100's
    FP8 window is 15 = 13 bits below the largest exponent plus the 2 integer
    bits of a product); ``sum_bits``: fraction bits of a step result;
    ``term_rounding``/``sum_rounding``: RTZ or RNE; ``c_term``: how ``c``
    enters; ``output``: format of ``c`` and of the result (fp32 or fp16);
    ``promote_every``: elements of K between additions into a full fp32
    accumulator (None: never); ``nan_code``: the NaN the unit returns (a code
    of ``output``; default its canonical NaN, 0x7FFFFFFF for fp32 as measured
    on the H100); ``inputs``: the input formats the spec was measured with;
    ``source``: where its parameters come from.
    """

    name: str
    step: int = 32
    align_bits: int = 15
    sum_bits: int = 13
    term_rounding: Rounding = Rounding.RTZ
    sum_rounding: Rounding = Rounding.RTZ
    promote_every: int | None = None
    nan_code: int | None = None
    c_term: CTerm = CTerm.ALIGNED
    output: FloatFormat = FP32
    inputs: tuple[str, ...] = ("e4m3", "e5m2")
    source: str = field(default="", compare=False)

    def __post_init__(self):
        if self.output not in (FP32, FP16):
            raise ValueError(f"output must be fp32 or fp16, not {getattr(self.output, 'name', self.output)!r}")
        for name, low, high in (("step", 1, 1024), ("align_bits", 2, 160), ("sum_bits", 1, self.output.man_bits)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise ValueError(f"{name} must be an int in {low}..{high}, not {value!r}")
        for name in ("term_rounding", "sum_rounding"):
            if getattr(self, name) not in (Rounding.RTZ, Rounding.RNE):
                raise ValueError(f"{name} must be Rounding.RTZ or Rounding.RNE, not {getattr(self, name)!r}")
        if not isinstance(self.c_term, CTerm):
            raise ValueError(f"c_term must be a CTerm, not {self.c_term!r}")
        if self.promote_every is not None and (self.output != FP32 or self.promote_every < self.step
                                               or self.promote_every % self.step):
            raise ValueError(f"promote_every must be a multiple of step ({self.step}) with an fp32 output, "
                             f"not {self.promote_every!r}")
        if self.nan_code is None:
            object.__setattr__(self, "nan_code", 0x7FFFFFFF if self.output == FP32 else self.output.nan_code)
        if not bool(self.output.is_nan(np.array([self.nan_code]))[0]):
            raise ValueError(f"nan_code {self.nan_code:#x} is not a NaN of {self.output.name}")

    @property
    def sum_format(self) -> FloatFormat:
        """The format a step sum is rounded into (``output``'s exponent, ``sum_bits`` fraction bits)."""
        out = self.output
        if self.sum_bits == out.man_bits:
            return out
        return FloatFormat(f"e{out.exp_bits}m{self.sum_bits}", out.exp_bits, self.sum_bits, out.bias, Special.IEEE)

    @property
    def extra_bits(self) -> int:
        """Alignment bits beyond fp32's 24 below the largest term's leading bit (the published "neab")."""
        return self.align_bits - 25


#: ``torch._scaled_mm(..., use_fast_accum=True)`` on an H100 (FP8 E4M3/E5M2 operands, fp32 sum).
H100_FP8 = FusedDotSpec("h100_fp8", source="torch._scaled_mm on an H100, results/h100/ (2026-11-22)")
#: ``use_fast_accum=False``: the same steps, promoted into an fp32 accumulator every 128 elements.
H100_FP8_PROMOTED = replace(H100_FP8, name="h100_fp8_promoted", promote_every=128)

_PUBLISHED_SOURCE = "Khattak and Mikaitis, published single-instruction measurements (5,000 vectors per file)"
#: The published GPUs' matrix units, fitted to their vectors (a step of the instruction's K where the vectors
#: cannot tell a longer one: Ampere/Ada tf32 4; Hopper/Blackwell tf32 8, measured on an H100 with K up to 4096,
#: results/h100/mma_16bit_2026-11-24): (GPUs, input, step, align_bits, sum_bits, sum
#: rounding, C term, GPUs with an fp16-output twin).  The twin rounds to nearest even into fp16 from the same
#: window, with an fp16 c.  Registered only where the vectors match (see the README for the files that do not).
_PUBLISHED = (
    (("v100",), "fp16", 4, 25, 23, Rounding.RTZ, CTerm.ALIGNED, ("v100",)),
    (("a100", "a2", "ada", "l40s"), "fp16", 8, 26, 23, Rounding.RTZ, CTerm.ALIGNED, ("a100", "a2", "ada", "l40s")),
    (("a100", "a2", "ada", "l40s"), "bf16", 8, 26, 23, Rounding.RTZ, CTerm.ALIGNED, ()),
    (("a100", "a2", "ada", "l40s"), "tf32", 4, 26, 23, Rounding.RTZ, CTerm.ALIGNED, ()),
    (("ada", "l40s"), "fp8", 16, 15, 13, Rounding.RTZ, CTerm.ALIGNED, ("ada",)),
    (("h100", "h200", "b200"), "fp16", 16, 27, 23, Rounding.RTZ, CTerm.ALIGNED, ("h100", "h200", "b200")),
    (("h100", "h200", "b200"), "bf16", 16, 27, 23, Rounding.RTZ, CTerm.ALIGNED, ()),
    (("h100", "h200", "b200"), "tf32", 8, 27, 23, Rounding.RTZ, CTerm.ALIGNED, ()),  # 8: measured on an H100
    (("h200",), "fp8", 32, 15, 13, Rounding.RTZ, CTerm.ALIGNED, ()),  # h100_fp8 is H100_FP8
    (("b200",), "fp8", 32, 27, 23, Rounding.RTZ, CTerm.ADDED, ()),
)
#: The input formats behind each published input name.
INPUTS = {"fp16": ("fp16",), "bf16": ("bf16",), "tf32": ("tf32",), "fp8": ("e4m3", "e5m2")}


def _published_specs():
    specs = [H100_FP8, H100_FP8_PROMOTED]
    for gpus, inputs, step_, align, sum_bits, rounding, c_term, fp16_out in _PUBLISHED:
        for gpu in gpus:
            base = FusedDotSpec(f"{gpu}_{inputs}", step_, align, sum_bits, sum_rounding=rounding, c_term=c_term,
                                inputs=INPUTS[inputs], source=_PUBLISHED_SOURCE)
            specs.append(base)
            if gpu in fp16_out:
                specs.append(replace(base, name=f"{base.name}_to_fp16", output=FP16, sum_bits=10,
                                     sum_rounding=Rounding.RNE, nan_code=None))
    return {s.name: s for s in specs}


#: Every registered spec by name: ``<gpu>_<input>`` (fp32 output), ``<gpu>_<input>_to_fp16``, and the H100's
#: ``h100_fp8`` / ``h100_fp8_promoted`` (``torch._scaled_mm``).
SPECS = _published_specs()


def default_spec(input_format: str) -> FusedDotSpec:
    """The H100's spec for operands of ``input_format`` (``h100_fp8``, ``h100_fp16``, ``h100_bf16`` or
    ``h100_tf32``); ``h100_fp8`` for formats no H100 spec was measured with (a hypothetical unit: the H100's
    FP8 step with those operands)."""
    return next((SPECS[name] for name in specs_for(input_format) if name.startswith("h100_")
                 and SPECS[name].output == FP32 and SPECS[name].promote_every is None), H100_FP8)


def specs_for(input_format: str) -> list[str]:
    """Names of the specs measured with operands of ``input_format`` (e.g. ``"bf16"``)."""
    return [name for name, spec in SPECS.items() if input_format in spec.inputs]


def get_spec(name: str) -> FusedDotSpec:
    """The registered spec called ``name``; ValueError naming the valid ones otherwise."""
    if name not in SPECS:
        raise ValueError(f"unknown tensor-core spec {name!r}; valid: {', '.join(SPECS)}")
    return SPECS[name]


def _operands(a, b):
    """``a`` and ``b`` broadcast against each other; ValueError unless they have a common last axis."""
    a, b = np.asarray(a), np.asarray(b)
    try:
        a, b = np.broadcast_arrays(a, b)
    except ValueError:
        a = None
    if a is None or a.ndim < 1:
        raise ValueError("a and b must broadcast to one shape (..., n)")
    return a, b


def step(spec: FusedDotSpec, fmt_a: FloatFormat, fmt_b: FloatFormat, a, b, acc) -> np.ndarray:
    """Codes of ``spec.output`` of one step: ``acc`` (codes of ``spec.output``, ``(...)``) plus the products of
    ``a`` and ``b`` (``(..., n)``, n <= step)."""
    a, b = _operands(a, b)
    if a.shape[-1] > spec.step:
        raise ValueError(f"a step takes at most {spec.step} products, not {a.shape[-1]}")
    out_fmt = spec.output
    products = multiply(fmt_a.unpack(a), fmt_b.unpack(b))
    product_top = products.exp + fmt_a.precision + fmt_b.precision
    c = out_fmt.unpack(np.broadcast_to(np.asarray(acc), a.shape[:-1]))
    terms, tops = products.lanes(), [product_top]
    if spec.c_term is CTerm.ALIGNED:
        terms, tops = terms + [c], tops + [(c.exp + bit_length(c.mag) + 1)[..., None]]
    cut = align_window(Exact.stack(terms), np.concatenate(tops, axis=-1), spec.align_bits, spec.term_rounding)
    total = add(cut.lanes())
    total.neg = total.neg & ~total.zero  # an exact zero is +0
    rounded = spec.sum_format.unpack(spec.sum_format.pack(total, spec.sum_rounding))
    if spec.c_term is CTerm.ADDED:
        code = out_fmt.pack(add([rounded, c]), Rounding.RNE)  # IEEE: a zero sum is -0 only from -0 + -0
    else:
        code = out_fmt.pack(rounded)
    return np.where(out_fmt.is_nan(code), spec.nan_code, code).astype(out_fmt.code_dtype)


def mma(spec: FusedDotSpec, fmt_a: FloatFormat, fmt_b: FloatFormat, a, b, c) -> np.ndarray:
    """Codes of ``spec.output`` of one matrix instruction ``d = a . b + c``: steps over consecutive slices of
    ``spec.step`` elements of K, the first from ``c`` (codes of ``spec.output``), each from the one before."""
    a, b = _operands(a, b)
    acc = np.broadcast_to(np.asarray(c, dtype=spec.output.code_dtype), a.shape[:-1])
    for start in range(0, a.shape[-1], spec.step):
        acc = step(spec, fmt_a, fmt_b, a[..., start:start + spec.step], b[..., start:start + spec.step], acc)
    return acc


def dot(spec: FusedDotSpec, fmt_a: FloatFormat, fmt_b: FloatFormat, a, b) -> np.ndarray:
    """Codes of ``spec.output`` of ``sum_k a[..., k] * b[..., k]`` accumulated the way the unit does (unit
    scales, from c = +0)."""
    a, b = _operands(a, b)
    out_fmt = spec.output
    zero = np.zeros(a.shape[:-1], dtype=out_fmt.code_dtype)
    acc, main = zero, zero
    k = a.shape[-1]
    for start in range(0, k, spec.step):
        stop = min(start + spec.step, k)
        acc = step(spec, fmt_a, fmt_b, a[..., start:stop], b[..., start:stop], acc)
        if spec.promote_every is not None and (stop % spec.promote_every == 0 or stop == k):
            main, acc = FP32.pack(add([FP32.unpack(main), FP32.unpack(acc)])), zero
    out = main if spec.promote_every is not None else acc
    return np.where(out_fmt.is_nan(out), spec.nan_code, out).astype(out_fmt.code_dtype)


def _fp32_mul(x, y) -> np.ndarray:
    """fp32 codes of ``x * y`` (fp32 codes, broadcast), rounded to nearest even."""
    x, y = np.broadcast_arrays(np.asarray(x, dtype=np.uint32), np.asarray(y, dtype=np.uint32))
    return FP32.pack(multiply(FP32.unpack(x), FP32.unpack(y)), Rounding.RNE)


def split_parts(k: int, parts: int, grain: int) -> list[tuple[int, int]]:
    """``parts`` contiguous ``(start, stop)`` slices of ``range(k)``, ``ceil(k / parts / grain) * grain`` long
    (the last one shorter): how cuBLAS splits K (e.g. K = 8192 into 3 parts of grain 256: 2816, 2816, 2560)."""
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in (k, parts, grain)):
        raise ValueError(f"k, parts and grain must be positive integers, not {k!r}, {parts!r}, {grain!r}")
    size = -(-k // parts // grain) * grain
    bounds = [(start, min(start + size, k)) for start in range(0, k, size)]
    if len(bounds) != parts:
        raise ValueError(f"K = {k} does not split into {parts} parts of a multiple of {grain} "
                         f"(parts of {size} give {len(bounds)})")
    return bounds


def _split_dot(spec, fmt_a, fmt_b, a, b, split_k) -> np.ndarray:
    """The parts' results from +0, added in fp32 in order (round to nearest even)."""
    if split_k is None:
        return dot(spec, fmt_a, fmt_b, a, b)
    total = None
    for start, stop in split_k:
        part = dot(spec, fmt_a, fmt_b, a[..., start:stop], b[..., start:stop])
        total = part if total is None else FP32.pack(add([FP32.unpack(total), FP32.unpack(part)]), Rounding.RNE)
    return np.where(FP32.is_nan(total), spec.nan_code, total).astype(np.uint32)


def scaled_mm(spec: FusedDotSpec, fmt_a: FloatFormat, fmt_b: FloatFormat, a, b, scale_a, scale_b,
              out_fmt: FloatFormat = FP32, split_k: list[tuple[int, int]] | None = None) -> np.ndarray:
    """Codes of ``out_fmt`` for ``torch._scaled_mm(a, b.T, scale_a, scale_b)``: ``a`` (M, K), ``b`` (N, K) codes.

    Scales are fp32 codes: scalars (tensorwise: ``D = acc * (sa * sb)``, each
    product rounded to fp32) or vectors of M and N (rowwise: ``D = (acc *
    sb[n]) * sa[m]``, measured in that order).  A bf16 output is the fp32
    result rounded to nearest even.  ``split_k`` (``(start, stop)`` slices of K
    covering it in order, e.g. from :func:`split_parts`) models cuBLAS's split-K.
    """
    if spec.output != FP32:
        raise ValueError(f"scaled_mm models fp32 accumulation; {spec.name} accumulates in {spec.output.name}")
    a, b = np.asarray(a), np.asarray(b)
    acc = _split_dot(spec, fmt_a, fmt_b, a[:, None, :], b[None, :, :], split_k)
    sa, sb = np.asarray(scale_a, dtype=np.uint32), np.asarray(scale_b, dtype=np.uint32)
    if sa.ndim == 0 and sb.ndim == 0:
        out = _fp32_mul(acc, _fp32_mul(sa, sb))
    elif sa.shape == (a.shape[0],) and sb.shape == (b.shape[0],):
        out = _fp32_mul(_fp32_mul(acc, sb[None, :]), sa[:, None])
    else:
        raise ValueError(f"scales must be both scalars or of shapes ({a.shape[0]},) and ({b.shape[0]},), "
                         f"not {sa.shape} and {sb.shape}")
    if out_fmt == FP32:
        return np.where(FP32.is_nan(out), spec.nan_code, out).astype(np.uint32)
    return out_fmt.pack(FP32.unpack(out), Rounding.RNE)
