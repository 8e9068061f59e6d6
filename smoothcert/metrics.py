"""Certified accuracy, average certified radius and scikit-learn scorers over certificates.

Every function takes ``(y_true, certificates)``, where ``certificates`` is a
:class:`~smoothcert.Certificates` (from :meth:`SmoothedClassifier.certify`), a
:class:`~smoothcert.results.CertificationResults` (from a results file), or any object with their
per-row fields ``label``, ``abstained``, ``radius`` and ``proxy_radius``. A row counts at radius ``r``
when it is not abstained, its label equals ``y_true`` and its radius is at least ``r`` (inclusive):
the definition of Cohen et al.'s ``analyze.py`` (``ApproximateAccuracy``).
"""

import math

import numpy as np

from ._accuracy import accuracy_at, correct_and_radius
from ._fields import check_certificates
from ._validation import check_flag, check_float, check_probability, check_radii
from .pipeline import certify_pipeline

__all__ = [
    "certified_accuracy",
    "certified_accuracy_curve",
    "certified_accuracy_lower_bound",
    "average_certified_radius",
    "certified_accuracy_scorer",
    "acr_scorer",
]


def certified_accuracy(y_true, certificates, radii=(0.0,), *, proxy=False):
    """Fraction of inputs certified correct at each radius (Cohen et al.'s ``ApproximateAccuracy``).

    A row counts at radius ``r`` when it is not abstained, its label equals ``y_true`` and its
    radius is at least ``r`` (inclusive).

    Parameters
    ----------
    y_true : array-like of shape (n_inputs,)
        True labels.
    certificates : Certificates or CertificationResults
        Result of :meth:`SmoothedClassifier.certify` or of :func:`~smoothcert.results.read_results`.
    radii : float or sequence of float, default=(0.0,)
        Radii at which to evaluate.
    proxy : bool, default=False
        Compare ``proxy_radius`` (ANCER's volume-equivalent radius) instead of ``radius``.

    Returns
    -------
    accuracy : ndarray of float64, shape (len(radii),)

    See Also
    --------
    certified_accuracy_curve : The whole curve, on a grid where it is exact.
    certified_accuracy_lower_bound : A high-probability lower bound on it.

    Examples
    --------
    >>> import numpy as np
    >>> from smoothcert import Certificates
    >>> from smoothcert.metrics import certified_accuracy
    >>> cert = Certificates.from_arrays(label=np.array([0, 1, 1]), class_index=np.array([0, 1, 1]),
    ...     p_lower=np.full(3, 0.9), gap=np.ones(3), radius=np.array([0.2, 0.6, 1.0]),
    ...     sigma=np.full(3, 0.5), norm="l2", log_volume=np.zeros(3), proxy_radius=np.zeros(3),
    ...     abstained=np.zeros(3, bool), center=np.zeros((3, 2)), alpha=0.001)
    >>> certified_accuracy([0, 1, 0], cert, radii=[0.0, 0.5, 1.0]).tolist()
    [0.6666666666666666, 0.3333333333333333, 0.0]
    """
    return accuracy_at(y_true, certificates, radii, proxy=proxy)


def certified_accuracy_curve(y_true, certificates, radii=None, *, proxy=False):
    """Certified accuracy as a function of the radius.

    Certified accuracy is a non-increasing step function of ``r`` that only drops just after the
    radius of a correct row. The default grid holds ``0``, every radius of a correct row and the
    first float after the largest one (where the accuracy reaches 0), so the curve is exact
    everywhere: on ``(radii[k-1], radii[k]]`` the accuracy equals ``accuracy[k]`` (draw it with
    matplotlib's ``drawstyle="steps-pre"``, as :class:`~smoothcert.plotting.CertifiedAccuracyDisplay`
    does).

    Parameters
    ----------
    y_true : array-like of shape (n_inputs,)
        True labels.
    certificates : Certificates or CertificationResults
        Result of :meth:`SmoothedClassifier.certify` or of :func:`~smoothcert.results.read_results`.
    radii : array-like of float or None, default=None
        Grid to evaluate on (sorted ascending); ``None`` uses the exact grid described above.
    proxy : bool, default=False
        Use ``proxy_radius`` (ANCER's "proxy-radius certified accuracy") instead of ``radius``.

    Returns
    -------
    radii : ndarray of float64, shape (n_radii,)
        The grid.
    accuracy : ndarray of float64, shape (n_radii,)
        Certified accuracy at each radius of the grid.

    Examples
    --------
    >>> import numpy as np
    >>> from smoothcert import Certificates
    >>> from smoothcert.metrics import certified_accuracy_curve
    >>> cert = Certificates.from_arrays(label=np.array([0, 1, 1, -1]), class_index=np.array([0, 1, 1, -1]),
    ...     p_lower=np.array([0.9, 0.9, 0.9, 0.4]), gap=np.array([1.0, 1.0, 1.0, 0.0]),
    ...     radius=np.array([0.5, 0.25, 0.5, 0.0]), sigma=np.full(4, 0.5), norm="l2",
    ...     log_volume=np.zeros(4), proxy_radius=np.zeros(4), abstained=np.array([False, False, False, True]),
    ...     center=np.zeros((4, 2)), alpha=0.001)
    >>> radii, accuracy = certified_accuracy_curve([0, 1, 1, 1], cert)
    >>> radii[:3].tolist(), accuracy.tolist()
    ([0.0, 0.25, 0.5], [0.75, 0.75, 0.5, 0.0])
    """
    if radii is None:
        correct, radius = correct_and_radius(y_true, certificates, proxy)
        correct_radii = radius[correct]
        grid = [np.zeros(1), correct_radii]
        if correct_radii.size:
            grid.append([np.nextafter(correct_radii.max(), np.inf)])
        radii = np.unique(np.concatenate(grid).astype(np.float64))
    else:
        radii = check_radii(radii)
        if np.any(np.diff(radii) < 0):
            k = int(np.flatnonzero(np.diff(radii) < 0)[0])
            raise ValueError(
                f"radii must be a 1-D ascending sequence of radii (sort it), or None for the exact grid; "
                f"radii[{k + 1}] = {radii[k + 1]} is smaller than radii[{k}] = {radii[k]}."
            )
    return radii, certified_accuracy(y_true, certificates, radii, proxy=proxy)


def certified_accuracy_lower_bound(y_true, certificates, radii=(0.0,), *, rho=0.001, alpha=None, proxy=False):
    """A ``(1 - rho)``-confidence lower bound on certified accuracy (Cohen et al.'s ``HighProbAccuracy``).

    Each certificate is wrong with probability at most ``alpha`` (over the Monte Carlo noise), so
    the measured certified accuracy ``acc`` may count a few wrong certificates. By Bernstein's
    inequality on the number of such failures among ``N`` inputs, with probability at least
    ``1 - rho`` the accuracy of the true smoothed classifier's certificates is at least::

        acc - alpha - sqrt(alpha (1 - alpha) ln(1/rho) / N) - ln(1/rho) / (3 N)

    (Cohen, Rosenfeld and Kolter, 2019, "Certified Adversarial Robustness via Randomized
    Smoothing", ``analyze.py``). The value is not clipped at 0, as in the reference code.

    Parameters
    ----------
    y_true : array-like of shape (n_inputs,)
        True labels.
    certificates : Certificates or CertificationResults
        Result of :meth:`SmoothedClassifier.certify` or of :func:`~smoothcert.results.read_results`.
    radii : float or sequence of float, default=(0.0,)
        Radii at which to evaluate.
    rho : float, default=0.001
        Probability that the bound fails, in ``(0, 1)``.
    alpha : float or None, default=None
        Failure probability of each certificate; ``None`` takes ``certificates.alpha`` (a results
        file does not store it: pass it then).
    proxy : bool, default=False
        Use ``proxy_radius`` instead of ``radius``.

    Returns
    -------
    bound : ndarray of float64, shape (len(radii),)

    Examples
    --------
    >>> import numpy as np
    >>> from smoothcert import Certificates
    >>> from smoothcert.metrics import certified_accuracy_lower_bound
    >>> n = 1000
    >>> cert = Certificates.from_arrays(label=np.zeros(n, int), class_index=np.zeros(n, int),
    ...     p_lower=np.full(n, 0.9), gap=np.ones(n), radius=np.full(n, 0.5), sigma=np.full(n, 0.5),
    ...     norm="l2", log_volume=np.zeros(n), proxy_radius=np.full(n, 0.5),
    ...     abstained=np.zeros(n, bool), center=np.zeros((n, 2)), alpha=0.001)
    >>> certified_accuracy_lower_bound(np.zeros(n), cert, [0.0, 1.0], rho=0.001).round(4).tolist()
    [0.9941, -0.0059]
    """
    n_inputs = len(check_certificates(certificates))
    rho = check_probability(rho, "rho")
    if alpha is None:
        alpha = getattr(certificates, "alpha", None)
        if alpha is None:
            raise ValueError(
                "alpha is unknown for these certificates (results files do not store it); pass alpha=, "
                "the failure probability each certificate was computed at."
            )
    alpha = check_probability(alpha, "alpha")
    accuracy = accuracy_at(y_true, certificates, radii, proxy=proxy)
    if n_inputs == 0:
        return accuracy  # all nan, like certified_accuracy
    log_term = math.log(1.0 / rho)
    return accuracy - alpha - math.sqrt(alpha * (1.0 - alpha) * log_term / n_inputs) - log_term / (3.0 * n_inputs)


def average_certified_radius(y_true, certificates, *, proxy=False):
    """Mean of ``radius`` over inputs, counting wrong and abstained rows as 0 (MACER's ACR).

    Parameters
    ----------
    y_true : array-like of shape (n_inputs,)
        True labels.
    certificates : Certificates or CertificationResults
        Result of :meth:`SmoothedClassifier.certify` or of :func:`~smoothcert.results.read_results`.
    proxy : bool, default=False
        Average ``proxy_radius`` instead of ``radius``.

    Returns
    -------
    acr : float

    Examples
    --------
    >>> import numpy as np
    >>> from smoothcert import Certificates
    >>> from smoothcert.metrics import average_certified_radius
    >>> cert = Certificates.from_arrays(label=np.array([0, 1, 1]), class_index=np.array([0, 1, 1]),
    ...     p_lower=np.full(3, 0.9), gap=np.ones(3), radius=np.array([0.2, 0.6, 1.0]),
    ...     sigma=np.full(3, 0.5), norm="l2", log_volume=np.zeros(3), proxy_radius=np.zeros(3),
    ...     abstained=np.zeros(3, bool), center=np.zeros((3, 2)), alpha=0.001)
    >>> round(average_certified_radius([0, 1, 0], cert), 6)
    0.266667
    """
    correct, radius = correct_and_radius(y_true, certificates, proxy)
    return float(np.mean(np.where(correct, radius, 0.0))) if len(radius) else float("nan")


def certified_accuracy_scorer(radius=0.0, *, proxy=False):
    """A scorer ``(estimator, X, y) -> certified accuracy at radius``, for ``GridSearchCV``.

    ``sklearn.metrics.make_scorer`` cannot call ``certify``, so this returns a plain callable.
    The estimator may be a :class:`~sklearn.pipeline.Pipeline` ending in a
    :class:`~smoothcert.SmoothedClassifier` (see :func:`~smoothcert.certify_pipeline`: the
    radius is then in the space of the last step's input).

    Parameters
    ----------
    radius : float, default=0.0
        Radius at which certified accuracy is measured.
    proxy : bool, default=False
        Use the proxy radius.

    Returns
    -------
    scorer : callable

    Examples
    --------
    >>> from smoothcert.metrics import certified_accuracy_scorer
    >>> scorer = certified_accuracy_scorer(0.25)
    >>> callable(scorer)
    True
    """

    radius = check_float(radius, "radius", low=0.0, low_inclusive=True, what="where certified accuracy is measured")
    proxy = check_flag(proxy, "proxy")

    def scorer(estimator, X, y):
        return float(certified_accuracy(y, certify_pipeline(estimator, X), [radius], proxy=proxy)[0])

    return scorer


def acr_scorer(*, proxy=False):
    """A scorer ``(estimator, X, y) -> average certified radius``, for ``GridSearchCV``.

    The estimator may be a :class:`~sklearn.pipeline.Pipeline` ending in a
    :class:`~smoothcert.SmoothedClassifier` (see :func:`~smoothcert.certify_pipeline`).

    Parameters
    ----------
    proxy : bool, default=False
        Average the proxy radius.

    Returns
    -------
    scorer : callable

    Examples
    --------
    >>> from smoothcert.metrics import acr_scorer
    >>> callable(acr_scorer())
    True
    """

    proxy = check_flag(proxy, "proxy")

    def scorer(estimator, X, y):
        return average_certified_radius(y, certify_pipeline(estimator, X), proxy=proxy)

    return scorer
