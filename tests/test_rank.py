"""The ranking runs on the committed H100 results and cost snapshot, without a GPU."""

import csv
import subprocess
import sys
from pathlib import Path

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
    assert rows["fp8_rowwise"]["cost_unit"].startswith("tensorcore_e4m3")
    assert float(rows["mxfp4"]["um2_per_mac"]) < float(rows["bf16"]["um2_per_mac"])
    assert (tmp_path / "rank.png").read_bytes()[:4] == b"\x89PNG"


def test_rank_refuses_a_missing_folder(tmp_path):
    run = subprocess.run([sys.executable, "-m", "hw.rank", "--train", str(tmp_path / "none")], capture_output=True,
                         text=True)
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and "no training results" in run.stderr
