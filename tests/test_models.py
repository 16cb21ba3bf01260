"""The cost model: synthesis to library cells, toggle counting, energy, workloads, reports."""

import math

import numpy as np
import pytest

from hw import formats as F
from hw.models import cells
from hw.formats import golden
from hw.models.cost import Prepared, cost_key, measure, quality
from hw.models.energy import net_capacitance, read_toggles, switching_energy
from hw.models.report import gpu_rank, latest_peaks, pareto
from hw.models.synth import synthesize, yosys_path
from hw.rtl import build_sample, build_unit, default_name, get_kind, kinds, ports, reference, to_verilog
from hw.rtl.workload import TERMS, Workload
from hw.sim import Job, available_simulators, simulate_many

needs_yosys = pytest.mark.skipif(yosys_path() is None, reason="yosys not installed")
needs_verilator = pytest.mark.skipif("verilator" not in available_simulators(), reason="Verilator not installed")


def _netlist(unit):
    name = default_name(unit)
    return synthesize(to_verilog(unit, name), name)


@needs_yosys
def test_synthesis_maps_to_library_cells_and_counts_area():
    unit = build_unit("mac", F.get("int8"), stages=1)
    netlist = _netlist(unit)
    assert set(netlist.cells) <= set(cells.CELLS)
    assert netlist.area_um2 == pytest.approx(sum(cells.CELLS[g].area_um2 * n for g, n in netlist.cells.items()))
    # A pipelined MAC: its pipeline register (and the valid bit) are flip-flops, their area counted apart.
    assert netlist.cells["$_DFF_P_"] >= 2
    assert "$_DFF_P_" not in _netlist(build_unit("mac", F.get("int8"))).cells
    assert netlist.register_area_um2 == pytest.approx(4.522 * netlist.cells["$_DFF_P_"])
    assert netlist.comb_area_um2 + netlist.register_area_um2 == pytest.approx(netlist.area_um2)
    assert netlist.transistors > 4 * sum(netlist.cells.values()) // 2
    assert 10 < netlist.depth < sum(netlist.cells.values())


@needs_yosys
def test_wider_formats_cost_more_area():
    areas = {name: _netlist(build_unit("mul", F.get(name))).area_um2 for name in ("int4", "int8", "e4m3", "fp16")}
    assert areas["int4"] < areas["int8"] < areas["fp16"]
    assert areas["e4m3"] < areas["fp16"]


def _stream_bit_changes(values: np.ndarray, width: int) -> int:
    """Number of bit transitions between consecutive codes of a stream, starting from all zeros."""
    codes = np.concatenate([np.zeros(1, dtype=np.uint64), np.asarray(values, dtype=np.uint64).ravel()])
    flips = codes[1:] ^ codes[:-1]
    return int(sum(bin(int(v)).count("1") for v in flips))


@needs_yosys
@needs_verilator
def test_toggle_counts_match_the_streams_at_the_ports():
    """Verilator's per-net toggle counts at the ports equal the bit flips of the driven streams; at the outputs
    they are at least the flips of the expected stream, plus a few transients of Verilator's evaluation order."""
    unit = build_unit("mul", F.get("int8"))
    netlist = _netlist(unit)
    rng = np.random.default_rng(3)
    a = rng.integers(0, 256, 500, dtype=np.uint64)
    b = rng.integers(0, 256, 500, dtype=np.uint64)
    product = golden.mul(F.get("int8"), a, b)
    result = simulate_many([Job(unit, {"a": a, "b": b}, copies=1, verilog=netlist.verilog)], name="toggle-test",
                           toggles=True)[0]
    assert np.array_equal(result.outputs["product"], product)
    toggles = read_toggles(str(result.coverage))["harness.g0_copy[0].u"]
    port = lambda name, width: sum(toggles[name, i] for i in range(width))
    assert port("a", 8) == _stream_bit_changes(a, 8)
    assert port("b", 8) == _stream_bit_changes(b, 8)
    flips = _stream_bit_changes(product, 16)
    assert flips <= port("product", 16) <= 1.05 * flips


@needs_yosys
@needs_verilator
def test_energy_follows_switching_activity():
    """A stream that repeats one operand pair switches almost nothing; random operands switch a lot;
    a pipelined unit pays clock energy for every flip-flop every cycle."""
    fmt = F.get("e4m3")
    quiet_unit, busy_unit, piped_unit = (build_unit("mul", fmt, stages=s) for s in (0, 0, 1))
    rng = np.random.default_rng(5)
    busy = get_kind("mul").workload(busy_unit, 1000, rng)
    same = {"a": np.full(1000, busy.inputs["a"][0, 0]), "b": np.full(1000, busy.inputs["b"][0, 0])}
    quiet = Workload(same, {"product": golden.mul(fmt, same["a"], same["b"])}, 1)
    prepared = []
    for unit, work in ((quiet_unit, quiet), (busy_unit, busy), (piped_unit, busy)):
        netlist = _netlist(unit)
        prepared.append(Prepared(default_name(unit), {"unit": default_name(unit)}, netlist, work, math.nan, 0.0))
    # One harness per use of a module: Verilator counts a module's toggles over all its instances.
    rows = measure([quiet_unit], prepared[:1], name="energy-quiet") + measure([busy_unit, piped_unit], prepared[1:],
                                                                               name="energy-busy")
    assert not [row for row in rows if "error" in row], rows
    quiet_row, busy_row, piped_row = rows
    assert quiet_row["switching_pj_per_op"] < 0.01 * busy_row["switching_pj_per_op"]
    assert busy_row["clock_pj_per_op"] == 0
    flops = piped_row["flops"]
    assert flops > 0
    expected_clock = flops * cells.FF_CLOCK_FF * cells.VDD ** 2 / 1000
    assert piped_row["clock_pj_per_op"] == pytest.approx(expected_clock, rel=1e-3)


@needs_yosys
def test_net_capacitance_counts_every_pin_a_net_drives():
    netlist = _netlist(build_unit("mul", F.get("int4")))
    module = netlist.module
    cap = net_capacitance(module)
    sinks = {}
    for cell in module["cells"].values():
        for port, bits in cell["connections"].items():
            if cell["port_directions"][port] == "input":
                for bit in bits:
                    sinks[bit] = sinks.get(bit, 0) + 1
    bit = max(sinks, key=sinks.get)  # the net with the largest fanout
    driver = next((c for c in module["cells"].values() if bit in c["connections"].get("Y", [])), None)
    expected = (cells.CELLS[driver["type"]].self_ff if driver else 0.0)
    expected += sum(cells.CELLS[c["type"]].input_ff + cells.WIRE_FF_PER_FANOUT
                    for c in module["cells"].values() for p, bits in c["connections"].items()
                    if c["port_directions"][p] == "input" for b in bits if b == bit)
    assert cap[bit] == pytest.approx(expected)
    energy = switching_energy(module, {}, 10)
    assert energy.total_pj == 0 and energy.covered == 0


def test_workloads_walk_whole_dot_products():
    unit = build_unit("mac", F.get("e4m3"))
    work = get_kind("mac").workload(unit, 256, np.random.default_rng(1))
    steps = TERMS
    acc_in = work.inputs["acc_in"].reshape(-1, steps)
    acc_out = work.expected["acc_out"].reshape(-1, steps)
    assert (acc_in[:, 0] == 0).all()
    assert (acc_in[:, 1:] == acc_out[:, :-1]).all()
    block = get_kind("dot").workload(build_unit("dot", F.get("mxfp4")), 64, np.random.default_rng(1))
    assert block.ops == 32 and {"a_scale", "b_scale"} <= set(block.inputs)


def test_every_kind_has_a_workload_its_reference_agrees_with():
    """Each registered kind's workload feeds every input port, and its expected outputs are the golden ones."""
    for kind in kinds():
        unit = build_sample(kind.name, *kind.samples[0])
        work = kind.workload(unit, 64, np.random.default_rng(2))
        assert {p.name for p in ports(unit) if p.direction == "in"} - {"valid_in"} == set(work.inputs), kind.name
        for port, values in reference(unit, work.inputs).items():
            assert np.array_equal(np.asarray(values), np.asarray(work.expected[port])), (kind.name, port)


def test_dot_quality_orders_formats_by_precision():
    err = {name: quality(build_unit("mac", F.get(name))) for name in ("bf16", "e4m3", "e5m2", "e2m1", "posit16")}
    assert err["posit16"] < err["bf16"] < err["e4m3"] < err["e5m2"] < err["e2m1"]
    # Three mantissa bits give about 2^-4 relative error per element; the dot product averages some of it away.
    assert 0.01 < err["e4m3"] < 0.1
    assert quality(build_unit("mac", F.get("int8"))) < quality(build_unit("mac", F.get("int4")))
    assert math.isnan(quality(build_unit("mul", F.get("e4m3"))))


def test_cost_key_changes_with_the_technology_data(monkeypatch):
    key = cost_key("module m; endmodule", 64, 1)
    assert cost_key("module m; endmodule", 64, 1) == key
    monkeypatch.setattr(cells, "VDD", 1.0)
    assert cost_key("module m; endmodule", 64, 1) != key


def test_pareto_front_keeps_only_undominated_rows():
    rows = [{"unit": "a", "x": 1, "y": 5}, {"unit": "b", "x": 2, "y": 2}, {"unit": "c", "x": 3, "y": 3},
            {"unit": "d", "x": 4, "y": 1}, {"unit": "e", "x": 5, "y": float("nan")}]
    assert [r["unit"] for r in pareto(rows, "x", "y")] == ["a", "b", "d"]


def test_gpu_rank_puts_measured_h100_next_to_the_model():
    peaks, source = latest_peaks()
    assert source.startswith("peaks_") and "bf16" in peaks["tflops"]
    rows = [{"unit": "mac_bf16", "kind": "mac", "format": "bf16", "lanes": 1, "stages": 0,
             "area_per_op_um2": 3000.0, "energy_per_op_pj": 3.0, "dot64_rel_error": 0.002},
            {"unit": "mac_e4m3", "kind": "mac", "format": "e4m3", "lanes": 1, "stages": 0,
             "area_per_op_um2": 2000.0, "energy_per_op_pj": 1.5, "dot64_rel_error": 0.04}]
    table = {t["gpu_mode"]: t for t in gpu_rank(rows, peaks)}
    assert table["bf16"]["h100_speedup_vs_bf16"] == 1.0
    fp8 = table["fp8_e4m3"]
    assert fp8["h100_speedup_vs_bf16"] == pytest.approx(peaks["tflops"]["fp8_e4m3"] / peaks["tflops"]["bf16"], rel=1e-3)
    assert fp8["model_density_vs_bf16"] == 1.5 and fp8["model_energy_gain_vs_bf16"] == 2.0
    # With tensor-core steps of one width for every GPU format, those are what the GPU is set against.
    cores = [{**r, "unit": r["unit"].replace("mac", "tc"), "kind": "tensorcore", "lanes": 4,
              "area_per_op_um2": r["area_per_op_um2"] / 4} for r in rows]
    table = {t["gpu_mode"]: t for t in gpu_rank(rows + cores, peaks)}
    assert table["fp8_e4m3"]["model_unit"] == "tc_e4m3" and table["fp8_e4m3"]["model_density_vs_bf16"] == 1.5
