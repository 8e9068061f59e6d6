"""DualSigma (dual randomized smoothing): soundness against exact truth, accounting, reductions, invariances."""

import contextlib
import types
import warnings

import numpy as np
import pytest
import torch
from scipy.stats import norm
from sklearn.datasets import make_blobs

from smoothcert import DualSigma, FixedSigma, IsotropicSigma, SmoothedClassifier
from smoothcert.bounds import ClopperPearson
from smoothcert.dual_smoothing import certify_dual_rows
from smoothcert.exceptions import SoundnessWarning
from smoothcert.noise import GaussianNoise, UniformNoise
from smoothcert.plan import SamplingPlan
from smoothcert.simulation import BinomialEngine


class Interval(torch.nn.Module):
    """THEORY.md 6.5's base classifier: class 0 if |z| < 1, else class 1."""

    def forward(self, X):
        inside = (X[:, 0].abs() < 1).float()
        return torch.stack([inside, 1 - inside], dim=1)


def exact_selector(X):
    """THEORY.md 6.5's noise level as a selector: level 0 (sigma 0.2) if |x| < 0.25, else level 1 (sigma 3)."""
    return (X[:, 0].abs() >= 0.25).long()


def coin_selector(X):
    """A selector that flips a fair coin under noise: the parity of the thousandths of the first value."""
    return (torch.frac(X[:, 0].abs() * 1000) < 0.5).long()


def selector_copy():
    """A new function object (at a new address) with the same code each call."""

    def sign(X):
        return (X[:, 0] > 0).long()

    return sign


def constant_selector(X):
    return torch.zeros(len(X), dtype=torch.long)


def deployed(z, selector_sigma=0.2):
    """The exact deployed classifier x -> g_{sigma(x)}(x) of the counterexample, with the smoothed selector."""
    p_small = norm.cdf((0.25 - z) / selector_sigma) - norm.cdf((-0.25 - z) / selector_sigma)
    level = np.where(p_small > 0.5, 0.2, 3.0)
    p_inside = norm.cdf((1 - z) / level) - norm.cdf((-1 - z) / level)
    return np.where(p_inside > 0.5, 0, 1)


def counterexample(sigma, **params):
    settings = dict(module=Interval(), classes=[0, 1], sigma=sigma, n=10_000, alpha=1e-4, batch_size=4096,
                    random_state=0)
    return SmoothedClassifier(**{**settings, **params})


def test_counterexample_radius_never_exceeds_the_distance_to_a_change_of_the_deployed_classifier():
    # 41 certificates at alpha = 1e-4 each: a wrong one has probability at most 41e-4 (a bound; the seed is fixed).
    X = np.linspace(-2, 2, 41, dtype=np.float32)[:, None]
    cert = counterexample(DualSigma(levels=(0.2, 3.0), selector=exact_selector, selector_sigma=0.2)).certify(X)
    z = np.linspace(-6, 6, 240_001)
    truth = deployed(z)
    for x, label, radius, abstained in zip(X[:, 0], cert.label, cert.radius, cert.abstained):
        if not abstained:
            assert (truth[np.abs(z - x) < radius] == label).all(), (x, radius)
    assert (~cert.abstained).sum() >= 30 and (cert.radius > 0.1).sum() >= 20  # not vacuous
    # At 0 the deployed classifier changes where the smoothed selector switches to sigma = 3.
    change = z[(z > 0) & (truth != 0)].min()
    naive = counterexample(FixedSigma(0.2)).certify(np.zeros((1, 1), np.float32))
    dual = cert[20]
    assert naive.radius[0] > 2 * change  # sigma(0)'s own certificate (0.62 at this n), wrong for the deployed one
    assert 0.5 * change < dual.radius[0] <= change  # the selector's exact Cohen radius is 0.16
    assert dual.radius[0] == pytest.approx(dual.radius_sigma[0]) and dual.radius_class[0] > change


class DualBinomialEngine:
    """certify_dual_rows' engine with binomial votes: the selector picks level 0 w.p. ``p_selector``, the
    experts vote class 0 w.p. ``p_class``; rows are independent repetitions."""

    n_classes = 2

    def __init__(self, p_selector, p_class, seed, noise):
        rng = np.random.RandomState(seed)
        self.noise = noise
        self.module = types.SimpleNamespace(selector="selector", experts=["level 0", "level 1"])
        self._engines = {"selector": BinomialEngine(p_selector, self.noise, rng),
                         "level 0": BinomialEngine(p_class, self.noise, rng),
                         "level 1": BinomialEngine(p_class, self.noise, rng)}

    def keys(self, X):
        return list(range(len(X)))

    def to_device(self, X):
        return torch.as_tensor(X)

    def progress(self, total, description):
        return contextlib.nullcontext()

    def with_module(self, module, n_classes, role):
        return self._engines[module]


@pytest.mark.parametrize("sampling, noise, p_selector", [
    ("fixed", GaussianNoise(), 0.9), ("sequential", GaussianNoise(), 0.9), ("adaptive", GaussianNoise(), 0.9),
    ("fixed", UniformNoise(), 0.7),  # l1 radii are linear in p: a lower p_selector makes the selector's bound bind
])
def test_union_bound_accounting_on_simulated_counts(sampling, noise, p_selector):
    # 4000 repetitions, alpha_sigma = alpha_c = 0.1: the rate of wrong certificates is at most 0.2; the check
    # allows 4 standard deviations (0.025), a false failure with probability below 1e-4 per case.
    reps, p_class = 4000, 0.999
    strategy = DualSigma(levels=(0.25, 0.5), selector_sigma=0.5, alpha_split=0.5)
    engine = DualBinomialEngine(np.full(reps, p_selector), np.full(reps, p_class), seed=0, noise=noise)
    plan = SamplingPlan(sampling=sampling, alpha=0.2, n0=100, n=1000, bound=ClopperPearson(), radii=(0.5,),
                        looks="doubling", radius_tolerance=0.01, pilot=100)
    result = certify_dual_rows(engine, np.arange(reps), strategy=strategy, plan=plan)
    radius = result["gap"] * result["sigma"]
    # The exact radii of each part: scale times the gap of the exact probability (Phi^-1 for l2, 2 (p - 1/2) for l1).
    true_sigma, true_class = 0.5 * noise.gap(p_selector), 0.25 * noise.gap(p_class)
    certified = result["gap"] > 0  # where neither part abstains
    wrong = certified & ((result["sigma"] != 0.25) | (result["class_index"] != 0) | (radius > min(true_sigma, true_class)))
    assert wrong.mean() <= 0.2 + 0.025
    assert (result["radius_sigma"] > true_sigma).mean() <= 0.1 + 0.02
    assert certified.mean() > 0.9 and wrong.mean() > 0.01  # not vacuous: the selector's bound binds
    # Negative control: the classifier's radius alone overstates the deployed classifier's radius often.
    assert (certified & (result["radius_class"] > min(true_sigma, true_class))).mean() > 0.3


def _pretrained(sigma, **params):
    X, y = make_blobs(300, centers=[[-1.5, -1.5], [1.5, 1.5]], random_state=0)
    base = SmoothedClassifier(sigma=0.25, n=200, max_epochs=5, random_state=0).fit(X.astype(np.float32), y)
    settings = dict(module=base.module_, classes=[0, 1], sigma=sigma, n=2000, random_state=0)
    return SmoothedClassifier(**{**settings, **params}), X.astype(np.float32)


@pytest.mark.parametrize("sampling, norm", [("fixed", "l2"), ("sequential", "l2"), ("adaptive", "l2"), ("fixed", "l1"),
                                            ("sequential", "l1")])
def test_one_level_is_fixed_sigma_bit_for_bit(sampling, norm):
    radii = (0.25,) if sampling == "sequential" else None
    settings = dict(sampling=sampling, radii=radii, norm=norm)
    dual, X = _pretrained(DualSigma(levels=(0.25,), selector=constant_selector), **settings)
    fixed, _ = _pretrained(FixedSigma(0.25), **settings)
    a, b = dual.certify(X[:40]), fixed.certify(X[:40])
    for name in ("label", "p_lower", "gap", "radius", "sigma", "n_used", "stop_reason", "abstained"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert np.isinf(a.radius_sigma).all() and np.array_equal(a.radius_class, b.radius)
    np.testing.assert_array_equal(dual.predict(X[:40], abstain=True), fixed.predict(X[:40], abstain=True))


def test_two_levels_with_a_constant_selector_are_fixed_sigma_at_the_classifiers_share_of_alpha():
    strategy = DualSigma(levels=(0.25, 0.5), selector=constant_selector, alpha_split=0.3)
    dual, X = _pretrained(strategy, alpha=0.01)
    fixed, _ = _pretrained(FixedSigma(0.25), alpha=0.007)
    a, b = dual.certify(X[:40]), fixed.certify(X[:40])
    np.testing.assert_array_equal(a.radius_class, b.radius)
    # A unanimous selector: its bound is alpha_sigma ** (1 / n), the radius cap of n samples.
    np.testing.assert_allclose(a.radius_sigma, 0.5 * norm.isf(1 - 0.003 ** (1 / 2000)), rtol=1e-6)
    np.testing.assert_allclose(a.radius, np.minimum(a.radius_sigma, a.radius_class), rtol=1e-12)
    assert a.alpha == 0.01 and (a.sigma == 0.25).all() and (a.n_used == 2 * 2100).all()


@pytest.fixture(scope="module")
def trained():
    X, y = make_blobs(400, centers=[[-1, -1], [1, 1], [1, -1]], cluster_std=0.7, random_state=1)
    X = X.astype(np.float32)
    clf = SmoothedClassifier(sigma=DualSigma(levels=(0.12, 0.25, 0.5), selector_epochs=5, n_label=50), n=1000,
                             n_predict=500, max_epochs=5, random_state=0).fit(X, y)
    return clf, X, y


def test_clone_and_grid_search_reach_the_strategy(trained):
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV

    clf, X, y = trained
    fresh = clone(clf)
    assert fresh.get_params()["sigma__consistency"] == 50.0 and not hasattr(fresh, "module_")
    search = GridSearchCV(clone(clf).set_params(max_epochs=1, n_predict=100, sigma__selector_epochs=1,
                                                sigma__n_label=10), {"sigma__alpha_split": [0.3, 0.7]}, cv=2)
    search.fit(X[:120], y[:120])
    assert search.best_params_["sigma__alpha_split"] in (0.3, 0.7)


def test_fit_trains_an_expert_per_level_and_the_selector(trained):
    clf, X, y = trained
    assert len(clf.module_.experts) == 3 and len(clf.sigma_.expert_nets_) == 3
    assert clf.sigma_.selector_net_ is not None and clf.net_ is None
    weights = [next(expert.parameters()).detach().clone() for expert in clf.module_.experts]
    assert not torch.equal(weights[0], weights[1])  # trained apart, at their own levels
    with warnings.catch_warnings():
        warnings.simplefilter("error", SoundnessWarning)  # sound without memory
        cert = clf.certify(X[:60])
    assert set(np.unique(cert.sigma)) <= {np.float32(0.12), np.float32(0.25), np.float32(0.5)}
    assert np.all(cert.radius <= np.minimum(cert.radius_sigma, cert.radius_class) * (1 + 1e-12))
    assert cert.certified_accuracy(y[:60])[0] > 0.7
    assert np.array_equal(cert.abstained, (cert.radius_sigma == 0) | (cert.radius_class == 0))
    assert clf.score(X[:60], y[:60]) > 0.7
    # noise_scales (DualSigma.scales) and predict (dual_vote_counts) choose the same level from the same votes.
    levels = np.asarray(clf.sigma_.checked_levels(), dtype=np.float32)
    np.testing.assert_array_equal(clf.noise_scales(X[:60]), levels[clf._votes(X[:60])[1].argmax(axis=1)])


def test_other_data_dependent_strategies_keep_their_soundness_warning(trained):
    clf, X, _ = trained
    other = SmoothedClassifier(sigma=IsotropicSigma(0.25, n_iter=2, n_samples=10), n=100, max_epochs=0, random_state=0)
    with pytest.warns(SoundnessWarning):
        other.fit(X, trained[2]).certify(X[:2])


def test_certificates_do_not_depend_on_batch_size_row_order_or_n_jobs(trained):
    clf, X, _ = trained
    rows = X[:30]
    reference = clf.set_params(batch_size=1000, n_jobs=None).certify(rows)
    small = clf.set_params(batch_size=64).certify(rows)
    reversed_ = clf.certify(rows[::-1].copy())
    parallel = clf.set_params(n_jobs=2).certify(rows)
    clf.set_params(batch_size="auto", n_jobs=None)
    for other, order in ((small, slice(None)), (reversed_, slice(None, None, -1)), (parallel, slice(None))):
        for name in ("label", "radius", "radius_sigma", "radius_class", "sigma", "n_used"):
            np.testing.assert_array_equal(getattr(other, name)[order], getattr(reference, name), err_msg=name)


@pytest.mark.parametrize("sampling", ["fixed", "sequential", "adaptive"])
def test_an_uncertain_selector_makes_predict_and_certify_abstain(trained, sampling):
    X = trained[1]
    coin, _ = _pretrained(DualSigma(levels=(0.25, 0.5), selector=coin_selector), n_predict=400, sampling=sampling)
    # A fair-coin selector: PREDICT cannot tell its top two levels apart, so (almost) every input abstains,
    # though the expert alone certifies these inputs.
    assert (coin.predict(X[:20], abstain=True) == -1).mean() >= 0.9
    cert = coin.certify(X[:20])
    assert (cert.radius_sigma == 0).mean() >= 0.9 and cert.abstained.mean() >= 0.9
    assert (cert.label[cert.radius_sigma == 0] == -1).all() and (cert.radius[cert.radius_sigma == 0] == 0).all()


def test_results_files_keep_both_radii(trained, tmp_path):
    from smoothcert import read_results, write_results

    clf, X, y = trained
    cert = clf.certify(X[:20])
    write_results(tmp_path / "dual", cert, y[:20])
    back = read_results(tmp_path / "dual")
    np.testing.assert_array_equal(back.radius_sigma, cert.radius_sigma)
    np.testing.assert_array_equal(back.radius_class, cert.radius_class)
    assert {"radius_sigma", "radius_class"} <= set(back.to_frame().columns)
    one_level, _ = _pretrained(DualSigma(levels=(0.25,), selector=constant_selector))
    write_results(tmp_path / "one", one_level.certify(X[:3]), y[:3])
    assert np.isinf(read_results(tmp_path / "one").radius_sigma).all()
    fixed, _ = _pretrained(FixedSigma(0.25))
    write_results(tmp_path / "fixed", fixed.certify(X[:3]), y[:3])
    assert read_results(tmp_path / "fixed").radius_sigma is None  # other strategies' files are unchanged


def test_checkpoint_resume_and_memory_compose(trained, tmp_path):
    from smoothcert import CertificateMemory

    clf, X, _ = trained
    whole = clf.certify(X[:12])
    first = clf.certify(X[:12], checkpoint=tmp_path / "run", checkpoint_every=5)
    again = clf.certify(X[:12], checkpoint=tmp_path / "run", checkpoint_every=5)  # read back from the parts
    for other in (first, again):
        for name in ("label", "radius", "radius_sigma", "radius_class", "sigma"):
            np.testing.assert_array_equal(getattr(other, name), getattr(whole, name), err_msg=name)
    # A function selector's fingerprint does not hold its address, so another process resumes the same run:
    # two copies of one function, at two addresses, give one fingerprint.
    from smoothcert.checkpoint import fingerprint

    copies = [_pretrained(DualSigma(levels=(0.25, 0.5), selector=selector_copy()))[0] for _ in range(2)]
    assert copies[0].sigma.selector is not copies[1].sigma.selector
    provenance = [c.certify(X[:2]).provenance for c in copies]
    assert fingerprint(copies[0], X[:2]) == fingerprint(copies[1], X[:2]) and provenance[0] == provenance[1]
    assert " at 0x" not in str(provenance[0]) and provenance[0]["alpha_sigma"] + provenance[0]["alpha_c"] == 0.001
    with warnings.catch_warnings():
        warnings.simplefilter("error", SoundnessWarning)
        remembered = clone_with(clf, memory=CertificateMemory()).certify(X[:12])
    assert np.all(remembered.radius <= whole.radius + 1e-12)
    np.testing.assert_array_equal(remembered.radius_sigma, whole.radius_sigma)


def clone_with(clf, **params):
    """The fitted ``clf`` with other parameters (a shallow copy: the fitted networks are shared)."""
    import copy

    other = copy.copy(clf)
    other.set_params(**params)
    return other


def test_sequential_sampling_spends_fewer_passes(trained):
    clf, X, _ = trained
    fixed = clone_with(clf, n=10_000).certify(X[:30])
    sequential = clone_with(clf, n=10_000, sampling="sequential").certify(X[:30])
    assert sequential.n_used.mean() < 0.8 * fixed.n_used.mean()
    # An input whose level is not certified abstains, though its expert may have certified a class.
    assert np.array_equal(sequential.abstained, (sequential.radius_sigma == 0) | (sequential.radius_class == 0))
    assert (sequential.abstained == fixed.abstained).mean() >= 0.9
