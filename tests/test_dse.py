"""The design-space sweep CLI: config validation, a small sweep end to end, the cache."""

import csv
import subprocess
import sys

import pytest

from hw.dse import ConfigError, expand, load_config, places
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
    ("formats: [e4m3]\nunits: [tensorcore]\nspec: [b300_fp8]", "bad spec entry 'b300_fp8'"),
    ("formats: [e4m3]\nunits: [dot]\nalign_bits: [1]", "bad align_bits entry 1"),
    ("formats: [lns8]\nunits: [mac]\ngrouped: [maybe]", "bad grouped entry 'maybe'"),
    ("formats: [e4m3]\nunits: [mac]\nfreq_mhz: [0]", "bad freq_mhz entry 0"),
    ("formats: [e4m3]\nunits: [mac]\ntech: osu018", "'tech' must be a non-empty list"),
    ("formats: [e4m3]\nunits: [tensorcore]\nfmt_b: [e9m1]", "bad fmt_b entry 'e9m1'"),
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


def test_every_gen_option_and_generic_formats_expand():
    """align_bits, grouped, fmt_b, spec and generic formats (e3m4, posit12, mx_e3m4_b16) are design points;
    options a kind does not take stay at its default instead of multiplying the points."""
    config = load_config("""
formats: [e3m4, posit12, mx_e3m4_b16, lns8, e4m3]
units: [mac, dot, tensorcore]
lanes: {dot: [default], tensorcore: [8]}
align_bits: {dot: [default, 16]}
grouped: [false, true]
fmt_b: {tensorcore: [default, e5m2]}
spec: [default, b200_fp8]
tech: [osu018, sky130hd]
freq_mhz: [200, 500]
""")
    names = [s["unit"] for s in expand(config)[0]]
    for name in ("mac_e3m4_fp32_s0", "mac_posit12_quire_s0", "dot_mx_e3m4_b16_x16_fp32_s0",
                 "dot_mx_e3m4_b16_x16_fp32_a16_s0", "mac_lns8_acc_lns8_grouped_s0", "tensorcore_e4m3_x8_h100_fp8_s0",
                 "tensorcore_e4m3_e5m2_x8_b200_fp8_s0"):
        assert name in names, (name, names)
    assert len(names) == len(set(names))
    assert places(config) == [("osu018", 200.0), ("osu018", 500.0), ("sky130hd", 200.0), ("sky130hd", 500.0)]


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
        assert (out / "osu018_200mhz" / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "osu018_200mhz" / "pareto.csv").exists()
    cached = sorted((out / "cache").glob("*.json"))
    assert len(cached) == len(rows)
    stamps = [p.stat().st_mtime_ns for p in cached]
    again = subprocess.run(command + ["--no-progress"], capture_output=True, text=True)
    assert again.returncode == 0
    assert "simulating" not in again.stderr  # nothing left to cost
    assert [p.stat().st_mtime_ns for p in sorted((out / "cache").glob("*.json"))] == stamps
    assert (out / "dse.csv").read_text() == "\n".join((out / "dse.csv").read_text().splitlines()) + "\n"


@pytest.mark.sim
@pytest.mark.skipif(not (yosys_available() and sta_path() and technology.NAMED["osu018"][0][0].exists())
                    or "verilator" not in available_simulators(), reason="needs pyosys, OpenSTA, OSU 0.18 and Verilator")
def test_sweep_at_two_clocks_on_a_dask_scheduler(tmp_path):
    """--scheduler runs the jobs on an existing Dask cluster; each clock gets its rows, folder and front."""
    from distributed import LocalCluster

    config = tmp_path / "clocks.yaml"
    config.write_text("formats: [int4, e2m1]\nunits: [mac]\nfreq_mhz: [100, 400]\nvectors: 128\n")
    out = tmp_path / "dse"
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        run = subprocess.run([sys.executable, "-m", "hw.dse", "--config", str(config), "--out", str(out),
                              "--scheduler", cluster.scheduler_address, "--no-progress"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    rows = list(csv.DictReader((out / "dse.csv").open()))
    assert sorted((r["spec_unit"], float(r["freq_mhz"])) for r in rows) == [
        ("mac_e2m1_fp32_s0", 100.0), ("mac_e2m1_fp32_s0", 400.0), ("mac_int4_int32_s0", 100.0),
        ("mac_int4_int32_s0", 400.0)]
    latency = {(r["spec_unit"], float(r["freq_mhz"])): int(r["latency"]) for r in rows}
    assert latency["mac_e2m1_fp32_s0", 400.0] > latency["mac_e2m1_fp32_s0", 100.0]  # pipelined for the clock
    for place in ("osu018_100mhz", "osu018_400mhz"):
        assert len(list(csv.DictReader((out / place / "dse.csv").open()))) == 2
    assert (out / "pareto_by_clock.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "4 of 4 design points costed" in run.stdout
