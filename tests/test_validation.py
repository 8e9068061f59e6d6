"""Bad input gets a clear error naming the argument and the fix, and changes nothing."""

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError

from smoothcert import FixedSigma, SmoothedClassifier

X = np.random.default_rng(0).normal(size=(40, 4)).astype(np.float32)
Y = np.arange(40) % 2


def _clf(**params):
    defaults = dict(n0=10, n=50, max_epochs=1, random_state=0, device="cpu")
    defaults.update(params)
    return SmoothedClassifier(**defaults)


@pytest.mark.parametrize(
    "params, error, match",
    [
        (dict(sigma=0.0), ValueError, "sigma must be a positive"),
        (dict(sigma=-1.0), ValueError, "sigma must be a positive"),
        (dict(sigma=float("nan")), ValueError, "sigma must be a positive"),
        (dict(sigma="big"), TypeError, "sigma must be a positive float"),
        (dict(sigma=FixedSigma(-0.1)), ValueError, "sigma must be a positive"),
        (dict(alpha=0.0), ValueError, r"alpha must be in the open interval \(0, 1\)"),
        (dict(alpha=1.0), ValueError, r"alpha must be in the open interval"),
        (dict(alpha="0.1"), TypeError, "alpha must be a float"),
        (dict(n0=0), ValueError, "n0 must be an int >= 1"),
        (dict(n=0), ValueError, "n must be an int >= 1"),
        (dict(n=10.5), TypeError, "n must be an int"),
        (dict(batch_size=0), ValueError, "batch_size must be an int >= 1"),
        (dict(norm="linf"), ValueError, "norm must be 'l2'"),
        (dict(device="tpu:banana"), ValueError, "device must be"),
        (dict(module="resnet"), TypeError, "module must be a torch.nn.Module"),
        (dict(normalize=(0.0, 0.0)), ValueError, "std > 0"),
        (dict(lr=-1), ValueError, "lr must be a finite float > 0"),
        (dict(lr=float("inf")), ValueError, "lr must be a finite float > 0"),
    ],
)
def test_bad_parameters_raise_at_fit(params, error, match):
    clf = _clf(**params)
    with pytest.raises(error, match=match):
        clf.fit(X, Y)
    assert not hasattr(clf, "module_")


@pytest.mark.parametrize("width", [1, 3])
def test_module_with_wrong_number_of_outputs(width):
    # checked before training, so too few outputs fail with this message, not inside the loss
    with pytest.raises(ValueError, match=r"y has 2 classes; the module must output \(batch, 2\)"):
        _clf(module=torch.nn.Linear(4, width)).fit(X, Y)


@pytest.mark.parametrize(
    "bad_X, match",
    [
        (np.where(np.eye(40, 4) > 0, np.nan, X), "NaN"),
        (np.where(np.eye(40, 4) > 0, np.inf, X), "infinity"),
        (X[:, 0], "Expected 2D array"),
        (X.astype(np.complex64), "Complex data not supported"),
        (np.array([["a"] * 4] * 40), "could not convert|dtype"),
    ],
)
def test_bad_training_inputs(bad_X, match):
    with pytest.raises(ValueError, match=match):
        _clf().fit(bad_X, Y)


def test_bad_targets():
    with pytest.raises(ValueError, match="only one class"):
        _clf().fit(X, np.zeros(40))
    with pytest.raises(ValueError, match="Unknown label type"):
        _clf().fit(X, np.linspace(0, 1, 40))
    with pytest.raises(ValueError, match="same number of samples|inconsistent numbers"):
        _clf().fit(X, Y[:10])


def test_unfitted_estimator():
    for method in ("predict", "predict_proba", "certify"):
        with pytest.raises(NotFittedError):
            getattr(_clf(), method)(X)


def test_inputs_of_another_shape_than_at_fit():
    clf = _clf().fit(X, Y)
    with pytest.raises(ValueError, match="X has 3 features, but SmoothedClassifier is expecting 4 features"):
        clf.certify(X[:, :3])
    images = np.zeros((10, 1, 2, 2), np.float32)
    clf_img = _clf().fit(images, np.arange(10) % 2)
    with pytest.raises(ValueError, match=r"reshape X to \(n_samples, \*\(1, 2, 2\)\)"):
        clf_img.certify(np.zeros((3, 1, 2, 3), np.float32))
    with pytest.raises(ValueError, match="NaN"):
        clf.certify(np.full((2, 4), np.nan))


def test_sample_size_that_can_never_certify_warns_with_the_fix():
    clf = _clf().fit(X, Y)
    clf.set_params(n=5, alpha=0.001)
    with pytest.warns(UserWarning, match="Use n >= 10"):
        cert = clf.certify(X[:3])
    assert cert.abstained.all()


def test_bad_input_leaves_a_fitted_estimator_usable():
    clf = _clf().fit(X, Y)
    before = clf.certify(X[:5])
    with pytest.raises(ValueError):
        clf.certify(np.full((2, 4), np.inf))
    after = clf.certify(X[:5])
    np.testing.assert_array_equal(before.p_lower, after.p_lower)


class _BrokenSigma(FixedSigma):
    """A strategy whose scales are not a proper noise distribution (a user's bug)."""

    def __init__(self, sigma=0.25, value=float("inf"), shape=None):
        super().__init__(sigma)
        self.value = value
        self.shape = shape

    def scales(self, model, X, *, noise, keys, batch_size):
        return torch.full(self.shape or (X.shape[0],), self.value)


@pytest.mark.parametrize(
    "value, shape, match",
    [
        (float("inf"), None, "not all positive and finite"),  # would certify an infinite radius
        (float("nan"), None, "not all positive and finite"),
        (0.0, None, "not all positive and finite"),
        (-0.5, None, "not all positive and finite"),
        (1e-50, None, "not all positive and finite"),  # 0 in float32, the dtype of the noise
        (0.5, (40, 1), r"_BrokenSigma.scales must return a torch.Tensor of shape \(5,\) or \(5, 4\)"),
    ],
)
def test_scales_of_a_strategy_are_checked_before_certifying(value, shape, match):
    clf = _clf(sigma=_BrokenSigma(value=value, shape=shape)).fit(X, Y)
    with pytest.raises(ValueError, match=match):
        clf.certify(X[:5])
    with pytest.raises(ValueError, match=match):
        clf.predict(X[:5])
