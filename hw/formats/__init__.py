"""Number formats: one frozen value object per format, looked up by name.

``get(name)`` returns a registered format (``e4m3``, ``fp32``, ``int8`` ...) or
parses a generic name: ``eXmY`` is an IEEE-style float with X exponent and Y
mantissa bits and bias ``2**(X-1) - 1``; ``intN`` a signed N-bit integer.
Registered names win over the generic reading (``e4m3`` is OCP's E4M3 "fn",
``e3m2`` is the MX FP6 type without Inf/NaN).
"""

from __future__ import annotations

import re

from .block import E8M0, BlockFormat, BlockTensor, ScaleFormat, ScaleRule
from .exact import Exact, Rounding
from .float import FP16, FP32, TF32, FloatFormat, Special
from .integer import IntFormat
from .lns import LNSFormat
from .posit import PositFormat, QuireFormat

__all__ = ["FloatFormat", "IntFormat", "PositFormat", "QuireFormat", "BlockFormat", "BlockTensor", "ScaleFormat",
           "ScaleRule", "E8M0", "LNSFormat", "Special", "Rounding", "Exact", "Format", "FP32", "FP16", "TF32", "family",
           "get", "resolve", "names", "registered", "register", "accumulators", "default_accumulator",
           "check_accumulator", "FAMILIES"]

Format = FloatFormat | IntFormat | PositFormat | QuireFormat | BlockFormat | LNSFormat

_REGISTRY: dict[str, Format] = {}


def register(fmt: Format) -> Format:
    if fmt.name in _REGISTRY:
        raise ValueError(f"format {fmt.name!r} is already registered")
    _REGISTRY[fmt.name] = fmt
    return fmt


for _fmt in (
    FP32,
    FP16,
    FloatFormat("bf16", 8, 7, 127),
    TF32,
    FloatFormat("e5m2", 5, 2, 15),
    FloatFormat("e4m3", 4, 3, 7, Special.FN),
    FloatFormat("e4m3fnuz", 4, 3, 8, Special.FNUZ),
    FloatFormat("e5m2fnuz", 5, 2, 16, Special.FNUZ),
    FloatFormat("e3m2", 3, 2, 3, Special.NONE),
    FloatFormat("e2m3", 2, 3, 1, Special.NONE),
    FloatFormat("e2m1", 2, 1, 1, Special.NONE),
    IntFormat("int8", 8),
    IntFormat("int4", 4),
    IntFormat("int32", 32),
    PositFormat("posit8", 8, 0),
    PositFormat("posit8es1", 8, 1),
    PositFormat("posit8es2", 8, 2),
    PositFormat("posit16", 16, 1),
    PositFormat("posit16es2", 16, 2),
    PositFormat("posit32", 32, 2),
):
    register(_fmt)

#: OCP MX v1.0 concrete formats (block of 32, E8M0 scale) and NVIDIA's NVFP4.
for _name, _element in (("mxfp8_e4m3", "e4m3"), ("mxfp8_e5m2", "e5m2"), ("mxfp6_e3m2", "e3m2"),
                        ("mxfp6_e2m3", "e2m3"), ("mxfp4", "e2m1"), ("mxint8", "int8")):
    register(BlockFormat(_name, _REGISTRY[_element], E8M0, 32))
#: LNS-Madam's 8-bit format: sign + 4.3 log, gamma = 8.
register(LNSFormat("lns8", 4, 3))
register(BlockFormat("nvfp4", _REGISTRY["e2m1"], _REGISTRY["e4m3"], 16, tensor_scale=True, rule=ScaleRule.NEAREST))

GENERIC_EXP_BITS = range(2, 9)
GENERIC_MAN_BITS = range(1, 24)
GENERIC_INT_BITS = range(2, 33)
_GENERIC_HELP = (f"or eXmY with X in {GENERIC_EXP_BITS.start}..{GENERIC_EXP_BITS.stop - 1} and "
                 f"Y in {GENERIC_MAN_BITS.start}..{GENERIC_MAN_BITS.stop - 1}, "
                 f"or intN with N in {GENERIC_INT_BITS.start}..{GENERIC_INT_BITS.stop - 1}, "
                 "or positN / positNesE with N in 3..32, E in 0..4 and E <= N-3 (E defaults to 2), "
                 "or mx_<element>_b<K> (an E8M0-scaled block of K elements, e.g. mx_e4m3_b16), "
                 "or lns<W>g<G> (W-bit LNS with gamma G, a power of two, e.g. lns8g4)")


def names() -> list[str]:
    return list(_REGISTRY)


def registered() -> list[Format]:
    return list(_REGISTRY.values())


def get(name: str) -> Format:
    """The format called ``name``; ValueError naming the valid choices otherwise."""
    if not isinstance(name, str):
        raise ValueError(f"format name must be a string, not {name!r}")
    if name in _REGISTRY:
        return _REGISTRY[name]
    if m := re.fullmatch(r"e(\d+)m(\d+)", name):
        exp_bits, man_bits = int(m[1]), int(m[2])
        if exp_bits not in GENERIC_EXP_BITS or man_bits not in GENERIC_MAN_BITS:
            raise ValueError(f"format {name!r} is out of range: use a registered name ({', '.join(names())}) "
                             + _GENERIC_HELP)
        return FloatFormat(name, exp_bits, man_bits, (1 << (exp_bits - 1)) - 1)
    if m := re.fullmatch(r"int(\d+)", name):
        bits = int(m[1])
        if bits not in GENERIC_INT_BITS:
            raise ValueError(f"format {name!r} is out of range: use a registered name ({', '.join(names())}) "
                             + _GENERIC_HELP)
        return IntFormat(name, bits)
    if m := re.fullmatch(r"posit(\d+)(?:es(\d+))?", name):
        n, es = int(m[1]), int(m[2]) if m[2] is not None else 2
        try:
            return PositFormat(name, n, es)
        except ValueError as e:
            raise ValueError(f"format {name!r}: {e}") from None
    if m := re.fullmatch(r"mx_(\w+?)_b(\d+)", name):
        element = get(m[1])
        if not isinstance(element, (FloatFormat, IntFormat)):
            raise ValueError(f"format {name!r}: a block element must be a float or integer format, not {m[1]}")
        try:
            return BlockFormat(name, element, E8M0, int(m[2]))
        except ValueError as e:
            raise ValueError(f"format {name!r}: {e}") from None
    if m := re.fullmatch(r"lns(\d+)g(\d+)", name):
        width, gamma = int(m[1]), int(m[2])
        frac = gamma.bit_length() - 1
        if gamma < 1 or gamma != 1 << frac or width - 1 - frac < 1:
            raise ValueError(f"format {name!r}: gamma must be a power of two below 2**(width-2), not {gamma}")
        try:
            return LNSFormat(name, width - 1 - frac, frac)
        except ValueError as e:
            raise ValueError(f"format {name!r}: {e}") from None
    if name.startswith("acc_"):
        lns = get(name[len("acc_"):])
        if isinstance(lns, LNSFormat):
            return lns.accumulator()
    if name.startswith("quire_"):
        posit = get(name[len("quire_"):])
        if isinstance(posit, PositFormat):
            return posit.quire()
    raise ValueError(f"unknown format {name!r}: use a registered name ({', '.join(names())}) " + _GENERIC_HELP)


def resolve(fmt, name: str = "fmt") -> Format:
    """A format object from a format or a format name; TypeError naming ``name`` for anything else."""
    if isinstance(fmt, str):
        return get(fmt)
    if isinstance(fmt, (*FAMILIES, ScaleFormat)):
        return fmt
    raise TypeError(f"{name} must be a format or a format name (e.g. 'e4m3'), not {type(fmt).__name__} {fmt!r}")


#: Accumulator families each operand family may round into (golden MAC and dot products).
ACCUMULATOR_FAMILIES = {"float": ("float",), "int": ("int",), "posit": ("quire", "posit", "float"),
                        "block": ("float",)}


def check_accumulator(fmt: Format, acc_fmt, name: str = "acc_fmt") -> Format:
    """``acc_fmt`` resolved and checked against the operand family: floats and block formats
    accumulate in floats, integers in integers, posits in their quire (or a posit or float).
    ValueError naming the valid families otherwise."""
    acc_fmt = resolve(acc_fmt, name)
    allowed = ACCUMULATOR_FAMILIES.get(family(fmt))
    if allowed is None:
        raise ValueError(f"{fmt.name} ({family(fmt)}) has its own MAC (LNSFormat.mac), not a golden {name}")
    if family(acc_fmt) not in allowed:
        raise ValueError(f"{name} {acc_fmt.name} ({family(acc_fmt)}) cannot accumulate {fmt.name} ({family(fmt)}) "
                         f"products; valid families: {', '.join(allowed)} (e.g. {accumulators(fmt)[0]})")
    if family(acc_fmt) == "quire" and acc_fmt.posit != fmt:
        raise ValueError(f"{name} {acc_fmt.name} is the quire of {acc_fmt.posit.name}, not of {fmt.name}")
    return acc_fmt


def accumulators(fmt: Format) -> list[str]:
    """Names of the accumulator formats the MAC and dot units support for ``fmt``."""
    if isinstance(fmt, PositFormat):
        return [fmt.quire().name]
    if isinstance(fmt, BlockFormat):
        return ["fp32"]
    if isinstance(fmt, LNSFormat):
        return [fmt.accumulator().name]
    return ["int32"] if isinstance(fmt, IntFormat) else ["fp32", "fp16", "bf16"]


#: Family name of each format class (used in tables, plots and error messages).
FAMILIES = {FloatFormat: "float", IntFormat: "int", PositFormat: "posit", QuireFormat: "quire", BlockFormat: "block",
            LNSFormat: "lns"}


def family(fmt: Format) -> str:
    """The family of a format object: float, int, posit, quire, block or lns."""
    for cls, name in FAMILIES.items():
        if isinstance(fmt, cls):
            return name
    raise TypeError(f"not a format object: {fmt!r}")


def default_accumulator(fmt: Format) -> Format:
    return get(accumulators(fmt)[0])
