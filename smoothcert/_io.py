"""File paths and atomic file writes: a crash mid-write leaves the previous file intact."""

import os
import re
import socket
import tempfile
import zlib

# Temporary files are named ".tmp-<host>-<pid>-<random>-<name>", so that those of killed writers can
# be found: the host tag keeps a writer on another machine sharing the folder (whose pid means
# nothing here) from ever being cleaned up.
_HOST = f"{zlib.crc32(socket.gethostname().encode()):08x}"


def check_path(path, name="path"):
    """A non-empty ``str`` or path-like object as ``str``; ``TypeError`` or ``ValueError`` naming ``name``."""
    if not isinstance(path, (str, bytes, os.PathLike)):
        # An int would silently be taken as a file descriptor by open().
        raise TypeError(f"{name} must be a str or os.PathLike file path, got {type(path).__name__} {path!r}.")
    path = os.fsdecode(os.fspath(path))
    if not path:
        raise ValueError(f"{name} must be a non-empty file path.")
    return path


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        pass
    return True


def _remove_stale_temporaries(folder, basename):
    """Delete the temporary files of earlier writes to ``basename`` whose writer was killed.

    Only files of this host whose pid no longer runs are removed, never a live writer's (a reused
    pid only keeps a stale file longer). POSIX only: on Windows ``os.kill`` would terminate the
    process instead of probing it.
    """
    if os.name != "posix":
        return
    # tempfile's random part is letters, digits and "_": never a "-", so no other name matches.
    pattern = re.compile(rf"\.tmp-{_HOST}-(\d+)-[a-z0-9_]+-{re.escape(basename)}")
    with os.scandir(folder) as listing:
        names = [entry.name for entry in listing]
    for name in names:
        match = pattern.fullmatch(name)
        if match is None:
            continue
        pid = int(match.group(1))
        if pid != os.getpid() and not _pid_alive(pid):
            try:
                os.unlink(os.path.join(folder, name))
            except FileNotFoundError:  # another writer cleaned it first
                pass


def _new_file_mode():
    """The mode ``open()`` gives a new file: 0o666 under the umask (``mkstemp`` makes it 0o600).

    The umask can only be read by setting it; 0o077 in the meantime errs on the private side for
    a file that another thread creates at that instant.
    """
    umask = os.umask(0o077)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write(path, write, *, binary=True):
    """Call ``write(file)`` on a temporary file in ``path``'s folder, then ``os.replace`` it.

    The temporary file is made by :func:`tempfile.mkstemp` next to ``path`` (``os.replace`` is
    atomic within one file system), named after the writing process; temporary files that killed
    writers left for the same ``path`` are removed first, so they do not accumulate. The file gets
    the mode ``open()`` would give it.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; replaced only once the new content is fully written and synced.
    write : callable
        Receives the open temporary file.
    binary : bool, default=True
        Open the temporary file in binary (``"wb"``) or UTF-8 text (``"w"``, ``newline=""``) mode.
    """
    path = check_path(path)
    folder = os.path.dirname(os.path.abspath(path))
    basename = os.path.basename(path)
    _remove_stale_temporaries(folder, basename)
    handle, tmp = tempfile.mkstemp(prefix=f".tmp-{_HOST}-{os.getpid()}-", suffix=f"-{basename}", dir=folder)
    try:
        with os.fdopen(handle, "wb") if binary else os.fdopen(handle, "w", encoding="utf-8", newline="") as f:
            os.chmod(tmp, _new_file_mode())
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
