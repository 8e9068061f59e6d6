"""Dual randomized smoothing (Sun, Mao and Vechev, 2025): a data-dependent noise level that certifies itself."""

import copy
import inspect
import warnings
from collections.abc import Mapping
from collections.abc import Set as AbstractSet

import numpy as np
import torch

from .._validation import check_float, check_int
from ..models import MLP, CallableSelector
from ..sampling import SELECTOR_STREAM, Stage, count_votes, sub_stream_keys
from .base import SigmaOptimizer, check_inputs, check_scale

__all__ = ["DualSigma"]

# Parameters that only train the selector: set with a selector that is not trained, they would do nothing.
_SELECTOR_TRAINING = ("selector_epochs", "selector_lr", "n_label", "consistency", "temperature")


class DualSigma(SigmaOptimizer):
    """A noise level per input, chosen by a smoothed selector whose choice is itself certified.

    Dual randomized smoothing (Sun, Mao and Vechev, "Dual Randomized Smoothing", arXiv 2512.01782):
    the selector ``h`` maps an input to one of the ``levels``; smoothed with noise of scale
    ``selector_sigma`` it becomes ``g_e(x) = argmax_i P[h(x + delta) = i]``. CERTIFY on ``g_e``
    (failure probability ``alpha_sigma``) gives the level ``s`` and a radius ``radius_sigma`` on
    which ``g_e`` is constant; CERTIFY on the expert of level ``s`` smoothed at ``s`` (failure
    probability ``alpha_c``) gives the class and ``radius_class``. Inside ``radius_sigma`` the
    deployed classifier ``x -> g_{s(x)}(x)`` *is* the fixed-level classifier ``g_s``, so its
    prediction is constant within ``radius = min(radius_sigma, radius_class)``, with probability at
    least ``1 - alpha_sigma - alpha_c`` (a union bound; the two runs need not be independent). It
    abstains where either part abstains. The deployed classifier is a plain function of the input:
    no :class:`~smoothcert.CertificateMemory` is needed and the certificates are sound as they are.

    :meth:`SmoothedClassifier.predict(X, abstain=True) <smoothcert.SmoothedClassifier.predict>`
    runs PREDICT on the selector at ``alpha_sigma``, then at the chosen level at ``alpha_c``.
    With one level the selector is constant (certified everywhere, ``radius_sigma = inf``, no
    samples): the whole ``alpha`` goes to the classifier and the certificates are
    :class:`FixedSigma`'s.

    The selector draws its noise from sub-streams of its own (see
    :func:`~smoothcert.sampling.sub_stream_keys`), independent of the experts', which are exactly
    the streams of a fixed-sigma run; every sampling mode applies to both parts.

    Training (:meth:`SmoothedClassifier.fit <smoothcert.SmoothedClassifier.fit>`): without
    ``experts``, a copy of the estimator's ``module`` is trained at each level with the
    estimator's recipe (one noise-augmented training per level). Then the selector is trained on
    soft labels ``y_i ∝ exp(R_i / temperature)``, where ``R_i`` is the radius at which the expert
    of level ``i`` certifies the training input's true label from ``n_label`` samples (0 if it
    does not), with cross-entropy on two noisy copies (noise at ``selector_sigma``) plus
    ``consistency`` times their KL divergence to their mean prediction, which makes the choice
    stable under noise and so raises ``radius_sigma``. The labels cost
    ``len(levels) * n_label`` forward passes per training input.

    Parameters
    ----------
    levels : sequence of float, default=(0.12, 0.25, 0.5)
        The noise levels (Gaussian standard deviations for ``norm="l2"``, uniform half-widths
        for ``"l1"``), distinct and positive; the selector's output ``i`` chooses ``levels[i]``.
    selector : None, torch.nn.Module class or instance, or callable, default=None
        ``None``: an :class:`~smoothcert.models.MLP` with one output per level, trained at
        ``fit``. A module class (built without arguments) or instance (copied) mapping a batch to
        ``len(levels)`` scores, trained at ``fit`` unless ``selector_epochs=0``. Any other callable
        maps a batch ``(b, *input_shape)`` tensor to ``b`` level indices and is used as it is;
        soundness comes from smoothing it, not from its quality.
    selector_sigma : float or None, default=None
        Noise scale that smooths the selector; ``None``: ``max(levels)`` (the paper's choice,
        so that the selector's radius can match the largest level's).
    alpha_split : float, default=0.5
        Share of ``alpha`` spent on the selector: ``alpha_sigma = alpha_split * alpha`` and
        ``alpha_c = alpha - alpha_sigma``.
    experts : sequence of torch.nn.Module or None, default=None
        Trained base classifiers, one per level (copied, never trained here); ``None``: copies of
        the estimator's ``module``, trained at each level by ``fit`` (or used as they are, the
        same network at every level, by a pretrained estimator, see its ``classes``).
    selector_epochs : int, default=60
        Training epochs of the selector (``0``: use it as it is).
    selector_lr : float, default=0.003
        Adam learning rate of the selector's training.
    n_label : int, default=100
        Samples per training input and level that estimate the soft labels' radii.
    consistency : float, default=50.0
        Weight of the consistency term of the selector's loss (``0``: cross-entropy only). It
        trades the input-dependence of the choice for the selector's radius: on digits
        (``benchmarks/README.md``, "DualSigma") weights up to 20 let the choice vary between
        inputs but cap ``radius`` by ``radius_sigma`` on many of them, and 50 makes the selector
        choose one level (the one the soft labels favour) with its largest radius, which
        certified more at every radius.
    temperature : float, default=1.0
        Temperature of the soft labels, in the units of the inputs' radii.

    Attributes
    ----------
    data_dependent : bool
        ``True``: the noise level depends on the input.
    certifies_choice : bool
        ``True``: the choice is certified, so no memory is needed for soundness.
    expert_nets_ : list of NoiseAugmentedNet or None
        Set on the estimator's fitted copy (``sigma_``) by ``fit``: the skorch net that trained
        each level's expert (``history`` holds its log); ``None`` with given ``experts``.
    selector_net_ : SelectorNet or None
        Set likewise: the net that trained the selector; ``None`` when it was not trained.

    See Also
    --------
    IsotropicSigma : data-dependent scales that need a CertificateMemory to be sound.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import make_blobs
    >>> from smoothcert import DualSigma, SmoothedClassifier
    >>> X, y = make_blobs(200, centers=[[-2, -2], [2, 2]], random_state=0)
    >>> sigma = DualSigma(levels=(0.25, 0.5), selector_epochs=5)
    >>> clf = SmoothedClassifier(sigma=sigma, n=1000, max_epochs=5, random_state=0).fit(X, y)
    >>> cert = clf.certify(X[:5])
    >>> bool((cert.radius <= np.minimum(cert.radius_sigma, cert.radius_class) + 1e-12).all())
    True
    """

    data_dependent = True
    certifies_choice = True

    def __init__(self, levels=(0.12, 0.25, 0.5), selector=None, selector_sigma=None, alpha_split=0.5, experts=None,
                 selector_epochs=60, selector_lr=0.003, n_label=100, consistency=50.0, temperature=1.0):
        self.levels = levels
        self.selector = selector
        self.selector_sigma = selector_sigma
        self.alpha_split = alpha_split
        self.experts = experts
        self.selector_epochs = selector_epochs
        self.selector_lr = selector_lr
        self.n_label = n_label
        self.consistency = consistency
        self.temperature = temperature

    # -- parameters -----------------------------------------------------------------------------

    def checked_levels(self):
        """The levels as a tuple of floats, validated (distinct, positive, finite).

        Returns
        -------
        levels : tuple of float
        """
        if isinstance(self.levels, (str, bytes)) or not hasattr(self.levels, "__len__"):
            raise TypeError(f"levels must be a sequence of positive floats (the noise levels), got {self.levels!r}.")
        if isinstance(self.levels, (AbstractSet, Mapping)):
            # levels[i] is the selector's output i and the level of experts[i]: a set has no order to pair them by.
            raise TypeError(f"levels must be an ordered sequence of positive floats (levels[i] is the selector's "
                            f"output i and experts[i]'s level), got a {type(self.levels).__name__}; pass a tuple, "
                            f"e.g. tuple(sorted(levels)).")
        levels = tuple(check_scale(level, f"levels[{i}]") for i, level in enumerate(self.levels))
        if not levels:
            raise ValueError("levels must hold at least one noise level, got an empty sequence.")
        if len(set(levels)) != len(levels):
            raise ValueError(f"levels must be distinct (the selector chooses between them), got {levels}.")
        if len({float(np.float32(level)) for level in levels}) != len(levels):
            raise ValueError(
                f"levels must be distinct in float32, the precision the noise is drawn in, got {levels}; space them further apart."
            )
        return levels

    def _check_params(self):
        levels = self.checked_levels()
        selector_sigma = max(levels) if self.selector_sigma is None else check_scale(self.selector_sigma, "selector_sigma")
        check_float(self.alpha_split, "alpha_split", low=0.0, high=1.0, what="the share of alpha spent on the selector")
        check_int(self.selector_epochs, "selector_epochs", 0)
        check_float(self.selector_lr, "selector_lr", low=0.0, what="the learning rate of the selector's training")
        check_int(self.n_label, "n_label", 1)
        check_float(self.consistency, "consistency", low=0.0, low_inclusive=True, what="the consistency weight")
        check_float(self.temperature, "temperature", low=0.0, what="the temperature of the soft labels")
        if self.experts is not None:
            experts = list(self.experts) if not isinstance(self.experts, torch.nn.Module) else None
            if experts is None or len(experts) != len(levels) or not all(isinstance(e, torch.nn.Module) for e in experts):
                raise TypeError(
                    f"experts must be None or a sequence of {len(levels)} torch.nn.Module instances (one trained base "
                    f"classifier per level), got {self.experts!r}."
                )
        selector = self.selector
        is_module = isinstance(selector, torch.nn.Module) or (inspect.isclass(selector) and issubclass(selector, torch.nn.Module))
        if selector is not None and not is_module and not callable(selector):
            raise TypeError(
                f"selector must be None, a torch.nn.Module class or instance, or a callable mapping a batch to level "
                f"indices, got {type(selector).__name__}."
            )
        if selector is not None and not is_module:
            defaults = {k: p.default for k, p in inspect.signature(type(self).__init__).parameters.items()}
            changed = [k for k in _SELECTOR_TRAINING if getattr(self, k) != defaults[k]]
            if changed:
                warnings.warn(
                    f"DualSigma: {changed} only train a selector module; the callable selector is used as it is.",
                    UserWarning,
                    stacklevel=3,
                )
        return levels, selector_sigma

    def base_scale(self):
        """The smallest level.

        Returns
        -------
        scale : float
        """
        return min(self._check_params()[0])

    def selector_scale(self):
        """The noise scale that smooths the selector (``selector_sigma``, or ``max(levels)``).

        Returns
        -------
        scale : float
        """
        return self._check_params()[1]

    def split_alpha(self, alpha):
        """``(alpha_sigma, alpha_c)``: the failure probabilities of the selector and of the classifier.

        With one level the selector is constant and certified exactly: ``(0, alpha)``.

        Examples
        --------
        >>> from smoothcert import DualSigma
        >>> DualSigma(levels=(0.25, 0.5)).split_alpha(0.001), DualSigma(levels=(0.25,)).split_alpha(0.001)
        ((0.0005, 0.0005), (0.0, 0.001))
        """
        if len(self.checked_levels()) == 1:
            return 0.0, alpha
        alpha_sigma = self.alpha_split * alpha
        return alpha_sigma, alpha - alpha_sigma

    # -- networks -------------------------------------------------------------------------------

    def make_selector(self, n_inputs):
        """A fresh copy of the selector as a module with one score per level, and whether ``fit`` trains it.

        Parameters
        ----------
        n_inputs : int
            Values per input (the default MLP's width).

        Returns
        -------
        selector : torch.nn.Module
        trainable : bool
        """
        n_levels = len(self._check_params()[0])
        if self.selector is None:
            return MLP(n_inputs, n_levels), self.selector_epochs > 0
        if inspect.isclass(self.selector):
            return self.selector(), self.selector_epochs > 0
        if isinstance(self.selector, torch.nn.Module):
            return copy.deepcopy(self.selector), self.selector_epochs > 0
        return CallableSelector(self.selector, n_levels), False

    def selector_keys(self, keys):
        """The selector's noise-stream keys of inputs with (classifier) keys ``keys``."""
        return sub_stream_keys(keys, SELECTOR_STREAM)

    def scales(self, model, X, *, noise, keys, batch_size, num=2000, stage=Stage.PREDICTION):
        """The level the smoothed selector chooses for each row: the majority of ``num`` selector votes.

        ``SmoothedClassifier.noise_scales`` and ``predict`` use these levels (``num=n_predict``);
        ``certify`` selects the level within CERTIFY on the selector, which also certifies it.

        Parameters
        ----------
        model : smoothcert.models.DualModel
            The experts and the selector (``module_`` of a fitted estimator).
        X, noise, keys, batch_size
            As for :meth:`SigmaOptimizer.scales`.
        num : int, default=2000
            Selector votes per input.
        stage : int, default=Stage.PREDICTION
            The selector sub-stream to draw from.

        Returns
        -------
        scales : torch.Tensor of float32, shape (n_inputs,)
        """
        levels, selector_sigma = self._check_params()
        check_inputs(X, type(self).__name__)
        if not hasattr(model, "selector"):
            raise TypeError(
                f"DualSigma.scales needs the DualModel of a fitted SmoothedClassifier (its module_), got "
                f"{type(model).__name__}."
            )
        chosen = np.zeros(len(X), dtype=np.int64)
        if len(levels) > 1:
            scale = torch.full((len(X),), selector_sigma, dtype=torch.float32, device=X.device)
            votes = count_votes(model.selector, X, scale, noise, num, self.selector_keys(keys), stage, len(levels),
                                batch_size, role="DualSigma selector")
            chosen = votes.argmax(axis=1)
        return torch.as_tensor(np.asarray(levels, dtype=np.float32)[chosen], device=X.device)
