"""Exact geometry of certified regions: gauges, overlap tests and distances (float64, vectorised).

A certified region is ``S = {y : N(y - center) <= 1}`` with the gauge

* ``N(z) = ||z / axes||_2`` for ``norm="l2"`` (an axis-aligned ellipsoid with semi-axes ``axes``;
  Gaussian noise, Eiras et al. (2022), "ANCER"), or
* ``N(z) = ||z / axes||_1`` for ``norm="l1"`` (a generalised cross-polytope with half-diagonals
  ``axes``; uniform noise).

For a certificate, ``axes = gap * sigma``. A ball of radius ``R`` is the special case of equal axes.

Every function works on ``k`` rows at once: ``centers`` is ``(k, d)`` (or one ``(d,)`` centre,
broadcast), and ``axes`` is either ``(k,)`` -- one radius per row, i.e. *balls*, handled in closed
form -- or ``(k, d)`` -- per-dimension axes. A single ellipsoid therefore has axes of shape
``(1, d)``. Axes must be positive (a region with an empty interior is a point; callers handle it).

Conventions used by :class:`~smoothcert.CertificateMemory` (``THEORY.md`` 3.6): regions are closed;
two certificates *conflict* only when their interiors intersect, so touching regions are disjoint.
:func:`overlap_margin` is positive exactly when the interiors intersect, zero when the regions
touch and negative when they are apart; its errors only ever err towards "intersecting" (a
minimiser that stops early over-estimates a minimum).

References: Gilitschenski and Hanebeck (2012), "A robust computational test for overlap of two
arbitrary-dimensional ellipsoids in fault-detection of Kalman filters" (the ``K(t)`` test); LP
duality for the cross-polytope test; the projection onto an ellipsoid by its Lagrange multiplier.
"""

import numpy as np

__all__ = [
    "gauge",
    "distance",
    "overlap_margin",
    "intersects",
    "ellipsoid_overlap_margin",
    "cross_polytope_overlap_margin",
    "ellipsoid_distance",
    "cross_polytope_distance",
]

_NORMS = ("l2", "l1")
_ROOT_STEPS = 200  # safeguarded Newton iterations (each halves the bracket at worst)


def _check_norm(norm):
    if norm not in _NORMS:
        raise ValueError(f"norm must be 'l2' (ellipsoids, balls) or 'l1' (cross-polytopes), got {norm!r}.")


def _rows(centers, axes):
    """float64 ``(k, d)`` centres and axes ``(k,)`` (balls) or ``(k, d)``, broadcast to ``k`` rows."""
    axes = np.asarray(axes, dtype=np.float64)
    centers = np.atleast_2d(np.asarray(centers, dtype=np.float64))
    if axes.ndim not in (1, 2):
        raise ValueError(f"axes must have shape (k,) (balls) or (k, d), got {axes.shape}.")
    k = max(len(centers), len(axes))
    centers = np.broadcast_to(centers, (k, centers.shape[1]))
    axes = np.broadcast_to(axes, (k,) if axes.ndim == 1 else (k, centers.shape[1]))
    return centers, axes


def _lp(z, norm):
    return np.sqrt(np.einsum("ij,ij->i", z, z)) if norm == "l2" else np.abs(z).sum(axis=1)


def _per_dim(axes, d):
    return axes if axes.ndim == 2 else np.repeat(axes[:, None], d, axis=1)


def gauge(z, axes, norm):
    """Gauge ``N(z) = ||z / axes||_p`` of regions centred at 0, one value per row.

    ``N(y - center) < 1`` means ``y`` lies strictly inside the region.

    Parameters
    ----------
    z : array-like of shape (k, d) or (d,)
        Offsets from the regions' centres.
    axes : array-like of shape (k,) or (k, d)
        Ball radii, or semi-axes (``"l2"``) / half-diagonals (``"l1"``) per dimension.
    norm : {"l2", "l1"}

    Returns
    -------
    gauge : ndarray of float64, shape (k,)

    Examples
    --------
    >>> from smoothcert.geometry import gauge
    >>> gauge([[3.0, 4.0]], [[6.0, 8.0]], "l2").tolist()
    [0.7071067811865476]
    >>> gauge([[3.0, 4.0]], [10.0], "l1").tolist()
    [0.7]
    """
    _check_norm(norm)
    z, axes = _rows(z, axes)
    if axes.ndim == 1:
        return _lp(z, norm) / axes
    return _lp(z / axes, norm)


def _logit_midpoint(lo, hi):
    """Bisection point of ``[lo, hi] within (0, 1)`` in logit space (minimisers can sit near 0 or 1
    when the ellipsoids differ much in size), with the logit clipped to ``[-40, 40]``."""
    with np.errstate(divide="ignore"):
        logit = np.clip(np.log(np.stack([lo, hi])) - np.log1p(-np.stack([lo, hi])), -40.0, 40.0)
    return 1.0 / (1.0 + np.exp(-0.5 * (logit[0] + logit[1])))


def ellipsoid_overlap_margin(center_a, axes_a, center_b, axes_b):
    """``min_t K(t)`` of two axis-aligned ellipsoids: ``> 0`` iff their interiors intersect.

    ``K(t) = 1 - sum_i u_i**2 t (1 - t) / g_i(t)``, ``g_i(t) = (1 - t) a_i**2 + t b_i**2``, with
    ``u = center_b - center_a`` and semi-axes ``a``, ``b`` (Gilitschenski and Hanebeck, 2012). The
    closed ellipsoids intersect iff ``min K >= 0`` and touch iff it is ``0``. ``K`` is convex on
    ``(0, 1)``: ``K''(t) = 2 sum_i u_i**2 a_i**2 b_i**2 / g_i(t)**3 > 0``, so the minimiser is the
    root of the increasing ``K'(t) = -sum_i u_i**2 (a_i**2 (1 - t)**2 - b_i**2 t**2) / g_i(t)**2``,
    found by Newton steps kept inside a bisection bracket, vectorised over rows, to
    ``|dt| <= 1e-13``. Any ``K(t)`` is an upper bound of the minimum, so an inexact minimiser only
    errs towards "intersecting"; the smallest value evaluated is returned.

    Parameters
    ----------
    center_a, center_b : array-like of shape (k, d) or (d,)
    axes_a, axes_b : array-like of shape (k, d) or (k,)
        Semi-axes (``(k,)``: balls; when both are balls the margin is ``1 - D**2 / (R_a + R_b)**2``).

    Returns
    -------
    margin : ndarray of float64, shape (k,)

    Examples
    --------
    >>> import numpy as np
    >>> from smoothcert.geometry import ellipsoid_overlap_margin
    >>> m = ellipsoid_overlap_margin([0.0, 0.0], [[2.0, 1.0]], [[3.0, 0.0]], [[1.0, 1.0]])
    >>> bool(abs(m[0]) < 1e-12)  # touching at (2, 0)
    True
    """
    center_a, axes_a = _rows(center_a, axes_a)
    center_b, axes_b = _rows(center_b, axes_b)
    u2 = (center_b - center_a) ** 2
    if axes_a.ndim == 1 and axes_b.ndim == 1:
        return 1.0 - u2.sum(axis=1) / (axes_a + axes_b) ** 2
    d = u2.shape[1]
    return _min_k(u2, _per_dim(axes_a, d) ** 2, _per_dim(axes_b, d) ** 2, -np.inf)


def _min_k(u2, a2, b2, stop_below):
    """``min_t K(t)`` per row (see :func:`ellipsoid_overlap_margin`); a row stops early once a value
    below ``stop_below`` is found (enough to prove that the interiors are disjoint)."""
    a2 = np.broadcast_to(a2, u2.shape)
    b2 = np.broadcast_to(b2, u2.shape)
    k = len(u2)
    lo, hi = np.zeros(k), np.ones(k)
    # Start where two balls with the geometric-mean axes would have their minimum.
    ra, rb = np.exp(0.5 * np.log(a2).mean(axis=1)), np.exp(0.5 * np.log(b2).mean(axis=1))
    t = ra / (ra + rb)
    best = np.ones(k)
    active = np.arange(k)
    for _ in range(_ROOT_STEPS):
        tc = t[:, None]
        a2_, b2_ = a2[active], b2[active]
        g = (1.0 - tc) * a2_ + tc * b2_
        w = u2[active] / g
        best[active] = np.minimum(best[active], 1.0 - (w * (tc * (1.0 - tc))).sum(axis=1))
        slope = -(w * (a2_ * (1.0 - tc) ** 2 - b2_ * tc**2) / g).sum(axis=1)
        curvature = 2.0 * (w * a2_ * b2_ / g**2).sum(axis=1)
        lo[active] = np.where(slope < 0.0, t, lo[active])
        hi[active] = np.where(slope < 0.0, hi[active], t)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = t - slope / curvature
        done = (np.abs(step - t) <= 1e-13) | (slope == 0.0) | (best[active] < stop_below)
        inside = (step > lo[active]) & (step < hi[active])
        new_t = np.where(inside, step, _logit_midpoint(lo[active], hi[active]))
        t, active = new_t[~done], active[~done]
        if active.size == 0:
            break
    return best


def cross_polytope_overlap_margin(center_a, axes_a, center_b, axes_b):
    """``1 - p*`` of two cross-polytopes: ``> 0`` iff their interiors intersect.

    ``p* = min {N_a(y - center_a) : N_b(y - center_b) <= 1}``. By LP duality (the inner problem is
    separable), ``p* = max_mu [sum_i u_i min(1/a_i, mu/b_i) - mu]`` over ``mu in {0} U {b_i/a_i}``
    with ``u = |center_a - center_b|``; the objective is concave and piecewise linear, so sorting
    the breakpoints and evaluating all of them with prefix sums is exact, in ``O(d log d)``.

    Parameters
    ----------
    center_a, center_b : array-like of shape (k, d) or (d,)
    axes_a, axes_b : array-like of shape (k, d) or (k,)
        Half-diagonals (``(k,)``: l1 balls; then ``p* = max(0, D - R_b) / R_a``).

    Returns
    -------
    margin : ndarray of float64, shape (k,)

    Examples
    --------
    >>> from smoothcert.geometry import cross_polytope_overlap_margin
    >>> cross_polytope_overlap_margin([0.0, 0.0], [[2.0, 1.0]], [[2.0, 0.5]], [[1.0, 1.0]]).tolist()
    [0.25]
    """
    center_a, axes_a = _rows(center_a, axes_a)
    center_b, axes_b = _rows(center_b, axes_b)
    u = np.abs(center_a - center_b)
    if axes_a.ndim == 1 and axes_b.ndim == 1:
        return 1.0 - np.maximum(0.0, u.sum(axis=1) - axes_b) / axes_a
    d = u.shape[1]
    a = _per_dim(axes_a, d)
    b = _per_dim(axes_b, d)
    mu = b / a
    order = np.argsort(mu, axis=1, kind="stable")
    mu = np.take_along_axis(mu, order, axis=1)
    # At mu = mu_(j), coordinates up to j contribute u/a, the later ones mu * u/b.
    full = np.cumsum(np.take_along_axis(u / a, order, axis=1), axis=1)
    slope = np.take_along_axis(u / b, order, axis=1)
    tail = np.cumsum(slope[:, ::-1], axis=1)[:, ::-1] - slope
    p_star = np.maximum(0.0, (full + mu * tail - mu).max(axis=1))
    return 1.0 - p_star


def overlap_margin(center_a, axes_a, center_b, axes_b, norm):
    """Overlap margin of two regions of the same norm: ``> 0`` iff their interiors intersect.

    Dispatches to :func:`ellipsoid_overlap_margin` (``"l2"``) or
    :func:`cross_polytope_overlap_margin` (``"l1"``); ``0`` means the closed regions touch.

    Parameters
    ----------
    center_a, center_b : array-like of shape (k, d) or (d,)
    axes_a, axes_b : array-like of shape (k, d) or (k,)
    norm : {"l2", "l1"}

    Returns
    -------
    margin : ndarray of float64, shape (k,)

    Examples
    --------
    >>> from smoothcert.geometry import overlap_margin
    >>> overlap_margin([0.0, 0.0], [1.0], [[3.0, 0.0]], [1.0], "l2").tolist()  # two unit balls 3 apart
    [-1.25]
    """
    _check_norm(norm)
    fn = ellipsoid_overlap_margin if norm == "l2" else cross_polytope_overlap_margin
    return fn(center_a, axes_a, center_b, axes_b)


def intersects(center_a, axes_a, center_b, axes_b, norm, tol=0.0):
    """Whether the interiors of regions intersect, counting near-tangent pairs as intersecting.

    Exactly ``overlap_margin(...) > -tol``, computed faster: pairs whose circumscribed l_p balls
    are apart are disjoint, pairs whose inscribed l_p balls overlap intersect, and the ellipsoid
    search stops as soon as a value of ``K`` below ``-tol`` proves the interiors disjoint. With
    ``tol > 0`` the answer errs towards "intersecting", never the other way.

    Parameters
    ----------
    center_a, center_b : array-like of shape (k, d) or (d,)
    axes_a, axes_b : array-like of shape (k, d) or (k,)
    norm : {"l2", "l1"}
    tol : float, default=0.0
        Pairs with a margin above ``-tol`` count as intersecting.

    Returns
    -------
    intersects : ndarray of bool, shape (k,)

    Examples
    --------
    >>> from smoothcert.geometry import intersects
    >>> intersects([0.0, 0.0], [[2.0, 1.0]], [[2.9, 0.0], [3.1, 0.0]], [1.0, 1.0], "l2").tolist()
    [True, False]
    """
    _check_norm(norm)
    center_a, axes_a = _rows(center_a, axes_a)
    center_b, axes_b = _rows(center_b, axes_b)
    u = center_b - center_a
    D = _lp(u, norm)

    def radii(axes):
        if axes.ndim == 1:
            return axes, axes
        return axes.min(axis=1), axes.max(axis=1)

    (rmin_a, rmax_a), (rmin_b, rmax_b) = radii(axes_a), radii(axes_b)
    out = D < (rmin_a + rmin_b) * (1.0 - 1e-12)
    unsure = np.flatnonzero(~out & (D <= (rmax_a + rmax_b) * (1.0 + 1e-12)))
    if unsure.size == 0:
        return out
    def pick(rows):
        return rows if len(rows) == 1 else rows[unsure]

    sub_a, sub_b = pick(axes_a), pick(axes_b)
    if norm == "l1" or (sub_a.ndim == 1 and sub_b.ndim == 1):
        margin = overlap_margin(pick(center_a), sub_a, pick(center_b), sub_b, norm)
    else:
        d = u.shape[1]
        margin = _min_k(u[unsure] ** 2, _per_dim(sub_a, d) ** 2, _per_dim(sub_b, d) ** 2, -tol)
    out[unsure] = margin > -tol
    return out


def ellipsoid_distance(point, centers, axes):
    """l2 distance from ``point`` to axis-aligned ellipsoids (``0`` inside).

    With ``c = point - center`` outside, the nearest point is ``z_i = c_i a_i**2 / (a_i**2 + mu)``
    where ``mu > 0`` solves ``q(mu) = sum_i (c_i a_i / (a_i**2 + mu))**2 = 1``; ``mu`` lies in
    ``[min(a)**2 (N - 1), max(a)**2 (N - 1)]`` (``N`` the gauge of ``c``). Newton's method on the
    increasing, concave ``psi(mu) = q(mu)**-0.5 - 1`` (the secular-equation form of Moré and
    Sorensen) started at the left end stays left of the root and converges fast; bisection guards
    the bracket. The distance ``||c mu / (a**2 + mu)||`` grows with ``mu`` and is evaluated at the
    largest ``mu`` proved left of the root, so it never exceeds the exact distance by more than
    rounding.

    Parameters
    ----------
    point : array-like of shape (d,) or (k, d)
    centers : array-like of shape (k, d)
    axes : array-like of shape (k, d) or (k,)
        Semi-axes (``(k,)``: balls, distance ``max(0, ||point - center|| - R)``).

    Returns
    -------
    distance : ndarray of float64, shape (k,)

    Examples
    --------
    >>> from smoothcert.geometry import ellipsoid_distance
    >>> ellipsoid_distance([4.0, 0.0], [[0.0, 0.0]], [[2.0, 1.0]]).round(12).tolist()
    [2.0]
    """
    centers, axes = _rows(centers, axes)
    c = np.asarray(point, dtype=np.float64) - centers
    if axes.ndim == 1:
        return np.maximum(0.0, _lp(c, "l2") - axes)
    n_gauge = _lp(c / axes, "l2")
    out = np.zeros(len(c))
    rows = np.flatnonzero(n_gauge > 1.0)
    if rows.size == 0:
        return out
    a2 = axes[rows] ** 2
    ca2 = (c[rows] ** 2) * a2
    excess = n_gauge[rows] - 1.0
    lo, hi = a2.min(axis=1) * excess, a2.max(axis=1) * excess
    mu = lo.copy()
    active = np.arange(len(rows))
    for _ in range(_ROOT_STEPS):
        denom = a2[active] + mu[:, None]
        q = (ca2[active] / denom**2).sum(axis=1)
        dq = -2.0 * (ca2[active] / denom**3).sum(axis=1)
        left = q >= 1.0
        lo[active] = np.where(left, np.maximum(lo[active], mu), lo[active])
        hi[active] = np.where(left, hi[active], np.minimum(hi[active], mu))
        with np.errstate(divide="ignore", invalid="ignore"):
            step = mu + 2.0 * q * (np.sqrt(q) - 1.0) / -dq  # Newton on psi = q**-0.5 - 1
        # Stop on a small step taken from a point proved left of the root (lo is then that point).
        done = (left & (np.abs(step - mu) <= 1e-14 * mu)) | (hi[active] - lo[active] <= 1e-15 * hi[active])
        inside = (step > lo[active]) & (step < hi[active])
        new_mu = np.where(inside, step, 0.5 * (lo[active] + hi[active]))
        mu, active = new_mu[~done], active[~done]
        if active.size == 0:
            break
    cr, a2 = c[rows], axes[rows] ** 2
    out[rows] = _lp(cr * (lo[:, None] / (a2 + lo[:, None])), "l2")
    return out


def cross_polytope_distance(point, centers, axes):
    """l1 distance from ``point`` to cross-polytopes (``0`` inside), by a fractional knapsack.

    With ``c = |point - center|`` and weights ``w = 1/axes``, the nearest point of the polytope
    keeps as much of ``c`` as the budget ``sum_i w_i t_i <= 1`` allows, cheapest coordinates (largest
    half-diagonal) first; the distance is what is left, ``sum_i c_i - sum_i t_i``.

    Parameters
    ----------
    point : array-like of shape (d,) or (k, d)
    centers : array-like of shape (k, d)
    axes : array-like of shape (k, d) or (k,)
        Half-diagonals (``(k,)``: l1 balls, distance ``max(0, ||point - center||_1 - R)``).

    Returns
    -------
    distance : ndarray of float64, shape (k,)

    Examples
    --------
    >>> from smoothcert.geometry import cross_polytope_distance
    >>> cross_polytope_distance([3.0, 1.0], [[0.0, 0.0]], [[2.0, 1.0]]).tolist()
    [2.0]
    """
    centers, axes = _rows(centers, axes)
    c = np.abs(np.asarray(point, dtype=np.float64) - centers)
    if axes.ndim == 1:
        return np.maximum(0.0, c.sum(axis=1) - axes)
    order = np.argsort(-axes, axis=1, kind="stable")
    c = np.take_along_axis(c, order, axis=1)
    w = 1.0 / np.take_along_axis(axes, order, axis=1)
    spent_before = np.cumsum(w * c, axis=1) - w * c
    take = np.clip((1.0 - spent_before) / w, 0.0, c)
    return np.maximum(0.0, c.sum(axis=1) - take.sum(axis=1))


def distance(point, centers, axes, norm):
    """l_p distance from ``point`` to regions of ``norm`` (``0`` inside).

    Dispatches to :func:`ellipsoid_distance` (``"l2"``) or :func:`cross_polytope_distance`
    (``"l1"``).

    Parameters
    ----------
    point : array-like of shape (d,) or (k, d)
    centers : array-like of shape (k, d)
    axes : array-like of shape (k, d) or (k,)
    norm : {"l2", "l1"}

    Returns
    -------
    distance : ndarray of float64, shape (k,)

    Examples
    --------
    >>> from smoothcert.geometry import distance
    >>> distance([3.0, 4.0], [[0.0, 0.0]], [1.0], "l2").tolist()
    [4.0]
    """
    _check_norm(norm)
    fn = ellipsoid_distance if norm == "l2" else cross_polytope_distance
    return fn(point, centers, axes)
