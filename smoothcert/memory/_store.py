"""The stored regions of a :class:`~smoothcert.CertificateMemory`: entry columns, label table, k-d
trees, and the transaction that makes a failed call store nothing."""

import math
from contextlib import contextmanager

import numpy as np
from scipy.spatial import cKDTree

# Per-entry columns besides the centers and the per-dimension scales.
ENTRY_ARRAYS = ("code", "class_index", "rmin", "rmax", "gap", "aniso", "source", "alpha")
# Relative slack of the circumscribed-ball pre-filter (it must only ever keep too many candidates).
PREFILTER_SLACK = 1e-9
ABSTAIN_CODE = -1  # label code of stored abstentions


def storage_dtype(values):
    """float32 when every value is exactly a float32 (the estimator's inputs and scales), else float64."""
    values = np.asarray(values)
    if values.dtype == np.float32 or np.array_equal(values.astype(np.float32), values):
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def with_slack(values, slack):
    return values * (1.0 + slack) + 1e-300


def label_key(label):
    """A hashable, JSON-friendly Python scalar for a label (numpy scalars -> Python scalars)."""
    return label.item() if isinstance(label, np.generic) else label


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

    @classmethod
    def from_columns(cls, columns):
        """Entries holding ``columns`` (the arrays of :meth:`columns`), already checked."""
        centers, scales = columns["centers"], columns["scales"]
        n, d = centers.shape
        entries = cls(d, centers.dtype, scales.dtype)
        entries.reserve(n)
        entries.centers[:n] = centers
        for name in ENTRY_ARRAYS:
            getattr(entries, name)[:n] = columns[name]
        positions = np.flatnonzero(columns["aniso"])
        if positions.size:
            entries.scales = np.ones(entries.centers.shape, scales.dtype)
            entries.scales[positions] = scales
        entries.n = n
        return entries

    def columns(self):
        """The stored entries as arrays (views): each of ``ENTRY_ARRAYS``, ``centers`` (n, d) and
        ``scales`` (m, d), the per-dimension scales of the ``m`` anisotropic entries in order."""
        n = self.n
        columns = {name: getattr(self, name)[:n] for name in ENTRY_ARRAYS}
        columns["centers"] = self.centers[:n]
        aniso = np.flatnonzero(self.aniso[:n])
        columns["scales"] = self.scales[aniso] if aniso.size else np.empty((0, self.centers.shape[1]), self.scale_dtype)
        return columns

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


class RegionStore:
    """The regions a memory holds: their entries, the label of each label code, and k-d trees.

    Append-only: a call stores entries and gives new labels codes, nothing is ever rewritten, so
    :meth:`transaction` can undo a failed call by cutting everything back to its sizes.

    Parameters
    ----------
    norm : {"l2", "l1"}
        Norm of the regions.
    input_shape : tuple of int
        Shape of one input.
    entries : Entries
        The stored entries, over ``prod(input_shape)`` dimensions.
    labels : sequence, default=()
        Label of each label code used in ``entries``.
    """

    def __init__(self, norm, input_shape, entries, labels=()):
        self.norm = norm
        self.input_shape = tuple(int(s) for s in input_shape)
        self.entries = entries
        self.labels = list(labels)  # label code -> label value
        self.codes = {label: code for code, label in enumerate(self.labels)}  # label value -> code
        self.index = None  # TreeIndex over a prefix of the entries, a cache

    @classmethod
    def empty(cls, norm, input_shape, center_dtype, scale_dtype):
        """A store without entries."""
        return cls(norm, input_shape, Entries(math.prod(input_shape), center_dtype, scale_dtype))

    def __len__(self):
        return self.entries.n

    def __getstate__(self):
        # The k-d trees are a cache: rebuilt on first use, not pickled or copied.
        return {**self.__dict__, "index": None}

    def code(self, label, add):
        """The code of ``label``; a new one when ``add`` (``None`` for an unknown label otherwise)."""
        key = label_key(label)
        code = self.codes.get(key)
        if code is None and add:
            code = len(self.labels)
            self.labels.append(key)
            self.codes[key] = code
        return code

    @contextmanager
    def transaction(self):
        """Keep what the block stores only if the block completes.

        On any exception the entries, the new label codes and the trees built over new entries are
        dropped and the exception propagates. Storage widened by :meth:`Entries.promote` stays wide:
        that keeps every stored value exactly.
        """
        n, n_labels = self.entries.n, len(self.labels)
        try:
            yield self
        except BaseException:
            self.entries.n = n
            for label in self.labels[n_labels:]:
                del self.codes[label]
            del self.labels[n_labels:]
            if self.index is not None:
                self.index.truncate(n)
            raise

    def refresh_index(self, use_tree, block):
        """Index the entries appended since the last refresh once they fill ``block`` entries
        (with ``use_tree=False``, drop the trees: every entry is scanned)."""
        if not use_tree:
            self.index = None
            return
        if self.index is None:
            self.index = TreeIndex(self.norm)
        n = self.entries.n
        if n - self.index.n >= block:
            self.index.extend(self.entries, n)

    def regions(self):
        """The stored regions as arrays (see :meth:`CertificateMemory.regions`)."""
        e = self.entries
        n = e.n
        axes = np.repeat(e.rmin[:n, None], e.centers.shape[1], axis=1)
        aniso = np.flatnonzero(e.aniso[:n])
        if aniso.size:
            axes[aniso] = e.axes(aniso)
        return {
            "center": e.centers[:n].reshape(n, *self.input_shape).copy(),
            "label": np.array([None if c == ABSTAIN_CODE else self.labels[c] for c in e.code[:n]], dtype=object),
            "class_index": e.class_index[:n].copy(),
            "axes": axes,
            "radius": e.rmin[:n].copy(),
            "source": e.source[:n].copy(),
            "alpha": e.alpha[:n].copy(),
        }
