"""The result of :meth:`SmoothedClassifier.certify`: one certified region per input, as arrays."""

from dataclasses import dataclass, fields
from numbers import Integral

import numpy as np

from ._accuracy import accuracy_at
from ._fields import FIELDS, check_column, check_dual_radii
from ._validation import check_probability
from .noise import get_noise

__all__ = ["Certificates", "replace_labels"]

# Fields that from_arrays fills in when they are left out (or None).
_OPTIONAL = ("memory_entry", "n_used", "stop_reason", "radius_sigma", "radius_class")
# The two parts of a DualSigma certificate (nan for other strategies).
_DUAL_FIELDS = ("radius_sigma", "radius_class")


def _label_dtype(*dtypes):
    """A dtype that holds labels of all ``dtypes`` exactly: numpy's promotion, or object when
    numbers meet strings (numpy would turn ``-1`` into ``'-1'``)."""
    numeric = {d.kind in "biuf" for d in dtypes}
    if len(numeric) == 1 and not any(d.kind == "O" for d in dtypes):
        return np.result_type(*dtypes)
    return object


def _as_array(value, name):
    try:
        return np.asarray(value)
    except ValueError:  # ragged nested sequences
        raise ValueError(f"Certificates: {name} must be an array, got ragged nested sequences.") from None


def _row_field(value, name, n):
    """Field ``name`` as an array of shape ``(n,)`` obeying ``FIELDS[name]``, in the caller's dtype."""
    return check_column(value, f"Certificates: {name}", n, name, convert=False)


def _center_and_sigma(center, sigma, n):
    """``center`` and ``sigma`` checked against ``n`` rows: shapes, numbers, finite, ``sigma > 0``."""
    center = _as_array(center, "center")
    if center.ndim < 2 or len(center) != n or center.dtype.kind not in "iuf":
        raise ValueError(
            f"Certificates: center must be numbers of shape ({n}, *input_shape), got {center.dtype} {center.shape}."
        )
    # min and max instead of an elementwise test: the centers (and per-dimension sigma) of images are large.
    if center.size and not (np.isfinite(center.min()) and np.isfinite(center.max())):
        raise ValueError("Certificates: center must be finite (a region around nan or inf is no region).")
    sigma = _as_array(sigma, "sigma")
    if sigma.shape not in ((n,), center.shape) or sigma.dtype.kind not in "iuf":
        raise ValueError(
            f"Certificates: sigma must be numbers of shape ({n},) or {center.shape} (per dimension), "
            f"got {sigma.dtype} {sigma.shape}."
        )
    if sigma.size and not (sigma.min() > 0 and np.isfinite(sigma.max())):
        raise ValueError("Certificates: sigma must be finite and > 0 everywhere.")
    return center, sigma


def _as_float(values):
    return None if values is None else np.asarray(values, dtype=np.float64)


def _labels(label):
    label = _as_array(label, "label")
    if label.ndim != 1:
        raise ValueError(f"Certificates: label must be a 1-D array (one label per input), got shape {label.shape}.")
    return label


def _check_abstentions(label, abstained, abstain_label):
    """``label`` is ``abstain_label`` exactly where ``abstained``: otherwise an abstention could not be
    told from a class (or a certified row would read as an abstention)."""
    with np.errstate(invalid="ignore"):
        marked = np.asarray(label == abstain_label, dtype=bool)  # numbers vs a string label: all False
        if abstain_label != abstain_label:  # a nan abstain label
            marked = np.asarray(label != label, dtype=bool)
    if marked.shape != label.shape:
        marked = np.zeros(label.shape, dtype=bool)
    bad = np.flatnonzero(marked != abstained)
    if bad.size:
        r = bad[0]
        raise ValueError(
            f"Certificates: label must be abstain_label={abstain_label!r} exactly where abstained is True; "
            f"row {r} has label {np.asarray(label[r]).tolist()!r} and abstained={bool(abstained[r])}."
        )


def _check_norm(norm):
    if not isinstance(norm, str) or norm not in ("l2", "l1"):
        raise ValueError(f"Certificates: norm must be 'l2' (Gaussian noise) or 'l1' (uniform noise), got {norm!r}.")
    return norm


def _same(a, b):
    """Whether two settings agree; ``nan`` agrees with itself (an abstain label may be ``nan``)."""
    return bool(a == b) or (a != a and b != b)


def replace_labels(labels, index, values):
    """A copy of ``labels`` with ``labels[index] = values``, in a dtype that holds both exactly.

    Numbers and strings are never mixed by numpy's promotion (which would turn an abstain label
    ``-1`` into the string ``'-1'``): mixed kinds give an object array.

    Examples
    --------
    >>> import numpy as np
    >>> from smoothcert.certificates import replace_labels
    >>> replace_labels(np.array(["a", "b"]), [1], -1).tolist()
    ['a', -1]
    >>> replace_labels(np.array([3, 4]), np.array([True, False]), -1).tolist()
    [-1, 4]
    """
    labels, values = np.asarray(labels), np.asarray(values)
    out = labels.astype(_label_dtype(labels.dtype, values.dtype))
    out[index] = values
    return out


@dataclass(frozen=True, eq=False)
class Certificates:
    """Certified regions of a smoothed classifier, one row per input (arrays, not objects).

    Row ``i`` promises, with probability at least ``1 - alpha`` over the Monte Carlo noise, that the
    smoothed classifier predicts ``label[i]`` everywhere in the region around ``center[i]``:

    * ``norm="l2"``: the ellipsoid ``sum(((x - center) / sigma)**2) <= gap**2`` (a ball of radius
      ``radius`` when ``sigma`` is one scalar per input);
    * ``norm="l1"``: the cross-polytope ``sum(|x - center| / sigma) <= gap``.

    ``radius`` is always the worst-case l_p radius (the largest l_p ball inside the region);
    ``proxy_radius`` and ``log_volume`` measure the region's size and are *not* robustness radii.

    Parameters
    ----------
    label : ndarray of shape (n_inputs,)
        Certified class, or ``abstain_label`` where ``abstained``.
    class_index : ndarray of int64, shape (n_inputs,)
        Index of ``label`` in the estimator's ``classes_``, ``-1`` where abstained.
    p_lower : ndarray of float64, shape (n_inputs,)
        ``(1 - alpha)`` Clopper-Pearson lower bound on the top class's probability under noise.
    gap : ndarray of float64, shape (n_inputs,)
        Certified radius in units of ``sigma`` (``Phi^-1(p_lower)`` for l2, ``2 (p_lower - 1/2)``
        for l1); ``0`` where abstained.
    radius : ndarray of float64, shape (n_inputs,)
        Worst-case l_p radius, ``gap * min(sigma)``; ``0`` where abstained.
    sigma : ndarray of float32, shape (n_inputs,) or (n_inputs, *input_shape)
        Noise scale per input (Gaussian standard deviation or uniform half-width), or per input
        dimension for anisotropic noise.
    norm : {"l2", "l1"}
        Norm of the certificate.
    log_volume : ndarray of float64, shape (n_inputs,)
        Natural log of the region's volume; ``-inf`` where abstained.
    proxy_radius : ndarray of float64, shape (n_inputs,)
        Radius of the l_p ball with the region's volume, ``gap * exp(mean(log(sigma)))``.
    abstained : ndarray of bool, shape (n_inputs,)
        Where ``p_lower <= 1/2`` (or the memory decided so).
    center : ndarray of float32, shape (n_inputs, *input_shape)
        The inputs the regions are centred on.
    memory_entry : ndarray of int64, shape (n_inputs,)
        Index of the stored memory entry that decided the row (containment or shrink), ``-1`` if
        none.
    alpha : float
        Failure probability of each row's statistical bound.
    abstain_label : object
        Value of ``label`` for abstentions.
    n_used : ndarray of int64, shape (n_inputs,)
        Forward passes spent on the row by certification (selection or pilot samples included,
        the sigma strategy's optimisation not); ``-1`` where unknown.
    stop_reason : ndarray of str, shape (n_inputs,)
        Why sampling stopped: ``"max_samples"`` (drew the largest ``n``), ``"certified"`` or
        ``"abstained"`` (sequential sampling stopped early with every decision clear; adaptive
        sampling abstains on its pilot), ``"converged"`` (adaptive sampling: fewer samples give
        the radius of ``n`` within the tolerance); ``""`` where unknown. See
        :mod:`smoothcert.procedures`.
    radius_sigma : ndarray of float64, shape (n_inputs,)
        :class:`~smoothcert.DualSigma`: the radius within which the selector's choice of the
        noise level is certified constant (``inf`` with one level); ``nan`` for other strategies.
    radius_class : ndarray of float64, shape (n_inputs,)
        :class:`~smoothcert.DualSigma`: the radius the chosen level's expert certifies (``0``
        where it abstains or did not run); ``radius`` is ``min(radius_sigma, radius_class)``
        (or less, where a memory shrank it) and ``gap`` is ``radius / sigma``. ``nan`` for other
        strategies.
    provenance : dict
        How the certificates were made, for the record (``{}`` where unknown): from
        :meth:`SmoothedClassifier.certify <smoothcert.SmoothedClassifier.certify>`, as plain JSON
        values, the smoothcert version, ``sampling``, ``n0``, ``n``, ``alpha``, ``norm``, the sigma
        strategy, the noise seed ``seed_``, a SHA-256 ``model`` digest of the module's behaviour
        (weights and attributes), the sampling modes' settings, the classes, the precision, the
        device type and the noise-stream version (user guide: "Provenance and resumes"). Kept by
        slicing; :meth:`concatenate` keeps it when all parts agree and lists the parts'
        (``{"parts": [...]}``) otherwise. :func:`~smoothcert.write_results` writes it beside the
        results file.

    Examples
    --------
    >>> import numpy as np
    >>> from smoothcert import Certificates
    >>> cert = Certificates.from_arrays(label=np.array([1, -1]), class_index=np.array([1, -1]),
    ...     p_lower=np.array([0.9, 0.4]), gap=np.array([1.28, 0.0]), radius=np.array([0.32, 0.0]),
    ...     sigma=np.array([0.25, 0.25]), norm="l2", log_volume=np.array([0.1, -np.inf]),
    ...     proxy_radius=np.array([0.32, 0.0]), abstained=np.array([False, True]),
    ...     center=np.zeros((2, 3)), alpha=0.001)
    >>> cert.certified_accuracy([1, 0], radii=[0.0, 0.5]).tolist()
    [0.5, 0.0]
    """

    label: np.ndarray
    class_index: np.ndarray
    p_lower: np.ndarray
    gap: np.ndarray
    radius: np.ndarray
    sigma: np.ndarray
    norm: str
    log_volume: np.ndarray
    proxy_radius: np.ndarray
    abstained: np.ndarray
    center: np.ndarray
    memory_entry: np.ndarray
    alpha: float
    abstain_label: object = -1
    n_used: np.ndarray = None
    stop_reason: np.ndarray = None
    radius_sigma: np.ndarray = None
    radius_class: np.ndarray = None
    provenance: dict = None

    def __post_init__(self):
        # The constructor only fills defaults (rows are sliced and stacked through it, and consumers
        # such as CertificateMemory check the fields they read); by hand, use the checked from_arrays.
        if not isinstance(self.label, np.ndarray):
            raise TypeError(
                f"Certificates: label must be a numpy array, got {type(self.label).__name__}; "
                "build certificates with Certificates.from_arrays(...) (which checks and converts the fields)."
            )
        n = len(self.label)
        # Certificates made before sampling modes existed (or by hand) have no sampling record.
        if self.n_used is None:
            object.__setattr__(self, "n_used", np.full(n, -1, dtype=np.int64))
        if self.stop_reason is None:
            object.__setattr__(self, "stop_reason", np.full(n, "", dtype="<U11"))
        given = [name for name in _DUAL_FIELDS if getattr(self, name) is not None]
        if len(given) == 1:  # one radius of the two: check_dual_radii names it
            check_dual_radii(np.zeros(n), self.radius_sigma, self.radius_class, np.zeros(n, bool), name="Certificates")
        for name in _DUAL_FIELDS:
            if getattr(self, name) is None:
                object.__setattr__(self, name, np.full(n, np.nan))
        if self.provenance is None:
            object.__setattr__(self, "provenance", {})
        elif not isinstance(self.provenance, dict):
            raise TypeError(f"Certificates: provenance must be a dict, got {type(self.provenance).__name__}.")

    @classmethod
    def from_arrays(cls, *, label, norm, sigma, center, alpha, memory_entry=None, abstain_label=-1, **arrays):
        """Build from arrays (checked), filling ``memory_entry`` with ``-1`` when not given.

        Parameters
        ----------
        label, norm, sigma, center, alpha, memory_entry, abstain_label, **arrays
            The fields (see the class), as arrays or array-likes; ``n_used``, ``stop_reason``,
            ``radius_sigma`` and ``radius_class`` may be left out (both, or neither: see Notes).

        Returns
        -------
        certificates : Certificates

        Raises
        ------
        TypeError
            If a field holds the wrong kind of values (e.g. ``abstained`` not boolean), a required
            field is ``None`` or ``abstain_label`` is not a scalar.
        ValueError
            If a field has the wrong shape or an impossible value (a radius that is ``nan``,
            infinite or negative, a ``log_volume`` that is ``nan`` or ``+inf``, ``p_lower`` outside
            ``[0, 1]``, ``sigma <= 0``, a ``center`` that is not finite, ``alpha`` outside
            ``(0, 1)``, an unknown ``norm``), or if ``label`` is not ``abstain_label`` exactly where
            ``abstained``.

        Notes
        -----
        ``radius``, ``proxy_radius`` and ``log_volume`` are not checked against ``gap`` and
        ``sigma`` (hand-made certificates may round them); :meth:`from_gap` derives them.

        DualSigma's radii follow one rule, also checked by :meth:`concatenate` and the results
        files: ``radius_sigma`` and ``radius_class`` are given together and known (not ``nan``) in
        every row or in none; where known, a certified row not decided by a memory has both ``> 0``
        and ``radius <= min(radius_sigma, radius_class)``.
        """
        label = _labels(label)
        n = len(label)
        norm = _check_norm(norm)
        alpha = check_probability(alpha, "alpha")
        if np.ndim(abstain_label) != 0:
            raise TypeError(f"Certificates: abstain_label must be a scalar label (e.g. -1), got {abstain_label!r}.")
        if memory_entry is not None:
            arrays["memory_entry"] = memory_entry
        per_row = {f.name for f in fields(cls)} & FIELDS.keys()
        for name, value in list(arrays.items()):
            if name in _OPTIONAL and value is None:
                del arrays[name]
            elif name in per_row:  # other names: the constructor's TypeError names them
                if value is None:
                    raise TypeError(f"Certificates: {name} is required, got None (an array of shape ({n},)).")
                arrays[name] = _row_field(value, name, n)
        center, sigma = _center_and_sigma(center, sigma, n)
        if "abstained" in arrays and n:
            _check_abstentions(label, arrays["abstained"], abstain_label)
        if "memory_entry" not in arrays:
            arrays["memory_entry"] = np.full(n, -1, dtype=np.int64)
        arrays["memory_entry"] = arrays["memory_entry"].astype(np.int64)
        if any(name in arrays for name in _DUAL_FIELDS) and "radius" in arrays and "abstained" in arrays:
            check_dual_radii(
                arrays["radius"].astype(np.float64), *(_as_float(arrays.get(name)) for name in _DUAL_FIELDS),
                arrays["abstained"], name="Certificates", decided=arrays["memory_entry"] >= 0,
            )
        return cls(
            label=label, norm=norm, sigma=sigma, center=center, alpha=alpha, abstain_label=abstain_label, **arrays
        )

    @classmethod
    def from_gap(cls, *, gap, sigma, norm, center, **arrays):
        """Build from the gap (radius in units of ``sigma``), deriving ``radius``, ``log_volume`` and
        ``proxy_radius``: the one place where the region's size follows from ``(gap, sigma, norm)``.

        Parameters
        ----------
        gap : ndarray of float64, shape (n_inputs,)
        sigma : ndarray of float32, shape (n_inputs,) or (n_inputs, *input_shape)
        norm : {"l2", "l1"}
        center : ndarray of shape (n_inputs, *input_shape)
        **arrays
            The other fields (``label``, ``class_index``, ``p_lower``, ``abstained``, ``alpha``, ...).

        Examples
        --------
        >>> import numpy as np
        >>> from smoothcert import Certificates
        >>> cert = Certificates.from_gap(gap=np.array([2.0]), sigma=np.array([0.25], np.float32), norm="l2",
        ...     center=np.zeros((1, 2)), label=np.array([1]), class_index=np.array([1]), p_lower=np.array([0.98]),
        ...     abstained=np.array([False]), alpha=0.001)
        >>> float(cert.radius[0])
        0.5
        """
        # Checked before the sizes are derived from them: the noise's math would fail obscurely.
        if "label" not in arrays:
            raise TypeError("Certificates.from_gap() missing required keyword argument: 'label'.")
        n = len(_labels(arrays["label"]))
        noise = get_noise(_check_norm(norm))
        center, sigma = _center_and_sigma(center, sigma, n)
        gap = _row_field(gap, "gap", n)
        d = int(np.prod(center.shape[1:], dtype=np.int64))
        return cls.from_arrays(
            gap=gap, sigma=sigma, norm=norm, center=center, radius=noise.radius(gap, sigma),
            log_volume=noise.log_volume(gap, sigma, d), proxy_radius=noise.proxy_radius(gap, sigma), **arrays,
        )

    @classmethod
    def concatenate(cls, parts):
        """Stack the rows of several ``Certificates`` that describe the same kind of regions.

        Parameters
        ----------
        parts : non-empty sequence of Certificates
            With the same ``norm``, ``alpha``, ``abstain_label``, input shape (``center.shape[1:]``)
            and sigma layout (isotropic or per-dimension).

        Returns
        -------
        certificates : Certificates

        Raises
        ------
        TypeError
            If ``parts`` is not a sequence of Certificates.
        ValueError
            If ``parts`` is empty, the parts differ in one of the properties above, or DualSigma
            certificates (with ``radius_sigma`` and ``radius_class``) meet others.

        Examples
        --------
        >>> import numpy as np
        >>> from smoothcert import Certificates
        >>> cert = Certificates.from_arrays(label=np.array([1]), class_index=np.array([1]),
        ...     p_lower=np.array([0.9]), gap=np.array([1.28]), radius=np.array([0.32]),
        ...     sigma=np.array([0.25]), norm="l2", log_volume=np.array([0.1]),
        ...     proxy_radius=np.array([0.32]), abstained=np.array([False]), center=np.zeros((1, 3)), alpha=0.001)
        >>> len(Certificates.concatenate([cert, cert]))
        2
        """
        if isinstance(parts, Certificates):
            raise TypeError("parts must be a sequence of Certificates (e.g. [first, second]), got one Certificates.")
        try:
            parts = list(parts)
        except TypeError:
            raise TypeError(f"parts must be a sequence of Certificates, got {type(parts).__name__}.") from None
        if not parts:
            raise ValueError("parts is empty: concatenate needs at least one Certificates.")
        for i, part in enumerate(parts):
            if not isinstance(part, Certificates):
                raise TypeError(f"parts[{i}] must be Certificates, got {type(part).__name__}.")
        # Rows of different regions or guarantees would all be labelled with the first part's.
        shared = {
            "norm": lambda c: c.norm,
            "alpha": lambda c: c.alpha,
            "abstain_label": lambda c: c.abstain_label,
            "input shape (center.shape[1:])": lambda c: tuple(np.shape(c.center)[1:]),
            "sigma layout": lambda c: "per-dimension" if np.ndim(c.sigma) > 1 else "isotropic",
        }
        first = parts[0]
        for what, get in shared.items():
            for i, part in enumerate(parts[1:], start=1):
                if not _same(get(part), get(first)):
                    raise ValueError(
                        f"cannot concatenate Certificates with different {what}: parts[0] has {get(first)!r}, "
                        f"parts[{i}] has {get(part)!r}."
                    )
        # DualSigma rows and others in one Certificates would lose the two radii (unknown for some rows).
        kinds = {i: part.dual for i, part in enumerate(parts) if len(part)}
        if len(set(kinds.values())) > 1:
            dual = next(i for i, d in kinds.items() if d)
            other = next(i for i, d in kinds.items() if not d)
            raise ValueError(
                f"cannot concatenate DualSigma certificates (parts[{dual}], with radius_sigma and radius_class) with "
                f"certificates of another strategy (parts[{other}]): their two radii would be lost; keep them apart."
            )
        merged = {
            f.name: np.concatenate([getattr(p, f.name) for p in parts])
            if isinstance(getattr(first, f.name), np.ndarray)
            else getattr(first, f.name)
            for f in fields(first)
        }
        labels = [np.asarray(p.label) for p in parts]
        dtype = _label_dtype(*(label.dtype for label in labels))
        merged["label"] = np.concatenate([label.astype(dtype) for label in labels])
        records = [p.provenance for p in parts]
        if any(record != records[0] for record in records[1:]):
            merged["provenance"] = {"parts": records}  # several runs: keep each record, claim none
        return cls(**merged)

    def __len__(self):
        return len(self.label)

    def __contains__(self, item):
        raise TypeError("Certificates does not hold labels as items; use `item in cert.label`.")

    def __iter__(self):
        # Without it Python iterates through __getitem__, so `pred, radius = clf.certify(X)` would
        # silently unpack the two rows of a two-row X.
        raise TypeError(
            "Certificates is not iterable (it is not a tuple); use cert.label and cert.radius, or cert[i] for row i."
        )

    def __getitem__(self, index):
        """Rows ``index`` (an int, slice, boolean mask or 1-D integer array) as new ``Certificates``.

        Raises
        ------
        TypeError
            If ``index`` is none of these (a float, a str, a tuple, a 2-D array, ...).
        IndexError
            If a row is out of range, or a boolean mask does not have one entry per row.
        """
        rows = self._rows(index)
        return Certificates(
            **{
                f.name: (getattr(self, f.name)[rows] if isinstance(getattr(self, f.name), np.ndarray) else getattr(self, f.name))
                for f in fields(self)
            }
        )

    def _rows(self, index):
        """``index`` checked, as a slice, a boolean mask or integer positions (never a bare int:
        ``cert[i]`` keeps the row axis)."""
        n = len(self)
        if isinstance(index, slice):
            return index
        rows = None
        if isinstance(index, Integral) and not isinstance(index, (bool, np.bool_)):
            rows = np.array([index], dtype=np.int64)
        elif isinstance(index, np.ndarray):
            rows = index
        elif isinstance(index, list):
            try:
                rows = np.asarray(index) if index else np.zeros(0, np.int64)  # [] is float to numpy
            except ValueError:  # ragged nested lists
                pass
        if rows is None or rows.ndim != 1 or rows.dtype.kind not in "biu":
            raise TypeError(
                f"Certificates index must be an int, a slice, a boolean mask of shape ({n},) or a list or 1-D array "
                f"of ints, got {type(index).__name__} {index!r}."
            )
        if rows.dtype.kind == "b":
            if rows.shape != (n,):
                raise IndexError(f"Certificates index: a boolean mask needs one entry per row, shape ({n},), got {rows.shape}.")
            return rows
        outside = (rows < -n) | (rows >= n)
        if outside.any():
            raise IndexError(f"Certificates index: row {rows[outside][0]} is out of range for {n} certificates.")
        return rows

    @property
    def dual(self):
        """Whether the rows are DualSigma certificates (``radius_sigma`` and ``radius_class`` known)."""
        return bool(len(self)) and not np.isnan(self.radius_class).any()

    @property
    def anisotropic(self):
        """Whether ``sigma`` has one scale per input dimension."""
        return self.sigma.ndim > 1

    def certified_accuracy(self, y_true, radii=(0.0,), *, proxy=False):
        """Fraction of rows certified correct at each radius (``radius >= r``; abstain is wrong).

        Parameters
        ----------
        y_true : array-like of shape (n_inputs,)
            True labels.
        radii : float or sequence of float
            Radii at which to evaluate.
        proxy : bool, default=False
            Use ``proxy_radius`` (a volume measure for anisotropic certificates) instead of the
            worst-case ``radius``.

        Returns
        -------
        accuracy : ndarray of float64, shape (len(radii),)
        """
        return accuracy_at(y_true, self, radii, proxy=proxy)

    def to_frame(self):
        """The per-row scalars as a :class:`pandas.DataFrame` (needs pandas).

        Per-dimension ``sigma`` is summarised by its minimum (``sigma_min``) and geometric mean
        (``sigma_gm``); ``center`` is left out; ``radius_sigma`` and ``radius_class`` are columns
        of DualSigma certificates.
        """
        import pandas as pd

        columns = {  # what a reader looks for first, then how it was obtained
            "label": self.label,
            "radius": self.radius,
            "abstained": self.abstained,
            "p_lower": self.p_lower,
            "gap": self.gap,
            "proxy_radius": self.proxy_radius,
            "log_volume": self.log_volume,
            "memory_entry": self.memory_entry,
            "n_used": self.n_used,
            "stop_reason": self.stop_reason,
        }
        if self.dual:
            columns.update(radius_sigma=self.radius_sigma, radius_class=self.radius_class)
        if self.anisotropic:
            # An explicit row width: numpy cannot infer -1 for zero rows.
            flat = self.sigma.reshape(len(self), int(np.prod(self.sigma.shape[1:]))).astype(np.float64)
            columns["sigma_min"] = flat.min(axis=1)
            columns["sigma_gm"] = np.exp(np.log(flat).mean(axis=1))
        else:
            columns["sigma"] = self.sigma
        frame = pd.DataFrame(columns)
        frame.attrs.update(norm=self.norm, alpha=self.alpha, provenance=self.provenance)
        return frame
