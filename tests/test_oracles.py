"""Monte Carlo certificates against the closed forms of linear base classifiers (THEORY.md 6-7)."""

import numpy as np
import pytest
from linear_models import smoothed_linear
from scipy import stats

D = 10
W = np.linspace(-1.0, 2.0, D)
B = 0.3


def _points_with_margins(margins, w=W, b=B, seed=0):
    """Distinct inputs x with w.x + b equal to the given margins (random components orthogonal to w)."""
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(len(margins), len(w)))
    Z -= np.outer(Z @ w / (w @ w), w)
    return (Z + np.outer((np.asarray(margins) - b) / (w @ w), w)).astype(np.float32)


def _exact_margin(X, w=W, b=B):
    return X.astype(np.float64) @ w + b


@pytest.mark.parametrize("sigma", [0.25, 1.0])
def test_gaussian_radius_below_exact_distance_and_converges(sigma):
    X = _points_with_margins(np.linspace(0.3, 2.0, 12))
    exact_radius = _exact_margin(X) / np.linalg.norm(W)
    radii = {}
    for n in (1_000, 100_000):
        cert = smoothed_linear(W, B, sigma=sigma, n=n, alpha=0.001, batch_size=4096).certify(X)
        assert (cert.label[~cert.abstained] == 1).all()
        radii[n] = cert.radius
        # probability of a single violation: alpha per row, 12 rows -> <= 1.2% (fixed seed: deterministic)
        assert np.all(cert.radius <= exact_radius + 1e-6)
        # the cap sigma * Phi^-1(alpha^(1/n)) holds whatever the classifier
        assert np.all(cert.radius <= sigma * stats.norm.isf(1 - 0.001 ** (1 / n)) + 1e-9)
    # convergence from below: the larger sample is closer wherever the exact radius is below the cap
    reachable = exact_radius < 0.9 * sigma * stats.norm.isf(1 - 0.001 ** (1 / 100_000))
    assert np.all(radii[100_000][reachable] >= radii[1_000][reachable])
    np.testing.assert_allclose(radii[100_000][reachable], exact_radius[reachable], rtol=0.06, atol=0.02 * sigma)


def test_gaussian_p_lower_matches_exact_probability():
    sigma = 0.5
    X = _points_with_margins([0.2, 0.5, 1.0])
    exact_p = stats.norm.cdf(_exact_margin(X) / (sigma * np.linalg.norm(W)))
    cert = smoothed_linear(W, B, sigma=sigma, n=200_000, alpha=0.001, batch_size=10_000).certify(X)
    # p_lower is below p and within ~5 standard errors (each check fails with probability < 1e-6)
    sd = np.sqrt(exact_p * (1 - exact_p) / 200_000)
    assert np.all(cert.p_lower <= exact_p)
    assert np.all(exact_p - cert.p_lower < 7 * sd)


def test_coverage_rate_of_certificates():
    """Fraction of certificates exceeding the exact radius is at most alpha (+ tolerance).

    400 distinct inputs give independent certificates at alpha = 0.1; the count of violations is at
    most Binomial(400, 0.1) (mean 40, sd 6), so the threshold 40 + 4 sd = 64 fails by chance with
    probability < 1e-4.
    """
    sigma, alpha = 0.5, 0.1
    X = _points_with_margins(np.random.default_rng(1).uniform(0.05, 1.0, 400), seed=2)
    exact_radius = _exact_margin(X) / np.linalg.norm(W)
    cert = smoothed_linear(W, B, sigma=sigma, n=200, n0=20, alpha=alpha).certify(X)
    wrong_or_too_large = (cert.label != 1) & ~cert.abstained | (cert.radius > exact_radius)
    assert wrong_or_too_large.sum() <= 64
    assert (~cert.abstained).mean() > 0.5  # the test is not vacuous


def test_uniform_l1_axis_aligned_is_tight():
    # f = 1[x_k > thr]: p = clip((m + lam) / (2 lam), 0, 1), exact l1 radius m (THEORY 6.3)
    k, thr, lam = 3, 0.2, 0.7
    w = np.zeros(D)
    w[k] = 1.0
    margins = np.array([0.05, 0.2, 0.4, 0.6])
    X = np.zeros((4, D), dtype=np.float32)
    X[:, k] = thr + margins
    X[:, 0] = np.arange(4)  # distinct rows, irrelevant coordinate
    cert = smoothed_linear(w, -thr, sigma=lam, norm="l1", n=100_000, alpha=0.001, batch_size=8192).certify(X)
    exact_p = np.clip((margins + lam) / (2 * lam), 0, 1)
    assert np.all(cert.p_lower <= exact_p)
    assert np.all(cert.radius <= margins + 1e-6)
    np.testing.assert_allclose(cert.radius, margins, atol=0.015)


def test_uniform_l1_general_direction_is_below_true_distance():
    # the true l1 distance to {w.x + b = 0} is m / ||w||_inf; a certificate must never exceed it
    X = _points_with_margins([0.1, 0.3, 0.6], seed=3)
    exact = _exact_margin(X) / np.abs(W).max()
    cert = smoothed_linear(W, B, sigma=0.5, norm="l1", n=20_000, alpha=0.001).certify(X)
    assert np.all(cert.radius <= exact + 1e-6)


def test_constant_classifier_reaches_the_cap():
    # a base classifier that always says 1 certifies exactly sigma * Phi^-1(alpha^(1/n))
    w = np.zeros(3)
    cert = smoothed_linear(w, 1.0, sigma=0.5, n=1000, alpha=0.001).certify(np.zeros((2, 3), np.float32))
    np.testing.assert_allclose(cert.radius, 0.5 * 2.46326, atol=1e-5)
    np.testing.assert_allclose(cert.p_lower, 0.99311605, atol=1e-8)


def test_predict_abstains_on_ties():
    """Cohen's PREDICT returns a class on a true tie with probability <= alpha.

    f = 1[x_0 > 0] at x_0 = 0 has p_A = p_B = 1/2; 400 distinct inputs, alpha = 0.05: the number of
    non-abstentions is at most Binomial(400, 0.05) (mean 20, sd 4.4); threshold 20 + 4 sd = 38 fails by
    chance with probability < 1e-4.
    """
    w = np.zeros(4)
    w[0] = 1.0
    X = np.random.default_rng(0).normal(size=(400, 4)).astype(np.float32)
    X[:, 0] = 0.0
    pred = smoothed_linear(w, 0.0, sigma=0.5, n=500, alpha=0.05).predict(X, abstain=True)
    assert (pred != -1).sum() <= 38


def test_predict_returns_true_class_when_margin_is_large():
    X = _points_with_margins([1.5, 2.0, -1.5, -2.0])
    clf = smoothed_linear(W, B, sigma=0.25, n=1000, alpha=0.001)
    np.testing.assert_array_equal(clf.predict(X, abstain=True), [1, 1, 0, 0])
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
