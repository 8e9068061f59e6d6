"""Sharding rows over joblib workers (loky, Dask) gives the single-process certificates, in order."""

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_digits

from smoothcert import SmoothedClassifier


@pytest.fixture(scope="module")
def fitted():
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    clf = SmoothedClassifier(sigma=0.5, n0=50, n=2000, max_epochs=3, random_state=0, device="cpu")
    return clf.fit(X[:500], y[:500]), X[500:530]


def _same(a, b):
    np.testing.assert_array_equal(a.label, b.label)
    np.testing.assert_array_equal(a.p_lower, b.p_lower)
    np.testing.assert_array_equal(a.radius, b.radius)
    np.testing.assert_array_equal(a.center, b.center)


def test_loky_workers_give_identical_certificates_in_order(fitted):
    clf, X = fitted
    reference = clf.set_params(n_jobs=1).certify(X)
    _same(clf.set_params(n_jobs=2).certify(X), reference)
    np.testing.assert_array_equal(clf.predict_proba(X), clf.set_params(n_jobs=1).predict_proba(X))


def test_dask_local_cluster_gives_identical_certificates(fitted):
    distributed = pytest.importorskip("distributed", reason="the optional extra smoothcert[dask] is not installed")
    clf, X = fitted
    reference = clf.set_params(n_jobs=1).certify(X)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster, distributed.Client(cluster):
        with joblib.parallel_backend("dask"):
            sharded = clf.set_params(n_jobs=-1).certify(X)
    clf.set_params(n_jobs=None)
    _same(sharded, reference)


def test_bfloat16_autocast_runs_and_mostly_agrees(fitted):
    clf, X = fitted
    reference = clf.set_params(n_jobs=None).certify(X)
    low = clf.set_params(precision="bfloat16").certify(X)
    clf.set_params(precision="float32")
    # another classifier (bf16 forward), so only approximately the same certificates
    assert np.mean(low.label == reference.label) >= 0.9
    assert np.abs(low.radius - reference.radius).mean() < 0.1


@pytest.mark.slow
def test_compiled_model_certifies_like_the_eager_one(fitted):
    import pickle

    clf, X = fitted
    reference = clf.certify(X[:6])
    compiled = clf.set_params(compile=True).certify(X[:6])
    restored = pickle.loads(pickle.dumps(clf))  # the compiled graph is dropped, rebuilt on use
    clf.set_params(compile=False)
    assert "_compiled" not in vars(restored)
    # the same network, fused differently: identical labels, radii equal up to rare float ties
    np.testing.assert_array_equal(compiled.label, reference.label)
    np.testing.assert_allclose(compiled.radius, reference.radius, atol=0.02)


def test_bad_parallel_settings(fitted):
    clf, X = fitted
    with pytest.raises(ValueError, match="n_jobs must be None"):
        clf.set_params(n_jobs=0).certify(X)
    with pytest.raises(ValueError, match="precision must be"):
        clf.set_params(n_jobs=None, precision="int8").certify(X)
    with pytest.raises(TypeError, match="compile must be True or False"):
        clf.set_params(precision="float32", compile="yes").certify(X)
    clf.set_params(compile=False)
