"""Eiras et al. (2022), "ANCER": one optimised noise scale per input dimension."""

from numbers import Real

import torch

from .._validation import check_float
from ._ascent import ANCER_STREAM, ascend, check_ascent_params
from .base import SigmaOptimizer, check_scale, check_scales_args
from .isotropic import IsotropicSigma

__all__ = ["AncerSigma"]


def _geometric_mean(theta):
    """``exp(mean(log t))`` per input: ``prod(t) ** (1/d)`` underflows for large ``d``."""
    return theta.flatten(1).log().mean(dim=1).exp()


def _ancer_objective(gap, theta, kappa):
    """ANCER's objective: proxy radius ``G GM(t)`` plus ``kappa`` times the worst-case radius ``G min(t)``."""
    return gap * (_geometric_mean(theta) + kappa * theta.flatten(1).amin(dim=1))


class AncerSigma(SigmaOptimizer):
    """Anisotropic data-dependent noise: per input, one scale per dimension, optimised with Adam.

    Eiras, Alfarra, Kumar, Torr, Dokania, Ghanem and Bibi (2022), "ANCER: Anisotropic Certification
    via Sample-wise Volume Maximization" (TMLR). Starting from the isotropic scale ``t0`` chosen by
    ``init`` (by default Alfarra et al.'s :class:`IsotropicSigma`), the scales ``t`` of every input
    maximise

    ``G * GM(t) + kappa * G * min_i t_i``,

    with ``G`` the surrogate gap of :class:`IsotropicSigma` at noise ``t * eps``, ``GM(t) =
    exp(mean_i log t_i)`` (the certified region's proxy radius, computed in logs) and ``G * min(t)``
    its worst-case radius, by Adam (step ``lr``) for ``n_iter`` steps, each followed by the
    projection ``t >= t0`` elementwise (so ``t > 0`` always). As for :class:`IsotropicSigma`, the
    returned scales are, per input, the best iterate by this objective on the optimisation samples
    (``t0`` included), class ``A`` is fixed at the start and ``surrogate="binary"`` by default.

    The certified region is the ellipsoid ``sum((delta_i / t_i)**2) <= G**2`` (l2) or the
    cross-polytope ``sum(|delta_i| / t_i) <= G`` (l1). Its worst-case radius ``G min(t)`` is the
    robustness claim; the proxy radius ``G GM(t)`` only measures volume. The scales depend on the
    input, so certificates are only sound through a :class:`~smoothcert.CertificateMemory`.

    Parameters
    ----------
    init : SigmaOptimizer, float or None, default=None
        Strategy giving the starting isotropic scale of each input, or one float for every input.
        ``None`` means ``IsotropicSigma(clamp=clamp, surrogate=surrogate, outputs=outputs)`` (not a
        default instance, which ``set_params`` would mutate for every estimator sharing it). Pass
        ``IsotropicSigma(...)`` to tune it: ``GridSearchCV`` reaches it as ``sigma__init__init``.
        Its :meth:`base_scale` is the training noise scale.
    lr : float, default=0.04
        Adam's step size.
    n_iter : int, default=100
        Adam steps; ``0`` returns the starting scales.
    n_samples : int, default=100
        Noise draws per input and step.
    kappa : float, default=2.0
        Weight of the worst-case radius term (``>= 0``); it keeps ``min(t)`` from being neglected
        while the volume grows.
    clamp : float, default=0.001
        Soft votes are clipped to ``[clamp, 1 - clamp]`` before ``Phi^-1`` (l2 only).
    surrogate : {"binary", "top2"}, default="binary"
        Runner-up soft vote of the surrogate, as in :class:`IsotropicSigma`.
    outputs : {"logits", "probabilities"}, default="logits"
        What the model returns; softmax is applied to logits. Checked on the first batch of every
        :meth:`scales` call, as for :class:`IsotropicSigma` (probabilities given as ``"logits"``
        would get a second softmax): a mismatch raises a ``ValueError``. An explicit ``init``
        strategy must have the same ``outputs`` (a ``ValueError`` naming both otherwise).

    Attributes
    ----------
    data_dependent : bool
        ``True``.

    Raises
    ------
    ValueError
        From :meth:`base_scale` and :meth:`scales`, for parameters out of range or an ``init`` whose
        ``outputs`` differ; from :meth:`scales`, as for :class:`IsotropicSigma`.
    TypeError
        For parameters or arguments of the wrong type.

    See Also
    --------
    IsotropicSigma : the isotropic strategy used as initialisation.

    Examples
    --------
    >>> import torch
    >>> from smoothcert import AncerSigma
    >>> from smoothcert.noise import GaussianNoise
    >>> model = torch.nn.Linear(4, 2).eval()
    >>> ancer = AncerSigma(init=0.25, n_iter=10, n_samples=32)
    >>> t = ancer.scales(model, torch.zeros(3, 4), noise=GaussianNoise(), keys=[1, 2, 3], batch_size=96)
    >>> t.shape, bool((t >= 0.25).all())
    (torch.Size([3, 4]), True)
    """

    data_dependent = True

    def __init__(
        self,
        init=None,
        lr=0.04,
        n_iter=100,
        n_samples=100,
        kappa=2.0,
        clamp=0.001,
        surrogate="binary",
        outputs="logits",
    ):
        self.init = init
        self.lr = lr
        self.n_iter = n_iter
        self.n_samples = n_samples
        self.kappa = kappa
        self.clamp = clamp
        self.surrogate = surrogate
        self.outputs = outputs

    def _init_strategy(self):
        """The starting strategy, or the starting scale as a float."""
        if self.init is None:
            default = IsotropicSigma(clamp=self.clamp, surrogate=self.surrogate, outputs=self.outputs)
            default._owner = "AncerSigma"  # its errors about outputs name the strategy the user set
            return default
        if isinstance(self.init, SigmaOptimizer):
            inner = getattr(self.init, "outputs", self.outputs)
            if inner != self.outputs:
                # The two would read the same model's outputs differently: one of them is wrong.
                name = type(self.init).__name__
                raise ValueError(
                    f"AncerSigma(outputs={self.outputs!r}) and its init {name}(outputs={inner!r}) disagree on what "
                    f"the model returns; set the same outputs on both, e.g. AncerSigma(init={name}(..., "
                    f"outputs={self.outputs!r}), outputs={self.outputs!r})."
                )
            return self.init
        if isinstance(self.init, Real) and not isinstance(self.init, bool):
            return check_scale(self.init, "init")
        raise TypeError(
            f"init must be a SigmaOptimizer (e.g. IsotropicSigma(0.25)), a positive float or None, "
            f"got {type(self.init).__name__}."
        )

    def _checked(self):
        check_ascent_params(self)
        kappa = check_float(self.kappa, "kappa", low=0.0, low_inclusive=True, what="weight of min(t)")
        init = self._init_strategy()
        return init, (init if isinstance(init, float) else init.base_scale()), kappa

    def base_scale(self):
        return self._checked()[1]

    def scales(self, model, X, *, noise, keys, batch_size):
        init, scale, kappa = self._checked()
        check_scales_args(self, model, X, noise, keys, batch_size)
        n, input_shape = X.shape[0], tuple(X.shape[1:])
        if isinstance(init, float):
            theta0 = torch.full((n, *input_shape), scale, dtype=torch.float32, device=X.device)
        else:
            start = init.scales(model, X, noise=noise, keys=keys, batch_size=batch_size).to(torch.float32)
            if start.dim() == 1:
                start = start.reshape(n, *([1] * len(input_shape)))
            theta0 = start.expand(n, *input_shape).contiguous()
        return ascend(
            model,
            X,
            theta0,
            keys,
            est=self,
            noise=noise,
            stream=ANCER_STREAM,
            batch_size=batch_size,
            objective=lambda gap, t: _ancer_objective(gap, t, kappa),
            optimizer=lambda params: torch.optim.Adam(params, lr=self.lr, maximize=True),
            project=lambda t, start: t.clamp_(min=start),
        )
