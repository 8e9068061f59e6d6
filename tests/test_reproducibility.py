"""An input's certificate depends on (random_state, the input) only (THEORY.md T16)."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from smoothcert import SmoothedClassifier


@pytest.fixture(scope="module")
def fitted():
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    clf = SmoothedClassifier(sigma=0.5, n0=50, n=3000, max_epochs=3, random_state=0, device="cpu")
    return clf.fit(X[:600], y[:600]), X[600:640]


def _same(a, b):
    np.testing.assert_array_equal(a.label, b.label)
    np.testing.assert_array_equal(a.p_lower, b.p_lower)
    np.testing.assert_array_equal(a.radius, b.radius)


# 10**12 copies of a digit would take 256 TB: the buffer holds only the copies asked for.
@pytest.mark.parametrize("batch_size", [7, 37, 1000, 8192, 10**12, "auto"])
def test_certificates_do_not_depend_on_batch_size(fitted, batch_size):
    clf, X = fitted
    X = X[:12]  # small batches mean many forward passes: keep the test fast
    reference = clf.certify(X)
    _same(clf.set_params(batch_size=batch_size).certify(X), reference)
    if batch_size == "auto":
        assert isinstance(clf.batch_size_, int) and clf.batch_size_ >= 1
    clf.set_params(batch_size=1000)


def test_certificates_do_not_depend_on_position_or_other_rows(fitted):
    clf, X = fitted
    reference = clf.certify(X)
    order = np.random.default_rng(0).permutation(len(X))
    _same(clf.certify(X[order]), reference[order])
    _same(clf.certify(X[5:6]), reference[5:6])
    _same(clf.certify(np.concatenate([X[:3], X[:3]])), reference[np.array([0, 1, 2, 0, 1, 2])])


def test_torch_and_numpy_inputs_agree(fitted):
    clf, X = fitted
    _same(clf.certify(torch.from_numpy(X[:5])), clf.certify(X[:5]))


def test_predict_does_not_depend_on_batch_or_order(fitted):
    clf, X = fitted
    proba = clf.predict_proba(X)
    order = np.arange(len(X))[::-1]
    np.testing.assert_array_equal(clf.set_params(batch_size=53).predict_proba(X[order]), proba[order])
    clf.set_params(batch_size=1000)


class _Recorder(torch.nn.Module):
    """Records the noisy inputs it sees and votes class 0."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def forward(self, X):
        self.seen.append(X.clone())
        return torch.zeros(len(X), 2)


def test_selection_and_estimation_noise_are_independent_and_exact_in_number():
    from smoothcert.noise import GaussianNoise
    from smoothcert.sampling import Stage, count_votes, input_keys

    X = torch.zeros(2, 3)
    keys = input_keys(X.numpy(), 0)
    noise = {}
    for stage in (Stage.SELECTION, Stage.ESTIMATION):
        model = _Recorder()
        counts = count_votes(model, X, torch.full((2,), 1.0), GaussianNoise(), 1001, keys, stage, 2, 300)
        np.testing.assert_array_equal(counts, [[1001, 0], [1001, 0]])  # exactly num draws, remainder included
        noise[stage] = torch.cat(model.seen)
    a, b = noise[Stage.SELECTION].flatten(), noise[Stage.ESTIMATION].flatten()
    # unit Gaussian draws: correlation of independent streams ~ N(0, 1/6006); |r| > 0.06 has probability < 1e-5
    assert abs(float(torch.corrcoef(torch.stack([a, b]))[0, 1])) < 0.06
    assert abs(float(a.std()) - 1.0) < 0.05
    # the two inputs have identical content, hence identical keys and identical noise streams
    first, second = noise[Stage.SELECTION][:1001], noise[Stage.SELECTION][1001:]
    torch.testing.assert_close(first, second)
