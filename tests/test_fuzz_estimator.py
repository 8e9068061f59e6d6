"""Table-driven fuzz test of SmoothedClassifier: every parameter and method argument given a wrong
type, a wrong value, a non-finite value, a wrong shape or nothing gets an error naming it.

Convention shared by every ``tests/test_fuzz_*.py``: ``CASES`` holds ``(public name, zero-argument
callable, exception class, regex the message must match)``; valid borderline input has ``None`` as
the exception and a predicate on the result instead of a regex (``test_fuzz_coverage.py`` checks
that every name of ``smoothcert.__all__`` has cases).
"""

import functools

import numpy as np
import pytest
import torch
from fuzz_cases import fuzz_test
from sklearn.exceptions import NotFittedError

from smoothcert import CertificateMemory, FixedSigma, SmoothedClassifier

X = np.random.default_rng(0).normal(size=(40, 4)).astype(np.float32)
Y = np.arange(40) % 2
FAST = dict(n0=10, n=50, max_epochs=1, random_state=0, device="cpu")


def fit(**params):
    return SmoothedClassifier(**{**FAST, **params}).fit(X, Y)


@functools.lru_cache(maxsize=None)
def fitted():
    return fit()


def unfitted():
    return SmoothedClassifier(**FAST)


class Returns(torch.nn.Module):
    """A module that returns ``kind`` of output: a user's bug in ``forward``."""

    def __init__(self, kind):
        super().__init__()
        self.kind = kind
        self.linear = torch.nn.Linear(4, 2)

    def forward(self, x):
        out = self.linear(x)
        return {
            "tuple": lambda: (out, out),
            "numpy": lambda: out.detach().numpy(),
            "one_row": lambda: out[:1],
            "nan": lambda: out * float("nan"),
            "wide": lambda: torch.cat([out, out], dim=1),
        }[self.kind]()


def param_case(params, exc, match):
    return ("SmoothedClassifier", lambda: fit(**params), exc, match)


CASES = [
    # -- constructor parameters, checked at fit --
    param_case(dict(module="resnet"), TypeError, "module must be a torch.nn.Module"),
    param_case(dict(module=torch.nn.Linear(3, 2)), ValueError, r"module failed on a batch of inputs of shape \(2, 4\)"),
    param_case(dict(module=Returns("tuple")), ValueError, r"module must return a torch.Tensor .*got tuple"),
    param_case(dict(module=Returns("numpy")), ValueError, r"module must return a torch.Tensor .*got ndarray"),
    param_case(dict(module=Returns("one_row")), ValueError, r"module must return scores of shape \(batch, n_classes\)"),
    param_case(dict(module=Returns("wide")), ValueError, r"the module must output \(batch, 2\)"),
    param_case(dict(module=Returns("nan"), max_epochs=0), ValueError, "module produced non-finite scores"),
    param_case(dict(sigma=0.0), ValueError, "sigma must be a positive"),
    param_case(dict(sigma=float("nan")), ValueError, "sigma must be a positive"),
    param_case(dict(sigma=float("inf")), ValueError, "sigma must be a positive"),
    param_case(dict(sigma="big"), TypeError, "sigma must be a positive float"),
    param_case(dict(sigma=None), TypeError, "sigma must be a positive float"),
    param_case(dict(sigma=FixedSigma(-0.1)), ValueError, "sigma must be a positive"),
    param_case(dict(norm="linf"), ValueError, "norm must be 'l2'"),
    param_case(dict(norm=None), ValueError, "norm must be 'l2'"),
    param_case(dict(n0=0), ValueError, "n0 must be an int >= 1"),
    param_case(dict(n0=1.5), TypeError, "n0 must be an int"),
    param_case(dict(n0=True), TypeError, "n0 must be an int"),
    param_case(dict(n=-1), ValueError, "n must be an int >= 1"),
    param_case(dict(n_predict=0), ValueError, "n_predict must be an int >= 1"),
    param_case(dict(n_predict=2.5), TypeError, "n_predict must be an int"),
    param_case(dict(n_predict=None), TypeError, "n_predict must be an int"),
    param_case(dict(classes=[0, 0, 1]), ValueError, "classes must be distinct"),
    param_case(dict(classes=[1]), ValueError, "at least two labels"),
    param_case(dict(classes="ab"), TypeError, "classes must be a sequence of labels"),
    param_case(dict(classes=5), TypeError, "classes must be a sequence of labels"),
    param_case(dict(classes=[[0, 1], [2, 3]]), ValueError, "1-D sequence"),
    param_case(dict(classes=[0.0, float("nan")]), ValueError, "nan or inf"),
    param_case(dict(classes=[0, -1], abstain_label=-1), ValueError, "abstain_label=-1 is one of the classes"),
    param_case(dict(classes=[3, 4]), ValueError, r"labels \['0', '1'\] that are not in classes"),
    param_case(dict(classes={0, 1}), TypeError, "classes must be an ordered sequence .*got a set"),
    param_case(dict(classes=frozenset({0, 1})), TypeError, "classes must be an ordered sequence .*got a frozenset"),
    param_case(dict(classes=[0, "1"]), TypeError, "classes must hold labels of one kind .*numbers and strings"),
    param_case(dict(sigma=1e-50), ValueError, "sigma must be a positive finite float .* in float32"),
    param_case(dict(sigma=1e39), ValueError, "sigma must be a positive finite float .* in float32"),
    param_case(dict(normalize=(0.0, 1e39)), ValueError, r"std must be finite in float32"),
    param_case(dict(normalize=(-1e39, 1.0)), ValueError, r"mean must be finite in float32"),
    param_case(dict(normalize=(0.0, 1e-46)), ValueError, r"std must be >= 1.18e-38 in float32"),
    ("SmoothedClassifier", lambda: SmoothedClassifier(classes=[0, 1]).predict(X), NotFittedError,
     "classes without fit needs a trained module"),
    ("SmoothedClassifier", lambda: fit(classes=[1, 0, 2]).classes_.tolist(), None, lambda c: c == [1, 0, 2]),
    param_case(dict(n=1e5), TypeError, "n must be an int"),
    param_case(dict(n=float("nan")), TypeError, "n must be an int"),
    param_case(dict(alpha=0.0), ValueError, r"alpha must be in the open interval \(0, 1\)"),
    param_case(dict(alpha=1.0), ValueError, "alpha must be in the open interval"),
    param_case(dict(alpha=float("nan")), ValueError, "alpha must be in the open interval"),
    param_case(dict(alpha="0.1"), TypeError, "alpha must be a float"),
    param_case(dict(batch_size=0), ValueError, "batch_size must be an int >= 1 or 'auto'"),
    param_case(dict(batch_size="big"), ValueError, "batch_size must be an int >= 1 or 'auto'"),
    param_case(dict(batch_size=2.5), TypeError, "batch_size must be an int >= 1 or 'auto'"),
    param_case(dict(device="tpu:banana"), ValueError, "device must be"),
    param_case(dict(device="cuda:99"), ValueError, r"device='cuda:99' is not available on this machine; available: \['cpu'"),
    param_case(dict(device=3.5), ValueError, "device must be"),
    param_case(dict(n_jobs=0), ValueError, "n_jobs must be None"),
    param_case(dict(n_jobs="2"), TypeError, "n_jobs must be an int"),
    param_case(dict(precision="float64"), ValueError, "precision must be"),
    param_case(dict(compile="yes"), TypeError, "compile must be True or False"),
    param_case(dict(random_state="x"), ValueError, "random_state must be None, an int or a numpy RandomState"),
    param_case(dict(random_state=-1), ValueError, "random_state must be"),
    param_case(dict(verbose="loud"), TypeError, "verbose must be an int"),
    param_case(dict(verbose=-1.5), TypeError, "verbose must be an int"),
    param_case(dict(verbose=-1), ValueError, "verbose must be an int >= 0"),
    param_case(dict(max_epochs=-1), ValueError, "max_epochs must be an int >= 0"),
    param_case(dict(max_epochs=1.5), TypeError, "max_epochs must be an int"),
    param_case(dict(lr=-1), ValueError, "lr must be a finite float > 0"),
    param_case(dict(lr=float("inf")), ValueError, "lr must be a finite float > 0"),
    param_case(dict(lr=float("nan")), ValueError, "lr must be a finite float > 0"),
    param_case(dict(optimizer="adam"), TypeError, r"optimizer must be a class .*got str 'adam'; e.g. optimizer=torch.optim.SGD"),
    param_case(dict(optimizer=torch.optim.SGD(torch.nn.Linear(1, 1).parameters(), lr=0.1)), TypeError,
               r"optimizer must be a class .*an instance cannot be used .*optimizer__<option>"),
    param_case(dict(optimizer=torch.optim.SGD, optimizer__momentum=0.9), None, lambda est: est.n_features_in_ == 4),
    param_case(dict(criterion=torch.nn.CrossEntropyLoss()), TypeError, "criterion must be a class .*an instance cannot"),
    param_case(dict(criterion=None), TypeError, "criterion must be a class .*got NoneType"),
    param_case(dict(lr="0.1"), TypeError, "lr must be a float"),
    param_case(dict(train_batch_size=0), ValueError, "train_batch_size must be an int >= 1"),
    param_case(dict(training="adversarial"), (TypeError, ValueError), "training must be one of"),
    param_case(dict(update_sigma_every=0), ValueError, "update_sigma_every must be an int >= 1"),
    param_case(dict(normalize=(0.0, 0.0)), ValueError, "std > 0"),
    param_case(dict(normalize=(0.0, float("nan"))), ValueError, "std must be finite"),
    param_case(dict(normalize=(float("nan"), 1.0)), ValueError, "mean must be finite"),
    param_case(dict(normalize=(0.0,)), ValueError, r"normalize must be None or a pair \(mean, std\)"),
    param_case(dict(normalize="ab"), ValueError, r"normalize must be None or a pair \(mean, std\)"),
    param_case(dict(normalize=("a", 1.0)), TypeError, "mean must be a number"),
    param_case(dict(normalize=(0.0, [1.0, 2.0, 3.0])), ValueError, r"std of shape \(3,\) does not broadcast to one input of shape \(4,\)"),
    param_case(dict(abstain_label=0), ValueError, "abstain_label=0 is one of the classes"),
    param_case(dict(abstain_label=[1, 2]), TypeError, "abstain_label must be a scalar"),
    param_case(dict(memory="mem"), TypeError, "memory must be None or a CertificateMemory"),
    param_case(dict(foo=1), TypeError, "unexpected keyword argument 'foo'"),
    param_case(dict(module__hidden_units=(-3,)), ValueError, r"could not build MLP from module__\* parameters"),
    # valid borderline parameters
    ("SmoothedClassifier", lambda: fit(normalize=(np.zeros(4), np.full(4, 2.0))).certify(X[:2]), None, lambda c: len(c) == 2),
    ("SmoothedClassifier", lambda: fit(abstain_label="abstain").certify(X[:2]), None, lambda c: len(c) == 2),
    ("SmoothedClassifier", lambda: fit(verbose=False, batch_size=1).predict(X[:2]), None, lambda p: p.shape == (2,)),
    # -- fit(X, y) --
    ("SmoothedClassifier", lambda: unfitted().fit(np.where(np.eye(40, 4) > 0, np.nan, X), Y), ValueError, "NaN"),
    ("SmoothedClassifier", lambda: unfitted().fit(np.where(np.eye(40, 4) > 0, np.inf, X), Y), ValueError, "infinity"),
    ("SmoothedClassifier", lambda: unfitted().fit(X[:, 0], Y), ValueError, "Expected 2D array"),
    ("SmoothedClassifier", lambda: unfitted().fit(X[:0], Y[:0]), ValueError, "0 sample"),
    ("SmoothedClassifier", lambda: unfitted().fit(X.astype(np.complex64), Y), ValueError, "Complex data"),
    ("SmoothedClassifier", lambda: unfitted().fit(np.array([["a"] * 4] * 40), Y), ValueError, "could not convert|dtype"),
    ("SmoothedClassifier", lambda: unfitted().fit(X, Y[:10]), ValueError, "same number of samples|inconsistent"),
    ("SmoothedClassifier", lambda: unfitted().fit(X, np.zeros(40)), ValueError, "only one class"),
    ("SmoothedClassifier", lambda: unfitted().fit(X, np.linspace(0, 1, 40)), ValueError, "Unknown label type"),
    ("SmoothedClassifier", lambda: unfitted().fit(X, np.full(40, np.nan)), ValueError, "NaN|Unknown label"),
    # -- predict / predict_proba / certify / score --
    ("SmoothedClassifier", lambda: unfitted().certify(X), NotFittedError, "not fitted"),
    ("SmoothedClassifier", lambda: unfitted().predict(X), NotFittedError, "not fitted"),
    ("SmoothedClassifier", lambda: unfitted().predict_proba(X), NotFittedError, "not fitted"),
    ("SmoothedClassifier", lambda: unfitted().score(X, Y), NotFittedError, "not fitted"),
    ("SmoothedClassifier", lambda: fitted().certify(X[:, :3]), ValueError, "X has 3 features, but SmoothedClassifier is expecting 4"),
    ("SmoothedClassifier", lambda: fitted().certify(X[0]), ValueError, "Expected 2D array, got 1D array"),
    ("SmoothedClassifier", lambda: fitted().certify(X[:3, None]), ValueError, r"X has input shape \(1, 4\)"),
    ("SmoothedClassifier", lambda: fitted().certify(np.full((2, 4), np.nan)), ValueError, "NaN"),
    ("SmoothedClassifier", lambda: fitted().predict(np.full((2, 4), np.inf)), ValueError, "infinity"),
    ("SmoothedClassifier", lambda: fitted().certify(X[:0]), ValueError, "0 sample"),
    ("SmoothedClassifier", lambda: fitted().certify(np.array([["a"] * 4] * 2)), ValueError, "could not convert|dtype"),
    ("SmoothedClassifier", lambda: fitted().predict(X[:2], abstain="yes"), TypeError, "abstain must be True or False"),
    ("SmoothedClassifier", lambda: fitted().certify(X[:2], checkpoint=123), TypeError, "checkpoint must be None or a folder"),
    ("SmoothedClassifier", lambda: fitted().certify(X[:2], checkpoint="/tmp/x", checkpoint_every=0), ValueError,
     "checkpoint_every must be an int >= 1"),
    ("SmoothedClassifier", lambda: fitted().certify(X[:2], checkpoint=__file__), ValueError,
     "checkpoint must be a folder .* is a file"),
    ("SmoothedClassifier", lambda: fitted().score(X[:4], Y[:3]), ValueError, "inconsistent|same number"),
    # valid borderline calls
    ("SmoothedClassifier", lambda: fitted().certify(X[:1]), None, lambda c: len(c) == 1),
    ("SmoothedClassifier", lambda: fitted().predict(torch.as_tensor(X[:2]), abstain=np.True_), None, lambda p: len(p) == 2),
    ("SmoothedClassifier", lambda: fitted().predict_proba(X[:2].astype(np.float64)), None,
     lambda p: np.allclose(p.sum(axis=1), 1.0)),
]


test_fuzz = fuzz_test(CASES)


def test_bad_input_changes_nothing():
    clf = fitted()
    before = clf.certify(X[:4])
    for bad in (np.full((2, 4), np.nan), X[:, :3], X[0]):
        with pytest.raises(ValueError):
            clf.certify(bad)
    np.testing.assert_array_equal(clf.certify(X[:4]).p_lower, before.p_lower)


class NanOnSomeCopies(torch.nn.Module):
    """Finite scores except on the noisy copies whose first coordinate exceeds ``threshold``."""

    def __init__(self, threshold):
        super().__init__()
        self.threshold = threshold
        self.scale = torch.nn.Parameter(torch.ones(()))

    def forward(self, x):
        scores = torch.stack([x[:, 0], -x[:, 0]], dim=1) * self.scale
        return torch.where(x[:, :1] > self.threshold, torch.full_like(scores, float("nan")), scores)


@pytest.mark.parametrize("threshold", [-np.inf, 2.0])  # every copy, or about 2 % of them
def test_non_finite_scores_never_certify(threshold):
    clf = SmoothedClassifier(module=NanOnSomeCopies(np.inf), max_epochs=0, sigma=1.0, n0=100, n=2000,
                             random_state=0, device="cpu").fit(np.zeros((2, 4), np.float32), [0, 1])
    clf.module_.threshold = threshold  # after the fit-time check, as for weights that break later
    for method in (clf.certify, clf.predict, clf.predict_proba):
        with pytest.raises(ValueError, match="module produced non-finite scores"):
            method(np.zeros((3, 4), np.float32))


def test_nan_weights_never_certify():
    clf = fit()
    with torch.no_grad():
        next(clf.module_.parameters()).fill_(float("nan"))
    with pytest.raises(ValueError, match="module produced non-finite scores"):
        clf.certify(X[:3])


def test_output_shape_is_checked_at_every_forward_pass():
    # A module that is fine on the training check but not on a certification batch.
    clf = fit()
    clf.module_ = Returns("one_row")
    with pytest.raises(ValueError, match=r"module must return scores of shape \(batch, n_classes\)"):
        clf.certify(X[:3])


def test_memory_keeps_working_after_a_refused_call():
    clf = fit(memory=CertificateMemory())
    with pytest.raises(ValueError):
        clf.certify(np.full((1, 4), np.nan))
    assert len(clf.certify(X[:2])) == 2
