"""The design-space sweep CLI: config validation, a small sweep end to end, the cache."""

import csv
import subprocess
import sys

import pytest

from hw.dse import ConfigError, expand, load_config
from hw.models import technology
from hw.models.sta import sta_path
from hw.models.yosys import available as yosys_available
from hw.sim import available_simulators

SMALL = """
formats: [int4, e2m1, mxfp4]
units: [mul, mac, dot]
lanes: {dot: [default]}
vectors: 256
"""


@pytest.mark.parametrize("text, message", [
    ("formats: [e9m9]\nunits: [mac]", "bad formats entry 'e9m9'"),
    ("formats: [e4m3]\nunits: [fma]", "bad units entry 'fma'"),
    ("formats: [e4m3]\nunits: [mac]\nlanes: [0]", "bad lanes entry 0"),
    ("formats: [e4m3]\nunits: [mac]\nlanes: {mul2: [1]}", "unknown unit kind 'mul2'"),
    ("formats: [e4m3]\nunits: [mac]\naccumulators: [fp64]", "bad accumulators entry 'fp64'"),
    ("formats: [e4m3]\nunits: [mac]\nstages: [-1]", "bad stages entry -1"),
    ("formats: [e4m3]\nunits: [mac]\nvectors: 10", "'vectors' must be an integer >= 64"),
    ("formats: [e4m3]\nunits: [mac]\nspeed: fast", "unknown key 'speed'"),
    ("formats: e4m3\nunits: [mac]", "'formats' must be a non-empty list"),
    ("units: [mac]", "missing key 'formats'"),
    ("formats: [e4m3\n", "not valid YAML"),
    ("- e4m3", "must be a mapping"),
])
def test_bad_configs_name_the_problem(text, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(")):
        load_config(text)


def test_expand_skips_combinations_a_family_lacks():
    specs, skipped = expand(load_config(SMALL))
    names = [s["unit"] for s in specs]
    assert names == ["mul_int4_s0", "mac_int4_int32_s0", "dot_int4_x4_int32_s0", "mul_e2m1_s0", "mac_e2m1_fp32_s0",
                     "dot_e2m1_x4_fp32_s0", "dot_mxfp4_x32_fp32_s0"]
    assert any(line.startswith("mul mxfp4") and "block format" in line for line in skipped)


def test_bad_config_exits_2_with_one_line_and_writes_nothing(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("formats: [e4m3]\nunits: [mac]\nlanes: [two]\n")
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "hw.dse", "--config", str(config), "--out", str(out)],
                         capture_output=True, text=True)
    assert run.returncode == 2
    assert len(run.stderr.strip().splitlines()) == 1 and "bad lanes entry 'two'" in run.stderr
    assert "Traceback" not in run.stderr and not out.exists()


@pytest.mark.sim
@pytest.mark.skipif(not (yosys_available() and sta_path() and technology.NAMED["osu018"][0][0].exists())
                    or "verilator" not in available_simulators(), reason="needs pyosys, OpenSTA, OSU 0.18 and Verilator")
def test_small_sweep_writes_csv_plots_and_caches(tmp_path):
    config = tmp_path / "small.yaml"
    config.write_text(SMALL)
    out = tmp_path / "dse"
    command = [sys.executable, "-m", "hw.dse", "--config", str(config), "--out", str(out), "--jobs", "2"]
    first = subprocess.run(command, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr[-2000:]
    rows = list(csv.DictReader((out / "dse.csv").open()))
    assert [r["spec_unit"] for r in rows] == [s["unit"] for s in expand(load_config(SMALL))[0]]
    for r in rows:
        assert float(r["area_um2"]) > 0 and float(r["energy_per_op_pj"]) > 0 and r["met"] == "True"
        assert r["tech"] == "osu018" and float(r["freq_mhz"]) == 200 and int(r["latency"]) >= 0
        assert float(r["comb_area_um2"]) + float(r["reg_area_um2"]) == pytest.approx(float(r["area_um2"]), abs=0.02)
    # A 32-lane block dot unit shares its adder tree: far less area per MAC than a one-lane MAC.
    by_unit = {r["spec_unit"]: r for r in rows}
    assert float(by_unit["dot_mxfp4_x32_fp32_s0"]["area_per_op_um2"]) < float(by_unit["mac_e2m1_fp32_s0"]["area_per_op_um2"])
    for plot in ("area_energy_by_format.png", "area_vs_quality.png"):
        assert (out / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "pareto.csv").exists()
    cached = sorted((out / "cache").glob("*.json"))
    assert len(cached) == len(rows)
    stamps = [p.stat().st_mtime_ns for p in cached]
    again = subprocess.run(command + ["--no-progress"], capture_output=True, text=True)
    assert again.returncode == 0
    assert "simulating" not in again.stderr  # nothing left to cost
    assert [p.stat().st_mtime_ns for p in sorted((out / "cache").glob("*.json"))] == stamps
    assert (out / "dse.csv").read_text() == "\n".join((out / "dse.csv").read_text().splitlines()) + "\n"
