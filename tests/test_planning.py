import math

import pytest
from scipy import stats

from smoothcert.bounds import min_samples_to_certify
from smoothcert.planning import max_certifiable_radius, min_samples_for_radius


@pytest.mark.parametrize(
    "n, alpha, cap_over_sigma",
    [(100_000, 0.001, 3.81146), (10_000, 0.001, 3.19858), (1000, 0.001, 2.46326)],  # THEORY.md 0.1
)
def test_l2_cap_matches_theory_table(n, alpha, cap_over_sigma):
    assert max_certifiable_radius(1.0, n, alpha) == pytest.approx(cap_over_sigma, abs=1e-5)
    assert max_certifiable_radius(0.25, n, alpha) == pytest.approx(0.25 * cap_over_sigma, abs=1e-5)


def test_l1_cap_is_closed_form_and_below_sigma():
    for n, alpha, sigma in [(100_000, 0.001, 0.5), (1000, 0.01, 2.0), (20, 0.001, 1.0)]:
        expected = 2 * sigma * (alpha ** (1 / n) - 0.5)
        assert max_certifiable_radius(sigma, n, alpha, norm="l1") == pytest.approx(expected, rel=1e-12)
        assert max_certifiable_radius(sigma, n, alpha, norm="l1") < sigma


def test_cap_is_zero_below_the_smallest_useful_n():
    n_min = min_samples_to_certify(0.001)
    assert max_certifiable_radius(0.5, n_min - 1, 0.001) == 0.0
    assert max_certifiable_radius(0.5, n_min, 0.001) > 0.0


@pytest.mark.parametrize("norm", ["l2", "l1"])
@pytest.mark.parametrize(
    "radius, sigma, alpha", [(0.2, 0.25, 0.001), (0.1, 0.5, 0.01), (0.9, 1.0, 1e-5), (1e-4, 1.0, 0.001)]
)
def test_min_samples_is_the_smallest_n_reaching_the_radius(norm, radius, sigma, alpha):
    n = min_samples_for_radius(radius, sigma, alpha, norm)
    assert max_certifiable_radius(sigma, n, alpha, norm) >= radius > max_certifiable_radius(sigma, n - 1, alpha, norm)
    # closed form: alpha ** (1/n) >= p*, the bound whose radius is `radius`
    p_star = stats.norm.cdf(radius / sigma) if norm == "l2" else 0.5 + radius / (2 * sigma)
    assert n == math.ceil(math.log(alpha) / math.log(p_star))


def test_min_samples_edge_cases_and_errors():
    assert min_samples_for_radius(0.0, 0.5, 0.001) == min_samples_to_certify(0.001)  # any certificate at all
    with pytest.raises(ValueError, match="uniform noise never certifies"):
        min_samples_for_radius(0.5, 0.5, norm="l1")
    with pytest.raises(ValueError, match="Gaussian radii"):
        min_samples_for_radius(9.0, 1.0)
    with pytest.raises(ValueError, match="radius must be"):
        min_samples_for_radius(-0.1, 1.0)
    with pytest.raises(ValueError, match="norm must be"):
        min_samples_for_radius(0.1, 1.0, norm="linf")
    with pytest.raises(ValueError, match="alpha"):
        max_certifiable_radius(1.0, 100, alpha=1.5)
    with pytest.raises(TypeError, match="n must be an int"):
        max_certifiable_radius(1.0, 100.0)
    with pytest.raises(ValueError, match="sigma"):
        max_certifiable_radius(-1.0, 100)
