"""Dual randomized smoothing: the procedures of :class:`~smoothcert.DualSigma`, in one room.

Sun, Mao and Vechev's dual randomized smoothing smooths a level selector at its own noise scale,
certifies its choice (``radius_sigma``), then certifies the chosen level's expert at that level
(``radius_class``): the deployed classifier keeps its prediction within the smaller of the two.
Every sampling mode of :mod:`smoothcert.procedures` runs on both parts. This module is the only one
that knows what a :class:`~smoothcert.models.DualModel` holds; the estimator reaches it through
:class:`DualSmoothing`, chosen once for a strategy that certifies its own choice.
"""

import copy
import dataclasses

import numpy as np
import torch
from sklearn.exceptions import NotFittedError

from .bounds import ClopperPearson
from .denoising import Denoised, denoised
from .models import CallableSelector, DualModel
from .nets import check_module_output, normalized, train_net
from .procedures import (
    certify_sequential,
    look_levels,
    probability_thresholds,
    procedure_result,
    resolve_looks,
    run_procedure,
)
from .sampling import Stage
from .sigma import FixedSigma
from .smoothing import Smoothing, Votes, tie_pvalue
from .training import SelectorNet, soft_level_labels

__all__ = ["DualSmoothing", "certify_dual_rows", "dual_vote_counts", "level_radii"]


def _selector(engine, strategy, n_rows):
    """DualSigma's selector engine (one class per level) and its noise scale for ``n_rows`` inputs (float32)."""
    selector = engine.with_module(engine.module.selector, len(strategy.checked_levels()), "DualSigma selector")
    return selector, np.full(n_rows, strategy.selector_scale(), dtype=np.float32)


def _expert(engine, i, level):
    """The engine of DualSigma's expert ``i`` (at ``level``), named as the fit-time checks name it."""
    return engine.with_module(engine.module.experts[i], engine.n_classes, f"DualSigma expert {i} (level {level:g}) module")


def _on_device(values, X_t):
    return torch.as_tensor(values, device=X_t.device)


def _by_level(engine, chosen, rows, levels, run):
    """``run(expert_engine, level_rows, scales)`` for the ``rows`` of each level, on that level's expert."""
    for i in np.unique(chosen[rows]):
        level_rows = rows[chosen[rows] == i]
        run(_expert(engine, i, levels[i]), level_rows,
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


def certify_dual_rows(engine, X, *, strategy, plan):
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
        As :func:`~smoothcert.procedures.certify_rows`, with ``gap``, ``radius_sigma`` and ``radius_class``; ``n_used``
        counts the selector's samples and the expert's.
    """
    keys = engine.keys(X)
    X_t = engine.to_device(X)
    levels = strategy.checked_levels()
    alpha_sigma, alpha_c = strategy.split_alpha(plan.alpha)
    expert_plan = dataclasses.replace(plan, alpha=alpha_c)
    n_rows = len(X)
    selector, scale = _selector(engine, strategy, n_rows)
    selector_keys = strategy.selector_keys(keys)
    result = procedure_result(np.zeros(n_rows), np.zeros(n_rows), np.zeros(n_rows), np.full(n_rows, ""))

    def run(expert, rows, sigma):
        part = run_procedure(expert, X_t[rows], _on_device(sigma, X_t), [keys[j] for j in rows], sigma, expert_plan)
        for name in ("class_index", "p_lower", "stop_reason"):
            result[name][rows] = part[name]
        result["n_used"][rows] += part["n_used"]

    with engine.progress(n_rows * plan.most_samples * min(2, len(levels)),
                         f"certify {n_rows} inputs ({plan.sampling}, DualSigma)"):
        if len(levels) == 1:  # a constant selector: certified everywhere, without samples
            chosen, radius_sigma = np.zeros(n_rows, dtype=np.int64), np.full(n_rows, np.inf)
            _by_level(engine, chosen, np.arange(n_rows), levels, run)
        elif plan.sampling == "sequential":
            chosen = selector.counts(X_t, _on_device(scale, X_t), selector_keys, plan.n0, Stage.SELECTION).argmax(axis=1)
            _by_level(engine, chosen, np.arange(n_rows), levels, run)
            radius_sigma = _sequential_selector(selector, X_t, scale, selector_keys, chosen, result, levels,
                                                dataclasses.replace(plan, alpha=alpha_sigma))
        else:
            part = run_procedure(selector, X_t, _on_device(scale, X_t), selector_keys, scale,
                                 dataclasses.replace(plan, alpha=alpha_sigma))
            chosen, radius_sigma = part["class_index"], selector.noise.gap(part["p_lower"]) * scale
            result["n_used"][:], result["stop_reason"][:] = part["n_used"], part["stop_reason"]
            _by_level(engine, chosen, np.flatnonzero(radius_sigma > 0), levels, run)
    sigma = np.asarray(levels, dtype=np.float32)[chosen]
    gap_class = engine.noise.gap(result["p_lower"])
    result.update(sigma=sigma, radius_sigma=radius_sigma, radius_class=gap_class * sigma,
                  gap=np.minimum(gap_class, radius_sigma / sigma))
    return result


def _sequential_selector(selector, X_t, scale, keys, chosen, result, levels, plan):
    """The selector's radius by sequential estimation that stops once it reaches the expert's radius.

    Only where the expert certifies: the decisions are ``radius_sigma >= radius_class`` and, for the
    requested ``radii`` below ``radius_class``, ``radius_sigma >= r``. Updates ``result``'s
    ``n_used`` (the selection samples for every row) and ``stop_reason`` (the selector's, where it ran).
    """
    radius_class = selector.noise.gap(result["p_lower"]) * np.asarray(levels, dtype=np.float32)[chosen]
    radius_sigma = np.zeros(len(chosen))
    result["n_used"] += plan.n0
    rows = np.flatnonzero(radius_class > 0)
    if not rows.size:
        return radius_sigma
    sizes = resolve_looks(plan.looks, plan.n, selector.block_size(X_t))
    alpha_last = look_levels(plan.alpha, len(sizes))[-1]
    wanted = np.asarray((0.0,) if plan.radii is None else plan.radii, dtype=np.float64)[None, :]
    below = np.where(wanted < radius_class[rows, None], wanted, np.nan)
    thresholds = probability_thresholds(selector.noise, np.hstack([below, radius_class[rows, None]]), scale[rows],
                                        plan.n, alpha_last)
    part = certify_sequential(selector, X_t[rows], _on_device(scale[rows], X_t), [keys[j] for j in rows], n0=plan.n0,
                              n=plan.n, alpha=plan.alpha, bound=plan.bound, looks=sizes, thresholds=thresholds,
                              top=chosen[rows])
    radius_sigma[rows] = selector.noise.gap(part["p_lower"]) * scale[rows]
    result["n_used"][rows] += part["n_used"] - plan.n0
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
        expert = _expert(engine, i, level)
        scale = np.float32(level)
        counts = expert.counts(X_t, _on_device(np.full(len(X), scale), X_t), keys, num, Stage.OPTIMIZATION)
        p_lower = bound.lower(counts[rows, y], num, alpha)
        radii[:, i] = np.where(counts.argmax(axis=1) == y, engine.noise.gap(p_lower) * scale, 0.0)
    return radii


def _given_experts(est):
    """Copies of DualSigma's trained ``experts`` (with the normalisation layer when ``normalize`` is set,
    behind a copy of the denoiser when ``denoiser`` is set)."""
    return [denoised(normalized(copy.deepcopy(expert), est.normalize), est.denoiser)
            for expert in est.sigma_.experts]


def _dual_model(est, X, experts):
    """The DualModel of ``experts`` and a fresh selector, checked on a few inputs; and whether the selector trains."""
    selector, trainable = est.sigma_.make_selector(int(np.prod(est.input_shape_)))
    if not isinstance(selector, CallableSelector):
        selector = normalized(selector, est.normalize)
    for expert, level in zip(experts, est.sigma_.checked_levels()):
        if isinstance(expert, Denoised):  # a sigma-conditioned denoiser is told its expert's level
            expert.sigma = float(level)
    model = DualModel(experts, selector).to(est.device_)
    for i, (expert, level) in enumerate(zip(model.experts, est.sigma_.checked_levels())):
        check_module_output(expert, X[:2], len(est.classes_), est.device_,
                            role=f"DualSigma expert {i} (level {level:g}) module")
    check_module_output(model.selector, X[:2], len(est.sigma_.checked_levels()), est.device_, role="DualSigma selector",
                        outputs="levels")
    return model, trainable


class DualSmoothing(Smoothing):
    """Dual randomized smoothing for :class:`~smoothcert.DualSigma`: a smoothed selector chooses each
    input's noise level and certifies that choice; the chosen level's expert certifies the class.

    ``module_`` is a :class:`~smoothcert.models.DualModel`; ``certify`` reports
    ``radius = min(radius_sigma, radius_class)`` at the total failure probability ``alpha``
    (``alpha_sigma + alpha_c``, see :meth:`DualSigma.split_alpha <smoothcert.DualSigma.split_alpha>`).
    """

    # A DualModel has no forward pass of its own: its networks calibrate one by one, where they are used.
    calibrates_up_front = False

    def fit_module(self, est, X, y, training):
        """An expert per level (trained here unless given), then the selector trained on soft labels
        from the experts' radii (see :class:`~smoothcert.DualSigma`). No single net trains the
        model: ``net`` and ``train_sigma`` are ``None`` (the nets are on ``est.sigma_``)."""
        strategy = est.sigma_
        levels = strategy.checked_levels()
        if strategy.experts is None:
            strategy.expert_nets_ = [train_net(est, X, y, training, FixedSigma(level)) for level in levels]
            experts = [net.module_ for net in strategy.expert_nets_]
        else:
            strategy.expert_nets_ = None
            experts = _given_experts(est)
        model, trainable = _dual_model(est, X, experts)
        strategy.selector_net_ = None
        if trainable:
            engine = est._engine(model.eval())
            radii = level_radii(engine, X, y, levels=levels, num=strategy.n_label, alpha=est.alpha,
                                bound=ClopperPearson())
            net = SelectorNet(
                model.selector, noise=est.noise_, sigma=strategy.selector_scale(), consistency=strategy.consistency,
                lr=strategy.selector_lr, max_epochs=strategy.selector_epochs, batch_size=est.train_batch_size,
                train_split=None, device=est.device_, verbose=est.verbose,
            )
            strategy.selector_net_ = net.fit(X, soft_level_labels(radii, strategy.temperature))
            model.selector = net.module_
        return model, None, None

    def pretrained_module(self, est, module, X):
        """The DualModel of the given ``experts`` (or copies of ``module`` at every level) and a selector
        that needs no training (a callable, or a module with ``selector_epochs=0``)."""
        levels = est.sigma_.checked_levels()
        experts = [copy.deepcopy(module) for _ in levels] if est.sigma_.experts is None else _given_experts(est)
        model, trainable = _dual_model(est, X, experts)
        if trainable:
            raise NotFittedError(
                f"This {type(est).__name__} is not fitted: DualSigma's selector must be trained; call fit(X, y), "
                f"or pass a trained selector module with selector_epochs=0, or a callable selector."
            )
        est.sigma_.expert_nets_, est.sigma_.selector_net_ = None, None
        return model

    def votes(self, engine, X, *, strategy, num, stage):
        """:class:`~smoothcert.smoothing.Votes` with the selector's: see :func:`dual_vote_counts`."""
        return Votes(**dual_vote_counts(engine, X, strategy=strategy, num=num, stage=stage))

    def abstained(self, votes, strategy, alpha):
        """PREDICT on the selector at ``alpha_sigma`` (with several levels), then on the chosen level at ``alpha_c``."""
        alpha_sigma, alpha_c = strategy.split_alpha(alpha)
        abstained = tie_pvalue(votes.counts) > alpha_c
        if votes.selector.shape[1] > 1:
            abstained |= tie_pvalue(votes.selector) > alpha_sigma
        return abstained

    def noise_scales(self, engine, X, *, strategy, num):
        """The level of each row: the majority of ``num`` selector votes, as :func:`dual_vote_counts` chooses it."""
        X_t = engine.to_device(X)
        batch_size = _selector(engine, strategy, len(X))[0].resolve_batch_size(X_t)
        return strategy.scales(engine.module, X_t, noise=engine.noise, keys=engine.keys(X), batch_size=batch_size,
                               num=num, stage=Stage.PREDICTION).cpu().numpy()

    def certify_rows(self, engine, X, *, strategy, plan):
        """See :func:`certify_dual_rows`."""
        return certify_dual_rows(engine, X, strategy=strategy, plan=plan)

    def provenance(self, strategy, alpha):
        """The union bound's two shares of ``alpha``: ``alpha_sigma`` and ``alpha_c``."""
        return dict(zip(("alpha_sigma", "alpha_c"), strategy.split_alpha(alpha)))
