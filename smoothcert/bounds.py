"""Confidence bounds for Monte Carlo vote counts (scipy.stats only).

Cohen et al. (2019), "Certified Adversarial Robustness via Randomized Smoothing", use a one-sided
Clopper-Pearson bound in CERTIFY and a two-sided binomial test in PREDICT.
"""

from abc import ABC, abstractmethod

import numpy as np
from scipy import stats

__all__ = [
    "ConfidenceBound",
    "ClopperPearson",
    "clopper_pearson_lower",
    "clopper_pearson_upper",
    "binomial_test_pvalue",
    "max_p_lower",
    "min_samples_to_certify",
]


def clopper_pearson_lower(k, n, alpha):
    """One-sided ``(1 - alpha)`` Clopper-Pearson lower bound on a binomial proportion.

    It is the ``p`` that solves ``P[Binomial(n, p) >= k] = alpha``, i.e.
    ``scipy.stats.beta.ppf(alpha, k, n - k + 1)``, and ``0`` when ``k = 0``.

    Parameters
    ----------
    k : array-like of int
        Number of successes.
    n : int or array-like of int
        Number of trials.
    alpha : float
        Probability that the bound exceeds the true proportion, in ``(0, 1)``.

    Returns
    -------
    p_lower : ndarray of float64
        The lower bounds, same shape as ``np.broadcast(k, n)``.

    Examples
    --------
    >>> from smoothcert.bounds import clopper_pearson_lower
    >>> round(float(clopper_pearson_lower(90, 100, 0.001)), 6)
    0.77533
    >>> float(clopper_pearson_lower(0, 100, 0.001))
    0.0
    """
    k = np.asarray(k, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    k, n = np.broadcast_arrays(k, n)
    out = np.zeros(k.shape, dtype=np.float64)
    positive = k > 0
    # beta.ppf(alpha, 0, n + 1) is nan: the k = 0 bound is 0 by definition.
    out[positive] = stats.beta.ppf(alpha, k[positive], n[positive] - k[positive] + 1)
    return out


def clopper_pearson_upper(k, n, alpha):
    """One-sided ``(1 - alpha)`` Clopper-Pearson upper bound, ``1`` when ``k = n``.

    The mirror image of :func:`clopper_pearson_lower`: ``1 - clopper_pearson_lower(n - k, n, alpha)``.

    Examples
    --------
    >>> from smoothcert.bounds import clopper_pearson_upper
    >>> round(float(clopper_pearson_upper(10, 100, 0.001)), 6)
    0.22467
    >>> float(clopper_pearson_upper(100, 100, 0.001))
    1.0
    """
    k, n = np.broadcast_arrays(np.asarray(k, dtype=np.float64), np.asarray(n, dtype=np.float64))
    return 1.0 - clopper_pearson_lower(n - k, n, alpha)


class ConfidenceBound(ABC):
    """One-sided confidence bounds on a binomial proportion, the statistics of certification.

    A bound offered for certification must be exact: ``P[lower(K, n, alpha) > p] <= alpha`` for
    every ``p`` and ``n`` (``K ~ Binomial(n, p)``), not only asymptotically (the Wilson and normal
    approximations are not). The sequential and adaptive procedures call the same interface at
    their own levels.

    Examples
    --------
    >>> from smoothcert.bounds import ClopperPearson
    >>> bound = ClopperPearson()
    >>> bool(bound.lower(90, 100, 0.01) < 0.9 < bound.upper(90, 100, 0.01))
    True
    """

    @abstractmethod
    def lower(self, k, n, alpha):
        """``(1 - alpha)`` lower bounds for counts ``k`` out of ``n`` (arrays broadcast)."""

    @abstractmethod
    def upper(self, k, n, alpha):
        """``(1 - alpha)`` upper bounds for counts ``k`` out of ``n`` (arrays broadcast)."""


class ClopperPearson(ConfidenceBound):
    """Clopper-Pearson's exact bounds (the default, as in Cohen et al.'s CERTIFY)."""

    def lower(self, k, n, alpha):
        return clopper_pearson_lower(k, n, alpha)

    def upper(self, k, n, alpha):
        return clopper_pearson_upper(k, n, alpha)


def binomial_test_pvalue(n_a, n_b):
    """Two-sided p-value of ``n_a`` successes in ``n_a + n_b`` fair-coin trials.

    Vectorised equivalent of ``scipy.stats.binomtest(n_a, n_a + n_b, 0.5).pvalue`` (the test of
    Cohen et al.'s PREDICT); the distribution is symmetric, so the p-value is twice the smaller tail.

    Parameters
    ----------
    n_a, n_b : array-like of int
        Counts of the top and runner-up classes.

    Returns
    -------
    pvalue : ndarray of float64

    Examples
    --------
    >>> from smoothcert.bounds import binomial_test_pvalue
    >>> float(binomial_test_pvalue(50, 50))
    1.0
    >>> bool(binomial_test_pvalue(90, 10) < 1e-10)
    True
    """
    n_a = np.asarray(n_a, dtype=np.int64)
    n_b = np.asarray(n_b, dtype=np.int64)
    total = n_a + n_b
    smaller = np.minimum(n_a, n_b)
    pvalue = 2.0 * stats.binom.cdf(smaller, total, 0.5)
    return np.minimum(pvalue, 1.0)


def max_p_lower(n, alpha):
    """Largest lower bound ``n`` samples can give: ``alpha ** (1 / n)`` (all ``n`` votes agree).

    Examples
    --------
    >>> from smoothcert.bounds import max_p_lower
    >>> round(max_p_lower(100_000, 0.001), 8)
    0.99993092
    """
    return float(alpha ** (1.0 / n))


def min_samples_to_certify(alpha, p_lower=0.5):
    """Smallest ``n`` for which ``max_p_lower(n, alpha) > p_lower`` (below it, every input abstains).

    Examples
    --------
    >>> from smoothcert.bounds import min_samples_to_certify
    >>> min_samples_to_certify(0.001)
    10
    """
    # alpha**(1/n) > p  <=>  n > log(alpha) / log(p)
    return int(np.floor(np.log(alpha) / np.log(p_lower))) + 1
