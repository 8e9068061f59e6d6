"""Norm-specific math of the smoothing distributions.

Two families, each with isotropic (one scale per input) or anisotropic (one scale per input
dimension) scales:

* ``"l2"``: Gaussian noise ``N(0, diag(t**2))``; certified region the ellipsoid
  ``sum((delta_i / t_i)**2) <= G**2`` with ``G = Phi^-1(p_lower)`` (a ball when all ``t_i`` agree),
  Cohen et al. (2019); Eiras et al. (2022), "ANCER".
* ``"l1"``: uniform noise ``U[-t_i, t_i]`` (``t`` is the half-width, never a standard deviation);
  certified region the generalised cross-polytope ``sum(|delta_i| / t_i) <= G`` with
  ``G = 2 (p_lower - 1/2)``, Yang et al. (2020), "Randomized Smoothing of All Shapes and Sizes".

``G`` (the *gap*) is the certified radius in units of the scales: the worst-case l_p radius is
``G * min_i t_i`` and the semi-axes (half-diagonals) are ``G * t_i``. Volumes are kept as natural
logarithms, because products of thousands of scales overflow.
"""

import math
from abc import ABC, abstractmethod

import numpy as np
import torch
from scipy import special, stats

__all__ = ["GaussianNoise", "UniformNoise", "get_noise", "noise_level", "scale_summary"]


def scale_summary(scales):
    """Per-input ``(min scale, mean log scale)`` of an array of scales, both float64.

    ``scales`` is ``(n_inputs,)`` for isotropic noise or ``(n_inputs, *input_shape)`` for
    per-dimension noise; the mean of logs is taken in float64 so it stays finite and accurate for
    ``d = 150528`` float32 scales.

    Examples
    --------
    >>> import numpy as np
    >>> from smoothcert.noise import scale_summary
    >>> low, mean_log = scale_summary(np.array([[1.0, 4.0]]))
    >>> float(low[0]), float(np.exp(mean_log[0]))
    (1.0, 2.0)
    """
    scales = np.asarray(scales)
    if scales.ndim == 1:
        return scales.astype(np.float64), np.log(scales.astype(np.float64))
    # An explicit row width, not -1: numpy cannot infer it for zero rows ((0, *input_shape) -> (0,) outputs).
    flat = scales.reshape(len(scales), int(np.prod(scales.shape[1:], dtype=np.int64)))
    return flat.min(axis=1).astype(np.float64), np.log(flat.astype(np.float64)).mean(axis=1)


def noise_level(scales):
    """Each input's noise level as one number, what a sigma-conditioned denoiser is told: ``(n_inputs,)``.

    Isotropic scales ``(n_inputs,)`` are their own level. Per-dimension scales ``(n_inputs,
    *input_shape)`` give their root mean square, the isotropic level of the same expected noise
    energy (``sum_i t_i**2``), since a denoiser conditioned on one level was trained on isotropic
    noise. Differentiable, so the sigma optimisation's gradients flow through the level too.

    Parameters
    ----------
    scales : torch.Tensor of shape (n_inputs,) or (n_inputs, *input_shape)

    Returns
    -------
    levels : torch.Tensor of shape (n_inputs,)

    Examples
    --------
    >>> import torch
    >>> from smoothcert.noise import noise_level
    >>> noise_level(torch.tensor([[0.1, 0.7], [0.5, 0.5]])).tolist()
    [0.5, 0.5]
    """
    return scales if scales.dim() == 1 else scales.flatten(1).square().mean(dim=1).sqrt()


class _Noise(ABC):
    """Shared geometry of both families; subclasses give the distribution and ``G(p)``."""

    norm = None

    @abstractmethod
    def sample(self, shape, generator, device, dtype=torch.float32):
        """Draw unit-scale noise of ``shape`` from ``generator`` (multiply by the scales)."""

    @abstractmethod
    def gap(self, p_lower):
        """Certified radius in units of the scales, ``0`` where ``p_lower <= 1/2``."""

    @abstractmethod
    def _log_unit_ball_volume(self, d):
        """Log-volume of the unit l_p ball in ``d`` dimensions."""

    def radius(self, gap, scales):
        """Worst-case l_p radius ``G * min_i t_i`` (the largest l_p ball inside the region)."""
        min_scale, _ = scale_summary(scales)
        return np.asarray(gap, dtype=np.float64) * min_scale

    def proxy_radius(self, gap, scales):
        """Radius of the l_p ball with the region's volume, ``G * exp(mean_i log t_i)``.

        A volume summary, not a robustness radius: it can exceed the distance to the decision
        boundary (see ``THEORY.md`` 6.2).
        """
        _, mean_log = scale_summary(scales)
        return np.asarray(gap, dtype=np.float64) * np.exp(mean_log)

    def log_volume(self, gap, scales, d):
        """Natural log of the certified region's volume in ``d`` dimensions (``-inf`` if empty)."""
        _, mean_log = scale_summary(scales)
        gap = np.asarray(gap, dtype=np.float64)
        with np.errstate(divide="ignore"):
            return self._log_unit_ball_volume(d) + d * (np.log(gap) + mean_log)


class GaussianNoise(_Noise):
    """Gaussian smoothing noise, l2 certificates (balls and axis-aligned ellipsoids).

    Examples
    --------
    >>> from smoothcert.noise import GaussianNoise
    >>> noise = GaussianNoise()
    >>> float(noise.gap(0.5))
    0.0
    >>> round(float(noise.radius(noise.gap(0.9), [0.5])[0]), 4)
    0.6408
    """

    norm = "l2"

    def sample(self, shape, generator, device, dtype=torch.float32):
        return torch.randn(shape, generator=generator, device=device, dtype=dtype)

    def gap(self, p_lower):
        p_lower = np.asarray(p_lower, dtype=np.float64)
        # isf(1 - p) keeps precision near p = 1 where ppf(p) rounds to inf.
        return np.where(p_lower > 0.5, stats.norm.isf(1.0 - p_lower), 0.0)

    def surrogate_gap(self, psi_a, psi_b, clamp):
        """Differentiable gap ``(Phi^-1(psi_A) - Phi^-1(psi_B)) / 2`` on clamped soft votes.

        Alfarra et al. (2022), "Data Dependent Randomized Smoothing"; the clamp keeps the quantiles
        finite (a clamped vote contributes no gradient).
        """
        a = psi_a.clamp(clamp, 1.0 - clamp)
        b = psi_b.clamp(clamp, 1.0 - clamp)
        return 0.5 * math.sqrt(2.0) * (torch.erfinv(2.0 * a - 1.0) - torch.erfinv(2.0 * b - 1.0))

    def probability(self, gap):
        """The ``p_lower`` whose gap is ``gap``: ``Phi(gap)`` (the inverse of :meth:`gap` above 1/2)."""
        return stats.norm.cdf(np.asarray(gap, dtype=np.float64))

    def _log_unit_ball_volume(self, d):
        return 0.5 * d * math.log(math.pi) - special.gammaln(0.5 * d + 1.0)


class UniformNoise(_Noise):
    """Uniform smoothing noise on ``[-t, t]`` per dimension, l1 certificates (cross-polytopes).

    Examples
    --------
    >>> from smoothcert.noise import UniformNoise
    >>> noise = UniformNoise()
    >>> round(float(noise.radius(noise.gap(0.75), [2.0])[0]), 6)
    1.0
    """

    norm = "l1"

    def sample(self, shape, generator, device, dtype=torch.float32):
        return torch.rand(shape, generator=generator, device=device, dtype=dtype).mul_(2.0).sub_(1.0)

    def gap(self, p_lower):
        p_lower = np.asarray(p_lower, dtype=np.float64)
        return np.where(p_lower > 0.5, 2.0 * (p_lower - 0.5), 0.0)

    def surrogate_gap(self, psi_a, psi_b, clamp=None):
        """Differentiable gap ``psi_A - psi_B`` (the uniform certificate is linear in the votes)."""
        return psi_a - psi_b

    def probability(self, gap):
        """The ``p_lower`` whose gap is ``gap``: ``1/2 + gap / 2`` (the inverse of :meth:`gap` above 1/2)."""
        return 0.5 + 0.5 * np.asarray(gap, dtype=np.float64)

    def _log_unit_ball_volume(self, d):
        return d * math.log(2.0) - special.gammaln(d + 1.0)


_NOISES = {"l2": GaussianNoise, "l1": UniformNoise}


def get_noise(norm):
    """Return the noise model of ``norm`` (``"l2"``: Gaussian, ``"l1"``: uniform).

    Examples
    --------
    >>> from smoothcert.noise import get_noise
    >>> get_noise("l1").norm
    'l1'
    """
    if norm not in _NOISES:
        raise ValueError(f"norm must be 'l2' (Gaussian noise) or 'l1' (uniform noise), got {norm!r}.")
    return _NOISES[norm]()
