"""Storage and spatial index of :class:`~smoothcert.CertificateMemory`'s regions."""

import numpy as np
from scipy.spatial import cKDTree

# Per-entry columns besides the centers and the per-dimension scales.
ENTRY_ARRAYS = ("code", "class_index", "rmin", "rmax", "gap", "aniso", "source", "alpha")
# Relative slack of the circumscribed-ball pre-filter (it must only ever keep too many candidates).
PREFILTER_SLACK = 1e-9
ABSTAIN_CODE = -1  # label code of stored abstentions
# dtype kinds of the arrays of a memory file ("f": float32 or float64)
_FILE_KINDS = {
    "centers": "f", "scales": "f", "code": "iu", "class_index": "iu", "rmin": "f", "rmax": "f", "gap": "f",
    "aniso": "b", "source": "iu", "alpha": "f",
}
# Relative rounding allowed when checking a loaded region's radii against its axes.
_GEOMETRY_RTOL = 1e-12


def storage_dtype(values):
    """float32 when every value is exactly a float32 (the estimator's inputs and scales), else float64."""
    values = np.asarray(values)
    if values.dtype == np.float32 or np.array_equal(values.astype(np.float32), values):
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def with_slack(values, slack):
    return values * (1.0 + slack) + 1e-300


class Entries:
    """Append-only columns of the stored regions, grown by doubling, truncatable (rollback)."""

    def __init__(self, d, center_dtype=np.float32, scale_dtype=np.float32):
        self.n = 0
        self.centers = np.empty((0, d), center_dtype)
        self.scales = None  # (capacity, d), allocated with the first anisotropic entry
        self.scale_dtype = np.dtype(scale_dtype)
        self.code = np.empty(0, np.int32)
        self.class_index = np.empty(0, np.int64)
        self.rmin = np.empty(0, np.float64)  # inscribed l_p radius (the ball radius of a ball)
        self.rmax = np.empty(0, np.float64)  # circumscribed l_p radius (0: a point)
        self.gap = np.empty(0, np.float64)  # anisotropic entries: region = gap * scales
        self.aniso = np.empty(0, bool)
        self.source = np.empty(0, np.int64)  # entry that decided this one, -1 if none
        self.alpha = np.empty(0, np.float64)

    def _resized(self, array, capacity):
        out = np.empty((capacity, *array.shape[1:]), array.dtype)
        out[: self.n] = array[: self.n]
        return out

    def reserve(self, extra):
        capacity = len(self.code)
        if self.n + extra <= capacity:
            return
        capacity = max(16, 2 * capacity, self.n + extra)
        self.centers = self._resized(self.centers, capacity)
        if self.scales is not None:
            self.scales = self._resized(self.scales, capacity)
        for name in ENTRY_ARRAYS:
            setattr(self, name, self._resized(getattr(self, name), capacity))

    def promote(self, center_dtype, scale_dtype):
        """Widen storage to float64 when new values are not exactly float32."""
        if np.dtype(center_dtype).itemsize > self.centers.dtype.itemsize:
            self.centers = self.centers.astype(center_dtype)
        if np.dtype(scale_dtype).itemsize > self.scale_dtype.itemsize:
            self.scale_dtype = np.dtype(scale_dtype)
            if self.scales is not None:
                self.scales = self.scales.astype(scale_dtype)

    def append(self, center, scale, **values):
        self.reserve(1)
        i = self.n
        self.centers[i] = center
        if scale is not None:
            if self.scales is None:
                self.scales = np.ones(self.centers.shape, self.scale_dtype)
            self.scales[i] = scale
        for name, value in values.items():
            getattr(self, name)[i] = value
        self.n += 1

    def __getstate__(self):
        # Pickles (and copies) hold the entries only, not the spare capacity.
        state = self.__dict__.copy()
        for name in ("centers", "scales", *ENTRY_ARRAYS):
            if state[name] is not None:
                state[name] = state[name][: self.n].copy()
        return state

    def axes(self, index):
        """Per-dimension axes (float64) of anisotropic entries ``index``."""
        return self.gap[index, None] * self.scales[index].astype(np.float64)


def _require(valid, name, what):
    """Raise ``ValueError`` naming ``name`` and the first entry where ``valid`` is False."""
    bad = np.flatnonzero(~valid)
    if bad.size:
        raise ValueError(f"{name} must be {what}, but entry {int(bad[0])} is not")


def entries_from_arrays(arrays, n, d, n_labels):
    """:class:`Entries` from the arrays of a memory file, after checking every invariant the resolver
    relies on (a stored region larger than its certified one, or a circumscribed radius too small for
    the pre-filter, would make later answers unsound); ``ValueError`` names the field."""
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
    entries = Entries(d, centers.dtype, scales.dtype)
    entries.reserve(n)
    entries.centers[:n] = centers
    for name in ENTRY_ARRAYS:
        getattr(entries, name)[:n] = arrays[name]
    if positions.size:
        entries.scales = np.ones(entries.centers.shape, scales.dtype)
        entries.scales[positions] = scales
    entries.n = n
    return entries


class TreeIndex:
    """k-d trees over consecutive blocks of entries ``[0, n)``, merged like a binary counter.

    The logarithmic method (Bentley and Saxe): a new block of entries gets its own tree; while the
    previous block is not larger than the last one, the two are merged (rebuilt as one). Every
    entry is rebuilt ``O(log n)`` times and a query visits ``O(log n)`` trees. Each tree is queried
    with radius ``reach + max R_j`` of its own block: circumscribed balls, so hits are a superset.
    """

    def __init__(self, norm):
        self.p = 2 if norm == "l2" else 1
        self.blocks = []  # (start, stop, tree, largest circumscribed radius)
        self.n = 0

    def _build(self, entries, start, stop):
        tree = cKDTree(entries.centers[start:stop].astype(np.float64))
        return start, stop, tree, float(entries.rmax[start:stop].max())

    def extend(self, entries, n):
        self.blocks.append(self._build(entries, self.n, n))
        self.n = n
        while len(self.blocks) >= 2 and self.blocks[-2][1] - self.blocks[-2][0] <= n - self.blocks[-1][0]:
            self.blocks.pop()
            start = self.blocks.pop()[0]
            self.blocks.append(self._build(entries, start, n))

    def truncate(self, n):
        """Forget blocks that reach past entry ``n`` (a rolled-back call)."""
        self.blocks = [block for block in self.blocks if block[1] <= n]
        self.n = self.blocks[-1][1] if self.blocks else 0

    def query(self, X, reach):
        """Per row of ``X``, the sorted entries whose circumscribed ball may come within ``reach``
        (``None`` while no block is indexed)."""
        if not self.blocks:
            return None
        per_block = [
            tree.query_ball_point(X, with_slack(reach + rmax, PREFILTER_SLACK), p=self.p, return_sorted=True)
            for _, _, tree, rmax in self.blocks
        ]
        starts = [block[0] for block in self.blocks]
        return [
            np.concatenate([np.asarray(hits[r], dtype=np.int64) + start for hits, start in zip(per_block, starts)])
            for r in range(len(X))
        ]
