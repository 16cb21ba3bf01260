"""Number formats: one frozen value object per format, looked up by name.

``get(name)`` returns a registered format (``e4m3``, ``fp32``, ``int8`` ...) or
parses a generic name: ``eXmY`` is an IEEE-style float with X exponent and Y
mantissa bits and bias ``2**(X-1) - 1``; ``intN`` a signed N-bit integer.
Registered names win over the generic reading (``e4m3`` is OCP's E4M3 "fn",
``e3m2`` is the MX FP6 type without Inf/NaN).
"""

from __future__ import annotations

import re

from .exact import Exact, Rounding
from .float import FloatFormat, Special
from .integer import IntFormat

__all__ = ["FloatFormat", "IntFormat", "Special", "Rounding", "Exact", "Format",
           "get", "names", "registered", "register", "accumulators", "default_accumulator"]

Format = FloatFormat | IntFormat

_REGISTRY: dict[str, Format] = {}


def register(fmt: Format) -> Format:
    if fmt.name in _REGISTRY:
        raise ValueError(f"format {fmt.name!r} is already registered")
    _REGISTRY[fmt.name] = fmt
    return fmt


for _fmt in (
    FloatFormat("fp32", 8, 23, 127),
    FloatFormat("fp16", 5, 10, 15),
    FloatFormat("bf16", 8, 7, 127),
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
):
    register(_fmt)

GENERIC_EXP_BITS = range(2, 9)
GENERIC_MAN_BITS = range(1, 24)
GENERIC_INT_BITS = range(2, 33)
_GENERIC_HELP = (f"or eXmY with X in {GENERIC_EXP_BITS.start}..{GENERIC_EXP_BITS.stop - 1} and "
                 f"Y in {GENERIC_MAN_BITS.start}..{GENERIC_MAN_BITS.stop - 1}, "
                 f"or intN with N in {GENERIC_INT_BITS.start}..{GENERIC_INT_BITS.stop - 1}")


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
    raise ValueError(f"unknown format {name!r}: use a registered name ({', '.join(names())}) " + _GENERIC_HELP)


def accumulators(fmt: Format) -> list[str]:
    """Names of the accumulator formats the MAC and dot units support for ``fmt``."""
    return ["int32"] if isinstance(fmt, IntFormat) else ["fp32", "fp16", "bf16"]


def default_accumulator(fmt: Format) -> Format:
    return get(accumulators(fmt)[0])
