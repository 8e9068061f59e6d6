"""The interface every noise-scale strategy implements."""

from abc import ABC, abstractmethod
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator

__all__ = ["SigmaOptimizer", "check_scale", "check_inputs", "check_scales_args"]


def check_scale(value, name, *, float32=True):
    """Validate a positive finite noise scale and return it as a float (positive and finite in float32 too,
    the precision noise is drawn in, unless ``float32=False`` for computations in float64 only)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a positive float (the noise scale), got {type(value).__name__}.")
    value = float(value)
    if not (value > 0 and value < float("inf")):
        raise ValueError(f"{name} must be a positive finite float (the noise scale), got {value}.")
    if not float32:
        return value
    # The noise is drawn in float32: a scale that is 0 or inf there would certify nothing or everything.
    with np.errstate(over="ignore"):
        as_float32 = float(np.float32(value))
    if not (np.finfo(np.float32).tiny <= as_float32 < float("inf")):
        raise ValueError(
            f"{name} must be a positive finite float (the noise scale) in float32, the precision the noise is drawn in "
            f"(between {np.finfo(np.float32).tiny:.3g} and {np.finfo(np.float32).max:.3g}), got {value}; rescale the inputs."
        )
    return value


def check_inputs(X, owner):
    """``X`` must be a torch tensor of inputs ``(n_inputs, *input_shape)``."""
    if not isinstance(X, torch.Tensor):
        raise TypeError(
            f"{owner}.scales needs X as a torch.Tensor of shape (n_inputs, *input_shape), got {type(X).__name__}; "
            f"use torch.as_tensor(X)."
        )
    if X.dim() < 2:
        raise ValueError(
            f"{owner}.scales needs X of shape (n_inputs, *input_shape) (at least 2-D), got shape {tuple(X.shape)}; "
            f"add a batch dimension (X[None]) or a feature one (X[:, None])."
        )


def check_scales_args(strategy, model, X, noise, keys, batch_size):
    """Validate the arguments of an optimised strategy's ``scales``, naming the argument and the fix.

    A wrong ``keys`` length would leave rows of the optimisation noise uninitialised, and non-finite
    inputs would make every objective NaN and silently return the starting scales.
    """
    owner = type(strategy).__name__
    if not callable(model):
        raise TypeError(f"{owner}.scales needs model as a torch.nn.Module (or a callable), got {type(model).__name__}.")
    check_inputs(X, owner)
    if not X.is_floating_point():
        raise TypeError(f"{owner}.scales needs X of a floating dtype, got {X.dtype}; use X.float().")
    if not bool(torch.isfinite(X).all()):
        raise ValueError(f"{owner}.scales needs finite inputs X: it contains NaN or infinity.")
    if not (hasattr(noise, "sample") and hasattr(noise, "surrogate_gap")):
        raise TypeError(
            f"{owner}.scales needs noise as smoothcert.noise.GaussianNoise() or UniformNoise() "
            f"(see smoothcert.noise.get_noise), got {type(noise).__name__}."
        )
    try:
        n_keys = len(keys)
    except TypeError:
        raise TypeError(f"{owner}.scales needs keys as a sequence of ints, one per row of X, got {type(keys).__name__}.") from None
    if n_keys != X.shape[0]:
        raise ValueError(
            f"{owner}.scales needs one key per row of X: got {n_keys} keys for {X.shape[0]} inputs "
            f"(see smoothcert.sampling.input_keys)."
        )
    if isinstance(batch_size, bool) or not isinstance(batch_size, Integral):
        raise TypeError(f"{owner}.scales needs batch_size as an int >= 1, got {type(batch_size).__name__} {batch_size!r}.")
    if batch_size < 1:
        raise ValueError(f"{owner}.scales needs batch_size as an int >= 1, got {batch_size}.")


class SigmaOptimizer(BaseEstimator, ABC):
    """Base class of the strategies that choose the smoothing noise scales of each input.

    A strategy only produces scales: one per input (isotropic) or one per input dimension
    (anisotropic). For ``norm="l2"`` a scale is the Gaussian standard deviation, for ``norm="l1"``
    the half-width of the uniform noise. Strategies are small scikit-learn estimators, so
    ``GridSearchCV`` reaches their parameters as ``sigma__<name>``.

    Attributes
    ----------
    data_dependent : bool
        Whether the scales depend on the input. Such certificates are only sound for the
        stateful classifier of :class:`~smoothcert.CertificateMemory`, unless ``certifies_choice``.
    certifies_choice : bool
        Whether the strategy certifies its own choice, so that its certificates are sound without
        memory (:class:`~smoothcert.DualSigma`).

    Examples
    --------
    >>> import torch
    >>> from smoothcert.sigma import SigmaOptimizer
    >>> class Halving(SigmaOptimizer):
    ...     def __init__(self, init=0.5):
    ...         self.init = init
    ...     def base_scale(self):
    ...         return self.init
    ...     def scales(self, model, X, *, noise, keys, batch_size):
    ...         return torch.full((len(X),), self.init / 2)
    >>> Halving().scales(None, torch.zeros(2, 3), noise=None, keys=[0, 1], batch_size=8)
    tensor([0.2500, 0.2500])
    """

    data_dependent = False
    certifies_choice = False

    @abstractmethod
    def base_scale(self):
        """The input-independent scale of the strategy (its fixed value or initialisation).

        Returns
        -------
        scale : float
        """

    @abstractmethod
    def scales(self, model, X, *, noise, keys, batch_size):
        """Choose the noise scales for each row of ``X``.

        Parameters
        ----------
        model : torch.nn.Module
            The base classifier in eval mode (outputs logits or probabilities).
        X : torch.Tensor of shape (n_inputs, *input_shape)
            Inputs on the compute device; never modified.
        noise : smoothcert.noise.GaussianNoise or smoothcert.noise.UniformNoise
            The noise family.
        keys : sequence of int
            Per-input stream keys (see :func:`smoothcert.sampling.input_keys`); optimisation noise
            must come from ``Stage.OPTIMIZATION`` streams, independent of certification noise.
        batch_size : int
            Largest number of noisy copies per forward pass.

        Returns
        -------
        scales : torch.Tensor of float32, shape (n_inputs,) or (n_inputs, *input_shape)
        """
