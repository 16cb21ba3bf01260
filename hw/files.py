"""Writing outputs so that a failed or interrupted run never leaves a half-written file."""

from __future__ import annotations

import os
import tempfile

__all__ = ["write_atomic", "save_figure"]


def write_atomic(path: str, text: str):
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".hw-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def save_figure(figure, path: str, **kwargs):
    """``figure.savefig`` through a temporary file in the same folder and a rename (format from ``path``)."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".hw-", suffix=os.path.splitext(path)[1])
    os.close(fd)
    try:
        figure.savefig(tmp, **kwargs)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
