"""Data-dependent noise scales: IsotropicSigma (Alfarra et al.) and AncerSigma (Eiras et al.).

THEORY.md 2.1, 2.5, 3.4, 3.9; tests T9 (surrogate gradient) and T10 (ANCER projection).
"""

import warnings

import numpy as np
import pytest
import torch
from linear_models import smoothed_linear
from sklearn.base import clone
from sklearn.datasets import load_digits, make_blobs
from sklearn.model_selection import GridSearchCV, train_test_split

from smoothcert import (
    AncerSigma,
    CertificateMemory,
    FixedSigma,
    IsotropicSigma,
    SmoothedClassifier,
    average_certified_radius,
    certified_accuracy_scorer,
)
from smoothcert.exceptions import SoundnessWarning
from smoothcert.noise import GaussianNoise, UniformNoise
from smoothcert.sampling import input_keys
from smoothcert.sigma._ascent import ISOTROPIC_STREAM, anchored_gap, ascend, soft_votes
from smoothcert.sigma.ancer import _ancer_objective
from smoothcert.sigma.isotropic import _surrogate_radius

pytestmark = pytest.mark.filterwarnings("ignore::smoothcert.exceptions.SoundnessWarning")


def small_mlp(d_in, n_classes=3, seed=0, sharpness=1.0):
    """A random MLP; ``sharpness`` scales the logits (a confident model has a positive surrogate gap)."""
    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(d_in, 16), torch.nn.Tanh(), torch.nn.Linear(16, n_classes)
    ).eval()
    with torch.no_grad():
        model[-1].weight.mul_(sharpness)
    return model


class SmallCNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(2, 4, 3, padding=1)
        self.head = torch.nn.Linear(4, 3)

    def forward(self, X):
        return self.head(torch.relu(self.conv(X)).mean(dim=(2, 3)))


class PerStep(torch.nn.Module):
    """Sequences (N, T, F): a linear map per time step, averaged over time."""

    def __init__(self, n_features):
        super().__init__()
        torch.manual_seed(0)
        self.step = torch.nn.Linear(n_features, 3)

    def forward(self, X):
        return self.step(X).mean(dim=1)


FAST = dict(n_iter=6, n_samples=16)


def fast_ancer(**params):
    return AncerSigma(init=IsotropicSigma(**FAST), **{**FAST, **params})


def run(strategy, model, X, noise=GaussianNoise(), seed=0, batch_size=64):
    return strategy.scales(model, X, noise=noise, keys=input_keys(X.numpy(), seed), batch_size=batch_size)


# -- T9: surrogate gradient -------------------------------------------------------------------------


@pytest.mark.parametrize("noise", [GaussianNoise(), UniformNoise()])
@pytest.mark.parametrize("surrogate", ["binary", "top2"])
@pytest.mark.parametrize("anisotropic", [False, True])
def test_surrogate_gradient_matches_finite_differences(noise, surrogate, anisotropic):
    """Autograd through soft votes, clamp and Phi^-1 against central differences, same eps."""
    model = small_mlp(5).double()
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, 5, generator=g, dtype=torch.float64)
    eps = noise.sample((3, 50, 5), g, "cpu", torch.float64)  # common random numbers
    if anisotropic:
        theta = (0.3 + torch.rand(3, 5, generator=g, dtype=torch.float64)).requires_grad_(True)
    else:
        theta = torch.tensor([0.3, 0.5, 0.8], dtype=torch.float64, requires_grad=True)
    anchor = soft_votes(model, x, theta, eps, "logits").argmax(dim=1)

    def objective(t):
        psi = soft_votes(model, x, t, eps, "logits")
        assert psi.gt(0.001).all() and psi.lt(0.999).all()  # away from the clamp's kinks
        gap = anchored_gap(noise, psi, anchor, 0.001, surrogate)
        return _ancer_objective(gap, t, 2.0) if anisotropic else _surrogate_radius(gap, t)

    (grad,) = torch.autograd.grad(objective(theta).sum(), theta)
    h = 1e-6
    flat = theta.detach().reshape(-1)
    numeric = torch.empty_like(flat)
    for i in range(flat.numel()):
        up, down = flat.clone(), flat.clone()
        up[i] += h
        down[i] -= h
        numeric[i] = (objective(up.reshape(theta.shape)).sum() - objective(down.reshape(theta.shape)).sum()) / (2 * h)
    rel = (grad.reshape(-1) - numeric).norm() / numeric.norm()
    assert rel < 1e-3


# -- the best iterate, ANCER's projection (T10) ---------------------------------------------------


def _recording(objective, log):
    def wrapped(gap, theta):
        value = objective(gap, theta)
        log.append((theta.detach().clone(), value.detach().clone()))
        return value

    return wrapped


def test_ascent_returns_the_best_iterate_including_the_start():
    model = small_mlp(4, sharpness=20.0)
    X = torch.rand(5, 4)
    log = []
    # a large step overshoots, so the last iterate is not the best for some inputs
    est = IsotropicSigma(init=0.3, lr=2.0, n_iter=12, n_samples=32)
    out = ascend(
        model, X, torch.full((5,), 0.3), input_keys(X.numpy(), 0), est=est, noise=GaussianNoise(),
        stream=ISOTROPIC_STREAM, batch_size=64, objective=_recording(_surrogate_radius, log),
        optimizer=lambda p: torch.optim.SGD(p, lr=est.lr, maximize=True), project=lambda s, _: s.clamp_(1e-3),
    )
    # evaluations come per chunk of 2 inputs (batch 64 // 32 samples), n_iter + 1 each
    thetas = torch.cat([torch.stack([t for t, _ in log[c * 13 : (c + 1) * 13]]) for c in range(3)], dim=1)
    values = torch.cat([torch.stack([v for _, v in log[c * 13 : (c + 1) * 13]]) for c in range(3)], dim=1)
    assert len(log) == 3 * 13 and thetas.shape == (13, 5)
    assert torch.equal(thetas[0], torch.full((5,), 0.3))  # the start is an iterate
    best = values.argmax(dim=0)
    assert torch.equal(out, thetas[best, torch.arange(5)])
    assert not torch.equal(out, thetas[-1])  # the rule matters here: the last iterate is not the best


def test_ancer_projection_holds_after_every_step():
    model = small_mlp(6, sharpness=20.0)
    X = torch.rand(4, 6)
    log = []
    theta0 = torch.tensor([0.2, 0.05, 0.4, 0.3])[:, None].expand(4, 6).contiguous()
    est = AncerSigma(init=0.2, lr=0.3, n_iter=10, n_samples=16)
    out = ascend(
        model, X, theta0, input_keys(X.numpy(), 0), est=est, noise=GaussianNoise(), stream=2, batch_size=64,
        objective=_recording(lambda gap, t: _ancer_objective(gap, t, 2.0), log),
        optimizer=lambda p: torch.optim.Adam(p, lr=est.lr, maximize=True), project=lambda t, s: t.clamp_(min=s),
    )
    for theta, _ in log:
        assert (theta >= theta0).all() and (theta > 0).all()
    assert (out >= theta0).all()
    assert any((theta > theta0).any() for theta, _ in log)  # Adam moved something


def test_ancer_scales_are_at_least_the_isotropic_init():
    model = small_mlp(6, sharpness=20.0)
    X = torch.rand(5, 6)
    iso = IsotropicSigma(**FAST)
    start = run(iso, model, X)
    theta = run(AncerSigma(init=iso, lr=0.2, **FAST), model, X)
    assert theta.shape == (5, 6) and theta.dtype == torch.float32
    assert (theta >= start[:, None]).all() and (theta > 0).all()
    assert not torch.equal(theta, start[:, None].expand(5, 6))


# -- shapes, frozen model, caller's tensors, reproducibility ---------------------------------------

SHAPES = [
    ((7, 5), lambda: small_mlp(5)),
    ((4, 2, 5, 5), SmallCNN),
    ((6, 4, 3), lambda: PerStep(3)),
]


@pytest.mark.parametrize("shape, make_model", SHAPES)
def test_input_shapes_and_frozen_model(shape, make_model):
    model = make_model().eval()
    params = list(model.parameters())
    params[0].requires_grad_(False)  # mixed flags must come back exactly
    flags = [p.requires_grad for p in params]
    weights = [p.detach().clone() for p in params]
    seen = []  # requires_grad flags while the strategies call the model
    hook = model.register_forward_pre_hook(lambda module, args: seen.append(any(p.requires_grad for p in params)))
    X = torch.rand(*shape)
    X_before = X.clone()
    iso = run(IsotropicSigma(**FAST), model, X)
    ancer = run(fast_ancer(), model, X)
    hook.remove()
    assert seen and not any(seen)
    assert iso.shape == shape[:1] and iso.dtype == torch.float32 and (iso > 0).all()
    assert ancer.shape == shape and ancer.dtype == torch.float32 and (ancer > 0).all()
    assert torch.equal(X, X_before)
    assert [p.requires_grad for p in params] == flags
    assert all(torch.equal(p, w) for p, w in zip(params, weights))
    assert all(p.grad is None for p in params)


def test_runs_inside_inference_mode_and_with_uniform_noise():
    model = small_mlp(5)
    with torch.inference_mode():
        X = torch.rand(3, 5)
        s = run(IsotropicSigma(**FAST), model, X, noise=UniformNoise())
        t = run(fast_ancer(), model, X, noise=UniformNoise())
    assert s.shape == (3,) and t.shape == (3, 5)


@pytest.mark.parametrize("strategy", [IsotropicSigma(**FAST), fast_ancer()], ids=["isotropic", "ancer"])
def test_scales_of_an_input_do_not_depend_on_the_batch(strategy):
    model = small_mlp(5)
    X = torch.rand(7, 5)
    X[5] = X[1]  # equal rows: equal keys, equal scales (the scale is a function of the input)
    reference = run(strategy, model, X, batch_size=32)  # 2 inputs per chunk
    perm = torch.tensor([6, 2, 0, 5, 1, 3, 4])
    shuffled = run(strategy, model, X[perm], batch_size=16 * 7)  # all in one chunk, other positions
    alone = run(strategy, model, X[3:4], batch_size=1)  # one input, chunk of 1
    torch.testing.assert_close(shuffled, reference[perm])
    torch.testing.assert_close(alone, reference[3:4])
    torch.testing.assert_close(reference[5], reference[1])
    other_seed = run(strategy, model, X, seed=1, batch_size=32)
    assert not torch.equal(other_seed, reference)  # the optimisation noise is keyed by the seed


def test_bounds_and_zero_steps():
    model = small_mlp(5)
    X = torch.rand(6, 5)
    s = run(IsotropicSigma(init=0.25, lr=1.0, min_sigma=0.2, max_sigma=0.3, **FAST), model, X)
    assert ((s >= 0.2) & (s <= 0.3)).all()
    assert torch.equal(run(IsotropicSigma(init=0.4, n_iter=0), model, X), torch.full((6,), 0.4))
    assert torch.equal(run(AncerSigma(init=0.4, n_iter=0), model, X), torch.full((6, 5), 0.4))


# -- the strategies on closed-form and real problems ------------------------------------------------


def test_ancer_grows_unimportant_dimensions_of_a_linear_model():
    """w is 150x larger on axis 0: ANCER widens the other axes; the proxy radius beats the isotropic
    radius while the worst-case radius stays below the exact distance m / ||w||."""
    w = 10 * np.array([3.0, 0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 0.02])  # x10: sharp softmax
    b = 0.5
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3, 8))
    X -= np.outer(X @ w / (w @ w), w)
    margins = np.array([4.0, 6.0, 8.0])
    X = (X + np.outer((margins - b) / (w @ w), w)).astype(np.float32)
    exact = margins / np.linalg.norm(w)

    iso = IsotropicSigma(init=0.1, n_iter=60, n_samples=64)
    iso_clf = smoothed_linear(w, b, sigma=iso, n=20_000)
    ancer_clf = smoothed_linear(w, b, sigma=AncerSigma(init=iso, n_iter=60, n_samples=64), n=20_000)
    iso_cert, ancer_cert = iso_clf.certify(X), ancer_clf.certify(X)
    theta = ancer_cert.sigma
    assert (theta[:, 1:].min(axis=1) > 2 * theta[:, 0]).all()  # unimportant axes widened
    assert np.allclose(theta[:, 0], iso_cert.sigma, rtol=1e-6)  # the important one stays at the start
    assert not ancer_cert.abstained.any() and not iso_cert.abstained.any()
    assert (ancer_cert.proxy_radius > iso_cert.radius).all()
    # sound bounds (each row fails with probability <= alpha = 1e-3)
    assert (ancer_cert.radius <= exact).all() and (iso_cert.radius <= exact).all()


@pytest.fixture
def one_thread():
    """Small models gain nothing from intra-op threads, and on a busy 2-core runner OpenMP barriers
    stall for the descheduled thread: the digits test ran 10x slower with 2 threads than with 1."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow
def test_digits_isotropic_beats_fixed_and_ancer_beats_isotropic_in_volume(one_thread):
    """Digits, a small MLP trained at sigma = 0.25, 100 test inputs, n = 1000.

    Tolerance: one input (0.01) on the certified accuracies; seeds are fixed, so a failure means a
    regression, not bad luck.
    """
    digits = load_digits()
    X = (digits.data / 16.0).astype(np.float32)
    X_train, X_test, y_train, y_test = train_test_split(
        X, digits.target, test_size=0.25, random_state=0, stratify=digits.target
    )
    X_test, y_test = X_test[:100], y_test[:100]
    clf = SmoothedClassifier(sigma=0.25, n=1000, max_epochs=20, lr=0.003, random_state=0).fit(X_train, y_train)
    radii = [0.0, 0.25, 0.5, 0.75, 1.0]
    results = {}
    for name, strategy in [
        ("fixed", FixedSigma(0.25)),
        ("isotropic", IsotropicSigma(0.25, n_iter=100)),
        ("ancer", AncerSigma(IsotropicSigma(0.25, n_iter=100), n_iter=100)),
    ]:
        clf.sigma_ = strategy
        results[name] = clf.certify(X_test)
    fixed, iso, ancer = results["fixed"], results["isotropic"], results["ancer"]
    acc = {k: v.certified_accuracy(y_test, radii) for k, v in results.items()}
    assert acc["isotropic"][0] >= acc["fixed"][0] - 0.01
    assert average_certified_radius(y_test, iso) > average_certified_radius(y_test, fixed)
    assert np.all(ancer.certified_accuracy(y_test, radii, proxy=True) >= acc["isotropic"] - 0.01)
    assert average_certified_radius(y_test, ancer, proxy=True) > average_certified_radius(y_test, iso)


# -- estimator integration --------------------------------------------------------------------------


@pytest.mark.filterwarnings("default::smoothcert.exceptions.SoundnessWarning")
def test_soundness_warning_without_memory():
    X = np.array([[1.0, 0.5], [-1.0, 0.2]], dtype=np.float32)
    for strategy in (IsotropicSigma(**FAST), fast_ancer()):
        clf = smoothed_linear([1.0, 0.0], 0.0, sigma=strategy, n0=10, n=100)
        with pytest.warns(SoundnessWarning, match="CertificateMemory"):
            clf.certify(X)
        clf.set_params(memory=CertificateMemory())
        with warnings.catch_warnings():
            warnings.simplefilter("error", SoundnessWarning)
            assert len(clf.certify(X)) == 2
    clf = smoothed_linear([1.0, 0.0], 0.0, sigma=FixedSigma(0.25), n0=10, n=100)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SoundnessWarning)
        clf.certify(X)


def test_base_scale_is_the_training_scale():
    assert IsotropicSigma(init=0.3).base_scale() == 0.3
    assert AncerSigma(init=IsotropicSigma(init=0.4)).base_scale() == 0.4
    assert AncerSigma(init=0.2).base_scale() == 0.2
    assert AncerSigma().base_scale() == IsotropicSigma().base_scale() == 0.25
    assert IsotropicSigma.data_dependent and AncerSigma.data_dependent
    X, y = make_blobs(40, centers=[[-1, -1], [1, 1]], random_state=0)
    clf = SmoothedClassifier(sigma=AncerSigma(init=IsotropicSigma(0.3, **FAST), **FAST), max_epochs=1, n=100,
                             random_state=0).fit(X, y)
    assert clf.sigma_.base_scale() == 0.3
    assert np.all(clf.train_sigma_ == np.float32(0.3))  # the training noise scale


def test_clone_get_params_and_grid_search_names():
    iso = IsotropicSigma(0.3, lr=0.1, max_sigma=2.0)
    assert clone(iso).get_params() == iso.get_params() and clone(iso) is not iso
    assert set(AncerSigma().get_params()) == {"init", "lr", "n_iter", "n_samples", "kappa", "clamp", "surrogate",
                                              "outputs"}
    assert AncerSigma(init=iso).get_params()["init__max_sigma"] == 2.0
    inner = IsotropicSigma(0.3, **FAST)
    clf = SmoothedClassifier(sigma=AncerSigma(init=inner, kappa=1.0, **FAST), n0=10, n=100, max_epochs=1,
                             random_state=0)
    params = clf.get_params()
    assert params["sigma__init"] is inner and params["sigma__init__init"] == 0.3 and params["sigma__kappa"] == 1.0
    copy = clone(clf)
    assert copy.sigma is not clf.sigma and copy.sigma.init is not inner
    assert copy.sigma.get_params() == {**clf.sigma.get_params(), "init": copy.sigma.init}
    copy.set_params(sigma__init__init=0.5, sigma__n_iter=3)
    assert copy.sigma.init.init == 0.5 and copy.sigma.n_iter == 3 and inner.init == 0.3

    X, y = make_blobs(40, centers=[[-2, -2], [2, 2]], random_state=0)
    search = GridSearchCV(clf, {"sigma__init__init": [0.2, 0.4]}, scoring=certified_accuracy_scorer(0.0), cv=2)
    search.fit(X.astype(np.float32), y)
    assert list(search.cv_results_["param_sigma__init__init"]) == [0.2, 0.4]
    assert search.best_estimator_.sigma_.base_scale() == search.best_params_["sigma__init__init"]
    iso_search = GridSearchCV(
        SmoothedClassifier(sigma=IsotropicSigma(**FAST), n0=10, n=100, max_epochs=1, random_state=0),
        {"sigma__init": [0.2, 0.4]}, scoring=certified_accuracy_scorer(0.0), cv=2,
    ).fit(X.astype(np.float32), y)
    assert set(iso_search.best_params_) == {"sigma__init"}


# -- parameter validation ---------------------------------------------------------------------------

BAD = [
    (IsotropicSigma, {"init": 0.0}, ValueError, "init"),
    (IsotropicSigma, {"init": -0.1}, ValueError, "init"),
    (IsotropicSigma, {"init": "large"}, TypeError, "init"),
    (IsotropicSigma, {"lr": 0.0}, ValueError, "lr"),
    (IsotropicSigma, {"lr": -0.04}, ValueError, "lr"),
    (IsotropicSigma, {"n_iter": -1}, ValueError, "n_iter"),
    (IsotropicSigma, {"n_iter": 2.5}, TypeError, "n_iter"),
    (IsotropicSigma, {"n_samples": 0}, ValueError, "n_samples"),
    (IsotropicSigma, {"clamp": 0.0}, ValueError, "clamp"),
    (IsotropicSigma, {"clamp": 0.5}, ValueError, "clamp"),
    (IsotropicSigma, {"min_sigma": 0.0}, ValueError, "min_sigma"),
    (IsotropicSigma, {"max_sigma": 1e-4}, ValueError, "max_sigma"),
    (IsotropicSigma, {"max_sigma": 0.1}, ValueError, "init"),
    (IsotropicSigma, {"surrogate": "gap"}, ValueError, "surrogate"),
    (IsotropicSigma, {"outputs": "scores"}, ValueError, "outputs"),
    (AncerSigma, {"init": 0.0}, ValueError, "init"),
    (AncerSigma, {"init": -1.0}, ValueError, "init"),
    (AncerSigma, {"init": "iso"}, TypeError, "init"),
    (AncerSigma, {"init": IsotropicSigma(lr=-1.0)}, ValueError, "lr"),
    (AncerSigma, {"lr": 0.0}, ValueError, "lr"),
    (AncerSigma, {"n_iter": -1}, ValueError, "n_iter"),
    (AncerSigma, {"n_samples": 0}, ValueError, "n_samples"),
    (AncerSigma, {"kappa": -0.5}, ValueError, "kappa"),
    (AncerSigma, {"kappa": float("nan")}, ValueError, "kappa"),
]


@pytest.mark.parametrize("cls, params, error, name", BAD)
def test_bad_parameters_raise_naming_the_parameter(cls, params, error, name):
    strategy = cls(**params)
    with pytest.raises(error, match=name):
        strategy.base_scale()
    with pytest.raises(error, match=name):
        run(strategy, small_mlp(3), torch.rand(2, 3))


def test_bad_parameters_are_reported_at_fit():
    X, y = make_blobs(20, centers=2, random_state=0)
    with pytest.raises(ValueError, match="kappa"):
        SmoothedClassifier(sigma=AncerSigma(kappa=-1.0), max_epochs=0).fit(X, y)
