"""Training a denoiser for denoised smoothing: :class:`DenoiserNet`, a skorch net (Salman et al., 2020)."""

import copy
from collections.abc import Mapping
from collections.abc import Set as AbstractSet

import numpy as np
import torch
from skorch import NeuralNet
from skorch.dataset import unpack_data
from skorch.utils import to_tensor
from torch import nn

from ._validation import as_numpy, check_int, check_training_factories
from .denoisers import DenoiserMLP, DnCNN
from .denoising import takes_sigma
from .noise import get_noise
from .sigma.base import check_scale

__all__ = ["DenoiserNet"]

OBJECTIVES = ("mse", "stability", "classification")


def _frozen_classifier(classifier):
    """A frozen eval-mode copy of ``classifier`` (a module or a fitted skorch net's ``module_``)."""
    if isinstance(classifier, NeuralNet):
        if not getattr(classifier, "initialized_", False):
            raise ValueError("classifier is an unfitted skorch net; pass a trained classifier (fit it first).")
        classifier = classifier.module_
    if not isinstance(classifier, nn.Module):
        raise TypeError(
            f"classifier must be a trained torch.nn.Module (or a fitted skorch net holding one), got "
            f"{type(classifier).__name__}."
        )
    frozen = copy.deepcopy(classifier).eval()
    for parameter in frozen.parameters():
        parameter.requires_grad_(False)
    return frozen


class DenoiserNet(NeuralNet):
    """skorch net that trains a denoiser for denoised smoothing (Salman et al., 2020).

    Every training batch gets fresh noise of the smoothing distribution at ``sigma`` (Gaussian for
    ``norm="l2"``, uniform for ``norm="l1"``, as :class:`~smoothcert.SmoothedClassifier` draws it)
    and the denoiser ``D`` learns to undo it:

    * ``"mse"``: ``||D(x + noise) - x||^2`` (mean over values); needs no classifier and no labels.
    * ``"stability"``: cross-entropy of ``classifier(D(x + noise))`` against ``argmax classifier(x)``,
      the classifier's own prediction on the clean input; needs the classifier, no labels.
    * ``"classification"``: cross-entropy of ``classifier(D(x + noise))`` against the labels ``y``.

    The classifier is a frozen copy (``classifier_``): fitting never changes it. Pass the fitted net
    (or its ``module_``) as ``SmoothedClassifier(denoiser=...)``. Salman et al.'s best results
    fine-tune an ``"mse"`` denoiser with ``"stability"``: fit again with ``warm_start=True`` after
    ``set_params(objective="stability", classifier=...)``.

    Parameters
    ----------
    module : torch.nn.Module instance or class, or None, default=None
        The denoiser, mapping ``(batch, *input_shape)`` to the same shape (``module__*``
        parameters go to a class). ``None``: a :class:`DnCNN` for images ``(n, C, H, W)``
        (``module__depth``, ``module__features``), else a :class:`DenoiserMLP`
        (``module__hidden_units``), built from the inputs at ``fit``.
    sigma : float or sequence of float, default=0.25
        The noise scale to denoise (the smoothing ``sigma``), in the units of ``X``. Several
        values train one sigma-conditioned denoiser over them (each training copy's level drawn
        uniformly from them): the module must declare ``takes_sigma = True`` (the defaults are
        then built with ``sigma_conditioned=True``), and ``predict`` needs
        ``{"X": X, "sigma": levels}`` with one level per row.
    objective : {"mse", "stability", "classification"}, default="mse"
        The training loss (see above).
    classifier : torch.nn.Module, fitted skorch net or None, default=None
        The trained base classifier, as it receives denoised inputs (with its normalisation layer
        in front, e.g. ``smoothcert.nets.normalized(module, (mean, std))``); needed by
        ``"stability"`` and ``"classification"``, unused by ``"mse"``.
    norm : {"l2", "l1"}, default="l2"
        Noise family: Gaussian (``sigma`` its standard deviation) or uniform (half-width).
    random_state : int or None, default=None
        Seeds the default module's initialisation and the training noise (through torch's global
        generator, restored after ``fit``), and the noise of :meth:`score`.
    criterion : torch.nn.Module class, default=torch.nn.MSELoss
        Only for skorch's bookkeeping: the loss is the ``objective``.
    optimizer : torch.optim.Optimizer class, default=torch.optim.Adam
    lr : float, default=0.001
    max_epochs : int, default=10
    batch_size : int, default=128
    train_split : callable or None, default=None
        skorch's validation split (``None``: train on every row); validation adds noise too.
    verbose : int, default=0
    **kwargs
        Other :class:`skorch.NeuralNet` parameters (``device``, ``callbacks``, ``module__*``, ...).

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained denoiser.
    classifier_ : torch.nn.Module or None
        The frozen copy of ``classifier`` used by the objective (``None`` for ``"mse"``).
    input_shape_ : tuple of int
        Shape of one input at the last ``fit``.
    levels_ : tuple of float
        The noise level(s) of ``sigma``.
    noise_ : GaussianNoise or UniformNoise

    Examples
    --------
    >>> import numpy as np
    >>> from smoothcert import DenoiserNet
    >>> X = np.random.default_rng(0).random((64, 4), dtype=np.float32)
    >>> net = DenoiserNet(sigma=0.5, max_epochs=2, random_state=0).fit(X)
    >>> net.predict(X[:3]).shape
    (3, 4)
    """

    def __init__(self, module=None, *, sigma=0.25, objective="mse", classifier=None, norm="l2", random_state=None,
                 criterion=torch.nn.MSELoss, optimizer=torch.optim.Adam, lr=0.001, max_epochs=10, batch_size=128,
                 train_split=None, verbose=0, **kwargs):
        super().__init__(module, criterion=criterion, optimizer=optimizer, lr=lr, max_epochs=max_epochs,
                         batch_size=batch_size, train_split=train_split, verbose=verbose, **kwargs)
        self.sigma = sigma
        self.objective = objective
        self._set_own("classifier", classifier)
        self.norm = norm
        self.random_state = random_state

    # -- settings ---------------------------------------------------------------------------------

    def _set_own(self, name, value):
        # The classifier is ours, not a skorch component that skorch would initialise, move or re-create:
        # skorch refuses a torch module set as an attribute outside its initialize methods.
        vars(self)[name] = value

    def set_params(self, **params):
        """Set parameters (skorch's ``set_params``; ``classifier`` is set as it is).

        Parameters
        ----------
        **params
            Parameter names and values.

        Returns
        -------
        self : DenoiserNet
        """
        if "classifier" in params:
            self._set_own("classifier", params.pop("classifier"))
        return super().set_params(**params) if params else self

    def _check_settings(self, X, y):
        if not isinstance(self.objective, str) or self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {list(OBJECTIVES)}, got {self.objective!r}.")
        if not isinstance(self.norm, str) or self.norm not in ("l2", "l1"):
            raise ValueError(f"norm must be 'l2' (Gaussian noise) or 'l1' (uniform noise), got {self.norm!r}.")
        self.levels_ = self._levels()
        check_training_factories(self)
        if self.random_state is not None:
            check_int(self.random_state, "random_state", 0)
        self.noise_ = get_noise(self.norm)
        needs = self.objective != "mse"
        if needs and self.classifier is None:
            raise ValueError(
                f"objective={self.objective!r} needs the trained classifier (classifier=...), which stays frozen; "
                f"objective='mse' needs none."
            )
        self._set_own("classifier_", _frozen_classifier(self.classifier).to(self.device) if needs else None)
        if not hasattr(X, "shape") or len(X.shape) < 2 or len(X) == 0:
            raise ValueError(
                f"X must be an array or tensor of shape (n_samples, *input_shape) with n_samples >= 1, got "
                f"{type(X).__name__}{' of shape ' + str(tuple(X.shape)) if hasattr(X, 'shape') else ''}."
            )
        values = X if isinstance(X, torch.Tensor) else np.asarray(X)
        finite = bool(torch.isfinite(values).all()) if isinstance(values, torch.Tensor) else bool(np.isfinite(values).all())
        if not finite:
            raise ValueError("X must be finite: it contains NaN or infinity.")
        if self.objective == "classification":
            if y is None:
                raise ValueError("objective='classification' needs labels y (output indices of the classifier).")
            if len(y) != len(X):
                raise ValueError(f"X and y must have the same number of samples, got {len(X)} and {len(y)}.")
            with torch.inference_mode():
                width = self.classifier_(torch.as_tensor(X[:1], dtype=torch.float32, device=self.device)).shape[-1]
            if len(y) and (y.min() < 0 or y.max() >= width):
                raise ValueError(
                    f"y must hold the classifier's output indices, in [0, {width}) (objective='classification'), got "
                    f"values from {y.min()} to {y.max()}; map the class labels to the classifier's outputs."
                )

    def _levels(self):
        """``sigma`` as a tuple of positive floats (one or several levels)."""
        if isinstance(self.sigma, (str, bytes)) or not hasattr(self.sigma, "__len__"):
            return (check_scale(self.sigma, "sigma"),)
        if isinstance(self.sigma, (AbstractSet, Mapping)):
            # Which level a training copy gets is drawn by index: a set's order is not the user's to fix.
            raise TypeError(f"sigma must be a positive float or an ordered sequence of them, got a "
                            f"{type(self.sigma).__name__}; pass a tuple, e.g. tuple(sorted(sigma)).")
        levels = tuple(check_scale(level, f"sigma[{i}]") for i, level in enumerate(self.sigma))
        if not levels:
            raise ValueError("sigma must be a positive float or a non-empty sequence of them, got an empty sequence.")
        return levels

    def _conditioned(self):
        """Whether the denoiser being trained takes the noise level (several levels need one that does)."""
        conditioned = takes_sigma(self.module_)
        if len(self.levels_) > 1 and not conditioned:
            raise ValueError(
                f"sigma={self.sigma!r} trains one sigma-conditioned denoiser over several levels, but the module "
                f"{type(self.module_).__name__} does not declare takes_sigma=True (forward(x, sigma)); pass one sigma, "
                f"or a sigma-conditioned module (module=None builds one)."
            )
        return conditioned

    def initialize_module(self):
        """Build the denoiser: ``module`` as skorch does, or the default for the inputs' shape."""
        if self.module is not None:
            return super().initialize_module()
        shape = getattr(self, "input_shape_", None)
        if shape is None:
            raise ValueError(
                "DenoiserNet(module=None) builds its default denoiser from the inputs' shape: call fit(X) (or pass "
                "a module)."
            )
        kwargs = self.get_params_for("module")
        if len(self._levels()) > 1:
            kwargs.setdefault("sigma_conditioned", True)
        build = (lambda: DnCNN(shape[0], **kwargs)) if len(shape) == 3 else (lambda: DenoiserMLP(int(np.prod(shape)), **kwargs))
        try:
            self.module_ = build()
        except (TypeError, ValueError) as exc:
            raise ValueError(f"could not build the default denoiser from module__* parameters {kwargs} ({exc}).") from exc
        return self

    def fit(self, X, y=None, **fit_params):
        """Train the denoiser on noisy copies of ``X``.

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, *input_shape)
            Clean inputs, in the units the smoothing noise is added in.
        y : array-like of int, shape (n_samples,), or None, default=None
            Labels as the classifier's output indices; only ``objective="classification"`` uses them.
        **fit_params
            Passed to :meth:`skorch.NeuralNet.fit`.

        Returns
        -------
        self : DenoiserNet
        """
        if not isinstance(X, torch.Tensor):
            X = np.asarray(as_numpy(X), dtype=np.float32)
        if y is not None:
            y = np.asarray(as_numpy(y)).astype(np.int64)
        self._check_settings(X, y)
        self.input_shape_ = tuple(X.shape[1:])
        if self.random_state is None:
            return super().fit(X, y, **fit_params)
        devices = [torch.device(self.device)] if torch.device(self.device).type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(self.random_state)
            return super().fit(X, y, **fit_params)

    # -- the objective ------------------------------------------------------------------------------

    def _loss(self, X, y, generator=None):
        """The objective on one noisy copy of each row of the clean batch ``X``; and the denoised batch."""
        if len(self.levels_) == 1:
            sigma = torch.full((len(X),), self.levels_[0], dtype=X.dtype, device=X.device)
        else:
            pick = torch.randint(len(self.levels_), (len(X),), generator=generator, device=X.device)
            sigma = torch.as_tensor(self.levels_, dtype=X.dtype, device=X.device)[pick]
        eps = self.noise_.sample(tuple(X.shape), generator, X.device, X.dtype)
        noisy = X + sigma.reshape(-1, *[1] * (X.dim() - 1)) * eps
        out = self.module_(noisy, sigma) if self._conditioned() else self.module_(noisy)
        if not isinstance(out, torch.Tensor) or out.shape != X.shape:
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ValueError(f"the denoiser must return denoised inputs of the shape it receives, {tuple(X.shape)}, got {got}.")
        if self.objective == "mse":
            loss = ((out - X) ** 2).mean()
        else:
            if self.objective == "stability":
                with torch.no_grad():
                    target = self.classifier_(X).argmax(dim=1)
            else:
                target = y.long()
            loss = nn.functional.cross_entropy(self.classifier_(out), target)
        if not bool(torch.isfinite(loss)):
            raise ValueError(
                f"the denoiser's {self.objective} loss is not finite (NaN or inf): lower lr, or check the module "
                f"and the classifier."
            )
        return loss, out

    def infer(self, x, **fit_params):
        """The denoiser on ``x``; a sigma-conditioned one at the one ``sigma``, or given ``{"X": X, "sigma": levels}``."""
        if takes_sigma(getattr(self, "module_", None)) and not isinstance(x, Mapping):
            levels = getattr(self, "levels_", None) or self._levels()
            if len(levels) > 1:
                raise ValueError(
                    f"this DenoiserNet's denoiser is sigma-conditioned over sigma={self.sigma!r}: pass "
                    f"{{'X': X, 'sigma': one level per row}} to predict or forward."
                )
            x = to_tensor(x, device=self.device)
            return self.module_(x, torch.full((len(x),), levels[0], dtype=x.dtype, device=x.device), **fit_params)
        return super().infer(x, **fit_params)

    def train_step_single(self, batch, **fit_params):
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        loss, out = self._loss(to_tensor(Xi, device=self.device), to_tensor(yi, device=self.device))
        loss.backward()
        return {"loss": loss, "y_pred": out}

    def validation_step(self, batch, **fit_params):
        self._set_training(False)
        Xi, yi = unpack_data(batch)
        with torch.no_grad():
            loss, out = self._loss(to_tensor(Xi, device=self.device), to_tensor(yi, device=self.device))
        return {"loss": loss, "y_pred": out}

    def score(self, X, y=None):
        """Minus the mean objective on one noisy copy of each input (higher is better; for ``GridSearchCV``).

        The noise is drawn from a generator seeded by ``random_state`` (0 when ``None``), so
        scores of different settings compare on the same noise.

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, *input_shape)
        y : array-like of int or None, default=None
            Labels, for ``objective="classification"``.

        Returns
        -------
        score : float
        """
        X = torch.as_tensor(np.asarray(as_numpy(X), dtype=np.float32), device=self.device)
        self.levels_ = self._levels()
        y_t = None if y is None else torch.as_tensor(np.asarray(as_numpy(y)).astype(np.int64), device=self.device)
        if self.objective == "classification" and y_t is None:
            raise ValueError("objective='classification' needs labels y to score.")
        generator = torch.Generator(device=X.device).manual_seed(0 if self.random_state is None else self.random_state)
        self._set_training(False)
        total, step = 0.0, max(1, self.batch_size if self.batch_size > 0 else len(X))
        with torch.no_grad():
            for start in range(0, len(X), step):
                rows = slice(start, start + step)
                loss, _ = self._loss(X[rows], None if y_t is None else y_t[rows], generator)
                total += float(loss) * len(X[rows])
        return -total / len(X)
