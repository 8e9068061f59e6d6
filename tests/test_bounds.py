import numpy as np
import pytest
from scipy import stats

from smoothcert.bounds import binomial_test_pvalue, clopper_pearson_lower, max_p_lower, min_samples_to_certify


@pytest.mark.parametrize(
    "n, k, alpha, expected, expected_quantile",
    [  # THEORY.md section 0.1
        (100_000, 99_990, 0.001, 0.99975868, 3.49021),
        (100_000, 100_000, 0.001, 0.99993092, 3.81146),
        (1000, 1000, 0.001, 0.99311605, 2.46326),
        (100, 90, 0.001, 0.77532988, 0.75652),
    ],
)
def test_clopper_pearson_reference_values(n, k, alpha, expected, expected_quantile):
    p = clopper_pearson_lower(k, n, alpha)
    assert p == pytest.approx(expected, abs=1e-8)
    assert stats.norm.isf(1 - p) == pytest.approx(expected_quantile, abs=1e-5)
    # the bound is the p solving P[Bin(n, p) >= k] = alpha
    assert stats.binom.sf(k - 1, n, p) == pytest.approx(alpha, abs=1e-9)


def test_clopper_pearson_matches_beta_ppf_and_edge_cases():
    rng = np.random.default_rng(0)
    n = 1000
    k = rng.integers(1, n + 1, size=50)
    np.testing.assert_allclose(clopper_pearson_lower(k, n, 0.01), stats.beta.ppf(0.01, k, n - k + 1), rtol=1e-12)
    assert clopper_pearson_lower(0, n, 0.01) == 0.0
    assert clopper_pearson_lower(n, n, 0.01) == pytest.approx(0.01 ** (1 / n), rel=1e-12)
    assert np.all(np.diff(clopper_pearson_lower(np.arange(n + 1), n, 0.01)) > 0)  # monotone in k


def test_binomial_test_matches_scipy():
    for n_a, n_b in [(50, 50), (60, 40), (90, 10), (0, 7), (3, 0), (501, 480), (1, 1)]:
        expected = stats.binomtest(n_a, n_a + n_b, 0.5).pvalue
        assert binomial_test_pvalue(n_a, n_b) == pytest.approx(expected, rel=1e-10, abs=1e-300)


def test_sample_size_planning():
    assert max_p_lower(100_000, 0.001) == pytest.approx(0.99993092, abs=1e-8)
    n_min = min_samples_to_certify(0.001)
    assert max_p_lower(n_min, 0.001) > 0.5 >= max_p_lower(n_min - 1, 0.001)
