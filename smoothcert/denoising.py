"""Denoised smoothing: certificates for classifiers never trained with noise.

A classifier ``f`` trained on clean inputs fails on ``x + noise``, so its smoothed classifier
certifies little. A denoiser ``D`` in front makes the base classifier ``f(D(x + noise))``; Cohen et
al.'s theorem holds for any base classifier, so the certificate is exactly as sound as before, at
the noise smoothcert draws (Salman et al., 2020, "Denoised Smoothing"; Carlini et al., 2023, with an
off-the-shelf diffusion model). ``f`` is never trained by the denoiser's training.

* :class:`Denoised` is the base classifier ``classifier(denoiser(x))`` that
  ``SmoothedClassifier(denoiser=...)`` certifies (built by :func:`denoised` where the module is built,
  :mod:`smoothcert.nets`), so every procedure, sampling mode, checkpoint fingerprint and the batch
  calibration see the composed model.
* :class:`~smoothcert.DenoiserNet` (:mod:`smoothcert.denoiser_net`) trains a denoiser with skorch:
  ``"mse"``, ``"stability"`` or ``"classification"`` objective (Salman et al.), on the default
  :class:`~smoothcert.denoisers.DnCNN` (images) or :class:`~smoothcert.denoisers.DenoiserMLP` (flat
  inputs) or any module.
* :class:`~smoothcert.DiffusionDenoiser` (:mod:`smoothcert.denoisers`) turns a noise-prediction
  (DDPM) model and its schedule into a one-step denoiser, as Carlini et al. do.

A denoiser is *sigma-conditioned* when it declares ``takes_sigma = True`` (a class or instance
attribute): its ``forward(x, sigma)`` then also receives each noisy copy's noise level, a tensor of
shape ``(batch,)``. Every forward pass on noisy copies passes it (:class:`Denoised` takes it as
``forward(x, sigma)``): the Monte Carlo sampling, noise-augmented training and the sigma
optimisation, whose gradients flow through it. The level is the scale the noise was drawn at:
:class:`~smoothcert.FixedSigma`'s one scale, each :class:`~smoothcert.DualSigma` expert's level,
each input's scale with :class:`~smoothcert.IsotropicSigma`, and with
:class:`~smoothcert.AncerSigma` the root mean square of each input's per-dimension scales
(:func:`~smoothcert.noise.noise_level`). The certificate stays exact: for a given scale the base
classifier ``x -> classifier(denoiser(x, level))`` is one fixed function, as smoothing requires.
"""

import copy

import numpy as np
import torch
from skorch import NeuralNet
from torch import nn

__all__ = ["Denoised", "check_denoiser", "denoised", "denoiser_module", "takes_sigma"]


def takes_sigma(denoiser):
    """Whether ``denoiser`` declares that its forward pass takes the noise level (``takes_sigma = True``).

    Parameters
    ----------
    denoiser : torch.nn.Module

    Returns
    -------
    conditioned : bool

    Examples
    --------
    >>> import torch
    >>> from smoothcert import DiffusionDenoiser
    >>> from smoothcert.denoising import takes_sigma
    >>> takes_sigma(torch.nn.Identity()), DiffusionDenoiser.takes_sigma
    (False, True)
    """
    return getattr(denoiser, "takes_sigma", False) is True


def _name(denoiser):
    return f"denoiser {type(denoiser).__name__}"


def denoiser_module(denoiser):
    """The ``torch.nn.Module`` a ``denoiser`` parameter stands for (not copied).

    Parameters
    ----------
    denoiser : torch.nn.Module or skorch.NeuralNet
        A module, or an initialised (fitted) skorch net such as :class:`DenoiserNet`, whose
        ``module_`` is the denoiser.

    Returns
    -------
    module : torch.nn.Module

    Raises
    ------
    ValueError
        For a skorch net that is not initialised (it holds no trained denoiser yet).
    TypeError
        For anything else.
    """
    if isinstance(denoiser, nn.Module):
        return denoiser
    if isinstance(denoiser, NeuralNet):
        if not getattr(denoiser, "initialized_", False):
            raise ValueError(
                f"denoiser is an unfitted {type(denoiser).__name__}: fit it first (denoiser.fit(X)), since "
                f"SmoothedClassifier never trains the denoiser."
            )
        return denoiser.module_
    raise TypeError(
        f"denoiser must be None, a torch.nn.Module or a fitted skorch net holding one (e.g. DenoiserNet), got "
        f"{type(denoiser).__name__}."
    )


class Denoised(nn.Module):
    """The base classifier of denoised smoothing: ``classifier(denoiser(x))``, with the denoiser frozen.

    The denoiser's parameters are frozen (``requires_grad=False``; gradients with respect to the
    input still flow through it, as the sigma optimisation of data-dependent strategies needs) and it
    stays in eval mode even when the classifier trains. ``SmoothedClassifier(denoiser=...)`` builds
    one (with copies: see :func:`denoised`); holding both modules, it is what ``module_``,
    checkpoint fingerprints and provenance digests cover.

    Parameters
    ----------
    denoiser : torch.nn.Module
        Maps a batch of noisy inputs to denoised inputs of the same shape. With
        ``takes_sigma = True`` it is called as ``denoiser(x, sigma)`` with ``sigma`` of shape
        ``(batch,)``.
    classifier : torch.nn.Module
        The base classifier (with its normalisation layer in front, if any).
    sigma : float or None, default=None
        The noise level a sigma-conditioned denoiser is told when a forward pass gives none (a
        direct call on clean inputs); ``None`` for a plain one (a sigma-conditioned denoiser then
        needs ``forward(X, sigma)``, and is refused without it).

    Examples
    --------
    >>> import torch
    >>> from smoothcert.denoising import Denoised
    >>> model = Denoised(torch.nn.Identity(), torch.nn.Linear(3, 2))
    >>> model(torch.zeros(4, 3)).shape
    torch.Size([4, 2])
    """

    def __init__(self, denoiser, classifier, sigma=None):
        super().__init__()
        self.denoiser = denoiser
        self.classifier = classifier
        self.sigma = None if sigma is None else float(sigma)
        for parameter in self.denoiser.parameters():
            parameter.requires_grad_(False)
        self.denoiser.eval()

    def train(self, mode=True):
        """Set the classifier's training mode; the frozen denoiser stays in eval mode."""
        super().train(mode)
        self.denoiser.eval()
        return self

    @property
    def takes_sigma(self):
        """Whether the denoiser is sigma-conditioned (then ``forward(X, sigma)`` may pass each copy's level)."""
        return takes_sigma(self.denoiser)

    def denoise(self, X, sigma=None):
        """The denoiser's output on the batch ``X``, checked to be a tensor of ``X``'s shape.

        Parameters
        ----------
        X : torch.Tensor of shape (batch, *input_shape)
        sigma : torch.Tensor of shape (batch,) or None, default=None
            Each noisy copy's noise level, for a sigma-conditioned denoiser (``None``: the
            ``sigma`` given at construction); ignored by a plain denoiser.

        Returns
        -------
        denoised : torch.Tensor of shape (batch, *input_shape)
        """
        if takes_sigma(self.denoiser) and sigma is not None:
            out = self.denoiser(X, torch.as_tensor(sigma, dtype=X.dtype, device=X.device).reshape(-1).expand(len(X)))
        elif takes_sigma(self.denoiser):
            if self.sigma is None:
                raise ValueError(
                    f"the {_name(self.denoiser)} is sigma-conditioned (takes_sigma=True) but no noise level reaches "
                    f"it: call forward(X, sigma) with each row's level, or give Denoised a sigma."
                )
            out = self.denoiser(X, torch.full((len(X),), self.sigma, dtype=X.dtype, device=X.device))
        else:
            out = self.denoiser(X)
        if not isinstance(out, torch.Tensor) or out.shape != X.shape:
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ValueError(
                f"the {_name(self.denoiser)} must return denoised inputs of the shape it receives, "
                f"{tuple(X.shape)}, got {got}."
            )
        return out

    def forward(self, X, sigma=None):
        return self.classifier(self.denoise(X, sigma))


def denoised(module, denoiser, sigma=None):
    """``module`` behind a frozen copy of ``denoiser`` (:class:`Denoised`), or ``module`` when ``denoiser`` is None.

    Parameters
    ----------
    module : torch.nn.Module
        The base classifier (behind its normalisation layer, if any).
    denoiser : torch.nn.Module, fitted skorch net or None
        See :func:`denoiser_module`; copied, never changed.
    sigma : float or None, default=None
        The noise level for a sigma-conditioned denoiser (see :class:`Denoised`).

    Returns
    -------
    module : torch.nn.Module

    Examples
    --------
    >>> import torch
    >>> from smoothcert.denoising import denoised
    >>> type(denoised(torch.nn.Linear(2, 2), torch.nn.Identity())).__name__
    'Denoised'
    """
    if denoiser is None:
        return module
    return Denoised(copy.deepcopy(denoiser_module(denoiser)), module, sigma)


def check_denoiser(denoiser, X_few, noise, strategy, device):
    """Run a copy of ``denoiser`` on noisy copies of a few inputs: its failures named before any training or sampling.

    Parameters
    ----------
    denoiser : torch.nn.Module, fitted skorch net or None
    X_few : ndarray of shape (n_few, *input_shape)
    noise : GaussianNoise or UniformNoise
    strategy : SigmaOptimizer
        The fitted noise-scale strategy: the noise is drawn at its ``base_scale()``.
    device : torch.device

    Raises
    ------
    ValueError
        When the denoiser fails, changes the shape, or returns NaN or inf, naming the denoiser.
    """
    if denoiser is None:
        return
    module = copy.deepcopy(denoiser_module(denoiser)).to(device).eval()
    name = _name(module)
    sigma = float(strategy.base_scale())
    X = torch.as_tensor(np.asarray(X_few, dtype=np.float32), device=device)
    generator = torch.Generator(device=device).manual_seed(0)
    noisy = X + sigma * noise.sample(tuple(X.shape), generator, device, X.dtype)
    try:
        with torch.inference_mode():
            out = Denoised(module, nn.Identity(), sigma if takes_sigma(module) else None).denoise(noisy)
    except ValueError as exc:
        if "denoiser" in str(exc):
            raise
        raise ValueError(f"the {name} failed on noisy inputs of shape {tuple(X.shape)} (ValueError: {exc}).") from exc
    except Exception as exc:
        raise ValueError(
            f"the {name} failed on noisy inputs of shape {tuple(X.shape)} ({type(exc).__name__}: {exc}); it must "
            f"map (batch, *input_shape) noisy inputs to denoised inputs of the same shape."
        ) from exc
    if not bool(torch.isfinite(out).all()):
        raise ValueError(f"the {name} returned non-finite values (NaN or inf) on noisy inputs; check its weights.")
