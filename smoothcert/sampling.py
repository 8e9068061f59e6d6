"""The Monte Carlo engine: counts a base classifier's votes under noise for many inputs at once.

Noise streams are keyed per input: the noise added to the ``j``-th sample of an input is a function
of ``(random_state, the input's bytes, stage, j)`` only. A certificate therefore does not depend on
the batch size, on the input's position in ``X``, on the other rows, or on how rows are sharded over
workers. Samples are drawn in fixed-size *blocks* (each from a generator seeded by
``(input key, stage, block index)``), and blocks of several inputs are packed into one forward pass.
"""

import enum
import hashlib
import time

import numpy as np
import torch

from .noise import GaussianNoise, noise_level

__all__ = [
    "Stage", "SELECTOR_STREAM", "input_keys", "sub_stream_keys", "derive_seed", "count_votes", "check_scores",
    "noise_block_size", "batch_memory_formats", "calibrate_sampling", "calibrate_batch_size",
]

_MASK64 = (1 << 64) - 1
# Noise for one block is at most this many floats (4 MiB); blocks are a unit of the noise stream,
# not of the computation, so their size depends only on the input size.
_BLOCK_ELEMENTS = 1 << 20
_MAX_BLOCK_SAMPLES = 1024
# Tag of the selector's sub-streams (see sub_stream_keys); new streams, no existing one changes.
SELECTOR_STREAM = 0x5E1EC7
# Version of the noise streams (keys, blocks, stages): recorded in provenance and checkpoint fingerprints;
# bump it with any change that alters a drawn sample, so that no run resumes or compares across it.
NOISE_STREAM_VERSION = 1


class Stage(enum.IntEnum):
    """Independent noise sub-streams of one input (Cohen et al.: selection and estimation samples
    must be independent; the sigma optimisation must not reuse certification noise).

    Examples
    --------
    >>> from smoothcert.sampling import Stage
    >>> Stage.SELECTION != Stage.ESTIMATION
    True
    """

    SELECTION = 1
    ESTIMATION = 2
    PREDICTION = 3
    OPTIMIZATION = 4


def _splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def derive_seed(*parts):
    """Mix integers into one 63-bit seed (torch generators take non-negative int64 seeds).

    Examples
    --------
    >>> from smoothcert.sampling import derive_seed
    >>> derive_seed(1, 2) == derive_seed(1, 2) != derive_seed(2, 1)
    True
    """
    h = 0
    for part in parts:
        h = _splitmix64(h ^ (int(part) & _MASK64))
    return h >> 1


def input_keys(X, seed):
    """One 63-bit key per row of ``X``, from the row's float32 bytes and ``seed``.

    Parameters
    ----------
    X : ndarray of shape (n_inputs, ...)
        Inputs; they are hashed as C-contiguous float32.
    seed : int
        Base seed (from ``random_state``).

    Returns
    -------
    keys : list of int
        Equal rows get equal keys: the smoothed classifier stays a function of the input.

    Examples
    --------
    >>> import numpy as np
    >>> from smoothcert.sampling import input_keys
    >>> keys = input_keys(np.array([[0.0, 1.0], [2.0, 3.0], [0.0, 1.0]]), seed=0)
    >>> keys[0] == keys[2] != keys[1]
    True
    """
    X = np.ascontiguousarray(X, dtype=np.float32)
    return [
        derive_seed(seed, int.from_bytes(hashlib.blake2b(row.tobytes(), digest_size=8).digest(), "little"))
        for row in X
    ]


def sub_stream_keys(keys, stream):
    """Keys of another family of noise streams of the same inputs, independent of ``keys``' own.

    DualSigma's selector draws its noise from ``sub_stream_keys(keys, SELECTOR_STREAM)``: the
    classifier's streams (keyed by ``keys``) stay exactly those of a fixed-sigma run.

    Examples
    --------
    >>> from smoothcert.sampling import SELECTOR_STREAM, sub_stream_keys
    >>> sub_stream_keys([1, 2], SELECTOR_STREAM) != [1, 2]
    True
    """
    return [derive_seed(key, stream) for key in keys]


def noise_block_size(input_numel):
    """Samples per noise block for inputs of ``input_numel`` elements (at most 2**20 floats a block).

    Examples
    --------
    >>> from smoothcert.sampling import noise_block_size
    >>> noise_block_size(64), noise_block_size(3 * 32 * 32), noise_block_size(3 * 224 * 224)
    (1024, 341, 6)
    """
    return int(max(1, min(_MAX_BLOCK_SAMPLES, _BLOCK_ELEMENTS // max(1, input_numel))))


def batch_memory_formats(X):
    """The memory formats a batch of inputs like ``X``'s may take: channels_last too for images.

    The first is the inputs' own (contiguous) layout. Whether a model runs faster on channels_last
    batches (with its weights converted too, as ``module.to(memory_format=torch.channels_last)``
    does) depends on the model and the machine: convolutions over several channels gain on CPU,
    while a ``Flatten`` after a convolution copies its channels_last output
    (``benchmarks/README.md``, the model zoo). So :func:`calibrate_sampling` times both rather
    than follow a rule.

    Examples
    --------
    >>> import torch
    >>> from smoothcert.sampling import batch_memory_formats
    >>> batch_memory_formats(torch.zeros(1, 3, 8, 8))
    (torch.contiguous_format, torch.channels_last)
    >>> batch_memory_formats(torch.zeros(1, 64))
    (torch.contiguous_format,)
    """
    return (torch.contiguous_format, torch.channels_last) if X.dim() == 4 else (torch.contiguous_format,)


def calibrate_sampling(models, X, *, noise=None, memory_budget=2**30,
                       candidates=(64, 128, 256, 512, 1024, 2048, 4096, 8192), repeats=5, max_seconds=2.0,
                       role="module", conditioned=False, scale=1.0):
    """The batch size and memory format with the fastest sampling step per sample, timed on noisy copies of ``X[0]``.

    What is timed is :func:`count_votes` on full batches: noise generation, the copy into the
    batch buffer, the forward pass and the vote counting, so the choice is the setting at which
    certification itself runs fastest. Each (size, format) pair is timed ``repeats`` times after a
    warm-up pass and scored by the median (robust to a busy machine); the formats are timed in turn
    at each size, so that a change in the machine's load falls on both. Certificates do not depend
    on the batch size (noise is keyed per input and sample), so that choice only affects speed. The
    memory format can change the last bit of a score (another convolution kernel), hence a vote
    whose two highest scores tie to rounding; so the first format of ``models`` is kept unless
    another is more than 5% faster, beyond what a busy machine's timings blur. A format in which
    the model raises a ``RuntimeError`` (``x.view(len(x), -1)`` of a channels_last activation
    does) is left out from the size where it does; the first format's errors propagate.

    Parameters
    ----------
    models : dict of torch.memory_format to callable
        The base classifier, in eval mode, for batches in each memory format to try, the
        preferred first: e.g. ``{torch.contiguous_format: module, torch.channels_last:
        channels_last_copy}`` (see :func:`batch_memory_formats`).
    X : torch.Tensor of shape (n_inputs, *input_shape)
        Inputs on the compute device (only ``X[0]`` is used).
    noise : GaussianNoise or UniformNoise, default=None
        The noise certification draws (``GaussianNoise()`` if ``None``).
    memory_budget : int, default=2**30
        Most bytes of input batch plus noise block; larger candidates are skipped.
    candidates : sequence of int
        Batch sizes to try, increasing.
    repeats : int, default=5
        Timings per size and format, each of about 20 ms of full batches.
    max_seconds : float, default=2.0
        A format's sweep stops after a size whose pass takes longer (larger batches of such a model
        gain little and the sweep would cost more than it saves), or once two sizes in a row are
        10% slower per sample than its best so far, or, where a pass takes over 20 ms (each size
        then costs six passes to time), gain less than 3% on it.
    role : str, default="module"
        How error messages name the model (see :func:`count_votes`).
    conditioned : bool, default=False
        The models take each copy's noise level too (see :func:`count_votes`).
    scale : float, default=1.0
        The noise scale of the timed copies, and so their level for a conditioned model (timing
        does not depend on it; a conditioned model should not be asked for a level it never sees).

    Returns
    -------
    batch_size : int
    memory_format : torch.memory_format
        The format of the batches, to pass to :func:`count_votes`.

    Examples
    --------
    >>> import torch
    >>> from smoothcert.sampling import calibrate_sampling
    >>> model = torch.nn.Linear(4, 2).eval()
    >>> batch_size, memory_format = calibrate_sampling({torch.contiguous_format: model}, torch.zeros(1, 4),
    ...                                                 candidates=(8, 16))
    >>> batch_size in (8, 16), memory_format
    (True, torch.contiguous_format)
    """
    noise = GaussianNoise() if noise is None else noise
    formats = tuple(models)
    x = X[:1]
    scales = torch.full((1,), scale, device=X.device, dtype=X.dtype)
    with torch.inference_mode():
        n_classes = int((models[formats[0]](x, scales) if conditioned else models[formats[0]](x)).shape[1])
    block = noise_block_size(x.numel())

    def fits(size):
        return (size + min(size, block)) * x.numel() * x.element_size() <= memory_budget

    sizes = [b for b in candidates if fits(b)] or [1]

    def per_sample(size, memory_format):
        def seconds(num, batch_size=size):
            start = time.perf_counter()
            count_votes(models[memory_format], x, scales, noise, num, [0], Stage.SELECTION, n_classes, batch_size,
                        memory_format=memory_format, role=role, conditioned=conditioned)  # synchronised
            return time.perf_counter() - start

        # The warm-up pass (kernels, allocator) is of twice the size where the budget allows. glibc's malloc
        # maps a block of a size afresh at each allocation until a larger block has been freed, so a batch's
        # activations would cost new page faults at every pass here (a 1x8x8 CNN's passes of 512 took 3.8x
        # as long), and not in the certification that follows the sweep.
        warm = 2 * size if fits(2 * size) else size
        one = seconds(warm, warm) * size / warm
        # Each timing spans about 20 ms of batches: one small batch alone is too short to time on a busy machine.
        num = size * int(np.clip(round(0.02 / max(one, 1e-6)), 1, 64))
        return float(np.median([seconds(num) for _ in range(repeats)])) / num

    best = {}  # memory format -> (seconds per sample, batch size) at its fastest size
    misses = dict.fromkeys(formats, 0)  # sizes in a row that count against going on
    sweeping = list(formats)
    for size in sizes:
        for memory_format in tuple(sweeping):
            try:
                seconds = per_sample(size, memory_format)
            except RuntimeError:
                if memory_format == formats[0]:
                    raise
                # The model does not run in this layout (e.g. view() of a channels_last activation).
                sweeping.remove(memory_format)
                continue
            record = best.get(memory_format, (float("inf"),))[0]
            if seconds < record:
                best[memory_format] = (seconds, size)
            # Long passes make the larger sizes costly to time, so there a flat curve ends the sweep too.
            long = seconds * size > 0.02
            if seconds < (0.97 if long else 1.0) * record:
                misses[memory_format] = 0
            elif long or seconds > 1.1 * record:
                misses[memory_format] += 1
            # Two in a row end the sweep: one slow timing on a busy machine does not.
            if misses[memory_format] == 2 or seconds * size > max_seconds:
                sweeping.remove(memory_format)
        if not sweeping:
            break
    own = formats[0]
    fastest = min(best, key=lambda memory_format: best[memory_format][0])
    memory_format = fastest if best[fastest][0] < 0.95 * best[own][0] else own
    return best[memory_format][1], memory_format


def calibrate_batch_size(model, X, **kwargs):
    """The batch size of :func:`calibrate_sampling` for ``model`` as given, on contiguous batches.

    Examples
    --------
    >>> import torch
    >>> from smoothcert.sampling import calibrate_batch_size
    >>> model = torch.nn.Linear(4, 2).eval()
    >>> calibrate_batch_size(model, torch.zeros(1, 4), candidates=(8, 16)) in (8, 16)
    True
    """
    return calibrate_sampling({torch.contiguous_format: model}, X, **kwargs)[0]


def _blocks(num, block):
    start = 0
    while start < num:
        size = min(block, num - start)
        yield start // block, size
        start += size


def count_votes(model, X, scales, noise, num, keys, stage, n_classes, batch_size, progress=None, start=0,
                memory_format=torch.contiguous_format, role="module", conditioned=False):
    """Count the base classifier's argmax votes on ``num`` noisy copies of every row of ``X``.

    Parameters
    ----------
    model : callable
        Maps a batch ``(b, *input_shape)`` to scores ``(b, n_classes)`` (logits or probabilities),
        in eval mode, on ``X``'s device.
    X : torch.Tensor of shape (n_inputs, *input_shape)
        Inputs, on the compute device.
    scales : torch.Tensor of shape (n_inputs,) or (n_inputs, *input_shape)
        Noise scales per input (isotropic) or per input dimension (anisotropic).
    noise : smoothcert.noise.GaussianNoise or smoothcert.noise.UniformNoise
        The unit-scale noise distribution.
    num : int or array-like of int, shape (n_inputs,)
        Noisy copies per input (exactly ``num``, the remainder batch included), or one number per
        input: inputs that need fewer copies leave their batch slots to the others.
    keys : sequence of int
        Per-input stream keys from :func:`input_keys`.
    stage : int
        A :class:`Stage` value, so that separate uses draw independent noise.
    n_classes : int
        Width of the model's output.
    batch_size : int
        Noisy copies per forward pass (copies of several inputs share a pass); peak memory is
        about ``min(batch_size, total copies)`` inputs plus one noise block.
    progress : callable or None, default=None
        Called with the number of noisy copies after each forward pass (e.g. a tqdm bar's
        ``update``).
    start : int, default=0
        Index of the first sample of the stream to draw, a multiple of
        :func:`noise_block_size`: counting ``a`` samples and then ``b`` more from ``start=a``
        adds up to the count of ``a + b`` samples (what sequential certification relies on).
    memory_format : torch.memory_format, default=torch.contiguous_format
        Layout of the batches ``model`` receives (``torch.channels_last`` for 4-D inputs only); it
        does not change the noise, only which kernels run (see :func:`calibrate_sampling`).
    role : str, default="module"
        How error messages name ``model`` (e.g. ``"DualSigma selector"``).
    conditioned : bool, default=False
        ``model`` takes each copy's noise level too, ``model(batch, levels)`` with ``levels`` of
        shape ``(b,)`` (:func:`~smoothcert.noise.noise_level` of its input's scales): a base
        classifier behind a sigma-conditioned denoiser.

    Returns
    -------
    counts : ndarray of int64, shape (n_inputs, n_classes)

    Examples
    --------
    >>> import torch
    >>> from smoothcert.noise import GaussianNoise
    >>> from smoothcert.sampling import Stage, count_votes, input_keys
    >>> model = torch.nn.Linear(2, 2).eval()
    >>> X = torch.zeros(3, 2)
    >>> counts = count_votes(model, X, torch.full((3,), 0.5), GaussianNoise(), 100,
    ...                      input_keys(X.numpy(), 0), Stage.ESTIMATION, 2, batch_size=64)
    >>> counts.shape, counts.sum(axis=1).tolist()
    ((3, 2), [100, 100, 100])
    """
    n_inputs = X.shape[0]
    input_shape = tuple(X.shape[1:])
    device = X.device
    counts = torch.zeros(n_inputs * n_classes, dtype=torch.int64, device=device)
    nums = np.broadcast_to(np.asarray(num, dtype=np.int64), (n_inputs,))
    if n_inputs == 0 or not nums.any():
        return counts.view(n_inputs, n_classes).cpu().numpy()
    per_dim = scales.dim() > 1
    block = noise_block_size(int(np.prod(input_shape, dtype=np.int64)))
    if start % block:
        # Noise is drawn a block at a time; a block's first samples differ from a shorter draw's.
        raise ValueError(f"start must be a multiple of the noise block ({block} samples), got {start}.")
    first_block = start // block
    # Never a buffer larger than the copies asked for: a huge batch_size with a small n allocates
    # only what one pass of every copy needs (the passes, and so the counts, are the same).
    batch_size = min(int(batch_size), int(nums.sum()))
    buffer = torch.empty((batch_size, *input_shape), dtype=X.dtype, device=device, memory_format=memory_format)
    owner = torch.empty(batch_size, dtype=torch.int64, device=device)  # i * n_classes for a copy of input i
    levels = noise_level(scales).to(X.dtype) if conditioned else None
    copy_levels = torch.empty(batch_size, dtype=X.dtype, device=device) if conditioned else None  # a copy's level
    ones = torch.ones(batch_size, dtype=torch.int64, device=device)
    generator = torch.Generator(device=device)
    # A float64 sum of every score: NaN and inf propagate into it, finite float32 scores cannot overflow it.
    score_sum = torch.zeros((), dtype=torch.float64, device=device)
    filled = 0

    def flush(size):
        scores = model(buffer[:size], copy_levels[:size]) if conditioned else model(buffer[:size])
        check_scores(scores, size, n_classes, role)
        # Reduced on the device and read once at the end: no host synchronisation per batch.
        score_sum.add_(scores.sum(dtype=torch.float64))
        counts.index_add_(0, owner[:size] + scores.argmax(dim=1), ones[:size])
        if progress is not None:
            progress(size)

    # One inference-mode block around the whole loop: entering it per batch cost about 10 us a batch,
    # a percent or two of a small model's pass.
    with torch.inference_mode():
        for i in range(n_inputs):
            x = X[i]
            scale = scales[i] if per_dim else scales[i].reshape((1,) * len(input_shape))
            for block_index, size in _blocks(int(nums[i]), block):
                generator.manual_seed(derive_seed(keys[i], stage, first_block + block_index))
                eps = noise.sample((size, *input_shape), generator, device, X.dtype)
                done = 0
                while done < size:
                    take = min(batch_size - filled, size - done)
                    torch.addcmul(x, eps[done : done + take], scale, out=buffer[filled : filled + take])
                    owner[filled : filled + take] = i * n_classes
                    if conditioned:
                        copy_levels[filled : filled + take] = levels[i]
                    filled += take
                    done += take
                    if filled == batch_size:
                        flush(filled)
                        filled = 0
        if filled:
            flush(filled)
    if not bool(torch.isfinite(score_sum)):
        # argmax would count NaN scores as votes for one class: a certificate from them means nothing.
        raise ValueError(
            f"{role} produced non-finite scores (NaN or inf) on noisy copies of the inputs, so no vote can be "
            "counted and nothing is certified; check the model's weights (did training diverge?) and normalize."
        )
    return counts.view(n_inputs, n_classes).cpu().numpy()


def check_scores(scores, batch, n_classes, role="module"):
    """Raise a ValueError naming ``role`` unless ``scores`` is a ``(batch, n_classes)`` tensor."""
    if not isinstance(scores, torch.Tensor):
        raise ValueError(
            f"{role} must return a torch.Tensor of scores of shape (batch, n_classes) = ({batch}, {n_classes}), "
            f"got {type(scores).__name__}; unpack tuples or convert arrays inside forward."
        )
    if tuple(scores.shape) != (batch, n_classes):
        raise ValueError(
            f"{role} must return scores of shape (batch, n_classes) = ({batch}, {n_classes}) for a batch of {batch} "
            f"inputs, got {tuple(scores.shape)}."
        )
