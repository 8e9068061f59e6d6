"""SmoothedClassifier inside Pipeline, GridSearchCV and cross_validate, with the certificate scorers.

Training and noise are seeded, so the tests are deterministic in one process. Joblib's loky workers
run torch with fewer threads, which may change float rounding in training; comparisons between a
worker's score and the same computation in this process therefore allow a difference of one
certificate per fold.
"""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_validate
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from smoothcert import (
    MACER,
    SmoothedClassifier,
    acr_scorer,
    average_certified_radius,
    certified_accuracy,
    certified_accuracy_scorer,
    certify_pipeline,
)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:400].astype(np.float32), y[:400]  # raw pixel values 0..16: the scaler matters


def _pipeline(**params):
    smooth = SmoothedClassifier(
        **{**dict(sigma=0.5, n0=20, n=200, max_epochs=4, random_state=0, device="cpu"), **params}
    )
    return Pipeline([("scale", StandardScaler()), ("smooth", smooth)])


@pytest.fixture(scope="module")
def fitted(digits):
    X, y = digits
    return _pipeline().fit(X[:300], y[:300])


def _same(a, b):
    for field in ("label", "p_lower", "radius", "sigma", "center"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


def test_pipeline_fit_predict_score(fitted, digits):
    X, y = digits
    Xt = fitted[:-1].transform(X[300:])
    np.testing.assert_array_equal(fitted.predict(X[300:]), fitted["smooth"].predict(Xt))
    assert fitted.score(X[300:], y[300:]) > 0.6  # measured 0.94; chance is 0.1


def test_certify_pipeline_certifies_in_the_last_steps_input_space(fitted, digits):
    X = digits[0][300:340]
    cert = certify_pipeline(fitted, X)
    Xt = fitted[:-1].transform(X)
    _same(cert, fitted["smooth"].certify(Xt))
    np.testing.assert_allclose(cert.center, Xt)  # regions are centred on the transformed inputs
    # Nested pipelines, and an estimator given directly.
    identity = FunctionTransformer().fit(Xt)
    nested = Pipeline([("pre", fitted[:-1]), ("last", Pipeline([("id", identity), ("smooth", fitted["smooth"])]))])
    _same(certify_pipeline(nested, X), cert)
    _same(certify_pipeline(fitted["smooth"], Xt), cert)


def test_certify_pipeline_errors(fitted, digits):
    X, y = digits
    with pytest.raises(TypeError, match="LogisticRegression has no certify method"):
        certify_pipeline(make_pipeline(StandardScaler(), LogisticRegression(max_iter=50)).fit(X, y), X)
    with pytest.raises(NotFittedError):
        certify_pipeline(_pipeline(), X)


def test_grid_search_over_sigma_and_recipe_with_certified_accuracy(digits):
    X, y = digits[0][:240], digits[1][:240]
    pipe = _pipeline(training=MACER(n_samples=2), max_epochs=3)
    grid = {"smooth__sigma": [0.25, 0.5], "smooth__training__gamma": [4.0, 8.0]}
    cv = StratifiedKFold(2)
    scorer = certified_accuracy_scorer(0.1)
    search = GridSearchCV(pipe, grid, scoring=scorer, cv=cv, n_jobs=2).fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert len(scores) == 4 and np.all((scores >= 0) & (scores <= 1))
    assert scores.max() > 0.3  # measured 0.20 to 0.51 at radius 0.1
    best = search.best_estimator_["smooth"]
    assert (best.sigma, best.training.gamma) == (
        search.best_params_["smooth__sigma"],
        search.best_params_["smooth__training__gamma"],
    )
    # A worker's fold score is the same computation as here.
    (train, test), _ = cv.split(X, y)
    index = int(np.argmax(scores))
    by_hand = clone(pipe).set_params(**search.cv_results_["params"][index]).fit(X[train], y[train])
    assert scorer(by_hand, X[test], y[test]) == pytest.approx(
        search.cv_results_["split0_test_score"][index], abs=1.0 / len(test)
    )


def test_cross_validate_with_acr_scorer(digits):
    X, y = digits[0][:240], digits[1][:240]
    pipe = _pipeline(max_epochs=3)
    cv = StratifiedKFold(2)
    result = cross_validate(
        pipe, X, y, cv=cv, n_jobs=2, scoring={"acr": acr_scorer(), "cert@0.1": certified_accuracy_scorer(0.1)}
    )
    assert np.all(result["test_acr"] > 0.2)  # measured 0.49 and 0.51; an untrained model scores near 0
    (train, test), _ = cv.split(X, y)
    by_hand = clone(pipe).fit(X[train], y[train])
    cert = certify_pipeline(by_hand, X[test])
    # ACR is at most the largest radius, sigma * Phi^-1(alpha ** (1 / n)) = 0.5 * 1.83, per input.
    assert result["test_acr"][0] == pytest.approx(average_certified_radius(y[test], cert), abs=0.92 / len(test))
    assert result["test_cert@0.1"][0] == pytest.approx(
        certified_accuracy(y[test], cert, [0.1])[0], abs=1.0 / len(test)
    )
