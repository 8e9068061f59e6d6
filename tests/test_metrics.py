import math

import numpy as np
import pytest
from certificate_factory import make_certificates, with_radius
from linear_models import smoothed_linear

from smoothcert.metrics import (
    acr_scorer,
    average_certified_radius,
    certified_accuracy,
    certified_accuracy_curve,
    certified_accuracy_lower_bound,
    certified_accuracy_scorer,
)


def brute_force_accuracy(y_true, certificates, r, proxy=False):
    """Cohen's ApproximateAccuracy row by row: correct and radius >= r (abstain is wrong)."""
    radius = certificates.proxy_radius if proxy else certificates.radius
    hits = [
        (not a) and label == y and rad >= r
        for a, label, y, rad in zip(certificates.abstained, certificates.label, y_true, radius)
    ]
    return sum(hits) / len(hits)


def test_certified_accuracy_hand_computed():
    # rows: correct r=0.5, correct r=0.25, wrong r=1.0, abstained (label -1 == y -1 must not count)
    cert = with_radius([0.5, 0.25, 1.0, 0.0], [1, 0, 1, -1])
    y = [1, 0, 0, -1]
    assert certified_accuracy(y, cert, [0.0, 0.25, 0.26, 0.5, 0.51, 2.0]).tolist() == [0.5, 0.5, 0.25, 0.25, 0.0, 0.0]
    assert certified_accuracy(y, cert, 0.25).tolist() == [0.5]  # a scalar radius, bound inclusive


def test_certified_accuracy_matches_brute_force_with_ties_and_proxy():
    rng = np.random.default_rng(0)
    n = 300
    y = rng.integers(0, 3, n)
    label = np.where(rng.random(n) < 0.15, -1, np.where(rng.random(n) < 0.7, y, (y + 1) % 3))
    # per-dimension sigma: proxy radius differs from radius; gaps on a coarse grid make ties
    cert = make_certificates(rng.integers(0, 8, n) / 4, label, sigma=rng.uniform(0.1, 1.0, (n, 3)))
    radii = np.unique(np.concatenate([cert.radius, cert.proxy_radius, [0.0, 10.0]]))
    for proxy in (False, True):
        expected = [brute_force_accuracy(y, cert, r, proxy) for r in radii]
        np.testing.assert_array_equal(certified_accuracy(y, cert, radii, proxy=proxy), expected)


def test_curve_default_grid_is_exact():
    rng = np.random.default_rng(1)
    n = 200
    y = rng.integers(0, 2, n)
    label = np.where(rng.random(n) < 0.1, -1, np.where(rng.random(n) < 0.8, y, 1 - y))
    cert = with_radius(rng.integers(1, 40, n) / 20, label)
    grid, accuracy = certified_accuracy_curve(y, cert)
    correct = (~cert.abstained) & (cert.label == y)
    assert grid[0] == 0.0 and accuracy[-1] == 0.0 and np.all(np.diff(grid) > 0)
    assert set(cert.radius[correct]) <= set(grid)
    # between grid points the accuracy is the value at the right end (drawstyle="steps-pre")
    for r in np.concatenate([rng.uniform(0, 2.5, 300), grid]):
        k = np.searchsorted(grid, r, side="left")
        expected = accuracy[k] if k < len(grid) else 0.0
        assert brute_force_accuracy(y, cert, r) == expected


def test_curve_on_given_grid_and_edge_cases():
    cert = with_radius([0.5, 0.25], [1, 0])
    radii, accuracy = certified_accuracy_curve([1, 0], cert, [0.0, 0.3, 0.6])
    assert radii.tolist() == [0.0, 0.3, 0.6] and accuracy.tolist() == [1.0, 0.5, 0.0]
    assert certified_accuracy_curve([0, 1], cert)[0].tolist() == [0.0]  # nothing correct
    with pytest.raises(ValueError, match="ascending"):
        certified_accuracy_curve([1, 0], cert, [0.5, 0.0])


def test_lower_bound_matches_hand_computed_formula():
    n = 400
    y = np.zeros(n, int)
    label = np.where(np.arange(n) < 300, 0, 1)  # 300 of 400 correct, all with radius 0.5
    cert = with_radius(np.full(n, 0.5), label, alpha=0.01)
    # Cohen's HighProbAccuracy, written out: acc - a - sqrt(a (1-a) ln(1/rho) / N) - ln(1/rho) / (3 N)
    a, rho = 0.01, 0.05
    expected = 0.75 - a - math.sqrt(a * (1 - a) * math.log(1 / rho) / n) - math.log(1 / rho) / (3 * n)
    bound = certified_accuracy_lower_bound(y, cert, [0.0, 1.0], rho=rho)
    assert bound[0] == pytest.approx(expected, rel=1e-12)
    assert bound[1] == pytest.approx(expected - 0.75, rel=1e-12)
    # an explicit alpha overrides the certificates' own
    assert certified_accuracy_lower_bound(y, cert, rho=rho, alpha=0.001)[0] > bound[0]


def test_lower_bound_validates_rho_and_alpha():
    cert = with_radius([0.5], [0])
    with pytest.raises(ValueError, match="rho"):
        certified_accuracy_lower_bound([0], cert, rho=1.0)
    with pytest.raises(ValueError, match="alpha"):
        certified_accuracy_lower_bound([0], cert, alpha=0.0)


def test_average_certified_radius_hand_computed():
    cert = with_radius([0.5, 0.25, 1.0, 0.0], [1, 0, 1, -1])
    assert average_certified_radius([1, 0, 0, -1], cert) == pytest.approx((0.5 + 0.25) / 4)


def test_empty_and_mismatched_inputs():
    empty = with_radius(np.zeros(0), np.zeros(0, int))
    assert np.isnan(certified_accuracy([], empty, [0.0, 1.0])).all()
    assert np.isnan(certified_accuracy_lower_bound([], empty)).all()
    assert math.isnan(average_certified_radius([], empty))
    with pytest.raises(ValueError, match="y_true must have shape"):
        certified_accuracy([0, 1, 2], with_radius([0.5], [0]))


def test_scorers_agree_with_the_metrics_on_a_linear_model():
    # f(x) = 1[x_0 > 0]: certify points at distances 0.1..0.8 from the boundary
    clf = smoothed_linear([1.0, 0.0], 0.0, sigma=0.25, n=2000, n0=50)
    X = np.array([[d, 0.0] for d in (-0.8, -0.3, 0.1, 0.4, 0.8)], dtype=np.float32)
    y = np.array([0, 0, 1, 1, 0])  # the last is labelled wrong on purpose
    cert = clf.certify(X)
    assert certified_accuracy_scorer(0.2)(clf, X, y) == certified_accuracy(y, cert, [0.2])[0]
    assert acr_scorer()(clf, X, y) == average_certified_radius(y, cert)
