"""The format objects: registry, generic names, parameters, validation."""

import dataclasses

import numpy as np
import pytest

from hw import formats as F
from hw.formats import FloatFormat, IntFormat, Special


@pytest.mark.parametrize("name, max_finite, min_subnormal, nan_code", [
    ("e4m3", 448.0, 2.0**-9, 0x7F),
    ("e5m2", 57344.0, 2.0**-16, 0x7E),
    ("e4m3fnuz", 240.0, 2.0**-10, 0x80),
    ("e5m2fnuz", 57344.0, 2.0**-17, 0x80),
    ("e3m2", 28.0, 2.0**-4, None),
    ("e2m3", 7.5, 2.0**-3, None),
    ("e2m1", 6.0, 0.5, None),
    ("fp16", 65504.0, 2.0**-24, 0x7E00),
    ("bf16", float(np.finfo(np.float32).max) * (1 - 2.0**-8) / (1 - 2.0**-24), 2.0**-133, 0x7FC0),
    ("fp32", float(np.finfo(np.float32).max), 2.0**-149, 0x7FC00000),
])
def test_registered_float_parameters(name, max_finite, min_subnormal, nan_code):
    fmt = F.get(name)
    assert fmt.max_finite == max_finite
    assert fmt.min_subnormal == min_subnormal
    assert fmt.nan_code == nan_code


def test_special_conventions():
    e4m3, e5m2, fnuz, e2m1 = F.get("e4m3"), F.get("e5m2"), F.get("e4m3fnuz"), F.get("e2m1")
    assert list(np.flatnonzero(e4m3.is_nan(np.arange(256)))) == [0x7F, 0xFF]
    assert not e4m3.is_inf(np.arange(256)).any()
    assert list(np.flatnonzero(e5m2.is_inf(np.arange(256)))) == [0x7C, 0xFC]
    assert list(np.flatnonzero(fnuz.is_nan(np.arange(256)))) == [0x80]
    assert not e2m1.is_nan(np.arange(16)).any() and not e2m1.is_inf(np.arange(16)).any()
    assert np.isnan(fnuz.decode(0x80)) and fnuz.decode(0x00) == 0.0


def test_registry_lookup_is_shared_object():
    assert F.get("e4m3") is F.get("e4m3")
    assert set(["fp32", "fp16", "bf16", "e5m2", "e4m3", "e4m3fnuz", "e5m2fnuz", "e3m2", "e2m3", "e2m1",
                "int8", "int4"]) <= set(F.names())


def test_generic_exmy_is_ieee_style():
    fmt = F.get("e6m9")
    assert (fmt.exp_bits, fmt.man_bits, fmt.bias, fmt.special) == (6, 9, 31, Special.IEEE)
    assert fmt.width == 16 and fmt.has_inf and fmt.has_nan
    # registered names win: e3m2 is the MX type, not the IEEE-style reading
    assert F.get("e3m2").special is Special.NONE
    assert F.get("int6") == IntFormat("int6", 6)


@pytest.mark.parametrize("name", ["e9m9", "e1m2", "e4m0", "e5m24", "foo", "fp8", "int1", "int64", "", "E4M3"])
def test_bad_names_raise_value_error_naming_valid_choices(name):
    with pytest.raises(ValueError, match="registered name"):
        F.get(name)


def test_constructor_validates_parameters():
    with pytest.raises(ValueError, match="exp_bits"):
        FloatFormat("x", 12, 3, 7)
    with pytest.raises(ValueError, match="man_bits"):
        FloatFormat("x", 4, -1, 7)
    with pytest.raises(ValueError, match="IEEE"):
        FloatFormat("x", 4, 0, 7)
    with pytest.raises(ValueError, match="special"):
        FloatFormat("x", 4, 3, 7, "fn")
    with pytest.raises(ValueError, match="bits"):
        IntFormat("x", 1)


def test_formats_are_frozen_values():
    fmt = F.get("e4m3")
    with pytest.raises(dataclasses.FrozenInstanceError):
        fmt.bias = 8
    assert FloatFormat("e4m3", 4, 3, 7, Special.FN) == fmt


def test_product_format_holds_every_product_as_a_normal():
    for name in ["e4m3", "e5m2", "e3m2", "e2m3", "e2m1", "e4m3fnuz", "e5m2fnuz", "fp16", "bf16"]:
        fmt = F.get(name)
        prod = fmt.product_format()
        assert prod.precision == 2 * fmt.precision
        assert prod.min_normal <= fmt.min_subnormal ** 2
        assert prod.max_finite >= fmt.max_finite ** 2


def test_accumulators():
    assert F.accumulators(F.get("e4m3")) == ["fp32", "fp16", "bf16"]
    assert F.accumulators(F.get("int8")) == ["int32"]
    assert F.default_accumulator(F.get("e6m9")).name == "fp32"


def test_format_without_subnormals_reads_and_flushes_them_as_zero():
    daz = FloatFormat("e4m3daz", 4, 3, 7, Special.FN, subnormals=False)
    assert list(daz.decode([0x01, 0x07, 0x81, 0x08])) == [0.0, 0.0, -0.0, 2.0**-6]
    assert np.signbit(daz.decode(0x81))
    # below the smallest normal flushes (before rounding), keeping the sign
    assert list(daz.encode([2.0**-7, -2.0**-7, 2.0**-6 * 0.999])) == [0x00, 0x80, 0x00]
    assert daz.min_subnormal == daz.min_normal == 2.0**-6
