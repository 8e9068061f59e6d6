"""Resolution of certificates against stored regions (``THEORY.md`` 2.4 and 3.6): candidate search,
gauges, containment, overlap, and the entry each resolved row becomes."""

import math

import numpy as np

from ..certificates import Certificates, replace_labels
from ..geometry import _lp, distance, gauge, intersects
from ..noise import get_noise
from ._store import ABSTAIN_CODE, PREFILTER_SLACK, with_slack

# Radii derived from a distance (shrink, adopt) are reduced by this relative amount, so that
# floating-point rounding can never make two regions of different labels overlap.
_SAFETY = 1e-10
# Regions whose overlap margin exceeds -_CONFLICT_TOL count as intersecting: near-tangent pairs are
# resolved by shrinking, never left to rounding.
_CONFLICT_TOL = 1e-12
_TREE_MIN_ENTRIES = 2048  # algorithm="auto" scans fewer entries without a tree
_SCAN_ROWS = 4096  # rows per chunk of a float64 scan (keeps the temporaries in cache)


def _updated(labels, changes):
    """A copy of ``labels`` with ``changes`` (row -> label) written in."""
    if not changes:
        return np.asarray(labels).copy()
    values = list(changes.values())
    if len({type(v) for v in values}) > 1:  # e.g. a class name and the abstain label
        values = np.array(values, dtype=object)
    return replace_labels(labels, list(changes), values)


class Resolver:
    """Answers queries from the regions of a store and stores resolved certificates in it.

    Parameters
    ----------
    store : RegionStore
        The stored regions; :meth:`resolve` with ``store=True`` appends to it (wrap the call in
        :meth:`RegionStore.transaction` to undo a failed one).
    inside_rule, store_abstain, max_size, algorithm
        As in :class:`~smoothcert.CertificateMemory`, already checked.
    block : int
        Entries per k-d tree block.
    """

    def __init__(self, store, *, inside_rule, store_abstain, max_size, algorithm, block):
        self.store = store
        self.inside_rule = inside_rule
        self.store_abstain = store_abstain
        self.max_size = max_size
        self.algorithm = algorithm
        self.block = block

    # -- candidates and geometry ---------------------------------------------------------------

    def _refresh_index(self):
        n = len(self.store)
        use_tree = self.algorithm == "kd_tree" or (self.algorithm == "auto" and n >= _TREE_MIN_ENTRIES)
        self.store.refresh_index(use_tree, self.block)

    def _tree_hits(self, X, reach):
        """Per row of ``X``, the indexed entries that may matter (``None`` without trees)."""
        index = self.store.index
        return None if index is None else index.query(X, reach)

    def _candidates(self, x, reach, tree_hits):
        """Entries whose circumscribed ball comes within ``reach`` of ``x`` (a superset of those that
        can contain ``x`` or meet a region of circumradius ``reach`` around it), in storage order.

        Returns the entries, their offsets ``x - x_j`` (float64) and l_p distances.
        """
        e, norm = self.store.entries, self.store.norm
        start = 0 if self.store.index is None else self.store.index.n
        found = [] if tree_hits is None else [tree_hits]
        for a in range(start, e.n, _SCAN_ROWS):
            b = min(e.n, a + _SCAN_ROWS)
            D = _lp(x - e.centers[a:b], norm)
            found.append(np.flatnonzero(D <= with_slack(reach + e.rmax[a:b], PREFILTER_SLACK)) + a)
        cand = np.concatenate(found).astype(np.int64) if found else np.empty(0, np.int64)
        z = x - e.centers[cand].astype(np.float64)
        D = _lp(z, norm)
        keep = D <= with_slack(reach + e.rmax[cand], PREFILTER_SLACK)
        return cand[keep], z[keep], D[keep]

    def _stored_gauge(self, cand, z, D):
        """``N_j(x - x_j)`` of stored entries ``cand`` (``inf`` for points: they contain nothing)."""
        e = self.store.entries
        N = np.full(len(cand), np.inf)
        ball = (~e.aniso[cand]) & (e.rmax[cand] > 0)
        N[ball] = D[ball] / e.rmin[cand[ball]]
        aniso = e.aniso[cand]
        if aniso.any():
            N[aniso] = gauge(z[aniso], e.axes(cand[aniso]), self.store.norm)
        return N

    def _deepest(self, cand, z, D):
        """Deepest stored region of ``cand`` strictly containing ``x``: (position in cand, radius)."""
        if not cand.size:
            return -1, 0.0
        N = self._stored_gauge(cand, z, D)
        inside = np.flatnonzero(N < 1.0)
        if inside.size == 0:
            return -1, 0.0
        depth = (1.0 - N[inside]) * self.store.entries.rmin[cand[inside]]
        k = int(np.argmax(depth))  # ties: the earliest entry (cand is sorted)
        return int(inside[k]), float(depth[k]) * (1.0 - _SAFETY)

    def _nearest_conflict(self, x, own_axes, cand, z, D):
        """Entries of ``cand`` whose region meets the new region's interior: (position, distance)."""
        e, norm = self.store.entries, self.store.norm
        C = e.centers[cand].astype(np.float64)
        dist = np.full(len(cand), np.inf)
        point = e.rmax[cand] == 0
        if point.any():
            # A stored point (an abstention, or a zero radius) must stay outside the new region.
            pos = np.flatnonzero(point)
            inner = gauge(z[pos], own_axes, norm) < 1.0 + _CONFLICT_TOL
            dist[pos[inner]] = D[pos[inner]]
        for mask, axes in (
            ((~point) & (~e.aniso[cand]), lambda idx: e.rmin[idx]),
            ((~point) & e.aniso[cand], e.axes),
        ):
            if not mask.any():
                continue
            pos = np.flatnonzero(mask)
            stored_axes = axes(cand[pos])
            hit = intersects(x, own_axes, C[pos], stored_axes, norm, tol=_CONFLICT_TOL)
            if hit.any():
                dist[pos[hit]] = distance(x, C[pos[hit]], stored_axes[hit], norm)
        if not np.isfinite(dist).any():
            return -1, np.inf
        k = int(np.argmin(dist))  # ties: the earliest entry
        return k, float(dist[k]) * (1.0 - _SAFETY)

    # -- queries -------------------------------------------------------------------------------

    def lookup(self, X, label):
        """The deepest stored region strictly containing each row of ``X`` (float64, flat).

        Returns the entries (``-1``: none) and a copy of ``label`` with their labels written in.
        """
        n = len(X)
        entry = np.full(n, -1, dtype=np.int64)
        self._refresh_index()
        hits = self._tree_hits(X, np.zeros(n))
        found = {}
        for r in range(n):
            cand, z, D = self._candidates(X[r], 0.0, None if hits is None else hits[r])
            k, _ = self._deepest(cand, z, D)
            if k >= 0:
                entry[r] = cand[k]
                found[r] = self.store.labels[self.store.entries.code[cand[k]]]
        return entry, _updated(label, found)

    def resolve(self, cert, store):
        """Resolve ``cert`` (checked against the store) row by row; with ``store``, store each row
        before resolving the next. See :meth:`CertificateMemory.resolve`."""
        e = self.store.entries
        n = len(cert)
        d = e.centers.shape[1]
        noise = get_noise(self.store.norm)
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
        unseen = len(self.store.labels)  # codes of labels the memory has never stored (read-only calls)
        codes = np.empty(n, np.int64)
        for i, (label, abst) in enumerate(zip(cert.label, abstained)):
            code = ABSTAIN_CODE if abst else self.store.code(label, add=store)
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
            stop = n if not store or self.store.index is None else min(n, i + self.block)
            hits = self._tree_hits(X[i:stop], reach[i:stop])
            for r in range(i, stop):
                x, code = X[r], codes[r]
                cand, z, D = self._candidates(x, reach[r], None if hits is None else hits[r - i])
                other = e.code[cand] != code
                cand, z, D = cand[other], z[other], D[other]
                k, depth = self._deepest(cand, z, D)
                if k >= 0:
                    j = int(cand[k])
                    memory_entry[r] = j
                    if self.inside_rule == "adopt":
                        code = int(e.code[j])
                        new_labels[r] = self.store.labels[code]
                        class_index[r] = e.class_index[j]
                        abstained[r] = False
                        set_ball(r, depth)
                    else:
                        code = ABSTAIN_CODE
                        new_labels[r] = cert.abstain_label
                        class_index[r], abstained[r], gap[r], radius[r] = -1, True, 0.0, 0.0
                        log_volume[r], proxy_radius[r] = -np.inf, 0.0
                elif code != ABSTAIN_CODE and reach[r] > 0 and cand.size:
                    own_axes = gap[r] * flat_sigma[r : r + 1].astype(np.float64) if aniso else radius[r : r + 1]
                    k, dist = self._nearest_conflict(x, own_axes, cand, z, D)
                    if k >= 0:
                        memory_entry[r] = int(cand[k])
                        set_ball(r, min(radius[r], dist))
                if store and (code != ABSTAIN_CODE or self.store_abstain):
                    self._append(cert, r, code, class_index[r], radius[r], gap[r], flat_sigma[r], memory_entry[r],
                                 ball=not aniso or memory_entry[r] >= 0)
            i = stop
        return Certificates.from_arrays(
            label=_updated(cert.label, new_labels), class_index=class_index, p_lower=np.array(cert.p_lower, copy=True), gap=gap,
            radius=radius, sigma=sigma, norm=cert.norm, log_volume=log_volume, proxy_radius=proxy_radius,
            abstained=abstained, center=np.array(cert.center, copy=True), memory_entry=memory_entry,
            alpha=cert.alpha, abstain_label=cert.abstain_label, n_used=cert.n_used, stop_reason=cert.stop_reason,
            radius_sigma=cert.radius_sigma, radius_class=cert.radius_class,
        )

    def _append(self, cert, r, code, class_index, radius, gap, scale, source, ball):
        """Store resolved row ``r``: a point, a ball of ``radius``, or the anisotropic ``gap * scale``."""
        e = self.store.entries
        if self.max_size is not None and e.n >= self.max_size:
            raise ValueError(
                f"CertificateMemory is full (max_size={self.max_size} entries) and row {r} must be stored to keep "
                "its certificate sound; nothing from this call was stored. Raise max_size "
                "(memory.set_params(max_size=...)) or start a new memory."
            )
        point = code == ABSTAIN_CODE or radius == 0.0
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
            alpha=0.0 if code == ABSTAIN_CODE else cert.alpha,
        )
