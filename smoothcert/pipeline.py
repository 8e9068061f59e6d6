"""Certification through a scikit-learn Pipeline that ends in a SmoothedClassifier."""

from sklearn.pipeline import Pipeline

__all__ = ["certify_pipeline"]


def certify_pipeline(estimator, X):
    """Certify ``X`` with a fitted pipeline whose last step is a :class:`~smoothcert.SmoothedClassifier`.

    :class:`~sklearn.pipeline.Pipeline` only forwards scikit-learn's standard methods, not
    ``certify``. This transforms ``X`` through every step but the last (nested pipelines included)
    and calls the last step's ``certify``; an estimator that is not a pipeline is certified
    directly. The scorers :func:`~smoothcert.certified_accuracy_scorer` and
    :func:`~smoothcert.acr_scorer` use it, so they work on such pipelines.

    The smoothing noise is added to the input of the last step, so ``sigma`` and the certified
    radii (and the ``center`` of each certificate) are in the space of the **last step's input**,
    not of ``X``. A radius ``r`` there covers the inputs ``x'`` with ``||T(x') - T(x)|| <= r``, for
    ``T`` the transformation before the last step; for a linear ``T`` (e.g.
    :class:`~sklearn.preprocessing.StandardScaler`) that contains the l_p ball of radius
    ``r / ||T||`` around ``x`` in raw units, ``||T||`` the operator norm (for ``StandardScaler``
    and l2 or l1: ``1 / min(scale_)``). To certify in raw units, keep preprocessing inside the
    model instead (``SmoothedClassifier(normalize=(mean, std))``).

    Parameters
    ----------
    estimator : Pipeline or SmoothedClassifier
        A fitted pipeline ending in an estimator with a ``certify`` method, or such an estimator.
    X : array-like of shape (n_samples, ...)
        Raw inputs, as the pipeline's ``predict`` takes them.

    Returns
    -------
    certificates : Certificates
        One certificate per row of ``X``, in the space of the last step's input.

    Raises
    ------
    TypeError
        If ``estimator`` has no ``certify`` method, or is a pipeline whose last step has none or
        whose other steps are not all transformers; if ``X`` is None.
    ValueError
        If ``estimator`` is a pipeline without steps.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from smoothcert import SmoothedClassifier, certify_pipeline
    >>> X, y = make_blobs(100, centers=[[-4, -4], [4, 4]], random_state=0)
    >>> pipe = make_pipeline(StandardScaler(), SmoothedClassifier(sigma=0.25, n=1000, max_epochs=10,
    ...                                                           random_state=0)).fit(X, y)
    >>> cert = certify_pipeline(pipe, X[:3])
    >>> (cert.label == y[:3]).all()
    np.True_
    """
    _check_certifier(estimator, "estimator")
    if X is None:  # scikit-learn would read it as a 0-d array of nan
        raise TypeError("X must be an array-like of inputs of shape (n_samples, ...), got None.")
    return _certify(estimator, X)


def _check_certifier(estimator, name):
    """Raise unless ``estimator`` certifies: has ``certify``, or is a pipeline of transformers ending in one."""
    if isinstance(estimator, type):
        raise TypeError(f"{name} must be a fitted estimator instance, got the class {estimator.__name__}.")
    if not isinstance(estimator, Pipeline):
        if not callable(getattr(estimator, "certify", None)):
            raise TypeError(
                f"{name} must be a SmoothedClassifier or a Pipeline whose last step is one; "
                f"{type(estimator).__name__} has no certify method."
            )
        return
    if not estimator.steps:
        raise ValueError(f"{name} is a Pipeline without steps; its last step must be a SmoothedClassifier.")
    for step, transformer in estimator.steps[:-1]:
        # Pipeline.transform would only say that the pipeline has no attribute 'transform'.
        if transformer not in (None, "passthrough") and not hasattr(transformer, "transform"):
            raise TypeError(
                f"every step of {name} but the last must be a transformer; step {step!r} "
                f"({type(transformer).__name__}) has no transform method."
            )
    step, last = estimator.steps[-1]
    _check_certifier(last, f"the last step ({step!r}) of {name}")


def _certify(estimator, X):
    if isinstance(estimator, Pipeline):
        if len(estimator) > 1:
            X = estimator[:-1].transform(X)
        return _certify(estimator[-1], X)
    return estimator.certify(X)
