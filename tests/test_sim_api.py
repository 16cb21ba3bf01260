"""The simulation API a user calls: their vectors in, the outputs and the observed latency back."""

from __future__ import annotations

import os

import ml_dtypes
import numpy as np
import pytest

from hw import formats
from hw.rtl import build_unit, to_verilog
from hw.sim import Job, available_simulators, compare, simulate, simulate_many, verify, verilog_ports

needs_verilator = pytest.mark.skipif("verilator" not in available_simulators(), reason="Verilator not installed")


@pytest.mark.sim
@needs_verilator
def test_readme_example_checks_a_unit_against_a_users_reference():
    e4m3 = formats.get("e4m3")
    unit = build_unit("round_mul", e4m3, stages=2)
    a, b = np.meshgrid(np.arange(256), np.arange(256))
    run = simulate(unit, {"a": a.ravel(), "b": b.ravel()})
    mine = (e4m3.decode(a.ravel()) * e4m3.decode(b.ravel())).astype(np.float32).astype(ml_dtypes.float8_e4m3fn)
    # values agree; NaNs as values (the unit returns the canonical +NaN, a cast keeps NaN's sign)
    assert run.latency == 2 and np.array_equal(e4m3.decode(run.outputs["product"]), mine.astype(float), equal_nan=True)


@pytest.mark.sim
@needs_verilator
def test_verilog_text_alone_and_wide_outputs():
    """A module given only as Verilog (ports read from the text), and a quire MAC whose 128-bit outputs come
    back as Python ints; the latency is what the simulator saw."""
    posit16 = formats.get("posit16")
    unit = build_unit("mac", posit16, stages=3)
    rng = np.random.default_rng(1)
    a, b = rng.integers(0, 1 << 16, (2, 500))
    acc = np.array([int(v) << 40 for v in rng.integers(0, 1 << 40, 500)], dtype=object)
    as_unit, as_text = simulate_many([Job(unit, {"a": a, "b": b, "acc_in": acc}),
                                      Job(None, {"a": a, "b": b, "acc_in": acc}, verilog=to_verilog(unit, "my_mac"))],
                                     name="api")
    assert as_unit.latency == as_text.latency == 3
    assert as_unit.outputs["acc_out"].dtype == object
    assert [int(v) for v in as_unit.outputs["acc_out"]] == [int(v) for v in as_text.outputs["acc_out"]]
    from hw.rtl import reference
    assert list(reference(unit, {"a": a, "b": b, "acc_in": acc})["acc_out"]) == list(as_unit.outputs["acc_out"])


@pytest.mark.sim
@needs_verilator
def test_verify_reports_readable_mismatches():
    unit = build_unit("add", formats.get("e4m3"))
    a = np.array([0x38, 0x40, 0x00], dtype=np.uint64)  # 1.0, 2.0, 0
    wrong = {"sum": np.array([0x40, 0x40, 0x00])}      # 2 + 1 is 3 (0x44), not 2
    with pytest.raises(AssertionError) as err:
        verify([Job(unit, {"a": a, "b": np.array([0x38, 0x38, 0x00])}, copies=1, expected=wrong)], name="api-bad")
    text = str(err.value)
    assert "add_e4m3_s0: 1 of 3 vectors differ on sum" in text
    assert "#1: a=0x40 (2), b=0x38 (1) -> got 0x44 (3), expected 0x40 (2)" in text
    assert "log:" in text


def test_inputs_are_checked_before_anything_runs():
    unit = build_unit("mac", formats.get("e4m3"))
    with pytest.raises(ValueError, match="no inputs for ports \\['acc_in'\\]"):
        Job(unit, {"a": [1], "b": [2]})
    with pytest.raises(ValueError, match="unknown input ports \\['c'\\]"):
        Job(unit, {"a": [1], "b": [2], "acc_in": [0], "c": [1]})
    with pytest.raises(ValueError, match="one length"):
        Job(unit, {"a": [1, 2], "b": [2], "acc_in": [0]})
    dot = build_unit("dot", formats.get("e4m3"), lanes=4)
    with pytest.raises(ValueError, match=r"needs shape \(2, 4\)"):
        Job(dot, {"a": np.zeros((2, 3)), "b": np.zeros((2, 4)), "acc_in": [0, 0]})
    with pytest.raises(ValueError, match="lacks the port convention's valid_in and valid_out"):
        verilog_ports("module m(input [3:0] a, output [3:0] y);\nendmodule\n")
    name, ports, clocked = verilog_ports(to_verilog(build_unit("mul", formats.get("int8"), stages=1)))
    assert name == "mul_int8_s1" and clocked and [p.name for p in ports if p.direction == "in"] == ["a", "b", "valid_in"]


@pytest.mark.sim
@pytest.mark.parametrize("sim, suffix", [("verilator", ".vcd"), ("icarus", ".fst")])
def test_a_failing_check_names_mismatches_the_log_and_a_waveform(sim, suffix):
    if sim not in available_simulators():
        pytest.skip(f"{sim} not installed")
    int8 = formats.get("int8")
    unit = build_unit("mul", int8, stages=1)
    a, b = np.arange(64) % 256, np.full(64, 3)
    wrong = {"product": np.zeros(64, dtype=np.uint64)}
    with pytest.raises(AssertionError) as err:
        verify([Job(unit, {"a": a, "b": b}, expected=wrong)], sim=sim, name="api-waves", waves=True)
    message = str(err.value)
    assert "63 of 64" in message and "#1: a=" in message and "\nlog: " in message and "SystemExit" not in message
    waves = message.rsplit("\nwaves: ", 1)[1].strip()
    assert waves.endswith(suffix) and os.path.getsize(waves) > 0, message


def test_compare_refuses_float_expectations_and_wrong_lengths():
    e4m3 = formats.get("e4m3")
    job = Job(build_unit("mul", e4m3), {"a": np.arange(8), "b": np.arange(8)})
    got = {"product": np.zeros(8, dtype=np.uint64)}
    with pytest.raises(TypeError, match="expected product must be integer codes, not float64 values"):
        compare(job, got, {"product": np.zeros(8)})
    with pytest.raises(ValueError, match="expected product has 7 codes, not 8"):
        compare(job, got, {"product": np.zeros(7, dtype=np.uint64)})
    assert compare(job, got, {"product": np.zeros(8, dtype=np.uint64)}) == []
