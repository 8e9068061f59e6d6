"""Shared machinery of the optimised strategies: parameter checks and the batched ascent loop.

:class:`~smoothcert.IsotropicSigma` (one scale per input, plain gradient ascent) and
:class:`~smoothcert.AncerSigma` (one scale per input dimension, Adam) differ only in the shape of the
scales, the objective, the optimizer and the projection; everything else lives here:

* soft votes ``psi = mean_j softmax(f(x + t * eps_j))`` with reparameterised noise, for a chunk of
  inputs in one forward pass (each input's copies stay next to each other, paired with its own
  scales);
* optimisation noise drawn per input and step from ``Stage.OPTIMIZATION`` streams, so it is
  independent of the certification noise and an input's result does not depend on the batch;
* the class ``A`` of the surrogate fixed to the top soft vote at the starting scales, and the
  runner-up ``psi_B = 1 - psi_A`` (``surrogate="binary"``, the certificate CERTIFY issues) or the
  largest other soft vote (``surrogate="top2"``, the authors' code);
* the model's weights frozen while the scales are optimised, their ``requires_grad`` flags restored
  afterwards;
* the *best iterate* per input: the scales with the largest objective seen on the optimisation
  samples, the starting scales included, rather than the last iterate.
"""

import math
from contextlib import contextmanager

import torch

from .._validation import check_float, check_int
from ..denoising import takes_sigma
from ..noise import noise_level
from ..sampling import Stage, derive_seed
from .base import check_scale

__all__ = ["check_ascent_params", "check_bounds", "ascend", "ISOTROPIC_STREAM", "ANCER_STREAM"]

# Sub-streams of Stage.OPTIMIZATION, one per strategy, so that ANCER's steps do not replay the noise
# of the isotropic optimisation that initialises it.
ISOTROPIC_STREAM = 1
ANCER_STREAM = 2

OUTPUTS = ("logits", "probabilities")
SURROGATES = ("binary", "top2")


def check_ascent_params(est):
    """Validate the parameters both optimised strategies share (``lr``, ``n_iter``, ``n_samples``,
    ``clamp``, ``surrogate``, ``outputs``), raising ``TypeError``/``ValueError`` naming the parameter."""
    check_float(est.lr, "lr", low=0.0, what="the step size of the optimisation")
    check_int(est.n_iter, "n_iter", 0)
    check_int(est.n_samples, "n_samples", 1)
    check_float(est.clamp, "clamp", low=0.0, high=0.5, what="soft votes are clipped to [clamp, 1 - clamp]")
    if est.surrogate not in SURROGATES:
        raise ValueError(
            f"surrogate must be 'binary' (psi_B = 1 - psi_A, as certified) or 'top2' (psi_B = the largest "
            f"other soft vote, as in the authors' code), got {est.surrogate!r}."
        )
    if est.outputs not in OUTPUTS:
        raise ValueError(
            f"outputs must be 'logits' (softmax is applied) or 'probabilities' (the model ends in a "
            f"softmax), got {est.outputs!r}."
        )


def check_bounds(init, min_sigma, max_sigma):
    """Validate ``0 < min_sigma <= init <= max_sigma`` (``max_sigma=None``: no upper bound)."""
    min_sigma = check_scale(min_sigma, "min_sigma")
    high = math.inf if max_sigma is None else check_scale(max_sigma, "max_sigma")
    if high < min_sigma:
        raise ValueError(f"max_sigma={high} must be >= min_sigma={min_sigma} (or None for no upper bound).")
    if not min_sigma <= init <= high:
        raise ValueError(
            f"init={init} must lie in [min_sigma, max_sigma] = [{min_sigma}, {high}]; change init or the bounds."
        )
    return min_sigma, (None if max_sigma is None else high)


@contextmanager
def frozen(model):
    """Turn off ``requires_grad`` of the model's parameters, restoring each flag exactly on exit.

    Only the scales need gradients; back-propagating into the weights as well is wasted work
    (DESIGN.md measured 1.4x), and leaving ``.grad`` on the caller's weights would be a side effect.
    """
    params = list(model.parameters()) if isinstance(model, torch.nn.Module) else []
    flags = [p.requires_grad for p in params]
    try:
        for p in params:
            p.requires_grad_(False)
        yield
    finally:
        for p, flag in zip(params, flags):
            p.requires_grad_(flag)


def optimisation_noise(noise, keys, stream, step, n_samples, like):
    """Unit noise ``(len(keys), n_samples, *input_shape)`` of one step, one generator seed per input,
    with the device and dtype of ``like`` (the inputs)."""
    shape = (n_samples, *like.shape[1:])
    eps = like.new_empty((len(keys), *shape))
    generator = torch.Generator(device=like.device)
    for row, key in enumerate(keys):
        generator.manual_seed(derive_seed(key, Stage.OPTIMIZATION, stream, step))
        eps[row] = noise.sample(shape, generator, like.device, like.dtype)
    return eps


# float32 probabilities sum to 1 within ~1e-6; logits essentially never do on a whole batch.
_PROBABILITY_TOLERANCE = 1e-3


def check_scores(scores, n_rows, outputs, owner):
    """The model's scores on the first batch a strategy sees: a finite ``(batch, n_classes)`` tensor,
    probabilities exactly when ``outputs="probabilities"`` (one host sync).

    Softmax applied to outputs that already are probabilities flattens the soft votes and the
    optimised scales collapse; raw scores taken as probabilities make the surrogate meaningless.
    """
    if not isinstance(scores, torch.Tensor) or scores.dim() != 2 or scores.shape[0] != n_rows:
        got = tuple(scores.shape) if isinstance(scores, torch.Tensor) else type(scores).__name__
        raise ValueError(f"{owner}: model must return a torch.Tensor of shape (batch, n_classes) = ({n_rows}, n_classes), got {got}.")
    scores = scores.detach()
    finite = torch.isfinite(scores).all()
    probabilities = (scores >= 0).all() & ((scores.sum(dim=1) - 1).abs() <= _PROBABILITY_TOLERANCE).all()
    finite, probabilities = torch.stack([finite, probabilities]).tolist()
    if not finite:
        raise ValueError(f"{owner}: the model produced non-finite scores (NaN or inf); check its weights and inputs.")
    if outputs == "logits" and probabilities:
        raise ValueError(
            f"{owner}(outputs='logits') applies a softmax, but the model's outputs are already probabilities (rows "
            f"non-negative summing to 1), so softmax would be applied twice: use {owner}(outputs='probabilities')."
        )
    if outputs == "probabilities" and not probabilities:
        raise ValueError(
            f"{owner}(outputs='probabilities') takes the model's outputs as probabilities, but they are not (rows must "
            f"be non-negative and sum to 1): use {owner}(outputs='logits') for a model that outputs logits."
        )


def soft_votes(model, x, theta, eps, outputs, check=None):
    """``psi = mean_j p(x + theta * eps_j)`` per input, differentiable in ``theta``.

    ``x`` is ``(b, *input_shape)``, ``theta`` ``(b,)`` or ``(b, *input_shape)``, ``eps``
    ``(b, m, *input_shape)``; returns ``(b, n_classes)``. ``check``, the strategy's name, checks the
    model's scores with :func:`check_scores`. A model behind a sigma-conditioned denoiser is also
    given each copy's level (:func:`~smoothcert.noise.noise_level` of ``theta``), gradient included.
    """
    b, m = eps.shape[:2]
    scale = theta.reshape(b, *([1] * (eps.dim() - 1))) if theta.dim() == 1 else theta.unsqueeze(1)
    noisy = torch.addcmul(x.unsqueeze(1), scale, eps).flatten(0, 1)
    if takes_sigma(model):
        scores = model(noisy, noise_level(theta).repeat_interleave(m))
    else:
        scores = model(noisy)
    if check is not None:
        check_scores(scores, b * m, outputs, check)
    probs = scores.softmax(dim=1) if outputs == "logits" else scores
    return probs.reshape(b, m, -1).mean(dim=1)


def anchored_gap(noise, psi, anchor, clamp, surrogate):
    """Surrogate gap of class ``anchor`` against ``1 - psi_A`` (``"binary"``) or the largest other
    soft vote (``"top2"``)."""
    psi_a = psi.gather(1, anchor[:, None]).squeeze(1)
    if surrogate == "binary":
        psi_b = 1.0 - psi_a
    else:
        psi_b = psi.scatter(1, anchor[:, None], -math.inf).amax(dim=1)
    return noise.surrogate_gap(psi_a, psi_b, clamp)


def ascend(model, X, theta0, keys, *, est, noise, stream, batch_size, objective, optimizer, project):
    """Maximise ``objective`` over the scales of every row of ``X``, returning the best iterates.

    Parameters
    ----------
    model : torch.nn.Module
        Base classifier in eval mode; its weights are frozen during the optimisation.
    X : torch.Tensor of shape (n, *input_shape)
        Inputs; never modified.
    theta0 : torch.Tensor of float32, shape (n,) or (n, *input_shape)
        Starting scales (one iterate among the candidates).
    keys : sequence of int
        Per-input stream keys.
    est : IsotropicSigma or AncerSigma
        Supplies ``n_iter``, ``n_samples``, ``clamp``, ``surrogate`` and ``outputs``.
    noise : GaussianNoise or UniformNoise
        Noise family.
    stream : int
        Sub-stream of ``Stage.OPTIMIZATION`` of the strategy.
    batch_size : int
        Inputs per chunk are ``max(1, batch_size // n_samples)``, so one forward pass holds about
        ``batch_size`` noisy copies.
    objective : callable ``(gap, theta) -> (b,)``
        Value to maximise per input, from the surrogate gap and the scales.
    optimizer : callable ``[theta] -> torch.optim.Optimizer``
        Built with ``maximize=True``.
    project : callable ``(theta, theta_start)``
        In-place projection applied after every step.

    Returns
    -------
    scales : torch.Tensor of float32, same shape as ``theta0``
        Per input, the iterate with the largest ``objective`` on its optimisation samples.
    """
    n_iter, n_samples = est.n_iter, est.n_samples
    if n_iter == 0 or X.shape[0] == 0:
        return theta0.detach().clone()
    chunk = max(1, int(batch_size) // n_samples)
    # Inference mode would make every tensor below untrackable; the caller may be inside it.
    with frozen(model), torch.inference_mode(False), torch.enable_grad():
        out = torch.empty(theta0.shape, dtype=theta0.dtype, device=theta0.device)
        for lo in range(0, X.shape[0], chunk):
            hi = min(X.shape[0], lo + chunk)
            x = X[lo:hi].detach().clone()
            start = theta0[lo:hi].detach().clone()
            theta = start.clone().requires_grad_(True)
            opt = optimizer([theta])
            best = start.clone()
            best_value = torch.full((hi - lo,), -math.inf, device=X.device)
            anchor = None
            for step in range(n_iter + 1):
                eps = optimisation_noise(noise, keys[lo:hi], stream, step, n_samples, x)
                with torch.set_grad_enabled(step < n_iter):
                    # The first forward pass of the call checks the model's outputs against est.outputs.
                    check = getattr(est, "_owner", type(est).__name__) if lo == 0 and step == 0 else None
                    psi = soft_votes(model, x, theta, eps, est.outputs, check)
                    if anchor is None:
                        anchor = psi.detach().argmax(dim=1)
                    value = objective(anchored_gap(noise, psi, anchor, est.clamp, est.surrogate), theta)
                with torch.no_grad():
                    better = value > best_value
                    best = torch.where(better.reshape(-1, *([1] * (theta.dim() - 1))), theta, best)
                    best_value = torch.where(better, value, best_value)
                if step == n_iter:
                    break
                opt.zero_grad(set_to_none=True)
                value.sum().backward()
                opt.step()
                with torch.no_grad():
                    project(theta, start)
            out[lo:hi] = best
    return out
