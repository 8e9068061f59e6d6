"""Storage and spatial index of :class:`~smoothcert.CertificateMemory`'s regions."""

import numpy as np
from scipy.spatial import cKDTree

# Per-entry columns besides the centers and the per-dimension scales.
ENTRY_ARRAYS = ("code", "class_index", "rmin", "rmax", "gap", "aniso", "source", "alpha")
# Relative slack of the circumscribed-ball pre-filter (it must only ever keep too many candidates).
PREFILTER_SLACK = 1e-9


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
