"""The unit-kind registry: every kind is built, verified and costed through its one record."""

from __future__ import annotations

import numpy as np
import pytest

from hw import formats as F
from hw.rtl import (OPTIONS, UnitKind, build_sample, build_unit, default_kind, get_kind, kind_names, kinds, kinds_for,
                    ports, reference)
from hw.sim import Job, available_simulators, verify


def test_every_record_is_complete():
    for kind in kinds():
        assert kind.samples and kind.summary and set(kind.options) <= set(OPTIONS), kind.name
        assert set(kind.families) <= set(F.FAMILIES.values()), kind.name
        for fmt, options in kind.samples:
            unit = build_sample(kind.name, fmt, options)
            assert unit.kind == kind.name and unit.default_name.startswith(kind.name + "_")
            documented = {name for name, _ in kind.ports}
            assert {p.name for p in ports(unit)} - {"valid_in", "valid_out"} <= documented, (kind.name, fmt)


def test_every_format_has_a_default_unit_of_its_family():
    for fmt in F.registered():
        assert default_kind(fmt) in kinds_for(fmt)
        build_unit(default_kind(fmt), fmt)


@pytest.mark.parametrize("args, message", [
    (("fma", "e4m3"), "unknown unit 'fma'; valid: " + ", ".join(kind_names())),
    (("quant", "e4m3"), "e4m3 (float format) has no quant unit; its units: mul, add, mac, dot, tensorcore, acc_mac, round_mul"),
    (("readout", "int8"), "its units: mul, add, mac, dot"),
])
def test_unsupported_pairs_name_the_kinds_the_format_has(args, message):
    with pytest.raises(ValueError) as err:
        build_unit(args[0], F.get(args[1]))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_options_a_kind_does_not_take_are_refused():
    with pytest.raises(ValueError, match=r"lanes \(products per cycle\) applies to mac, dot, tensorcore units, not add"):
        build_unit("add", F.get("e4m3"), lanes=4)
    with pytest.raises(ValueError, match="stages must be a non-negative integer"):
        build_unit("mac", F.get("e4m3"), stages=-1)


def test_a_kind_registered_twice_is_refused():
    mul = get_kind("mul")
    with pytest.raises(ValueError, match="already registered"):
        from hw.rtl import register
        register(mul)
    with pytest.raises(ValueError, match="unknown options"):
        UnitKind("x", "", ("float",), mul.build, mul.reference, mul.stimulus, mul.workload, (), options=("speed",))


def test_references_are_the_golden_model():
    """The registry's reference is the same function each family's golden model gives."""
    rng = np.random.default_rng(0)
    e4m3, fp32 = F.get("e4m3"), F.get("fp32")
    a, b = rng.integers(0, 256, (2, 100, 4))
    acc = rng.integers(0, 1 << 32, 100)
    from hw.formats import golden

    unit = build_unit("dot", e4m3, lanes=4)
    np.testing.assert_array_equal(reference(unit, {"a": a, "b": b, "acc_in": acc})["acc_out"],
                                  golden.dot(e4m3, a, b, acc, fp32))
    lns = F.get("lns8")
    unit = build_unit("mac", lns, lanes=4, grouped=True)
    np.testing.assert_array_equal(reference(unit, {"a": a, "b": b, "acc_in": acc})["acc_out"], lns.mac(a, b, acc))


@pytest.mark.sim
@pytest.mark.skipif("verilator" not in available_simulators(), reason="Verilator not installed")
def test_every_sample_of_every_kind_matches_its_reference():
    """Each kind's samples, driven by its own stimulus, through one simulator build: a new kind is verified here
    by registering it."""
    rng = np.random.default_rng(2026)
    jobs = []
    for kind in kinds():
        for fmt, options in kind.samples:
            unit = build_sample(kind.name, fmt, options)
            inputs = kind.stimulus(unit, rng, 200)
            rows = len(next(iter(inputs.values())))
            if rows > 20000:  # exhaustive stimuli are run in full by the per-family regressions
                pick = np.sort(rng.choice(rows, 20000, replace=False))
                inputs = {port: np.asarray(v)[pick] for port, v in inputs.items()}
            jobs.append(Job(unit, inputs, copies=1 if kind.sequential else 4))
    results = verify(jobs, name="kinds")
    for job, result in zip(jobs, results):
        assert result.latency == job.unit.stages, job.name
