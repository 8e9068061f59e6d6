"""Certification on simulated votes: what a sampling mode would cost and certify, without a network.

Given the probability ``p_A`` that the base classifier votes for each input's top class under
noise (e.g. estimated from an earlier run, or derived from published results), the votes of every
stage are redrawn as binomial counts and the same procedures as :meth:`SmoothedClassifier.certify`
run on them. Useful to choose ``sampling``, ``n`` and ``radii`` before paying for forward passes,
and to test the procedures' guarantees against exact probabilities.
"""

import numpy as np
from sklearn.utils import check_random_state

from ._validation import check_float, check_int
from .noise import get_noise
from .plan import SamplingPlan
from .procedures import run_procedure

__all__ = ["simulate_certify", "BinomialEngine"]


class BinomialEngine:
    """Stands in for :class:`~smoothcert.engine.MonteCarloEngine`: votes are binomial draws.

    Input ``i`` votes for class 0 with probability ``p[i]`` and for class 1 (every other class,
    lumped) otherwise; "inputs" are row indices.

    Parameters
    ----------
    p : ndarray of shape (n_inputs,)
        Probability of class 0 under noise, per input.
    noise : GaussianNoise or UniformNoise
    random_state : int, RandomState instance or None
    block : int, default=1024
        Noise-block size the procedures align sequential looks to.

    Attributes
    ----------
    forward_passes : int
        Votes drawn so far (what a real engine would spend in forward passes).
    """

    n_classes = 2

    def __init__(self, p, noise, random_state=None, block=1024):
        self.p = np.asarray(p, dtype=np.float64)
        self.noise = noise
        self.rng = check_random_state(random_state)
        self.block = block
        self.forward_passes = 0

    def block_size(self, X_t):
        return self.block

    def counts(self, X_t, scales, keys, num, stage, *, start=0):
        num = np.broadcast_to(np.asarray(num, dtype=np.int64), (len(X_t),))
        top = self.rng.binomial(num, self.p[np.asarray(X_t, dtype=np.int64)])
        self.forward_passes += int(num.sum())
        return np.stack([top, num - top], axis=1)


def simulate_certify(p_a, *, sigma, norm="l2", sampling=SamplingPlan.sampling, n0=SamplingPlan.n0, n=SamplingPlan.n,
                     alpha=SamplingPlan.alpha, radii=SamplingPlan.radii, looks=SamplingPlan.looks,
                     radius_tolerance=SamplingPlan.radius_tolerance, pilot=SamplingPlan.pilot, block=1024,
                     random_state=None):
    """Run a certification procedure on binomial votes with known probabilities ``p_a``.

    Parameters
    ----------
    p_a : array-like of shape (n_inputs,)
        Probability, per input, that the base classifier votes for its top class under noise.
    sigma : float
        Noise scale (Gaussian standard deviation for ``"l2"``, uniform half-width for ``"l1"``).
    norm, sampling, n0, n, alpha, radii, looks, radius_tolerance, pilot
        As for :class:`~smoothcert.SmoothedClassifier`.
    block : int, default=1024
        Noise-block size the sequential looks are aligned to (1024 for inputs of up to 1024
        values; see :func:`~smoothcert.sampling.noise_block_size`).
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    result : dict of ndarray
        ``top`` (whether class 0, the top class, was selected), ``p_lower``, ``radius`` (``0``
        where abstained or where the other class was selected), ``n_used``, ``stop_reason``.

    Examples
    --------
    >>> import numpy as np
    >>> from smoothcert.simulation import simulate_certify
    >>> fixed = simulate_certify(np.full(50, 0.99), sigma=0.25, n=10_000, random_state=0)
    >>> seq = simulate_certify(np.full(50, 0.99), sigma=0.25, n=10_000, sampling="sequential", radii=(0.25,),
    ...                        random_state=0)
    >>> bool(seq["n_used"].sum() < fixed["n_used"].sum() / 2)
    True
    """
    p_a = np.asarray(p_a, dtype=np.float64)
    if p_a.ndim != 1 or not np.isfinite(p_a).all() or (p_a < 0).any() or (p_a > 1).any():
        raise ValueError("p_a must be a 1-D array of probabilities in [0, 1].")
    sigma = check_float(sigma, "sigma", low=0.0, what="the noise scale")
    plan = SamplingPlan(sampling=sampling, n0=n0, n=n, alpha=alpha, radii=radii, looks=looks,
                        radius_tolerance=radius_tolerance, pilot=pilot)
    plan.warn_unused()
    engine = BinomialEngine(p_a, get_noise(norm), random_state, check_int(block, "block", 1))
    rows = np.arange(len(p_a))
    scales = np.full(len(p_a), sigma, dtype=np.float32)
    result = run_procedure(engine, rows, scales, [0] * len(p_a), scales, plan)
    top = result["class_index"] == 0
    radius = np.where(top, engine.noise.radius(engine.noise.gap(result["p_lower"]), scales), 0.0)
    return {"top": top, "p_lower": result["p_lower"], "radius": radius, "n_used": result["n_used"],
            "stop_reason": result["stop_reason"]}
