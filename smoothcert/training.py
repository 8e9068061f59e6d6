"""Certifiable training of the base classifier through skorch.

:class:`NoiseAugmentedNet` is the skorch net that trains with a recipe of :mod:`smoothcert.recipes`
(noise augmentation, MACER, SmoothAdv); skorch users can train with it directly. It keeps one noise
scale per training sample: fixed, given by the user (``X={"X": inputs, "sigma": scales}``), or
re-chosen every ``update_sigma_every`` epochs by a data-dependent
:class:`~smoothcert.SigmaOptimizer` (Alfarra et al., 2022, "DS training").
"""

from collections.abc import Mapping

import numpy as np
import torch
from sklearn.base import clone
from skorch import NeuralNetClassifier
from skorch.dataset import unpack_data
from skorch.utils import to_tensor
from torch.utils.data import Subset

from ._validation import as_numpy, check_int
from .noise import get_noise
from .recipes import make_recipe
from .sampling import input_keys
from .sigma import FixedSigma, SigmaOptimizer
from .sigma.base import check_scale

__all__ = ["NoiseAugmentedNet"]


def _make_sigma(sigma, params):
    if isinstance(sigma, SigmaOptimizer):
        return clone(sigma).set_params(**params)
    return FixedSigma(check_scale(sigma, "sigma")).set_params(**params)


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
        Epochs between two updates of the per-sample scales by a data-dependent strategy.
    update_batch_size : int or None, default=None
        Noisy copies per forward pass when the strategy updates the scales; ``None`` means
        ``batch_size``.

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
        self.noise_ = get_noise(self.norm)
        self.sigma_ = _make_sigma(self.sigma, self.get_params_for("sigma"))
        self.recipe_ = make_recipe(self.recipe, **self.get_params_for("recipe"))
        self.recipe_.check_params(self.noise_)
        check_int(self.update_sigma_every, "update_sigma_every", 1)
        if self.update_batch_size is not None:
            check_int(self.update_batch_size, "update_batch_size", 1)
        inputs, self.train_sigma_ = self._sigma_table(X)
        # The dataset indexes this dict lazily, so updates of the table reach later batches.
        return super().fit_loop({"X": inputs, "sigma": self.train_sigma_}, y, epochs, **fit_params)

    def _sigma_table(self, X):
        if isinstance(X, Mapping) and set(X) != {"X", "sigma"}:
            raise ValueError(f"X as a dict must have exactly the keys 'X' and 'sigma', got {sorted(X)}.")
        inputs, given = (X["X"], X["sigma"]) if isinstance(X, Mapping) else (X, self.sigma_.base_scale())
        if not hasattr(inputs, "shape"):
            raise TypeError(
                f"{type(self).__name__} needs X as a numpy array or torch tensor, or a dict "
                f"{{'X': array, 'sigma': per-sample scales}}, got {type(inputs).__name__}."
            )
        n, input_shape = len(inputs), tuple(inputs.shape[1:])
        given = np.asarray(as_numpy(given), dtype=np.float32)
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
            batch_size=self.batch_size if self.update_batch_size is None else self.update_batch_size,
        )
        scales = scales.detach().cpu().numpy().astype(np.float32)
        table = dataset.X["sigma"]
        if table.shape[1:] != scales.shape[1:]:  # a per-dimension strategy after isotropic initial scales
            isotropic = table.reshape(len(table), *[1] * (scales.ndim - 1))
            table = np.array(np.broadcast_to(isotropic, (len(table), *scales.shape[1:])))
            dataset.X["sigma"] = table
        table[rows] = scales
        self.train_sigma_ = table

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
        return super().infer(x, **fit_params)
