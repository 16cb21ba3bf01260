"""cocotb testbench: push vector sets through a harness of units and record what comes out.

The vectors and harness layout come from the file named by ``HW_VECTORS``
(written by :mod:`hw.sim.run`); the outputs (packed bits, per cycle with
``valid_out`` high) and the latency seen go to ``HW_RESULTS`` (an ``.npz``).
Inputs change after each rising edge and outputs are sampled in the ReadOnly
phase whenever ``valid_out`` is high, so the same loop serves combinational
and pipelined units.  Codes travel as bit matrices, so any width works.
"""

from __future__ import annotations

import json
import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge


def _to_bits(stored: np.ndarray, width: int) -> np.ndarray:
    """(n, lanes, width) bit matrix, LSB first, of codes stored by ``sim.harness.store_codes``."""
    if stored.dtype == np.uint8 and stored.ndim == 3:
        return np.unpackbits(stored, axis=2, bitorder="little")[:, :, :width]
    return ((stored[:, :, None] >> np.arange(width, dtype=np.uint64)) & np.uint64(1)).astype(np.uint8)


def _rows_to_ints(bits: np.ndarray) -> list[int]:
    """One integer per row of a (rows, nbits) bit matrix."""
    packed = np.packbits(bits, axis=1, bitorder="little")
    return [int.from_bytes(row.tobytes(), "little") for row in packed]


class _Feed:
    def __init__(self, dut, k: int, meta: dict, data):
        self.n = meta["vectors"]
        self.copies = meta["copies"]
        self.cycles = -(-self.n // self.copies)
        pad = self.cycles * self.copies - self.n
        self.inputs = []
        for p in meta["inputs"]:
            bits = _to_bits(data[f"g{k}_inputs_{p['port']}"], p["width"]).reshape(self.n, -1)
            bits = np.concatenate([bits, np.zeros((pad, bits.shape[1]), dtype=np.uint8)])
            self.inputs.append((getattr(dut, f"g{k}_{p['port']}"), _rows_to_ints(bits.reshape(self.cycles, -1))))
        self.out_width = meta["out_width"]
        self.latency = None
        self.cycle = -1
        self.valid_in = getattr(dut, f"g{k}_valid_in")
        self.valid_out = getattr(dut, f"g{k}_valid_out")
        self.out = getattr(dut, f"g{k}_out")
        self.collected: list[int] = []

    def drive(self, cycle: int):
        self.cycle = cycle
        if cycle < self.cycles:
            for port, values in self.inputs:
                port.value = values[cycle]
            self.valid_in.value = 1
        elif cycle == self.cycles:
            self.valid_in.value = 0

    def sample(self):
        if int(self.valid_out.value) == 1:
            if self.latency is None:
                self.latency = self.cycle
            self.collected.append(self.out.value.to_unsigned())

    def packed(self) -> np.ndarray:
        """The collected outputs as little-endian bytes, one row per cycle."""
        nbytes = (self.out_width * self.copies + 7) // 8
        raw = b"".join(v.to_bytes(nbytes, "little") for v in self.collected)
        return np.frombuffer(raw, dtype=np.uint8).reshape(len(self.collected), nbytes)


@cocotb.test()
async def push_vectors(dut):
    data = np.load(os.environ["HW_VECTORS"])
    metas = json.loads(str(data["meta"]))
    feeds = [_Feed(dut, k, meta, data) for k, meta in enumerate(metas)]

    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    for f in feeds:
        f.valid_in.value = 0
    await RisingEdge(dut.clk)
    await RisingEdge(dut.clk)
    dut.rst.value = 0

    total = max(f.cycles for f in feeds) + max(m["max_latency"] for m in metas) + 1
    for cycle in range(total):
        await RisingEdge(dut.clk)
        for f in feeds:
            f.drive(cycle)
        await ReadOnly()
        for f in feeds:
            f.sample()

    arrays = {f"g{k}_out": f.packed() for k, f in enumerate(feeds)}
    arrays["latency"] = np.array([-1 if f.latency is None else f.latency for f in feeds])
    np.savez(os.environ["HW_RESULTS"], **arrays)
