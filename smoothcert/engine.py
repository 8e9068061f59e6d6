"""The Monte Carlo engine: a fitted base classifier with everything needed to count its votes fast.

One object holds what every procedure needs and nothing of the scikit-learn face: the model (with
opt-in autocast and ``torch.compile``), the device and the copies to it, the batch size (calibrated
once for ``"auto"``), the per-input noise streams and the sharding of rows over joblib workers. It
is the single place where a device-specific fast path goes.
"""

import copy
import functools
import itertools
import weakref
from contextlib import contextmanager

import joblib
import numpy as np
import torch

from ._progress import progress_bar
from ._validation import check_noise_scales
from .denoising import takes_sigma
from .sampling import batch_memory_formats, calibrate_sampling, count_votes, input_keys, noise_block_size

__all__ = ["MonteCarloEngine", "calibrated_batch_sizes"]

# torch.compile(module), once per fitted module and process; compiled graphs do not pickle, so a
# worker that receives the engine compiles its own copy.
_COMPILED = weakref.WeakKeyDictionary()
# Calibrated "auto" (batch size, memory format) pairs per module, then per input shape, device,
# precision, noise and asked-for memory format.
_CALIBRATED = weakref.WeakKeyDictionary()
# A channels_last copy per module and process, with the state of the module's tensors it was copied
# from (see _channels_last).
_CHANNELS_LAST = weakref.WeakKeyDictionary()
_AUTOCAST = {"bfloat16": torch.bfloat16, "float16": torch.float16}


def _autocast_forward(model, device_type, dtype, *inputs):
    with torch.autocast(device_type, dtype=dtype):
        return model(*inputs)


def _channels_last(module):
    """A copy of ``module`` with its 4-D tensors in channels_last; ``module`` itself is never converted.

    The copy is made again once any tensor of ``module`` has been replaced or changed in place
    (``Tensor._version`` counts in-place changes), so it never runs outdated weights.
    """
    state = [(t.data_ptr(), t._version) for t in itertools.chain(module.parameters(), module.buffers())]
    cached = _CHANNELS_LAST.get(module)
    if cached is None or cached[0] != state:
        cached = _CHANNELS_LAST[module] = (state, copy.deepcopy(module).to(memory_format=torch.channels_last))
    return cached[1]


class MonteCarloEngine:
    """Counts a fitted base classifier's votes under noise, for many inputs at once.

    Parameters
    ----------
    module : torch.nn.Module
        The base classifier, in eval mode, on ``device``.
    noise : GaussianNoise or UniformNoise
        The noise family.
    n_classes : int
        Width of the module's output.
    seed : int
        Base seed of the per-input noise streams.
    device : torch.device
        Where the forward passes run.
    batch_size : int or "auto"
        Noisy copies per forward pass; ``"auto"`` is calibrated on the first call, together with
        ``memory_format`` when that is ``None`` (see :func:`~smoothcert.sampling.calibrate_sampling`).
        Results never depend on it.
    memory_format : torch.memory_format or None, default=None
        Layout of the forward passes: ``torch.contiguous_format`` runs ``module`` as given on
        contiguous batches; ``torch.channels_last`` (4-D inputs only) runs a channels_last copy
        of it on channels_last batches, as ``module.to(memory_format=torch.channels_last)``
        would, without converting ``module``. ``None`` is timed with an ``"auto"`` batch size
        (:func:`~smoothcert.sampling.calibrate_sampling`) and means the module as given with an
        int one. The layout can change the last bit of a score, and with it a vote whose two
        highest scores tie to rounding: pass the calibrated pair back to repeat a run exactly.
    precision : {"float32", "bfloat16", "float16"}, default="float32"
        Forward passes under ``torch.autocast`` at this precision.
    compile : bool, default=False
        Forward passes through ``torch.compile(module)``.
    verbose : int, default=0
        ``> 0`` shows a progress bar for runs lasting over a second.
    n_jobs : int or None, default=None
        Workers of :meth:`map_rows` (joblib's convention).
    role : str, default="module"
        How error messages name ``module`` (see :meth:`with_module`).

    Examples
    --------
    >>> import numpy as np, torch
    >>> from smoothcert.engine import MonteCarloEngine
    >>> from smoothcert.noise import GaussianNoise
    >>> from smoothcert.sampling import Stage
    >>> engine = MonteCarloEngine(torch.nn.Linear(2, 2).eval(), GaussianNoise(), 2, seed=0,
    ...                           device=torch.device("cpu"), batch_size=64)
    >>> X = np.zeros((3, 2), np.float32)
    >>> counts = engine.counts(engine.to_device(X), torch.full((3,), 0.5), engine.keys(X), 100, Stage.ESTIMATION)
    >>> counts.sum(axis=1).tolist()
    [100, 100, 100]
    """

    def __init__(self, module, noise, n_classes, seed, *, device, batch_size, memory_format=None, precision="float32",
                 compile=False, verbose=0, n_jobs=None, role="module"):
        self.module = module
        self.noise = noise
        self.n_classes = n_classes
        self.seed = seed
        self.device = device
        self.batch_size = batch_size
        self.memory_format = memory_format
        self.precision = precision
        self.compile = compile
        self.verbose = verbose
        self.n_jobs = n_jobs
        self.role = role
        self._update = None  # the open progress bar's update, see progress()

    def with_module(self, module, n_classes, role):
        """An engine with the same noise, seed, device and settings for another ``module`` (a
        DualSigma expert or selector), named ``role`` in error messages; its ``"auto"`` batch size
        is calibrated for that module."""
        engine = copy.copy(self)
        engine.module, engine.n_classes, engine.role = module, n_classes, role
        return engine

    @property
    def conditioned(self):
        """Whether the module takes each noisy copy's level too (it is behind a sigma-conditioned denoiser)."""
        return takes_sigma(self.module)

    def keys(self, X):
        """Per-input noise-stream keys of validated rows ``X`` (numpy)."""
        return input_keys(X, self.seed)

    def to_device(self, X):
        """``X`` as a tensor on the engine's device (pinned, non-blocking copies to CUDA)."""
        X_t = torch.as_tensor(X)
        if self.device.type == "cuda":
            X_t = X_t.pin_memory()  # lets the copy overlap with work already queued on the GPU
        return X_t.to(self.device, non_blocking=True)

    def block_size(self, X_t):
        """Samples per noise block for inputs like ``X_t``'s (looks of sequential runs fall on blocks)."""
        return noise_block_size(int(np.prod(X_t.shape[1:], dtype=np.int64)))

    def model(self, memory_format=None):
        """The callable of the forward passes on batches in ``memory_format`` (default: the engine's):
        the module, or its channels_last copy for channels_last batches, compiled and under autocast
        as asked."""
        memory_format = self.memory_format if memory_format is None else memory_format
        model = _channels_last(self.module) if memory_format == torch.channels_last else self.module
        if self.compile:
            if model not in _COMPILED:
                _COMPILED[model] = torch.compile(model)
            model = _COMPILED[model]
        if self.precision == "float32":
            return model
        return functools.partial(_autocast_forward, model, self.device.type, _AUTOCAST[self.precision])

    def resolve_batch_size(self, X_t):
        """The batch size, calibrated on ``X_t`` when it is ``"auto"`` (once per module, input shape,
        device, precision, noise and ``memory_format`` in this process), and with it the memory format."""
        if self.batch_size == "auto":
            key = (tuple(X_t.shape[1:]), X_t.dtype, str(X_t.device), self.precision, self.compile, type(self.noise),
                   self.memory_format)
            known = _CALIBRATED.setdefault(self.module, {})
            if key not in known:
                formats = batch_memory_formats(X_t) if self.memory_format is None else (self.memory_format,)
                # A conditioned model (behind a sigma-conditioned denoiser) is timed at its own default level.
                scale = getattr(self.module, "sigma", None) if self.conditioned else None
                known[key] = calibrate_sampling({f: self.model(f) for f in formats}, X_t, noise=self.noise,
                                                role=self.role, conditioned=self.conditioned, scale=scale or 1.0)
            self.batch_size, self.memory_format = known[key]
        elif self.memory_format is None:
            self.memory_format = torch.contiguous_format
        return self.batch_size

    def scales(self, strategy, X_t, keys):
        """The noise scales ``strategy`` chooses for the rows of ``X_t``, checked (float32, finite, > 0)."""
        scales = strategy.scales(self.module, X_t, noise=self.noise, keys=keys, batch_size=self.resolve_batch_size(X_t))
        return check_noise_scales(scales, strategy, len(X_t), tuple(X_t.shape[1:]))

    @contextmanager
    def progress(self, total, description):
        """One progress bar (``verbose > 0``) over every count inside the block, of at most ``total`` samples."""
        with progress_bar(self.verbose, total, description) as update:
            self._update = update
            try:
                yield
            finally:
                self._update = None

    def counts(self, X_t, scales, keys, num, stage, *, start=0):
        """Vote counts ``(n_inputs, n_classes)`` of ``num`` noisy copies per row, from sample ``start`` of
        each row's ``stage`` stream (see :func:`~smoothcert.sampling.count_votes`)."""
        if self._update is not None:
            return self._count(X_t, scales, keys, num, stage, start, self._update)
        total = int(np.sum(np.broadcast_to(num, (len(X_t),))))
        with self.progress(total, f"Monte Carlo, {total // max(1, len(X_t))} samples per input"):
            return self._count(X_t, scales, keys, num, stage, start, self._update)

    def _count(self, X_t, scales, keys, num, stage, start, update):
        batch_size = self.resolve_batch_size(X_t)
        return count_votes(
            self.model(), X_t, scales, self.noise, num, keys, stage, self.n_classes, batch_size,
            progress=update, start=start, memory_format=self.memory_format, role=self.role,
            conditioned=self.conditioned,
        )

    def map_rows(self, function, X, *, calibrate=True):
        """``function(engine, X_part)`` over shards of the rows of ``X`` on joblib workers, in row order.

        Noise streams are keyed per input, so sharding never changes a result. With ``calibrate``, an
        ``"auto"`` batch size is calibrated once, here, not per worker (``False`` for a module whose
        networks are calibrated one by one where they are used).
        """
        n_shards = min(len(X), joblib.effective_n_jobs(self.n_jobs))
        if n_shards <= 1:
            return [function(self, X)]
        if calibrate:
            self.resolve_batch_size(self.to_device(X[:1]))
        return joblib.Parallel(n_jobs=self.n_jobs)(
            joblib.delayed(function)(self, part) for part in np.array_split(X, n_shards)
        )


def calibrated_batch_sizes(module):
    """The batch sizes ``"auto"`` calibrated for ``module`` in this process, oldest first (empty if none).

    Parameters
    ----------
    module : torch.nn.Module

    Returns
    -------
    batch_sizes : list of int
    """
    return [batch_size for batch_size, _ in _CALIBRATED.get(module, {}).values()]
