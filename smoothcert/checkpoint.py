"""Resumable certification: finished rows are checkpointed so a restarted run skips them.

A checkpoint is a folder: ``manifest.json`` (format, version, a fingerprint of the estimator and
the inputs, the chunk size) and one ``rows-<start>.npz`` per finished chunk of rows, each written
atomically. Because noise streams are keyed per input, a resumed run returns exactly the
certificates of an uninterrupted one.
"""

import hashlib
import json
import os
import re
import weakref
from dataclasses import fields

import numpy as np

from ._io import atomic_write
from .certificates import Certificates

__all__ = ["certify_in_chunks", "fingerprint", "hash_weights", "model_digest", "stable_repr"]

# SHA-256 of each module's weights, once per module object: kept outside the estimator, whose state
# certify must not change (scikit-learn's check_dict_unchanged).
_DIGESTS = weakref.WeakKeyDictionary()

FORMAT = "smoothcert-certify-checkpoint"
VERSION = 3  # 2: parts carry n_used and stop_reason (sampling modes); 3: radius_sigma and radius_class (DualSigma)
_SCALARS = ("norm", "alpha", "abstain_label")
_REBUILT = ("center", "label", "provenance")  # not stored: rebuilt from X, class_index and the estimator


def fingerprint(estimator, X):
    """Hash of everything a fitted estimator's certificates of ``X`` depend on: inputs, seed, settings
    and model weights (values only, so a new process with the same fit gets the same hash)."""
    h = hashlib.sha256(np.ascontiguousarray(X).tobytes())
    # random_state is represented by seed_, the value drawn from it: a RandomState's repr holds an address.
    settings = {k: stable_repr(v) for k, v in sorted(estimator.get_params(deep=True).items())
                if k.split("__")[0] not in ("n_jobs", "batch_size", "verbose", "memory", "device", "random_state")}
    # classes_ names the labels: the same weights fitted on renamed classes give other labels.
    classes = [repr(c) for c in estimator.classes_.tolist()]
    h.update(json.dumps([estimator.seed_, estimator.device_.type, settings, X.shape, classes]).encode())
    hash_weights(h, estimator.module_)
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
    """The SHA-256 hex digest of ``module``'s weights (:func:`hash_weights`), computed once per module object.

    Parameters
    ----------
    module : torch.nn.Module

    Returns
    -------
    digest : str
    """
    if module not in _DIGESTS:
        _DIGESTS[module] = hash_weights(hashlib.sha256(), module).hexdigest()
    return _DIGESTS[module]


def _load_part(path, center, labels):
    try:
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(str(data["header"]))
            arrays = {f.name: data[f.name] for f in fields(Certificates) if f.name not in _SCALARS + _REBUILT}
    except Exception as exc:  # any unreadable part: name it, never guess
        raise ValueError(f"checkpoint part {path!r} is unreadable ({exc}); delete it to recompute those rows.") from exc
    if len(arrays["class_index"]) != len(center):
        raise ValueError(f"checkpoint part {path!r} has {len(arrays['class_index'])} rows, expected {len(center)}.")
    # Labels are rebuilt: string classes with a numeric abstain label make an object array, which an
    # npz file cannot hold without pickle.
    return Certificates(center=center, label=labels(arrays["class_index"], arrays["abstained"]), **arrays, **header)


def _save_part(path, cert):
    header = json.dumps({k: np.asarray(getattr(cert, k)).item() for k in _SCALARS})
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
        If the folder holds a checkpoint of another estimator or other inputs, or a corrupt file.

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
            parts.append(_load_part(part_path, rows, labels))
            continue
        part = certify(rows)
        _save_part(part_path, part)
        parts.append(part)
    return Certificates.concatenate(parts)
