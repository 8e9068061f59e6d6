"""Denoised smoothing: the denoiser stage (``SmoothedClassifier(denoiser=...)``), DenoiserNet and
DiffusionDenoiser."""

import numpy as np
import pytest
import torch
from linear_models import LinearBinary
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from smoothcert import AncerSigma, DenoiserNet, DiffusionDenoiser, DualSigma, IsotropicSigma, SmoothedClassifier
from smoothcert.checkpoint import fingerprint
from smoothcert.denoisers import DenoiserMLP, DnCNN
from smoothcert.denoising import Denoised, denoised
from smoothcert.models import DualModel
from smoothcert.noise import noise_level

SIGMA = 0.5
FIELDS = ("label", "p_lower", "gap", "radius", "sigma", "n_used", "stop_reason", "abstained")


def _inputs(distances, width=2):
    X = np.zeros((len(distances), width), np.float32)
    X[:, 0] = distances
    return X


def pretrained(**params):
    settings = dict(module=LinearBinary((1.0, 0.0), 0.0), classes=[0, 1], sigma=SIGMA, n=2000, random_state=0,
                    device="cpu", batch_size=512)
    return SmoothedClassifier(**{**settings, **params})


def assert_same(a, b):
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


class LinearDenoiser(torch.nn.Module):
    """x -> A x + c."""

    def __init__(self, A, c):
        super().__init__()
        self.A = torch.nn.Parameter(torch.as_tensor(np.asarray(A), dtype=torch.float32))
        self.c = torch.nn.Parameter(torch.as_tensor(np.asarray(c), dtype=torch.float32))

    def forward(self, X):
        return X @ self.A.T + self.c


class SigmaRecorder(torch.nn.Module):
    """A sigma-conditioned identity that remembers the noise levels it was given, and whether any came
    with a gradient (the sigma optimisation's)."""

    takes_sigma = True

    def __init__(self):
        super().__init__()
        self.seen = set()
        self.differentiated = False

    def forward(self, X, sigma):
        self.seen |= {round(float(s), 6) for s in sigma.detach().unique()}
        self.differentiated |= sigma.requires_grad
        return X


class ShrinkBySigma(torch.nn.Module):
    """D(z, s) = z / (1 + s): sigma-conditioned, and linear in z at each level."""

    takes_sigma = True

    def forward(self, X, sigma):
        return X / (1 + sigma.reshape(-1, *[1] * (X.dim() - 1)))


# -- the identity denoiser is no denoiser, bit for bit ---------------------------------------------------


@pytest.mark.parametrize("sampling", ["fixed", "sequential", "adaptive"])
def test_an_identity_denoiser_gives_the_certificates_of_no_denoiser(sampling):
    X = _inputs([1.0, -0.6, 0.3, 0.05, -1.2])
    radii = (0.25, 0.5) if sampling == "sequential" else None
    # batch_size="auto": the calibration times the composed model, and results never depend on it.
    plain, with_identity = (pretrained(sampling=sampling, radii=radii, denoiser=d, batch_size="auto")
                            for d in (None, torch.nn.Identity()))
    assert_same(plain.certify(X), with_identity.certify(X))
    np.testing.assert_array_equal(plain.predict_proba(X), with_identity.predict_proba(X))
    np.testing.assert_array_equal(plain.predict(X, abstain=True), with_identity.predict(X, abstain=True))
    assert isinstance(with_identity.module_, Denoised)


def test_an_identity_denoiser_changes_nothing_with_data_dependent_and_dual_sigma():
    X = _inputs([1.0, -0.6, 0.3])
    iso = dict(sigma=IsotropicSigma(n_iter=2, n_samples=8), n=500)
    np.testing.assert_array_equal(pretrained(**iso).noise_scales(X),
                                  pretrained(**iso, denoiser=torch.nn.Identity()).noise_scales(X))
    experts = [LinearBinary((1.0, 0.0), 0.0), LinearBinary((1.0, 0.0), 0.1)]
    dual = dict(sigma=DualSigma(levels=(0.25, 0.5), selector=lambda X: (X[:, 0] > 0).long(), experts=experts), n=500)
    plain, with_identity = pretrained(**dual), pretrained(**dual, denoiser=torch.nn.Identity())
    assert_same(plain.certify(X), with_identity.certify(X))
    assert isinstance(with_identity.module_, DualModel)
    assert all(isinstance(e, Denoised) for e in with_identity.module_.experts)
    assert not isinstance(with_identity.module_.selector, Denoised)  # the selector is smoothed without it


def test_the_denoiser_is_in_the_digest_and_checkpoints_resume(tmp_path):
    X = _inputs([1.0, -0.6, 0.3])
    a = pretrained(denoiser=LinearDenoiser(np.eye(2), [0.0, 0.0]))
    b = pretrained(denoiser=LinearDenoiser(np.eye(2), [0.1, 0.0]))
    cert_a, cert_b = a.certify(X), b.certify(X)
    assert cert_a.provenance["model"] != cert_b.provenance["model"] != pretrained().certify(X).provenance["model"]
    assert fingerprint(a, X) != fingerprint(b, X)
    resumed = a.certify(X, checkpoint=tmp_path / "run", checkpoint_every=1)
    again = a.certify(X, checkpoint=tmp_path / "run", checkpoint_every=1)
    assert_same(resumed, cert_a)
    assert_same(again, cert_a)


# -- exact radius of a linear classifier behind a linear denoiser ---------------------------------------


def test_certificates_against_the_exact_radius_of_the_composed_classifier():
    # f(D(x + eps)) with D(z) = A z + c and f(z) = [w.z + b > 0] is linear in eps: margin (A^T w).(x + eps) + w.c + b,
    # so the smoothed classifier's exact l2 radius is |(A^T w).x + w.c + b| / ||A^T w|| (THEORY.md 6).
    A, c, w, b = np.array([[2.0, 0.0], [1.0, 1.0]]), np.array([0.6, 0.0]), np.array([1.0, 0.0]), 0.0
    X = _inputs([1.0, -0.6, 0.3, -0.2, 0.7, 0.05])
    cert = pretrained(denoiser=LinearDenoiser(A, c), n=20_000).certify(X)
    direction = A.T @ w
    exact = np.abs(X @ direction + w @ c + b) / np.linalg.norm(direction)
    # Each certificate exceeds the exact radius with probability <= alpha = 0.001 (false failure <= 6 * 0.001,
    # and the seed is fixed); at n = 20,000 the Clopper-Pearson bound loses < 0.15.
    assert (cert.radius <= exact + 1e-6).all() and (cert.radius > exact - 0.15).all()
    np.testing.assert_array_equal(cert.label, (X @ direction + w @ c + b > 0).astype(int))
    # Negative control: the radius of the classifier alone (no denoiser) is not what is certified, and the
    # same check fails against it.
    naive = np.abs(X @ w + b) / np.linalg.norm(w)
    assert not (cert.radius <= naive + 1e-6).all()


# -- nothing trains the classifier -----------------------------------------------------------------------


def _blobs(n=200, width=4, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    X = (rng.normal(size=(n, width)) * 0.3 + np.where(y[:, None] == 1, 0.7, 0.3)).astype(np.float32)
    return X, y


def _state(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


def _unchanged(module, state):
    return all(torch.equal(v, state[k]) for k, v in module.state_dict().items())


def test_fit_and_certify_never_change_the_classifier_or_the_denoiser():
    X, y = _blobs()
    torch.manual_seed(0)
    classifier = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    before = _state(classifier)
    for objective in ("stability", "classification"):
        net = DenoiserNet(sigma=0.5, objective=objective, classifier=classifier, max_epochs=2, random_state=0)
        net.fit(X, y)
        assert _unchanged(classifier, before) and _unchanged(net.classifier_, before)
    assert classifier.training and all(p.requires_grad for p in classifier.parameters())
    denoiser_before = _state(net.module_)
    clf = SmoothedClassifier(module=classifier, classes=[0, 1], denoiser=net, sigma=0.5, n=500, random_state=0,
                             device="cpu", batch_size=512)
    clf.certify(X[:3])
    assert _unchanged(classifier, before) and _unchanged(net.module_, denoiser_before)
    assert all(p.requires_grad for p in net.module_.parameters())  # the user's denoiser is not frozen, a copy is
    # fit trains a copy of the classifier behind the frozen denoiser, which stays as it was.
    fitted = SmoothedClassifier(module=classifier, denoiser=net, sigma=0.5, n=500, max_epochs=2, random_state=0,
                                device="cpu", batch_size=512).fit(X, y)
    assert _unchanged(fitted.module_.denoiser, denoiser_before) and not _unchanged(fitted.module_.classifier, before)
    assert _unchanged(classifier, before)


def test_denoiser_net_clone_and_grid_search():
    X, _ = _blobs(64)
    net = DenoiserNet(sigma=0.5, max_epochs=1, random_state=0, module__hidden_units=(16,))
    copy = clone(net)
    assert copy.get_params()["sigma"] == 0.5 and not hasattr(copy, "module_")
    search = GridSearchCV(net, {"lr": [1e-4, 1e-2]}, cv=2).fit(X)
    assert search.best_params_["lr"] in (1e-4, 1e-2) and np.isfinite(search.best_score_)


# -- DenoiserNet's objectives and default architectures ---------------------------------------------------


def test_an_mse_denoiser_denoises_and_beats_the_noisy_input():
    X, _ = _blobs(256)
    net = DenoiserNet(sigma=0.5, random_state=0).fit(X)  # the defaults: a DenoiserMLP, 10 epochs
    assert isinstance(net.module_, DenoiserMLP)
    # The score is minus the MSE on noisy copies; the noisy input's own MSE is sigma^2: at least a third less error.
    assert -net.score(X) < SIGMA**2 / 1.5


def test_images_get_a_dncnn_and_the_settings_are_checked():
    X = np.random.default_rng(0).random((16, 1, 8, 8), dtype=np.float32)
    net = DenoiserNet(sigma=0.25, max_epochs=1, random_state=0, module__depth=3, module__features=8).fit(X)
    assert isinstance(net.module_, DnCNN) and net.predict(X[:2]).shape == (2, 1, 8, 8)
    with pytest.raises(ValueError, match="objective='stability' needs the trained classifier"):
        DenoiserNet(objective="stability").fit(X)
    with pytest.raises(ValueError, match="needs labels y"):
        DenoiserNet(objective="classification", classifier=torch.nn.Flatten()).fit(X)
    with pytest.raises(ValueError, match="objective must be one of"):
        DenoiserNet(objective="l2").fit(X)


def test_same_random_state_same_denoiser():
    X, _ = _blobs(64)
    nets = [DenoiserNet(sigma=0.5, max_epochs=2, random_state=3, module__hidden_units=(8,)).fit(X) for _ in range(2)]
    assert _unchanged(nets[0].module_, _state(nets[1].module_))


def test_a_stability_denoiser_raises_the_certified_accuracy_of_a_clean_classifier():
    X, y = _blobs(200, width=8)
    torch.manual_seed(0)
    clean = SmoothedClassifier(sigma=0.01, max_epochs=10, lr=0.01, random_state=0, device="cpu", batch_size=512).fit(X, y)
    classifier = clean.module_
    net = DenoiserNet(sigma=1.0, objective="stability", classifier=classifier, random_state=0).fit(X)  # defaults
    settings = dict(module=classifier, classes=[0, 1], sigma=1.0, n=500, random_state=0, device="cpu")
    test = slice(0, 60)
    plain = SmoothedClassifier(**settings).certify(X[test])
    with_denoiser = SmoothedClassifier(**settings, denoiser=net).certify(X[test])
    assert ((with_denoiser.label == y[test]) & ~with_denoiser.abstained).mean() > ((plain.label == y[test]) & ~plain.abstained).mean()


# -- bad denoisers are refused, naming the denoiser ---------------------------------------------------------


class Widen(torch.nn.Module):
    def forward(self, X):
        return torch.cat([X, X], dim=1)


class NaNs(torch.nn.Module):
    def forward(self, X):
        return X * float("nan")


@pytest.mark.parametrize("denoiser, match", [
    (Widen(), r"denoiser Widen must return denoised inputs of the shape it receives, \(2, 2\), got \(2, 4\)"),
    (NaNs(), r"denoiser NaNs returned non-finite values"),
    ("identity", r"denoiser must be None, a torch.nn.Module"),
    (DenoiserNet(), r"denoiser is an unfitted DenoiserNet"),
])
def test_bad_denoisers_are_refused_with_a_message_naming_them(denoiser, match):
    X = _inputs([1.0, -1.0])
    with pytest.raises((ValueError, TypeError), match=match):
        pretrained(denoiser=denoiser).certify(X)
    with pytest.raises((ValueError, TypeError), match=match):
        SmoothedClassifier(denoiser=denoiser, sigma=SIGMA, max_epochs=0, device="cpu").fit(X, [0, 1])


def test_a_sigma_conditioned_denoiser_without_sigma_is_refused():
    with pytest.raises(ValueError, match="denoiser SigmaRecorder is sigma-conditioned .* no noise level reaches it"):
        Denoised(SigmaRecorder(), torch.nn.Identity())(torch.zeros(2, 2))


def test_a_sigma_conditioned_denoiser_gets_fixed_sigma_and_each_dual_level():
    X = _inputs([1.0, -0.6, 0.3])
    fixed = pretrained(denoiser=SigmaRecorder(), n=200)
    fixed.certify(X)
    assert fixed.module_.denoiser.seen == {SIGMA}
    experts = [LinearBinary((1.0, 0.0), 0.0), LinearBinary((1.0, 0.0), 0.0)]
    dual = pretrained(sigma=DualSigma(levels=(0.25, 0.5), selector=lambda X: (X[:, 0] > 0).long(), experts=experts),
                      denoiser=SigmaRecorder(), n=200)
    dual.certify(X)
    assert [e.denoiser.seen for e in dual.module_.experts] == [{0.25}, {0.5}]
    assert isinstance(denoised(torch.nn.Identity(), None), torch.nn.Identity)


def test_one_denoiser_conditioned_on_several_sigmas_serves_fixed_and_dual_sigma():
    X, y = _blobs(128)
    net = DenoiserNet(sigma=(0.25, 0.5), max_epochs=3, random_state=0, module__hidden_units=(16,)).fit(X)
    assert net.module_.takes_sigma and net.levels_ == (0.25, 0.5)
    assert net.predict({"X": X[:2], "sigma": np.array([0.25, 0.5], np.float32)}).shape == (2, 4)
    with pytest.raises(ValueError, match="sigma-conditioned over sigma=\\(0.25, 0.5\\): pass"):
        net.predict(X[:2])
    with pytest.raises(ValueError, match="does not declare takes_sigma=True"):
        DenoiserNet(module=DenoiserMLP(4), sigma=(0.25, 0.5), max_epochs=1).fit(X)
    classifier = LinearBinary(np.ones(4), -2.0)
    fixed = SmoothedClassifier(module=classifier, classes=[0, 1], denoiser=net, sigma=0.5, n=200, random_state=0,
                               device="cpu", batch_size=512)
    assert fixed.certify(X[:3]).radius.shape == (3,) and fixed.module_.sigma == 0.5
    # The composed model passes each copy's level when given one (what a per-input sigma needs).
    model = fixed.module_
    by_copy = model(torch.as_tensor(X[:2]), torch.tensor([0.25, 0.5]))
    by_hand = classifier(net.module_(torch.as_tensor(X[:2]), torch.tensor([0.25, 0.5])))
    assert torch.allclose(by_copy, by_hand)
    dual = SmoothedClassifier(module=classifier, classes=[0, 1], denoiser=net, n=200, random_state=0, device="cpu",
                              batch_size=512, sigma=DualSigma(levels=(0.25, 0.5), selector=lambda X: (X[:, 0] > 0.5).long()))
    dual.certify(X[:3])
    assert [e.sigma for e in dual.module_.experts] == [0.25, 0.5]


# -- each input's sigma reaches a sigma-conditioned denoiser ----------------------------------------------


SHIFTED = dict(module=LinearBinary((1.0, 0.0), -0.5), denoiser=ShrinkBySigma())
DISTANCES = [1.6, 1.2, -0.6, 0.1, 2.0, -1.0]


def _exact_gap(X, scales):
    """f(D(x + t * eps, l)) = [(x_0 + t_0 eps_0) / (1 + l) > 0.5] with l = noise_level(t): the vote for class 1 is
    Phi((x_0 - (1 + l) / 2) / t_0), so the exact gap is |x_0 - (1 + l) / 2| / t_0 and the class its sign."""
    scales = torch.as_tensor(scales)
    level = noise_level(scales).numpy().astype(np.float64)
    t0 = (scales if scales.dim() == 1 else scales[:, 0]).numpy().astype(np.float64)
    margin = X[:, 0] - (1 + level) / 2
    return np.abs(margin) / t0, (margin > 0).astype(int)


@pytest.mark.parametrize("strategy", [IsotropicSigma(), AncerSigma()], ids=["isotropic", "ancer"])
def test_each_inputs_sigma_reaches_a_conditioned_denoiser_exactly(strategy):
    X = _inputs(DISTANCES)
    cert = pretrained(**SHIFTED, sigma=strategy, n=20_000).certify(X)
    scales = pretrained(**SHIFTED, sigma=strategy, n=20_000).noise_scales(X)
    assert len(np.unique(noise_level(torch.as_tensor(scales)).numpy())) > 1  # the inputs' levels differ
    exact, label = _exact_gap(X, scales)
    # Each certificate's gap exceeds the exact one with probability <= alpha = 0.001 (false failure <= 6 * 0.001,
    # seed fixed); at n = 20,000 the Clopper-Pearson bound loses < 0.35 in gap units below the n-cap of 3.39.
    np.testing.assert_array_equal(cert.label, label)
    assert (cert.gap <= exact + 1e-5).all() and (cert.gap > np.minimum(exact, 3.39) - 0.35).all()
    # Negative control: had the denoiser been told the base scale instead of each input's level, the same check
    # would fail.
    t0 = scales if scales.ndim == 1 else scales[:, 0]
    told_base = np.abs(X[:, 0] - (1 + strategy.base_scale()) / 2) / t0
    assert not ((cert.gap <= told_base + 1e-5) & (cert.gap > np.minimum(told_base, 3.39) - 0.35)).all()


def test_the_sigma_optimisation_differentiates_through_the_level():
    X = _inputs([1.0, -0.6])
    clf = pretrained(denoiser=SigmaRecorder(), sigma=IsotropicSigma(n_iter=3, n_samples=8), n=200)
    scales = clf.noise_scales(X)
    assert clf.module_.denoiser.differentiated
    assert {round(float(s), 6) for s in scales} <= clf.module_.denoiser.seen


def test_training_tells_a_conditioned_denoiser_each_copys_level():
    X, y = _blobs(64, width=2)
    levels = (0.25, 0.5)
    dual = SmoothedClassifier(denoiser=SigmaRecorder(), sigma=DualSigma(levels=levels, selector_epochs=1, n_label=8),
                              max_epochs=1, n=100, random_state=0, device="cpu").fit(X, y)
    # Each expert trained and certified behind its own copy of the denoiser, which only ever saw its level.
    assert [e.denoiser.seen for e in dual.module_.experts] == [{0.25}, {0.5}]
    iso = SmoothedClassifier(denoiser=SigmaRecorder(), sigma=IsotropicSigma(n_iter=2, n_samples=4), max_epochs=2,
                             update_sigma_every=1, n=100, random_state=0, device="cpu").fit(X, y)
    trained_at = {round(float(s), 6) for s in iso.train_sigma_}
    assert len(trained_at) > 1 and trained_at <= iso.module_.denoiser.seen


# -- DiffusionDenoiser ------------------------------------------------------------------------------------


class TinyEps(torch.nn.Module):
    """A noise-prediction network for 4 values with a learned timestep embedding."""

    def __init__(self, n_steps):
        super().__init__()
        self.embed = torch.nn.Embedding(n_steps, 16)
        self.net = torch.nn.Sequential(torch.nn.Linear(4 + 16, 64), torch.nn.SiLU(), torch.nn.Linear(64, 4))

    def forward(self, x, t):
        return self.net(torch.cat([x, self.embed(t)], dim=1))


def test_a_diffusion_model_trained_here_denoises_and_certifies():
    T = 100
    abar = torch.cumprod(1 - torch.linspace(1e-3, 0.1, T), 0)
    rng = np.random.default_rng(0)
    # Data on two corners of [0, 1]^4.
    clean = np.where(rng.random((512, 1)) < 0.5, 0.2, 0.8).astype(np.float32) * np.ones((1, 4), np.float32)
    torch.manual_seed(0)
    eps_model = TinyEps(T)
    optimizer = torch.optim.Adam(eps_model.parameters(), lr=1e-2)
    x0 = torch.as_tensor(clean) * 2 - 1
    for _ in range(300):  # the DDPM objective
        t = torch.randint(0, T, (len(x0),))
        eps = torch.randn_like(x0)
        a = abar[t][:, None]
        loss = ((eps_model(a.sqrt() * x0 + (1 - a).sqrt() * eps, t) - eps) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    denoiser = DiffusionDenoiser(eps_model.eval(), abar)
    levels = torch.sqrt((1 - abar) / abar).double()
    t = denoiser.timestep(SIGMA)
    assert levels[t] >= 2 * SIGMA and (t == 0 or levels[t - 1] < 2 * SIGMA)  # rounded up
    X = torch.as_tensor(clean[:200])
    noisy = X + SIGMA * torch.randn(X.shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out = denoiser(noisy, torch.full((len(X),), SIGMA))
    assert ((out - X) ** 2).mean() < 0.5 * ((noisy - X) ** 2).mean()
    with pytest.raises(ValueError, match="below 2 \\* sigma"):
        denoiser.timestep(100.0)
    # As SmoothedClassifier's denoiser: a classifier of the two corners certifies the clean inputs.
    clf = SmoothedClassifier(module=LinearBinary(np.ones(4), -2.0), classes=[0, 1], denoiser=denoiser, sigma=SIGMA,
                             n=500, random_state=0, device="cpu", batch_size=512)
    cert = clf.certify(clean[:20])
    assert (cert.label == (clean[:20, 0] > 0.5)).all() and (cert.radius > 0.3).all()
