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
* :func:`certify_dual_rows`: dual randomized smoothing (:class:`~smoothcert.DualSigma`): any of
  the above on the smoothed level selector, then on the chosen level's expert.

Stop reasons: ``"max_samples"`` (drew the largest ``n``), ``"certified"`` / ``"abstained"``
(sequential: stopped early with every decision clear; adaptive: ``"abstained"`` when the pilot
alone rules a certificate out), ``"converged"`` (adaptive: the planned ``n(x) < n`` gives the
radius of ``n`` within the tolerance).
"""

import numpy as np
import torch

from .noise import scale_summary
from .sampling import Stage
from .sigma.dual import is_dual

__all__ = [
    "SAMPLING_MODES",
    "certify_rows",
    "run_procedure",
    "vote_counts",
    "noise_scales",
    "certify_fixed",
    "certify_sequential",
    "certify_adaptive",
    "certify_dual_rows",
    "dual_vote_counts",
    "level_radii",
    "resolve_looks",
    "look_levels",
    "probability_thresholds",
]

SAMPLING_MODES = ("fixed", "sequential", "adaptive")
# Two-sided level of the pilot's interval in adaptive planning: it only affects power, not soundness.
_PLANNING_ALPHA = 0.01


def _result(top, p_lower, n_used, stop_reason):
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
    return _result(top, p_lower, np.full(len(top), n0 + n), np.full(len(top), "max_samples"))


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
    return _result(top, p_lower, n_used, stop_reason)


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
    return _result(top, p_lower, pilot + plan, stop_reason)


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


def noise_scales(engine, X, *, strategy, num):
    """The checked noise scales (float32 numpy) that ``strategy`` chooses for validated rows ``X``
    (a DualSigma level from ``num`` selector votes, as :func:`dual_vote_counts` chooses it)."""
    X_t = engine.to_device(X)
    if is_dual(strategy):
        batch_size = _selector(engine, strategy, len(X))[0].resolve_batch_size(X_t)
        return strategy.scales(engine.module, X_t, noise=engine.noise, keys=engine.keys(X), batch_size=batch_size,
                               num=num, stage=Stage.PREDICTION).cpu().numpy()
    return engine.scales(strategy, X_t, engine.keys(X)).detach().cpu().numpy()


def vote_counts(engine, X, *, strategy, num, stage):
    """Vote counts ``(n_inputs, n_classes)`` of ``num`` noisy copies of each validated row of ``X``."""
    keys = engine.keys(X)
    X_t = engine.to_device(X)
    return engine.counts(X_t, engine.scales(strategy, X_t, keys), keys, num, stage)


def _selector(engine, strategy, n_rows):
    """DualSigma's selector engine (one class per level) and its noise scale for ``n_rows`` inputs (float32)."""
    selector = engine.with_module(engine.module.selector, len(strategy.checked_levels()))
    return selector, np.full(n_rows, strategy.selector_scale(), dtype=np.float32)


def _on_device(values, X_t):
    return torch.as_tensor(values, device=X_t.device)


def _by_level(engine, chosen, rows, levels, run):
    """``run(expert_engine, level_rows, scales)`` for the ``rows`` of each level, on that level's expert."""
    for i in np.unique(chosen[rows]):
        level_rows = rows[chosen[rows] == i]
        run(engine.with_module(engine.module.experts[i], engine.n_classes), level_rows,
            np.full(len(level_rows), levels[i], dtype=np.float32))


def dual_vote_counts(engine, X, *, strategy, num, stage):
    """DualSigma's votes for validated rows ``X``: the selector's ``(n_inputs, n_levels)`` and the
    chosen level's expert's ``(n_inputs, n_classes)``, ``num`` noisy copies each.

    The level is the selector's majority (the selector's own sub-streams of ``stage``); with one
    level the selector is constant and all its votes go to level 0 without sampling.

    Returns
    -------
    votes : dict of ndarray
        ``selector`` and ``counts``.
    """
    keys = engine.keys(X)
    X_t = engine.to_device(X)
    levels = strategy.checked_levels()
    if len(levels) == 1:
        selector_votes = np.zeros((len(X), 1), dtype=np.int64)
        selector_votes[:, 0] = num
    else:
        selector, scale = _selector(engine, strategy, len(X))
        selector_votes = selector.counts(X_t, _on_device(scale, X_t), strategy.selector_keys(keys), num, stage)
    counts = np.zeros((len(X), engine.n_classes), dtype=np.int64)

    def run(expert, rows, sigma):
        counts[rows] = expert.counts(X_t[rows], _on_device(sigma, X_t), [keys[j] for j in rows], num, stage)

    _by_level(engine, selector_votes.argmax(axis=1), np.arange(len(X)), levels, run)
    return {"selector": selector_votes, "counts": counts}


def certify_dual_rows(engine, X, *, strategy, sampling, alpha, **settings):
    """Dual randomized smoothing of validated rows ``X``: CERTIFY on the selector and on the chosen expert.

    The selector is smoothed at ``strategy.selector_scale()`` (its own noise sub-streams, failure
    probability ``alpha_sigma``); the chosen level's expert as a fixed-sigma run at that level
    (the classifier's streams, failure probability ``alpha_c``). The reported ``gap`` is
    ``min(radius_sigma, radius_class) / sigma``; an input abstains where either part does, i.e.
    where ``gap`` is 0 (``p_lower`` is the expert's bound, ``0`` where the expert did not run).

    * ``"fixed"`` and ``"adaptive"``: the procedure runs on the selector (its selection samples
      choose the level), then on the expert, for the inputs whose level is certified.
    * ``"sequential"``: the selector's ``n0`` selection samples choose the level, the expert runs,
      then the selector's estimation only has to decide ``radius_sigma >= radius_class`` (and the
      requested ``radii`` below it): it stops at the first look that certifies the level on the
      expert's radius, usually the first. Inputs the expert does not certify skip it.

    Returns
    -------
    result : dict of ndarray
        As :func:`certify_rows`, with ``gap``, ``radius_sigma`` and ``radius_class``; ``n_used``
        counts the selector's samples and the expert's.
    """
    keys = engine.keys(X)
    X_t = engine.to_device(X)
    levels = strategy.checked_levels()
    alpha_sigma, alpha_c = strategy.split_alpha(alpha)
    per_part = (settings["pilot"] if sampling == "adaptive" else settings["n0"]) + settings["n"]
    n_rows = len(X)
    selector, scale = _selector(engine, strategy, n_rows)
    selector_keys = strategy.selector_keys(keys)
    result = _result(np.zeros(n_rows), np.zeros(n_rows), np.zeros(n_rows), np.full(n_rows, ""))

    def run(expert, rows, sigma):
        part = run_procedure(expert, X_t[rows], _on_device(sigma, X_t), [keys[j] for j in rows], sigma,
                             sampling=sampling, alpha=alpha_c, **settings)
        for name in ("class_index", "p_lower", "stop_reason"):
            result[name][rows] = part[name]
        result["n_used"][rows] += part["n_used"]

    with engine.progress(n_rows * per_part * min(2, len(levels)), f"certify {n_rows} inputs ({sampling}, DualSigma)"):
        if len(levels) == 1:  # a constant selector: certified everywhere, without samples
            chosen, radius_sigma = np.zeros(n_rows, dtype=np.int64), np.full(n_rows, np.inf)
            _by_level(engine, chosen, np.arange(n_rows), levels, run)
        elif sampling == "sequential":
            chosen = selector.counts(X_t, _on_device(scale, X_t), selector_keys, settings["n0"],
                                     Stage.SELECTION).argmax(axis=1)
            _by_level(engine, chosen, np.arange(n_rows), levels, run)
            radius_sigma = _sequential_selector(selector, X_t, scale, selector_keys, chosen, result, levels,
                                                alpha=alpha_sigma, **settings)
        else:
            part = run_procedure(selector, X_t, _on_device(scale, X_t), selector_keys, scale, sampling=sampling,
                                 alpha=alpha_sigma, **settings)
            chosen, radius_sigma = part["class_index"], selector.noise.gap(part["p_lower"]) * scale
            result["n_used"][:], result["stop_reason"][:] = part["n_used"], part["stop_reason"]
            _by_level(engine, chosen, np.flatnonzero(radius_sigma > 0), levels, run)
    sigma = np.asarray(levels, dtype=np.float32)[chosen]
    gap_class = engine.noise.gap(result["p_lower"])
    result.update(sigma=sigma, radius_sigma=radius_sigma, radius_class=gap_class * sigma,
                  gap=np.minimum(gap_class, radius_sigma / sigma))
    return result


def _sequential_selector(selector, X_t, scale, keys, chosen, result, levels, *, n0, n, alpha, bound, radii, looks,
                         **other_modes):  # pilot, radius_tolerance: adaptive sampling's
    """The selector's radius by sequential estimation that stops once it reaches the expert's radius.

    Only where the expert certifies: the decisions are ``radius_sigma >= radius_class`` and, for the
    requested ``radii`` below ``radius_class``, ``radius_sigma >= r``. Updates ``result``'s
    ``n_used`` (the selection samples for every row) and ``stop_reason`` (the selector's, where it ran).
    """
    radius_class = selector.noise.gap(result["p_lower"]) * np.asarray(levels, dtype=np.float32)[chosen]
    radius_sigma = np.zeros(len(chosen))
    result["n_used"] += n0
    rows = np.flatnonzero(radius_class > 0)
    if not rows.size:
        return radius_sigma
    sizes = resolve_looks(looks, n, selector.block_size(X_t))
    alpha_last = look_levels(alpha, len(sizes))[-1]
    wanted = np.asarray((0.0,) if radii is None else radii, dtype=np.float64)[None, :]
    below = np.where(wanted < radius_class[rows, None], wanted, np.nan)
    thresholds = probability_thresholds(selector.noise, np.hstack([below, radius_class[rows, None]]), scale[rows], n,
                                        alpha_last)
    part = certify_sequential(selector, X_t[rows], _on_device(scale[rows], X_t), [keys[j] for j in rows], n0=n0, n=n,
                              alpha=alpha, bound=bound, looks=sizes, thresholds=thresholds, top=chosen[rows])
    radius_sigma[rows] = selector.noise.gap(part["p_lower"]) * scale[rows]
    result["n_used"][rows] += part["n_used"] - n0
    result["stop_reason"][rows] = part["stop_reason"]
    return radius_sigma


def level_radii(engine, X, y, *, levels, num, alpha, bound):
    """Per training input and level, the radius at which that level's expert certifies the true class.

    From ``num`` samples of the optimisation stream (independent of certification's); ``0`` where the
    expert's majority is another class. DualSigma's soft labels are made from these.

    Parameters
    ----------
    y : ndarray of int, shape (n_inputs,)
        True classes as output indices.

    Returns
    -------
    radii : ndarray of float64, shape (n_inputs, len(levels))
    """
    keys = engine.keys(X)
    X_t = engine.to_device(X)
    radii = np.zeros((len(X), len(levels)))
    rows = np.arange(len(X))
    for i, level in enumerate(levels):
        expert = engine.with_module(engine.module.experts[i], engine.n_classes)
        scale = np.float32(level)
        counts = expert.counts(X_t, _on_device(np.full(len(X), scale), X_t), keys, num, Stage.OPTIMIZATION)
        p_lower = bound.lower(counts[rows, y], num, alpha)
        radii[:, i] = np.where(counts.argmax(axis=1) == y, engine.noise.gap(p_lower) * scale, 0.0)
    return radii


def certify_rows(engine, X, *, strategy, sampling, n0, n, alpha, bound, radii, looks, radius_tolerance, pilot):
    """Certify validated rows ``X`` (numpy) with the ``sampling`` procedure: scales, then bounds.

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
    most = len(X) * ((pilot if sampling == "adaptive" else n0) + n)  # sequential and adaptive may stop earlier
    with engine.progress(most, f"certify {len(X)} inputs ({sampling})"):
        result = run_procedure(engine, X_t, scales, keys, sigma, sampling=sampling, n0=n0, n=n, alpha=alpha,
                               bound=bound, radii=radii, looks=looks, radius_tolerance=radius_tolerance, pilot=pilot)
    result.update(sigma=sigma, gap=engine.noise.gap(result["p_lower"]))
    return result


def run_procedure(engine, X_t, scales, keys, sigma, *, sampling, n0, n, alpha, bound, radii, looks, radius_tolerance,
                  pilot):
    """Dispatch to the ``sampling`` procedure, with the looks and thresholds it needs (``sigma``: numpy scales)."""
    min_scale = scale_summary(sigma)[0]
    if sampling == "fixed":
        return certify_fixed(engine, X_t, scales, keys, n0=n0, n=n, alpha=alpha, bound=bound)
    if sampling == "sequential":
        sizes = resolve_looks(looks, n, engine.block_size(X_t))
        thresholds = probability_thresholds(engine.noise, (0.0,) if radii is None else radii, min_scale, n,
                                            look_levels(alpha, len(sizes))[-1])
        return certify_sequential(engine, X_t, scales, keys, n0=n0, n=n, alpha=alpha, bound=bound, looks=sizes,
                                  thresholds=thresholds)
    return certify_adaptive(engine, X_t, scales, keys, n=n, alpha=alpha, bound=bound, pilot=pilot,
                            tolerance=radius_tolerance, min_scale=min_scale)
