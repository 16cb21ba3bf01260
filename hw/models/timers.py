"""Seconds spent in each tool of the flow (yosys, OpenSTA), summed per process.

A sweep worker implements one unit at a time, so the difference of
:data:`SECONDS` before and after a unit is that unit's time in each tool
(:func:`hw.models.cost.prepare` records it in the unit's row).
"""

from __future__ import annotations

import time
from collections import Counter
from contextlib import contextmanager

__all__ = ["SECONDS", "timed"]

SECONDS: Counter = Counter()


@contextmanager
def timed(tool: str):
    """Add the seconds the block takes to ``SECONDS[tool]``."""
    start = time.perf_counter()
    try:
        yield
    finally:
        SECONDS[tool] += time.perf_counter() - start
