"""Certifiable training recipes, per-sample and data-dependent training noise, skorch interop, progress.

Every test here is deterministic: training and noise are seeded (``random_state`` or
``torch.manual_seed``), so none can fail at random; margins in the accuracy comparisons are wide
(measured: trained 0.27 (MACER, l2, whose radius hinge slows early
training) to 0.73, untrained 0.11 to 0.13 at 10 classes) so that numerical differences across
platforms cannot flip them.
"""

import numpy as np
import pytest
import torch
from scipy import stats
from sklearn.base import clone
from sklearn.datasets import load_digits
from skorch import NeuralNetClassifier
from skorch.dataset import ValidSplit

import smoothcert._progress
from smoothcert import (
    MACER,
    AncerSigma,
    IsotropicSigma,
    NoiseAugmentation,
    NoiseAugmentedNet,
    SigmaOptimizer,
    SmoothAdv,
    SmoothedClassifier,
)
from smoothcert.models import MLP
from smoothcert.noise import get_noise
from smoothcert.sampling import Stage, count_votes, input_keys


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y


def _noisy_accuracy(clf, X, y, sigma, norm, draws=4):
    """Accuracy of the base classifier on seeded noisy copies (the quantity training improves)."""
    generator = torch.Generator().manual_seed(123)
    X_t = torch.as_tensor(np.repeat(X, draws, axis=0))
    eps = get_noise(norm).sample(X_t.shape, generator, "cpu")
    with torch.no_grad():
        pred = clf.module_(X_t + sigma * eps).argmax(dim=1).numpy()
    return float((clf.classes_[pred] == np.repeat(y, draws)).mean())


# -- each recipe learns ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "training, norm",
    [
        ("gaussian", "l2"),
        ("gaussian", "l1"),
        (MACER(n_samples=4), "l2"),
        (MACER(n_samples=4), "l1"),
        (SmoothAdv(epsilon=0.25), "l2"),
    ],
    ids=["gaussian-l2", "uniform-l1", "macer-l2", "macer-l1", "smoothadv-l2"],
)
def test_recipe_beats_untrained_model_under_noise(digits, training, norm):
    X, y = digits
    params = dict(sigma=0.5, norm=norm, training=training, random_state=0, device="cpu", train_batch_size=64)
    trained = SmoothedClassifier(max_epochs=5, **params).fit(X[:300], y[:300])
    untrained = SmoothedClassifier(max_epochs=0, **params).fit(X[:300], y[:300])
    acc_trained = _noisy_accuracy(trained, X[1500:1700], y[1500:1700], 0.5, norm)
    acc_untrained = _noisy_accuracy(untrained, X[1500:1700], y[1500:1700], 0.5, norm)
    assert acc_untrained < 0.2
    assert acc_trained > acc_untrained + 0.1
    assert type(trained.net_.recipe_) is (NoiseAugmentation if training == "gaussian" else type(training))


# -- losses on hand-computable cases ----------------------------------------------------------------


def _linear_net(W, b, recipe, *, sigma=0.5, norm="l2", probabilities=False):
    """A NoiseAugmentedNet around the linear model z = W x + b, set up for training but untrained."""
    linear = torch.nn.Linear(W.shape[1], W.shape[0])
    with torch.no_grad():
        linear.weight.copy_(torch.as_tensor(W))
        linear.bias.copy_(torch.as_tensor(b))
    module = torch.nn.Sequential(linear, torch.nn.Softmax(dim=1)) if probabilities else linear
    criterion = torch.nn.NLLLoss if probabilities else torch.nn.CrossEntropyLoss
    net = NoiseAugmentedNet(
        module, criterion=criterion, recipe=recipe, sigma=sigma, norm=norm, max_epochs=0, train_split=None, verbose=0
    )
    X0 = np.zeros((2, W.shape[1]), dtype=np.float32)
    return net.fit(X0, np.array([0, 1]))  # zero epochs: builds module_, noise_, recipe_


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _macer_reference(W, b, X, y, s, eps, m, beta, gamma, lbd, norm):
    """MACER's loss computed independently in float64 numpy (Zhai et al., 2020; authors' macer.py)."""
    noisy = np.repeat(X, m, axis=0) + eps * np.repeat(s, m)[:, None]
    z = (noisy @ W.T + b).reshape(len(X), m, -1)
    psi = _softmax(z).mean(axis=1)
    cross_entropy = -np.log(psi[np.arange(len(X)), y])
    tempered = _softmax(beta * z).mean(axis=1)
    order = np.argsort(-tempered, axis=1)
    top, runner_up = tempered[np.arange(len(X)), order[:, 0]], tempered[np.arange(len(X)), order[:, 1]]
    if norm == "l2":
        xi = stats.norm.ppf(top) - stats.norm.ppf(runner_up)
        hinge = s / 2 * np.maximum(0.0, gamma - xi)
    else:
        xi = top - runner_up
        hinge = s * np.maximum(0.0, gamma - xi)
    correct = order[:, 0] == y
    return np.mean(cross_entropy + lbd * np.where(correct, hinge, 0.0)), correct, xi


@pytest.mark.parametrize("norm, gamma", [("l2", 1.5), ("l1", 0.5)])
def test_macer_loss_matches_numpy(norm, gamma):
    rng = np.random.default_rng(0)
    W = rng.normal(size=(3, 4))
    b = rng.normal(size=3)
    X = rng.normal(size=(6, 4)).astype(np.float32)
    y = (X @ W.T + b).argmax(axis=1)
    y[0] = (y[0] + 1) % 3  # one wrong label
    s = np.array([0.2, 0.5, 0.3, 0.4, 0.25, 0.6], dtype=np.float32)
    m, beta, lbd = 5, 2.0, 3.0
    recipe = MACER(n_samples=m, beta=beta, gamma=gamma, lbd=lbd)
    net = _linear_net(W, b, recipe, norm=norm)
    torch.manual_seed(7)
    loss, y_pred = net.recipe_.loss(net, torch.as_tensor(X), torch.as_tensor(y), torch.as_tensor(s))
    torch.manual_seed(7)  # the recipe's only random draw: the unit noise of all copies
    eps = net.noise_.sample((len(X) * m, 4), None, "cpu").numpy().astype(np.float64)
    expected, correct, xi = _macer_reference(W, b, X.astype(np.float64), y, s.astype(np.float64), eps, m, beta,
                                             gamma, lbd, norm)
    # The case exercises all branches: wrong samples, and correct ones inside and beyond the hinge.
    assert (~correct).any() and (correct & (xi < gamma)).any() and (correct & (xi > gamma)).any()
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    assert y_pred.shape == (len(X), 3)


def test_macer_on_probability_outputs_equals_logits():
    # skorch's convention: a module trained with NLLLoss outputs probabilities; MACER then works on
    # their logarithm, which equals the logits up to a per-row constant (softmax is unchanged).
    rng = np.random.default_rng(1)
    W, b = rng.normal(size=(3, 4)), rng.normal(size=3)
    X, y, s = torch.randn(5, 4), torch.tensor([0, 1, 2, 0, 1]), torch.full((5,), 0.5)
    losses = []
    for probabilities in (False, True):
        net = _linear_net(W, b, MACER(n_samples=4, beta=2.0, gamma=3.0), probabilities=probabilities)
        torch.manual_seed(3)
        losses.append(net.recipe_.loss(net, X, y, s)[0].item())
    assert losses[1] == pytest.approx(losses[0], rel=1e-4)


def test_noise_augmentation_uses_each_samples_scales():
    # Per-sample isotropic and per-dimension scales both reach the noise: the loss is the criterion on
    # x_i + s_i * eps_i, computed here in numpy.
    rng = np.random.default_rng(2)
    W, b = rng.normal(size=(2, 3)), rng.normal(size=2)
    X, y = rng.normal(size=(4, 3)).astype(np.float32), np.array([0, 1, 1, 0])
    net = _linear_net(W, b, NoiseAugmentation())
    for s in (np.array([0.1, 0.5, 1.0, 2.0], np.float32), rng.uniform(0.1, 2.0, size=(4, 3)).astype(np.float32)):
        torch.manual_seed(5)
        loss, _ = net.recipe_.loss(net, torch.as_tensor(X), torch.as_tensor(y), torch.as_tensor(s))
        torch.manual_seed(5)
        eps = net.noise_.sample(X.shape, None, "cpu").numpy()
        scale = s if s.ndim == 2 else s[:, None]
        p = _softmax((X + scale * eps).astype(np.float64) @ W.T + b)
        assert loss.item() == pytest.approx(-np.log(p[np.arange(4), y]).mean(), rel=1e-5)


def _two_class_case():
    rng = np.random.default_rng(3)
    W, b = rng.normal(size=(2, 5)), rng.normal(size=2)
    X, y = rng.normal(size=(4, 5)).astype(np.float32), np.array([0, 1, 1, 0])
    # For two linear logits, the gradient of the soft classifier's cross-entropy at any point and any
    # noise is a positive multiple of w_other - w_y: PGD moves straight along it.
    direction = W[1 - y] - W[y]
    return W, b, X, y, direction / np.linalg.norm(direction, axis=1, keepdims=True)


@pytest.mark.parametrize("n_steps, step_size, travelled", [(2, None, 1.0), (1, 0.025, 0.1), (3, 0.05, 0.6)])
def test_smoothadv_pgd_moves_along_the_weight_difference(n_steps, step_size, travelled):
    W, b, X, y, u = _two_class_case()
    epsilon = 0.25
    recipe = SmoothAdv(epsilon=epsilon, n_steps=n_steps, n_samples=3, step_size=step_size)
    net = _linear_net(W, b, recipe)
    noise = 0.5 * torch.randn(len(X) * 3, 5)
    X_adv = net.recipe_.attack(net, torch.as_tensor(X), torch.as_tensor(y), noise)
    # Steps of step_size (default 2 epsilon / n_steps), projected back on the epsilon-ball.
    np.testing.assert_allclose(X_adv.numpy() - X, travelled * epsilon * u, rtol=1e-4, atol=1e-6)
    assert all(p.grad is None for p in net.module_.parameters())  # the attack leaves weights alone
    assert net.module_.training  # back in training mode


def test_smoothadv_loss_matches_numpy():
    W, b, X, y, u = _two_class_case()
    m, epsilon, sigma = 3, 0.25, 0.5
    net = _linear_net(W, b, SmoothAdv(epsilon=epsilon, n_samples=m), sigma=sigma)
    torch.manual_seed(11)
    loss, _ = net.recipe_.loss(net, torch.as_tensor(X), torch.as_tensor(y), torch.full((4,), sigma))
    torch.manual_seed(11)  # the recipe's only random draw: the noise, before the attack
    eps = net.noise_.sample((4 * m, 5), None, "cpu").numpy().astype(np.float64)
    X_adv = X + epsilon * u
    p = _softmax((np.repeat(X_adv, m, axis=0) + sigma * eps) @ W.T + b)
    assert loss.item() == pytest.approx(-np.log(p[np.arange(4 * m), np.repeat(y, m)]).mean(), rel=1e-5)


# -- per-sample and data-dependent training noise ----------------------------------------------------


class _RowSumSigma(SigmaOptimizer):
    """Test-only data-dependent strategy: scale = offset + row sum / 100; counts its calls."""

    data_dependent = True

    def __init__(self, init=0.3, offset=0.05):
        self.init = init
        self.offset = offset

    def base_scale(self):
        return self.init

    def scales(self, model, X, *, noise, keys, batch_size):
        type(self).calls.append((model.training, len(X), len(keys)))
        return self.offset + X.flatten(1).sum(dim=1) / 100.0


class _ScaleSpy(NoiseAugmentation):
    """Noise augmentation that records the scales of every batch it trains on."""

    seen = []

    def loss(self, net, X, y, scales, **fit_params):
        type(self).seen.append((len(net.history), scales.clone()))
        return super().loss(net, X, y, scales, **fit_params)


def test_data_dependent_sigma_is_updated_every_k_epochs_and_used(digits):
    X, y = digits[0][:200], digits[1][:200]
    _RowSumSigma.calls, _ScaleSpy.seen = [], []
    clf = SmoothedClassifier(
        sigma=_RowSumSigma(), training=_ScaleSpy(), max_epochs=5, update_sigma_every=2, train_batch_size=50,
        random_state=0, device="cpu",
    ).fit(X, y)
    # Updates at the start of epochs 3 and 5, on every training row, with the model in eval mode.
    assert _RowSumSigma.calls == [(False, 200, 200), (False, 200, 200)]
    expected = 0.05 + X.sum(axis=1) / 100.0
    np.testing.assert_allclose(clf.train_sigma_, expected, rtol=1e-6)
    seen = {epoch: torch.cat([s for e, s in _ScaleSpy.seen if e == epoch]).numpy() for epoch in range(1, 6)}
    for epoch in (1, 2):
        np.testing.assert_array_equal(seen[epoch], np.full(200, 0.3, np.float32))
    for epoch in (3, 4, 5):
        np.testing.assert_allclose(seen[epoch], expected, rtol=1e-6)


def test_data_dependent_update_skips_validation_rows():
    X = np.random.default_rng(0).uniform(size=(100, 4)).astype(np.float32)
    y = np.arange(100) % 2
    _RowSumSigma.calls = []
    net = NoiseAugmentedNet(
        MLP(4, 2, hidden_units=(8,)), criterion=torch.nn.CrossEntropyLoss, sigma=_RowSumSigma(offset=1.0),
        update_sigma_every=1, max_epochs=2, train_split=ValidSplit(5), verbose=0,
    ).fit(X, y)
    updated = net.train_sigma_ != np.float32(0.3)
    assert updated.sum() == 80 and _RowSumSigma.calls == [(False, 80, 80)]
    np.testing.assert_allclose(net.train_sigma_[updated], 1.0 + X[updated].sum(axis=1) / 100.0, rtol=1e-6)


def test_isotropic_sigma_training_is_reproducible(digits):
    X, y = digits[0][:100], digits[1][:100]
    sigma = IsotropicSigma(init=0.25, n_iter=2, n_samples=4)
    params = dict(sigma=sigma, max_epochs=2, update_sigma_every=1, random_state=0, device="cpu")
    first = SmoothedClassifier(**params).fit(X, y)
    again = SmoothedClassifier(**params).fit(X, y)
    other = SmoothedClassifier(**{**params, "random_state": 1}).fit(X, y)
    assert first.train_sigma_.shape == (100,) and first.train_sigma_.dtype == np.float32
    assert len(np.unique(first.train_sigma_)) > 50  # re-chosen per sample, not the init 0.25
    np.testing.assert_array_equal(first.train_sigma_, again.train_sigma_)
    for a, b in zip(first.module_.parameters(), again.module_.parameters()):
        assert torch.equal(a, b)
    assert not np.array_equal(first.train_sigma_, other.train_sigma_)


def test_ancer_sigma_training_keeps_per_dimension_scales(digits):
    X, y = digits[0][:60], digits[1][:60]
    sigma = AncerSigma(init=IsotropicSigma(init=0.25, n_iter=2, n_samples=4), n_iter=2, n_samples=4)
    clf = SmoothedClassifier(sigma=sigma, max_epochs=2, update_sigma_every=1, random_state=0, device="cpu")
    clf.fit(X, y)
    assert clf.train_sigma_.shape == (60, 64)
    assert np.all(clf.train_sigma_ > 0)


def test_fixed_sigma_train_sigma_and_dict_inputs():
    X = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32)
    y = np.arange(8) % 2
    clf = SmoothedClassifier(sigma=0.4, max_epochs=1, random_state=0, device="cpu").fit(X, y)
    np.testing.assert_array_equal(clf.train_sigma_, np.full(8, 0.4, np.float32))
    net = NoiseAugmentedNet(torch.nn.Linear(3, 2), criterion=torch.nn.CrossEntropyLoss, max_epochs=1,
                            train_split=None, verbose=0)
    per_dim = np.full((8, 3), 0.2, np.float32)
    assert net.fit({"X": X, "sigma": per_dim}, y).train_sigma_.shape == (8, 3)
    assert net.train_sigma_ is not per_dim  # the user's array is copied, never updated in place
    with pytest.raises(ValueError, match="keys 'X' and 'sigma'"):
        net.fit({"X": X, "scale": per_dim}, y)
    with pytest.raises(ValueError, match=r"shape \(8,\) or \(8, 3\)"):
        net.fit({"X": X, "sigma": np.ones(7)}, y)
    with pytest.raises(ValueError, match="positive finite"):
        net.fit({"X": X, "sigma": np.zeros(8)}, y)
    with pytest.raises(TypeError, match="numpy array or torch tensor"):
        net.fit(X.tolist(), y)


# -- validation ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params, error, match",
    [
        (dict(training="cohen"), ValueError, "training must be one of"),
        (dict(training=MACER(n_samples=0)), ValueError, "n_samples must be an int >= 1"),
        (dict(training=MACER(lbd=-1.0)), ValueError, "lbd must be a finite float >= 0"),
        (dict(training=SmoothAdv(epsilon=0.0)), ValueError, "epsilon must be a finite float > 0"),
        (dict(training="smoothadv", norm="l1"), ValueError, "SmoothAdv .* needs norm='l2'"),
        (dict(update_sigma_every=0), ValueError, "update_sigma_every must be an int >= 1"),
    ],
)
def test_invalid_training_parameters(params, error, match):
    X = np.zeros((4, 2), np.float32)
    with pytest.raises(error, match=match):
        SmoothedClassifier(max_epochs=1, **params).fit(X, [0, 1, 0, 1])


def test_recipe_hyperparameters_are_tunable_parameters():
    clf = SmoothedClassifier(training=MACER())
    assert clf.get_params()["training__gamma"] == 8.0
    assert clone(clf.set_params(training__gamma=4.0)).training.gamma == 4.0
    # The skorch net routes recipe__* and sigma__* like module__*.
    X = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32)
    net = NoiseAugmentedNet(torch.nn.Linear(3, 2), criterion=torch.nn.CrossEntropyLoss, recipe="macer",
                            sigma=IsotropicSigma(), max_epochs=0, train_split=None, verbose=0)
    net = clone(net).set_params(recipe__gamma=2.0, sigma__init=0.5).fit(X, np.arange(8) % 2)
    assert net.recipe_.gamma == 2.0 and net.sigma_.init == 0.5
    np.testing.assert_array_equal(net.train_sigma_, np.full(8, 0.5, np.float32))


# -- skorch nets as module -----------------------------------------------------------------------------


def _skorch_net(**params):
    defaults = dict(module=MLP, module__n_inputs=64, module__n_classes=10, module__hidden_units=(16,),
                    criterion=torch.nn.CrossEntropyLoss, optimizer=torch.optim.Adam, lr=0.01, max_epochs=3,
                    train_split=None, iterator_train__shuffle=True, verbose=0)
    return NeuralNetClassifier(**{**defaults, **params})


def test_uninitialised_skorch_net_is_trained_with_its_settings(digits):
    X, y = digits[0][:300], digits[1][:300]
    net = _skorch_net()
    clf = SmoothedClassifier(module=net, training=MACER(n_samples=2), max_epochs=10, verbose=0, random_state=0,
                             device="cpu").fit(X, y)
    assert len(clf.net_.history) == 3  # the net's max_epochs, not the estimator's
    assert isinstance(clf.net_.recipe_, MACER)
    assert clf.net_.get_params()["iterator_train__shuffle"] is True
    assert clf.module_.layers[1].out_features == 16  # module__hidden_units reached the module
    assert not net.initialized_  # the user's net is untouched
    losses = clf.net_.history[:, "train_loss"]
    assert losses[-1] < losses[0]


def test_initialised_skorch_net_is_kept_or_fine_tuned(digits):
    X, y = digits[0][:300], digits[1][:300]
    net = _skorch_net()
    torch.manual_seed(0)
    net.fit(X, y)
    original = [p.detach().clone() for p in net.module_.parameters()]
    kept = SmoothedClassifier(module=net, max_epochs=0, random_state=0, device="cpu").fit(X, y)
    assert kept.module_ is not net.module_
    for a, b in zip(kept.module_.parameters(), original):
        assert torch.equal(a, b)
    tuned = SmoothedClassifier(module=net, random_state=0, device="cpu").fit(X, y)  # the net's own max_epochs
    assert not all(torch.equal(a, b) for a, b in zip(tuned.module_.parameters(), original))
    for a, b in zip(net.module_.parameters(), original):  # never trained in place
        assert torch.equal(a, b)


def test_skorch_net_parameters_are_routed_as_module_params(digits):
    X, y = digits[0][:100], digits[1][:100]
    clf = SmoothedClassifier(module=_skorch_net(), random_state=0, device="cpu")
    assert clf.get_params()["module__lr"] == 0.01  # listed like any nested estimator's parameters
    clf.set_params(module__lr=0.05, module__max_epochs=2, module__module__hidden_units=(8,)).fit(X, y)
    assert clf.net_.lr == 0.05 and len(clf.net_.history) == 2 and clf.module_.layers[1].out_features == 8
    assert clf.module.lr == 0.01  # the user's net is not changed
    with pytest.raises(ValueError, match=r"set \['optimizer__momentum'\] on the net"):
        SmoothedClassifier(module=_skorch_net(), optimizer__momentum=0.9).fit(X, y)
    trained = _skorch_net(max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="initialised skorch net"):
        SmoothedClassifier(module=trained, module__module__hidden_units=(8,)).fit(X, y)
    with pytest.raises(TypeError, match="skorch NeuralNet"):
        SmoothedClassifier(module="mlp").fit(X, y)
    # this estimator's training settings would be silently unused with a net: refused like optimizer__*
    for setting in (dict(lr=0.1), dict(max_epochs=3), dict(train_batch_size=32), dict(criterion=torch.nn.NLLLoss)):
        with pytest.raises(ValueError, match=rf"set \['{next(iter(setting))}'\] on the net .*module__lr"):
            SmoothedClassifier(module=_skorch_net(), **setting).fit(X, y)


# -- progress --------------------------------------------------------------------------------------------


def test_count_votes_reports_every_forward_pass():
    model = torch.nn.Linear(3, 2).eval()
    X = torch.randn(5, 3)
    done = []
    counts = count_votes(model, X, torch.full((5,), 0.5), get_noise("l2"), 230, input_keys(X.numpy(), 0),
                         Stage.ESTIMATION, 2, 100, progress=done.append)
    assert sum(done) == 5 * 230 and max(done) == 100
    np.testing.assert_array_equal(counts, count_votes(model, X, torch.full((5,), 0.5), get_noise("l2"), 230,
                                                      input_keys(X.numpy(), 0), Stage.ESTIMATION, 2, 100))


def test_verbose_shows_progress_bar_only_when_asked(digits, monkeypatch, capsys):
    pytest.importorskip("tqdm")
    X, y = digits[0][:100], digits[1][:100]
    clf = SmoothedClassifier(n0=10, n=200, max_epochs=1, random_state=0, device="cpu").fit(X, y)
    quiet = clf.certify(X[:5])
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(smoothcert._progress, "_DELAY_SECONDS", 0.0)
    loud = clf.set_params(verbose=1).certify(X[:5])
    err = capsys.readouterr().err
    # One bar per certify call over selection and estimation (5 x (10 + 200)), ending complete.
    assert "certify 5 inputs (fixed)" in err and "1.05k/1.05k" in err
    np.testing.assert_array_equal(loud.radius, quiet.radius)
