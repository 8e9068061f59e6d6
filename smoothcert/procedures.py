"""Certification procedures as plain functions over a Monte Carlo engine, noise scales and a bound.

Each procedure selects a class per input and turns vote counts into a lower bound ``p_lower`` on
its probability under noise, reporting how many forward passes each input used and why it
stopped. The certified region then follows from ``(p_lower, sigma, norm)`` alone
(:meth:`Certificates.from_gap`). See ``docs/user_guide/sampling.rst`` for when to use which.

* :func:`certify_fixed`: Cohen et al.'s CERTIFY (``n0`` selection samples, ``n`` estimation samples).
* :func:`certify_sequential`: looks at the estimation count at preset sample sizes and stops once
  every requested decision is clear; the looks' bounds share ``alpha`` (a union bound over the
  ``K`` looks, see :func:`look_levels`), so any stopping rule keeps the guarantee.
* :func:`certify_adaptive`: plans the number of estimation samples of each input from a pilot,
  then draws them fresh; given the pilot the bound is Cohen's, no correction needed.

Each takes its settings from a :class:`~smoothcert.plan.SamplingPlan`. Dual randomized smoothing
runs these same procedures on a level selector and its experts (:mod:`smoothcert.dual_smoothing`).

Stop reasons: ``"max_samples"`` (drew the largest ``n``), ``"certified"`` / ``"abstained"``
(sequential: stopped early with every decision clear; adaptive: ``"abstained"`` when the pilot
alone rules a certificate out), ``"converged"`` (adaptive: the planned ``n(x) < n`` gives the
radius of ``n`` within the tolerance).
"""

import numpy as np

from .noise import scale_summary
from .sampling import Stage

__all__ = [
    "certify_rows",
    "run_procedure",
    "vote_counts",
    "noise_scales",
    "certify_fixed",
    "certify_sequential",
    "certify_adaptive",
    "resolve_looks",
    "look_levels",
    "probability_thresholds",
]

# Two-sided level of the pilot's interval in adaptive planning: it only affects power, not soundness.
_PLANNING_ALPHA = 0.01


def procedure_result(top, p_lower, n_used, stop_reason):
    return {"class_index": np.asarray(top, dtype=np.int64), "p_lower": np.asarray(p_lower, dtype=np.float64),
            "n_used": np.asarray(n_used, dtype=np.int64), "stop_reason": np.asarray(stop_reason, dtype="<U11")}


def _select(engine, X_t, scales, keys, n0):
    return engine.counts(X_t, scales, keys, n0, Stage.SELECTION).argmax(axis=1)


def certify_fixed(engine, X_t, scales, keys, *, n0, n, alpha, bound):
    """Cohen et al.'s CERTIFY: the top class of ``n0`` samples, its bound from ``n`` fresh ones.

    Returns
    -------
    result : dict of ndarray
        ``class_index`` (selected class), ``p_lower``, ``n_used``, ``stop_reason``.
    """
    top = _select(engine, X_t, scales, keys, n0)
    counts = engine.counts(X_t, scales, keys, n, Stage.ESTIMATION)
    p_lower = bound.lower(counts[np.arange(len(top)), top], n, alpha)
    return procedure_result(top, p_lower, np.full(len(top), n0 + n), np.full(len(top), "max_samples"))


def resolve_looks(looks, n, block):
    """The sample sizes of a sequential run's looks: increasing, the last ``n``, the others on blocks.

    ``"doubling"`` gives ``block, 2 block, 4 block, ...`` below ``n``, then ``n``. An explicit tuple
    must increase and end at ``n``; its intermediate looks are rounded up to multiples of the noise
    block (counts are only additive there) and merged when they coincide.

    Examples
    --------
    >>> from smoothcert.procedures import resolve_looks
    >>> resolve_looks("doubling", 5000, 1024)
    (1024, 2048, 4096, 5000)
    >>> resolve_looks((100, 1500, 5000), 5000, 1024)
    (1024, 2048, 5000)
    """
    if isinstance(looks, str):
        if looks != "doubling":
            raise ValueError(f"looks must be 'doubling' or an increasing tuple of ints ending at n={n}, got {looks!r}.")
        sizes = []
        while block << len(sizes) < n:
            sizes.append(block << len(sizes))
        return (*sizes, n)
    try:
        sizes = [int(s) for s in looks]
    except (TypeError, ValueError):
        raise TypeError(f"looks must be 'doubling' or an increasing tuple of ints ending at n={n}, got {looks!r}.") from None
    if not sizes or any(not isinstance(s, (int, np.integer)) or isinstance(s, bool) for s in looks):
        raise TypeError(f"looks must be 'doubling' or an increasing tuple of ints ending at n={n}, got {looks!r}.")
    if sizes[-1] != n or sizes[0] < 1 or any(b <= a for a, b in zip(sizes, sizes[1:])):
        raise ValueError(f"looks must be increasing positive ints ending at n={n}, got {tuple(looks)!r}.")
    rounded = sorted({min(n, -(-s // block) * block) for s in sizes[:-1]} | {n})
    return tuple(rounded)


def look_levels(alpha, n_looks):
    """The failure probability spent at each look: half of ``alpha`` at the last, the rest shared.

    Any split that sums to ``alpha`` keeps the union bound; inputs still undecided at the last look
    are the close calls, whose bound is then only halved, not divided by the number of looks.

    Examples
    --------
    >>> from smoothcert.procedures import look_levels
    >>> look_levels(0.1, 1).tolist(), look_levels(0.1, 3).tolist()
    ([0.1], [0.025, 0.025, 0.05])
    """
    if n_looks == 1:
        return np.array([alpha])
    return np.array([alpha / (2 * (n_looks - 1))] * (n_looks - 1) + [alpha / 2])


def certify_sequential(engine, X_t, scales, keys, *, n0, n, alpha, bound, looks, thresholds, top=None, _correct=True):
    """Sequential CERTIFY: estimation counts looked at after each of the increasing sample sizes ``looks`` (the last ``n``).

    At look ``k`` the bounds ``L_k, U_k`` are at level ``alpha_k`` (:func:`look_levels`: half of
    ``alpha`` at the last look, ``alpha / (2 (K - 1))`` at each other); an input stops at
    the first look where no decision threshold lies strictly between them (``U_k <= 1/2`` included),
    or at ``n``, and reports ``L_k``. The probability that any of the ``K`` lower bounds is wrong is at
    most ``sum alpha_k = alpha``, whatever the stopping rule: the guarantee of CERTIFY.

    Parameters
    ----------
    thresholds : ndarray of shape (n_inputs, n_thresholds)
        Per input, the probabilities at which a decision must be exact (the ``p`` of each
        requested radius, ``1/2`` for radius 0); NaN for none.
    top : ndarray of int or None, default=None
        The class of each input, already selected from its ``n0`` selection samples (DualSigma's
        level); ``None`` selects it here.
    _correct : bool, default=True
        Share ``alpha`` between the looks. Switched off only by the tests' negative control,
        which must see the peeking it allows.

    Returns
    -------
    result : dict of ndarray
        As :func:`certify_fixed`.
    """
    top = _select(engine, X_t, scales, keys, n0) if top is None else top
    levels = look_levels(alpha, len(looks)) if _correct else np.full(len(looks), alpha)
    rows = np.arange(len(top))
    count = np.zeros(len(top), dtype=np.int64)
    p_lower = np.zeros(len(top))
    n_used = np.full(len(top), n0, dtype=np.int64)
    stop_reason = np.full(len(top), "max_samples", dtype="<U11")
    active, drawn = rows, 0
    for look, level in zip(looks, levels):
        if not active.size:
            break
        votes = engine.counts(X_t[active], scales[active], [keys[i] for i in active], look - drawn, Stage.ESTIMATION,
                              start=drawn)
        count[active] += votes[np.arange(len(active)), top[active]]
        lower = bound.lower(count[active], look, level)
        upper = bound.upper(count[active], look, level)
        p_lower[active], n_used[active] = lower, n0 + look
        limits = thresholds[active]
        undecided = ((limits > lower[:, None]) & (limits < upper[:, None])).any(axis=1)
        if look < n:
            done = active[~undecided]
            stop_reason[done] = np.where(p_lower[done] > 0.5, "certified", "abstained")
            active = active[undecided]
        drawn = look
    return procedure_result(top, p_lower, n_used, stop_reason)


def _planning_gaps(bound, p, sizes, alpha, noise):
    """The gap CERTIFY would report with ``sizes`` samples if the vote share were exactly ``p``."""
    return noise.gap(bound.lower(np.round(p * sizes), sizes, alpha))


def certify_adaptive(engine, X_t, scales, keys, *, n, alpha, bound, pilot, tolerance, min_scale):
    """Adaptive CERTIFY: a pilot selects the class and plans ``n(x)``, then ``n(x)`` fresh samples.

    The pilot (``pilot`` samples of the selection stream) gives the class and a two-sided 99%
    interval on its probability. ``n(x)`` is the smallest size of a geometric grid in
    ``[min(100, n), n]`` at which CERTIFY's radius is within ``tolerance`` of its radius at ``n``,
    for the probability at both ends of the interval and at its centre; inputs whose interval lies
    below 1/2 abstain without estimation. Given the pilot, the class and ``n(x)`` are fixed and the
    estimation samples independent of them, so the Clopper-Pearson bound holds as in CERTIFY. (The
    published input-specific sampling reuses the pilot in the count; keeping it out costs a few
    percent of the samples and keeps the argument exact.)

    Parameters
    ----------
    min_scale : ndarray of shape (n_inputs,)
        Smallest noise scale of each input: radius = gap * min_scale.

    Returns
    -------
    result : dict of ndarray
        As :func:`certify_fixed`.
    """
    counts = engine.counts(X_t, scales, keys, pilot, Stage.SELECTION)
    top = counts.argmax(axis=1)
    k = counts[np.arange(len(top)), top]
    low = bound.lower(k, pilot, _PLANNING_ALPHA / 2)
    high = bound.upper(k, pilot, _PLANNING_ALPHA / 2)
    first = min(100, n)
    grid = np.unique(np.round(np.geomspace(first, n, max(2, int(np.ceil(4 * np.log2(n / first))) + 1)))).astype(np.int64)
    plan = _largest_plan(bound, low, k / pilot, high, grid, n, alpha, engine.noise, min_scale, tolerance)
    votes = engine.counts(X_t, scales, keys, plan, Stage.ESTIMATION)
    estimated = plan > 0
    p_lower = np.zeros(len(top))
    p_lower[estimated] = bound.lower(votes[np.arange(len(top)), top][estimated], plan[estimated], alpha)
    stop_reason = np.where(~estimated, "abstained", np.where(plan < n, "converged", "max_samples"))
    return procedure_result(top, p_lower, pilot + plan, stop_reason)


def _largest_plan(bound, low, centre, high, grid, n, alpha, noise, min_scale, tolerance):
    """Per input, the largest over ``(low, centre, high)`` of the smallest grid size within tolerance; 0 to abstain."""
    plan = np.zeros(len(low), dtype=np.int64)
    for p in (low, centre, high):
        at_n = _planning_gaps(bound, p, np.int64(n), alpha, noise)
        at_grid = _planning_gaps(bound, p[:, None], grid[None, :], alpha, noise)
        close = (at_n[:, None] - at_grid) * min_scale[:, None] <= tolerance
        close[:, -1] = True  # n itself is always within tolerance of n
        plan = np.maximum(plan, grid[close.argmax(axis=1)])
    return np.where(high > 0.5, plan, 0)


def probability_thresholds(noise, radii, min_scale, n, alpha_last):
    """Per input, the vote probabilities at which sequential decisions must be exact.

    For each radius ``r`` (``radii``: one grid for every input, or one row per input, NaN for none),
    the ``p`` whose gap reaches ``r / min_scale`` (``r = 0``: 1/2, abstain or certify). Thresholds above the largest bound ``n`` samples can give at the last look's level
    ``alpha_last`` are dropped: their decision, "not certified at r", is already known.

    Returns
    -------
    thresholds : ndarray of shape (n_inputs, n_radii); NaN where dropped
    """
    radii = np.asarray(radii, dtype=np.float64)
    radii = radii if radii.ndim == 2 else radii.reshape(1, -1)
    p = noise.probability(radii / np.asarray(min_scale, dtype=np.float64)[:, None])
    return np.where(p < alpha_last ** (1.0 / n), p, np.nan)


def noise_scales(engine, X, *, strategy):
    """The checked noise scales (float32 numpy) that ``strategy`` chooses for validated rows ``X``."""
    X_t = engine.to_device(X)
    return engine.scales(strategy, X_t, engine.keys(X)).detach().cpu().numpy()


def vote_counts(engine, X, *, strategy, num, stage):
    """Vote counts ``(n_inputs, n_classes)`` of ``num`` noisy copies of each validated row of ``X``."""
    keys = engine.keys(X)
    X_t = engine.to_device(X)
    return engine.counts(X_t, engine.scales(strategy, X_t, keys), keys, num, stage)


def certify_rows(engine, X, *, strategy, plan):
    """Certify validated rows ``X`` (numpy) as ``plan`` says: the strategy's scales, then the procedure.

    Returns
    -------
    result : dict of ndarray
        The procedure's ``class_index``, ``p_lower``, ``n_used`` and ``stop_reason``, ``sigma``
        (float32, the scales the noise was drawn with) and ``gap`` (the certified radius in units of
        ``sigma``; ``0`` where the input abstains).
    """
    keys = engine.keys(X)
    X_t = engine.to_device(X)
    scales = engine.scales(strategy, X_t, keys)
    sigma = scales.detach().cpu().numpy()
    with engine.progress(len(X) * plan.most_samples, f"certify {len(X)} inputs ({plan.sampling})"):
        result = run_procedure(engine, X_t, scales, keys, sigma, plan)
    result.update(sigma=sigma, gap=engine.noise.gap(result["p_lower"]))
    return result


def run_procedure(engine, X_t, scales, keys, sigma, plan):
    """Run ``plan.sampling``'s procedure, with the looks and thresholds it needs (``sigma``: numpy scales)."""
    min_scale = scale_summary(sigma)[0]
    if plan.sampling == "fixed":
        return certify_fixed(engine, X_t, scales, keys, n0=plan.n0, n=plan.n, alpha=plan.alpha, bound=plan.bound)
    if plan.sampling == "sequential":
        sizes = resolve_looks(plan.looks, plan.n, engine.block_size(X_t))
        thresholds = probability_thresholds(engine.noise, (0.0,) if plan.radii is None else plan.radii, min_scale,
                                            plan.n, look_levels(plan.alpha, len(sizes))[-1])
        return certify_sequential(engine, X_t, scales, keys, n0=plan.n0, n=plan.n, alpha=plan.alpha, bound=plan.bound,
                                  looks=sizes, thresholds=thresholds)
    return certify_adaptive(engine, X_t, scales, keys, n=plan.n, alpha=plan.alpha, bound=plan.bound, pilot=plan.pilot,
                            tolerance=plan.radius_tolerance, min_scale=min_scale)
