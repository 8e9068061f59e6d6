"""Anisotropic certificates against exact closed forms (THEORY.md 3.1-3.3, 6.2, 6.3; tests T5-T8).

The base classifiers are linear, so the smoothed classifier and its exact certified regions are
known in closed form. Certification uses fixed per-dimension scales (``GivenScales``, test-only),
which are input-independent, so these certificates are sound without memory.
"""

import math

import numpy as np
import pytest
import torch
from linear_models import smoothed_linear
from scipy import special, stats

from smoothcert.noise import GaussianNoise, UniformNoise
from smoothcert.sigma import SigmaOptimizer
from smoothcert.sigma.ancer import _geometric_mean

ALPHA = 0.001


class GivenScales(SigmaOptimizer):
    """Test-only strategy: the same per-dimension scales ``theta`` for every input."""

    def __init__(self, theta=None):
        self.theta = theta

    def base_scale(self):
        return float(np.min(self.theta))

    def scales(self, model, X, *, noise, keys, batch_size):
        theta = torch.as_tensor(np.asarray(self.theta, dtype=np.float32), device=X.device)
        return theta.expand(X.shape[0], *theta.shape).clone()


def points_with_margins(w, b, margins, seed=0):
    """Distinct inputs of ``w``'s shape with ``w.x + b`` equal to ``margins``."""
    w_flat = np.asarray(w, dtype=np.float64).ravel()
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(len(margins), w_flat.size))
    Z -= np.outer(Z @ w_flat / (w_flat @ w_flat), w_flat)
    X = Z + np.outer((np.asarray(margins) - b) / (w_flat @ w_flat), w_flat)
    return X.reshape(len(margins), *np.shape(w)).astype(np.float32)


def exact_margin(X, w, b):
    return X.reshape(len(X), -1).astype(np.float64) @ np.ravel(w) + b


# -- T5: Gaussian noise with per-dimension scales (ellipsoids) -------------------------------------

W = np.array([1.5, -0.5, 0.2, 0.0, 1.0, -2.0])
B = 0.2
THETA = np.array([0.3, 0.8, 1.5, 2.0, 0.5, 0.25])


@pytest.mark.parametrize("shape", [(6,), (1, 2, 3)])
def test_gaussian_ellipsoid_inside_exact_one(shape):
    """The Monte Carlo ellipsoid {||delta / t|| <= G} lies inside the exact one, G <= m / ||t w||."""
    w, theta = W.reshape(shape), THETA.reshape(shape)
    # p >= 0.69: the n0 = 100 selection picks the wrong class with probability < 1e-4
    X = points_with_margins(w, B, [0.5, 0.8, 1.2, 1.8, 2.5, 3.0])
    clf = smoothed_linear(w, B, sigma=GivenScales(theta), n=100_000, alpha=ALPHA, batch_size=10_000)
    cert = clf.certify(X)
    m = exact_margin(X, w, B)
    exact_gap = m / np.linalg.norm(THETA * W)  # Phi^-1 of the exact p (THEORY 6.2)
    p_exact = stats.norm.cdf(exact_gap)

    assert not cert.abstained.any() and (cert.label == 1).all()
    assert cert.sigma.dtype == np.float32 and cert.sigma.shape == (len(X), *shape)
    # Each row fails with probability <= alpha; 6 rows <= 0.6% (and the seed is fixed).
    assert np.all(cert.p_lower <= p_exact)
    assert np.all(cert.gap <= exact_gap)
    # ...and not far below: the one-sided 1e-3 bound sits ~3.1 sd under p; 7 sd fails w.p. < 1e-11.
    assert np.all(p_exact - cert.p_lower < 7 * np.sqrt(p_exact * (1 - p_exact) / 100_000))
    # the worst-case l2 radius G min(t) is below the exact distance to the boundary m / ||w||
    np.testing.assert_allclose(cert.radius, cert.gap * THETA.min(), rtol=1e-6)
    assert np.all(cert.radius <= m / np.linalg.norm(W))
    np.testing.assert_allclose(cert.proxy_radius, cert.gap * np.exp(np.log(THETA.astype(np.float32)).mean()), rtol=1e-6)


def test_exact_ellipsoid_touches_the_decision_plane_at_the_exact_p():
    """delta* = -r t^2 w / ||t w|| is on the ellipsoid's surface and on the plane; there p = 1/2."""
    X = points_with_margins(W, B, [0.6, 1.0])
    m = exact_margin(X, W, B)
    r = m / np.linalg.norm(THETA * W)
    delta = -r[:, None] * THETA**2 * W / np.linalg.norm(THETA * W)
    np.testing.assert_allclose(np.linalg.norm(delta / THETA, axis=1), r, rtol=1e-12)
    np.testing.assert_allclose(m + delta @ W, 0.0, atol=1e-12)

    n = 100_000
    clf = smoothed_linear(W, B, sigma=GivenScales(THETA), n=n, alpha=ALPHA, batch_size=10_000)
    # The library's anisotropic noise at the touching point: p = 1/2 within 5 sd (fails w.p. < 1e-6).
    p_touch = clf.predict_proba((X + delta).astype(np.float32))[:, 1]
    assert np.all(np.abs(p_touch - 0.5) < 5 * np.sqrt(0.25 / n))
    # The certified ellipsoid's own extreme point in the direction of the plane stays on class 1.
    cert = clf.certify(X)
    delta_mc = -cert.gap[:, None] * THETA**2 * W / np.linalg.norm(THETA * W)
    assert np.all(m + delta_mc @ W >= 0)


def test_worst_case_radius_is_tight_when_w_is_on_argmin_and_proxy_is_not_a_radius():
    """w = e_0 with the smallest scale on axis 0: G min(t) -> m; the proxy radius exceeds m."""
    w = np.array([1.0, 0.0, 0.0, 0.0])
    theta = np.array([0.25, 4.0, 4.0, 4.0])
    margins = np.array([0.2, 0.5])
    X = points_with_margins(w, 0.1, margins)
    cert = smoothed_linear(w, 0.1, sigma=GivenScales(theta), n=100_000, alpha=ALPHA, batch_size=10_000).certify(X)
    assert np.all(cert.radius <= margins)
    assert np.all(margins - cert.radius < 0.02)  # n = 1e5: the bound costs ~0.005 here
    # proxy radius G GM(t) is 4 G min(t): far beyond the exact distance, a volume summary only
    assert np.all(cert.proxy_radius > 2 * margins)


# -- T6: uniform noise, l1 cross-polytopes ---------------------------------------------------------


@pytest.mark.parametrize(
    "lam",
    [
        np.array([0.7, 0.7, 0.7]),  # isotropic
        np.array([1.0, 0.6, 2.0]),  # the boundary's axis has the smallest half-width: worst case tight
        np.array([0.3, 0.6, 2.0]),  # another axis is smaller: worst case below m
    ],
)
def test_uniform_axis_aligned_tightness(lam):
    """w = e_1: p = (m + l_1) / (2 l_1); the polytope reaches l_1 G <= m along axis 1, close to m."""
    w = np.array([0.0, 1.0, 0.0])
    # p >= 0.68: the n0 = 100 selection picks the wrong class with probability < 2e-4
    margins = np.array([0.25, 0.4, 0.55])
    X = points_with_margins(w, -0.2, margins)
    n = 100_000
    clf = smoothed_linear(w, -0.2, sigma=GivenScales(lam), norm="l1", n=n, alpha=ALPHA, batch_size=10_000)
    cert = clf.certify(X)
    p_exact = np.clip((margins + lam[1]) / (2 * lam[1]), 0, 1)
    assert not cert.abstained.any()
    assert np.all(cert.p_lower <= p_exact)  # each row fails w.p. <= alpha
    extent = lam[1] * cert.gap  # the polytope's half-diagonal along the boundary's normal
    assert np.all(extent <= margins)
    assert np.all(margins - extent < 0.02)  # sd of p is <= 0.0016: 0.02 is > 7 sd of the bound
    np.testing.assert_allclose(cert.radius, cert.gap * lam.min(), rtol=1e-6)
    assert np.all(cert.radius <= margins + 1e-12)


def test_uniform_radius_below_linf_distance_for_general_w():
    """For any w the exact l1 distance to the plane is m / ||w||_inf; a certificate must be below."""
    w = np.array([1.0, -0.5, 0.25])
    margins = np.array([0.05, 0.2, 0.4])
    X = points_with_margins(w, 0.3, margins)
    for scales in (np.full(3, 0.5), np.array([0.5, 0.9, 1.4])):
        cert = smoothed_linear(w, 0.3, sigma=GivenScales(scales), norm="l1", n=20_000, alpha=ALPHA).certify(X)
        assert np.all(cert.radius <= margins / np.abs(w).max())


# -- T7: volumes ------------------------------------------------------------------------------------


def test_two_dimensional_volumes_match_closed_forms_and_brute_force():
    gap = np.array([1.3])
    t = np.array([[0.5, 2.0]])
    a1, a2 = gap[0] * t[0]
    ellipse = GaussianNoise().log_volume(gap, t, 2)[0]
    diamond = UniformNoise().log_volume(gap, t, 2)[0]
    assert ellipse == pytest.approx(math.log(math.pi * a1 * a2), rel=1e-12)
    assert diamond == pytest.approx(math.log(2 * a1 * a2), rel=1e-12)
    # brute force: 4e5 uniform points in the bounding box (relative sd of each area < 0.3%)
    pts = np.random.default_rng(0).uniform(-1, 1, size=(400_000, 2)) * [a1, a2]
    box = 4 * a1 * a2
    inside_ellipse = ((pts[:, 0] / a1) ** 2 + (pts[:, 1] / a2) ** 2 <= 1).mean()
    inside_diamond = (np.abs(pts[:, 0]) / a1 + np.abs(pts[:, 1]) / a2 <= 1).mean()
    assert inside_ellipse * box == pytest.approx(math.exp(ellipse), rel=0.015)
    assert inside_diamond * box == pytest.approx(math.exp(diamond), rel=0.015)


@pytest.mark.parametrize("norm", ["l2", "l1"])
def test_certified_log_volume_in_two_dimensions_and_equal_volume_ball(norm):
    """certify's log_volume is the 2-D closed form, and equals the volume of the proxy-radius ball."""
    w, theta = np.array([1.0, 0.4]), np.array([0.3, 0.9])
    X = points_with_margins(w, 0.0, [0.3, 0.6, 0.02])
    cert = smoothed_linear(w, 0.0, sigma=GivenScales(theta), norm=norm, n=10_000, alpha=ALPHA).certify(X)
    ok = ~cert.abstained
    assert ok.sum() >= 2
    axes = cert.gap[ok, None] * theta.astype(np.float32)
    closed = np.log((math.pi if norm == "l2" else 2.0) * axes.prod(axis=1))
    np.testing.assert_allclose(cert.log_volume[ok], closed, rtol=1e-6)
    unit_ball = math.log(math.pi) if norm == "l2" else math.log(2.0)  # areas of the unit l2 / l1 balls
    np.testing.assert_allclose(cert.log_volume[ok], unit_ball + 2 * np.log(cert.proxy_radius[ok]), rtol=1e-12)
    assert np.all(cert.log_volume[~ok] == -np.inf) and np.all(cert.radius[~ok] == 0)


@pytest.mark.parametrize("noise", [GaussianNoise(), UniformNoise()])
def test_log_volume_equals_proxy_ball_in_high_dimension(noise):
    d = 3072
    theta = np.random.default_rng(1).uniform(0.1, 0.6, size=(2, d)).astype(np.float32)
    gap = np.array([0.8, 2.1])
    proxy = noise.proxy_radius(gap, theta)
    unit = noise._log_unit_ball_volume(d)
    np.testing.assert_allclose(noise.log_volume(gap, theta, d), unit + d * np.log(proxy), rtol=1e-12)
    assert unit == pytest.approx(
        0.5 * d * math.log(math.pi) - special.gammaln(d / 2 + 1)
        if noise.norm == "l2"
        else d * math.log(2) - special.gammaln(d + 1),
        rel=1e-12,
    )


# -- T8: geometric mean at ImageNet size ------------------------------------------------------------


def test_geometric_mean_is_stable_in_float32_at_imagenet_size():
    d = 3 * 224 * 224  # 150528
    theta = torch.from_numpy(np.random.default_rng(2).uniform(0.05, 0.5, size=(2, d)).astype(np.float32))
    reference = np.exp(np.log(theta.numpy().astype(np.float64)).mean(axis=1))
    # the naive product underflows to 0 in float32 (and in float64)
    assert torch.prod(theta, dim=1).eq(0).all()
    assert np.all(np.prod(theta.numpy().astype(np.float64), axis=1) == 0)
    gm = _geometric_mean(theta.reshape(2, 3, 224, 224)).numpy()
    assert np.all(np.isfinite(gm))
    np.testing.assert_allclose(gm, reference, rtol=1e-5)
    proxy = GaussianNoise().proxy_radius(np.ones(2), theta.numpy())
    np.testing.assert_allclose(proxy, reference, rtol=1e-5)
    assert np.all(np.isfinite(GaussianNoise().log_volume(np.ones(2), theta.numpy(), d)))
