"""Certifiable training of the base classifier through skorch.

:class:`NoiseAugmentedNet` is the skorch net that trains with a recipe of :mod:`smoothcert.recipes`
(noise augmentation, MACER, SmoothAdv); skorch users can train with it directly. It keeps one noise
scale per training sample: fixed, given by the user (``X={"X": inputs, "sigma": scales}``), or
re-chosen every ``update_sigma_every`` epochs by a data-dependent
:class:`~smoothcert.SigmaOptimizer` (Alfarra et al., 2022, "DS training").

:class:`SelectorNet` trains :class:`~smoothcert.DualSigma`'s level selector on the soft labels of
:func:`soft_level_labels`.
"""

import math
import warnings
from collections.abc import Mapping
from numbers import Real

import numpy as np
import torch
from sklearn.base import clone
from skorch import NeuralNet, NeuralNetClassifier
from skorch.dataset import unpack_data
from skorch.utils import to_tensor
from torch.utils.data import Subset

from ._validation import as_numpy, check_int, check_noise_scales, check_training_factories
from .noise import get_noise
from .recipes import make_recipe
from .sampling import input_keys
from .sigma import FixedSigma, SigmaOptimizer
from .sigma.base import check_scale

__all__ = ["NoiseAugmentedNet", "SelectorNet", "soft_level_labels"]


def _make_sigma(sigma, params):
    if isinstance(sigma, SigmaOptimizer):
        return clone(sigma).set_params(**params)
    return FixedSigma(check_scale(sigma, "sigma")).set_params(**params)


# Row sums of probabilities in float32 are within ~1e-6 of 1; logits or log-probabilities are far off.
_PROBABILITY_TOLERANCE = 1e-3


def _are_probabilities(scores):
    """Whether every row of ``scores`` is non-negative and sums to 1 (one host sync)."""
    scores = scores.detach()
    return bool(((scores >= 0).all() & ((scores.sum(dim=1) - 1).abs() <= _PROBABILITY_TOLERANCE).all()))


def _describe_rows(scores):
    """``"smallest value ..., row sums from ... to ..."`` of a batch of scores, for error messages."""
    scores = scores.detach().float()
    sums = scores.sum(dim=1)
    return f"smallest value {scores.min().item():.3g}, row sums from {sums.min().item():.3g} to {sums.max().item():.3g}"


def _no_update_within(start, epochs, every):
    """Whether epochs ``start + 1 .. start + epochs`` include none at which the scales are re-chosen
    (epochs ``e > 1`` with ``(e - 1) % every == 0``, i.e. ``e - 1`` a multiple of ``every`` in
    ``[max(start, 1), start + epochs - 1]``)."""
    low, high = max(start, 1), start + epochs - 1
    return high < low or (high // every) * every < low


def _training_rows(dataset):
    """The dataset built by ``fit_loop`` and the rows of it that are trained on."""
    if isinstance(dataset, Subset):  # skorch's ValidSplit holds out the other rows
        return dataset.dataset, np.asarray(dataset.indices)
    return dataset, slice(None)


class NoiseAugmentedNet(NeuralNetClassifier):
    """A skorch classifier trained on noisy copies of its inputs, with one noise scale per sample.

    Every training batch gets fresh noise of the smoothing distribution (Gaussian for
    ``norm="l2"``, uniform for ``norm="l1"``) at each sample's scale, and the ``recipe`` turns it
    into a loss: noise augmentation (Cohen et al., 2019), MACER (Zhai et al., 2020) or SmoothAdv
    (Salman et al., 2019). Validation and inference are left clean. Usable on its own by skorch
    users.

    The per-sample scales (``train_sigma_``) start at ``sigma`` (or at ``X["sigma"]`` when ``X``
    is a dict ``{"X": inputs, "sigma": scales}`` of shape ``(n,)`` or ``(n, *input_shape)``).
    With a data-dependent ``sigma`` strategy (:class:`~smoothcert.IsotropicSigma`,
    :class:`~smoothcert.AncerSigma`), every training sample keeps its scale across epochs and the
    strategy re-chooses all of them, from the current model in eval mode, at the start of epochs
    ``update_sigma_every + 1``, ``2 * update_sigma_every + 1``, ... (the first epochs train at the
    strategy's initial scale), as in the DS training of Alfarra et al. (2022), "Data Dependent
    Randomized Smoothing". The authors warm-start a few ascent steps from each sample's previous
    scale on every batch; the :class:`~smoothcert.SigmaOptimizer` interface re-optimises from the
    strategy's ``init``, so an update costs one run of the strategy on the training set (choose
    ``update_sigma_every`` and the strategy's ``n_iter`` accordingly). Each ``fit`` (and
    ``partial_fit``) call starts the scales again from the initial ones.

    With ``max_epochs <= update_sigma_every`` the scales are never re-chosen (every sample trains
    at the strategy's initial scale): ``fit`` warns, since data-dependent training then silently
    equals training at a fixed scale.

    Training stops with a ``ValueError`` as soon as a training loss is not finite (NaN or inf),
    and when it leaves non-finite weights: the model has diverged (too large a learning rate
    ``lr``, usually) and would certify nothing meaningful. With ``criterion=torch.nn.NLLLoss``
    (skorch's default), the module must output probabilities (skorch takes their logarithm): the
    first training batch is checked, and a module that outputs logits is refused with a pointer
    to ``criterion=torch.nn.CrossEntropyLoss``.

    Noise comes from torch's global generator (seed it with ``torch.manual_seed``); the
    strategy's noise streams are keyed by a seed drawn from it at each update.

    Parameters
    ----------
    module : torch.nn.Module instance or class
        The base classifier, as for :class:`skorch.NeuralNetClassifier`.
    *args, **kwargs
        Passed to :class:`skorch.NeuralNetClassifier` (note its defaults: ``criterion=NLLLoss``
        expects probabilities, ``train_split=ValidSplit(5)`` holds out 20 %).
    norm : {"l2", "l1"}, default="l2"
        Noise family (Gaussian or uniform).
    sigma : float or SigmaOptimizer, default=0.25
        Gaussian standard deviation or uniform half-width of the training noise, or a strategy
        (``sigma__*`` parameters are set on a clone of it).
    recipe : {"gaussian", "macer", "smoothadv"} or TrainingRecipe, default="gaussian"
        The training loss (``recipe__*`` parameters are set on a clone of it).
    update_sigma_every : int, default=5
        Epochs between two updates of the per-sample scales by a data-dependent strategy; the
        first update is at the start of epoch ``update_sigma_every + 1``, so ``max_epochs`` must
        exceed it for the scales ever to be re-chosen (``fit`` warns otherwise).
    update_batch_size : int or None, default=None
        Noisy copies per forward pass when the strategy updates the scales; ``None`` means
        ``batch_size`` (the whole training set for skorch's ``batch_size=-1``).

    Raises
    ------
    ValueError
        At ``fit``, for a non-finite training loss or non-finite weights after training (naming
        ``lr``), for a module whose outputs do not match ``criterion=NLLLoss``, and for invalid
        parameters or inputs.
    TypeError
        At ``fit``, for parameters or inputs of the wrong type.

    Warns
    -----
    UserWarning
        At ``fit``, when a data-dependent ``sigma`` would never be updated within ``max_epochs``.

    Attributes
    ----------
    train_sigma_ : ndarray of float32, shape (n_samples,) or (n_samples, *input_shape)
        Noise scale of every training sample after the last fit (held-out validation rows keep
        their initial scale).
    recipe_ : TrainingRecipe
        The recipe used by the last fit.
    sigma_ : SigmaOptimizer
        The noise-scale strategy used by the last fit.
    noise_ : GaussianNoise or UniformNoise
        The noise family.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from smoothcert.training import NoiseAugmentedNet
    >>> net = NoiseAugmentedNet(torch.nn.Linear(2, 2), criterion=torch.nn.CrossEntropyLoss,
    ...                         sigma=0.1, max_epochs=1, train_split=None, verbose=0)
    >>> X = np.zeros((8, 2), dtype=np.float32); y = np.array([0, 1] * 4)
    >>> net.fit({"X": X, "sigma": np.linspace(0.1, 0.8, 8)}, y).train_sigma_.shape
    (8,)
    """

    # skorch routes "recipe__gamma" and "sigma__init" like "module__*": stored, applied at fit.
    prefixes_ = NeuralNetClassifier.prefixes_ + ["recipe", "sigma"]

    def __init__(
        self,
        module,
        *args,
        norm="l2",
        sigma=0.25,
        recipe="gaussian",
        update_sigma_every=5,
        update_batch_size=None,
        **kwargs,
    ):
        super().__init__(module, *args, **kwargs)
        self.norm = norm
        self.sigma = sigma
        self.recipe = recipe
        self.update_sigma_every = update_sigma_every
        self.update_batch_size = update_batch_size

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        if not isinstance(self.norm, str):  # get_noise would fail on an unhashable value
            raise ValueError(f"norm must be 'l2' (Gaussian noise) or 'l1' (uniform noise), got {self.norm!r}.")
        self.noise_ = get_noise(self.norm)
        self.sigma_ = _make_sigma(self.sigma, self.get_params_for("sigma"))
        self.recipe_ = make_recipe(self.recipe, **self.get_params_for("recipe"))
        self.recipe_.check_params(self.noise_)
        check_int(self.update_sigma_every, "update_sigma_every", 1)
        if self.update_batch_size is not None:
            check_int(self.update_batch_size, "update_batch_size", 1)
        epochs = check_int(self.max_epochs if epochs is None else epochs, "max_epochs", 0)
        self._check_lr()  # again: a callback or set_params may have changed it since initialize
        inputs, self.train_sigma_ = self._sigma_table(X)
        if self.sigma_.data_dependent and epochs > 0 and _no_update_within(len(self.history), epochs, self.update_sigma_every):
            k = self.update_sigma_every
            fix = f"use max_epochs >= {k + 1}" + (f" or update_sigma_every <= {epochs - 1}" if epochs > 1 else "")
            warnings.warn(
                f"sigma={type(self.sigma_).__name__}(...) is data-dependent, but with max_epochs={epochs} and "
                f"update_sigma_every={k} training never re-chooses the per-sample scales (the first update is at "
                f"the start of epoch {k + 1}): every sample trains at the initial scale {self.sigma_.base_scale()}. "
                f"To train with data-dependent noise, {fix}.",
                UserWarning,
                stacklevel=3,
            )
        # The first training forward pass is checked once (output type and shape, NLLLoss needing probabilities).
        self._outputs_checked = epochs == 0
        try:
            # The dataset indexes this dict lazily, so updates of the table reach later batches.
            super().fit_loop({"X": inputs, "sigma": self.train_sigma_}, y, epochs, **fit_params)
        finally:
            self._outputs_checked = True  # predict and validation are never checked
        if epochs > 0:
            self._check_finite_weights()
        return self

    def _current_lr(self):
        """The learning rate the optimizer uses (``optimizer__lr`` or a scheduler may override ``lr``)."""
        groups = getattr(getattr(self, "optimizer_", None), "param_groups", None)
        return groups[0].get("lr", self.lr) if groups else self.lr

    def _check_lr(self, lr=None):
        # torch refuses lr < 0 without naming the parameter, and lets an infinite or NaN one turn
        # every weight into NaN.
        lr = self._current_lr() if lr is None else lr
        if isinstance(lr, Real) and not isinstance(lr, bool) and not (math.isfinite(lr) and lr >= 0):
            raise ValueError(f"lr must be a finite float >= 0 (the learning rate of training), got {lr}.")

    def initialize(self):
        """Initialise the net, after checking ``optimizer`` and ``criterion`` (a class each, not an instance)."""
        check_training_factories(self)
        return super().initialize()

    def initialize_optimizer(self, *args, **kwargs):
        """Build the optimizer, after checking the learning rate (``optimizer__lr``, else ``lr``)."""
        self._check_lr(self.get_params_for("optimizer").get("lr", self.lr))
        return super().initialize_optimizer(*args, **kwargs)

    def _divergence_hint(self):
        hint = (
            f"the learning rate lr={self._current_lr()} is probably too large: use a smaller lr (e.g. lr / 10), "
            f"or check that the module's weights and the inputs are finite"
        )
        if isinstance(self.criterion_, torch.nn.NLLLoss):
            hint += (
                "; criterion=NLLLoss (skorch's default) needs a module that outputs probabilities: for logits use "
                "criterion=torch.nn.CrossEntropyLoss"
            )
        return hint

    def _check_finite_weights(self):
        """Refuse a module whose weights or floating buffers became non-finite (one host sync)."""
        tensors = [t for t in (*self.module_.parameters(), *self.module_.buffers()) if t.is_floating_point()]
        if not tensors:
            return
        flags = [torch.isfinite(t.detach()).all().to(tensors[0].device) for t in tensors]
        if not bool(torch.stack(flags).all()):
            raise ValueError(
                f"training left non-finite weights (NaN or inf) in the module, so it has diverged and cannot "
                f"certify anything; {self._divergence_hint()}."
            )

    def on_batch_end(self, net, batch=None, training=None, **kwargs):
        """Stop training with a ``ValueError`` as soon as a training loss is not finite."""
        super().on_batch_end(net, batch=batch, training=training, **kwargs)
        if not training:
            return
        # skorch has already moved the loss to the host for its history: checking it costs no sync.
        batches = self.history[-1]["batches"]
        loss = batches[-1]["train_loss"]
        if not math.isfinite(loss):
            epoch, step = len(self.history), len(batches)
            if epoch == 1 and step == 1:  # no optimizer step yet: the learning rate is not the cause
                raise ValueError(
                    f"the training loss is non-finite ({loss}) on the first training batch, before any optimizer "
                    f"step: check that the module's weights and the inputs are finite and that the criterion "
                    f"matches the module's outputs (criterion=torch.nn.CrossEntropyLoss for logits)."
                )
            raise ValueError(
                f"the training loss became non-finite ({loss}) at epoch {epoch}, batch {step}, so training has "
                f"diverged; {self._divergence_hint()}."
            )

    def _sigma_table(self, X):
        if isinstance(X, Mapping) and set(X) != {"X", "sigma"}:
            raise ValueError(f"X as a dict must have exactly the keys 'X' and 'sigma', got {sorted(X)}.")
        if isinstance(X, Mapping):
            inputs, given = X["X"], X["sigma"]
        else:  # a user's strategy may return anything from base_scale
            inputs, given = X, check_scale(self.sigma_.base_scale(), f"{type(self.sigma_).__name__}.base_scale()")
        if not hasattr(inputs, "shape"):
            raise TypeError(
                f"{type(self).__name__} needs X as a numpy array or torch tensor, or a dict "
                f"{{'X': array, 'sigma': per-sample scales}}, got {type(inputs).__name__}."
            )
        n, input_shape = len(inputs), tuple(inputs.shape[1:])
        if n == 0:
            raise ValueError(f"X must hold at least one training sample, got X of shape {tuple(inputs.shape)}.")
        # Non-finite inputs would make every loss NaN and be blamed on the learning rate.
        if isinstance(inputs, torch.Tensor):  # checked where it lives, without a copy to the host
            finite = not inputs.is_floating_point() or bool(torch.isfinite(inputs).all())
        else:
            values = np.asarray(inputs)
            finite = not np.issubdtype(values.dtype, np.floating) or bool(np.isfinite(values).all())
        if not finite:
            raise ValueError("X must be finite: it contains NaN or infinity.")
        try:
            given = np.asarray(as_numpy(given), dtype=np.float32)
        except (TypeError, ValueError):
            raise TypeError(f"X['sigma'] must be an array of positive noise scales, got {type(given).__name__}.") from None
        table = np.full(n, given, dtype=np.float32) if given.ndim == 0 else given.copy()
        if table.shape not in ((n,), (n, *input_shape)):
            raise ValueError(
                f"X['sigma'] must have shape ({n},) or {(n, *input_shape)} (one scale per sample, or per "
                f"sample and dimension), got {table.shape}."
            )
        if not np.all(np.isfinite(table) & (table > 0)):
            raise ValueError("X['sigma'] must hold positive finite noise scales.")
        return inputs, table

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        """Re-choose the per-sample training scales every ``update_sigma_every`` epochs."""
        super().on_epoch_begin(net, dataset_train=dataset_train, dataset_valid=dataset_valid, **kwargs)
        epoch = len(self.history)
        if self.sigma_.data_dependent and epoch > 1 and (epoch - 1) % self.update_sigma_every == 0:
            self._update_sigma(dataset_train)

    def _update_sigma(self, dataset_train):
        dataset, rows = _training_rows(dataset_train)
        X = np.asarray(as_numpy(dataset.X["X"]), dtype=np.float32)[rows]
        seed = int(torch.randint(0, 2**62, ()).item())
        self._set_training(False)
        scales = self.sigma_.scales(
            self.module_,
            torch.as_tensor(X, device=self.device),
            noise=self.noise_,
            keys=input_keys(X, seed),
            batch_size=self._update_batch(len(X)),
        )
        # A strategy's wrong shape or non-positive scales are named here, not as a broadcasting error.
        scales = check_noise_scales(scales, self.sigma_, len(X), X.shape[1:]).detach().cpu().numpy()
        table = dataset.X["sigma"]
        if table.shape[1:] != scales.shape[1:]:  # a per-dimension strategy after isotropic initial scales
            isotropic = table.reshape(len(table), *[1] * (scales.ndim - 1))
            table = np.array(np.broadcast_to(isotropic, (len(table), *scales.shape[1:])))
            dataset.X["sigma"] = table
        table[rows] = scales
        self.train_sigma_ = table

    def _update_batch(self, n):
        """Noisy copies per forward pass of a scale update (skorch's ``batch_size=-1``: all ``n`` rows)."""
        if self.update_batch_size is not None:
            return self.update_batch_size
        return max(1, n) if self.batch_size == -1 else self.batch_size

    def train_step_single(self, batch, **fit_params):
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        X = to_tensor(Xi["X"], device=self.device)
        scales = to_tensor(Xi["sigma"], device=self.device).to(X.dtype)
        loss, y_pred = self.recipe_.loss(self, X, to_tensor(yi, device=self.device), scales, **fit_params)
        loss.backward()
        return {"loss": loss, "y_pred": y_pred}

    def infer(self, x, **fit_params):
        # The per-sample scales travel with the inputs; the module only sees the inputs.
        if isinstance(x, Mapping) and "sigma" in x:
            x = x["X"]
        out = super().infer(x, **fit_params)
        if not getattr(self, "_outputs_checked", True):  # the first forward pass of a fit only
            self._outputs_checked = True
            self._check_outputs(out, x.shape[0] if hasattr(x, "shape") else None)
        return out

    def _check_outputs(self, out, n_rows):
        """The module's outputs on the first training batch: a ``(batch, n_classes)`` tensor, and
        probabilities when the criterion is ``NLLLoss`` (skorch then takes their logarithm)."""
        if not isinstance(out, torch.Tensor):
            raise ValueError(
                f"module must return a torch.Tensor of scores of shape (batch, n_classes), got {type(out).__name__}."
            )
        if out.dim() != 2 or (n_rows is not None and out.shape[0] != n_rows):
            raise ValueError(
                f"module must return scores of shape (batch, n_classes), got {tuple(out.shape)} for a batch of "
                f"{n_rows} inputs."
            )
        if not bool(torch.isfinite(out.detach()).all()):
            raise ValueError(
                "module produced non-finite scores (NaN or inf) on the first training batch; check its weights "
                "and the inputs."
            )
        if isinstance(self.criterion_, torch.nn.NLLLoss) and not _are_probabilities(out):
            raise ValueError(
                f"criterion=NLLLoss (skorch's default) needs a module that outputs probabilities (rows non-negative "
                f"summing to 1, whose logarithm skorch takes), but the module's outputs on the first training batch "
                f"are not ({_describe_rows(out)}). For a module that outputs logits use "
                f"criterion=torch.nn.CrossEntropyLoss (on a skorch net: NeuralNetClassifier(..., "
                f"criterion=torch.nn.CrossEntropyLoss)); otherwise end the module in a softmax (not a log-softmax)."
            )


def soft_level_labels(radii, temperature=1.0):
    """DualSigma's soft labels: per input, ``softmax(radii / temperature)`` over the levels.

    Parameters
    ----------
    radii : ndarray of shape (n_inputs, n_levels)
        The radius at which each level's expert certifies the input's true class (0 if not), see
        :func:`smoothcert.procedures.level_radii`.
    temperature : float, default=1.0
        In the units of the radii; smaller is sharper.

    Returns
    -------
    labels : ndarray of float32, shape (n_inputs, n_levels)

    Examples
    --------
    >>> import numpy as np
    >>> from smoothcert.training import soft_level_labels
    >>> print(soft_level_labels(np.array([[0.0, 0.0], [0.0, 1.0]]), temperature=0.5).round(3))
    [[0.5   0.5  ]
     [0.119 0.881]]
    """
    logits = np.asarray(radii, dtype=np.float64) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    weights = np.exp(logits)
    return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)


class SelectorNet(NeuralNet):
    """skorch net that trains DualSigma's level selector: soft labels, noisy copies, consistency.

    Each step draws ``n_copies`` noisy copies of the batch (the noise family of ``noise`` at scale
    ``sigma``, the scale that smooths the selector) and minimises the cross-entropy between the
    soft labels ``y`` and the selector's predictions on every copy, plus ``consistency`` times the
    mean KL divergence from the copies' average prediction to each copy's (Jeong and Shin's
    consistency regularisation, 2020), so that the smoothed selector's vote is stable and its
    certified radius large.

    Parameters
    ----------
    module : torch.nn.Module
        The selector: a batch to one score (logit) per level.
    noise : GaussianNoise or UniformNoise
    sigma : float
        Noise scale of the copies.
    consistency : float, default=1.0
        Weight of the consistency term (``0``: cross-entropy only).
    n_copies : int, default=2
        Noisy copies per input and step.
    criterion : torch.nn.Module class, default=torch.nn.KLDivLoss
        Only for skorch's bookkeeping; the loss is computed in :meth:`train_step_single`.
    **kwargs
        skorch :class:`~skorch.NeuralNet` parameters (``lr``, ``max_epochs``, ``batch_size``, ...).
        Fit it with ``y`` the soft labels, float32 of shape ``(n_inputs, n_levels)``.
    """

    def __init__(self, module, *, noise, sigma, consistency=1.0, n_copies=2, criterion=torch.nn.KLDivLoss,
                 optimizer=torch.optim.Adam, **kwargs):
        super().__init__(module, criterion=criterion, optimizer=optimizer, **kwargs)
        self.noise = noise
        self.sigma = sigma
        self.consistency = consistency
        self.n_copies = n_copies

    def train_step_single(self, batch, **fit_params):
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        X, soft = to_tensor(Xi, device=self.device), to_tensor(yi, device=self.device)
        copies = X.repeat(self.n_copies, *([1] * (X.dim() - 1)))
        noisy = copies + self.sigma * self.noise.sample(copies.shape, None, copies.device, copies.dtype)
        log_p = torch.log_softmax(self.infer(noisy, **fit_params), dim=1).view(self.n_copies, len(X), -1)
        loss = -(soft * log_p).sum(dim=-1).mean()
        if self.consistency:
            mean_p = log_p.exp().mean(dim=0)
            loss = loss + self.consistency * (mean_p * (mean_p.clamp_min(1e-12).log() - log_p)).sum(dim=-1).mean()
        if not bool(torch.isfinite(loss)):
            raise ValueError(
                "the DualSigma selector's training loss is not finite (the selector produced NaN or inf scores); "
                "lower selector_lr or check the selector module."
            )
        loss.backward()
        return {"loss": loss, "y_pred": log_p[0]}
