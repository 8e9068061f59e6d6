"""scikit-learn's own estimator checks, clone/params/pickle round trips."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.utils.estimator_checks import parametrize_with_checks

from smoothcert import FixedSigma, SmoothedClassifier


def _small(**params):
    # scikit-learn's checks use the classes -1 and 1: an abstain label among the classes is refused.
    defaults = dict(n0=10, n=64, batch_size=256, max_epochs=15, random_state=0, device="cpu", abstain_label=-99)
    defaults.update(params)
    return SmoothedClassifier(**defaults)


# No expected failures: predict returns labels from classes_ (the vote), never an abstain sentinel. The first
# estimator is the one users get, every parameter at its default.
@parametrize_with_checks([SmoothedClassifier(), _small(), _small(norm="l1", sigma=FixedSigma(0.3))])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(120, centers=[[-2, -2], [2, 2], [2, -2]], random_state=0)
    return X.astype(np.float32), y


def test_clone_and_params_round_trip():
    clf = _small(sigma=FixedSigma(0.5), module__hidden_units=(16,), optimizer__weight_decay=1e-4)
    params = clf.get_params()
    assert params["sigma__sigma"] == 0.5
    assert params["module__hidden_units"] == (16,)
    cloned = clone(clf)
    assert cloned.get_params()["module__hidden_units"] == (16,)
    assert cloned.sigma is not clf.sigma
    cloned.set_params(sigma__sigma=0.25, module__hidden_units=(8,), n=32)
    assert cloned.sigma.sigma == 0.25 and cloned.module__hidden_units == (8,) and cloned.n == 32
    assert clf.sigma.sigma == 0.5


def test_routed_params_reach_module_and_optimizer(blobs):
    X, y = blobs
    clf = _small(module__hidden_units=(7,), optimizer__weight_decay=0.1).fit(X, y)
    assert clf.module_.layers[1].out_features == 7
    assert clf.net_.optimizer_.param_groups[0]["weight_decay"] == 0.1


def test_unknown_keyword_is_rejected_at_fit(blobs):
    X, y = blobs
    clf = SmoothedClassifier(model__hidden=3)  # scikit-learn: __init__ never raises
    with pytest.raises(TypeError, match="unexpected keyword argument 'model__hidden'"):
        clf.fit(X, y)


def test_pickle_round_trip_keeps_certificates(blobs):
    X, y = blobs
    clf = _small().fit(X, y)
    restored = pickle.loads(pickle.dumps(clf))
    a, b = clf.certify(X[:10]), restored.certify(X[:10])
    np.testing.assert_array_equal(a.label, b.label)
    np.testing.assert_array_equal(a.p_lower, b.p_lower)


def test_user_module_is_never_trained_in_place(blobs):
    X, y = blobs
    module = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    before = [p.detach().clone() for p in module.parameters()]
    clf = _small(module=module).fit(X, y)
    assert clf.module_ is not module
    for p, q in zip(before, module.parameters()):
        torch.testing.assert_close(p, q)
    assert any(not torch.equal(p, q) for p, q in zip(before, clf.module_.parameters()))


def test_pretrained_module_is_used_as_is_with_zero_epochs(blobs):
    X, y = blobs
    module = torch.nn.Linear(2, 3)
    clf = _small(module=module, max_epochs=0).fit(X, y)
    for p, q in zip(module.parameters(), clf.module_.parameters()):
        torch.testing.assert_close(p, q)


def test_fit_is_reproducible_and_string_labels_work(blobs):
    X, y = blobs
    labels = np.array(["a", "b", "c"])[y]
    one = _small().fit(X, labels).certify(X[:20])
    two = _small().fit(X, labels).certify(X[:20])
    np.testing.assert_array_equal(one.label, two.label)
    np.testing.assert_array_equal(one.p_lower, two.p_lower)
    assert set(one.label[~one.abstained]) <= {"a", "b", "c"}


def test_normalize_is_applied_after_the_noise(blobs):
    X, y = blobs
    clf = _small(normalize=(np.float32(1.0), np.float32(2.0)), max_epochs=0, module=torch.nn.Linear(2, 3)).fit(X, y)
    layer = clf.module_[0]
    torch.testing.assert_close(layer(torch.tensor([[3.0, 5.0]])), torch.tensor([[1.0, 2.0]]))


def test_certificates_frame_and_indexing(blobs):
    X, y = blobs
    cert = _small().fit(X, y).certify(X[:6])
    frame = cert.to_frame()
    assert list(frame["radius"]) == list(cert.radius)
    assert frame.attrs["norm"] == "l2"
    sub = cert[np.array([0, 2])]
    assert len(sub) == 2 and sub.radius[1] == cert.radius[2]
    assert cert.center.shape == (6, 2)


@pytest.mark.parametrize("labels, abstain_label, expected", [
    ([-1, 1], None, -2),  # -1 is a class: the default moves past it
    ([0, 1], None, -1),
    (["no", "yes"], None, -1),
    ([-2, -1], None, -3),
    ([0, 1], "abstained", "abstained"),
])
def test_abstentions_never_read_as_a_class(labels, abstain_label, expected):
    X, y = make_blobs(60, centers=[[-2, -2], [2, 2]], random_state=0)
    y = np.asarray(labels, dtype=object if isinstance(labels[0], str) else None)[y]
    # A coin-flip region: inputs on the boundary abstain, with sigma large against the centres' distance.
    clf = SmoothedClassifier(sigma=4.0, n0=20, n=200, n_predict=200, max_epochs=2, abstain_label=abstain_label,
                             random_state=0, device="cpu").fit(X, y)
    assert clf.abstain_label_ == expected and not any(c == expected for c in clf.classes_.tolist())
    X_boundary = np.zeros((20, 2), np.float32)
    cert = clf.certify(np.vstack([X[:10].astype(np.float32), X_boundary]))
    predicted = clf.predict(X_boundary, abstain=True)
    assert cert.abstained.any()  # not vacuous: some abstentions are reported
    assert all(label == expected for label in cert.label[cert.abstained].tolist())
    assert set(cert.label[~cert.abstained].tolist()) <= set(clf.classes_.tolist())
    assert set(predicted.tolist()) <= set(clf.classes_.tolist()) | {expected}
    assert set(clf.predict(X).tolist()) <= set(clf.classes_.tolist())


def test_an_explicit_abstain_label_among_the_classes_is_refused():
    X, y = make_blobs(40, centers=[[-2, -2], [2, 2]], random_state=0)
    with pytest.raises(ValueError, match="abstain_label=1 is one of the classes"):
        SmoothedClassifier(abstain_label=1, max_epochs=1, device="cpu").fit(X, y)
