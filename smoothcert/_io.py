"""Atomic file writes: a crash mid-write leaves the previous file intact."""

import os
import tempfile


def atomic_write(path, write, *, binary=True):
    """Call ``write(file)`` on a temporary file in ``path``'s folder, then ``os.replace`` it.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; replaced only once the new content is fully written and synced.
    write : callable
        Receives the open temporary file.
    binary : bool, default=True
        Open the temporary file in binary (``"wb"``) or text (``"w"``, newline="") mode.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    handle, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix="-" + os.path.basename(path))
    try:
        with os.fdopen(handle, "wb") if binary else os.fdopen(handle, "w", newline="") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
