"""Training data: byte tokens of the Python standard library's own sources (nothing is downloaded)."""

from __future__ import annotations

import sys
import sysconfig
import zlib
from pathlib import Path

import torch

__all__ = ["corpus", "windows"]


def corpus(max_bytes: int = 8 << 20) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """(train bytes, held-out bytes, description) from the standard library's ``.py`` files, sorted by path.

    Every 20th file (by position) is held out; reading stops once ``max_bytes`` are in and a file is held out.
    """
    root = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in root.rglob("*.py") if "site-packages" not in p.parts)
    train, held, total = [], [], 0
    for i, path in enumerate(files):
        data = path.read_bytes()
        (held if i % 20 == 19 else train).append(data)
        total += len(data)
        if total >= max_bytes and held:
            break
    blob_train, blob_held = b"".join(train), b"".join(held)
    info = {"source": str(root), "python": sys.version.split()[0], "files": i + 1,
            "train_bytes": len(blob_train), "heldout_bytes": len(blob_held),
            "crc32": zlib.crc32(blob_train + blob_held)}
    as_tensor = lambda blob: torch.frombuffer(bytearray(blob), dtype=torch.uint8).long()
    return as_tensor(blob_train), as_tensor(blob_held), info


def windows(data: torch.Tensor, count: int, seq: int, generator: torch.Generator) -> torch.Tensor:
    starts = torch.randint(0, len(data) - seq - 1, (count,), generator=generator)
    return torch.stack([data[s:s + seq + 1] for s in starts.tolist()])
