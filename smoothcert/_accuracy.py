"""Certified accuracy of certified rows: the kernel of :mod:`smoothcert.metrics`, which
:class:`~smoothcert.Certificates` and :mod:`smoothcert.results` share without importing it.

Rows are read by their fields (``label``, ``abstained``, ``radius``, ``proxy_radius``), never by
their class, so a :class:`~smoothcert.Certificates` and a
:class:`~smoothcert.results.CertificationResults` are scored alike.
"""

import numpy as np

from ._fields import check_certificates, check_column
from ._validation import check_flag, check_radii

__all__ = ["accuracy_at", "correct_and_radius"]


def correct_and_radius(y_true, certificates, proxy):
    """``(correct, radius)``, checked: whether each row is certified with its true label, and the
    radius compared (``proxy_radius`` if ``proxy``)."""
    label = check_certificates(certificates)
    try:
        y_true = np.asarray(y_true)
    except ValueError:  # ragged nested sequences
        raise ValueError("y_true must be a 1-D array of labels, got ragged nested sequences.") from None
    n = len(label)
    if y_true.shape != (n,):
        raise ValueError(f"y_true must have shape ({n},) (one true label per certificate), got {y_true.shape}.")
    if y_true.dtype.kind == "f" and not np.isfinite(y_true).all():
        raise ValueError("y_true must not contain nan or inf (a true label is a class of the estimator).")
    # numpy compares numbers with strings as unequal: every row would silently count as wrong.
    if n and "O" not in label.dtype.kind + y_true.dtype.kind:
        if (label.dtype.kind in "biuf") != (y_true.dtype.kind in "biuf"):
            raise TypeError(
                f"y_true holds {y_true.dtype} labels but the certified labels are {label.dtype}: "
                f"pass true labels of the same kind as the estimator's classes_."
            )
    abstained = check_column(certificates.abstained, "certificates.abstained", n, "abstained")
    name = "proxy_radius" if check_flag(proxy, "proxy") else "radius"
    # Checked: a nan radius would count as certified at every radius.
    radius = check_column(getattr(certificates, name), f"certificates.{name}", n, name)
    return (~abstained) & (label == y_true), radius


def accuracy_at(y_true, certificates, radii, *, proxy):
    """Fraction of rows certified correct at each of ``radii`` (all ``nan`` without rows): the
    computation of :func:`smoothcert.metrics.certified_accuracy`, documented there."""
    correct, radius = correct_and_radius(y_true, certificates, proxy)
    radii = check_radii(radii)
    if not len(radius):
        return np.full(radii.shape, np.nan)
    # Count correct radii >= r by binary search: a (len(radii), n) comparison matrix would need
    # 10^8 booleans for a 10^4-point curve over 10^4 inputs.
    correct_radii = np.sort(radius[correct])
    at_least = len(correct_radii) - np.searchsorted(correct_radii, radii, side="left")
    return at_least / len(radius)
