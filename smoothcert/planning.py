"""Sample-size planning: what radius ``n`` samples can certify at all, and how many samples a radius needs.

With ``n`` Monte Carlo samples the Clopper-Pearson lower bound can never exceed ``alpha ** (1/n)``
(the bound when all ``n`` votes agree), so whatever the classifier, no certificate is larger than
the radius at that bound: ``sigma * Phi^-1(alpha ** (1/n))`` for Gaussian noise (``3.81 sigma`` at
``n = 10^5``, ``alpha = 10^-3``) and ``2 sigma (alpha ** (1/n) - 1/2)`` for uniform noise (which
never reaches ``sigma``). These helpers answer "why does everything abstain?" and "how large must
``n`` be?" before a long certification run.
"""

import numpy as np

from ._validation import check_float, check_int, check_probability
from .bounds import max_p_lower, min_samples_to_certify
from .noise import get_noise
from .sigma.base import check_scale

__all__ = ["max_certifiable_radius", "min_samples_for_radius"]

# alpha ** (1/n) rounds to 1.0 in float64 past about n = 10^16, where the cap stops being defined.
_LARGEST_N = 2**53


def _check_norm(norm):
    if not isinstance(norm, str) or norm not in ("l2", "l1"):
        raise ValueError(f"norm must be 'l2' (Gaussian noise) or 'l1' (uniform noise), got {norm!r}.")
    return get_noise(norm)


def _finite(radius, **settings):
    """``radius``, refused when float overflow made it infinite (e.g. ``sigma=1e308``)."""
    if not np.isfinite(radius):
        shown = ", ".join(f"{k}={v!r}" for k, v in settings.items())
        raise ValueError(
            f"the certifiable radius is not finite in float64 for {shown} (alpha ** (1/n) rounds to 1, or sigma "
            "is too large); use a smaller n or sigma."
        )
    return radius


def max_certifiable_radius(sigma, n, alpha=0.001, norm="l2"):
    """Largest radius that ``n`` samples can ever certify at level ``alpha``, whatever the classifier.

    It is the radius at the largest possible lower bound ``alpha ** (1/n)``:
    ``sigma * Phi^-1(alpha ** (1/n))`` for ``norm="l2"`` and ``2 sigma (alpha ** (1/n) - 1/2)`` for
    ``norm="l1"``; ``0`` when ``n`` is too small to certify anything.

    Parameters
    ----------
    sigma : float
        Noise scale (Gaussian standard deviation for ``"l2"``, uniform half-width for ``"l1"``). For
        per-dimension scales pass their minimum: the worst-case radius scales with it.
    n : int
        Number of samples that bound the top class's probability (``SmoothedClassifier.n``).
    alpha : float, default=0.001
        Failure probability of the certificate, in ``(0, 1)``.
    norm : {"l2", "l1"}, default="l2"
        Noise family.

    Returns
    -------
    radius : float

    Raises
    ------
    TypeError
        If ``sigma`` or ``alpha`` is not a real number or ``n`` not an int.
    ValueError
        If ``sigma`` is not positive and finite, ``n < 1`` or ``n > 2**53``, ``alpha`` is outside
        ``(0, 1)`` or ``norm`` is unknown; or if the radius is not finite in float64 (a huge
        ``sigma``, or ``alpha`` so close to 1 that ``alpha ** (1/n)`` rounds to 1).

    See Also
    --------
    min_samples_for_radius : The inverse question.
    smoothcert.bounds.max_p_lower : The largest lower bound ``alpha ** (1/n)``.

    Examples
    --------
    >>> from smoothcert.planning import max_certifiable_radius
    >>> round(max_certifiable_radius(1.0, 100_000, 0.001), 5)
    3.81146
    >>> round(max_certifiable_radius(0.5, 100_000, 0.001, norm="l1"), 5)
    0.49993
    >>> max_certifiable_radius(0.25, 5, 0.001)
    0.0
    """
    sigma = check_scale(sigma, "sigma", float32=False)  # planning computes in float64
    n = check_int(n, "n", 1)
    if n > _LARGEST_N:
        raise ValueError(
            f"n must be an int <= 2**53 ({_LARGEST_N}), got {n}: beyond it alpha ** (1/n) rounds to 1 in float64 "
            "and the cap is not defined."
        )
    alpha = check_probability(alpha, "alpha")
    return _finite(_cap(sigma, n, alpha, _check_norm(norm)), sigma=sigma, n=n, alpha=alpha)


def _cap(sigma, n, alpha, noise):
    return sigma * float(noise.gap(max_p_lower(n, alpha)))


def min_samples_for_radius(radius, sigma, alpha=0.001, norm="l2"):
    """Smallest ``n`` whose :func:`max_certifiable_radius` reaches ``radius`` (and that can certify at all).

    Fewer samples make certificates of at least ``radius`` impossible (even for a classifier that
    is right on every noisy copy); more samples leave room for disagreeing votes. The result is
    exact for the float computation of :func:`max_certifiable_radius`: ``n`` reaches the radius
    and ``n - 1`` does not.

    Parameters
    ----------
    radius : float
        Target certified radius, ``>= 0``, in the units of the inputs.
    sigma : float
        Noise scale (Gaussian standard deviation for ``"l2"``, uniform half-width for ``"l1"``).
    alpha : float, default=0.001
        Failure probability of the certificate, in ``(0, 1)``.
    norm : {"l2", "l1"}, default="l2"
        Noise family.

    Returns
    -------
    n : int

    Raises
    ------
    TypeError
        If ``radius``, ``sigma`` or ``alpha`` is not a real number.
    ValueError
        If ``radius`` is negative or not finite, ``sigma`` not positive and finite, ``alpha``
        outside ``(0, 1)`` or ``norm`` unknown; or if no number of samples reaches ``radius``:
        uniform noise never certifies an l1 radius of ``sigma`` or more, and a Gaussian radius
        beyond about ``8 sigma`` needs more than ``2**53`` samples.

    Examples
    --------
    >>> from smoothcert.planning import max_certifiable_radius, min_samples_for_radius
    >>> n = min_samples_for_radius(1.0, sigma=0.25, alpha=0.001)
    >>> n
    218105
    >>> max_certifiable_radius(0.25, n) >= 1.0 > max_certifiable_radius(0.25, n - 1)
    True
    """
    radius = check_float(radius, "radius", low=0.0, low_inclusive=True, what="the target certified radius")
    sigma = check_scale(sigma, "sigma", float32=False)  # planning computes in float64
    alpha = check_probability(alpha, "alpha")
    noise = _check_norm(norm)

    def reaches(n):
        # alpha ** (1/n) == 1.0 is float rounding (n past ~10^16), not an infinite radius.
        return max_p_lower(n, alpha) < 1.0 and _cap(sigma, n, alpha, noise) >= radius

    # Below min_samples_to_certify every bound is <= 1/2: nothing, not even radius 0, is certified.
    low = min_samples_to_certify(alpha) - 1
    high = low + 1
    while not reaches(high):
        if high >= _LARGEST_N:
            reason = (
                "uniform noise never certifies an l1 radius of sigma or more"
                if norm == "l1"
                else "Gaussian radii beyond about 8 sigma need more samples than that"
            )
            raise ValueError(
                f"no number of samples up to 2**53 certifies radius {radius} with sigma={sigma}, "
                f"norm={norm!r}, alpha={alpha} ({reason}); use a larger sigma."
            )
        low, high = high, min(2 * high, _LARGEST_N)
    # Invariant: reaches(high) and not reaches(low); the cap grows with n.
    while high - low > 1:
        middle = (low + high) // 2
        if reaches(middle):
            high = middle
        else:
            low = middle
    return int(high)
