"""What each per-row field of a certificate holds: the one rule table of Certificates and results files.

:class:`~smoothcert.Certificates` checks its fields against :data:`FIELDS` when it is built, and
:mod:`smoothcert.results` checks the same fields (and the columns only files have) when it reads
or writes them, so a value is valid in both or in neither.
"""

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

__all__ = ["FIELDS", "check_certificates", "check_column", "check_dual_radii", "jsonable"]

# numpy dtype kinds a field may have: how to name them, and the dtype an empty field takes.
_KINDS = {
    "iu": ("integers", np.int64),
    "iuf": ("real numbers", np.float64),
    "b": ("booleans (True/False)", bool),
    "U": ("strings", str),
}


class Field(NamedTuple):
    """One per-row field: its kinds, and the rule every value must obey (as text and as a test).

    ``unknown`` is ``(text, test)`` of the marker a :class:`~smoothcert.Certificates` row holds
    where it does not know the value; results files only hold the column where every row knows it.
    """

    kinds: str
    rule: str = None
    holds: Callable = None
    unknown: tuple = None

    def must_be(self, known=False):
        """The rule as text; ``known`` leaves out the unknown marker."""
        return self.rule if self.unknown is None or known else f"{self.unknown[0]} or {self.rule}"

    def invalid(self, values, known=False):
        """Positions of the ``values`` that break the rule (the unknown marker too, if ``known``)."""
        values = np.asarray(values, dtype=np.float64)
        valid = self.holds(values)
        if self.unknown is not None and not known:
            valid |= self.unknown[1](values)
        return np.flatnonzero(~valid)


def _finite_at_least_0(v):
    return np.isfinite(v) & (v >= 0)


_NAN = ("nan (unknown)", np.isnan)
# A nan or negative radius would count as certified in the metrics, which compare radius >= r.
FIELDS = {
    "class_index": Field("iu"),
    "p_lower": Field("iuf", "in [0, 1]", lambda v: (v >= 0) & (v <= 1)),
    "gap": Field("iuf", "finite and >= 0", _finite_at_least_0),
    "radius": Field("iuf", "finite and >= 0", _finite_at_least_0),
    "proxy_radius": Field("iuf", "finite and >= 0", _finite_at_least_0),
    # -inf is the volume of an empty region (an abstention); nan and +inf are no volume.
    "log_volume": Field("iuf", "a number or -inf (not nan or +inf)", lambda v: ~np.isnan(v) & (v < np.inf)),
    "abstained": Field("b"),
    "memory_entry": Field("iu"),
    # -1 where certification did not count (certificates built by hand).
    "n_used": Field(
        "iu", "an int >= 0 (forward passes spent on the input)", lambda v: v >= 0, ("< 0 (unknown)", lambda v: v < 0)
    ),
    "stop_reason": Field("U"),
    # DualSigma's two radii, nan for other strategies; +inf: one level, certified everywhere.
    "radius_sigma": Field("iuf", ">= 0 (+inf: the level is the same everywhere)", lambda v: v >= 0, _NAN),
    "radius_class": Field("iuf", "finite and >= 0", _finite_at_least_0, _NAN),
    # Results files only: one scale per row (the smallest of per-dimension ones; Certificates check
    # sigma with the regions' centers), and the idx, correct and time columns.
    "sigma": Field("iuf", "finite and > 0", lambda v: np.isfinite(v) & (v > 0)),
    "index": Field("iu", "an int >= 0 (a position in the data set)", lambda v: v >= 0),
    "correct": Field("b"),
    "time": Field("iuf", "nan (unknown) or finite seconds >= 0", lambda v: np.isnan(v) | _finite_at_least_0(v)),
}


def check_column(values, name, n, field=None, *, known=False, convert=True):
    """``values`` as an array of shape ``(n,)`` obeying ``FIELDS[field]`` (if given); errors name ``name``.

    ``known`` refuses the field's unknown marker. ``convert`` casts to int64, float64 or bool (as
    the field's kinds); without it the caller's dtype is kept, except by empty arrays (``[]`` is
    float to numpy), which take their kind's dtype.
    """
    try:
        values = np.asarray(values)
    except ValueError:  # ragged nested sequences
        raise ValueError(f"{name} must be a 1-D array of shape ({n},), got ragged nested sequences.") from None
    if values.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},) (one entry per row), got {values.shape}.")
    if field is None:
        return values
    spec = FIELDS[field]
    what, dtype = _KINDS[spec.kinds]
    if not n:
        return values.astype(dtype)
    if values.dtype.kind not in spec.kinds:
        raise TypeError(f"{name} must hold {what}, got dtype {values.dtype}.")
    if convert:
        values = values.astype(dtype)
    if spec.rule is not None:
        bad = spec.invalid(values, known)
        if bad.size:
            raise ValueError(f"{name} must be {spec.must_be(known)}; row {bad[0]} holds {values[bad[0]].item()!r}.")
    return values


# What the metrics, tables and results files read of certificates: a Certificates, a
# CertificationResults, or any object holding these per-row fields.
_ROW_FIELDS = ("label", "abstained", "radius", "proxy_radius")


def check_certificates(certificates, name="certificates"):
    """The labels of ``certificates`` as a 1-D array, once it is known to hold certified rows.

    Raises
    ------
    TypeError
        If ``certificates`` lacks one of the fields ``label``, ``abstained``, ``radius`` and
        ``proxy_radius``.
    ValueError
        If its ``label`` is not 1-D.
    """
    if not all(hasattr(certificates, field) for field in _ROW_FIELDS):
        raise TypeError(
            f"{name} must be a smoothcert.Certificates (from SmoothedClassifier.certify), a CertificationResults "
            f"(from read_results) or another object with the fields {', '.join(_ROW_FIELDS)}, "
            f"got {type(certificates).__name__}."
        )
    label = np.asarray(certificates.label)
    if label.ndim != 1:
        raise ValueError(f"{name}.label must be a 1-D array, got shape {label.shape}.")
    return label


# radius is computed as gap * sigma with gap = min(radius_sigma / sigma, radius_class / sigma): equal to
# min(radius_sigma, radius_class) up to the rounding of that division and product.
_DUAL_RTOL = 1e-9


def check_dual_radii(radius, radius_sigma, radius_class, abstained, *, name, decided=None):
    """The one consistency rule of DualSigma's two radii, for Certificates and results files alike.

    ``radius_sigma`` and ``radius_class`` are known (not nan) together, in every row or in none
    (``None`` counts as none); where known, a certified row has both ``> 0`` and ``radius <=
    min(radius_sigma, radius_class)`` (the deployed classifier keeps its class within the smaller
    one). Rows where ``decided`` is True (a memory decided them: it may adopt a stored region) are
    exempt from the last two parts. Errors name ``name``, the row and both values.
    """
    if radius_sigma is None and radius_class is None:
        return
    n = len(radius)
    if radius_sigma is None or radius_class is None:
        given, missing = ("radius_class", "radius_sigma") if radius_sigma is None else ("radius_sigma", "radius_class")
        raise ValueError(
            f"{name}: {given} is given without {missing}; DualSigma certificates hold both radii (radius is their "
            f"minimum), other certificates neither."
        )
    sigma_known, class_known = ~np.isnan(radius_sigma), ~np.isnan(radius_class)
    bad = np.flatnonzero(sigma_known != class_known)
    if bad.size:
        r = bad[0]
        raise ValueError(
            f"{name}: row {r} has radius_sigma={radius_sigma[r].item()!r} and radius_class={radius_class[r].item()!r}; the two "
            f"DualSigma radii are known together (both numbers) or unknown together (both nan)."
        )
    if n and sigma_known.any() and not sigma_known.all():
        known, unknown = np.flatnonzero(sigma_known)[0], np.flatnonzero(~sigma_known)[0]
        raise ValueError(
            f"{name}: rows {known} and {unknown} mix DualSigma certificates (radius_sigma known) with others "
            f"(nan); keep the certificates of each strategy apart."
        )
    if not n or not sigma_known.all():
        return
    checked = np.ones(n, dtype=bool) if decided is None else ~np.asarray(decided, dtype=bool)
    certified = checked & ~np.asarray(abstained, dtype=bool)
    bad = np.flatnonzero(certified & ~((radius_sigma > 0) & (radius_class > 0)))
    if bad.size:
        r = bad[0]
        raise ValueError(
            f"{name}: row {r} is certified but has radius_sigma={radius_sigma[r].item()!r} and radius_class="
            f"{radius_class[r].item()!r}; a DualSigma row is certified only where both are > 0 (else it abstains)."
        )
    bound = np.minimum(radius_sigma, radius_class)
    with np.errstate(invalid="ignore"):
        bad = np.flatnonzero(checked & (radius > bound * (1 + _DUAL_RTOL)))
    if bad.size:
        r = bad[0]
        raise ValueError(
            f"{name}: row {r} has radius={radius[r].item()!r} above min(radius_sigma={radius_sigma[r].item()!r}, "
            f"radius_class={radius_class[r].item()!r}); a DualSigma radius is at most the smaller of its two radii."
        )


def jsonable(value):
    """``value`` as plain JSON types: numpy scalars as numbers, arrays and tuples as lists, keys as str.

    What provenance records hold, so that a results file's companion reads back with its types
    (``1500``, not ``"np.int64(1500)"``). Objects without a JSON form become their text.
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [jsonable(v) for v in (value.tolist() if isinstance(value, np.ndarray) else value)]
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
