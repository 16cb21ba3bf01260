"""The ranking runs on the committed H100 results and cost snapshot, without a GPU."""

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from hw.rank import _cost_rows, load_quality, mean_curves, rank

ROOT = Path(__file__).resolve().parent.parent


def test_rank_joins_quality_throughput_and_cost(tmp_path):
    dse = sorted((ROOT / "results" / "dse").glob("*.csv"))[-1]
    run = subprocess.run([sys.executable, "-m", "hw.rank", "--dse", str(dse), "--out", str(tmp_path)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    rows = {r["precision"]: r for r in csv.DictReader((tmp_path / "rank.csv").open())}
    assert set(rows) == {"bf16", "fp8_tensorwise", "fp8_rowwise", "mxfp8_e4m3", "mxfp4", "nvfp4", "nvfp4_rht",
                         "posit8", "posit16", "lns8"}
    assert all(int(r["seeds"]) >= 3 for r in rows.values())
    assert float(rows["bf16"]["gap_to_bf16"]) == 0.0
    speedups = [k for k in rows["bf16"] if k.startswith("h100_speedup_w")]
    assert len(speedups) >= 2  # two or more model widths measured
    for key in speedups:
        assert float(rows["fp8_tensorwise"][key]) > 0 and rows["mxfp4"][key] == ""  # only native precisions
    assert "_e4m3_" in rows["fp8_rowwise"]["cost_unit"] and rows["fp8_rowwise"]["cost_unit"].endswith("200mhz_osu018")
    assert "cost: osu018 at 200 MHz" in run.stdout
    assert float(rows["mxfp4"]["um2_per_mac"]) < float(rows["bf16"]["um2_per_mac"])
    for plot in ("rank.png", "curves.png"):
        assert (tmp_path / plot).read_bytes()[:4] == b"\x89PNG"


def test_rank_names_the_places_a_sweep_has(tmp_path):
    dse = sorted((ROOT / "results" / "dse").glob("*.csv"))[-1]
    run = subprocess.run([sys.executable, "-m", "hw.rank", "--dse", str(dse), "--freq", "333", "--out",
                          str(tmp_path)], capture_output=True, text=True)
    assert run.returncode == 2 and run.stderr.count("\n") == 1
    assert "no costed unit on osu018 at 333 MHz" in run.stderr and "osu018 at 200 MHz" in run.stderr


def test_rank_refuses_a_missing_folder(tmp_path):
    run = subprocess.run([sys.executable, "-m", "hw.rank", "--train", str(tmp_path / "none")], capture_output=True,
                         text=True)
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and "no training results" in run.stderr


def test_rank_reports_training_loss_and_loss_curves(tmp_path):
    train_dir = sorted((ROOT / "results" / "h100").glob("train_*"))[-1]
    quality = load_quality(train_dir)
    rows = {r["precision"]: r for r in rank(quality, {}, {})}
    assert rows["bf16"]["train_gap"] == 0.0 and rows["bf16"]["gap_to_bf16"] == 0.0
    lns = quality["lns8"]
    want = sum(run["train"] - quality["bf16"][seed]["train"] for seed, run in lns.items()) / len(lns)
    assert rows["lns8"]["train_gap"] == round(want, 4)
    curves = mean_curves(quality)
    steps = [point[0] for point in curves["bf16"]]
    assert steps == sorted(steps) and len(steps) >= 3
    final = curves["mxfp4"][-1]
    assert final[2] == pytest.approx(sum(run["heldout"] for run in quality["mxfp4"].values()) / len(quality["mxfp4"]))


def test_a_local_sweep_replaces_only_the_formats_it_costed(tmp_path):
    header = "unit,kind,format,lanes,stages,area_per_op_um2,energy_per_op_pj,dot64_rel_error,tech,freq_mhz\n"
    old, new = tmp_path / "old.csv", tmp_path / "new.csv"
    old.write_text(header + "mac_e4m3,mac,e4m3,1,0,2000,1.5,0.04,osu018,200\ndot_e4m3,dot,e4m3,4,0,1400,1.2,0.04,osu018,200\n"
                   "mul_e4m3,mul,e4m3,1,0,300,0.2,nan,osu018,200\ndot_mxfp8,dot,mxfp8_e4m3,32,0,700,0.7,0.03,osu018,200\n"
                   "dot_e4m3_fast,dot,e4m3,4,0,900,0.9,0.04,osu018,500\n")
    new.write_text(header + "mac_e4m3,mac,e4m3,1,0,1900,1.4,0.04,osu018,200\n"
                   "dot_e4m3_p,dot,e4m3,4,2,1000,1.0,0.04,osu018,200\n")
    costs = _cost_rows(old, new)
    assert costs["e4m3"]["unit"] == "mac_e4m3" and costs["e4m3"]["area_per_op_um2"] == "1900"  # stage-0 rows only
    assert costs["mxfp8_e4m3"]["unit"] == "dot_mxfp8"  # kept from the snapshot
    assert _cost_rows(old, freq_mhz=500.0)["e4m3"]["unit"] == "dot_e4m3_fast"  # the rows of the place asked for
    assert _cost_rows(old)["e4m3"]["unit"] == "dot_e4m3"  # the most parallel accumulating unit wins
