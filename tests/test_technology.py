"""Technologies read from Liberty: units, cells, tables, the usable-cell rule, the merged library."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from hw.models import technology
from hw.models.technology import TechnologyError, truth_table

HAVE = {name: all(f.exists() for f in files) for name, (files, _) in technology.NAMED.items()}


@pytest.mark.skipif(not HAVE["osu018"], reason="qflow-tech-osu018 not installed (make sysdeps)")
def test_osu018_units_cells_and_tables():
    tech = technology.get("osu018")
    assert tech.voltage == 1.8 and tech.wire_load is None  # OSU's library has no wire-load model
    inv = tech.cells[tech.inverter]
    assert inv.name == "INVX1" and inv.area_um2 == 16.0
    assert inv.pins["A"].cap_ff == pytest.approx(9.32456)  # 0.00932456 pF in the file
    # Internal energy of INVX1 at 0.06 ns input slew and 5 fF load: the table's first entry, in pJ.
    assert inv.power[("Y", "A")].mean(0.06, 5.0) > 0
    assert 0.05 < tech.slew_ns < 0.5 and 0 < inv.delay[("Y", "A")].worst(tech.slew_ns, 20.0) < 0.5
    flop = tech.flop
    assert flop.name == "DFFPOSX1" and flop.flop.d == "D" and not flop.flop.inverted and flop.flop.setup_ns > 0
    assert not tech.cells["LATCH"].usable
    # Fallback wire: 0.2 fF/um x 4 cell pitches per driven pin.
    assert tech.wire_cap_ff(2) == pytest.approx(2 * 0.2 * 4 * np.sqrt(inv.area_um2))
    assert tech.gate((0, 0, 0, 1))[0].startswith("AND2") and tech.gate((1, 0))[0] == "INVX1"
    text = tech.liberty().read_text()
    assert text.count("cell (") + text.count("cell(") == sum(c.usable for c in tech.cells.values())


@pytest.mark.skipif(not HAVE["sky130hd"], reason="../shared/reference/pdk is absent")
def test_sky130_keeps_only_cells_synthesis_may_use():
    tech = technology.get("sky130hd")
    assert tech.voltage == pytest.approx(1.8) and tech.wire_load is not None and tech.wire_load.name == "Small"
    unusable = {c.name: c.why_not for c in tech.cells.values() if not c.usable}
    assert unusable["sky130_fd_sc_hd__lpflow_inputiso0n_1"] == "is_isolation_cell"
    assert unusable["sky130_fd_sc_hd__lpflow_clkbufkapwr_1"] in ("always_on", "pg_pin KAPWR is backup_power")
    assert any("backup_power" in why for why in unusable.values())
    assert tech.cells["sky130_fd_sc_hd__fa_1"].usable and tech.flop.name == "sky130_fd_sc_hd__dfxtp_1"
    assert tech.flop_for(200.0).name != tech.flop.name  # a big load gets a stronger flip-flop


@pytest.mark.skipif(not HAVE["asap7"], reason="../shared/reference/pdk is absent")
def test_asap7_reads_five_files_as_one_library():
    tech = technology.get("asap7")
    assert len(tech.files) == 5 and tech.voltage == pytest.approx(0.7)
    assert any(c.sequential for c in tech.cells.values()) and any(n.startswith("AO") for n in tech.cells)
    assert 0.005 < tech.slew_ns < 0.1  # ps in the file, ns here


def test_liberty_errors_name_the_file(tmp_path):
    with pytest.raises(TechnologyError, match="unknown technology 'nope'"):
        technology.get("nope")
    bad = tmp_path / "bad.lib"
    bad.write_text("this is not liberty {")
    with pytest.raises(TechnologyError, match="bad.lib"):
        technology.get(str(bad))
    empty = tmp_path / "empty.lib.gz"
    empty.write_bytes(gzip.compress(b'library (x) { capacitive_load_unit (1, pf); nom_voltage : 1.0; }'))
    with pytest.raises(TechnologyError, match="no usable"):
        technology.get(str(empty))


def test_truth_tables_of_liberty_functions():
    assert truth_table("(A B)", ["A", "B"]) == (0, 0, 0, 1)
    assert truth_table("!(A+B)", ["A", "B"]) == (1, 0, 0, 0)
    assert truth_table("(A^B)'", ["A", "B"]) == (1, 0, 0, 1)
    assert truth_table("(!((A&B)|C))", ["A", "B", "C"]) == (1, 1, 1, 0, 0, 0, 0, 0)
    assert truth_table("A*!B + 1", ["A", "B"]) == (1, 1, 1, 1)
