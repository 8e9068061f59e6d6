"""Validation of SmoothedClassifier's parameters and inputs, in one place."""

import math
import warnings
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils.validation import validate_data

from .bounds import max_p_lower, min_samples_to_certify

# Parameters that SmoothedClassifier forwards like skorch (``module__hidden_units=...``).
ROUTED_PREFIXES = ("module__", "optimizer__", "criterion__", "iterator_train__", "iterator_valid__", "callbacks__")


def check_routed_kwargs(kwargs):
    """Reject keyword arguments that no prefix routes."""
    for key in kwargs:
        if not key.startswith(ROUTED_PREFIXES):
            raise TypeError(
                f"SmoothedClassifier got an unexpected keyword argument {key!r}; extra arguments "
                f"must start with one of {ROUTED_PREFIXES} (e.g. module__hidden_units=(64,))."
            )


def check_int(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an int >= {minimum}, got {type(value).__name__} {value!r}.")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value}.")
    return int(value)


def check_float(value, name, *, low, what, high=math.inf, low_inclusive=False):
    """Validate a finite real number above ``low`` (or at it) and below ``high``; return a float."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a float ({what}), got {type(value).__name__} {value!r}.")
    value = float(value)
    above = value >= low if low_inclusive else value > low
    if not (above and value < high and math.isfinite(value)):
        lower = f">= {low}" if low_inclusive else f"> {low}"
        bounds = lower if high == math.inf else f"{lower} and < {high}"
        raise ValueError(f"{name} must be a finite float {bounds} ({what}), got {value}.")
    return value


_FACTORIES = {  # parameter -> (the instances it must not be, an example of what it takes)
    "optimizer": (torch.optim.Optimizer, "torch.optim.SGD"),
    "criterion": (torch.nn.Module, "torch.nn.CrossEntropyLoss"),
}


def check_training_factories(owner):
    """``owner.optimizer`` and ``owner.criterion`` are what skorch calls to build them: a class (or a
    callable such as a ``functools.partial``), not an instance, a name or a number."""
    for name, (instance_type, example) in _FACTORIES.items():
        value = getattr(owner, name)
        if isinstance(value, type) or (callable(value) and not isinstance(value, instance_type)):
            continue
        if isinstance(value, instance_type):
            got = (f"an instance of {type(value).__name__}; an instance cannot be used (the net builds its own at "
                   f"fit): pass its class and its options as {name}__<option>=...")
        else:
            got = f"{type(value).__name__} {value!r}; e.g. {name}={example}"
        raise TypeError(f"{name} must be a class that builds the {name} ({example}), got {got}.")


def check_probability(value, name):
    """Validate a probability in the open interval (0, 1) (``alpha``, ``rho``) and return it as a float."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a float in (0, 1), got {type(value).__name__} {value!r}.")
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must be in the open interval (0, 1), got {value}.")
    return float(value)


def check_params(est):
    """Validate the scalar parameters of a SmoothedClassifier; raise naming the fix."""
    if est.norm not in ("l2", "l1"):
        raise ValueError(f"norm must be 'l2' (Gaussian noise) or 'l1' (uniform noise), got {est.norm!r}.")
    check_int(est.n_predict, "n_predict", 1)
    if not (isinstance(est.batch_size, str) and est.batch_size == "auto"):
        message = f"batch_size must be an int >= 1 or 'auto', got {est.batch_size!r}."
        if isinstance(est.batch_size, bool) or not isinstance(est.batch_size, Integral):
            raise (ValueError if isinstance(est.batch_size, str) else TypeError)(message)
        if est.batch_size < 1:
            raise ValueError(message)
    check_int(est.max_epochs, "max_epochs", 0)
    check_int(est.train_batch_size, "train_batch_size", 1)
    check_int(est.update_sigma_every, "update_sigma_every", 1)
    if not isinstance(est.verbose, bool):
        check_int(est.verbose, "verbose", 0)
    if est.precision not in ("float32", "bfloat16", "float16"):
        raise ValueError(f"precision must be 'float32', 'bfloat16' or 'float16', got {est.precision!r}.")
    if not isinstance(est.compile, bool):
        raise TypeError(f"compile must be True or False, got {est.compile!r}.")
    if est.n_jobs is not None:
        check_int(est.n_jobs, "n_jobs", -(2**31))
        if est.n_jobs == 0:
            raise ValueError("n_jobs must be None, a positive int, or negative (joblib's convention), not 0.")
    check_float(est.lr, "lr", low=0.0, what="the learning rate of training")
    check_training_factories(est)
    if np.ndim(est.abstain_label) != 0:
        raise TypeError(f"abstain_label must be a scalar label (e.g. -1), got {type(est.abstain_label).__name__}.")
    check_normalize(est.normalize)


def check_classes(classes):
    """The ``classes`` parameter as a 1-D array of distinct labels, in the given (output) order."""
    if isinstance(classes, (str, bytes)) or not hasattr(classes, "__iter__"):
        raise TypeError(f"classes must be a sequence of labels (e.g. range(10)), got {type(classes).__name__} {classes!r}.")
    if isinstance(classes, (AbstractSet, Mapping)):
        # classes[i] names output i: a set's order depends on the hash seed of the process.
        raise TypeError(
            f"classes must be an ordered sequence of labels (classes[i] is the label of output i), got a "
            f"{type(classes).__name__}, whose order is not defined; pass a list, e.g. sorted(classes)."
        )
    items = list(classes)
    kinds = {_label_kind(c) for c in items}
    if len(kinds) > 1:
        examples = {}
        for c in items:
            examples.setdefault(_label_kind(c), c)
        raise TypeError(
            f"classes must hold labels of one kind (all numbers or all strings), got {' and '.join(sorted(kinds))} "
            f"(e.g. {' and '.join(repr(v) for v in examples.values())}); numpy would silently turn them all into strings."
        )
    try:
        values = np.asarray(items)
    except ValueError:  # ragged nested sequences
        raise ValueError("classes must be a 1-D sequence of labels, got ragged nested sequences.") from None
    if values.ndim != 1:
        raise ValueError(f"classes must be a 1-D sequence of labels, got shape {values.shape}.")
    if values.dtype.kind == "f" and not np.isfinite(values).all():
        raise ValueError(f"classes must not contain nan or inf, got {values.tolist()}.")
    labels = values.tolist()
    if len(set(labels)) != len(labels):
        repeated = sorted({str(c) for c in labels if labels.count(c) > 1})
        raise ValueError(f"classes must be distinct (one label per module output), got {repeated} more than once.")
    if len(labels) < 2:
        raise ValueError(f"classes must hold at least two labels (one per module output), got {labels}.")
    return values


def _label_kind(label):
    if isinstance(label, (str, np.str_, bytes, np.bytes_)):
        return "strings"
    if isinstance(label, (Real, np.number, np.bool_)):
        return "numbers"
    return type(label).__name__


def encode_labels(y, classes):
    """Indices of the labels ``y`` in ``classes``; a label outside them is an error naming it."""
    index = {c: i for i, c in enumerate(classes.tolist())}
    try:
        return np.array([index[c] for c in y.tolist()], dtype=np.int64)
    except (KeyError, TypeError):
        unknown = sorted({str(c) for c in y.tolist() if c not in index})
        raise ValueError(f"y has labels {unknown} that are not in classes={classes.tolist()}.") from None


def check_normalize(normalize, input_shape=None):
    """``None`` or a pair ``(mean, std)`` of finite numbers or arrays (``std > 0``) that broadcast to one input."""
    if normalize is None:
        return
    if not isinstance(normalize, (tuple, list)) or len(normalize) != 2:
        raise ValueError(f"normalize must be None or a pair (mean, std), got {normalize!r}.")
    for name, value in zip(("mean", "std"), normalize):
        try:
            array = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"normalize=(mean, std): {name} must be a number or an array of numbers, got {value!r}.") from exc
        if not np.isfinite(array).all():
            raise ValueError(f"normalize=(mean, std): {name} must be finite, got {value!r}.")
        # The normalisation layer holds float32 buffers: a value finite in float64 may overflow there.
        with np.errstate(over="ignore", under="ignore"):
            as_float32 = array.astype(np.float32)
        if not np.isfinite(as_float32).all():
            raise ValueError(
                f"normalize=(mean, std): {name} must be finite in float32 (|value| <= {np.finfo(np.float32).max:.3g}), "
                f"the precision the model computes in, got {value!r}; rescale the inputs."
            )
        if name == "std" and np.any((as_float32 < np.finfo(np.float32).tiny) & (array > 0)):
            raise ValueError(
                f"normalize=(mean, std): std must be >= {np.finfo(np.float32).tiny:.3g} in float32, the precision the "
                f"model computes in (a smaller std is 0 there), got {value!r}; rescale the inputs."
            )
        if input_shape is not None:
            try:
                np.broadcast_shapes(array.shape, tuple(input_shape))
            except ValueError:
                raise ValueError(
                    f"normalize=(mean, std): {name} of shape {array.shape} does not broadcast to one input of shape "
                    f"{tuple(input_shape)} (per-channel constants of images are shaped (C, 1, 1))."
                ) from None
    if np.any(np.asarray(normalize[1], dtype=np.float64) <= 0):
        raise ValueError("normalize=(mean, std) needs std > 0 everywhere.")


def check_noise_scales(scales, strategy, n_inputs, input_shape):
    """The scales a SigmaOptimizer returned, as float32 (the dtype the noise is applied in, so the
    reported ``sigma`` is exactly the one used); shape ``(n,)`` or ``(n, *input_shape)``, finite, > 0.

    A certificate is only defined for a proper noise distribution: an infinite scale would give an
    infinite radius, a zero or negative one a meaningless region.
    """
    name = type(strategy).__name__
    shapes = ((n_inputs,), (n_inputs, *input_shape))
    if not isinstance(scales, torch.Tensor) or tuple(scales.shape) not in shapes:
        got = tuple(scales.shape) if isinstance(scales, torch.Tensor) else type(scales).__name__
        raise ValueError(f"{name}.scales must return a torch.Tensor of shape {shapes[0]} or {shapes[1]}, got {got}.")
    scales = scales.to(torch.float32)
    if not bool((torch.isfinite(scales) & (scales > 0)).all()):
        raise ValueError(
            f"{name}.scales returned noise scales that are not all positive and finite (as float32); "
            f"certificates need 0 < sigma < inf: fix the strategy or bound its scales."
        )
    return scales


def check_sample_size(n, alpha):
    """Warn when ``n`` samples can never certify at ``alpha``, naming the smallest n that can."""
    if max_p_lower(n, alpha) <= 0.5:
        warnings.warn(
            f"n={n} samples can never certify at alpha={alpha}: the largest possible lower bound "
            f"alpha**(1/n) = {max_p_lower(n, alpha):.4f} is <= 1/2, so every input would abstain. "
            f"Use n >= {min_samples_to_certify(alpha)}.",
            UserWarning,
            stacklevel=3,
        )


def resolve_device(device):
    """``"auto"`` -> CUDA when available, else CPU; anything else through ``torch.device``, checked to exist."""
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}.") from exc
    try:
        torch.empty(0, device=resolved)
    except (RuntimeError, AssertionError) as exc:  # torch asserts on a missing CUDA build or index
        raise ValueError(f"device={device!r} is not available on this machine; available: {available_devices()}.") from exc
    return resolved


def available_devices():
    """The devices torch can use here, e.g. ``['cpu', 'cuda:0']``."""
    cuda = [f"cuda:{i}" for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    return ["cpu", *cuda]


def as_numpy(X):
    """Torch tensors to numpy (detached, on the host); anything else unchanged."""
    if isinstance(X, torch.Tensor):
        return X.detach().cpu().numpy()
    return X


def check_X(est, X, *, reset):
    """Validate inputs as float32 of shape ``(n_samples, *input_shape)``, finite."""
    X = as_numpy(X)
    if not reset:
        # Before scikit-learn's feature check, whose n_features_in_ is the channel count for images.
        try:
            shape = np.shape(X)
        except (TypeError, ValueError):  # ragged rows or array-likes without a shape: validate_data decides
            shape = None
        tabular = len(est.input_shape_) == 1 and shape is not None and len(shape) <= 2  # scikit-learn's message is clear
        if shape is not None and not tabular and tuple(shape[1:]) != tuple(est.input_shape_):
            raise ValueError(
                f"X has input shape {tuple(shape[1:])} (X.shape={tuple(shape)}), but {type(est).__name__} was fitted on "
                f"inputs of shape {tuple(est.input_shape_)}; reshape X to (n_samples, *{tuple(est.input_shape_)})."
            )
    return validate_data(est, X, reset=reset, allow_nd=True, dtype=np.float32, ensure_all_finite=True, order="C")


def check_flag(value, name):
    """``value`` as a bool; a TypeError naming ``name`` unless it is ``True`` or ``False``."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}.")
    return bool(value)


def check_radii(radii):
    """Radii to evaluate at: a float or a non-empty 1-D sequence of finite floats >= 0, as float64."""
    try:
        raw = np.asarray(radii)
    except ValueError:  # ragged nested sequences
        raw = None
    # Before the float conversion: numpy would read None as nan, True as 1.0 and "0.5" as 0.5.
    if raw is None or raw.dtype.kind not in "iuf":
        shown = repr(radii) if len(repr(radii)) <= 80 else repr(radii)[:77] + "..."
        raise TypeError(f"radii must be a float or a 1-D sequence of floats, got {type(radii).__name__} {shown}.")
    values = np.atleast_1d(raw.astype(np.float64))
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"radii must be a float or a non-empty 1-D sequence of floats, got shape {values.shape}.")
    bad = np.flatnonzero(~(np.isfinite(values) & (values >= 0)))
    if bad.size:
        shown = values.tolist() if values.size <= 10 else f"radii[{bad[0]}] = {values[bad[0]]}"
        raise ValueError(f"radii must be finite and >= 0, got {shown}.")
    return values
