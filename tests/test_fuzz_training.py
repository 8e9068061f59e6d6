"""Table-driven fuzz test of the training side: the recipes, NoiseAugmentedNet and the sigma
strategies, every parameter and method argument given a wrong type, a wrong value, a non-finite
value, a wrong shape or nothing gets an error naming it.

Convention shared by every ``tests/test_fuzz_*.py``: ``CASES`` holds ``(public name, zero-argument
callable, exception class, regex the message must match)``; valid borderline input has ``None`` as
the exception and a predicate on the result instead of a regex (``test_fuzz_coverage.py`` checks
that every name of ``smoothcert.__all__`` has cases).
"""

import warnings

import numpy as np
import pytest
import torch
from fuzz_cases import fuzz_test
from skorch import NeuralNetClassifier

from smoothcert import (
    MACER,
    AncerSigma,
    DenoiserNet,
    DiffusionDenoiser,
    FixedSigma,
    IsotropicSigma,
    NoiseAugmentation,
    NoiseAugmentedNet,
    SigmaOptimizer,
    SmoothAdv,
    SmoothedClassifier,
    TrainingRecipe,
)
from smoothcert.denoisers import DenoiserMLP
from smoothcert.models import MLP
from smoothcert.noise import GaussianNoise, UniformNoise
from smoothcert.recipes import make_recipe
from smoothcert.sampling import input_keys

pytestmark = pytest.mark.filterwarnings("ignore::smoothcert.exceptions.SoundnessWarning")

X = np.random.default_rng(0).normal(size=(16, 4)).astype(np.float32)
Y = np.arange(16) % 2
XT = torch.as_tensor(X[:3])
NAN, INF = float("nan"), float("inf")
FAST = dict(n_iter=2, n_samples=4)  # optimised strategies: a few steps on a few noise draws


def net(**params):
    defaults = dict(criterion=torch.nn.CrossEntropyLoss, max_epochs=1, batch_size=8, train_split=None, verbose=0)
    return NoiseAugmentedNet(params.pop("module", None) or torch.nn.Linear(4, 2), **{**defaults, **params})


def fit(X=X, y=Y, **params):
    torch.manual_seed(0)
    return net(**params).fit(X, y)


ABAR = np.cumprod(1 - np.linspace(1e-4, 0.02, 1000))


class ZeroEps(torch.nn.Module):
    """A noise-prediction model that predicts no noise (``channels`` times the input's channels)."""

    def __init__(self, channels=1):
        super().__init__()
        self.channels = channels

    def forward(self, x, t):
        return torch.zeros_like(x).repeat(1, self.channels, *[1] * (x.dim() - 2)) if x.dim() > 2 else torch.zeros_like(x)


class NaNDenoiser(torch.nn.Module):
    def forward(self, x):
        return x * NAN


def denoiser_fit(X=X, y=None, **params):
    defaults = dict(sigma=0.5, max_epochs=1, batch_size=16, random_state=0, module__hidden_units=(8,))
    if "module" in params:
        defaults.pop("module__hidden_units")
    if "module__depth" in params:
        defaults.pop("module__hidden_units")
        X = np.zeros((4, 1, 4, 4), np.float32)
    return DenoiserNet(**{**defaults, **params}).fit(X, y)


def recorded(call):
    """Run ``call``, returning the messages of the warnings it emitted."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    return [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


def scales(strategy, model=None, X=XT, noise=GaussianNoise(), keys=None, batch_size=32):
    model = torch.nn.Linear(4, 2).eval() if model is None else model
    keys = input_keys(np.asarray(X), 0) if keys is None and isinstance(X, torch.Tensor) else keys
    return strategy.scales(model, X, noise=noise, keys=keys if keys is not None else [0] * len(X), batch_size=batch_size)


class Returns(torch.nn.Module):
    """A module that returns ``kind`` of output: a user's bug in ``forward``."""

    def __init__(self, kind):
        super().__init__()
        self.kind = kind
        self.linear = torch.nn.Linear(4, 2)

    def forward(self, x):
        out = self.linear(x)
        return {
            "logits": lambda: out,
            "probabilities": lambda: out.softmax(dim=1),
            "log_probabilities": lambda: out.log_softmax(dim=1),
            "tuple": lambda: (out, out),
            "one_row": lambda: out[:1],
            "nan": lambda: out * NAN,
        }[self.kind]()


class Constant(SigmaOptimizer):
    """A user's strategy returning whatever ``value`` is, for every input."""

    data_dependent = True

    def __init__(self, value=0.5, shape="rows"):
        self.value = value
        self.shape = shape

    def base_scale(self):
        return self.value

    def scales(self, model, X, *, noise, keys, batch_size):
        n = X.shape[0] if self.shape == "rows" else X.shape[0] + 1
        return torch.full((n,), float(self.value))


class NanLoss(TrainingRecipe):
    """A user's recipe whose loss is NaN: training must stop, not produce a model."""

    def loss(self, net, X, y, scales, **fit_params):
        out = net.infer(X, **fit_params)
        return net.get_loss(out, y) * NAN, out


def recipe_case(name, recipe, exc, match, **params):
    return (name, lambda: fit(recipe=recipe, **params), exc, match)


def ascent_cases(cls, **extra):
    """Parameters both optimised strategies share, checked by base_scale and by scales."""
    name = cls.__name__
    bad = [
        (dict(lr=0.0), ValueError, "lr must be a finite float > 0"),
        (dict(lr=-0.04), ValueError, "lr must be a finite float > 0"),
        (dict(lr=NAN), ValueError, "lr must be a finite float > 0"),
        (dict(lr=INF), ValueError, "lr must be a finite float > 0"),
        (dict(lr="0.04"), TypeError, "lr must be a float"),
        (dict(n_iter=-1), ValueError, "n_iter must be an int >= 0"),
        (dict(n_iter=2.5), TypeError, "n_iter must be an int"),
        (dict(n_iter=True), TypeError, "n_iter must be an int"),
        (dict(n_samples=0), ValueError, "n_samples must be an int >= 1"),
        (dict(n_samples=NAN), TypeError, "n_samples must be an int"),
        (dict(clamp=0.0), ValueError, "clamp must be a finite float > 0.0 and < 0.5"),
        (dict(clamp=0.5), ValueError, "clamp must be a finite float"),
        (dict(clamp=NAN), ValueError, "clamp must be a finite float"),
        (dict(clamp=None), TypeError, "clamp must be a float"),
        (dict(surrogate="gap"), ValueError, "surrogate must be 'binary'"),
        (dict(surrogate=None), ValueError, "surrogate must be 'binary'"),
        (dict(outputs="scores"), ValueError, "outputs must be 'logits'"),
        (dict(outputs=["logits"]), ValueError, "outputs must be 'logits'"),
    ]
    cases = []
    for params, exc, match in bad:
        cases.append((name, lambda p=params: cls(**{**extra, **p}).base_scale(), exc, match))
    for params, exc, match in bad[:3]:  # and at scales, the method the estimator calls
        cases.append((name, lambda p=params: scales(cls(**{**extra, **FAST, **p})), exc, match))
    strategy = cls(**{**extra, **FAST})
    cases += [
        # -- scales(model, X, *, noise, keys, batch_size) --
        (name, lambda: scales(strategy, model="linear"), TypeError, r"scales needs model as a torch.nn.Module"),
        (name, lambda: scales(strategy, X=X[:3], keys=[0, 1, 2]), TypeError, r"scales needs X as a torch.Tensor"),
        (name, lambda: scales(strategy, X=XT[0], keys=[0]), ValueError, r"X of shape \(n_inputs, \*input_shape\)"),
        (name, lambda: scales(strategy, X=XT.long(), keys=[0, 1, 2]), TypeError, "X of a floating dtype"),
        (name, lambda: scales(strategy, X=torch.full((2, 4), NAN), keys=[0, 1]), ValueError, "finite inputs X"),
        (name, lambda: scales(strategy, X=torch.full((2, 4), INF), keys=[0, 1]), ValueError, "finite inputs X"),
        (name, lambda: scales(strategy, keys=[1, 2]), ValueError, "one key per row of X: got 2 keys for 3 inputs"),
        (name, lambda: scales(strategy, keys=5), TypeError, "keys as a sequence of ints"),
        (name, lambda: scales(strategy, noise=None), TypeError, "noise as smoothcert.noise.GaussianNoise"),
        (name, lambda: scales(strategy, noise="l2"), TypeError, "noise as smoothcert.noise.GaussianNoise"),
        (name, lambda: scales(strategy, batch_size=0), ValueError, "batch_size as an int >= 1"),
        (name, lambda: scales(strategy, batch_size=2.5), TypeError, "batch_size as an int >= 1"),
        (name, lambda: scales(strategy, batch_size="auto"), TypeError, "batch_size as an int >= 1"),
        (name, lambda: scales(strategy, model=Returns("tuple").eval()), ValueError,
         r"model must return a torch.Tensor of shape \(batch, n_classes\).*got tuple"),
        (name, lambda: scales(strategy, model=Returns("one_row").eval()), ValueError,
         r"model must return a torch.Tensor of shape \(batch, n_classes\)"),
        (name, lambda: scales(strategy, model=Returns("nan").eval()), ValueError, "model produced non-finite scores"),
        # a model that ends in a softmax, read as logits: softmax twice
        (name, lambda: scales(strategy, model=Returns("probabilities").eval()), ValueError,
         rf"{name}\(outputs='logits'\) applies a softmax.*use {name}\(outputs='probabilities'\)"),
        (name, lambda: scales(cls(**{**extra, **FAST, "outputs": "probabilities"}), model=Returns("logits").eval()),
         ValueError, rf"outputs='probabilities'.*use {name}\(outputs='logits'\)"),
        # valid borderline calls
        (name, lambda: scales(cls(**{**extra, **FAST, "outputs": "probabilities"}), model=Returns("probabilities").eval()),
         None, lambda s: s.shape[0] == 3 and bool((s > 0).all())),
        (name, lambda: scales(strategy, X=XT[:0], keys=[]), None, lambda s: s.shape[0] == 0),
        (name, lambda: scales(strategy, batch_size=1), None, lambda s: s.shape[0] == 3),  # one input per chunk
        (name, lambda: scales(strategy, noise=UniformNoise()), None, lambda s: bool(torch.isfinite(s).all())),
        (name, lambda: scales(strategy, X=torch.zeros(2, 1, 2, 2), keys=[0, 1], model=torch.nn.Sequential(
            torch.nn.Flatten(), torch.nn.Linear(4, 2))), None, lambda s: s.shape[0] == 2),
        (name, lambda: scales(cls(**{**extra, "n_iter": 0})), None, lambda s: s.shape[0] == 3),
    ]
    return cases


CASES = [
    # -- TrainingRecipe and make_recipe (how a recipe is named) --
    ("TrainingRecipe", lambda: TrainingRecipe(), TypeError, "abstract"),
    ("TrainingRecipe", lambda: make_recipe("adversarial"), ValueError,
     r"recipe must be one of \['gaussian', 'macer', 'smoothadv'\]"),
    ("TrainingRecipe", lambda: make_recipe(""), ValueError, "recipe must be one of"),
    ("TrainingRecipe", lambda: make_recipe("MACER"), ValueError, "recipe must be one of"),
    ("TrainingRecipe", lambda: make_recipe(None), TypeError, "recipe must be one of .* got NoneType"),
    ("TrainingRecipe", lambda: make_recipe(3), TypeError, "recipe must be one of .* got int"),
    ("TrainingRecipe", lambda: make_recipe(MACER), TypeError, r"recipe must be a TrainingRecipe instance, not the class: use MACER\(\)"),
    ("TrainingRecipe", lambda: make_recipe("macer", gamma=-1.0).check_params(GaussianNoise()), ValueError, "gamma"),
    ("TrainingRecipe", lambda: make_recipe(MACER(), foo=1), ValueError, "Invalid parameter 'foo'"),
    ("TrainingRecipe", lambda: fit(recipe=NanLoss()), ValueError, "training loss is non-finite"),
    ("TrainingRecipe", lambda: make_recipe("smoothadv", n_steps=3), None, lambda r: isinstance(r, SmoothAdv) and r.n_steps == 3),
    ("TrainingRecipe", lambda: fit(recipe=NoiseAugmentation()).recipe_, None, lambda r: isinstance(r, NoiseAugmentation)),
    # -- NoiseAugmentation (no hyperparameters) --
    ("NoiseAugmentation", lambda: NoiseAugmentation(sigma=0.5), TypeError, "unexpected keyword argument 'sigma'"),
    ("NoiseAugmentation", lambda: fit(recipe="gaussian", recipe__sigma=0.5), ValueError, "Invalid parameter 'sigma'"),
    ("NoiseAugmentation", lambda: fit(recipe="gaussian", norm="l1").history[-1, "train_loss"], None, np.isfinite),
    ("NoiseAugmentation", lambda: fit(recipe="gaussian", max_epochs=2).history[-1, "train_loss"], None, np.isfinite),
    # -- MACER --
    recipe_case("MACER", MACER(n_samples=0), ValueError, "n_samples must be an int >= 1"),
    recipe_case("MACER", MACER(n_samples=-3), ValueError, "n_samples must be an int >= 1"),
    recipe_case("MACER", MACER(n_samples=2.5), TypeError, "n_samples must be an int"),
    recipe_case("MACER", MACER(n_samples=True), TypeError, "n_samples must be an int"),
    recipe_case("MACER", MACER(n_samples=None), TypeError, "n_samples must be an int"),
    recipe_case("MACER", MACER(beta=0.0), ValueError, "beta must be a finite float > 0"),
    recipe_case("MACER", MACER(beta=-16.0), ValueError, "beta must be a finite float > 0"),
    recipe_case("MACER", MACER(beta=NAN), ValueError, "beta must be a finite float > 0"),
    recipe_case("MACER", MACER(beta=INF), ValueError, "beta must be a finite float > 0"),
    recipe_case("MACER", MACER(beta="16"), TypeError, "beta must be a float"),
    recipe_case("MACER", MACER(gamma=0.0), ValueError, "gamma must be a finite float > 0"),
    recipe_case("MACER", MACER(gamma=NAN), ValueError, "gamma must be a finite float > 0"),
    recipe_case("MACER", MACER(gamma=INF), ValueError, "gamma must be a finite float > 0"),
    recipe_case("MACER", MACER(gamma=[8.0]), TypeError, "gamma must be a float"),
    recipe_case("MACER", MACER(lbd=-1.0), ValueError, "lbd must be a finite float >= 0"),
    recipe_case("MACER", MACER(lbd=NAN), ValueError, "lbd must be a finite float >= 0"),
    recipe_case("MACER", MACER(lbd=INF), ValueError, "lbd must be a finite float >= 0"),
    recipe_case("MACER", MACER(n_samples=2), ValueError, "training loss became non-finite", lr=1e38, max_epochs=2),
    ("MACER", lambda: MACER(n_samples=0).check_params(UniformNoise()), ValueError, "n_samples must be an int >= 1"),
    # valid borderline hyperparameters
    ("MACER", lambda: fit(recipe=MACER(n_samples=1, lbd=0.0)).history[-1, "train_loss"], None, np.isfinite),
    ("MACER", lambda: fit(recipe=MACER(n_samples=2, beta=1e-6, gamma=1e6), norm="l1").history[-1, "train_loss"], None,
     np.isfinite),
    ("MACER", lambda: fit(recipe=MACER(n_samples=np.int64(2), beta=np.float32(4.0))).history[-1, "train_loss"], None,
     np.isfinite),
    # -- SmoothAdv --
    recipe_case("SmoothAdv", SmoothAdv(epsilon=0.0), ValueError, "epsilon must be a finite float > 0"),
    recipe_case("SmoothAdv", SmoothAdv(epsilon=-0.25), ValueError, "epsilon must be a finite float > 0"),
    recipe_case("SmoothAdv", SmoothAdv(epsilon=NAN), ValueError, "epsilon must be a finite float > 0"),
    recipe_case("SmoothAdv", SmoothAdv(epsilon=INF), ValueError, "epsilon must be a finite float > 0"),
    recipe_case("SmoothAdv", SmoothAdv(epsilon="0.25"), TypeError, "epsilon must be a float"),
    recipe_case("SmoothAdv", SmoothAdv(n_steps=0), ValueError, "n_steps must be an int >= 1"),
    recipe_case("SmoothAdv", SmoothAdv(n_steps=1.5), TypeError, "n_steps must be an int"),
    recipe_case("SmoothAdv", SmoothAdv(n_samples=0), ValueError, "n_samples must be an int >= 1"),
    recipe_case("SmoothAdv", SmoothAdv(n_samples=[1]), TypeError, "n_samples must be an int"),
    recipe_case("SmoothAdv", SmoothAdv(step_size=0.0), ValueError, "step_size must be a finite float > 0"),
    recipe_case("SmoothAdv", SmoothAdv(step_size=-1.0), ValueError, "step_size must be a finite float > 0"),
    recipe_case("SmoothAdv", SmoothAdv(step_size=NAN), ValueError, "step_size must be a finite float > 0"),
    recipe_case("SmoothAdv", SmoothAdv(step_size="auto"), TypeError, "step_size must be a float"),
    recipe_case("SmoothAdv", SmoothAdv(), ValueError, "SmoothAdv .* needs norm='l2'", norm="l1"),
    recipe_case("SmoothAdv", SmoothAdv(), ValueError, "training loss became non-finite", lr=1e38, max_epochs=2),
    ("SmoothAdv", lambda: SmoothAdv().attack(fit(), torch.as_tensor(X[:2]), torch.tensor([0, 1]), torch.zeros(2, 4)),
     None, lambda adv: adv.shape == (2, 4) and bool(((adv - torch.as_tensor(X[:2])).norm(dim=1) <= 0.25 + 1e-6).all())),
    # valid borderline hyperparameters
    ("SmoothAdv", lambda: fit(recipe=SmoothAdv(epsilon=1e-8, n_steps=1, n_samples=3)).history[-1, "train_loss"], None,
     np.isfinite),
    ("SmoothAdv", lambda: fit(recipe=SmoothAdv(step_size=10.0)).history[-1, "train_loss"], None, np.isfinite),
    # -- NoiseAugmentedNet: constructor parameters, checked at fit --
    ("NoiseAugmentedNet", lambda: fit(norm="linf"), ValueError, "norm must be 'l2'"),
    ("NoiseAugmentedNet", lambda: fit(norm=None), ValueError, "norm must be 'l2'"),
    ("NoiseAugmentedNet", lambda: fit(norm=["l2"]), ValueError, "norm must be 'l2'"),
    ("NoiseAugmentedNet", lambda: fit(sigma=0.0), ValueError, "sigma must be a positive finite float"),
    ("NoiseAugmentedNet", lambda: fit(sigma=-0.25), ValueError, "sigma must be a positive finite float"),
    ("NoiseAugmentedNet", lambda: fit(sigma=NAN), ValueError, "sigma must be a positive finite float"),
    ("NoiseAugmentedNet", lambda: fit(sigma=INF), ValueError, "sigma must be a positive finite float"),
    ("NoiseAugmentedNet", lambda: fit(sigma="0.25"), TypeError, "sigma must be a positive float"),
    ("NoiseAugmentedNet", lambda: fit(sigma=None), TypeError, "sigma must be a positive float"),
    ("NoiseAugmentedNet", lambda: fit(sigma=np.full(16, 0.25)), TypeError, "sigma must be a positive float"),
    ("NoiseAugmentedNet", lambda: fit(recipe="adversarial"), ValueError, r"recipe must be one of \['gaussian'"),
    ("NoiseAugmentedNet", lambda: fit(recipe=None), TypeError, "recipe must be one of"),
    ("NoiseAugmentedNet", lambda: fit(recipe=SmoothAdv), TypeError, r"use SmoothAdv\(\)"),
    ("NoiseAugmentedNet", lambda: fit(recipe="macer", recipe__n_samples=0), ValueError, "n_samples must be an int >= 1"),
    ("NoiseAugmentedNet", lambda: fit(update_sigma_every=0), ValueError, "update_sigma_every must be an int >= 1"),
    ("NoiseAugmentedNet", lambda: fit(update_sigma_every=2.5), TypeError, "update_sigma_every must be an int"),
    ("NoiseAugmentedNet", lambda: fit(update_sigma_every=True), TypeError, "update_sigma_every must be an int"),
    ("NoiseAugmentedNet", lambda: fit(update_batch_size=0), ValueError, "update_batch_size must be an int >= 1"),
    ("NoiseAugmentedNet", lambda: fit(update_batch_size="auto"), TypeError, "update_batch_size must be an int"),
    ("NoiseAugmentedNet", lambda: fit(max_epochs=-1), ValueError, "max_epochs must be an int >= 0"),
    ("NoiseAugmentedNet", lambda: fit(max_epochs=1.5), TypeError, "max_epochs must be an int"),
    ("NoiseAugmentedNet", lambda: fit(lr=NAN), ValueError, "lr must be a finite float >= 0"),
    ("NoiseAugmentedNet", lambda: fit(lr=INF), ValueError, "lr must be a finite float >= 0"),
    ("NoiseAugmentedNet", lambda: fit(optimizer=3), TypeError, "optimizer must be a class .*got int 3"),
    ("NoiseAugmentedNet", lambda: fit(criterion="ce"), TypeError, "criterion must be a class .*got str 'ce'"),
    ("NoiseAugmentedNet", lambda: fit(optimizer__lr=INF), ValueError, "lr must be a finite float >= 0"),
    ("NoiseAugmentedNet", lambda: fit(lr=-1.0), ValueError, "lr must be a finite float >= 0"),
    ("NoiseAugmentedNet", lambda: fit(lr=1.0, optimizer__lr=-1.0), ValueError, "lr must be a finite float >= 0"),
    ("NoiseAugmentedNet", lambda: fit(batch_size=0), ValueError, "batch_size"),
    # divergence: a loss that becomes non-finite, or weights that do, never leave a model behind quietly
    ("NoiseAugmentedNet", lambda: fit(lr=1e38, max_epochs=2), ValueError,
     r"training loss became non-finite \(inf\) at epoch 1, batch 2.* lr=1e\+38 is probably too large: use a smaller lr"),
    # one step: the loss was finite, the weights it left are not
    ("NoiseAugmentedNet", lambda: fit(X=X * 100, lr=1e38, batch_size=16), ValueError,
     r"training left non-finite weights .* lr=1e\+38 is probably too large: use a smaller lr"),
    ("NoiseAugmentedNet", lambda: fit(module=Returns("nan")), ValueError, "module produced non-finite scores"),
    ("NoiseAugmentedNet", lambda: fit(recipe=NanLoss()), ValueError,
     "training loss is non-finite .* on the first training batch, before any optimizer step"),
    # criterion and outputs disagree: skorch's default NLLLoss with a module that outputs logits
    ("NoiseAugmentedNet", lambda: fit(criterion=torch.nn.NLLLoss), ValueError,
     r"criterion=NLLLoss .* needs a module that outputs probabilities.*criterion=torch.nn.CrossEntropyLoss"),
    ("NoiseAugmentedNet", lambda: fit(criterion=torch.nn.NLLLoss, module=Returns("log_probabilities")), ValueError,
     r"criterion=NLLLoss .*\(not a log-softmax\)"),
    ("NoiseAugmentedNet", lambda: fit(criterion=torch.nn.NLLLoss, recipe=MACER(n_samples=2)), ValueError,
     "criterion=NLLLoss"),
    ("NoiseAugmentedNet", lambda: fit(module=Returns("tuple")), ValueError, r"module must return a torch.Tensor.*got tuple"),
    ("NoiseAugmentedNet", lambda: fit(module=Returns("one_row")), ValueError, r"module must return scores of shape \(batch, n_classes\)"),
    # a data-dependent strategy that max_epochs never lets update: warned
    ("NoiseAugmentedNet", lambda: recorded(lambda: fit(sigma=IsotropicSigma(**FAST), max_epochs=2)), None,
     lambda messages: any("max_epochs=2 and update_sigma_every=5" in m and "max_epochs >= 6" in m for m in messages)),
    ("NoiseAugmentedNet", lambda: recorded(lambda: fit(sigma=IsotropicSigma(**FAST), max_epochs=5)), None,
     lambda messages: any("never re-chooses the per-sample scales" in m for m in messages)),
    ("NoiseAugmentedNet", lambda: recorded(lambda: fit(sigma=IsotropicSigma(**FAST), max_epochs=2, update_sigma_every=1)), None,
     lambda messages: not any("update_sigma_every" in m for m in messages)),
    ("NoiseAugmentedNet", lambda: recorded(lambda: fit(sigma=IsotropicSigma(**FAST), max_epochs=0)), None,
     lambda messages: not any("update_sigma_every" in m for m in messages)),
    ("NoiseAugmentedNet", lambda: recorded(lambda: fit(sigma=0.3, max_epochs=1)), None,
     lambda messages: not any("update_sigma_every" in m for m in messages)),
    # a user's strategy whose scales are wrong
    ("NoiseAugmentedNet", lambda: fit(sigma=Constant(0.0)), ValueError, r"Constant.base_scale\(\) must be a positive"),
    ("NoiseAugmentedNet", lambda: fit(sigma=Constant("big")), TypeError, r"Constant.base_scale\(\) must be a positive float"),
    ("NoiseAugmentedNet", lambda: fit(sigma=Constant(0.5, shape="extra"), max_epochs=2, update_sigma_every=1), ValueError,
     r"Constant.scales must return a torch.Tensor of shape \(16,\)"),
    ("NoiseAugmentedNet", lambda: fit(sigma=Constant(0.5), sigma__value=-1.0), ValueError, "must be a positive"),
    # -- NoiseAugmentedNet: fit(X, y) --
    ("NoiseAugmentedNet", lambda: fit(X=X[:0], y=Y[:0]), ValueError, "at least one training sample"),
    ("NoiseAugmentedNet", lambda: fit(X=np.where(np.eye(16, 4) > 0, NAN, X)), ValueError, "X must be finite"),
    ("NoiseAugmentedNet", lambda: fit(X=np.full_like(X, INF)), ValueError, "X must be finite"),
    ("NoiseAugmentedNet", lambda: fit(X=torch.full((16, 4), NAN)), ValueError, "X must be finite"),
    ("NoiseAugmentedNet", lambda: fit(X=X.tolist()), TypeError, "numpy array or torch tensor"),
    ("NoiseAugmentedNet", lambda: fit(X={"X": X}), ValueError, "exactly the keys 'X' and 'sigma'"),
    ("NoiseAugmentedNet", lambda: fit(X={"X": X, "sigma": 0.5, "w": 1}), ValueError, "exactly the keys 'X' and 'sigma'"),
    ("NoiseAugmentedNet", lambda: fit(X={"X": X, "sigma": np.ones(15)}), ValueError, r"shape \(16,\) or \(16, 4\)"),
    ("NoiseAugmentedNet", lambda: fit(X={"X": X, "sigma": np.ones((16, 2))}), ValueError, r"shape \(16,\) or \(16, 4\)"),
    ("NoiseAugmentedNet", lambda: fit(X={"X": X, "sigma": np.ones(0)}), ValueError, r"shape \(16,\) or \(16, 4\)"),
    ("NoiseAugmentedNet", lambda: fit(X={"X": X, "sigma": np.zeros(16)}), ValueError, "positive finite noise scales"),
    ("NoiseAugmentedNet", lambda: fit(X={"X": X, "sigma": np.full(16, NAN)}), ValueError, "positive finite noise scales"),
    ("NoiseAugmentedNet", lambda: fit(X={"X": X, "sigma": np.full(16, INF)}), ValueError, "positive finite noise scales"),
    ("NoiseAugmentedNet", lambda: fit(X={"X": X, "sigma": -0.5}), ValueError, "positive finite noise scales"),
    ("NoiseAugmentedNet", lambda: fit(X={"X": X, "sigma": "wide"}), TypeError, r"X\['sigma'\] must be an array of positive"),
    ("NoiseAugmentedNet", lambda: fit(X={"X": X, "sigma": None}), ValueError, "positive finite noise scales"),
    ("NoiseAugmentedNet", lambda: fit(y=Y[:10]), ValueError, "inconsistent|same number|length"),
    # valid borderline fits and calls
    ("NoiseAugmentedNet", lambda: fit(max_epochs=0).train_sigma_, None, lambda s: s.shape == (16,)),
    ("NoiseAugmentedNet", lambda: fit(X={"X": X, "sigma": torch.full((16, 4), 0.2)}).train_sigma_, None,
     lambda s: s.shape == (16, 4) and s.dtype == np.float32),
    ("NoiseAugmentedNet", lambda: fit(X={"X": X, "sigma": np.float64(0.2)}).train_sigma_, None, lambda s: np.all(s == np.float32(0.2))),
    ("NoiseAugmentedNet", lambda: fit(X=X[:1], y=Y[:1], classes=[0, 1]).predict(X[:2]), None, lambda p: p.shape == (2,)),
    ("NoiseAugmentedNet", lambda: fit(lr=0.0).history[-1, "train_loss"], None, np.isfinite),  # a no-op optimizer is allowed
    ("NoiseAugmentedNet", lambda: fit(criterion=torch.nn.NLLLoss, module=Returns("probabilities")).predict_proba(X[:2]), None,
     lambda p: np.allclose(p.sum(axis=1), 1.0)),
    ("NoiseAugmentedNet", lambda: fit(sigma=IsotropicSigma(**FAST), max_epochs=2, update_sigma_every=1, batch_size=-1).train_sigma_,
     None, lambda s: s.shape == (16,) and np.all(s > 0)),
    ("NoiseAugmentedNet", lambda: fit(sigma=AncerSigma(init=0.3, **FAST), max_epochs=2, update_sigma_every=1,
                                      update_batch_size=1).train_sigma_, None, lambda s: s.shape == (16, 4) and np.all(s >= 0.3)),
    ("NoiseAugmentedNet", lambda: fit().partial_fit(X, Y).history[-1, "train_loss"], None, np.isfinite),
    ("NoiseAugmentedNet", lambda: fit().predict(torch.as_tensor(X[:3])), None, lambda p: p.shape == (3,)),
    # -- FixedSigma --
    ("FixedSigma", lambda: FixedSigma(0.0).base_scale(), ValueError, "sigma must be a positive finite float"),
    ("FixedSigma", lambda: FixedSigma(-0.5).base_scale(), ValueError, "sigma must be a positive finite float"),
    ("FixedSigma", lambda: FixedSigma(NAN).base_scale(), ValueError, "sigma must be a positive finite float"),
    ("FixedSigma", lambda: FixedSigma(INF).base_scale(), ValueError, "sigma must be a positive finite float"),
    ("FixedSigma", lambda: FixedSigma("0.5").base_scale(), TypeError, "sigma must be a positive float"),
    ("FixedSigma", lambda: FixedSigma(None).base_scale(), TypeError, "sigma must be a positive float"),
    ("FixedSigma", lambda: FixedSigma(True).base_scale(), TypeError, "sigma must be a positive float"),
    ("FixedSigma", lambda: FixedSigma([0.5]).base_scale(), TypeError, "sigma must be a positive float"),
    ("FixedSigma", lambda: scales(FixedSigma(-1.0)), ValueError, "sigma must be a positive finite float"),
    ("FixedSigma", lambda: FixedSigma(0.5).scales(None, X[:2], noise=None, keys=[0, 1], batch_size=1), TypeError,
     r"FixedSigma.scales needs X as a torch.Tensor"),
    ("FixedSigma", lambda: FixedSigma(0.5).scales(None, torch.zeros(()), noise=None, keys=[], batch_size=1), ValueError,
     r"X of shape \(n_inputs, \*input_shape\)"),
    ("FixedSigma", lambda: FixedSigma(0.5).set_params(scale=1.0), ValueError, "Invalid parameter 'scale'"),
    ("FixedSigma", lambda: fit(sigma=FixedSigma(0.0)), ValueError, "sigma must be a positive finite float"),
    # valid borderline
    ("FixedSigma", lambda: FixedSigma(np.float32(0.5)).base_scale(), None, lambda s: s == 0.5 and type(s) is float),
    ("FixedSigma", lambda: FixedSigma(1e-30).base_scale(), None, lambda s: s == 1e-30),
    ("FixedSigma", lambda: scales(FixedSigma(0.5), X=XT[:0], keys=[]), None, lambda s: s.shape == (0,)),
    ("FixedSigma", lambda: scales(FixedSigma(2), X=torch.zeros(2, 3, 4, 4), keys=[0, 1]), None,
     lambda s: torch.equal(s, torch.full((2,), 2.0))),
    ("FixedSigma", lambda: fit(sigma=FixedSigma(0.3)).train_sigma_, None, lambda s: np.all(s == np.float32(0.3))),
    # -- SigmaOptimizer (the interface a user's strategy implements) --
    ("SigmaOptimizer", lambda: SigmaOptimizer(), TypeError, "abstract"),
    ("SigmaOptimizer", lambda: type("NoScales", (SigmaOptimizer,), {"base_scale": lambda self: 0.5})(), TypeError, "abstract"),
    ("SigmaOptimizer", lambda: fit(sigma=Constant(NAN)), ValueError, r"Constant.base_scale\(\) must be a positive finite"),
    ("SigmaOptimizer", lambda: fit(sigma=Constant(0.5, shape="extra"), max_epochs=2, update_sigma_every=1), ValueError,
     r"Constant.scales must return"),
    ("SigmaOptimizer", lambda: SmoothedClassifier(sigma=Constant(0.5, shape="extra"), max_epochs=0, n0=10, n=50,
                                                  random_state=0, device="cpu").fit(X, Y).certify(X[:2]),
     ValueError, r"Constant.scales must return a torch.Tensor of shape \(2,\)"),
    ("SigmaOptimizer", lambda: fit(sigma=Constant(0.4), max_epochs=2, update_sigma_every=1).train_sigma_, None,
     lambda s: np.all(s == np.float32(0.4))),
    # -- IsotropicSigma --
    ("IsotropicSigma", lambda: IsotropicSigma(init=0.0).base_scale(), ValueError, "init must be a positive finite float"),
    ("IsotropicSigma", lambda: IsotropicSigma(init=-0.25).base_scale(), ValueError, "init must be a positive finite float"),
    ("IsotropicSigma", lambda: IsotropicSigma(init=NAN).base_scale(), ValueError, "init must be a positive finite float"),
    ("IsotropicSigma", lambda: IsotropicSigma(init=INF).base_scale(), ValueError, "init must be a positive finite float"),
    ("IsotropicSigma", lambda: IsotropicSigma(init="0.25").base_scale(), TypeError, "init must be a positive float"),
    ("IsotropicSigma", lambda: IsotropicSigma(init=None).base_scale(), TypeError, "init must be a positive float"),
    ("IsotropicSigma", lambda: IsotropicSigma(min_sigma=0.0).base_scale(), ValueError, "min_sigma must be a positive"),
    ("IsotropicSigma", lambda: IsotropicSigma(min_sigma=NAN).base_scale(), ValueError, "min_sigma must be a positive"),
    ("IsotropicSigma", lambda: IsotropicSigma(min_sigma=None).base_scale(), TypeError, "min_sigma must be a positive float"),
    ("IsotropicSigma", lambda: IsotropicSigma(min_sigma=0.5).base_scale(), ValueError, r"init=0.25 must lie in \[min_sigma, max_sigma\]"),
    ("IsotropicSigma", lambda: IsotropicSigma(max_sigma=0.1).base_scale(), ValueError, r"init=0.25 must lie in \[min_sigma, max_sigma\]"),
    ("IsotropicSigma", lambda: IsotropicSigma(max_sigma=1e-4).base_scale(), ValueError, "max_sigma=0.0001 must be >= min_sigma"),
    ("IsotropicSigma", lambda: IsotropicSigma(max_sigma=-1.0).base_scale(), ValueError, "max_sigma must be a positive"),
    ("IsotropicSigma", lambda: IsotropicSigma(max_sigma=NAN).base_scale(), ValueError, "max_sigma must be a positive"),
    ("IsotropicSigma", lambda: IsotropicSigma(max_sigma="none").base_scale(), TypeError, "max_sigma must be a positive float"),
    ("IsotropicSigma", lambda: fit(sigma=IsotropicSigma(lr=-1.0)), ValueError, "lr must be a finite float > 0"),
    ("IsotropicSigma", lambda: fit(sigma=IsotropicSigma(), sigma__init=0.0), ValueError, "init must be a positive"),
    ("IsotropicSigma", lambda: fit(sigma=IsotropicSigma(**FAST), max_epochs=2, update_sigma_every=1,
                                   module=Returns("probabilities"), criterion=torch.nn.NLLLoss), ValueError,
     r"IsotropicSigma\(outputs='logits'\) applies a softmax"),
    *ascent_cases(IsotropicSigma),
    # valid borderline
    ("IsotropicSigma", lambda: IsotropicSigma(init=np.float32(0.5), max_sigma=0.5).base_scale(), None, lambda s: s == 0.5),
    ("IsotropicSigma", lambda: scales(IsotropicSigma(init=0.3, min_sigma=0.3, max_sigma=0.3, lr=10.0, **FAST)), None,
     lambda s: torch.allclose(s, torch.full((3,), 0.3))),
    ("IsotropicSigma", lambda: scales(IsotropicSigma(clamp=0.4999, surrogate="top2", **FAST)), None, lambda s: bool((s > 0).all())),
    # -- AncerSigma --
    ("AncerSigma", lambda: AncerSigma(init=0.0).base_scale(), ValueError, "init must be a positive finite float"),
    ("AncerSigma", lambda: AncerSigma(init=-1.0).base_scale(), ValueError, "init must be a positive finite float"),
    ("AncerSigma", lambda: AncerSigma(init=NAN).base_scale(), ValueError, "init must be a positive finite float"),
    ("AncerSigma", lambda: AncerSigma(init=INF).base_scale(), ValueError, "init must be a positive finite float"),
    ("AncerSigma", lambda: AncerSigma(init="iso").base_scale(), TypeError, "init must be a SigmaOptimizer"),
    ("AncerSigma", lambda: AncerSigma(init=True).base_scale(), TypeError, "init must be a SigmaOptimizer"),
    ("AncerSigma", lambda: AncerSigma(init=[0.25]).base_scale(), TypeError, "init must be a SigmaOptimizer"),
    ("AncerSigma", lambda: AncerSigma(init=IsotropicSigma(lr=-1.0)).base_scale(), ValueError, "lr must be a finite float > 0"),
    ("AncerSigma", lambda: AncerSigma(init=FixedSigma(0.0)).base_scale(), ValueError, "sigma must be a positive"),
    ("AncerSigma", lambda: AncerSigma(kappa=-0.5).base_scale(), ValueError, "kappa must be a finite float >= 0"),
    ("AncerSigma", lambda: AncerSigma(kappa=NAN).base_scale(), ValueError, "kappa must be a finite float >= 0"),
    ("AncerSigma", lambda: AncerSigma(kappa=INF).base_scale(), ValueError, "kappa must be a finite float >= 0"),
    ("AncerSigma", lambda: AncerSigma(kappa="2").base_scale(), TypeError, "kappa must be a float"),
    # init and the strategy must read the model's outputs the same way
    ("AncerSigma", lambda: AncerSigma(init=IsotropicSigma(), outputs="probabilities").base_scale(), ValueError,
     r"AncerSigma\(outputs='probabilities'\) and its init IsotropicSigma\(outputs='logits'\) disagree"),
    ("AncerSigma", lambda: AncerSigma(init=IsotropicSigma(outputs="probabilities")).base_scale(), ValueError,
     r"AncerSigma\(outputs='logits'\) and its init IsotropicSigma\(outputs='probabilities'\) disagree"),
    ("AncerSigma", lambda: scales(AncerSigma(init=IsotropicSigma(**FAST), outputs="probabilities", **FAST),
                                  model=Returns("probabilities").eval()), ValueError, "disagree"),
    ("AncerSigma", lambda: fit(sigma=AncerSigma(kappa=-1.0)), ValueError, "kappa"),
    ("AncerSigma", lambda: fit(sigma=AncerSigma(), sigma__kappa=NAN), ValueError, "kappa must be a finite float >= 0"),
    *ascent_cases(AncerSigma, init=0.25),
    # the default init, an IsotropicSigma it builds, reports a mismatch as AncerSigma's
    ("AncerSigma", lambda: scales(AncerSigma(**FAST), model=Returns("probabilities").eval()), ValueError,
     r"AncerSigma\(outputs='logits'\) applies a softmax.*use AncerSigma\(outputs='probabilities'\)"),
    # valid borderline
    ("AncerSigma", lambda: AncerSigma(init=np.float64(0.3)).base_scale(), None, lambda s: s == 0.3),
    ("AncerSigma", lambda: AncerSigma(init=FixedSigma(0.3)).base_scale(), None, lambda s: s == 0.3),
    ("AncerSigma", lambda: scales(AncerSigma(init=FixedSigma(0.3), kappa=0.0, **FAST)), None,
     lambda s: s.shape == (3, 4) and bool((s >= 0.3).all())),
    ("AncerSigma", lambda: scales(AncerSigma(init=IsotropicSigma(outputs="probabilities", **FAST), outputs="probabilities",
                                             **FAST), model=Returns("probabilities").eval()), None, lambda s: s.shape == (3, 4)),
    ("AncerSigma", lambda: scales(AncerSigma(init=AncerSigma(init=0.2, **FAST), **FAST)), None,
     lambda s: s.shape == (3, 4) and bool((s >= 0.2).all())),
    # -- DenoiserNet (fit validates its settings and inputs; the denoiser must keep the shape) --
    ("DenoiserNet", lambda: denoiser_fit(objective="l2"), ValueError, r"objective must be one of \['mse', 'stability'"),
    ("DenoiserNet", lambda: denoiser_fit(objective=None), ValueError, "objective must be one of"),
    ("DenoiserNet", lambda: denoiser_fit(sigma=0.0), ValueError, "sigma must be a positive finite float"),
    ("DenoiserNet", lambda: denoiser_fit(sigma=NAN), ValueError, "sigma must be a positive finite float"),
    ("DenoiserNet", lambda: denoiser_fit(optimizer="adam"), TypeError, "optimizer must be a class .*got str 'adam'"),
    ("DenoiserNet", lambda: denoiser_fit(sigma={0.25, 0.5}), TypeError, "sigma must be .* ordered sequence .*got a set"),
    ("DenoiserNet", lambda: denoiser_fit(y=Y + 5, objective="classification", classifier=torch.nn.Linear(4, 2)),
     ValueError, r"y must hold the classifier's output indices, in \[0, 2\) .*got values from 5 to 6"),
    ("DenoiserNet", lambda: denoiser_fit(criterion=torch.nn.MSELoss()), TypeError, "criterion must be a class .*instance"),
    ("DenoiserNet", lambda: denoiser_fit(optimizer=torch.optim.SGD), None, lambda d: d.module_ is not None),
    ("DenoiserNet", lambda: denoiser_fit(sigma="0.5"), TypeError, "sigma must be a positive float"),
    ("DenoiserNet", lambda: denoiser_fit(sigma=[0.25, "a"]), TypeError, r"sigma\[1\] must be a positive float"),
    ("DenoiserNet", lambda: denoiser_fit(sigma=[0.25, -1.0]), ValueError, r"sigma\[1\] must be a positive finite float"),
    ("DenoiserNet", lambda: denoiser_fit(sigma=[]), ValueError, "non-empty sequence"),
    ("DenoiserNet", lambda: denoiser_fit(sigma=[0.25, 0.5], module=DenoiserMLP(4)), ValueError,
     "does not declare takes_sigma=True"),
    ("DenoiserNet", lambda: denoiser_fit(sigma=[0.25, 0.5]).predict(X[:2]), ValueError, r"pass \{'X': X, 'sigma'"),
    ("DenoiserNet", lambda: denoiser_fit(sigma=[0.25, 0.5], module__sigma_conditioned=1), ValueError,
     r"could not build the default denoiser .* \(sigma_conditioned must be True or False"),
    ("DenoiserNet", lambda: DenoiserMLP(4, sigma_conditioned=True)(torch.zeros(2, 4)), ValueError,
     r"sigma-conditioned \(sigma_conditioned=True\): call it as denoiser\(X, sigma\)"),
    ("DenoiserNet", lambda: denoiser_fit(norm="linf"), ValueError, "norm must be 'l2'"),
    ("DenoiserNet", lambda: denoiser_fit(random_state=-1), ValueError, "random_state must be an int >= 0"),
    ("DenoiserNet", lambda: denoiser_fit(random_state="0"), TypeError, "random_state must be an int"),
    ("DenoiserNet", lambda: denoiser_fit(objective="stability"), ValueError, "needs the trained classifier"),
    ("DenoiserNet", lambda: denoiser_fit(objective="stability", classifier="mlp"), TypeError,
     "classifier must be a trained torch.nn.Module"),
    ("DenoiserNet", lambda: denoiser_fit(objective="stability", classifier=net()), ValueError,
     "classifier is an unfitted skorch net"),
    ("DenoiserNet", lambda: denoiser_fit(objective="classification", classifier=torch.nn.Linear(4, 2)), ValueError,
     "needs labels y"),
    ("DenoiserNet", lambda: denoiser_fit(objective="classification", classifier=torch.nn.Linear(4, 2), y=Y[:3]),
     ValueError, "same number of samples"),
    ("DenoiserNet", lambda: denoiser_fit(X=np.full((4, 4), NAN, np.float32)), ValueError, "X must be finite"),
    ("DenoiserNet", lambda: denoiser_fit(X=np.zeros(4, np.float32)), ValueError, r"X must be an array .* \(n_samples, \*input_shape\)"),
    ("DenoiserNet", lambda: denoiser_fit(X=np.zeros((0, 4), np.float32)), ValueError, "n_samples >= 1"),
    ("DenoiserNet", lambda: denoiser_fit(module=torch.nn.Linear(4, 3)), ValueError,
     r"must return denoised inputs of the shape it receives, \(16, 4\), got \(16, 3\)"),
    ("DenoiserNet", lambda: denoiser_fit(module__hidden_units=(0,)), ValueError, "could not build the default denoiser"),
    ("DenoiserNet", lambda: denoiser_fit(module__depth=1), ValueError, "could not build the default denoiser"),
    ("DenoiserNet", lambda: DenoiserNet().initialize(), ValueError, r"builds its default denoiser .* call fit\(X\)"),
    ("DenoiserNet", lambda: denoiser_fit(lr=float("inf"), max_epochs=2), ValueError, "loss is not finite"),
    ("DenoiserNet", lambda: denoiser_fit(objective="classification", classifier=torch.nn.Linear(4, 2), y=Y).score(X), ValueError,
     "needs labels y to score"),
    ("DenoiserNet", lambda: denoiser_fit(X=X[:1]).predict(X[:1]), None, lambda out: out.shape == (1, 4)),
    ("DenoiserNet", lambda: denoiser_fit(objective="classification", classifier=torch.nn.Linear(4, 2), y=Y).score(X, Y),
     None, np.isfinite),
    ("DenoiserNet", lambda: denoiser_fit(X=torch.as_tensor(X), max_epochs=0).module_, None,
     lambda m: type(m).__name__ == "DenoiserMLP"),
    # -- DiffusionDenoiser (the schedule is checked at construction, sigma against it at use) --
    ("DiffusionDenoiser", lambda: DiffusionDenoiser(lambda x, t: x, ABAR), TypeError, "eps_model must be a torch.nn.Module"),
    ("DiffusionDenoiser", lambda: DiffusionDenoiser(ZeroEps(), []), ValueError, "alphas_cumprod must be a non-empty 1-D"),
    ("DiffusionDenoiser", lambda: DiffusionDenoiser(ZeroEps(), np.ones((2, 2)) / 2), ValueError, "non-empty 1-D"),
    ("DiffusionDenoiser", lambda: DiffusionDenoiser(ZeroEps(), [0.9, 1.0]), ValueError, r"values in \(0, 1\)"),
    ("DiffusionDenoiser", lambda: DiffusionDenoiser(ZeroEps(), [0.5, NAN]), ValueError, r"values in \(0, 1\)"),
    ("DiffusionDenoiser", lambda: DiffusionDenoiser(ZeroEps(), [0.5, 0.9]), ValueError, "strictly decreasing"),
    ("DiffusionDenoiser", lambda: DiffusionDenoiser(ZeroEps(), ABAR, clip=1), TypeError, "clip must be True or False"),
    ("DiffusionDenoiser", lambda: DiffusionDenoiser(ZeroEps(), ABAR).timestep(1e3), ValueError, r"below 2 \* sigma"),
    ("DiffusionDenoiser", lambda: DiffusionDenoiser(ZeroEps(), ABAR).timestep(0.0), None, lambda t: t == 0),
    ("DiffusionDenoiser", lambda: DiffusionDenoiser(ZeroEps(channels=2), ABAR)(torch.rand(2, 1, 2, 2), 0.25), None,
     lambda out: out.shape == (2, 1, 2, 2)),  # a learned-variance model: the first half of the channels
    ("DiffusionDenoiser", lambda: SmoothedClassifier(module=torch.nn.Linear(4, 2), classes=[0, 1], device="cpu",
                                                     denoiser=DiffusionDenoiser(ZeroEps(), ABAR),
                                                     sigma=IsotropicSigma(**FAST)).certify(X[:2]),
     None, lambda cert: len(cert) == 2),  # each input's sigma reaches the denoiser
    ("DiffusionDenoiser", lambda: SmoothedClassifier(module=torch.nn.Linear(4, 2), classes=[0, 1], device="cpu",
                                                     denoiser=DiffusionDenoiser(ZeroEps(), ABAR[:5]),
                                                     sigma=IsotropicSigma(init=0.013, **FAST)).certify(X[:2]),
     ValueError, r"below 2 \* sigma = .*a data-dependent strategy: max_sigma <= 0.0\d+"),
    ("DiffusionDenoiser", lambda: SmoothedClassifier(module=torch.nn.Linear(4, 2), classes=[0, 1], device="cpu",
                                                     denoiser=DiffusionDenoiser(ZeroEps(), ABAR[:5]),
                                                     sigma=1.0).certify(X[:2]),
     ValueError, r"denoiser DiffusionDenoiser failed .* below 2 \* sigma"),
    # -- SmoothedClassifier(denoiser=...) --
    ("SmoothedClassifier", lambda: SmoothedClassifier(denoiser="dncnn", max_epochs=0, device="cpu").fit(X, Y), TypeError,
     "denoiser must be None, a torch.nn.Module or a fitted skorch net"),
    ("SmoothedClassifier", lambda: SmoothedClassifier(denoiser=DenoiserNet(), max_epochs=0, device="cpu").fit(X, Y),
     ValueError, "denoiser is an unfitted DenoiserNet"),
    ("SmoothedClassifier", lambda: SmoothedClassifier(denoiser=torch.nn.Linear(3, 4), max_epochs=0, device="cpu").fit(X, Y),
     ValueError, r"denoiser Linear failed on noisy inputs of shape \(2, 4\)"),
    ("SmoothedClassifier", lambda: SmoothedClassifier(denoiser=torch.nn.Flatten(0), max_epochs=0, device="cpu").fit(X, Y),
     ValueError, r"denoiser Flatten must return denoised inputs of the shape it receives, \(2, 4\), got \(8,\)"),
    ("SmoothedClassifier", lambda: SmoothedClassifier(denoiser=NaNDenoiser(), max_epochs=0, device="cpu").fit(X, Y),
     ValueError, r"denoiser NaNDenoiser returned non-finite values \(NaN or inf\)"),
    ("SmoothedClassifier", lambda: SmoothedClassifier(denoiser=torch.nn.Identity(), n0=10, n=50, max_epochs=1,
                                                      random_state=0, device="cpu").fit(X, Y).certify(X[:2]),
     None, lambda c: len(c) == 2),
]


test_fuzz = fuzz_test(CASES)


def test_diverging_training_never_leaves_a_certifying_model():
    X_big = np.random.default_rng(1).normal(size=(40, 4)).astype(np.float32)
    clf = SmoothedClassifier(lr=1e30, max_epochs=3, n0=10, n=50, random_state=0, device="cpu")
    with pytest.raises(ValueError, match=r"training loss became non-finite.*lr=1e\+30"):
        clf.fit(X_big, np.arange(40) % 2)
    assert not hasattr(clf, "module_")  # nothing to certify with


def test_skorch_default_nll_loss_with_logits_is_refused_before_any_step():
    module = NeuralNetClassifier(MLP, module__n_inputs=4, module__n_classes=2, module__hidden_units=(8,),
                                 max_epochs=2, train_split=None, verbose=0)  # criterion: skorch's NLLLoss
    clf = SmoothedClassifier(module=module, n0=10, n=50, random_state=0, device="cpu")
    with pytest.raises(ValueError, match="criterion=NLLLoss .* criterion=torch.nn.CrossEntropyLoss"):
        clf.fit(X, Y)
    fixed = clone_with_criterion(module, torch.nn.CrossEntropyLoss)
    assert len(SmoothedClassifier(module=fixed, n0=10, n=50, random_state=0, device="cpu").fit(X, Y).certify(X[:2])) == 2


def clone_with_criterion(net, criterion):
    from sklearn.base import clone

    return clone(net).set_params(criterion=criterion)


def test_checks_change_no_valid_result():
    # The first-batch and finiteness checks only read: the same seed gives the same weights and scales.
    strategy, model = IsotropicSigma(**FAST), torch.nn.Linear(4, 2).eval()
    first, second = scales(strategy, model), scales(strategy, model)
    assert torch.equal(first, second)
    a = fit(sigma=IsotropicSigma(**FAST), max_epochs=2, update_sigma_every=1)
    b = fit(sigma=IsotropicSigma(**FAST), max_epochs=2, update_sigma_every=1)
    np.testing.assert_array_equal(a.train_sigma_, b.train_sigma_)
    for p, q in zip(a.module_.parameters(), b.module_.parameters()):
        assert torch.equal(p, q)
