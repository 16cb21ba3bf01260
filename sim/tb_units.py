"""cocotb testbench: push vector sets through a harness of units, compare bit for bit.

The vectors, golden outputs and harness layout come from the file named by
``HW_VECTORS`` (written by :mod:`sim.run`); a JSON summary goes to ``HW_RESULTS``.
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


def _ints_to_bits(values: list[int], nbits: int) -> np.ndarray:
    nbytes = (nbits + 7) // 8
    raw = np.frombuffer(b"".join(v.to_bytes(nbytes, "little") for v in values), dtype=np.uint8)
    return np.unpackbits(raw.reshape(len(values), nbytes), axis=1, bitorder="little")[:, :nbits]


class _Feed:
    def __init__(self, dut, k: int, meta: dict, data):
        self.meta, self.k = meta, k
        self.n = meta["vectors"]
        self.copies = meta["copies"]
        self.cycles = -(-self.n // self.copies)
        pad = self.cycles * self.copies - self.n
        self.bits = {}
        for kind in ("inputs", "outputs"):
            for p in meta[kind]:
                stored = data[f"g{k}_{kind}_{p['port']}"]
                self.bits[kind, p["port"]] = _to_bits(stored, p["width"]).reshape(self.n, -1)
        self.inputs = []
        for p in meta["inputs"]:
            bits = self.bits["inputs", p["port"]]
            bits = np.concatenate([bits, np.zeros((pad, bits.shape[1]), dtype=np.uint8)])
            self.inputs.append((getattr(dut, f"g{k}_{p['port']}"), _rows_to_ints(bits.reshape(self.cycles, -1))))
        self.expected = np.concatenate([self.bits["outputs", p["port"]] for p in meta["outputs"]], axis=1)
        self.out_width = self.expected.shape[1]
        self.valid_in = getattr(dut, f"g{k}_valid_in")
        self.valid_out = getattr(dut, f"g{k}_valid_out")
        self.out = getattr(dut, f"g{k}_out")
        self.collected: list[int] = []

    def drive(self, cycle: int):
        if cycle < self.cycles:
            for port, values in self.inputs:
                port.value = values[cycle]
            self.valid_in.value = 1
        elif cycle == self.cycles:
            self.valid_in.value = 0

    def sample(self):
        if int(self.valid_out.value) == 1:
            self.collected.append(self.out.value.to_unsigned())

    def summary(self) -> dict:
        result = {"name": self.meta["name"], "vectors": self.n, "received": len(self.collected) * self.copies}
        if len(self.collected) != self.cycles:
            result["mismatches"] = self.n
            return result
        got = _ints_to_bits(self.collected, self.out_width * self.copies).reshape(-1, self.out_width)[:self.n]
        result["received"] = int(len(got))
        bad = np.flatnonzero((got != self.expected).any(axis=1))
        result["mismatches"] = int(len(bad))
        if len(bad):
            i = int(bad[0])
            row = lambda bits: hex(_rows_to_ints(bits[i:i + 1])[0])
            result["first"] = {"index": i, **{p["port"]: row(self.bits["inputs", p["port"]]) for p in self.meta["inputs"]},
                               "got": row(got), "expected": row(self.expected)}
        return result


@cocotb.test()
async def vectors_match_golden(dut):
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

    total = max(f.cycles for f in feeds) + max(m["latency"] for m in metas) + 1
    for cycle in range(total):
        await RisingEdge(dut.clk)
        for f in feeds:
            f.drive(cycle)
        await ReadOnly()
        for f in feeds:
            f.sample()

    results = [f.summary() for f in feeds]
    with open(os.environ["HW_RESULTS"], "w") as fh:
        json.dump(results, fh, indent=1)
    failed = [r for r in results if r["mismatches"]]
    assert not failed, f"mismatches against the golden model: {failed}"
