"""Resumable certification: finished rows are checkpointed so a restarted run skips them.

A checkpoint is a folder: ``manifest.json`` (format, version, a fingerprint of the estimator and
the inputs, the chunk size) and one ``rows-<start>.npz`` per finished chunk of rows, each written
atomically and carrying the run's fingerprint and the rows it covers. Because noise streams are
keyed per input, a resumed run returns exactly the certificates of an uninterrupted one.

Fingerprints see behaviour, not names: the model digest covers the module's parameters, buffers
and plain attributes (every submodule's picklable state), and a callable setting (a selector
function, a collate function) is hashed by its code, constants, defaults, closure values and the
globals it reads (:func:`behaviour_digest`). What cannot be hashed is named and a resume refused.
"""

import builtins
import dataclasses
import hashlib
import json
import os
import re
import sys
import sysconfig
import types
import weakref
from dataclasses import fields
from numbers import Number

import numpy as np
import torch

from ._io import atomic_write
from .certificates import Certificates
from .sampling import NOISE_STREAM_VERSION

__all__ = [
    "UnhashableError", "behaviour_digest", "certify_in_chunks", "fingerprint", "hash_weights", "model_digest",
    "stable_repr",
]

# SHA-256 of each module's weights, once per module object: kept outside the estimator, whose state
# certify must not change (scikit-learn's check_dict_unchanged).
_DIGESTS = weakref.WeakKeyDictionary()

FORMAT = "smoothcert-certify-checkpoint"
# 2: parts carry n_used and stop_reason (sampling modes); 3: radius_sigma and radius_class (DualSigma);
# 4: fingerprints hash behaviour (module state, callables' code), parts carry the fingerprint and their rows.
VERSION = 4
_SCALARS = ("norm", "alpha", "abstain_label")
_REBUILT = ("center", "label", "provenance")  # not stored: rebuilt from X, class_index and the estimator
# Settings that change no certificate (how fast, where, how loud), or that the fingerprint sees otherwise
# (random_state through seed_, device through its type).
_UNUSED_SETTINGS = ("n_jobs", "batch_size", "verbose", "memory", "device", "random_state")


class UnhashableError(ValueError):
    """A value whose behaviour cannot be hashed (so two runs holding it cannot be told apart)."""


# Attributes every torch module has: its registries and flags, hashed through the state dict and submodules.
_MODULE_INTERNALS = frozenset(vars(torch.nn.Module()).keys()) | {"training", "_compiled_call_impl"}
_LIBRARY_ROOTS = tuple(
    os.path.realpath(p) for p in {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
)


def _is_library(obj):
    """Whether ``obj`` (a function or class) is code of an installed library or the standard library,
    which a name identifies; code of a script or of the user's own package is hashed by content."""
    module = sys.modules.get(getattr(obj, "__module__", None) or "")
    if module is None:
        return False
    path = getattr(module, "__file__", None)
    if path is None:  # built-in modules; a notebook's __main__ has no file either, and is the user's code
        return module.__name__ in sys.builtin_module_names
    path = os.path.realpath(path)
    return any(path.startswith(root + os.sep) for root in _LIBRARY_ROOTS) and "smoothcert" not in module.__name__


class _Hasher:
    """Feeds a canonical, address-free encoding of a value to a SHA-256 hash."""

    def __init__(self, state=None):
        self.h = hashlib.sha256()
        # Shared by the hashers of one digest: the objects being hashed (a cycle names its depth), the
        # digests of those done (a shared object hashes as its content, wherever it appears), and the
        # objects themselves, kept alive so that their ids are not reused meanwhile.
        self.state = state if state is not None else {"stack": [], "done": {}, "alive": []}

    def tag(self, text):
        self.h.update(text.encode() + b"\0")

    def feed(self, value, path):
        if value is None or isinstance(value, (bool, int, float, complex, str, bytes)):
            self.tag(f"{type(value).__name__}:{value!r}")
            return
        if isinstance(value, np.generic):
            self.tag(f"np:{value.dtype.str}")
            self.h.update(value.tobytes() if value.dtype.kind != "O" else repr(value).encode())
            return
        stack, done = self.state["stack"], self.state["done"]
        if id(value) in stack:
            self.tag(f"cycle:{len(stack) - stack.index(id(value))}")
            return
        if id(value) not in done:
            stack.append(id(value))
            self.state["alive"].append(value)
            child = _Hasher(self.state)
            try:
                child.encode(value, path)
            finally:
                stack.pop()
            done[id(value)] = child.h.digest()
        self.h.update(done[id(value)])

    def encode(self, value, path):
        if isinstance(value, np.ndarray):
            self.tag(f"ndarray:{value.dtype.str}:{value.shape}")
            if value.dtype.kind == "O":
                for i, item in enumerate(value.ravel().tolist()):
                    self.feed(item, f"{path}[{i}]")
            else:
                self.h.update(np.ascontiguousarray(value).tobytes())
        elif isinstance(value, torch.Tensor):
            try:
                tensor = value.detach().cpu().contiguous()
                data = tensor.reshape(-1).view(torch.uint8).numpy().tobytes()
            except Exception as exc:  # sparse, quantized or meta tensors
                raise UnhashableError(f"{path} (a {value.layout} tensor) cannot be hashed ({type(exc).__name__}: {exc})") from None
            self.tag(f"tensor:{tensor.dtype}:{tuple(tensor.shape)}")
            self.h.update(data)
        elif isinstance(value, (list, tuple)):
            self.tag(f"{type(value).__name__}:{len(value)}")
            for i, item in enumerate(value):
                self.feed(item, f"{path}[{i}]")
        elif isinstance(value, dict):
            self.tag(f"dict:{len(value)}")
            for key, item in sorted(value.items(), key=lambda kv: _sub_digest(kv[0], path)):
                self.feed(key, f"{path} key")
                self.feed(item, f"{path}[{key!r}]")
        elif isinstance(value, (set, frozenset)):
            # Sorted by digest: a set's order depends on the hash seed of its process.
            self.tag(f"set:{len(value)}:" + ",".join(sorted(_sub_digest(item, path) for item in value)))
        elif isinstance(value, types.ModuleType):
            self.tag(f"module:{value.__name__}")
        elif isinstance(value, torch.nn.Module):
            self.module(value, path)
        elif isinstance(value, types.FunctionType):
            self.function(value, path)
        elif isinstance(value, types.CodeType):
            self.code(value, path)
        elif isinstance(value, types.MethodType):
            self.tag("method")
            self.feed(value.__func__, path)
            self.feed(value.__self__, f"{path}.__self__")
        elif isinstance(value, type):
            self.cls(value, path)
        elif isinstance(value, (types.BuiltinFunctionType, types.MethodWrapperType, types.WrapperDescriptorType,
                                types.MethodDescriptorType, np.ufunc)):
            owner = getattr(value, "__self__", None)
            owner = owner.__name__ if isinstance(owner, types.ModuleType) else type(owner).__name__
            self.tag(f"builtin:{owner}.{getattr(value, '__qualname__', getattr(value, '__name__', '?'))}")
        else:
            self.reduced(value, path)

    def module(self, module, path):
        self.tag(f"nn.Module:{type(module).__module__}.{type(module).__qualname__}")
        if not _is_library(type(module)):
            self.cls(type(module), path)
        for name, tensor in module.state_dict(keep_vars=True).items():
            self.tag(f"state:{name}")
            self.feed(tensor, f"{path}.{name}")
        for name, sub in module.named_modules():
            self.tag(f"submodule:{name}:{type(sub).__module__}.{type(sub).__qualname__}")
            for key, item in sorted(vars(sub).items()):
                if key not in _MODULE_INTERNALS:
                    self.tag(f"attribute:{key}")
                    self.feed(item, f"{path}.{name + '.' if name else ''}{key}")

    def function(self, function, path):
        if _is_library(function):
            self.tag(f"library function:{function.__module__}.{function.__qualname__}")
            return
        self.tag("function")
        self.code(function.__code__, path)
        self.feed(function.__defaults__, f"{path} defaults")
        self.feed(function.__kwdefaults__, f"{path} keyword defaults")
        cells = function.__closure__ or ()
        for name, cell in zip(function.__code__.co_freevars, cells):
            try:
                content = cell.cell_contents
            except ValueError:  # an empty cell (a name assigned later)
                content = "<empty cell>"
            self.feed(content, f"{path} closure {name!r}")
        # The globals it reads: a constant or a helper function changed between runs changes the function.
        for name in sorted(_global_names(function.__code__)):
            if name in function.__globals__:
                self.tag(f"global:{name}")
                self.feed(function.__globals__[name], f"{path} global {name!r}")
            elif not hasattr(builtins, name):
                self.tag(f"missing global:{name}")

    def code(self, code, path):
        self.tag(f"code:{code.co_argcount}:{code.co_kwonlyargcount}:{code.co_flags}:{code.co_names}:{code.co_varnames}")
        self.h.update(code.co_code)
        for const in code.co_consts:
            self.feed(const, f"{path} constant")

    def cls(self, cls, path):
        self.tag(f"class:{cls.__module__}.{cls.__qualname__}")
        if _is_library(cls):
            return
        for klass in cls.__mro__:
            if klass is object or _is_library(klass):
                continue
            for key, item in sorted(vars(klass).items()):
                if isinstance(item, (staticmethod, classmethod)):
                    item = item.__func__
                if isinstance(item, property):
                    item = (item.fget, item.fset)
                if isinstance(item, (types.FunctionType, tuple, Number, str)) and not key.startswith("__"):
                    self.tag(f"class attribute:{key}")
                    self.feed(item, f"{path}.{key}")
                elif key in ("__call__", "forward", "__init__") and isinstance(item, types.FunctionType):
                    self.feed(item, f"{path}.{key}")

    def reduced(self, value, path):
        """Any other object as pickle sees it: its class and the state ``__reduce_ex__`` returns."""
        try:
            reduced = value.__reduce_ex__(4)
        except Exception as exc:
            raise UnhashableError(
                f"{path} ({type(value).__name__}) cannot be hashed: it cannot be pickled ({type(exc).__name__}: {exc})"
            ) from None
        if isinstance(reduced, str):  # a global, pickled by name
            self.tag(f"global object:{type(value).__module__}.{reduced}")
            return
        self.tag(f"object:{type(value).__module__}.{type(value).__qualname__}")
        if not _is_library(type(value)):
            self.cls(type(value), path)
        for i, part in enumerate(reduced[1:]):
            if part is None:
                continue
            if isinstance(part, types.GeneratorType) or hasattr(part, "__next__"):
                part = list(part)  # list and dict items of the reduce protocol
            self.feed(part, f"{path}" if i else f"{path} arguments")


def _global_names(code):
    """The global names a code object (and the code nested in it) reads."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


def _sub_digest(value, path):
    hasher = _Hasher()
    hasher.feed(value, path)
    return hasher.h.hexdigest()


def behaviour_digest(value, name="value"):
    """SHA-256 hex digest of what ``value`` does, never of its name or address.

    Numbers, strings, containers and arrays are hashed by value (sets in a fixed order); a function
    by its code, constants, defaults, closure values and the globals it reads (library functions by
    their qualified name); a ``torch.nn.Module`` by its class, parameters, buffers and every
    submodule's plain attributes; any other object by its class and the state pickle would store.

    Parameters
    ----------
    value : object
    name : str, default="value"
        How errors name ``value``.

    Returns
    -------
    digest : str

    Raises
    ------
    UnhashableError
        If a part of ``value`` cannot be pickled (a lock, an open file, ...): the message names it.

    Examples
    --------
    >>> from smoothcert.checkpoint import behaviour_digest
    >>> def threshold(t):
    ...     return lambda X: (X[:, 0] > t).long()
    >>> behaviour_digest(threshold(0.0)) == behaviour_digest(threshold(0.0))
    True
    >>> behaviour_digest(threshold(0.0)) == behaviour_digest(threshold(1.0))
    False
    """
    try:
        return _sub_digest(value, name)
    except RecursionError:
        raise UnhashableError(f"{name} cannot be hashed: it is nested too deeply.") from None


def _setting_digest(value, name):
    """A setting's text in the fingerprint: its repr where that is its value, its behaviour digest otherwise."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return repr(value)
    return behaviour_digest(value, name)


def fingerprint(estimator, X):
    """Hash of everything a fitted estimator's certificates of ``X`` depend on: inputs, seed, settings,
    the noise-stream version and the model (values and behaviour only, so a new process with the same
    fit gets the same hash, and two runs that differ in a selector's constant or a module's attribute
    get different ones).

    Raises
    ------
    ValueError
        If a setting or the model cannot be hashed (:class:`UnhashableError`): a resume could not
        tell this run from another one, so it is refused.
    """
    h = hashlib.sha256(np.ascontiguousarray(X).tobytes())
    try:
        # random_state is represented by seed_, the value drawn from it: a RandomState's repr holds an address.
        settings = {k: _setting_digest(v, k) for k, v in sorted(estimator.get_params(deep=True).items())
                    if k.split("__")[0] not in _UNUSED_SETTINGS}
        # The model is hashed afresh (not model_digest's cache): its weights or attributes may have changed in place.
        model = behaviour_digest(estimator.module_, "module_")
    except UnhashableError as exc:
        raise ValueError(
            f"cannot checkpoint this run: {exc}. A resume could not tell it from another run's; certify "
            f"without checkpoint=, or make that object picklable."
        ) from None
    # classes_ names the labels: the same weights fitted on renamed classes give other labels.
    classes = [repr(c) for c in estimator.classes_.tolist()]
    h.update(json.dumps([estimator.seed_, estimator.device_.type, settings, X.shape, str(X.dtype), classes,
                         NOISE_STREAM_VERSION, model]).encode())
    return h.hexdigest()


def stable_repr(value):
    """``repr(value)`` without memory addresses (a function's ``<function f at 0x...>``), so that the
    same settings give the same text in every process."""
    return re.sub(r" at 0x[0-9a-fA-F]+", "", repr(value))


def hash_weights(h, module):
    """Feed the values of ``module``'s parameters and buffers to the hash ``h`` (values only: a new
    process with the same weights gives the same hash)."""
    for tensor in module.state_dict().values():
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h


def model_digest(module):
    """The SHA-256 hex digest of ``module``'s behaviour, computed once per module object.

    Covers its class, parameters and buffers (names, dtypes, shapes and values) and every
    submodule's plain attributes (a threshold, a callable selector's code and closure values), as
    :func:`behaviour_digest`; so two modules without parameters that behave differently differ.

    Parameters
    ----------
    module : torch.nn.Module

    Returns
    -------
    digest : str

    Raises
    ------
    UnhashableError
        If an attribute of the module cannot be hashed (the message names it).
    """
    if module not in _DIGESTS:
        _DIGESTS[module] = behaviour_digest(module, "module_")
    return _DIGESTS[module]


def _load_part(path, center, labels, *, fingerprint, start):
    try:
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(str(data["header"]))
            arrays = {f.name: data[f.name] for f in fields(Certificates) if f.name not in _SCALARS + _REBUILT}
    except Exception as exc:  # any unreadable part: name it, never guess
        raise ValueError(f"checkpoint part {path!r} is unreadable ({exc}); delete it to recompute those rows.") from exc
    owner = (header.pop("fingerprint", None), header.pop("start", None), header.pop("stop", None))
    if owner != (fingerprint, start, start + len(center)):
        raise ValueError(
            f"checkpoint part {path!r} is not this run's (it holds rows {owner[1]}..{owner[2]} of run "
            f"{str(owner[0])[:12]}..., this run wants rows {start}..{start + len(center)} of run {fingerprint[:12]}...); "
            f"a part copied from another run's folder is never read as this run's rows: delete it."
        )
    if len(arrays["class_index"]) != len(center):
        raise ValueError(f"checkpoint part {path!r} has {len(arrays['class_index'])} rows, expected {len(center)}.")
    # Labels are rebuilt: string classes with a numeric abstain label make an object array, which an
    # npz file cannot hold without pickle.
    return Certificates(center=center, label=labels(arrays["class_index"], arrays["abstained"]), **arrays, **header)


def _save_part(path, cert):
    """Write the rows of ``cert``, whose provenance names the run and first row they belong to
    (``{"fingerprint": ..., "start": ...}``), so that a part copied to another run's folder is refused."""
    owner = {"fingerprint": cert.provenance["fingerprint"], "start": cert.provenance["start"]}
    header = {k: np.asarray(getattr(cert, k)).item() for k in _SCALARS}
    header = json.dumps({**header, **owner, "stop": owner["start"] + len(cert)})
    arrays = {f.name: getattr(cert, f.name) for f in fields(cert) if f.name not in _SCALARS + _REBUILT}
    atomic_write(path, lambda f: np.savez(f, header=np.array(header), **arrays))


def certify_in_chunks(certify, X, path, chunk_size, *, fingerprint, labels):
    """Raw certificates (before any memory) of validated rows ``X``, checkpointed under ``path``.

    Finished chunks found in ``path`` are read back instead of recomputed; ``SmoothedClassifier.certify``
    calls this for ``certify(X, checkpoint=path)``.

    Parameters
    ----------
    certify : callable
        Maps rows of ``X`` to their :class:`Certificates`.
    X : ndarray of shape (n_samples, *input_shape)
        Validated inputs.
    path : str or os.PathLike
        Checkpoint folder (created if missing).
    chunk_size : int
        Rows per checkpointed chunk.
    fingerprint : str
        Hash of everything the certificates depend on (see :func:`fingerprint`); a folder holding
        another one is refused.
    labels : callable
        ``labels(class_index, abstained)`` rebuilds the ``label`` column of a stored chunk.

    Returns
    -------
    certificates : Certificates

    Raises
    ------
    ValueError
        If the folder holds a checkpoint of another estimator or other inputs, of another format
        version, a part file of another run (or of other rows), or a corrupt file.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from smoothcert import SmoothedClassifier
    >>> X = np.random.default_rng(0).normal(size=(30, 2)).astype(np.float32); y = (X[:, 0] > 0).astype(int)
    >>> clf = SmoothedClassifier(n=200, max_epochs=3, random_state=0).fit(X, y)
    >>> folder = tempfile.mkdtemp()
    >>> first = clf.certify(X[:6], checkpoint=folder, checkpoint_every=4)  # writes 2 chunks
    >>> again = clf.certify(X[:6], checkpoint=folder, checkpoint_every=4)  # reads them back
    >>> bool((first.p_lower == again.p_lower).all())
    True
    """
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"checkpoint must be a folder (created if missing), but {os.fspath(path)!r} is a file; "
                         f"pass the path of a folder.")
    os.makedirs(path, exist_ok=True)
    manifest_path = os.path.join(path, "manifest.json")
    manifest = {"format": FORMAT, "version": VERSION, "fingerprint": fingerprint, "n_rows": len(X),
                "chunk_size": chunk_size}
    if os.path.exists(manifest_path):
        try:
            with open(manifest_path) as f:
                stored = json.load(f)
        except (OSError, ValueError) as exc:
            raise ValueError(f"checkpoint manifest {manifest_path!r} is unreadable ({exc}).") from exc
        if isinstance(stored, dict) and stored.get("format") == FORMAT and stored.get("version") != VERSION:
            raise ValueError(
                f"the checkpoint in {os.fspath(path)!r} has format version {stored.get('version')!r}, this smoothcert "
                f"writes version {VERSION} (whose fingerprints see more of the run); it cannot be resumed: use "
                f"another folder or delete it."
            )
        if stored != manifest:
            raise ValueError(
                f"the checkpoint in {os.fspath(path)!r} belongs to another run (other estimator, inputs, "
                f"checkpoint_every or format version); use another folder or delete it."
            )
    else:
        atomic_write(manifest_path, lambda f: f.write(json.dumps(manifest).encode()))
    parts = []
    for start in range(0, len(X), chunk_size):
        rows = X[start : start + chunk_size]
        part_path = os.path.join(path, f"rows-{start:010d}.npz")
        if os.path.exists(part_path):
            parts.append(_load_part(part_path, rows, labels, fingerprint=fingerprint, start=start))
            continue
        part = certify(rows)
        _save_part(part_path, dataclasses.replace(part, provenance={"fingerprint": fingerprint, "start": start}))
        parts.append(part)
    return Certificates.concatenate(parts)
