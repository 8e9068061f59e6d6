"""Exact region geometry (THEORY.md 3.6, test T11) against independent oracles.

Oracles: scipy.optimize.linprog for everything l1 (exact LPs), a convex program solved by SLSQP
and dense boundary sampling in 2-D for l2, scipy's bounded scalar minimiser for K(t). Random cases
in 2 to 8 dimensions; near-tangent cases (|margin| < 1e-3) are skipped where an oracle only has
a tolerance.
"""

import numpy as np
import pytest
from scipy.optimize import linprog, minimize, minimize_scalar

from smoothcert.geometry import (
    cross_polytope_distance,
    cross_polytope_overlap_margin,
    distance,
    ellipsoid_distance,
    ellipsoid_overlap_margin,
    gauge,
    intersects,
    overlap_margin,
)


def random_pair(rng, d, spread=2.0):
    a, b = rng.normal(size=d), rng.normal(size=d) * spread
    alpha, beta = rng.uniform(0.1, 2.0, d), rng.uniform(0.1, 2.0, d)
    return a, alpha, b, beta


def l1_min_gauge_lp(a, alpha, b, beta):
    """min sum|y - a| / alpha  s.t.  sum|y - b| / beta <= 1, as an LP in (y, t, s)."""
    d = len(a)
    eye, zero = np.eye(d), np.zeros((d, d))
    cost = np.concatenate([np.zeros(d), 1.0 / alpha, np.zeros(d)])
    A_ub = np.block([[eye, -eye, zero], [-eye, -eye, zero], [eye, zero, -eye], [-eye, zero, -eye]])
    b_ub = np.concatenate([a, -a, b, -b])
    A_ub = np.vstack([A_ub, np.concatenate([np.zeros(2 * d), 1.0 / beta])])
    b_ub = np.append(b_ub, 1.0)
    bounds = [(None, None)] * d + [(0, None)] * (2 * d)
    res = linprog(cost, A_ub=A_ub, b_ub=b_ub, bounds=bounds, method="highs")
    assert res.status == 0
    return res.fun


def l1_distance_lp(p, c, s):
    """min sum|y - p|  s.t.  sum|y - c| / s <= 1."""
    return l1_min_gauge_lp(p, np.ones(len(p)), c, s)


@pytest.mark.parametrize("d", [2, 3, 5, 8])
def test_ellipsoid_margin_equals_bounded_scalar_minimum(d):
    rng = np.random.default_rng(d)
    for _ in range(40):
        a, alpha, b, beta = random_pair(rng, d)
        K = lambda t: 1.0 - ((b - a) ** 2 * t * (1 - t) / (t * beta**2 + (1 - t) * alpha**2)).sum()  # noqa: E731
        ref = minimize_scalar(K, bounds=(0.0, 1.0), method="bounded", options={"xatol": 1e-13}).fun
        got = ellipsoid_overlap_margin(a, alpha[None], b[None], beta[None])[0]
        assert got == pytest.approx(ref, abs=1e-10 * max(1.0, abs(ref)))


@pytest.mark.parametrize("d", [2, 4, 8])
def test_ellipsoid_margin_sign_matches_convex_program(d):
    # Interiors intersect iff min {N_a(y - a)**2 : N_b(y - b) <= 1} < 1 (a smooth convex program).
    rng = np.random.default_rng(10 + d)
    checked = 0
    for _ in range(40):
        a, alpha, b, beta = random_pair(rng, d, spread=1.0)
        cons = [{"type": "ineq", "fun": lambda y: 1.0 - (((y - b) / beta) ** 2).sum()}]
        res = minimize(lambda y: (((y - a) / alpha) ** 2).sum(), b.copy(), constraints=cons, method="SLSQP",
                       options={"ftol": 1e-12, "maxiter": 1000})
        if not res.success or abs(res.fun - 1.0) < 1e-3:
            continue  # the oracle has a tolerance: skip near-tangent pairs
        checked += 1
        assert (ellipsoid_overlap_margin(a, alpha[None], b[None], beta[None])[0] > 0) == (res.fun < 1.0)
    assert checked >= 30


def test_ellipsoid_margin_against_2d_grid():
    # Brute force in 2-D: the grid minimum of max(q_a, q_b) is >= the true minimum, so
    # 1 - grid_min <= margin, and a fine grid gets close.
    rng = np.random.default_rng(2)
    xs = np.linspace(-6, 6, 801)
    Y = np.stack(np.meshgrid(xs, xs), axis=-1).reshape(-1, 2)
    for _ in range(12):
        a, alpha, b, beta = random_pair(rng, 2, spread=1.5)
        grid = np.maximum((((Y - a) / alpha) ** 2).sum(1), (((Y - b) / beta) ** 2).sum(1)).min()
        margin = ellipsoid_overlap_margin(a, alpha[None], b[None], beta[None])[0]
        assert 1.0 - grid <= margin + 1e-12
        assert margin - (1.0 - grid) < 0.05 * max(1.0, grid)


def test_ellipsoid_margin_touching_and_balls():
    # Ellipse (2, 1) at 0 and unit circle at (3, 0) touch at (2, 0).
    assert abs(ellipsoid_overlap_margin([0.0, 0.0], [[2.0, 1.0]], [[3.0, 0.0]], [[1.0, 1.0]])[0]) < 1e-12
    # Balls: closed form 1 - D**2 / (R_a + R_b)**2, equal to the per-dimension computation.
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(1, 4)), rng.normal(size=(6, 4))
    ra, rb = np.array([0.7]), rng.uniform(0.1, 2.0, 6)
    closed = ellipsoid_overlap_margin(a, ra, b, rb)
    np.testing.assert_allclose(closed, 1.0 - ((b - a) ** 2).sum(1) / (ra + rb) ** 2)
    per_dim = ellipsoid_overlap_margin(a, np.full((1, 4), 0.7), b, np.repeat(rb[:, None], 4, axis=1))
    np.testing.assert_allclose(per_dim, closed, atol=1e-12)


@pytest.mark.parametrize("d", [2, 3, 5, 8])
def test_cross_polytope_margin_matches_linprog(d):
    rng = np.random.default_rng(20 + d)
    for _ in range(30):
        a, alpha, b, beta = random_pair(rng, d)
        got = cross_polytope_overlap_margin(a, alpha[None], b[None], beta[None])[0]
        assert got == pytest.approx(1.0 - l1_min_gauge_lp(a, alpha, b, beta), abs=1e-8)
        # Symmetric in the two polytopes (the sign; the value is each one's own gauge).
        assert np.sign(got) == np.sign(cross_polytope_overlap_margin(b, beta[None], a[None], alpha[None])[0])


def test_cross_polytope_margin_balls_closed_form():
    a, b = np.zeros((1, 3)), np.array([[1.0, 1.0, 0.5], [3.0, 0.0, 0.0]])
    per_dim = cross_polytope_overlap_margin(a, np.full((1, 3), 1.0), b, np.full((2, 3), 0.5))
    closed = cross_polytope_overlap_margin(a, np.array([1.0]), b, np.array([0.5, 0.5]))
    np.testing.assert_allclose(per_dim, closed, atol=1e-14)
    np.testing.assert_allclose(closed, [1.0 - 2.0, 1.0 - 2.5])


@pytest.mark.parametrize("d", [2, 3, 5, 8])
def test_ellipsoid_distance_matches_convex_program(d):
    rng = np.random.default_rng(30 + d)
    for _ in range(25):
        c, axes = rng.normal(size=d), rng.uniform(0.1, 2.0, d)
        p = c + rng.normal(size=d) * 3
        got = ellipsoid_distance(p, c[None], axes[None])[0]
        if ((p - c) / axes) @ ((p - c) / axes) <= 1:
            assert got == 0.0
            continue
        cons = [{"type": "ineq", "fun": lambda y: 1.0 - (((y - c) / axes) ** 2).sum()}]
        res = minimize(lambda y: ((y - p) ** 2).sum(), c.copy(), constraints=cons, method="SLSQP",
                       options={"ftol": 1e-15, "maxiter": 500})
        ref = np.sqrt(res.fun)
        assert got == pytest.approx(ref, rel=1e-6)


def test_ellipsoid_distance_against_2d_boundary_sampling():
    rng = np.random.default_rng(4)
    theta = np.linspace(0, 2 * np.pi, 400_001)
    for _ in range(20):
        c, axes = rng.normal(size=2), rng.uniform(0.1, 2.0, 2)
        p = c + rng.normal(size=2) * 3
        boundary = c + np.stack([axes[0] * np.cos(theta), axes[1] * np.sin(theta)], axis=1)
        sampled = np.sqrt(((boundary - p) ** 2).sum(1)).min()
        got = ellipsoid_distance(p, c[None], axes[None])[0]
        if got > 0:  # never above the exact distance; sampled boundary points are at or above it
            assert got <= sampled + 1e-12 and sampled - got < 1e-9


@pytest.mark.parametrize("d", [2, 3, 5, 8])
def test_cross_polytope_distance_matches_linprog(d):
    rng = np.random.default_rng(40 + d)
    for _ in range(30):
        c, s = rng.normal(size=d), rng.uniform(0.1, 2.0, d)
        p = c + rng.normal(size=d) * 2
        got = cross_polytope_distance(p, c[None], s[None])[0]
        assert got == pytest.approx(l1_distance_lp(p, c, s), abs=1e-9)


def test_distances_of_balls_and_points_inside():
    p = np.array([3.0, 4.0])
    np.testing.assert_allclose(distance(p, [[0.0, 0.0]], [1.0], "l2"), [4.0])
    np.testing.assert_allclose(distance(p, [[0.0, 0.0]], [1.0], "l1"), [6.0])
    np.testing.assert_allclose(distance(p, [[0.0, 0.0]], [[1.0, 1.0]], "l2"), [4.0], rtol=1e-12)
    np.testing.assert_allclose(distance(p, [[0.0, 0.0]], [[1.0, 1.0]], "l1"), [6.0], rtol=1e-12)
    assert distance(p, [[3.0, 4.5]], [[1.0, 2.0]], "l2")[0] == 0.0
    assert distance(p, [[3.0, 4.5]], [[1.0, 2.0]], "l1")[0] == 0.0


def test_gauge_and_vectorisation():
    z = np.array([[3.0, 4.0], [1.0, 0.0]])
    np.testing.assert_allclose(gauge(z, [5.0, 2.0], "l2"), [1.0, 0.5])
    np.testing.assert_allclose(gauge(z, [[3.0, 8.0], [1.0, 1.0]], "l1"), [1.5, 1.0])
    # Many rows at once equal row by row.
    rng = np.random.default_rng(5)
    a, alpha = rng.normal(size=3), rng.uniform(0.2, 1.0, (1, 3))
    B, beta = rng.normal(size=(50, 3)), rng.uniform(0.2, 1.0, (50, 3))
    for norm in ("l2", "l1"):
        together = overlap_margin(a, alpha, B, beta, norm)
        alone = [overlap_margin(a, alpha, B[i : i + 1], beta[i : i + 1], norm)[0] for i in range(50)]
        np.testing.assert_allclose(together, alone, atol=1e-12)
    with pytest.raises(ValueError, match="norm"):
        gauge(z, [1.0, 1.0], "linf")


@pytest.mark.parametrize("norm", ["l2", "l1"])
def test_intersects_is_margin_above_minus_tol(norm):
    rng = np.random.default_rng(6)
    a, alpha = rng.normal(size=3), rng.uniform(0.2, 1.0, (1, 3))
    B, beta = rng.normal(size=(400, 3)) * 1.5, rng.uniform(0.2, 1.0, (400, 3))
    margin = overlap_margin(a, alpha, B, beta, norm)
    for tol in (0.0, 1e-3):
        decided = intersects(a, alpha, B, beta, norm, tol=tol)
        clear = np.abs(margin + tol) > 1e-9
        np.testing.assert_array_equal(decided[clear], (margin > -tol)[clear])
    # Balls against per-dimension regions, and the shortcut paths (inscribed / circumscribed).
    radii = rng.uniform(0.2, 1.0, 400)
    np.testing.assert_array_equal(
        intersects(a, np.array([0.5]), B, radii, norm),
        overlap_margin(a, np.array([0.5]), B, radii, norm) > 0,
    )
