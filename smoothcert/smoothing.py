"""How a SmoothedClassifier smooths its module: the procedures it runs, chosen once per strategy.

:class:`Smoothing` is the randomized smoothing of one base classifier with the noise scales a
strategy chooses (:class:`~smoothcert.FixedSigma`, :class:`~smoothcert.IsotropicSigma`,
:class:`~smoothcert.AncerSigma`). A strategy that certifies its own choice of scales brings a
subclass of its own (:class:`~smoothcert.dual_smoothing.DualSmoothing` for
:class:`~smoothcert.DualSigma`); the estimator picks one in a single dispatch and calls only these
methods, so a new self-certifying strategy is a new module and one line in that dispatch.
"""

from typing import NamedTuple

import numpy as np

from .bounds import binomial_test_pvalue
from .nets import train_net
from .procedures import certify_rows, noise_scales, vote_counts

__all__ = ["Smoothing", "Votes", "tie_pvalue"]


class Votes(NamedTuple):
    """The votes of noisy copies of each input: the classifier's and, where one chooses the level, a selector's."""

    counts: np.ndarray  # (n_inputs, n_classes)
    selector: np.ndarray = None  # (n_inputs, n_levels), or None

    @classmethod
    def concatenate(cls, parts):
        """The votes of shards of rows, in row order."""
        return cls(*(None if field[0] is None else np.concatenate(field) for field in zip(*parts)))


def tie_pvalue(counts):
    """PREDICT's two-sided binomial p-value of a tie between each row's top two counts (ties to the lower index)."""
    top2 = np.argsort(-counts, axis=1, kind="stable")[:, :2]
    rows = np.arange(len(counts))
    return binomial_test_pvalue(counts[rows, top2[:, 0]], counts[rows, top2[:, 1]])


class Smoothing:
    """Randomized smoothing of one base classifier at the strategy's noise scales.

    Every method is a plain step of the estimator's ``fit``, ``predict``, ``noise_scales`` and
    ``certify``; the Monte Carlo ones run on a :class:`~smoothcert.engine.MonteCarloEngine` over
    shards of validated rows.
    """

    #: Whether the engine's ``"auto"`` batch size can be calibrated once, on the whole module,
    #: before rows are sharded over workers.
    calibrates_up_front = True

    def fit_module(self, est, X, y, training):
        """Train the base classifier on ``(X, y)`` (output indices) with ``est``'s settings.

        Returns
        -------
        module : torch.nn.Module
        net : NoiseAugmentedNet
            The skorch net that trained it (``est.net_``).
        train_sigma : ndarray
            The training samples' final noise scales (``est.train_sigma_``).
        """
        net = train_net(est, X, y, training, est.sigma_)
        return net.module_, net, net.train_sigma_

    def pretrained_module(self, est, module, X):
        """The module that certifies when ``est`` uses the trained ``module`` as it is: that module."""
        return module

    def votes(self, engine, X, *, strategy, num, stage):
        """:class:`Votes` of ``num`` noisy copies of each row."""
        return Votes(vote_counts(engine, X, strategy=strategy, num=num, stage=stage))

    def abstained(self, votes, strategy, alpha):
        """PREDICT's abstentions: where a tie of the top two counts is not rejected at level ``alpha``."""
        return tie_pvalue(votes.counts) > alpha

    def noise_scales(self, engine, X, *, strategy, num):
        """The noise scales ``strategy`` chooses for the rows of ``X`` (``num`` is not needed here)."""
        return noise_scales(engine, X, strategy=strategy)

    def certify_rows(self, engine, X, *, strategy, plan):
        """CERTIFY (as ``plan`` says) on the rows of ``X``; see :func:`~smoothcert.procedures.certify_rows`."""
        return certify_rows(engine, X, strategy=strategy, plan=plan)

    def provenance(self, strategy, alpha):
        """What a certificate's provenance adds for this smoothing: nothing beyond ``alpha``."""
        return {}
