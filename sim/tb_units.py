"""cocotb testbench: push vector sets through a harness of units, compare bit for bit.

The vectors, golden outputs and harness layout come from the file named by
``HW_VECTORS`` (written by :mod:`sim.run`); a JSON summary goes to ``HW_RESULTS``.
Inputs change after each rising edge and outputs are sampled in the ReadOnly
phase whenever ``valid_out`` is high, so the same loop serves combinational
and pipelined units.
"""

from __future__ import annotations

import json
import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge


def _pack_rows(codes: np.ndarray, width: int) -> list[int]:
    """One integer per row of ``codes``, lane 0 in the LSBs."""
    rows, lanes = codes.shape
    bits = ((codes[:, :, None] >> np.arange(width, dtype=np.uint64)) & np.uint64(1)).astype(np.uint8)
    packed = np.packbits(bits.reshape(rows, lanes * width), axis=1, bitorder="little")
    return [int.from_bytes(row.tobytes(), "little") for row in packed]


def _unpack(values: list[int], width: int, lanes: int) -> np.ndarray:
    nbytes = (width * lanes + 7) // 8
    raw = np.frombuffer(b"".join(v.to_bytes(nbytes, "little") for v in values), dtype=np.uint8)
    bits = np.unpackbits(raw.reshape(len(values), nbytes), axis=1, bitorder="little")[:, :width * lanes]
    bits = bits.reshape(len(values) * lanes, width).astype(np.uint64)
    return (bits << np.arange(width, dtype=np.uint64)).sum(axis=1)


class _Feed:
    def __init__(self, dut, k: int, meta: dict, data):
        self.meta = meta
        self.n = meta["vectors"]
        copies = meta["copies"]
        self.copies = copies
        self.cycles = -(-self.n // copies)
        pad = self.cycles * copies - self.n

        def rows(name, width, lanes):
            arr = data[f"g{k}_{name}"].astype(np.uint64).reshape(self.n, lanes)
            arr = np.concatenate([arr, np.zeros((pad, lanes), dtype=np.uint64)])
            return _pack_rows(arr.reshape(self.cycles, copies * lanes), width)

        lanes, w = meta["lanes"], meta["op_width"]
        self.a = rows("a", w, lanes)
        self.b = rows("b", w, lanes)
        self.acc = rows("acc", meta["out_width"], 1) if meta["has_acc"] else None
        self.expected = data[f"g{k}_expected"].astype(np.uint64)
        self.port_a = getattr(dut, f"g{k}_a")
        self.port_b = getattr(dut, f"g{k}_b")
        self.port_acc = getattr(dut, f"g{k}_acc_in") if meta["has_acc"] else None
        self.valid_in = getattr(dut, f"g{k}_valid_in")
        self.valid_out = getattr(dut, f"g{k}_valid_out")
        self.out = getattr(dut, f"g{k}_out")
        self.collected: list[int] = []

    def drive(self, cycle: int):
        if cycle < self.cycles:
            self.port_a.value = self.a[cycle]
            self.port_b.value = self.b[cycle]
            if self.port_acc is not None:
                self.port_acc.value = self.acc[cycle]
            self.valid_in.value = 1
        elif cycle == self.cycles:
            self.valid_in.value = 0

    def sample(self):
        if int(self.valid_out.value) == 1:
            self.collected.append(self.out.value.to_unsigned())

    def summary(self, data, k: int) -> dict:
        got = _unpack(self.collected, self.meta["out_width"], self.copies)[:self.n] if self.collected else np.array([])
        result = {"name": self.meta["name"], "vectors": self.n, "received": int(len(got))}
        if len(got) != self.n:
            result["mismatches"] = self.n
            return result
        bad = np.flatnonzero(got != self.expected)
        result["mismatches"] = int(len(bad))
        if len(bad):
            i = int(bad[0])
            hexes = lambda arr: [hex(int(x)) for x in np.atleast_1d(arr)]
            result["first"] = {
                "index": i,
                "a": hexes(data[f"g{k}_a"].reshape(self.n, -1)[i]),
                "b": hexes(data[f"g{k}_b"].reshape(self.n, -1)[i]),
                "acc": hexes(data[f"g{k}_acc"][i]) if self.meta["has_acc"] else None,
                "got": hex(int(got[i])),
                "expected": hex(int(self.expected[i])),
            }
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

    results = [f.summary(data, k) for k, f in enumerate(feeds)]
    with open(os.environ["HW_RESULTS"], "w") as fh:
        json.dump(results, fh, indent=1)
    failed = [r for r in results if r["mismatches"]]
    assert not failed, f"mismatches against the golden model: {failed}"
