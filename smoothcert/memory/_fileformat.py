"""The memory file format: an uncompressed ``.npz`` archive of the entry columns and a JSON header.

See :meth:`CertificateMemory.save <smoothcert.CertificateMemory.save>` for the layout. Reading
checks every array, not only the zip checksums: a region larger than its certified one, or a
circumscribed radius too small for the pre-filter, would make later answers unsound.
"""

import json
import math
import os
from contextlib import contextmanager

import numpy as np

from .._io import atomic_write
from ._store import ABSTAIN_CODE, ENTRY_ARRAYS, Entries, RegionStore, label_key

#: Version of the file format written by :meth:`CertificateMemory.save`.
FORMAT_VERSION = 1
_FORMAT_NAME = "smoothcert.CertificateMemory"
_ARRAYS = (*ENTRY_ARRAYS, "centers", "scales")  # the per-entry arrays of a memory file
_JSON_LABELS = (str, int, float, bool)  # labels a memory file holds (JSON scalars)
# dtype kinds of the arrays of a memory file ("f": float32 or float64)
_FILE_KINDS = {
    "centers": "f", "scales": "f", "code": "iu", "class_index": "iu", "rmin": "f", "rmax": "f", "gap": "f",
    "aniso": "b", "source": "iu", "alpha": "f",
}
# Relative rounding allowed when checking a loaded region's radii against its axes.
_GEOMETRY_RTOL = 1e-12


def write_memory(path, store, params):
    """Write ``store`` and the memory's ``params`` to ``path`` atomically.

    Raises ``ValueError`` if a label is not a JSON scalar (the file could not hold it).
    """
    unsaveable = [label for label in store.labels if not isinstance(label, _JSON_LABELS)]
    if unsaveable:
        raise ValueError(
            f"cannot save {path!r}: labels must be ints, floats, strings or bools, got {unsaveable[0]!r}."
        )
    header = {
        "format": _FORMAT_NAME,
        "version": FORMAT_VERSION,
        "params": {k: label_key(v) for k, v in params.items()},
        "norm": store.norm,
        "input_shape": list(store.input_shape),
        "n_entries": len(store),
        "labels": store.labels,
    }
    arrays = store.entries.columns()
    arrays["header"] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    atomic_write(path, lambda f: np.savez(f, **arrays))


@contextmanager
def reading_memory(path, param_names):
    """Open the memory file at ``path``: yields its checked ``(header, arrays)``.

    A ``ValueError`` or ``TypeError`` while reading or inside the block (a damaged file, an
    invalid entry or parameter) is raised as a ``ValueError`` naming the file. A missing file
    raises ``FileNotFoundError``; other errors opening it (a folder, permissions) are not damage
    and are raised as they are.
    """
    if not os.path.exists(path):
        raise FileNotFoundError(f"No CertificateMemory file at {path!r}.")
    with open(path, "rb") as f:
        try:
            header, arrays = _read_archive(f)
            _check_header(header, param_names)
            yield header, arrays
        except (ValueError, TypeError) as exc:
            raise ValueError(f"Cannot load a CertificateMemory from {path!r}: {exc}.") from exc


def store_from_file(header, arrays):
    """The :class:`RegionStore` of a file (its checked header and arrays), after checking the arrays."""
    shape = tuple(header["input_shape"])
    _check_columns(arrays, header["n_entries"], math.prod(shape), len(header["labels"]))
    return RegionStore(header["norm"], shape, Entries.from_columns(arrays), header["labels"])


def _read_archive(file):
    """``(header, arrays)`` of a memory file; a damaged file raises ``ValueError``."""
    try:
        data = np.load(file, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ValueError("not an .npz archive")
        with data:
            missing = [name for name in ("header", *_ARRAYS) if name not in data.files]
            if missing:
                raise ValueError(f"not a CertificateMemory file (no {missing} arrays)")
            raw = data["header"]
            arrays = {name: data[name] for name in _ARRAYS}
    except ValueError:
        raise
    except Exception as exc:
        # Damaged bytes make the zip and npy readers raise almost anything (BadZipFile, zlib.error,
        # NotImplementedError, RuntimeError, EOFError, KeyError, struct.error, ...): all mean damage.
        raise ValueError(f"damaged archive ({type(exc).__name__}: {exc})") from exc
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise ValueError("the header must be UTF-8 JSON bytes (a 1-D uint8 array)")
    return json.loads(raw.tobytes().decode("utf-8")), arrays


def _check_header(header, param_names):
    """Validate the JSON header of a memory file (raise ``ValueError`` naming the bad field)."""
    if not isinstance(header, dict) or header.get("format") != _FORMAT_NAME:
        raise ValueError("not a CertificateMemory file (missing or wrong 'format' in the header)")
    version = header.get("version")
    if isinstance(version, bool) or version != FORMAT_VERSION:
        raise ValueError(
            f"format version {version!r} is not supported (this smoothcert reads version {FORMAT_VERSION})"
        )
    params = header.get("params")
    if not isinstance(params, dict) or not set(params) <= set(param_names):
        raise ValueError(f"header 'params' must be a dict of the parameters {sorted(param_names)}, got {params!r}")
    if header.get("norm") not in ("l2", "l1"):
        raise ValueError(f"header 'norm' must be 'l2' or 'l1', got {header.get('norm')!r}")
    shape = header.get("input_shape")
    if not (isinstance(shape, list) and shape and all(_is_int(s) and s >= 1 for s in shape)):
        raise ValueError(f"header 'input_shape' must be a non-empty list of ints >= 1, got {shape!r}")
    n = header.get("n_entries")
    if not (_is_int(n) and n >= 0):
        raise ValueError(f"header 'n_entries' must be an int >= 0, got {n!r}")
    labels = header.get("labels")
    if not (isinstance(labels, list) and all(isinstance(label, _JSON_LABELS) for label in labels)):
        raise ValueError(f"header 'labels' must be a list of ints, floats, strings or bools, got {labels!r}")
    if len(set(labels)) != len(labels):  # 1 and True are the same key too
        raise ValueError(f"header 'labels' must be distinct, got {labels!r}")


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _require(valid, name, what):
    """Raise ``ValueError`` naming ``name`` and the first entry where ``valid`` is False."""
    bad = np.flatnonzero(~valid)
    if bad.size:
        raise ValueError(f"{name} must be {what}, but entry {int(bad[0])} is not")


def _check_columns(arrays, n, d, n_labels):
    """Check every invariant of a file's arrays that the resolver relies on (``ValueError`` names
    the field)."""
    for name, kinds in _FILE_KINDS.items():
        dtype = arrays[name].dtype
        if dtype.kind not in kinds or (kinds == "f" and dtype not in (np.float32, np.float64)):
            expected = "float32 or float64" if kinds == "f" else {"iu": "integers", "b": "bool"}[kinds]
            raise ValueError(f"{name} must hold {expected}, got dtype {dtype}")
    centers, scales, aniso = arrays["centers"], arrays["scales"], arrays["aniso"]
    if centers.shape != (n, d):
        raise ValueError(f"centers must have shape ({n}, {d}) (the header's entries and input size), got {centers.shape}")
    for name in ENTRY_ARRAYS:
        if arrays[name].shape != (n,):
            raise ValueError(f"{name} must have shape ({n},) (one value per entry), got {arrays[name].shape}")
    positions = np.flatnonzero(aniso)
    if scales.shape != (positions.size, d):
        raise ValueError(f"scales must have shape ({positions.size}, {d}) (one row per anisotropic entry), got {scales.shape}")
    code, source = arrays["code"], arrays["source"]
    rmin, rmax, gap, alpha = (arrays[name].astype(np.float64) for name in ("rmin", "rmax", "gap", "alpha"))
    abstained = code == ABSTAIN_CODE
    _require(np.isfinite(centers).all(axis=1), "centers", "finite")
    _require((code >= ABSTAIN_CODE) & (code < n_labels), "code", f"a label code in [-1, {n_labels})")
    _require(np.isfinite(rmin) & (rmin >= 0), "rmin", "finite and >= 0")
    _require(np.isfinite(rmax) & (rmax >= rmin), "rmax", "finite and >= rmin")
    _require(aniso | (rmax == rmin), "rmax", "equal to rmin for balls and points")
    _require(~abstained | (rmax == 0), "rmax", "0 for stored abstentions (points)")
    _require(np.isfinite(gap) & (gap >= 0) & (~aniso | (gap > 0)), "gap", "finite, >= 0, and > 0 for anisotropic entries")
    _require(np.where(abstained, alpha == 0, (alpha > 0) & (alpha < 1)), "alpha", "in (0, 1) (0 for abstentions)")
    _require((source >= -1) & (source < np.arange(n)), "source", "-1 or an earlier entry")
    if positions.size:
        flat = scales.astype(np.float64)
        valid, inscribed, circumscribed = np.ones(n, bool), np.zeros(n), np.zeros(n)
        valid[positions] = (np.isfinite(flat) & (flat > 0)).all(axis=1)
        _require(valid, "scales", "finite and > 0")
        inscribed[positions] = gap[positions] * flat.min(axis=1)
        circumscribed[positions] = gap[positions] * flat.max(axis=1)
        _require(~aniso | ((rmin > 0) & (rmin <= inscribed * (1 + _GEOMETRY_RTOL))), "rmin",
                 "in (0, gap * min(scales)] for anisotropic entries")
        _require(~aniso | (rmax >= circumscribed * (1 - _GEOMETRY_RTOL)), "rmax",
                 ">= gap * max(scales) for anisotropic entries")
