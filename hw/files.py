"""Writing outputs so that a failed or interrupted run never leaves a half-written file.

Outputs are written through a temporary file in the same folder and a rename,
with the mode a plain ``open`` would give (0666 less the user's umask).
:func:`output_file` and :func:`output_dir` check an output path before a
command starts its work: ValueError of one line naming the flag and what is wrong.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["write_atomic", "save_figure", "output_file", "output_dir"]


def _umask_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def output_file(path, flag: str) -> Path:
    """``path`` checked as a file to write: not empty, not a folder, in an existing writable folder."""
    if path is None or str(path).strip() == "":
        raise ValueError(f"{flag} needs a file name, not an empty path")
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{flag} {path}: is a folder; give a file name")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ValueError(f"{flag} {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ValueError(f"{flag} {path}: not writable")
    return path


def output_dir(path, flag: str) -> Path:
    """``path`` checked as a folder to write into (made later, by the writer): not empty, not a file, writable."""
    if path is None or str(path).strip() == "":
        raise ValueError(f"{flag} needs a folder, not an empty path")
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{flag} {path}: is a file; give a folder")
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"{flag} {path}: {existing} is a file, so the folder cannot be made")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"{flag} {path}: {existing} is not writable")
    return path


def write_atomic(path: str, text: str):
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".hw-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.chmod(tmp, _umask_mode())
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
        os.chmod(tmp, _umask_mode())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
