"""Denoised smoothing: certificates for classifiers never trained with noise.

A classifier ``f`` trained on clean inputs fails on ``x + noise``, so its smoothed classifier
certifies little. A denoiser ``D`` in front makes the base classifier ``f(D(x + noise))``; Cohen et
al.'s theorem holds for any base classifier, so the certificate is exactly as sound as before, at
the noise smoothcert draws (Salman et al., 2020, "Denoised Smoothing"; Carlini et al., 2023, with an
off-the-shelf diffusion model). ``f`` is never trained by the denoiser's training.

* :class:`Denoised` is the base classifier ``classifier(denoiser(x))`` that
  ``SmoothedClassifier(denoiser=...)`` certifies (built by :func:`denoised` where the module is built,
  :mod:`smoothcert.nets`), so every procedure, sampling mode, checkpoint fingerprint and the batch
  calibration see the composed model.
* :class:`DenoiserNet` trains a denoiser with skorch: ``"mse"``, ``"stability"`` or
  ``"classification"`` objective (Salman et al.), on the default :class:`DnCNN` (images) or
  :class:`DenoiserMLP` (flat inputs) or any module.
* :class:`DiffusionDenoiser` turns a noise-prediction (DDPM) model and its schedule into a one-step
  denoiser, as Carlini et al. do.

A denoiser is *sigma-conditioned* when it declares ``takes_sigma = True`` (a class or instance
attribute): its ``forward(x, sigma)`` then also receives each noisy copy's noise level, a tensor of
shape ``(batch,)``. :class:`Denoised` passes the strategy's one scale with
:class:`~smoothcert.FixedSigma` and each level's with :class:`~smoothcert.DualSigma`; strategies that
choose each input's scale (:class:`~smoothcert.IsotropicSigma`, :class:`~smoothcert.AncerSigma`) do
not pass it yet and refuse a sigma-conditioned denoiser (plain denoisers work with every strategy).
"""

import copy

import numpy as np
import torch
from skorch import NeuralNet
from skorch.dataset import unpack_data
from skorch.utils import to_tensor
from torch import nn

from ._validation import as_numpy, check_int
from .noise import get_noise
from .sigma.base import check_scale

__all__ = [
    "Denoised",
    "DenoiserMLP",
    "DenoiserNet",
    "DiffusionDenoiser",
    "DnCNN",
    "check_denoiser",
    "denoised",
    "denoiser_module",
    "takes_sigma",
]

OBJECTIVES = ("mse", "stability", "classification")


def takes_sigma(denoiser):
    """Whether ``denoiser`` declares that its forward pass takes the noise level (``takes_sigma = True``).

    Parameters
    ----------
    denoiser : torch.nn.Module

    Returns
    -------
    conditioned : bool

    Examples
    --------
    >>> import torch
    >>> from smoothcert import DiffusionDenoiser
    >>> from smoothcert.denoising import takes_sigma
    >>> takes_sigma(torch.nn.Identity()), DiffusionDenoiser.takes_sigma
    (False, True)
    """
    return getattr(denoiser, "takes_sigma", False) is True


def _name(denoiser):
    return f"denoiser {type(denoiser).__name__}"


def denoiser_module(denoiser):
    """The ``torch.nn.Module`` a ``denoiser`` parameter stands for (not copied).

    Parameters
    ----------
    denoiser : torch.nn.Module or skorch.NeuralNet
        A module, or an initialised (fitted) skorch net such as :class:`DenoiserNet`, whose
        ``module_`` is the denoiser.

    Returns
    -------
    module : torch.nn.Module

    Raises
    ------
    ValueError
        For a skorch net that is not initialised (it holds no trained denoiser yet).
    TypeError
        For anything else.
    """
    if isinstance(denoiser, nn.Module):
        return denoiser
    if isinstance(denoiser, NeuralNet):
        if not getattr(denoiser, "initialized_", False):
            raise ValueError(
                f"denoiser is an unfitted {type(denoiser).__name__}: fit it first (denoiser.fit(X)), since "
                f"SmoothedClassifier never trains the denoiser."
            )
        return denoiser.module_
    raise TypeError(
        f"denoiser must be None, a torch.nn.Module or a fitted skorch net holding one (e.g. DenoiserNet), got "
        f"{type(denoiser).__name__}."
    )


class Denoised(nn.Module):
    """The base classifier of denoised smoothing: ``classifier(denoiser(x))``, with the denoiser frozen.

    The denoiser's parameters are frozen (``requires_grad=False``; gradients with respect to the
    input still flow through it, as the sigma optimisation of data-dependent strategies needs) and it
    stays in eval mode even when the classifier trains. ``SmoothedClassifier(denoiser=...)`` builds
    one (with copies: see :func:`denoised`); holding both modules, it is what ``module_``,
    checkpoint fingerprints and provenance digests cover.

    Parameters
    ----------
    denoiser : torch.nn.Module
        Maps a batch of noisy inputs to denoised inputs of the same shape. With
        ``takes_sigma = True`` it is called as ``denoiser(x, sigma)`` with ``sigma`` of shape
        ``(batch,)``.
    classifier : torch.nn.Module
        The base classifier (with its normalisation layer in front, if any).
    sigma : float or None, default=None
        The noise level passed to a sigma-conditioned denoiser; ``None`` for a plain one (a
        sigma-conditioned denoiser without it is refused at the first forward pass).

    Examples
    --------
    >>> import torch
    >>> from smoothcert.denoising import Denoised
    >>> model = Denoised(torch.nn.Identity(), torch.nn.Linear(3, 2))
    >>> model(torch.zeros(4, 3)).shape
    torch.Size([4, 2])
    """

    def __init__(self, denoiser, classifier, sigma=None):
        super().__init__()
        self.denoiser = denoiser
        self.classifier = classifier
        self.sigma = None if sigma is None else float(sigma)
        for parameter in self.denoiser.parameters():
            parameter.requires_grad_(False)
        self.denoiser.eval()

    def train(self, mode=True):
        """Set the classifier's training mode; the frozen denoiser stays in eval mode."""
        super().train(mode)
        self.denoiser.eval()
        return self

    def denoise(self, X):
        """The denoiser's output on the batch ``X``, checked to be a tensor of ``X``'s shape.

        Parameters
        ----------
        X : torch.Tensor of shape (batch, *input_shape)

        Returns
        -------
        denoised : torch.Tensor of shape (batch, *input_shape)
        """
        if takes_sigma(self.denoiser):
            if self.sigma is None:
                raise ValueError(
                    f"the {_name(self.denoiser)} is sigma-conditioned (takes_sigma=True) but no noise level reaches "
                    f"it: pass sigma to Denoised, or use it with FixedSigma or DualSigma (strategies that choose "
                    f"each input's sigma do not pass it to a denoiser)."
                )
            out = self.denoiser(X, torch.full((len(X),), self.sigma, dtype=X.dtype, device=X.device))
        else:
            out = self.denoiser(X)
        if not isinstance(out, torch.Tensor) or out.shape != X.shape:
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ValueError(
                f"the {_name(self.denoiser)} must return denoised inputs of the shape it receives, "
                f"{tuple(X.shape)}, got {got}."
            )
        return out

    def forward(self, X):
        return self.classifier(self.denoise(X))


def denoised(module, denoiser, sigma=None):
    """``module`` behind a frozen copy of ``denoiser`` (:class:`Denoised`), or ``module`` when ``denoiser`` is None.

    Parameters
    ----------
    module : torch.nn.Module
        The base classifier (behind its normalisation layer, if any).
    denoiser : torch.nn.Module, fitted skorch net or None
        See :func:`denoiser_module`; copied, never changed.
    sigma : float or None, default=None
        The noise level for a sigma-conditioned denoiser (see :class:`Denoised`).

    Returns
    -------
    module : torch.nn.Module

    Examples
    --------
    >>> import torch
    >>> from smoothcert.denoising import denoised
    >>> type(denoised(torch.nn.Linear(2, 2), torch.nn.Identity())).__name__
    'Denoised'
    """
    if denoiser is None:
        return module
    return Denoised(copy.deepcopy(denoiser_module(denoiser)), module, sigma)


def check_denoiser(denoiser, X_few, noise, strategy, device, training=False):
    """Run a copy of ``denoiser`` on noisy copies of a few inputs: its failures named before any training or sampling.

    Parameters
    ----------
    denoiser : torch.nn.Module, fitted skorch net or None
    X_few : ndarray of shape (n_few, *input_shape)
    noise : GaussianNoise or UniformNoise
    strategy : SigmaOptimizer
        The fitted noise-scale strategy: the noise is drawn at its ``base_scale()``; one that
        chooses each input's scale (``data_dependent``, other than DualSigma's levels) is refused
        with a sigma-conditioned denoiser.
    device : torch.device
    training : bool, default=False
        Whether a classifier will be trained behind the denoiser: with DualSigma, the experts are
        then trained behind a sigma-conditioned denoiser that would not be told their level, which
        is refused (give trained ``experts``, or ``max_epochs=0``).

    Raises
    ------
    ValueError
        When the denoiser fails, changes the shape, or returns NaN or inf, naming the denoiser.
    """
    if denoiser is None:
        return
    module = copy.deepcopy(denoiser_module(denoiser)).to(device).eval()
    name = _name(module)
    sigma = float(strategy.base_scale())
    if takes_sigma(module) and strategy.data_dependent and not hasattr(strategy, "checked_levels"):
        raise ValueError(
            f"the {name} is sigma-conditioned (takes_sigma=True), but {type(strategy).__name__} chooses each "
            f"input's sigma, which smoothcert does not pass to a denoiser yet; use FixedSigma or DualSigma, or a "
            f"denoiser without takes_sigma."
        )
    if takes_sigma(module) and training and hasattr(strategy, "checked_levels") and strategy.experts is None:
        raise ValueError(
            f"the {name} is sigma-conditioned (takes_sigma=True): DualSigma's experts cannot be trained behind it yet "
            f"(training does not pass each level to it); pass trained experts to DualSigma(experts=...) or use "
            f"max_epochs=0."
        )
    X = torch.as_tensor(np.asarray(X_few, dtype=np.float32), device=device)
    generator = torch.Generator(device=device).manual_seed(0)
    noisy = X + sigma * noise.sample(tuple(X.shape), generator, device, X.dtype)
    try:
        with torch.inference_mode():
            out = Denoised(module, nn.Identity(), sigma if takes_sigma(module) else None).denoise(noisy)
    except ValueError as exc:
        if "denoiser" in str(exc):
            raise
        raise ValueError(f"the {name} failed on noisy inputs of shape {tuple(X.shape)} (ValueError: {exc}).") from exc
    except Exception as exc:
        raise ValueError(
            f"the {name} failed on noisy inputs of shape {tuple(X.shape)} ({type(exc).__name__}: {exc}); it must "
            f"map (batch, *input_shape) noisy inputs to denoised inputs of the same shape."
        ) from exc
    if not bool(torch.isfinite(out).all()):
        raise ValueError(f"the {name} returned non-finite values (NaN or inf) on noisy inputs; check its weights.")


class DnCNN(nn.Module):
    """A small DnCNN-style residual denoiser for images: it predicts the noise and subtracts it.

    ``depth`` 3x3 convolutions (batch normalisation and ReLU between the inner ones), as Zhang et
    al.'s DnCNN, which Salman et al. use with ``depth=17, features=64``; the defaults are sized for
    small images on a CPU. The last convolution starts at zero, so an untrained DnCNN is the
    identity.

    Parameters
    ----------
    channels : int, default=1
        Channels of the images ``(batch, channels, height, width)``.
    depth : int, default=6
        Number of convolutions (at least 2).
    features : int, default=32
        Channels of the inner convolutions.

    Examples
    --------
    >>> import torch
    >>> from smoothcert.denoising import DnCNN
    >>> x = torch.rand(2, 1, 8, 8)
    >>> bool(torch.equal(DnCNN()(x), x))  # the identity before training
    True
    """

    def __init__(self, channels=1, depth=6, features=32):
        super().__init__()
        check_int(channels, "channels", 1)
        check_int(depth, "depth", 2)
        check_int(features, "features", 1)
        layers = [nn.Conv2d(channels, features, 3, padding=1), nn.ReLU()]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(features, features, 3, padding=1, bias=False), nn.BatchNorm2d(features), nn.ReLU()]
        last = nn.Conv2d(features, channels, 3, padding=1)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.layers = nn.Sequential(*layers, last)

    def forward(self, X):
        return X - self.layers(X)


class DenoiserMLP(nn.Module):
    """A residual MLP denoiser for flat inputs (any shape, flattened): it predicts the noise and subtracts it.

    The last layer starts at zero, so an untrained DenoiserMLP is the identity.

    Parameters
    ----------
    n_inputs : int
        Number of input values (product of the input shape).
    hidden_units : tuple of int, default=(256, 256)
        Widths of the hidden layers (ReLU activations).

    Examples
    --------
    >>> import torch
    >>> from smoothcert.denoising import DenoiserMLP
    >>> x = torch.rand(2, 4)
    >>> bool(torch.equal(DenoiserMLP(4)(x), x))
    True
    """

    def __init__(self, n_inputs, hidden_units=(256, 256)):
        super().__init__()
        check_int(n_inputs, "n_inputs", 1)
        layers, width = [], n_inputs
        for units in hidden_units:
            check_int(units, "hidden_units", 1)
            layers += [nn.Linear(width, units), nn.ReLU()]
            width = units
        last = nn.Linear(width, n_inputs)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.layers = nn.Sequential(*layers, last)

    def forward(self, X):
        return X - self.layers(X.flatten(1)).view_as(X)


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
    sigma : float, default=0.25
        The noise scale to denoise (the smoothing ``sigma``), in the units of ``X``.
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
        check_scale(self.sigma, "sigma")
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
        noisy = X + float(self.sigma) * self.noise_.sample(tuple(X.shape), generator, X.device, X.dtype)
        out = self.infer(noisy)
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


class DiffusionDenoiser(nn.Module):
    """A noise-prediction (DDPM) model as a one-step denoiser, as Carlini et al. (2023) use it.

    For a noisy input ``x + sigma * eps`` in ``[0, 1]`` pixel units: map it to ``[-1, 1]``
    (``2 * x - 1``, which doubles the noise to ``2 * sigma``), pick the timestep ``t`` whose noise
    level ``sqrt(1 - abar_t) / sqrt(abar_t)`` matches ``2 * sigma``, scale by ``sqrt(abar_t)`` (the
    input is then distributed like the model's ``x_t``), predict the noise, take the clean estimate
    ``x0 = (x_t - sqrt(1 - abar_t) * eps_hat) / sqrt(abar_t)``, clip it to ``[-1, 1]`` and map it back.

    **Rounding.** ``t`` is the *first* timestep whose level is at least ``2 * sigma`` (rounded up,
    as Carlini et al.): the model assumes slightly more noise than was added. This only changes
    what the denoiser computes, never the certificate: smoothcert adds the noise itself, at exactly
    the ``sigma`` of the strategy, and the radius is at that ``sigma``. ``timestep(sigma)`` reports
    the choice; a ``sigma`` beyond the schedule's last level is refused.

    It is sigma-conditioned (``takes_sigma = True``): :class:`Denoised` passes the noise level.

    Parameters
    ----------
    eps_model : torch.nn.Module
        Called as ``eps_model(x_t, t)`` with ``t`` an int64 tensor of shape ``(batch,)``; returns
        the predicted noise of ``x_t``'s shape, an object whose ``.sample`` is that (a ``diffusers``
        ``UNet2DModel``), or twice the channels (a learned-variance model: the first half is used).
    alphas_cumprod : array-like of shape (n_timesteps,)
        The schedule's cumulative products ``abar_t``, decreasing in ``(0, 1)`` (a ``diffusers``
        scheduler's ``alphas_cumprod``).
    clip : bool, default=True
        Clip the clean estimate to ``[-1, 1]`` before mapping it back.

    Notes
    -----
    A ``diffusers`` model plugs in as ``DiffusionDenoiser(unet, scheduler.alphas_cumprod)`` with
    ``unet = UNet2DModel.from_pretrained(...)`` and ``scheduler = DDPMScheduler.from_pretrained(...)``;
    the inputs ``SmoothedClassifier`` receives must then be the model's image size in ``[0, 1]``.

    Examples
    --------
    >>> import torch
    >>> from smoothcert import DiffusionDenoiser
    >>> class Zero(torch.nn.Module):
    ...     def forward(self, x, t):
    ...         return torch.zeros_like(x)
    >>> abar = torch.cumprod(1 - torch.linspace(1e-4, 0.02, 1000), 0)
    >>> denoiser = DiffusionDenoiser(Zero(), abar)
    >>> denoiser.timestep(0.25)  # DDPM's linear schedule: the first level >= 0.5
    145
    >>> denoiser(torch.full((2, 3), 0.5), torch.full((2,), 0.25)).shape
    torch.Size([2, 3])
    """

    takes_sigma = True

    def __init__(self, eps_model, alphas_cumprod, clip=True):
        super().__init__()
        if not isinstance(eps_model, nn.Module):
            raise TypeError(f"eps_model must be a torch.nn.Module (a noise-prediction model), got {type(eps_model).__name__}.")
        abar = torch.as_tensor(np.asarray(as_numpy(alphas_cumprod), dtype=np.float64))
        if abar.dim() != 1 or len(abar) == 0:
            raise ValueError(f"alphas_cumprod must be a non-empty 1-D schedule, got shape {tuple(abar.shape)}.")
        if not (bool(torch.isfinite(abar).all()) and bool((abar > 0).all()) and bool((abar < 1).all())):
            raise ValueError("alphas_cumprod must hold values in (0, 1) (the cumulative products abar_t).")
        if len(abar) > 1 and not bool((abar[1:] < abar[:-1]).all()):
            raise ValueError("alphas_cumprod must be strictly decreasing (abar_t of increasing timesteps).")
        if not isinstance(clip, bool):
            raise TypeError(f"clip must be True or False, got {clip!r}.")
        self.eps_model = eps_model
        self.clip = clip
        self.register_buffer("alphas_cumprod", abar)
        self.register_buffer("levels", torch.sqrt((1 - abar) / abar))

    def timestep(self, sigma):
        """The timestep used for noise scale ``sigma``: the first ``t`` with level ``>= 2 * sigma``.

        Parameters
        ----------
        sigma : float

        Returns
        -------
        t : int
        """
        return int(self._timesteps(torch.tensor([float(sigma)], dtype=torch.float64))[0])

    def _timesteps(self, sigma):
        target = 2 * sigma.to(device=self.levels.device, dtype=torch.float64)
        t = torch.searchsorted(self.levels, target.contiguous())
        if bool((t >= len(self.levels)).any()):
            raise ValueError(
                f"the DiffusionDenoiser's schedule reaches noise level {float(self.levels[-1]):.4g} in [-1, 1] units "
                f"(sigma {float(self.levels[-1]) / 2:.4g} in [0, 1] units), below 2 * sigma = {float(target.max()):.4g}."
            )
        return t

    def forward(self, X, sigma):
        sigma = torch.as_tensor(sigma, device=X.device).reshape(-1).expand(len(X))
        t = self._timesteps(sigma)
        view = (len(X),) + (1,) * (X.dim() - 1)
        abar = self.alphas_cumprod[t].to(X.dtype).reshape(view)
        x_t = abar.sqrt() * (2 * X - 1)
        eps = self.eps_model(x_t, t.to(X.device))
        eps = getattr(eps, "sample", eps)
        if isinstance(eps, torch.Tensor) and X.dim() > 1 and eps.dim() == X.dim() and eps.shape[1] == 2 * X.shape[1]:
            eps = eps[:, : X.shape[1]]  # a learned-variance model: noise first, variance second
        x0 = (x_t - (1 - abar).sqrt() * eps) / abar.sqrt()
        if self.clip:
            x0 = x0.clamp(-1, 1)
        return (x0 + 1) / 2
