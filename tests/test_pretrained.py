"""A trained module used without fit (``classes=``), prediction's own sample count, and the
calibration of ``batch_size="auto"``."""

import numpy as np
import pytest
import torch
from linear_models import CountingModule, LinearBinary
from scipy.stats import norm
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV

from smoothcert import SmoothedClassifier, certified_accuracy_scorer
from smoothcert.noise import GaussianNoise
from smoothcert.sampling import calibrate_batch_size
from smoothcert.training import NoiseAugmentedNet

SIGMA = 0.5


def _inputs(distances):
    X = np.zeros((len(distances), 2), np.float32)
    X[:, 0] = distances
    return X


def pretrained(**params):
    settings = dict(sigma=SIGMA, n=20_000, random_state=0, device="cpu")
    return SmoothedClassifier(module=LinearBinary((1.0, 0.0), 0.0), classes=["neg", "pos"], **{**settings, **params})


def test_a_trained_module_certifies_without_fit_against_the_closed_form():
    X = _inputs([1.0, -0.6, 0.3])
    clf = pretrained()
    cert = clf.certify(X)
    assert clf.classes_.tolist() == ["neg", "pos"] and clf.input_shape_ == (2,) and clf.net_ is None
    assert cert.label.tolist() == ["pos", "neg", "pos"]
    # The exact radius of the smoothed linear classifier is |x_0| (THEORY.md 6); each certificate exceeds
    # it with probability <= alpha = 0.001, and at n = 20,000 the Clopper-Pearson bound loses < 0.15
    # (false failure of this line <= 3 * 0.001; the seed is fixed, so it either always passes or never).
    exact = np.abs(X[:, 0])
    assert (cert.radius <= exact).all() and (cert.radius > exact - 0.15).all()
    np.testing.assert_allclose(clf.predict_proba(X)[:, 1], norm.cdf(X[:, 0] / SIGMA), atol=0.04)  # 3.6 sd at n=2000: false failure < 1e-3


def test_classes_follow_the_module_output_order():
    X = _inputs([1.0, -1.0])
    clf = SmoothedClassifier(module=LinearBinary((1.0, 0.0), 0.0), classes=[7, 3], n=2000, random_state=0, device="cpu")
    assert clf.predict(X).tolist() == [3, 7]  # output 1 (x_0 > 0) is classes[1] = 3
    assert clf.classes_.tolist() == [7, 3]


def test_the_pretrained_path_matches_fit_with_max_epochs_zero():
    X = _inputs([0.8, -0.4, 0.2, 1.5])
    lazy = pretrained().certify(X)
    fitted = pretrained(max_epochs=0).fit(X, ["pos", "neg", "pos", "pos"]).certify(X)
    np.testing.assert_array_equal(lazy.radius, fitted.radius)
    np.testing.assert_array_equal(lazy.label, fitted.label)


def test_fit_with_classes_accepts_labels_covering_some_of_them():
    X = np.random.default_rng(0).normal(size=(40, 4)).astype(np.float32)
    clf = SmoothedClassifier(classes=[0, 1, 2], n0=10, n=50, max_epochs=1, random_state=0, device="cpu")
    clf.fit(X, np.arange(40) % 2)
    assert clf.classes_.tolist() == [0, 1, 2] and clf.predict_proba(X[:3]).shape == (3, 3)
    with pytest.raises(ValueError, match=r"labels \['5'\] that are not in classes"):
        clf.fit(X, np.where(np.arange(40) == 0, 5, 1))


def test_clone_and_grid_search_keep_the_pretrained_semantics():
    X = _inputs(np.linspace(-1, 1, 12))
    y = np.where(X[:, 0] > 0, "pos", "neg")
    clf = pretrained(n=500)
    clf.certify(X[:1])
    copy = clone(clf)
    assert not hasattr(copy, "module_")  # unfitted, as clone makes every estimator
    np.testing.assert_array_equal(copy.certify(X).radius, clf.certify(X).radius)
    search = GridSearchCV(pretrained(n=500, max_epochs=0), {"sigma": [0.25, 0.5]}, cv=2,
                          scoring=certified_accuracy_scorer(0.1)).fit(X, y)
    assert search.best_estimator_.classes_.tolist() == ["neg", "pos"]


def test_classes_without_a_trained_module_is_not_fitted():
    with pytest.raises(NotFittedError, match="classes without fit needs a trained module"):
        SmoothedClassifier(classes=[0, 1]).certify(np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match=r"module outputs shape \(2, 2\) .* 3 classes"):
        SmoothedClassifier(module=LinearBinary((1.0, 0.0), 0.0), classes=[0, 1, 2], device="cpu").predict(_inputs([1, 2]))


def test_predict_draws_n_predict_samples_not_n():
    X = _inputs([0.5, -0.5, 2.0])
    clf = SmoothedClassifier(module=CountingModule(), classes=[0, 1], n=100_000, n_predict=300, batch_size=64,
                             random_state=0, device="cpu")
    proba = clf.predict_proba(X)
    assert clf.module_.rows == 3 * 300 + 2  # the 2 rows of the output check
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert set(np.unique(proba * 300)) <= set(range(301))
    clf.module_.rows = 0
    assert clf.score(X, [1, 0, 1]) == 1.0 and clf.module_.rows == 3 * 300


class LargestBatch(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.largest = 0

    def forward(self, X):
        self.largest = max(self.largest, len(X))
        return X.flatten(1)[:, :3]


def test_calibration_respects_the_memory_budget():
    x = torch.zeros(1, 3, 224, 224)
    bytes_per_input = x.numel() * 4
    model = LargestBatch()
    budget = 2**26  # 64 MiB: room for 111 inputs of 3x224x224, input batch and noise block together
    size = calibrate_batch_size(model, x, noise=GaussianNoise(), memory_budget=budget, repeats=1)
    assert size == 64 and model.largest * bytes_per_input <= budget
    # Below one candidate the sweep falls back to batches of one input rather than exceeding the budget.
    assert calibrate_batch_size(LargestBatch(), x, memory_budget=bytes_per_input, repeats=1) == 1


def test_a_failed_refit_leaves_nothing_that_certifies(monkeypatch):
    X = np.random.default_rng(0).normal(size=(40, 4)).astype(np.float32)
    clf = SmoothedClassifier(n0=10, n=50, max_epochs=1, random_state=0, device="cpu").fit(X, np.arange(40) % 2)

    def diverge(self, *args, **kwargs):
        raise ValueError("training loss became non-finite")

    monkeypatch.setattr(NoiseAugmentedNet, "partial_fit", diverge)
    with pytest.raises(ValueError, match="non-finite"):
        clf.fit(X, np.arange(40) % 2)
    with pytest.raises(NotFittedError):
        clf.certify(X[:2])
