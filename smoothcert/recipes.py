"""Training losses for certifiable training: noise augmentation, MACER, SmoothAdv.

A *recipe* is the training loss of one mini-batch, given each sample's noise scale:

* :class:`NoiseAugmentation`: cross-entropy on noisy copies (Cohen et al., 2019, Gaussian noise;
  Yang et al., 2020, uniform noise for l1);
* :class:`MACER`: cross-entropy of the soft smoothed classifier plus a hinge on its certified
  radius (Zhai et al., 2020);
* :class:`SmoothAdv`: cross-entropy on noisy copies of adversarial examples of the soft smoothed
  classifier (Salman et al., 2019).

Recipes are small scikit-learn estimators, so ``GridSearchCV`` reaches their hyperparameters
(``training__gamma`` of :class:`~smoothcert.SmoothedClassifier`, ``recipe__gamma`` of
:class:`~smoothcert.training.NoiseAugmentedNet`, which applies them).
"""

import math
from abc import ABC, abstractmethod

import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, clone

from ._validation import check_float, check_int
from .denoising import takes_sigma
from .noise import noise_level

__all__ = ["TrainingRecipe", "NoiseAugmentation", "MACER", "SmoothAdv", "make_recipe"]

# MACER's radius takes Phi^-1 of float64 soft votes clipped to [c, 1 - c]: the gap is then exact
# wherever the authors' float32 one is finite, and at least 2 Phi^-1(1 - c) = 14 > gamma = 8 where
# theirs is infinite (a vote of exactly 0 or 1), so the hinge is 0 there, as their code drops it.
_MACER_CLAMP = 1e-12
# MACER's gamma is a threshold on xi = Phi^-1(psi_A) - Phi^-1(psi_B) = 2 G for Gaussian noise (radius
# sigma/2 * xi); for uniform noise xi = G = psi_A - psi_B (radius sigma * xi). G = noise.surrogate_gap.
_XI_PER_GAP = {"l2": 2.0, "l1": 1.0}


def _repeat(t, m):
    """Each row of ``t`` repeated ``m`` times, copies of a row adjacent."""
    return t if m == 1 else t.repeat_interleave(m, dim=0)


def _per_row(scales, like):
    """Scales ``(b,)`` or ``(b, *input_shape)`` broadcastable against a batch ``like``."""
    return scales.reshape(-1, *([1] * (like.dim() - 1))) if scales.dim() == 1 else scales


def _noise(net, X, scales, m):
    """Fresh noise for ``m`` copies of every row of ``X``, at each row's scales: ``(b * m, *input_shape)``."""
    shape = (X.shape[0] * m, *X.shape[1:])
    eps = net.noise_.sample(shape, None, X.device, X.dtype)
    return eps * _per_row(_repeat(scales, m), eps)


def _with_levels(net, scales, m, fit_params):
    """``fit_params`` for the forward passes on ``m`` noisy copies of each row (adjacent) at ``scales``:
    a module behind a sigma-conditioned denoiser is also told each copy's noise level (``sigma``)."""
    if not takes_sigma(net.module_):
        return fit_params
    return {**fit_params, "sigma": _repeat(noise_level(scales), m)}


def _log_scores(net, out):
    """Log-probabilities up to a per-row constant: a module trained with ``NLLLoss`` outputs
    probabilities (skorch's convention, whose ``log(p + eps)`` this mirrors), others logits."""
    if isinstance(net.criterion_, torch.nn.NLLLoss):
        return torch.log(out + torch.finfo(out.dtype).eps)
    return out


def _log_soft_votes(z, m):
    """``log psi`` with ``psi = mean_j softmax(z_j)`` over the ``m`` adjacent copies: ``(b, n_classes)``.

    ``logsumexp`` of log-softmax keeps it finite where a soft vote underflows.
    """
    log_p = F.log_softmax(z, dim=-1).reshape(-1, m, z.shape[-1])
    return torch.logsumexp(log_p, dim=1) - math.log(m)


def _mean_over_copies(out, m):
    """The module's outputs averaged over each row's copies, reported to skorch as ``y_pred``."""
    return out.reshape(-1, m, out.shape[-1]).mean(dim=1)


def _min_scale(scales):
    """Per row, the scale of the worst-case radius: the scale itself, or the smallest per-dimension one."""
    return scales if scales.dim() == 1 else scales.flatten(1).amin(dim=1)


class TrainingRecipe(BaseEstimator, ABC):
    """Base class of the training losses applied by :class:`NoiseAugmentedNet`.

    A recipe receives a clean mini-batch and each sample's noise scales, draws its own noise
    (``net.noise_``, from torch's global generator, which ``SmoothedClassifier`` seeds from
    ``random_state``), runs the module through ``net.infer`` and returns the loss to
    back-propagate. A module behind a sigma-conditioned denoiser takes each noisy copy's level as
    ``sigma`` too (the built-in recipes pass it; a direct call falls back on the strategy's base
    scale). Subclass it for a new recipe; its ``__init__`` only stores hyperparameters.

    Examples
    --------
    >>> from smoothcert.recipes import MACER, TrainingRecipe
    >>> isinstance(MACER(), TrainingRecipe), MACER(gamma=4.0).get_params()["gamma"]
    (True, 4.0)
    """

    @abstractmethod
    def loss(self, net, X, y, scales, **fit_params):
        """Training loss of one mini-batch.

        Parameters
        ----------
        net : NoiseAugmentedNet
            The net being trained (its ``module_``, ``criterion_`` and ``noise_``).
        X : torch.Tensor of shape (batch, *input_shape)
            Clean inputs on the net's device.
        y : torch.Tensor of int64, shape (batch,)
            Class indices.
        scales : torch.Tensor of shape (batch,) or (batch, *input_shape)
            Each sample's noise scale (Gaussian standard deviation or uniform half-width).
        **fit_params
            Passed to the module's ``forward``.

        Returns
        -------
        loss : torch.Tensor
            Scalar to back-propagate.
        y_pred : torch.Tensor of shape (batch, n_classes)
            The module's outputs on the noisy copies (averaged over copies), for skorch's callbacks.
        """

    def check_params(self, noise):
        """Validate the hyperparameters for the noise family; raise ``TypeError``/``ValueError``.

        Parameters
        ----------
        noise : GaussianNoise or UniformNoise
            The noise family the recipe will train with.
        """


class NoiseAugmentation(TrainingRecipe):
    """Cross-entropy on one noisy copy of every input (Cohen et al., 2019; Yang et al., 2020).

    Each sample gets fresh noise at its own scale every time it is seen: Gaussian ``N(0, s^2)``
    for ``norm="l2"`` ("Gaussian data augmentation", Cohen, Rosenfeld and Kolter, 2019,
    "Certified Adversarial Robustness via Randomized Smoothing"), uniform ``U[-s, s]`` for
    ``norm="l1"`` (Yang et al., 2020, "Randomized Smoothing of All Shapes and Sizes"). The loss is
    the net's own criterion. ``training="gaussian"`` is a shorthand for it.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from smoothcert.recipes import NoiseAugmentation
    >>> from smoothcert.training import NoiseAugmentedNet
    >>> net = NoiseAugmentedNet(torch.nn.Linear(2, 2), criterion=torch.nn.CrossEntropyLoss,
    ...                         recipe=NoiseAugmentation(), sigma=0.1, max_epochs=2,
    ...                         train_split=None, verbose=0)
    >>> X = np.zeros((8, 2), dtype=np.float32); y = np.array([0, 1] * 4)
    >>> len(net.fit(X, y).history)
    2
    """

    def __init__(self):
        # Explicit, so that NoiseAugmentation(sigma=...) names the argument it does not take.
        pass

    def loss(self, net, X, y, scales, **fit_params):
        noisy = X + _noise(net, X, scales, 1)
        out = net.infer(noisy, **_with_levels(net, scales, 1, fit_params))
        return net.get_loss(out, y, X=noisy, training=True), out


class MACER(TrainingRecipe):
    """MACER: maximise the certified radius of the soft smoothed classifier (Zhai et al., 2020).

    Zhai, Dan, He, Zhang, Gong, Ravikumar, Hsieh and Wang (2020), "MACER: Attack-free and Scalable
    Robust Training via Maximizing Certified Radius" (ICLR). Per sample, ``m = n_samples`` noisy
    copies give the soft smoothed classifier ``psi = mean_j softmax(z_j)`` (``z`` the logits; the
    log-probabilities of a module trained with ``NLLLoss``). The loss is

    ``mean_i [ -log psi_i[y_i] + lbd * 1[correct_i] * R_gamma_i ]``

    where, on the tempered votes ``psi_beta = mean_j softmax(beta * z_j)`` with top class ``A``
    and runner-up ``B``, a sample is correct when ``A = y`` and the hinge on its radius is

    * ``norm="l2"``: ``sigma / 2 * max(0, gamma - xi)``, ``xi = Phi^-1(psi_A) - Phi^-1(psi_B)``;
    * ``norm="l1"``: ``sigma * max(0, gamma - xi)``, ``xi = psi_A - psi_B`` (the radius of uniform
      noise, Yang et al., 2020); ``xi <= 1``, so ``gamma >= 1`` keeps the hinge on every correct
      sample.

    As in the authors' code, ``beta`` only tempers the robustness term, and a correct sample
    whose ``xi`` exceeds ``gamma`` contributes nothing. ``Phi^-1`` is taken in float64 on tempered
    votes clipped to ``[1e-12, 1 - 1e-12]`` (:meth:`~smoothcert.noise.GaussianNoise.surrogate_gap`),
    which puts a vote of exactly 0 or 1 beyond any ``gamma < 14`` (the authors drop such samples).
    With per-dimension scales ``sigma`` is the smallest one (the worst-case radius).

    Parameters
    ----------
    n_samples : int, default=16
        Noisy copies per sample and step (``m``; the authors' default).
    beta : float, default=16.0
        Inverse temperature of the softmax in the robustness term.
    gamma : float, default=8.0
        Hinge threshold on ``xi``.
    lbd : float, default=12.0
        Weight of the robustness term (``>= 0``; 0 leaves the soft-classifier cross-entropy).

    Examples
    --------
    >>> import numpy as np, torch
    >>> from smoothcert.recipes import MACER
    >>> from smoothcert.training import NoiseAugmentedNet
    >>> net = NoiseAugmentedNet(torch.nn.Linear(2, 2), criterion=torch.nn.CrossEntropyLoss,
    ...                         recipe=MACER(n_samples=4), sigma=0.5, max_epochs=1,
    ...                         train_split=None, verbose=0)
    >>> X = np.zeros((8, 2), dtype=np.float32); y = np.array([0, 1] * 4)
    >>> bool(np.isfinite(net.fit(X, y).history[-1, "train_loss"]))
    True
    """

    def __init__(self, n_samples=16, beta=16.0, gamma=8.0, lbd=12.0):
        self.n_samples = n_samples
        self.beta = beta
        self.gamma = gamma
        self.lbd = lbd

    def check_params(self, noise):
        check_int(self.n_samples, "n_samples", 1)
        check_float(self.beta, "beta", low=0.0, what="the inverse temperature of the robustness term")
        check_float(self.gamma, "gamma", low=0.0, what="the hinge threshold on the soft classifier's gap")
        check_float(self.lbd, "lbd", low=0.0, low_inclusive=True, what="the weight of the robustness term")

    def loss(self, net, X, y, scales, **fit_params):
        m = self.n_samples
        noisy = _repeat(X, m) + _noise(net, X, scales, m)
        out = net.infer(noisy, **_with_levels(net, scales, m, fit_params))
        z = _log_scores(net, out)
        cross_entropy = F.nll_loss(_log_soft_votes(z, m), y, reduction="none")
        tempered = F.softmax(self.beta * z.double(), dim=-1).reshape(len(X), m, -1).mean(dim=1)
        top = tempered.topk(2, dim=1)
        gap = net.noise_.surrogate_gap(top.values[:, 0], top.values[:, 1], _MACER_CLAMP).to(X.dtype)
        per_gap = _XI_PER_GAP[net.noise_.norm]
        hinge = _min_scale(scales) * F.relu(self.gamma - per_gap * gap) / per_gap
        robustness = torch.where(top.indices[:, 0] == y, hinge, torch.zeros_like(hinge))
        return (cross_entropy + self.lbd * robustness).mean(), _mean_over_copies(out, m)


class SmoothAdv(TrainingRecipe):
    """SmoothAdv: train on noisy copies of adversarial examples of the smoothed classifier.

    Salman, Yang, Li, Zhang, Zhang, Razenshteyn and Bubeck (2019), "Provably Robust Deep Learning
    via Adversarially Trained Smoothed Classifiers" (NeurIPS). Per sample, ``m = n_samples`` noise
    draws ``delta_j`` are fixed; ``n_steps`` steps of l2 PGD (normalised gradient steps of size
    ``step_size``, projected on the ball of radius ``epsilon`` around ``x``, starting at ``x``)
    ascend the cross-entropy of the soft smoothed classifier ``-log mean_j softmax(f(x' +
    delta_j))[y]`` with the model in eval mode; then the net's criterion is applied to ``f(x' +
    delta_j)`` for every ``j``. Inputs are not clipped to a box (they need not be images), and a
    sample with a zero gradient is not moved (the authors move it randomly). Gaussian noise only
    (``norm="l2"``).

    Parameters
    ----------
    epsilon : float, default=0.25
        l2 radius of the attack, in the units of the inputs the net receives.
    n_steps : int, default=2
        PGD steps (the DDS training scripts use 2).
    n_samples : int, default=1
        Noise draws per sample (``m``; Salman et al. use 1 to 8).
    step_size : float or None, default=None
        Length of each PGD step; ``None`` means ``2 * epsilon / n_steps`` (the authors' choice).

    Examples
    --------
    >>> import numpy as np, torch
    >>> from smoothcert.recipes import SmoothAdv
    >>> from smoothcert.training import NoiseAugmentedNet
    >>> net = NoiseAugmentedNet(torch.nn.Linear(2, 2), criterion=torch.nn.CrossEntropyLoss,
    ...                         recipe=SmoothAdv(epsilon=0.1), sigma=0.5, max_epochs=1,
    ...                         train_split=None, verbose=0)
    >>> X = np.zeros((8, 2), dtype=np.float32); y = np.array([0, 1] * 4)
    >>> bool(np.isfinite(net.fit(X, y).history[-1, "train_loss"]))
    True
    """

    def __init__(self, epsilon=0.25, n_steps=2, n_samples=1, step_size=None):
        self.epsilon = epsilon
        self.n_steps = n_steps
        self.n_samples = n_samples
        self.step_size = step_size

    def check_params(self, noise):
        if noise.norm != "l2":
            raise ValueError(
                f"SmoothAdv attacks in l2 and trains with Gaussian noise; it needs norm='l2', got "
                f"norm={noise.norm!r}. Use training='gaussian' or 'macer' for l1."
            )
        check_float(self.epsilon, "epsilon", low=0.0, what="the l2 radius of the attack")
        check_int(self.n_steps, "n_steps", 1)
        check_int(self.n_samples, "n_samples", 1)
        if self.step_size is not None:
            check_float(self.step_size, "step_size", low=0.0, what="the length of a PGD step, or None")

    def loss(self, net, X, y, scales, **fit_params):
        m = self.n_samples
        noise = _noise(net, X, scales, m)
        fit_params = _with_levels(net, scales, m, fit_params)
        noisy = _repeat(self.attack(net, X, y, noise, **fit_params), m) + noise
        out = net.infer(noisy, **fit_params)
        return net.get_loss(out, _repeat(y, m), X=noisy, training=True), _mean_over_copies(out, m)

    def attack(self, net, X, y, noise, **fit_params):
        """l2 PGD on the soft smoothed classifier with the noise held fixed.

        Parameters
        ----------
        net : NoiseAugmentedNet
            The net being trained; its modules are in eval mode during the attack and back in
            training mode afterwards.
        X : torch.Tensor of shape (batch, *input_shape)
            Clean inputs.
        y : torch.Tensor of int64, shape (batch,)
            Class indices.
        noise : torch.Tensor of shape (batch * n_samples, *input_shape)
            Scaled noise, the copies of a row adjacent.
        **fit_params
            Passed to the module's ``forward``.

        Returns
        -------
        X_adv : torch.Tensor of shape (batch, *input_shape)
            Adversarial inputs within l2 distance ``epsilon`` of ``X`` (no gradient attached).
        """
        m = self.n_samples
        step = 2.0 * self.epsilon / self.n_steps if self.step_size is None else self.step_size
        tiny = torch.finfo(X.dtype).tiny
        net._set_training(False)
        try:
            delta = torch.zeros_like(X)
            for _ in range(self.n_steps):
                delta.requires_grad_(True)
                z = _log_scores(net, net.infer(_repeat(X + delta, m) + noise, **fit_params))
                # Summed, not averaged: each row's step is normalised, the batch size must not matter.
                objective = F.nll_loss(_log_soft_votes(z, m), y, reduction="sum")
                (grad,) = torch.autograd.grad(objective, delta)
                norm = grad.flatten(1).norm(dim=1).clamp_min(tiny)
                delta = delta.detach() + step * _per_row(1.0 / norm, grad) * grad
                shrink = (self.epsilon / delta.flatten(1).norm(dim=1).clamp_min(tiny)).clamp(max=1.0)
                delta = delta * _per_row(shrink, delta)
        finally:
            net._set_training(True)
        return (X + delta).detach()


_RECIPES = {"gaussian": NoiseAugmentation, "macer": MACER, "smoothadv": SmoothAdv}


def make_recipe(recipe, name="recipe", **params):
    """A fresh recipe from a name or a :class:`TrainingRecipe`, with ``params`` set on it.

    Parameters
    ----------
    recipe : {"gaussian", "macer", "smoothadv"} or TrainingRecipe
        A shorthand for the recipe with its default hyperparameters, or a recipe (cloned).
    name : str, default="recipe"
        Parameter name used in error messages.
    **params
        Hyperparameters to set (skorch-style ``recipe__*`` overrides).

    Returns
    -------
    recipe : TrainingRecipe

    Raises
    ------
    ValueError
        For a string that names no recipe.
    TypeError
        For anything else that is not a :class:`TrainingRecipe` instance (a recipe class included).

    Examples
    --------
    >>> from smoothcert.recipes import make_recipe
    >>> make_recipe("macer", gamma=4.0)
    MACER(gamma=4.0)
    """
    if isinstance(recipe, TrainingRecipe):
        return clone(recipe).set_params(**params)
    if isinstance(recipe, str):
        if recipe in _RECIPES:
            # set_params, not the constructor: an unknown recipe__* name is then reported by name.
            return _RECIPES[recipe]().set_params(**params)
        # A right type with a wrong value: ValueError, as scikit-learn does for unknown option names.
        raise ValueError(
            f"{name} must be one of {sorted(_RECIPES)} or a TrainingRecipe instance such as "
            f"MACER(gamma=8.0), got {recipe!r}."
        )
    if isinstance(recipe, type) and issubclass(recipe, TrainingRecipe):
        raise TypeError(f"{name} must be a TrainingRecipe instance, not the class: use {recipe.__name__}().")
    raise TypeError(
        f"{name} must be one of {sorted(_RECIPES)} or a TrainingRecipe instance such as "
        f"MACER(gamma=8.0), got {type(recipe).__name__} {recipe!r}."
    )


