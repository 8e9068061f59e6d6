"""Memory-based certification: stored certified regions that keep data-dependent certificates sound.

Alfarra et al. (2022), "Data Dependent Randomized Smoothing", and Eiras et al. (2022), "ANCER",
store every certified region and resolve each new certificate against them, so that regions of
different labels never overlap and an input inside a stored region is answered with that region's
label. This module implements the resolver of ``THEORY.md`` 2.4 and 3.6 (containment first, then
overlap; exact geometry from :mod:`smoothcert.geometry`), not the authors' script.
"""

import json
import math
import os
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ._io import atomic_write, check_path
from ._memory_store import ABSTAIN_CODE as _ABSTAIN
from ._memory_store import (
    ENTRY_ARRAYS,
    PREFILTER_SLACK,
    Entries,
    TreeIndex,
    entries_from_arrays,
    storage_dtype,
    with_slack,
)
from ._validation import check_probability
from .certificates import Certificates, replace_labels
from .geometry import distance, gauge, intersects
from .noise import get_noise

__all__ = ["CertificateMemory", "FORMAT_VERSION"]

#: Version of the file format written by :meth:`CertificateMemory.save`.
FORMAT_VERSION = 1
_FORMAT_NAME = "smoothcert.CertificateMemory"
# Radii derived from a distance (shrink, adopt) are reduced by this relative amount, so that
# floating-point rounding can never make two regions of different labels overlap.
_SAFETY = 1e-10
# Regions whose overlap margin exceeds -_CONFLICT_TOL count as intersecting: near-tangent pairs are
# resolved by shrinking, never left to rounding.
_CONFLICT_TOL = 1e-12
_TREE_MIN_ENTRIES = 2048  # algorithm="auto" scans fewer entries without a tree
_BLOCK_ELEMENTS = 1 << 17  # entries not yet in a tree are scanned: at most ~2 blocks of this many floats
_SCAN_ROWS = 4096  # rows per chunk of a float64 scan (keeps the temporaries in cache)
_STATE = ("norm_", "input_shape_", "_entries", "_labels", "_codes", "_index")
_EMPTY = "This CertificateMemory is empty: store certificates with partial_fit or fit first."
_ARRAYS = (*ENTRY_ARRAYS, "centers", "scales")  # the per-entry arrays of a memory file
_JSON_LABELS = (str, int, float, bool)  # labels a memory file holds (JSON scalars)


def _lp(z, norm):
    return np.sqrt(np.einsum("ij,ij->i", z, z)) if norm == "l2" else np.abs(z).sum(axis=1)


def _label_key(label):
    """A hashable, JSON-friendly Python scalar for a label (numpy scalars -> Python scalars)."""
    return label.item() if isinstance(label, np.generic) else label


def _updated(labels, changes):
    """A copy of ``labels`` with ``changes`` (row -> label) written in."""
    if not changes:
        return np.asarray(labels).copy()
    values = list(changes.values())
    if len({type(v) for v in values}) > 1:  # e.g. a class name and the abstain label
        values = np.array(values, dtype=object)
    return replace_labels(labels, list(changes), values)


class CertificateMemory(TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):
    """Stores certified regions and resolves new certificates against them, in order.

    A certificate computed with an input-dependent noise scale ``sigma(x)`` speaks about the smoothed
    classifier at that scale, not about ``x -> g_{sigma(x)}(x)``: nearby inputs get other scales and
    possibly other labels (``THEORY.md`` 6.5). Memory-based certification (Alfarra et al., 2022;
    Eiras et al., 2022) makes the *stateful* classifier consistent. Each certificate, in the order
    of the rows, is resolved against the stored regions of *other* labels (``THEORY.md`` 2.4, 3.6):

    1. **containment**: if its input lies strictly inside stored regions, the deepest one ``j``
       decides: with ``inside_rule="adopt"`` the row takes ``j``'s label and the largest l_p ball
       around the input that the gauge bound ``(1 - N_j(x - x_j)) min(axes_j)`` guarantees inside
       ``S_j``; with ``"abstain"`` it abstains;
    2. otherwise, **overlap**: if its region's interior meets stored regions (exact tests for
       balls, ellipsoids and cross-polytopes), it is replaced by the l_p ball of radius
       ``min(inscribed radius, distance to the nearest of them)``, which touches them at most;
    3. the resolved region is stored (abstentions only with ``store_abstain=True``, as points).

    Regions of the same label may overlap freely. A stored region with an empty interior (an
    abstention stored with ``store_abstain=True``, or a zero radius) is a point: later regions of
    other labels are shrunk so that they do not contain it, so asking that input again gives the
    same answer. Radii derived from distances are rounded down by a relative ``1e-10`` and
    near-tangent pairs are treated as overlapping, so rounding can never create an overlap.

    **What is promised.** After every step, stored regions of different labels have disjoint
    interiors, and each stored region lies inside a region certified (with probability
    ``1 - alpha``) for a fixed-scale smoothed classifier. With ``inside_rule="adopt"`` every query
    that comes *after* a stored region and lies strictly inside it is answered with that region's
    label, whatever its own certificate said (``"abstain"``: that label or an abstention). The
    promise is about the stateful classifier and later queries only: an input never queried before
    its perturbed version is not protected, and results depend on the order of the queries
    (a different order gives different, equally valid, certificates; report the order). The
    statistical part holds jointly for all ``T`` stored entries with probability at least
    ``1 - T alpha`` (union bound, ``THEORY.md`` 5; see ``total_alpha_``). Keep one memory per model,
    norm and noise seed: its regions are statements about that classifier.

    **Methods.** :meth:`transform` resolves without storing (read-only). :meth:`partial_fit`
    resolves and stores, row by row, so later rows of the same call see earlier ones.
    :meth:`fit_transform` (and :meth:`fit`) first empties the memory, then does the same and
    returns the resolved certificates. :meth:`resolve` is the general form. A call that fails
    (for example on a full memory) stores nothing.

    **Resolved certificates.** Rows keep their own ``p_lower`` (what the Monte Carlo measured);
    ``label``, ``class_index``, ``gap``, ``radius``, ``sigma``, ``log_volume``, ``proxy_radius``,
    ``abstained`` describe the resolved region and ``memory_entry`` the stored entry that decided
    the row (``-1``: unchanged). When a region is replaced by an l_p ball of radius ``r``, the row
    describes that ball exactly: an isotropic row keeps its ``sigma`` and gets ``gap = r / sigma``;
    an anisotropic row gets the constant per-dimension ``sigma = min(sigma)`` and
    ``gap = r / min(sigma)``, so ``radius`` and ``proxy_radius`` both equal ``r`` and
    ``log_volume`` is the ball's.

    Parameters
    ----------
    inside_rule : {"adopt", "abstain"}, default="adopt"
        Answer for a row strictly inside a stored region of another label: that region's label
        (keeps every earlier promise) or an abstention (RANCER's choice; weaker promise).
    store_abstain : bool, default=False
        Also store abstentions, as points: later regions of other labels are then shrunk so they
        do not contain an abstained input (so asking it again still abstains), as in the DDS script.
    max_size : int or None, default=None
        Largest number of stored entries. A call that would store more raises ``ValueError`` and
        stores nothing: evicting entries would silently break the promise of earlier answers.
    algorithm : {"auto", "kd_tree", "brute"}, default="auto"
        Candidate search. ``"kd_tree"``: :class:`scipy.spatial.cKDTree` trees over blocks of stored
        centres (merged as entries grow, so each entry is re-indexed ``O(log n)`` times), queried
        with radius ``R + max_j R_j`` (circumscribed l_p balls, so a superset of the regions that
        can matter); entries not yet in a tree are scanned. ``"brute"``: a float64 scan of all
        entries. ``"auto"``: the trees from 2048 entries on. All give identical results; see
        ``benchmarks/README.md`` ("Memory") for timings.

    Attributes
    ----------
    norm_ : {"l2", "l1"}
        Norm of the stored regions (from the first stored certificates).
    input_shape_ : tuple of int
        Shape of one input.
    n_entries_ : int
        Number of stored entries (also ``len(memory)``).
    total_alpha_ : float
        Sum of ``alpha`` over stored certified entries: the union bound on the probability that
        any stored region is wrong.

    See Also
    --------
    SmoothedClassifier : applies a memory inside ``certify`` and ``predict`` (``memory=``).
    smoothcert.geometry : the exact overlap and distance computations.

    Notes
    -----
    Storage per entry: the input (float32 when the inputs are float32), the label, a few float64
    numbers and, for anisotropic regions kept as such, the per-dimension scales; distances are
    computed in float64. ``set_output(transform="pandas")`` makes :meth:`transform` and
    :meth:`fit_transform` return :meth:`Certificates.to_frame`; :meth:`resolve` always returns
    :class:`Certificates`. See :meth:`save` for the file format.

    Examples
    --------
    >>> import numpy as np
    >>> from smoothcert import Certificates, CertificateMemory
    >>> def balls(centers, labels, radii):
    ...     n = len(labels)
    ...     return Certificates.from_arrays(label=np.array(labels), class_index=np.array(labels),
    ...         p_lower=np.full(n, 0.99), gap=np.array(radii), radius=np.array(radii),
    ...         sigma=np.ones(n, np.float32), norm="l2", log_volume=np.zeros(n),
    ...         proxy_radius=np.array(radii), abstained=np.zeros(n, bool),
    ...         center=np.array(centers, np.float32), alpha=0.001)
    >>> memory = CertificateMemory()
    >>> out = memory.fit_transform(balls([[0, 0], [3, 0], [0.5, 0]], [0, 1, 1], [2.0, 2.0, 1.0]))
    >>> out.label.tolist(), out.radius.round(6).tolist(), out.memory_entry.tolist()
    ([0, 1, 0], [2.0, 1.0, 1.5], [-1, 0, 0])
    >>> len(memory)
    3
    """

    def __init__(self, inside_rule="adopt", store_abstain=False, max_size=None, algorithm="auto"):
        self.inside_rule = inside_rule
        self.store_abstain = store_abstain
        self.max_size = max_size
        self.algorithm = algorithm

    # -- parameters and state ----------------------------------------------------------------

    def _check_params(self):
        if self.inside_rule not in ("adopt", "abstain"):
            raise ValueError(f"inside_rule must be 'adopt' or 'abstain', got {self.inside_rule!r}.")
        if not isinstance(self.store_abstain, (bool, np.bool_)):
            raise TypeError(f"store_abstain must be True or False, got {type(self.store_abstain).__name__}.")
        if self.max_size is not None:
            if isinstance(self.max_size, bool) or not isinstance(self.max_size, Integral):
                raise TypeError(f"max_size must be None or an int >= 1, got {type(self.max_size).__name__}.")
            if self.max_size < 1:
                raise ValueError(f"max_size must be None or an int >= 1, got {self.max_size}.")
        if self.algorithm not in ("auto", "kd_tree", "brute"):
            raise ValueError(f"algorithm must be 'auto', 'kd_tree' or 'brute', got {self.algorithm!r}.")

    def _init_state(self, norm, input_shape, center_dtype=np.float32, scale_dtype=np.float32):
        self.norm_ = norm
        self.input_shape_ = tuple(int(s) for s in input_shape)
        self._entries = Entries(math.prod(self.input_shape_), center_dtype, scale_dtype)
        self._labels = []  # label code -> label value
        self._codes = {}  # label value -> code
        self._index = None

    def _reset(self):
        for name in _STATE:
            self.__dict__.pop(name, None)

    def __len__(self):
        return self._entries.n if hasattr(self, "_entries") else 0

    @property
    def n_entries_(self):
        check_is_fitted(self)
        return self._entries.n

    @property
    def total_alpha_(self):
        check_is_fitted(self)
        e = self._entries
        return float(e.alpha[: e.n].sum())

    def __sklearn_is_fitted__(self):
        return hasattr(self, "_entries")

    def __getstate__(self):
        # The k-d trees are a cache: rebuilt on first use, not pickled or copied.
        state = super().__getstate__()
        if "_index" in state:
            state = {**state, "_index": None}
        return state

    def set_output(self, *, transform=None):
        """Choose what :meth:`transform` and :meth:`fit_transform` return.

        Parameters
        ----------
        transform : {"default", "pandas"} or None, default=None
            ``"default"``: :class:`~smoothcert.Certificates`; ``"pandas"``: their
            :meth:`~smoothcert.Certificates.to_frame` (one row per input, ``center`` left out);
            ``None``: unchanged. :meth:`resolve` always returns ``Certificates``.

        Returns
        -------
        self : CertificateMemory

        Examples
        --------
        >>> from smoothcert import CertificateMemory
        >>> CertificateMemory().set_output(transform="pandas").inside_rule
        'adopt'
        """
        if transform is None:
            return self
        if transform not in ("default", "pandas"):
            raise ValueError(
                f"transform must be 'default' (Certificates) or 'pandas' (a DataFrame), got {transform!r}."
            )
        if not hasattr(self, "_sklearn_output_config"):
            self._sklearn_output_config = {}
        self._sklearn_output_config["transform"] = transform
        return self

    def _wrap(self, certificates):
        config = getattr(self, "_sklearn_output_config", {}).get("transform", "default")
        return certificates.to_frame() if config == "pandas" else certificates

    # -- scikit-learn face -------------------------------------------------------------------

    def fit(self, certificates, y=None):
        """Empty the memory, then resolve and store ``certificates`` row by row.

        Parameters
        ----------
        certificates : Certificates
            Certificates to store, in query order (e.g. from :meth:`SmoothedClassifier.certify`).
        y : None
            Ignored.

        Returns
        -------
        self : CertificateMemory
        """
        self.fit_transform(certificates)
        return self

    def partial_fit(self, certificates, y=None):
        """Resolve ``certificates`` row by row against the memory and store them (appending).

        Parameters
        ----------
        certificates : Certificates
            Certificates in query order.
        y : None
            Ignored.

        Returns
        -------
        self : CertificateMemory
        """
        self.resolve(certificates, store=True)
        return self

    def fit_transform(self, certificates, y=None):
        """Empty the memory, resolve and store ``certificates`` row by row, return the resolved rows.

        Later rows are resolved against the earlier ones (the memory's order semantics); this is
        not ``fit(X).transform(X)``.

        Parameters
        ----------
        certificates : Certificates
            Certificates in query order.
        y : None
            Ignored.

        Returns
        -------
        resolved : Certificates or pandas.DataFrame
            See :meth:`set_output`.
        """
        self._check_params()
        self._check_certificates(certificates, against_memory=False)
        previous = {name: self.__dict__[name] for name in _STATE if name in self.__dict__}
        self._reset()
        try:
            return self._wrap(self.resolve(certificates, store=True))
        except BaseException:
            self.__dict__.update(previous)  # a failed fit leaves the memory as it was
            raise

    def transform(self, certificates):
        """Resolve ``certificates`` against the stored regions without storing them (read-only).

        Each row is resolved against the memory as it is, independently of the other rows.

        Parameters
        ----------
        certificates : Certificates

        Returns
        -------
        resolved : Certificates or pandas.DataFrame
            See :meth:`set_output`.
        """
        return self._wrap(self.resolve(certificates, store=False))

    # -- resolution ---------------------------------------------------------------------------

    def _check_certificates(self, certificates, against_memory=True):
        if not isinstance(certificates, Certificates):
            raise TypeError(
                "certificates must be a smoothcert.Certificates (e.g. from SmoothedClassifier.certify), "
                f"got {type(certificates).__name__}."
            )
        cert = certificates
        if cert.norm not in ("l2", "l1"):
            raise ValueError(f"certificates.norm must be 'l2' or 'l1', got {cert.norm!r}.")
        if np.ndim(cert.label) != 1:
            raise ValueError(f"certificates.label must be a 1-D array, got shape {np.shape(cert.label)}.")
        n = len(cert.label)
        arrays = {}
        for name in ("center", "sigma", "gap", "p_lower", "log_volume", "proxy_radius", "class_index"):
            arrays[name] = np.asarray(getattr(cert, name))
            if arrays[name].dtype.kind not in "iuf":
                raise TypeError(f"certificates.{name} must hold real numbers, got dtype {arrays[name].dtype}.")
        center, sigma = arrays["center"], arrays["sigma"]
        if center.ndim < 2 or len(center) != n or math.prod(center.shape[1:]) == 0:
            raise ValueError(f"certificates.center must have shape ({n}, *input_shape) with every size >= 1, got {center.shape}.")
        if sigma.shape not in ((n,), center.shape):
            raise ValueError(
                f"certificates.sigma must have shape ({n},) or {center.shape} (like center), got {sigma.shape}."
            )
        if not np.isfinite(center).all():
            raise ValueError("certificates.center must be finite.")
        if not (np.isfinite(sigma).all() and (sigma > 0).all()):
            raise ValueError("certificates.sigma must be positive and finite.")
        gap = arrays["gap"]
        if gap.shape != (n,) or not (np.isfinite(gap).all() and (gap >= 0).all()):
            raise ValueError(f"certificates.gap must be {n} finite values >= 0.")
        for name in ("p_lower", "log_volume", "proxy_radius", "class_index"):
            if arrays[name].shape != (n,):
                raise ValueError(f"certificates.{name} must have shape ({n},), got {arrays[name].shape}.")
        if np.shape(cert.abstained) != (n,):
            raise ValueError(f"certificates.abstained must have shape ({n},), got {np.shape(cert.abstained)}.")
        # Stored entries carry alpha into total_alpha_ and into saved files.
        check_probability(cert.alpha, "certificates.alpha")
        if against_memory and hasattr(self, "_entries"):
            if cert.norm != self.norm_:
                raise ValueError(
                    f"certificates have norm {cert.norm!r} but this memory stores {self.norm_!r} regions; "
                    "use one memory per norm."
                )
            if center.shape[1:] != self.input_shape_:
                raise ValueError(
                    f"certificates have inputs of shape {center.shape[1:]}, but this memory stores inputs of "
                    f"shape {self.input_shape_}."
                )

    def resolve(self, certificates, *, store=False):
        """Resolve certificates against the memory, in row order; optionally store them.

        Parameters
        ----------
        certificates : Certificates
            Certificates in query order (``norm`` and input shape must match the memory's).
        store : bool, default=False
            ``True``: store each resolved row before resolving the next (what :meth:`partial_fit`
            does; an unfitted memory starts empty). ``False``: read-only, like :meth:`transform`.

        Returns
        -------
        resolved : Certificates
            Same rows, resolved (see the class documentation); ``memory_entry`` names the
            deciding entry, ``-1`` where the row is unchanged.

        Raises
        ------
        ValueError
            When storing would exceed ``max_size``; nothing from the call is stored then.

        Examples
        --------
        >>> import numpy as np
        >>> from smoothcert import Certificates, CertificateMemory
        >>> cert = Certificates.from_arrays(label=np.array([0, 1]), class_index=np.array([0, 1]),
        ...     p_lower=np.full(2, 0.9), gap=np.array([1.0, 1.0]), radius=np.array([1.0, 1.0]),
        ...     sigma=np.ones(2, np.float32), norm="l1", log_volume=np.zeros(2),
        ...     proxy_radius=np.ones(2), abstained=np.zeros(2, bool),
        ...     center=np.array([[0.0, 0.0], [1.5, 0.0]], np.float32), alpha=0.001)
        >>> out = CertificateMemory().resolve(cert, store=True)
        >>> out.radius.round(6).tolist()  # the second l1 ball shrinks to touch the first
        [1.0, 0.5]
        """
        self._check_params()
        if not isinstance(store, (bool, np.bool_)):
            raise TypeError(f"store must be True or False, got {type(store).__name__} {store!r}.")
        self._check_certificates(certificates)
        if not store:
            check_is_fitted(self, msg=_EMPTY)
        was_fitted = hasattr(self, "_entries")
        if not was_fitted:
            self._init_state(
                certificates.norm, np.shape(certificates.center)[1:],
                storage_dtype(certificates.center), storage_dtype(certificates.sigma),
            )
        entries = self._entries
        n_before, labels_before = entries.n, len(self._labels)
        try:
            if store:
                entries.promote(storage_dtype(certificates.center), storage_dtype(certificates.sigma))
            return self._resolve(certificates, store)
        except BaseException:
            # Roll back everything the call stored, so a failed call changes nothing.
            if not was_fitted:
                self._reset()
            else:
                entries.n = n_before
                for label in self._labels[labels_before:]:
                    del self._codes[label]
                del self._labels[labels_before:]
                if self._index is not None:
                    self._index.truncate(n_before)
            raise

    def _code(self, label, add):
        key = _label_key(label)
        code = self._codes.get(key)
        if code is None and add:
            code = len(self._labels)
            self._labels.append(key)
            self._codes[key] = code
        return code

    def _block_size(self):
        return int(np.clip(_BLOCK_ELEMENTS // self._entries.centers.shape[1], 128, 2048))

    def _refresh_index(self):
        """Index the entries appended since the last refresh once they fill a block."""
        n = self._entries.n
        use_tree = self.algorithm == "kd_tree" or (self.algorithm == "auto" and n >= _TREE_MIN_ENTRIES)
        if not use_tree:
            self._index = None
            return
        if self._index is None:
            self._index = TreeIndex(self.norm_)
        if n - self._index.n >= self._block_size():
            self._index.extend(self._entries, n)

    def _candidates(self, x, reach, tree_hits):
        """Entries whose circumscribed ball comes within ``reach`` of ``x`` (a superset of those that
        can contain ``x`` or meet a region of circumradius ``reach`` around it), in storage order.

        Returns the entries, their offsets ``x - x_j`` (float64) and l_p distances.
        """
        e = self._entries
        start = 0 if self._index is None else self._index.n
        found = [] if tree_hits is None else [tree_hits]
        for a in range(start, e.n, _SCAN_ROWS):
            b = min(e.n, a + _SCAN_ROWS)
            D = _lp(x - e.centers[a:b], self.norm_)
            found.append(np.flatnonzero(D <= with_slack(reach + e.rmax[a:b], PREFILTER_SLACK)) + a)
        cand = np.concatenate(found).astype(np.int64) if found else np.empty(0, np.int64)
        z = x - e.centers[cand].astype(np.float64)
        D = _lp(z, self.norm_)
        keep = D <= with_slack(reach + e.rmax[cand], PREFILTER_SLACK)
        return cand[keep], z[keep], D[keep]

    def _stored_gauge(self, cand, z, D):
        """``N_j(x - x_j)`` of stored entries ``cand`` (``inf`` for points: they contain nothing)."""
        e = self._entries
        N = np.full(len(cand), np.inf)
        ball = (~e.aniso[cand]) & (e.rmax[cand] > 0)
        N[ball] = D[ball] / e.rmin[cand[ball]]
        aniso = e.aniso[cand]
        if aniso.any():
            N[aniso] = gauge(z[aniso], e.axes(cand[aniso]), self.norm_)
        return N

    def _deepest(self, cand, z, D):
        """Deepest stored region of ``cand`` strictly containing ``x``: (position in cand, radius)."""
        e = self._entries
        N = self._stored_gauge(cand, z, D)
        inside = np.flatnonzero(N < 1.0)
        if inside.size == 0:
            return -1, 0.0
        depth = (1.0 - N[inside]) * e.rmin[cand[inside]]
        k = int(np.argmax(depth))  # ties: the earliest entry (cand is sorted)
        return int(inside[k]), float(depth[k]) * (1.0 - _SAFETY)

    def _nearest_conflict(self, x, own_axes, cand, z, D):
        """Entries of ``cand`` whose region meets the new region's interior: (position, distance)."""
        e = self._entries
        C = e.centers[cand].astype(np.float64)
        dist = np.full(len(cand), np.inf)
        point = e.rmax[cand] == 0
        if point.any():
            # A stored point (an abstention, or a zero radius) must stay outside the new region.
            pos = np.flatnonzero(point)
            inner = gauge(z[pos], own_axes, self.norm_) < 1.0 + _CONFLICT_TOL
            dist[pos[inner]] = D[pos[inner]]
        for mask, axes in (
            ((~point) & (~e.aniso[cand]), lambda idx: e.rmin[idx]),
            ((~point) & e.aniso[cand], e.axes),
        ):
            if not mask.any():
                continue
            pos = np.flatnonzero(mask)
            stored_axes = axes(cand[pos])
            hit = intersects(x, own_axes, C[pos], stored_axes, self.norm_, tol=_CONFLICT_TOL)
            if hit.any():
                dist[pos[hit]] = distance(x, C[pos[hit]], stored_axes[hit], self.norm_)
        if not np.isfinite(dist).any():
            return -1, np.inf
        k = int(np.argmin(dist))  # ties: the earliest entry
        return k, float(dist[k]) * (1.0 - _SAFETY)

    def _resolve(self, cert, store):
        e = self._entries
        n = len(cert)
        d = e.centers.shape[1]
        noise = get_noise(self.norm_)
        X = np.asarray(cert.center, dtype=np.float64).reshape(n, d)
        aniso = np.ndim(cert.sigma) > 1
        sigma = np.array(cert.sigma, copy=True)
        flat_sigma = sigma.reshape(n, math.prod(sigma.shape[1:]))  # a view: set_ball writes through
        abstained = np.array(cert.abstained, dtype=bool, copy=True)
        gap = np.array(cert.gap, dtype=np.float64, copy=True)
        radius = np.where(abstained, 0.0, noise.radius(gap, sigma))
        reach = np.where(abstained, 0.0, gap * flat_sigma.max(axis=1).astype(np.float64))
        class_index = np.array(cert.class_index, dtype=np.int64, copy=True)
        log_volume = np.array(cert.log_volume, dtype=np.float64, copy=True)
        proxy_radius = np.array(cert.proxy_radius, dtype=np.float64, copy=True)
        memory_entry = np.full(n, -1, dtype=np.int64)
        new_labels = {}  # row -> label value, for rows whose label the memory changed
        unseen = len(self._labels)  # codes of labels the memory has never stored (read-only calls)
        codes = np.empty(n, np.int64)
        for i, (label, abst) in enumerate(zip(cert.label, abstained)):
            code = _ABSTAIN if abst else self._code(label, add=store)
            codes[i] = unseen + i if code is None else code

        def set_ball(i, r):
            s = flat_sigma[i].min()
            flat_sigma[i] = s
            gap[i] = r / np.float64(s)
            row = sigma[i : i + 1]
            radius[i] = noise.radius(gap[i : i + 1], row)[0]
            log_volume[i] = noise.log_volume(gap[i : i + 1], row, d)[0]
            proxy_radius[i] = noise.proxy_radius(gap[i : i + 1], row)[0]

        i = 0
        while i < n:
            self._refresh_index()
            # While storing, stop before the scanned tail outgrows a block (then re-index).
            stop = n if not store or self._index is None else min(n, i + self._block_size())
            hits = None if self._index is None else self._index.query(X[i:stop], reach[i:stop])
            for r in range(i, stop):
                x, code = X[r], codes[r]
                cand, z, D = self._candidates(x, reach[r], None if hits is None else hits[r - i])
                other = e.code[cand] != code
                cand, z, D = cand[other], z[other], D[other]
                k, depth = self._deepest(cand, z, D) if cand.size else (-1, 0.0)
                if k >= 0:
                    j = int(cand[k])
                    memory_entry[r] = j
                    if self.inside_rule == "adopt":
                        code = int(e.code[j])
                        new_labels[r] = self._labels[code]
                        class_index[r] = e.class_index[j]
                        abstained[r] = False
                        set_ball(r, depth)
                    else:
                        code = _ABSTAIN
                        new_labels[r] = cert.abstain_label
                        class_index[r], abstained[r], gap[r], radius[r] = -1, True, 0.0, 0.0
                        log_volume[r], proxy_radius[r] = -np.inf, 0.0
                elif code != _ABSTAIN and reach[r] > 0 and cand.size:
                    own_axes = gap[r] * flat_sigma[r : r + 1].astype(np.float64) if aniso else radius[r : r + 1]
                    k, dist = self._nearest_conflict(x, own_axes, cand, z, D)
                    if k >= 0:
                        memory_entry[r] = int(cand[k])
                        set_ball(r, min(radius[r], dist))
                if store and (code != _ABSTAIN or self.store_abstain):
                    self._store(cert, r, code, class_index[r], radius[r], gap[r], flat_sigma[r], memory_entry[r],
                                ball=not aniso or memory_entry[r] >= 0)
            i = stop
        return Certificates.from_arrays(
            label=_updated(cert.label, new_labels), class_index=class_index, p_lower=np.array(cert.p_lower, copy=True), gap=gap,
            radius=radius, sigma=sigma, norm=cert.norm, log_volume=log_volume, proxy_radius=proxy_radius,
            abstained=abstained, center=np.array(cert.center, copy=True), memory_entry=memory_entry,
            alpha=cert.alpha, abstain_label=cert.abstain_label, n_used=cert.n_used, stop_reason=cert.stop_reason,
            radius_sigma=cert.radius_sigma, radius_class=cert.radius_class,
        )

    def _store(self, cert, r, code, class_index, radius, gap, scale, source, ball):
        e = self._entries
        if self.max_size is not None and e.n >= self.max_size:
            raise ValueError(
                f"CertificateMemory is full (max_size={self.max_size} entries) and row {r} must be stored to keep "
                "its certificate sound; nothing from this call was stored. Raise max_size "
                "(memory.set_params(max_size=...)) or start a new memory."
            )
        point = code == _ABSTAIN or radius == 0.0
        kept_aniso = not ball and not point
        e.append(
            np.asarray(cert.center[r]).reshape(-1),
            scale if kept_aniso else None,
            code=code,
            class_index=class_index,
            rmin=0.0 if point else radius,
            rmax=0.0 if point else (gap * float(scale.max()) if kept_aniso else radius),
            gap=gap if kept_aniso else 0.0,
            aniso=kept_aniso,
            source=source,
            alpha=0.0 if code == _ABSTAIN else cert.alpha,
        )

    def lookup(self, X, default=None):
        """The stored region that decides each point: the deepest one strictly containing it.

        This is the answer an input gets from the memory whatever its own result (``"adopt"``);
        :meth:`SmoothedClassifier.predict` uses it. Nothing is stored.

        Parameters
        ----------
        X : array-like of shape (n_points, *input_shape)
            Points.
        default : array-like of shape (n_points,) or None, default=None
            Labels for points outside every stored region (``None``: ``None``).

        Returns
        -------
        entry : ndarray of int64, shape (n_points,)
            Index of the deciding stored entry, ``-1`` where no stored region contains the point.
        label : ndarray of shape (n_points,)
            The entry's label where ``entry >= 0``, else ``default``.

        Examples
        --------
        >>> import numpy as np
        >>> from smoothcert import Certificates, CertificateMemory
        >>> cert = Certificates.from_arrays(label=np.array(["a"]), class_index=np.array([0]),
        ...     p_lower=np.array([0.9]), gap=np.array([1.0]), radius=np.array([1.0]),
        ...     sigma=np.ones(1, np.float32), norm="l2", log_volume=np.zeros(1),
        ...     proxy_radius=np.ones(1), abstained=np.zeros(1, bool),
        ...     center=np.zeros((1, 2), np.float32), alpha=0.001)
        >>> entry, label = CertificateMemory().fit(cert).lookup([[0.5, 0.0], [2.0, 0.0]], default=["b", "b"])
        >>> entry.tolist(), label.tolist()
        ([0, -1], ['a', 'b'])
        """
        check_is_fitted(self, msg=_EMPTY)
        try:
            X = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"X must be an array of numbers of shape (n_points, *{self.input_shape_}).") from None
        if X.ndim < 2 or X.shape[1:] != self.input_shape_:
            raise ValueError(f"X must have shape (n_points, *{self.input_shape_}), got {X.shape}.")
        n = len(X)
        X = X.reshape(n, math.prod(self.input_shape_))  # not -1: n may be 0
        if not np.isfinite(X).all():
            raise ValueError("X must be finite.")
        try:
            label = np.array([None] * n, dtype=object) if default is None else np.asarray(default)
        except ValueError:  # ragged nested sequences
            raise ValueError(f"default must be None or an array of shape ({n},) of labels.") from None
        if label.shape != (n,):
            raise ValueError(f"default must have shape ({n},), got {label.shape}.")
        entry = np.full(n, -1, dtype=np.int64)
        self._refresh_index()
        hits = None if self._index is None else self._index.query(X, np.zeros(n))
        found = {}
        for r in range(n):
            cand, z, D = self._candidates(X[r], 0.0, None if hits is None else hits[r])
            k, _ = self._deepest(cand, z, D) if cand.size else (-1, 0.0)
            if k >= 0:
                entry[r] = cand[k]
                found[r] = self._labels[self._entries.code[cand[k]]]
        return entry, _updated(label, found)

    def regions(self):
        """The stored regions, as arrays (for inspection and plots).

        Returns
        -------
        regions : dict
            ``center`` (n_entries, *input_shape); ``label`` (object array; ``None`` for stored
            abstentions); ``class_index``; ``axes`` (n_entries, d) float64 semi-axes (l2) or
            half-diagonals (l1), all equal for balls and ``0`` for points; ``radius`` (the
            inscribed l_p radius); ``source`` (deciding entry, ``-1``); ``alpha``.

        Examples
        --------
        >>> import numpy as np
        >>> from smoothcert import Certificates, CertificateMemory
        >>> cert = Certificates.from_arrays(label=np.array([3]), class_index=np.array([0]),
        ...     p_lower=np.array([0.9]), gap=np.array([2.0]), radius=np.array([1.0]),
        ...     sigma=np.array([[0.5, 1.0]], np.float32), norm="l2", log_volume=np.zeros(1),
        ...     proxy_radius=np.ones(1), abstained=np.zeros(1, bool),
        ...     center=np.zeros((1, 2), np.float32), alpha=0.001)
        >>> CertificateMemory().fit(cert).regions()["axes"].tolist()
        [[1.0, 2.0]]
        """
        check_is_fitted(self)
        e = self._entries
        n = e.n
        axes = np.repeat(e.rmin[:n, None], e.centers.shape[1], axis=1)
        aniso = np.flatnonzero(e.aniso[:n])
        if aniso.size:
            axes[aniso] = e.axes(aniso)
        return {
            "center": e.centers[:n].reshape(n, *self.input_shape_).copy(),
            "label": np.array([None if c == _ABSTAIN else self._labels[c] for c in e.code[:n]], dtype=object),
            "class_index": e.class_index[:n].copy(),
            "axes": axes,
            "radius": e.rmin[:n].copy(),
            "source": e.source[:n].copy(),
            "alpha": e.alpha[:n].copy(),
        }

    # -- persistence --------------------------------------------------------------------------

    def save(self, path):
        """Write the memory to ``path`` atomically (a temporary file, then ``os.replace``).

        A crash while writing leaves any previous file at ``path`` intact. The format (version
        :data:`FORMAT_VERSION`) is an uncompressed ``.npz`` archive (read with
        ``numpy.load(path, allow_pickle=False)``) holding:

        * ``header``: UTF-8 JSON bytes (uint8) with ``format`` (``"smoothcert.CertificateMemory"``),
          ``version``, ``params`` (the constructor parameters), ``norm``, ``input_shape``,
          ``n_entries`` and ``labels`` (the label of each label code, JSON scalars);
        * per entry: ``centers`` (n, d), ``code`` (int32 label code, ``-1`` abstention),
          ``class_index``, ``rmin`` / ``rmax`` (inscribed / circumscribed l_p radii, float64, ``0`` for
          points), ``gap`` (float64, anisotropic entries), ``aniso`` (bool), ``source``, ``alpha``;
        * ``scales`` (m, d): per-dimension scales of the ``m`` anisotropic entries, in order; their
          region is ``gap * scales`` (semi-axes or half-diagonals), every other entry is a ball of
          radius ``rmin`` (a point when ``0``).

        The zip container checksums every array, so corruption is detected on :meth:`load`.

        Parameters
        ----------
        path : str or os.PathLike
            Destination, used as given (no extension is added).

        Raises
        ------
        ValueError
            If a stored label is not an int, float, string or bool (JSON cannot hold it), or a
            parameter is invalid (:meth:`load` would refuse the file).

        Examples
        --------
        >>> import os, tempfile
        >>> import numpy as np
        >>> from smoothcert import Certificates, CertificateMemory
        >>> cert = Certificates.from_arrays(label=np.array([1]), class_index=np.array([1]),
        ...     p_lower=np.array([0.9]), gap=np.array([1.0]), radius=np.array([0.5]),
        ...     sigma=np.array([0.5], np.float32), norm="l2", log_volume=np.zeros(1),
        ...     proxy_radius=np.array([0.5]), abstained=np.zeros(1, bool),
        ...     center=np.zeros((1, 2), np.float32), alpha=0.001)
        >>> path = os.path.join(tempfile.mkdtemp(), "memory.npz")
        >>> CertificateMemory().fit(cert).save(path)
        >>> len(CertificateMemory.load(path))
        1
        """
        path = check_path(path)
        check_is_fitted(self, msg="This CertificateMemory is empty: store certificates before saving.")
        self._check_params()  # load refuses invalid parameters: never write them
        unsaveable = [label for label in self._labels if not isinstance(label, _JSON_LABELS)]
        if unsaveable:
            raise ValueError(
                f"cannot save {path!r}: labels must be ints, floats, strings or bools, got {unsaveable[0]!r}."
            )
        e = self._entries
        n = e.n
        header = {
            "format": _FORMAT_NAME,
            "version": FORMAT_VERSION,
            "params": {k: _label_key(v) for k, v in self.get_params().items()},
            "norm": self.norm_,
            "input_shape": list(self.input_shape_),
            "n_entries": n,
            "labels": self._labels,
        }
        header_bytes = json.dumps(header).encode("utf-8")
        aniso = np.flatnonzero(e.aniso[:n])
        arrays = {name: getattr(e, name)[:n] for name in ENTRY_ARRAYS}
        arrays["centers"] = e.centers[:n]
        arrays["scales"] = e.scales[aniso] if aniso.size else np.empty((0, e.centers.shape[1]), e.scale_dtype)
        arrays["header"] = np.frombuffer(header_bytes, dtype=np.uint8)
        atomic_write(path, lambda f: np.savez(f, **arrays))

    @classmethod
    def load(cls, path):
        """Read a memory written by :meth:`save`.

        Every array is checked, not only the zip checksums: a file with a negative, non-finite or
        inconsistent region (``rmin``, ``rmax``, ``gap``, ``scales``, ...), a wrong shape or dtype, or
        an unknown label code is refused, since loading it would void the memory's promise.

        Parameters
        ----------
        path : str or os.PathLike

        Returns
        -------
        memory : CertificateMemory
            With the saved parameters and entries; append with :meth:`partial_fit` and save again.

        Raises
        ------
        ValueError
            If the file is truncated, corrupt, not a memory file, of another format version, or holds
            invalid entries (the message names the file and the problem, e.g. the field).
        FileNotFoundError
            If ``path`` does not exist (other errors opening the file, such as ``PermissionError``,
            are raised as they are).

        Examples
        --------
        >>> from smoothcert import CertificateMemory
        >>> CertificateMemory.load("no-such-file.npz")
        Traceback (most recent call last):
        ...
        FileNotFoundError: ...
        """
        path = check_path(path)
        if not os.path.exists(path):
            raise FileNotFoundError(f"No CertificateMemory file at {path!r}.")
        with open(path, "rb") as f:  # opening errors (a folder, permissions) are not damage: raised as they are
            try:
                header, arrays = _read_archive(f)
                _check_header(header, cls._get_param_names())
                memory = cls(**header["params"])
                memory._check_params()
                memory._restore(header, arrays)
            except (ValueError, TypeError) as exc:
                raise ValueError(f"Cannot load a CertificateMemory from {path!r}: {exc}.") from exc
        return memory

    def _restore(self, header, arrays):
        shape = tuple(header["input_shape"])
        entries = entries_from_arrays(arrays, header["n_entries"], math.prod(shape), len(header["labels"]))
        self._init_state(header["norm"], shape, arrays["centers"].dtype, arrays["scales"].dtype)
        self._entries = entries
        self._labels = list(header["labels"])
        self._codes = {label: c for c, label in enumerate(self._labels)}


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
