"""The cost model on real cell libraries: synthesis, static timing, toggle counting, energy, workloads, reports."""

import math
import tempfile

import numpy as np
import pytest

from hw import formats as F
from hw.formats import golden
from hw.models import technology
from hw.models.cost import Implementation, Prepared, cost, cost_key, implement, measure, quality
from hw.models.energy import energy, net_loads, read_toggles
from hw.models.report import gpu_rank, latest_peaks, pareto
from hw.models.sta import sta_path, timing
from hw.models.synth import cell_models, synthesize
from hw.models.yosys import available as yosys_available
from hw.rtl import build_sample, build_unit, default_name, get_kind, kinds, ports, reference, to_verilog
from hw.rtl.workload import TERMS, Workload
from hw.sim import Job, available_simulators, simulate_many

HAVE_OSU = technology.NAMED["osu018"][0][0].exists()
needs_flow = pytest.mark.skipif(not (yosys_available() and sta_path() and HAVE_OSU),
                                reason="needs pyosys, OpenSTA and the OSU 0.18 um library (make sysdeps)")
needs_verilator = pytest.mark.skipif("verilator" not in available_simulators(), reason="Verilator not installed")


@pytest.fixture(scope="module")
def osu():
    return technology.get("osu018")


def _netlist(unit, tech, period=5.0):
    name = default_name(unit)
    return synthesize(to_verilog(unit, name), name, tech, period)


@needs_flow
def test_synthesis_maps_to_library_cells_and_counts_area(osu):
    unit = build_unit("mac", F.get("int8"), stages=1)
    netlist = _netlist(unit, osu)
    assert set(netlist.cells) <= {c.name for c in osu.cells.values() if c.usable}
    assert netlist.area_um2 == pytest.approx(sum(osu.cells[c].area_um2 * n for c, n in netlist.cells.items()))
    # A pipelined MAC: its pipeline register (and the valid bit) are library flip-flops, their area counted apart.
    assert netlist.flops >= 2 and netlist.flops == sum(n for c, n in netlist.cells.items() if osu.cells[c].sequential)
    assert _netlist(build_unit("mac", F.get("int8")), osu).flops == 0
    assert netlist.comb_area_um2 + netlist.register_area_um2 == pytest.approx(netlist.area_um2)


@needs_flow
def test_wider_formats_cost_more_area(osu):
    areas = {name: _netlist(build_unit("mul", F.get(name)), osu).area_um2 for name in ("int4", "int8", "e4m3", "fp16")}
    assert areas["int4"] < areas["int8"] < areas["fp16"]
    assert areas["e4m3"] < areas["fp16"]


@needs_flow
def test_static_timing_reports_every_path_group(osu):
    comb = _netlist(build_unit("mac", F.get("e4m3")), osu, period=10.0)
    t = timing(comb, osu, clocked=False)
    assert t.in2reg_ns is None and t.reg2reg_ns is None and 5 < t.in2out_ns < 40
    assert t.slack_ns == pytest.approx(10.0 - t.in2out_ns) and t.fmax_mhz == pytest.approx(1000 / t.in2out_ns)
    piped = _netlist(build_unit("mac", F.get("e4m3"), stages=2), osu, period=10.0)
    t2 = timing(piped, osu, clocked=True)
    assert t2.in2out_ns is None and t2.reg2reg_ns > 0 and t2.in2reg_ns > 0
    assert t2.loop_ns is None  # load-enabled registers are no accumulator loop


@needs_flow
@pytest.mark.parametrize("fmt, freq", [("int8", 250), ("int8", 500), ("e4m3", 150), ("e4m3", 300)])
def test_frequency_directed_pipelining_meets_the_clock(osu, fmt, freq):
    impl = implement(build_unit("mac", F.get(fmt)), osu, freq)
    assert impl.timing.met and impl.timing.period_ns == pytest.approx(1000 / freq)
    comb = timing(_netlist(build_unit("mac", F.get(fmt)), osu, 1000 / freq), osu, clocked=False).in2out_ns
    per_stage = 1000 / freq - 0.3  # at least the flip-flop's clock-to-Q and setup come off the period
    assert impl.latency >= math.ceil(comb / per_stage)
    assert impl.latency <= 2 * math.ceil(comb / per_stage) + 1  # balanced cuts, not a register per gate
    assert f"_{freq}mhz_osu018" in impl.name


@needs_flow
def test_an_unreachable_clock_is_reported_with_its_bound(osu):
    impl = implement(build_unit("mac", F.get("e4m3")), osu, 5000)
    assert not impl.timing.met and "fmax at most" in impl.note


@needs_flow
def test_the_accumulation_loop_closes_in_one_cycle(osu):
    impl = implement(build_unit("acc_mac", F.get("e4m3")), osu, 500)
    assert impl.timing.met and impl.timing.loop_ns < 2.0
    assert impl.latency >= 3  # front and read-out pipelined around the loop


#: One unit per family, each pipelined for two clocks on OSU 0.18 um, simulated as mapped netlists.
PIPELINED = [("mac", "int8", {}), ("mac", "e4m3", {}), ("mac", "posit8", {}), ("mac", "lns8", {"lanes": 4}),
             ("dot", "nvfp4", {}), ("tensorcore", "e4m3", {"lanes": 4}), ("acc_mac", "int8", {})]


@needs_flow
@needs_verilator
@pytest.mark.sim
def test_pipelined_netlists_are_bit_exact_at_their_latency(osu):
    """Every family at two clocks: the mapped, pipelined netlist with the library's cell models, driven by its
    kind's stimulus, gives the golden outputs at the latency the planner chose."""
    rng = np.random.default_rng(5)
    jobs = []
    for kind, fmt, options in PIPELINED:
        for freq in (100, 400):
            unit = build_sample(kind, fmt, options)
            impl = implement(unit, osu, freq)
            inputs = get_kind(kind).stimulus(unit, rng, 300)
            rows = len(next(iter(inputs.values())))
            keep = np.arange(rows) if get_kind(kind).sequential else np.sort(rng.choice(rows, min(rows, 3000),
                                                                                       replace=False))
            inputs = {port: np.asarray(v)[keep[:20000]] for port, v in inputs.items()}
            jobs.append(Job(unit, inputs, copies=1, name=impl.name, verilog=impl.netlist.verilog,
                            latency=impl.latency, support=cell_models(osu)))
    from hw.sim import verify

    results = verify(jobs, name="pipelined")
    assert [r.latency for r in results] == [j.latency for j in jobs]
    assert len({j.latency for j in jobs[:2]}) == 2  # two clocks, two latencies


def _stream_bit_changes(values: np.ndarray, width: int) -> int:
    """Number of bit transitions between consecutive codes of a stream, starting from all zeros."""
    codes = np.concatenate([np.zeros(1, dtype=np.uint64), np.asarray(values, dtype=np.uint64).ravel()])
    flips = codes[1:] ^ codes[:-1]
    return int(sum(bin(int(v)).count("1") for v in flips))


@needs_flow
@needs_verilator
def test_toggle_counts_match_the_streams_at_the_ports(osu):
    """Verilator's per-net toggle counts at the ports equal the bit flips of the driven streams; at the outputs
    they are at least the flips of the expected stream, plus a few transients of Verilator's evaluation order."""
    unit = build_unit("mul", F.get("int8"))
    netlist = _netlist(unit, osu)
    rng = np.random.default_rng(3)
    a = rng.integers(0, 256, 500, dtype=np.uint64)
    b = rng.integers(0, 256, 500, dtype=np.uint64)
    product = golden.mul(F.get("int8"), a, b)
    result = simulate_many([Job(unit, {"a": a, "b": b}, copies=1, verilog=netlist.verilog, support=cell_models(osu))],
                           name="toggle-test", toggles=True)[0]
    assert np.array_equal(result.outputs["product"], product)
    counted = read_toggles(str(result.coverage))
    assert list(counted) == ["harness.g0_copy[0].u"]  # no coverage inside the cells' models or the wrapper
    toggles = counted["harness.g0_copy[0].u"]
    port = lambda name, width: sum(toggles[name, i] for i in range(width))
    assert port("a", 8) == _stream_bit_changes(a, 8)
    assert port("b", 8) == _stream_bit_changes(b, 8)
    flips = _stream_bit_changes(product, 16)
    assert flips <= port("product", 16) <= 1.05 * flips


@needs_flow
@needs_verilator
def test_energy_follows_switching_activity_and_the_library(osu):
    """A stream that repeats one operand pair switches almost nothing; random operands switch a lot;
    registers pay the library's clock-pin energy every cycle; leakage grows with the period."""
    fmt = F.get("e4m3")
    quiet_unit, busy_unit, piped_unit = (build_unit("mul", fmt, stages=s) for s in (0, 0, 1))
    rng = np.random.default_rng(5)
    busy = get_kind("mul").workload(busy_unit, 1000, rng)
    same = {"a": np.full(1000, busy.inputs["a"][0, 0]), "b": np.full(1000, busy.inputs["b"][0, 0])}
    quiet = Workload(same, {"product": golden.mul(fmt, same["a"], same["b"])}, 1)
    prepared = []
    for unit, work in ((quiet_unit, quiet), (busy_unit, busy), (piped_unit, busy)):
        impl = implement(unit, osu, 100) if unit.stages else None
        if impl is None:
            netlist = _netlist(unit, osu, 10.0)
            impl = Implementation(default_name(unit), osu.name, 100, 0, netlist, timing(netlist, osu, False))
        prepared.append(Prepared(impl.name, {"unit": impl.name}, impl, work, math.nan, 0.0))
    # One harness per use of a module: Verilator counts a module's toggles over all its instances.
    rows = measure([quiet_unit], prepared[:1], osu, name="energy-quiet") + measure(
        [busy_unit, piped_unit], prepared[1:], osu, name="energy-busy")
    assert not [row for row in rows if "error" in row], rows
    quiet_row, busy_row, piped_row = rows
    assert quiet_row["switching_pj_per_op"] < 0.01 * busy_row["switching_pj_per_op"]
    assert busy_row["clock_pj_per_op"] == 0 and busy_row["internal_pj_per_op"] > 0
    flop = osu.flop
    clk = flop.pins[flop.flop.clock]
    per_flop = 2 * flop.power[(clk.name, "")].mean(osu.slew_ns, 0.0) + clk.cap_ff * osu.voltage ** 2 / 1000
    cycles = piped_row["vectors"] + piped_row["latency"]
    expected = piped_row["flops"] * per_flop * cycles / piped_row["vectors"]
    assert piped_row["clock_pj_per_op"] == pytest.approx(expected, rel=1e-3)


@needs_flow
def test_net_loads_count_every_pin_and_the_wire(osu):
    netlist = _netlist(build_unit("mul", F.get("int4")), osu)
    module = netlist.module
    loads = net_loads(module, osu)
    sinks = {}
    for cell in module["cells"].values():
        for port, bits in cell["connections"].items():
            if cell["port_directions"][port] == "input":
                for bit in bits:
                    sinks.setdefault(bit, []).append((cell["type"], port))
    bit = max(sinks, key=lambda b: len(sinks[b]))  # the net with the largest fanout
    expected = sum(osu.cells[c].pins[p].cap_ff for c, p in sinks[bit]) + osu.wire_cap_ff(len(sinks[bit]))
    assert loads[bit].cap_ff == pytest.approx(expected)
    nothing = energy(module, osu, {}, 10, 5.0)
    assert nothing.switching_pj == nothing.internal_pj == nothing.clock_pj == 0 and nothing.covered == 0
    assert nothing.leakage_pj == pytest.approx(sum(osu.cells[c["type"]].leakage_nw for c in module["cells"].values())
                                               * 10 * 5.0 * 1e-6)


@needs_flow
@needs_verilator
def test_cost_of_one_mac_at_a_clock(osu):
    row = cost(build_unit("mac", F.get("int8")), "osu018", 200)
    assert row["met"] and row["latency"] >= 1 and row["freq_mhz"] == 200 and row["tech"] == "osu018"
    parts = sum(row[k] for k in ("switching_pj_per_op", "internal_pj_per_op", "clock_pj_per_op", "leakage_pj_per_op"))
    assert row["energy_per_op_pj"] == pytest.approx(parts, rel=1e-3)
    assert row["reg_area_um2"] > 0 and row["area_um2"] == pytest.approx(row["comb_area_um2"] + row["reg_area_um2"])


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
    # The accumulating MAC rounds once per dot product: never worse than rounding every step.
    assert quality(build_unit("acc_mac", F.get("e4m3"))) <= err["e4m3"]


@needs_flow
def test_cost_key_changes_with_the_technology_and_the_clock(osu):
    key = cost_key("module m; endmodule", osu, 200, 64, 1)
    assert cost_key("module m; endmodule", osu, 200, 64, 1) == key
    assert cost_key("module m; endmodule", osu, 250, 64, 1) != key
    other = technology.Technology(osu.name, osu.files, "0" * 16, osu.voltage, osu.cells, osu.wire_load, osu.slew_ns,
                                  osu.inverter)
    assert cost_key("module m; endmodule", other, 200, 64, 1) != key


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


@pytest.mark.skipif(not (yosys_available() and HAVE_OSU), reason="needs pyosys and OSU 0.18")
def test_a_synthesis_past_its_budget_is_redone_with_the_fast_script(monkeypatch, tmp_path):
    """The full ABC script is stopped at the budget; the fast one finishes and the netlist says so."""
    from hw.models import synth

    real = synth._synthesize
    calls = []

    def slow_full(verilog, top, tech, period_ns, retime, budget_s, fast):
        calls.append(fast)
        return real(verilog, top, tech, period_ns, retime, budget_s if fast else 0.05, fast)

    monkeypatch.setattr(synth, "_synthesize", slow_full)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    unit = build_unit("mac", F.get("e4m3"))
    netlist = synth.synthesize(to_verilog(unit), unit.default_name, technology.get("osu018"), 5.0, budget_s=300)
    assert calls == [False, True]
    assert netlist.area_um2 > 0 and "fast ABC script" in netlist.note
    assert not list(tmp_path.glob("hw-synth-*"))  # the stopped run's folder is gone too


def test_node_scaling_reproduces_the_published_example():
    """Stillmaker and Baas's corrigendum: 1 pJ/op at 65 nm, 1.3 V is 0.4571 / 2.604 x that at HP 32 nm, 0.9 V."""
    from hw.models import node_scaling

    assert node_scaling.energy_factor("HP32", 0.9) == pytest.approx(0.4571, abs=5e-5)
    assert node_scaling.energy_factor("65", 1.3) == pytest.approx(2.604, abs=5e-4)
    assert node_scaling.scale_energy(1.0, "65", 1.3, "HP32", 0.9) == pytest.approx(0.1755, abs=1e-4)
    assert node_scaling.area_at_45(19.0, "180") == 1.0 and node_scaling.area_at_45(0.059, "HP7") == 1.0
    with pytest.raises(ValueError, match="no scaling coefficients for node '22'"):
        node_scaling.energy_factor("22", 0.8)


@pytest.mark.skipif(not HAVE_OSU, reason="needs the OSU 0.18 um library (make sysdeps)")
def test_calibration_restates_ours_at_45nm_through_the_node_scaling(osu):
    """Horowitz rows: our energy times F_45(0.9 V) / F_180(1.8 V), our area / 19; comparison rows: ratios."""
    from hw.models import calibrate, node_scaling

    names = {calibrate.anchor_spec(args)["unit"] for _, args, _, _ in calibrate.HOROWITZ}
    names |= {calibrate.anchor_spec(c[i])["unit"] for c in calibrate.COMPARISONS for i in (1, 2)}
    names |= {calibrate.anchor_spec(m[1])["unit"] for m in calibrate.MX_DOT}
    rows = {name: {"unit": name, "freq_mhz": 200.0, "energy_per_op_pj": 10.0, "area_um2": 1900.0,
                   "area_per_op_um2": 1900.0} for name in names}
    horowitz, comparisons = calibrate.calibration_table(rows, "osu018")
    factor = node_scaling.energy_factor("HP45", 0.9) / node_scaling.energy_factor("180", osu.voltage)
    assert horowitz[0]["ours_pj_45nm"] == round(10.0 * factor, 4) and horowitz[0]["ours_um2_45nm"] == 100.0
    assert horowitz[0]["energy_ratio"] == round(10.0 * factor / 0.03, 2)
    assert all(row["energy_ratio"] == 1.0 and row["tech"] == "osu018" for row in comparisons if row["area_ratio"] != "")
    mx = [row for row in comparisons if row["area_ratio"] == ""][0]  # MXDOTP: ours at 14 nm, 0.8 V vs 5.6 pJ
    ours = node_scaling.scale_energy(10.0, "180", osu.voltage, "HP14", 0.8)
    assert mx["energy_ratio"] == round(ours / (2 / 0.356), 3)
    with pytest.raises(ValueError, match="no node known for library 'mylib'"):
        calibrate.calibration_table(rows, "mylib")
