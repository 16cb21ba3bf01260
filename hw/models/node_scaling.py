"""Energy and area between CMOS nodes: Stillmaker and Baas's published scaling equations.

A. Stillmaker and B. Baas, "Scaling equations for the accurate prediction of
CMOS device performance from 180 nm to 7 nm", Integration, the VLSI Journal
58:74-81, 2017 (and its corrigendum).  Their fits of HSpice simulations (PTM
and ITRS device models) give, per node, an energy factor that is a quadratic
in the supply voltage, ``a V**2 + b V + c``, and an area factor per pair of
nodes.  An energy ``E`` at node ``x``, voltage ``Vx`` becomes
``E * F_y(Vy) / F_x(Vx)`` at node ``y``; an area ``A`` becomes ``A / AREA_TO_45[x]``
at 45 nm.  The coefficients below are the paper's (Table 5 for energy; the
corrigendum's worked example, HP 32 nm at 0.9 V -> 0.4571 and 65 nm at 1.3 V
-> 2.604, is a test); ``HP`` marks the high-performance device models the
paper fits below 65 nm.

The cell libraries' nodes (:data:`LIBRARY_NODES`): OSU 0.18 um -> 180 nm,
SkyWater 130 nm -> 130 nm, ASAP7 -> HP 7 nm, each at its Liberty's nominal
voltage.  sky130's 1.8 V lies above the voltages the paper fitted at 130 nm
(a PTM device at 1.3 V nominal), so its factor is an extrapolation.
"""

from __future__ import annotations

__all__ = ["ENERGY_COEFFICIENTS", "AREA_TO_45", "LIBRARY_NODES", "energy_factor", "scale_energy", "area_at_45"]

#: (a, b, c) of the energy factor ``a V**2 + b V + c`` per node (Stillmaker and Baas 2017, Table 5).
ENERGY_COEFFICIENTS = {
    "180": (24.64, -17.98, 0.0),
    "130": (7.171, -6.709, 2.904),
    "90": (4.762, -4.781, 2.092),
    "65": (3.755, -4.398, 1.975),
    "HP45": (1.018, -0.3107, 0.1539),
    "HP32": (0.8367, -0.4341, 0.1701),
    "HP14": (0.2363, -0.09675, 0.02239),
    "HP7": (0.1776, -0.09097, 0.02447),
}

#: Area at a node divided by the same design's area at 45 nm (the paper's area table, row 45 nm).
AREA_TO_45 = {"180": 19.0, "130": 6.4, "90": 2.8, "65": 1.5, "HP45": 1.0, "HP32": 0.46, "HP14": 0.17, "HP7": 0.059}

#: The node of each named cell library of :mod:`hw.models.technology`.
LIBRARY_NODES = {"osu018": "180", "sky130hd": "130", "asap7": "HP7"}


def energy_factor(node: str, volts: float) -> float:
    """The paper's energy factor of ``node`` at ``volts``."""
    if node not in ENERGY_COEFFICIENTS:
        raise ValueError(f"no scaling coefficients for node {node!r}; valid: {', '.join(ENERGY_COEFFICIENTS)}")
    a, b, c = ENERGY_COEFFICIENTS[node]
    return a * volts ** 2 + b * volts + c


def scale_energy(energy: float, node: str, volts: float, to_node: str, to_volts: float) -> float:
    """``energy`` at (``node``, ``volts``) restated at (``to_node``, ``to_volts``)."""
    return energy * energy_factor(to_node, to_volts) / energy_factor(node, volts)


def area_at_45(area: float, node: str) -> float:
    """``area`` at ``node`` restated at 45 nm."""
    if node not in AREA_TO_45:
        raise ValueError(f"no area scaling for node {node!r}; valid: {', '.join(AREA_TO_45)}")
    return area / AREA_TO_45[node]
