"""SmoothedClassifier: a randomized-smoothing classifier behind scikit-learn's API."""

import copy
import dataclasses
import functools
import itertools
import os
import warnings

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import NotFittedError
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from ._fields import jsonable
from ._validation import (
    ROUTED_PREFIXES,
    as_numpy,
    check_classes,
    check_normalize,
    check_params,
    check_routed_kwargs,
    check_sample_size,
    check_X,
    encode_labels,
    resolve_device,
)
from ._version import __version__
from .certificates import Certificates, replace_labels
from .checkpoint import UnhashableError, certify_in_chunks, fingerprint, model_digest, stable_repr
from .denoising import check_denoiser
from .dual_smoothing import DualSmoothing
from .engine import MonteCarloEngine, calibrated_batch_sizes
from .exceptions import SoundnessWarning
from .memory import CertificateMemory
from .nets import build_module, check_module_output, skorch_net
from .noise import get_noise
from .plan import SamplingPlan
from .recipes import make_recipe
from .sampling import NOISE_STREAM_VERSION, Stage
from .sigma import DualSigma, FixedSigma, SigmaOptimizer
from .sigma.base import check_scale
from .smoothing import Smoothing, Votes

__all__ = ["SmoothedClassifier"]

# Strategies that certify their own choice of scales bring their own procedures: the one dispatch on the
# strategy (a new self-certifying strategy is one line here and a module of its own).
_SELF_CERTIFYING = {DualSigma: DualSmoothing}


class SmoothedClassifier(ClassifierMixin, BaseEstimator):
    """Certifiably robust classifier by randomized smoothing of a PyTorch base classifier.

    The smoothed classifier ``g(x) = argmax_c P[f(x + eps) = c]`` votes over noisy copies of the
    input. :meth:`certify` runs Cohen et al.'s CERTIFY (2019) per input and returns the class and a
    region (an l2 ball or ellipsoid for Gaussian noise, an l1 cross-polytope for uniform noise) in
    which ``g`` provably keeps that class, with probability at least ``1 - alpha``.

    Noise is added to the ``X`` this estimator receives (inside a :class:`~sklearn.pipeline.Pipeline`,
    after the steps before it), so ``sigma`` and radii are in those units.

    Parameters
    ----------
    module : torch.nn.Module instance or class, skorch NeuralNet, or None, default=None
        The base classifier; it must map ``(batch, *input_shape)`` to ``(batch, n_classes)`` scores
        (logits, or probabilities with ``criterion=torch.nn.NLLLoss``). A class is instantiated
        with the ``module__*`` parameters; an instance is copied (never trained in place); ``None``
        builds an :class:`~smoothcert.models.MLP` sized from the data (``module__hidden_units``).
        A :class:`skorch.NeuralNet` brings its own training settings: its module (class and
        ``module__*`` parameters, or an initialised net's trained ``module_``, copied), criterion,
        optimizer, ``lr``, ``max_epochs``, ``batch_size``, ``train_split``, callbacks and iterators
        are used, with this estimator's noise, ``training`` recipe, ``device`` and ``verbose``;
        this estimator's ``lr``, ``train_batch_size``, ``optimizer`` and ``criterion`` must then
        keep their defaults (other values are refused, not silently unused); the net's parameters are reachable as ``module__<name>`` (e.g. ``module__lr``,
        ``module__module__hidden_units``; other routed ``**kwargs`` are refused). The net itself
        is never changed. An initialised net is fine-tuned from its weights, or kept as it is with
        ``max_epochs=0`` here. ``clone`` (so ``GridSearchCV``) re-creates a net unfitted, as
        skorch does: to search around a pretrained net, pass its ``module_`` instead.
    sigma : float or SigmaOptimizer, default=0.25
        Noise scale strategy; a float means ``FixedSigma(sigma)``. The scale is the Gaussian
        standard deviation (``norm="l2"``) or the uniform half-width (``norm="l1"``). With
        :class:`~smoothcert.DualSigma`, ``fit`` trains a copy of ``module`` at each of its levels
        and then its selector, and ``module`` is every level's network unless ``experts`` are given.
    norm : {"l2", "l1"}, default="l2"
        ``"l2"``: Gaussian noise, l2 certificates; ``"l1"``: uniform noise, l1 certificates.
    n0 : int, default=100
        Noisy samples used to select the top class in :meth:`certify`.
    n : int, default=100_000
        Noisy samples used to bound the top class's probability in :meth:`certify`.
    n_predict : int, default=2_000
        Noisy samples per input of :meth:`predict`, :meth:`predict_proba` and :meth:`score` (so
        a grid search with ``scoring="accuracy"`` does not pay for certification). The
        abstaining ``predict(X, abstain=True)`` keeps its guarantee at any sample count; fewer
        samples only make it abstain more often.
    alpha : float, default=0.001
        Failure probability of each certificate, in ``(0, 1)``.
    sampling : {"fixed", "sequential", "adaptive"}, default="fixed"
        How :meth:`certify` spends samples, each with the guarantee of CERTIFY at ``alpha``
        (:mod:`smoothcert.procedures`; user guide "Spend fewer samples"):
        ``"fixed"`` is Cohen et al.'s CERTIFY (``n0 + n`` per input); ``"sequential"`` looks at
        the count at ``looks`` and stops once the decisions at ``radii`` (and abstain/certify)
        are clear, the looks sharing ``alpha`` (half at the last); ``"adaptive"`` plans the
        samples of each input from a ``pilot`` so that its radius is within
        ``radius_tolerance`` of the radius at ``n``. ``n`` is the most estimation samples of an
        input in every mode; ``Certificates.n_used`` and ``stop_reason`` report what each used.
    radii : sequence of float or None, default=None
        ``sampling="sequential"``: the radii at which "certified at ``r``" must be decided exactly
        (e.g. the grid of a certified-accuracy table; include ``0`` for the abstain decision);
        ``None``: only abstain or certify (radius 0), so radii are small. Other radii than these
        are not the goal (lower than ``"fixed"``'s).
    looks : "doubling" or tuple of int, default="doubling"
        ``sampling="sequential"``: estimation sample sizes at which to look, increasing and
        ending at ``n``; ``"doubling"`` is one noise block (1024 samples for inputs up to 1024
        values), twice that, ..., then ``n``. Intermediate looks are rounded up to the noise
        block, so that results never depend on scheduling.
    radius_tolerance : float, default=0.01
        ``sampling="adaptive"``: how much smaller than at ``n`` a radius may be planned, in the
        units of ``X``.
    pilot : int, default=1000
        ``sampling="adaptive"``: samples that select the class and plan the estimation (in
        place of ``n0``, which this mode does not use).
    batch_size : int or "auto", default="auto"
        Noisy copies per forward pass during certification (copies of several inputs share one
        pass); results do not depend on it. ``"auto"`` times the whole sampling step (noise,
        forward pass, vote counting) at a few sizes on the first call, within a memory budget,
        and keeps the fastest (``batch_size_``, chosen again after each ``fit``); for image inputs
        it also times channels_last batches and keeps that layout when faster (an int runs the
        module as given).
    device : str or torch.device, default="auto"
        ``"auto"`` uses CUDA when available, else the CPU.
    n_jobs : int or None, default=None
        Workers that certify (and predict) shards of rows through joblib; ``None`` means 1 unless
        inside a ``joblib.parallel_backend`` context (e.g. ``"dask"`` for a Dask cluster).
        Results are identical to a single process and come back in row order.
    precision : {"float32", "bfloat16", "float16"}, default="float32"
        Forward passes under ``torch.autocast`` at this precision (opt-in, for speed on GPUs).
        The certificate is then for the classifier evaluated in that precision.
    compile : bool, default=False
        Run the Monte Carlo forward passes through ``torch.compile(module_)`` (opt-in: compiling
        takes tens of seconds, then forward passes may be faster). The compiled model is rebuilt
        after unpickling and is the classifier being certified.
    random_state : int, RandomState instance or None, default=None
        Seeds training and the noise streams. Given an int, an input's certificate does not depend
        on ``batch_size``, its position in ``X`` or the other rows.
    verbose : int, default=0
        ``> 0`` prints skorch's training table and shows a tqdm progress bar for Monte Carlo runs
        lasting over a second (needs the ``progress`` extra: ``pip install smoothcert[progress]``).
    max_epochs : int, default=10
        Training epochs. ``0`` uses a pretrained ``module`` as it is (copied, not trained). With a
        skorch net as ``module``, the default trains for the net's own ``max_epochs`` and other
        values than ``0`` are refused (set ``module__max_epochs``), like ``lr``,
        ``train_batch_size``, ``optimizer`` and ``criterion``.
    lr : float, default=0.01
        Learning rate of the training optimizer.
    train_batch_size : int, default=128
        Mini-batch size for training.
    optimizer : torch.optim.Optimizer class, default=torch.optim.Adam
        Training optimizer (``optimizer__*`` parameters are passed to it).
    criterion : torch.nn.Module class, default=torch.nn.CrossEntropyLoss
        Training loss; use ``torch.nn.NLLLoss`` for a module that outputs probabilities.
    training : {"gaussian", "macer", "smoothadv"} or TrainingRecipe, default="gaussian"
        Training recipe (:mod:`smoothcert.training`): ``"gaussian"`` is noise augmentation
        (:class:`~smoothcert.NoiseAugmentation`; uniform noise when ``norm="l1"``),
        ``"macer"`` :class:`~smoothcert.MACER`, ``"smoothadv"`` :class:`~smoothcert.SmoothAdv`
        (l2 only), each with its default hyperparameters. Pass a recipe object, e.g.
        ``MACER(gamma=4.0)``, to set them; ``GridSearchCV`` then reaches them as
        ``training__gamma``.
    update_sigma_every : int, default=5
        With a data-dependent ``sigma`` strategy, every training sample keeps its own noise scale,
        re-chosen by the strategy every ``update_sigma_every`` epochs (see
        :class:`~smoothcert.training.NoiseAugmentedNet`), with ``batch_size`` noisy copies per
        forward pass (``train_batch_size`` when ``batch_size="auto"``); unused with a fixed
        ``sigma``.
    normalize : tuple (mean, std) or None, default=None
        Normalisation applied inside the model graph, after the noise (as the papers' models do).
    denoiser : torch.nn.Module, fitted skorch net or None, default=None
        Denoised smoothing (user guide "Denoised smoothing"): a module (or a fitted net holding one,
        such as :class:`~smoothcert.DenoiserNet`) applied to every noisy input before ``normalize``
        and the classifier, so the base classifier is ``module(normalize(denoiser(x + noise)))``
        (:class:`~smoothcert.denoising.Denoised`, held in ``module_``). A frozen copy is used: it is
        never trained here, and the classifier is never trained in place. ``fit`` trains a copy of
        the classifier behind it with the noise as usual (``max_epochs=0``, or ``classes`` without
        ``fit``, use a pretrained classifier as it is, the usual case). It must map
        ``(batch, *input_shape)`` to the same shape; it is checked on noisy copies of a few inputs
        (shape, NaN) at ``fit``. A denoiser with ``takes_sigma = True`` (e.g.
        :class:`~smoothcert.DiffusionDenoiser`) is called as ``denoiser(x, sigma)`` with
        :class:`~smoothcert.FixedSigma`'s scale or each :class:`~smoothcert.DualSigma` level (whose
        experts each get a copy of the denoiser; its selector gets none); strategies that choose each
        input's scale refuse it.
    abstain_label : object or None, default=None
        Label reported for abstentions by ``certify`` and ``predict(X, abstain=True)``; it must
        not be one of the classes. ``None``: ``-1``, or when ``-1`` is a class the first of
        ``-2, -3, ...`` that is not (so labels ``{-1, 1}`` fit as they are); the label used is
        ``abstain_label_``.
    memory : CertificateMemory or None, default=None
        Memory-based certification (Alfarra et al.; Eiras et al.): resolves each certificate
        against the stored ones so data-dependent certificates stay sound. ``None``: no memory,
        only sound with :class:`~smoothcert.FixedSigma` or :class:`~smoothcert.DualSigma`
        (which certifies its own choice of the level). ``fit`` works on a copy (``memory_``),
        starting from what the given memory holds (e.g. one from :meth:`CertificateMemory.load`);
        the object passed is never changed, and ``clone`` gives an empty memory with the same
        parameters. :meth:`certify` resolves and stores its rows in the order of ``X``;
        :meth:`predict` answers an input strictly inside a stored region with that region's label
        and stores nothing.
    classes : array-like of shape (n_classes,) or None, default=None
        The labels of the module's outputs, in output order (``classes[i]`` is the label of
        output ``i``). ``None``: the sorted labels of ``y`` at fit. Given with a trained module
        (a ``torch.nn.Module`` instance or an initialised skorch net), the estimator needs no
        ``fit``: the first :meth:`certify`, :meth:`predict`, :meth:`predict_proba`,
        :meth:`noise_scales` or :meth:`score` call takes the input shape from its ``X`` and uses
        a copy of the module as it is (fitted attributes are then set as by ``fit`` with
        ``max_epochs=0``; parameters changed later take effect at the next ``fit``, as for any
        fitted estimator). ``fit`` with ``classes`` accepts ``y`` covering only some of them.
    **kwargs
        Parameters routed like skorch's: ``module__*`` to the module's constructor,
        ``optimizer__*``, ``criterion__*``, ``iterator_train__*``, ``iterator_valid__*``,
        ``callbacks__*`` to the underlying :class:`skorch.NeuralNetClassifier`.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    abstain_label_ : object
        The label of abstentions: ``abstain_label``, or the one chosen for ``None``.
    n_features_in_ : int
        ``X.shape[1]`` at fit (scikit-learn's convention).
    input_shape_ : tuple of int
        Shape of one input.
    device_ : torch.device
        Device the model runs on.
    module_ : torch.nn.Module
        The trained base classifier (with the normalisation layer when ``normalize`` is set);
        with :class:`~smoothcert.DualSigma`, a :class:`~smoothcert.models.DualModel` holding an
        expert per level (``module_.experts``) and the selector (``module_.selector``).
    net_ : NoiseAugmentedNet or None
        The skorch net that trained ``module_`` (its ``history`` holds the training log);
        ``None`` for a pretrained module used without ``fit`` (see ``classes``) and with
        DualSigma, whose nets are ``sigma_.expert_nets_`` (one per level, ``None`` for given
        experts) and ``sigma_.selector_net_`` (``None`` for a selector not trained).
    train_sigma_ : ndarray of float32, shape (n_samples,) or (n_samples, *input_shape), or None
        The noise scale of every training sample at the end of training (all equal for a fixed
        ``sigma``); ``None`` without ``fit`` and with DualSigma.
    sigma_ : SigmaOptimizer
        A fitted copy of the noise scale strategy.
    memory_ : CertificateMemory or None
        The memory that :meth:`certify` resolves against and stores into: a copy of ``memory``
        made at fit, or at the next call after ``set_params(memory=...)`` replaced it.
    noise_ : GaussianNoise or UniformNoise
        The noise model of ``norm``.
    seed_ : int
        Base seed of the noise streams, drawn from ``random_state`` at fit.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import make_blobs
    >>> from smoothcert import SmoothedClassifier
    >>> X, y = make_blobs(200, centers=[[-2, -2], [2, 2]], random_state=0)
    >>> clf = SmoothedClassifier(sigma=0.5, n=1000, max_epochs=20, random_state=0).fit(X, y)
    >>> cert = clf.certify(X[:5])
    >>> bool((cert.radius[~cert.abstained] > 0).all())
    True
    """

    def __init__(
        self,
        module=None,
        sigma=0.25,
        norm="l2",
        n0=100,
        n=100_000,
        n_predict=2_000,
        alpha=0.001,
        sampling="fixed",
        radii=None,
        looks="doubling",
        radius_tolerance=0.01,
        pilot=1000,
        batch_size="auto",
        device="auto",
        n_jobs=None,
        precision="float32",
        compile=False,
        random_state=None,
        verbose=0,
        max_epochs=10,
        lr=0.01,
        train_batch_size=128,
        optimizer=torch.optim.Adam,
        criterion=torch.nn.CrossEntropyLoss,
        training="gaussian",
        update_sigma_every=5,
        normalize=None,
        denoiser=None,
        abstain_label=None,
        memory=None,
        classes=None,
        **kwargs,
    ):
        self.module = module
        self.sigma = sigma
        self.norm = norm
        self.n0 = n0
        self.n = n
        self.n_predict = n_predict
        self.alpha = alpha
        self.sampling = sampling
        self.radii = radii
        self.looks = looks
        self.radius_tolerance = radius_tolerance
        self.pilot = pilot
        self.batch_size = batch_size
        self.device = device
        self.n_jobs = n_jobs
        self.precision = precision
        self.compile = compile
        self.random_state = random_state
        self.verbose = verbose
        self.max_epochs = max_epochs
        self.lr = lr
        self.train_batch_size = train_batch_size
        self.optimizer = optimizer
        self.criterion = criterion
        self.training = training
        self.update_sigma_every = update_sigma_every
        self.normalize = normalize
        self.denoiser = denoiser
        self.abstain_label = abstain_label
        self.memory = memory
        self.classes = classes
        for key, value in kwargs.items():
            setattr(self, key, value)

    # -- parameters routed like skorch ---------------------------------------------------------

    def _routed_params(self, prefix=""):
        # Extra keyword arguments are stored as attributes, like skorch's; validated at fit.
        # Fitted attributes end in "_", so everything else that is not a named parameter is routed.
        named = self._get_param_names()
        return {
            k: v
            for k, v in vars(self).items()
            if k not in named and not k.endswith("_") and not k.startswith("_") and k.startswith(prefix)
        }

    def get_params(self, deep=True):
        params = super().get_params(deep=deep)
        params.update(self._routed_params())
        return params

    def set_params(self, **params):
        named = self._get_param_names()
        routed = [k for k in params if k.startswith(ROUTED_PREFIXES) or k.split("__", 1)[0] not in named]
        for key in routed:
            setattr(self, key, params.pop(key))
        return super().set_params(**params)

    # -- fitting --------------------------------------------------------------------------------

    def _make_sigma(self):
        if isinstance(self.sigma, SigmaOptimizer):
            sigma = copy.deepcopy(self.sigma)
        else:
            sigma = FixedSigma(check_scale(self.sigma, "sigma"))
        sigma.base_scale()  # validates the strategy's own parameters
        return sigma

    def _make_memory(self):
        if self.memory is None:
            return None
        if not isinstance(self.memory, CertificateMemory):
            raise TypeError(
                f"memory must be None or a CertificateMemory, got {type(self.memory).__name__}; "
                "use memory=CertificateMemory()."
            )
        self.memory._check_params()
        if len(self.memory) and self.memory.norm_ != self.norm:
            raise ValueError(
                f"memory stores {self.memory.norm_!r} regions but norm={self.norm!r}; use a memory built "
                "with the same norm, or a new CertificateMemory()."
            )
        return copy.deepcopy(self.memory)  # the user's memory is never changed

    def _fitted_memory(self):
        # A memory passed with set_params after fit is used from the next call on (a copy of it,
        # as at fit): resolving against an older copy would ignore the regions the new one holds.
        if vars(self).get("_memory_source", None) is not self.memory:
            self.memory_ = self._make_memory()
            self._memory_source = self.memory
        return self.memory_

    def fit(self, X, y):
        """Train a copy of the base classifier with noise augmentation at the smoothing scale.

        With a ``denoiser``, the copy trains behind the frozen denoiser (which is never trained here).

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, *input_shape)
            Training inputs (2-D tabular data or images ``(n, C, H, W)``).
        y : array-like of shape (n_samples,)
            Class labels (at least two classes, or labels among ``classes`` when it is given).

        Returns
        -------
        self : SmoothedClassifier
        """
        X = self._prepare(X)
        check_denoiser(self.denoiser, X[:2], self.noise_, self.sigma_, self.device_)
        y = column_or_1d(as_numpy(y), warn=True)
        if len(y) != len(X):
            raise ValueError(f"X and y must have the same number of samples, got {len(X)} and {len(y)}.")
        check_classification_targets(y)
        y_encoded = self._set_classes(y)
        training = make_recipe(self.training, "training")
        training.check_params(self.noise_)
        with torch.random.fork_rng(devices=[self.device_] if self.device_.type == "cuda" else []):
            torch.manual_seed(self.seed_)
            try:
                module, self.net_, self.train_sigma_ = self._smoothing().fit_module(
                    self, X, y_encoded.astype(np.int64), training
                )
            except BaseException:
                # A failed refit (e.g. diverged training) must not leave an earlier model that certifies.
                for name in ("module_", "net_", "train_sigma_"):
                    vars(self).pop(name, None)
                raise
        self._set_module(module)
        return self

    def _prepare(self, X):
        """Validate the parameters and ``X`` and set the fitted state that does not need labels."""
        check_params(self)
        check_routed_kwargs(self._routed_params())
        self.sigma_ = self._make_sigma()
        self.memory_ = self._make_memory()
        self._memory_source = self.memory
        self.noise_ = get_noise(self.norm)
        self._sampling_plan().warn_unused(stacklevel=3)
        X = check_X(self, X, reset=True)
        self.input_shape_ = X.shape[1:]
        check_normalize(self.normalize, self.input_shape_)
        self.device_ = resolve_device(self.device)
        try:
            self.seed_ = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        except ValueError as exc:
            raise ValueError(f"random_state must be None, an int or a numpy RandomState, got {self.random_state!r}.") from exc
        return X

    def _set_classes(self, y=None):
        """Set ``classes_`` (from ``classes``, else from ``y``) and return ``y`` encoded as output indices."""
        self.classes_ = np.unique(y) if self.classes is None else check_classes(self.classes)
        if len(self.classes_) < 2:
            raise ValueError(
                f"y has only one class ({self.classes_[0]!r}); a classifier needs at least two classes to fit."
            )
        if self.abstain_label is None:
            # -1 as before, unless it is a class: an abstention must never read as a class.
            self.abstain_label_ = next(c for c in itertools.count(-1, -1) if not _is_class(c, self.classes_))
        elif _is_class(self.abstain_label, self.classes_):
            raise ValueError(
                f"abstain_label={self.abstain_label!r} is one of the classes, so an abstention could not be told "
                f"from that class; choose an abstain_label outside {self.classes_.tolist()} (or None to have one chosen)."
            )
        else:
            self.abstain_label_ = self.abstain_label
        if y is None:
            return None
        return np.searchsorted(self.classes_, y) if self.classes is None else encode_labels(y, self.classes_)

    def _set_module(self, module):
        # The module keeps its layout: the engine times the batch layouts and runs a channels_last copy if faster.
        self.module_ = module.eval()

    def _use_pretrained(self, X):
        """Set the fitted state around the trained ``module`` as it is, from the inputs of a first call."""
        trained = isinstance(self.module, torch.nn.Module) or getattr(self.module, "initialized_", False)
        if not trained:
            raise NotFittedError(
                f"This {type(self).__name__} is not fitted: classes without fit needs a trained module (a "
                f"torch.nn.Module instance or an initialised skorch net), got module={self.module!r}; call fit(X, y) "
                f"to train one."
            )
        X = self._prepare(X)
        check_denoiser(self.denoiser, X[:2], self.noise_, self.sigma_, self.device_)
        self._set_classes()
        module = build_module(self, len(self.classes_), skorch_net(self)).to(self.device_)
        check_module_output(module, X[:2], len(self.classes_), self.device_)
        self._set_module(self._smoothing().pretrained_module(self, module, X))
        self.net_ = None
        self.train_sigma_ = None

    # -- Monte Carlo ----------------------------------------------------------------------------

    def _smoothing(self):
        """The procedures that smooth the fitted strategy ``sigma_`` (see ``_SELF_CERTIFYING``)."""
        for strategy, smoothing in _SELF_CERTIFYING.items():
            if isinstance(self.sigma_, strategy):
                return smoothing()
        if self.sigma_.certifies_choice:
            raise TypeError(
                f"{type(self.sigma_).__name__} declares certifies_choice=True, but no procedures certify its choice; "
                f"register them in smoothcert.estimator._SELF_CERTIFYING or set certifies_choice=False."
            )
        return Smoothing()

    def _sampling_plan(self):
        """The validated sampling settings of :meth:`certify`."""
        return SamplingPlan(
            sampling=self.sampling, n0=self.n0, n=self.n, alpha=self.alpha, radii=self.radii, looks=self.looks,
            radius_tolerance=self.radius_tolerance, pilot=self.pilot,
        )

    def __sklearn_is_fitted__(self):
        # The fitted module is what certifies; other fitted attributes may outlive a failed fit.
        return hasattr(self, "module_")

    def _check_inputs(self, X):
        if self.classes is not None and not hasattr(self, "module_"):
            self._use_pretrained(X)
        check_is_fitted(self)
        check_params(self)
        self._sampling_plan().warn_unused(stacklevel=3)
        return check_X(self, X, reset=False)

    def _engine(self, module=None):
        """The Monte Carlo engine of the fitted module (or ``module``) under the current parameters."""
        # "auto" is calibrated once per module by the engine (its cache, not this estimator's state).
        return MonteCarloEngine(
            self.module_ if module is None else module, self.noise_, len(self.classes_), self.seed_,
            device=self.device_, batch_size=self.batch_size,
            precision=self.precision, compile=self.compile, verbose=self.verbose, n_jobs=self.n_jobs,
        )

    def _map_rows(self, function, X, **kwargs):
        """``function(engine, X_part, **kwargs)`` over shards of ``X`` (see ``MonteCarloEngine.map_rows``)."""
        engine = self._engine()
        return engine.map_rows(functools.partial(function, **kwargs), X, calibrate=self._smoothing().calibrates_up_front)

    @property
    def batch_size_(self):
        """The batch size of the Monte Carlo runs: ``batch_size``, or the one ``"auto"`` calibrated for the
        fitted module at the first call that sampled (kept by the engine, outside this estimator's state)."""
        check_is_fitted(self)
        if self.batch_size != "auto":
            return self.batch_size
        calibrated = calibrated_batch_sizes(self.module_)
        if not calibrated:
            raise AttributeError("batch_size_ is calibrated by the first certify, predict or score call after fit.")
        return calibrated[-1]

    def noise_scales(self, X):
        """The noise scales the fitted ``sigma`` strategy chooses for each input of ``X``.

        The scales :meth:`certify` and :meth:`predict` draw noise with (data-dependent
        strategies optimise them per input, from their own noise streams).

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, *input_shape)

        Returns
        -------
        scales : ndarray of float32, shape (n_samples,) or (n_samples, *input_shape)
            One scale per input (isotropic) or per input dimension (anisotropic).
        """
        X = self._check_inputs(X)
        return np.concatenate(self._map_rows(self._smoothing().noise_scales, X, strategy=self.sigma_, num=self.n_predict))

    def predict_proba(self, X):
        """Vote frequencies of the ``n_predict`` noisy copies of each input (Monte Carlo ``p_c(x)``).

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, *input_shape)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        return self._votes(X).counts / self.n_predict

    def _votes(self, X):
        """The ``n_predict`` votes per input (:class:`~smoothcert.smoothing.Votes`)."""
        X = self._check_inputs(X)
        return Votes.concatenate(self._map_rows(self._smoothing().votes, X, strategy=self.sigma_, num=self.n_predict,
                                                stage=Stage.PREDICTION))

    def predict(self, X, abstain=False):
        """Smoothed prediction: the class with most votes among ``n_predict`` noisy copies.

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, *input_shape)
        abstain : bool, default=False
            Run Cohen et al.'s PREDICT: return ``abstain_label_`` unless a two-sided binomial test
            on the top two counts rejects a tie at level ``alpha`` (then the returned class is
            ``g(x)`` with probability at least ``1 - alpha``).

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)

        Notes
        -----
        With a ``memory``, an input strictly inside a stored region is answered with that region's
        label (``predict(X, abstain=True)`` with ``inside_rule="abstain"``: that label or
        ``abstain_label_``), consistently with earlier :meth:`certify` calls. Nothing is stored:
        a prediction certifies no region. :meth:`predict_proba` reports the raw votes.
        """
        if not isinstance(abstain, (bool, np.bool_)):
            raise TypeError(f"abstain must be True or False, got {abstain!r}.")
        votes = self._votes(X)
        labels = self.classes_[votes.counts.argmax(axis=1)]  # ties to the lower index, as PREDICT's test
        entry, stored = self._memory_lookup(X, labels)
        if not abstain:
            return stored
        abstained = self._smoothing().abstained(votes, self.sigma_, self.alpha)
        if self.memory_ is not None and self.memory_.inside_rule == "abstain":
            # The stored region's label or an abstention, never another label.
            return self._with_abstain(labels, abstained | ((entry >= 0) & (stored != labels)))
        return self._with_abstain(stored, abstained & (entry < 0))

    def _memory_lookup(self, X, labels):
        """The deciding stored entry (``-1``: none) and the memory's answer for each input."""
        memory = self._fitted_memory()
        if memory is None or len(memory) == 0:
            return np.full(len(labels), -1), labels
        return memory.lookup(self._check_inputs(X), default=labels)

    def _with_abstain(self, labels, abstained):
        return replace_labels(labels, abstained, self.abstain_label_)

    def certify(self, X, *, checkpoint=None, checkpoint_every=256):
        """Certify each input: a class and a region where the smoothed classifier provably keeps it.

        For each row: choose the noise scales, select the top class, bound its probability under
        noise from independent samples (Clopper-Pearson) and turn the bound into a certified
        region; abstain when the bound is at most 1/2. ``sampling`` chooses how many samples:
        Cohen et al.'s CERTIFY (``"fixed"``: ``n0`` then ``n``), or fewer with the same guarantee
        (``"sequential"``, ``"adaptive"``; see :mod:`smoothcert.procedures`).

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, *input_shape)
        checkpoint : str or os.PathLike, default=None
            Folder where finished chunks of rows are saved atomically; calling again with the same
            folder, estimator and ``X`` after an interruption skips them and returns exactly the
            certificates of an uninterrupted run (see :mod:`smoothcert.checkpoint`).
        checkpoint_every : int, default=256
            Rows per checkpointed chunk.

        Returns
        -------
        certificates : Certificates
            With a ``memory``, resolved against the stored regions and then stored, row by row in
            the order of ``X`` (``memory_entry`` names the deciding stored entry); results depend
            on the order of the queries (see :class:`~smoothcert.CertificateMemory`).
        """
        X = self._check_inputs(X)
        check_sample_size(self.n, self.alpha)
        if self.sigma_.data_dependent and not self.sigma_.certifies_choice and self.memory is None:
            warnings.warn(
                f"{type(self.sigma_).__name__} chooses the noise scales per input: its certificates describe "
                f"g_sigma(x) for the input's own sigma, not the classifier x -> g_sigma(x)(x), and are only "
                f"sound with memory=CertificateMemory() (or use FixedSigma).",
                SoundnessWarning,
                stacklevel=2,
            )
        if checkpoint is not None and not isinstance(checkpoint, (str, os.PathLike)):
            raise TypeError(f"checkpoint must be None or a folder path (str or os.PathLike), got {checkpoint!r}.")
        if checkpoint is None:
            certificates = self._certify_rows(X)
        else:
            if isinstance(checkpoint_every, bool) or not isinstance(checkpoint_every, int) or checkpoint_every < 1:
                raise ValueError(f"checkpoint_every must be an int >= 1, got {checkpoint_every!r}.")
            certificates = certify_in_chunks(
                self._certify_rows, X, checkpoint, checkpoint_every, fingerprint=fingerprint(self, X),
                labels=lambda class_index, abstained: self._with_abstain(self.classes_[np.maximum(class_index, 0)], abstained),
            )
        memory = self._fitted_memory()
        certificates = certificates if memory is None else memory.resolve(certificates, store=True)
        return dataclasses.replace(certificates, provenance=self._provenance())

    def _provenance(self):
        """How this estimator certifies: every setting that changes a certificate, as plain JSON values
        (the user guide's "Provenance and resumes" page lists them)."""
        try:
            model = model_digest(self.module_)
        except UnhashableError as exc:  # recorded as such: a name would claim an identity it cannot check
            model = f"unhashable: {exc}"
        record = {
            "smoothcert": __version__, "sampling": self.sampling, "n0": self.n0, "n": self.n, "alpha": self.alpha,
            "norm": self.norm, "sigma": stable_repr(self.sigma_), "seed": self.seed_, "model": model,
            "memory": self.memory_ is not None,
            # autocast and compilation change the base classifier: the certificate is for the one run this way
            "precision": self.precision, "compile": self.compile,
            # the sampling modes' settings, recorded whatever the mode (a mode ignores the others)
            "radii": self.radii, "looks": self.looks, "pilot": self.pilot, "radius_tolerance": self.radius_tolerance,
            "classes": self.classes_, "abstain_label": self.abstain_label_, "device": self.device_.type,
            "noise_stream": NOISE_STREAM_VERSION,
        }
        record.update(self._smoothing().provenance(self.sigma_, self.alpha))
        return jsonable(record)

    def _certify_rows(self, X):
        """Certificates of validated rows ``X`` (numpy), before any memory."""
        parts = self._map_rows(self._smoothing().certify_rows, X, strategy=self.sigma_, plan=self._sampling_plan())
        raw = {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
        abstained = raw["gap"] <= 0  # p_lower <= 1/2, or (DualSigma) a level that is not certified
        top = raw["class_index"]
        return Certificates.from_gap(
            gap=raw["gap"],
            sigma=raw["sigma"].astype(np.float32),
            norm=self.norm,
            center=X,
            label=self._with_abstain(self.classes_[top], abstained),
            class_index=np.where(abstained, -1, top).astype(np.int64),
            p_lower=raw["p_lower"],
            abstained=abstained,
            alpha=self.alpha,
            abstain_label=self.abstain_label_,
            n_used=raw["n_used"],
            stop_reason=raw["stop_reason"],
            radius_sigma=raw.get("radius_sigma"),
            radius_class=raw.get("radius_class"),
        )


def _is_class(label, classes):
    """Whether ``label`` equals one of ``classes`` (as a scalar: no array broadcasting)."""
    return any(bool(np.asarray(c == label).all()) for c in classes.tolist())
