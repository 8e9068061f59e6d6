"""Certified accuracy, average certified radius and scikit-learn scorers over certificates."""

import numpy as np

__all__ = [
    "certified_accuracy",
    "average_certified_radius",
    "certified_accuracy_scorer",
    "acr_scorer",
]


def _correct(y_true, certificates):
    y_true = np.asarray(y_true)
    if y_true.shape != (len(certificates),):
        raise ValueError(
            f"y_true must have shape ({len(certificates)},) to match the certificates, got {y_true.shape}."
        )
    return (~certificates.abstained) & (certificates.label == y_true)


def certified_accuracy(y_true, certificates, radii=(0.0,), *, proxy=False):
    """Fraction of inputs certified correct at each radius (Cohen et al.'s ``ApproximateAccuracy``).

    A row counts at radius ``r`` when it is not abstained, its label equals ``y_true`` and its
    radius is at least ``r`` (inclusive).

    Parameters
    ----------
    y_true : array-like of shape (n_inputs,)
        True labels.
    certificates : Certificates
        Result of :meth:`SmoothedClassifier.certify`.
    radii : float or sequence of float, default=(0.0,)
        Radii at which to evaluate.
    proxy : bool, default=False
        Compare ``proxy_radius`` (ANCER's volume-equivalent radius) instead of ``radius``.

    Returns
    -------
    accuracy : ndarray of float64, shape (len(radii),)

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
    correct = _correct(y_true, certificates)
    radius = certificates.proxy_radius if proxy else certificates.radius
    radii = np.atleast_1d(np.asarray(radii, dtype=np.float64))
    if len(certificates) == 0:
        return np.full(radii.shape, np.nan)
    return (correct[None, :] & (radius[None, :] >= radii[:, None])).mean(axis=1)


def average_certified_radius(y_true, certificates, *, proxy=False):
    """Mean of ``radius`` over inputs, counting wrong and abstained rows as 0 (MACER's ACR).

    Parameters
    ----------
    y_true : array-like of shape (n_inputs,)
        True labels.
    certificates : Certificates
        Result of :meth:`SmoothedClassifier.certify`.
    proxy : bool, default=False
        Average ``proxy_radius`` instead of ``radius``.

    Returns
    -------
    acr : float
    """
    correct = _correct(y_true, certificates)
    radius = certificates.proxy_radius if proxy else certificates.radius
    return float(np.mean(np.where(correct, radius, 0.0))) if len(certificates) else float("nan")


def certified_accuracy_scorer(radius=0.0, *, proxy=False):
    """A scorer ``(estimator, X, y) -> certified accuracy at radius``, for ``GridSearchCV``.

    ``sklearn.metrics.make_scorer`` cannot call ``certify``, so this returns a plain callable.

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

    def scorer(estimator, X, y):
        return float(certified_accuracy(y, estimator.certify(X), [radius], proxy=proxy)[0])

    return scorer


def acr_scorer(*, proxy=False):
    """A scorer ``(estimator, X, y) -> average certified radius``, for ``GridSearchCV``.

    Parameters
    ----------
    proxy : bool, default=False
        Average the proxy radius.

    Returns
    -------
    scorer : callable
    """

    def scorer(estimator, X, y):
        return average_certified_radius(y, estimator.certify(X), proxy=proxy)

    return scorer
