"""Results files in Cohen et al.'s tab-separated format, and certified-accuracy tables.

Cohen, Rosenfeld and Kolter's ``certify.py`` (2019) writes one tab-separated row per certified
input, after a header line::

    idx    label    predict    radius    correct    time
    0      3        3          0.378     1          0:00:15.412345

with ``predict = -1`` for an abstention and ``correct = 1`` when the certified class is the true
label. Later work adds columns: ``sigma`` (Alfarra et al.'s data-dependent smoothing) and
``radius_proxy`` / ``min_sigma`` (Eiras et al.'s ANCER); smoothcert adds ``n_used`` (forward
passes per input) and, for :class:`~smoothcert.DualSigma`, ``radius_sigma`` / ``radius_class`` (the
two radii whose minimum is ``radius``). Papers publish their results in this
format, so writing it lets results be compared with published files and analysed with the
original ``analyze.py``.
"""

import csv
import datetime
import json
import math
import os
import re
from dataclasses import dataclass
from numbers import Real

import numpy as np

from ._accuracy import accuracy_at
from ._fields import FIELDS, check_certificates, check_column, check_dual_radii, jsonable
from ._io import atomic_write, check_path
from ._provenance import check_provenance, provenance_path, read_provenance
from ._validation import check_flag, check_int, check_probability, check_radii
from .certificates import Certificates

__all__ = ["CertificationResults", "read_results", "write_results", "certified_accuracy_table"]

_REQUIRED_COLUMNS = ("idx", "label", "predict", "radius", "correct")
_ABSTAIN = "-1"  # the format's abstention marker in the predict column
_TIMEDELTA = re.compile(r"^(?:(-?\d+) days?, )?(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$")
_TRUE = {"1": True, "0": False, "True": True, "False": False, "true": True, "false": False}
_MAX_TIMEDELTA = datetime.timedelta.max.total_seconds()
_INDEX_BOUND = 2**63  # idx is stored as int64
@dataclass(frozen=True, eq=False)
class CertificationResults:
    """Rows of a results file: what the metrics, tables and plots need, without the regions.

    The metrics of :mod:`smoothcert.metrics` accept it in place of :class:`~smoothcert.Certificates`,
    with ``y_true`` as the true labels.

    Parameters
    ----------
    index : ndarray of int64, shape (n_inputs,)
        The ``idx`` column (position of the input in its data set).
    y_true : ndarray of shape (n_inputs,)
        True labels (the ``label`` column).
    label : ndarray of shape (n_inputs,)
        Certified labels (the ``predict`` column), ``abstain_label`` where abstained.
    radius : ndarray of float64, shape (n_inputs,)
        Certified radius, ``0`` where abstained.
    correct : ndarray of bool, shape (n_inputs,)
        Whether the certified label is the true one (never where abstained).
    abstained : ndarray of bool, shape (n_inputs,)
        Where ``predict`` is ``-1``.
    proxy_radius : ndarray of float64, shape (n_inputs,)
        The ``radius_proxy`` column; a copy of ``radius`` when the file has none (isotropic
        certificates, whose proxy radius is their radius).
    time : ndarray of float64, shape (n_inputs,)
        Seconds spent per input, ``nan`` where unknown.
    sigma : ndarray of float64 of shape (n_inputs,), or None
        The ``sigma`` column, or ANCER's ``min_sigma`` (the smallest per-dimension scale).
    n_used : ndarray of int64 of shape (n_inputs,), or None
        The ``n_used`` column (forward passes spent on each input, see
        :attr:`Certificates.n_used <smoothcert.Certificates>`), or ``None`` when the file has none.
    radius_sigma, radius_class : ndarray of float64 of shape (n_inputs,), or None
        DualSigma's two radii (:attr:`Certificates.radius_sigma <smoothcert.Certificates>`): the
        ``radius_sigma`` and ``radius_class`` columns, or ``None`` when the file has none.
    provenance : dict or None
        How the certificates were made (:attr:`Certificates.provenance <smoothcert.Certificates>`),
        read from the file's ``<path>.provenance.json`` companion, or ``None`` without one.
    alpha : float or None, default=None
        Failure probability of each certificate (results files do not store it).
    abstain_label : object, default=-1
        Value of ``label`` for abstentions (``"-1"`` when labels are strings).

    Raises
    ------
    TypeError
        If a field has the wrong type (e.g. ``correct`` not boolean, ``index`` not integer).
    ValueError
        If a field has the wrong shape or a value out of range (a radius that is ``nan``, infinite
        or negative, ``alpha`` outside ``(0, 1)`` or other than the ``alpha`` its ``provenance``
        records), if ``abstained``, ``correct`` and the labels disagree, or if DualSigma's
        ``radius_sigma`` and ``radius_class`` break their rule (one without the other, a certified
        row with one of them 0, a ``radius`` above their minimum, except where ``provenance``
        records a memory).

    Examples
    --------
    >>> import os, tempfile
    >>> from smoothcert.results import read_results
    >>> path = os.path.join(tempfile.mkdtemp(), "sigma_0.25")
    >>> with open(path, "w") as f:
    ...     _ = f.write("idx\\tlabel\\tpredict\\tradius\\tcorrect\\ttime\\n"
    ...                 "0\\t3\\t3\\t0.378\\t1\\t0:00:15.412345\\n"
    ...                 "20\\t7\\t-1\\t0.0\\t0\\t0:00:15.6\\n")
    >>> results = read_results(path)
    >>> results.certified_accuracy([0.0, 0.5]).tolist()
    [0.5, 0.0]
    >>> results.abstained.tolist(), results.time.round(3).tolist()
    ([False, True], [15.412, 15.6])
    """

    index: np.ndarray
    y_true: np.ndarray
    label: np.ndarray
    radius: np.ndarray
    correct: np.ndarray
    abstained: np.ndarray
    proxy_radius: np.ndarray
    time: np.ndarray
    sigma: np.ndarray = None
    n_used: np.ndarray = None
    radius_sigma: np.ndarray = None
    radius_class: np.ndarray = None
    provenance: dict = None
    alpha: float = None
    abstain_label: object = -1

    def __post_init__(self):
        label = np.asarray(self.label)
        if label.ndim != 1:
            raise ValueError(f"CertificationResults: label must be a 1-D array, got shape {label.shape}.")
        n = len(label)
        if np.ndim(self.abstain_label) != 0:
            raise TypeError(f"CertificationResults: abstain_label must be a scalar label, got {self.abstain_label!r}.")
        checked = {"label": label, "y_true": check_column(self.y_true, "CertificationResults: y_true", n)}
        # A file holds a column only where every row knows its value (known=True).
        for name in ("index", "correct", "abstained", "radius", "proxy_radius", "time"):
            checked[name] = check_column(getattr(self, name), f"CertificationResults: {name}", n, name, known=True)
        for name in ("sigma", "n_used", "radius_sigma", "radius_class"):
            if getattr(self, name) is not None:
                checked[name] = check_column(getattr(self, name), f"CertificationResults: {name}", n, name, known=True)
        if self.provenance is not None and not isinstance(self.provenance, dict):
            raise TypeError(f"CertificationResults: provenance must be a dict or None, got {type(self.provenance).__name__}.")
        if self.alpha is not None:
            checked["alpha"] = check_probability(self.alpha, "CertificationResults: alpha")
            recorded = self.provenance.get("alpha") if isinstance(self.provenance, dict) else None
            if recorded is not None and recorded != checked["alpha"]:
                raise ValueError(
                    f"CertificationResults: alpha={checked['alpha']!r}, but its provenance records alpha={recorded!r}; "
                    f"the certificates were computed at one alpha: pass that one (or None)."
                )
        abstained = checked["abstained"]
        # A memory may adopt stored regions (radii beyond the row's own): its rows are exempt from the bound.
        remembered = bool(self.provenance.get("memory")) if isinstance(self.provenance, dict) else False
        check_dual_radii(checked["radius"], checked.get("radius_sigma"), checked.get("radius_class"), abstained,
                         name="CertificationResults", decided=np.full(n, remembered))
        if np.any(abstained != (label == self.abstain_label)):
            row = int(np.flatnonzero(abstained != (label == self.abstain_label))[0])
            raise ValueError(
                f"CertificationResults: abstained must be True exactly where label is abstain_label "
                f"({self.abstain_label!r}); row {row} has label {label[row]!r} and abstained={abstained[row]}."
            )
        expected = (~abstained) & (label == checked["y_true"])
        if np.any(checked["correct"] != expected):
            row = int(np.flatnonzero(checked["correct"] != expected)[0])
            raise ValueError(
                f"CertificationResults: correct must be (not abstained) and label == y_true; row {row} has "
                f"correct={checked['correct'][row]}, label={label[row]!r}, y_true={checked['y_true'][row]!r}."
            )
        for name, value in checked.items():
            object.__setattr__(self, name, value)  # frozen: store the validated arrays

    def __len__(self):
        return len(self.label)

    def certified_accuracy(self, radii=(0.0,), *, proxy=False):
        """Fraction of rows certified correct at each radius (``correct & radius >= r``).

        Parameters
        ----------
        radii : float or sequence of float, default=(0.0,)
            Radii at which to evaluate.
        proxy : bool, default=False
            Use ``proxy_radius`` instead of ``radius``.

        Returns
        -------
        accuracy : ndarray of float64, shape (len(radii),)

        Examples
        --------
        >>> import numpy as np
        >>> from smoothcert.results import CertificationResults
        >>> results = CertificationResults(index=np.arange(2), y_true=np.array([1, 0]), label=np.array([1, 1]),
        ...     radius=np.array([0.5, 0.2]), correct=np.array([True, False]), abstained=np.zeros(2, bool),
        ...     proxy_radius=np.array([0.5, 0.2]), time=np.full(2, np.nan))
        >>> results.certified_accuracy([0.0, 0.5, 0.6]).tolist()
        [0.5, 0.5, 0.0]
        """
        return accuracy_at(self.y_true, self, check_radii(radii), proxy=check_flag(proxy, "proxy"))

    def to_frame(self):
        """The rows as a :class:`pandas.DataFrame` with the file's column names (needs pandas).

        Returns
        -------
        frame : pandas.DataFrame
            Columns ``idx label predict radius radius_proxy correct time``, and ``sigma``,
            ``n_used``, ``radius_sigma`` and ``radius_class`` if known.

        Examples
        --------
        >>> import numpy as np
        >>> from smoothcert.results import CertificationResults
        >>> results = CertificationResults(index=np.array([20]), y_true=np.array([7]), label=np.array([-1]),
        ...     radius=np.zeros(1), correct=np.zeros(1, bool), abstained=np.ones(1, bool),
        ...     proxy_radius=np.zeros(1), time=np.array([15.6]))
        >>> results.to_frame().loc[0, ["idx", "predict", "correct"]].tolist()
        [20, -1, 0]
        """
        import pandas as pd

        columns = {
            "idx": self.index,
            "label": self.y_true,
            "predict": self.label,
            "radius": self.radius,
            "radius_proxy": self.proxy_radius,
            "correct": self.correct.astype(np.int64),
            "time": self.time,
        }
        for name in ("sigma", "n_used", "radius_sigma", "radius_class"):
            if getattr(self, name) is not None:
                columns[name] = getattr(self, name)
        return pd.DataFrame(columns)


def _format_float(value):
    # repr keeps every digit, so a written file reads back to the same float (Cohen's "{:.3}"
    # rounds radii to 3 significant digits, which shifts certified accuracy at those radii).
    return repr(float(value))


def _format_time(seconds):
    if not math.isfinite(seconds):
        return "nan"
    if seconds > _MAX_TIMEDELTA:
        return _format_float(seconds)  # beyond timedelta's range: plain seconds, which readers accept too
    return str(datetime.timedelta(seconds=float(seconds)))


def _parse_time(text):
    match = _TIMEDELTA.match(text)
    if match is None:
        return float(text)  # published files hold plain seconds ("15.4"); "nan" when unknown
    days, hours, minutes, seconds = match.groups()
    return int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _checked_certificates(certificates, name="certificates"):
    """``(label, abstained, radius, proxy_radius, min_sigma)`` of certificates, checked (``min_sigma``
    is ``None`` when unknown); errors name ``name``."""
    label = check_certificates(certificates, name)
    n = len(label)
    abstained, radius, proxy_radius = (
        check_column(getattr(certificates, field), f"{name}.{field}", n, field)
        for field in ("abstained", "radius", "proxy_radius")
    )
    sigma = getattr(certificates, "sigma", None)
    if sigma is None:
        return label, abstained, radius, proxy_radius, None
    sigma = np.asarray(sigma)
    if sigma.ndim == 0 or len(sigma) != n or math.prod(sigma.shape[1:]) == 0 or sigma.dtype.kind not in "iuf":
        raise ValueError(
            f"{name}.sigma must be numbers of shape ({n},) or ({n}, *input_shape), got {sigma.dtype} {sigma.shape}."
        )
    flat = sigma.reshape(n, math.prod(sigma.shape[1:])).astype(np.float64)
    valid = FIELDS["sigma"].holds(flat).all(axis=1)
    if not valid.all():
        raise ValueError(f"{name}.sigma must be {FIELDS['sigma'].rule}; row {int(np.flatnonzero(~valid)[0])} is not.")
    return label, abstained, radius, proxy_radius, flat.min(axis=1)


def _dual_radii(certificates, n_rows, radius, abstained):
    """``{"radius_sigma": ..., "radius_class": ...}`` of DualSigma certificates, checked (one rule:
    :func:`~smoothcert._fields.check_dual_radii`); ``{}`` for others."""
    if isinstance(certificates, Certificates) and not certificates.dual:
        if not np.isnan(certificates.radius_sigma).all() or not np.isnan(certificates.radius_class).all():
            decided = certificates.memory_entry >= 0  # some rows know the radii, others not: named there
            check_dual_radii(radius, certificates.radius_sigma, certificates.radius_class, abstained,
                             name="certificates", decided=decided)
        return {}
    given = {name: getattr(certificates, name, None) for name in ("radius_sigma", "radius_class")}
    if all(value is None for value in given.values()):
        return {}
    columns = {
        name: None if value is None else check_column(value, f"certificates.{name}", n_rows, name, known=True)
        for name, value in given.items()
    }
    if isinstance(certificates, Certificates):
        decided = certificates.memory_entry >= 0
    else:
        record = getattr(certificates, "provenance", None)
        decided = np.full(n_rows, bool(record.get("memory")) if isinstance(record, dict) else False)
    check_dual_radii(radius, columns["radius_sigma"], columns["radius_class"], abstained, name="certificates",
                     decided=decided)
    return columns


def write_results(path, certificates, y_true, times=None, index=None, *, extra_columns=True):
    """Write certificates as a results file in Cohen et al.'s tab-separated format (atomically).

    Columns ``idx label predict radius correct time`` as Cohen's ``certify.py`` writes them
    (abstentions as ``predict = -1``, ``time`` as ``H:MM:SS.ffffff``), radii with all their digits.
    With ``extra_columns``, isotropic certificates add Alfarra et al.'s ``sigma`` column (before
    ``time``) and anisotropic ones ANCER's ``radius_proxy`` and ``min_sigma`` columns, and
    certificates from a sampling run add ``n_used`` (forward passes per input), DualSigma
    certificates ``radius_sigma`` and ``radius_class``. The certificates'
    ``provenance`` (smoothcert version, sampling settings, seed, model fingerprint), when known, is
    written beside the file as ``<path>.provenance.json`` in plain JSON types (numpy scalars as
    numbers, tuples as lists), which Cohen et al.'s tools ignore and :func:`read_results` reads
    back and checks. The file is
    written to a temporary file and moved into place, so a reader never sees half a file.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; replaced if it exists.
    certificates : Certificates or CertificationResults
        Result of :meth:`SmoothedClassifier.certify`, or of :func:`read_results` (written with
        ``radius_proxy`` when its proxy radii differ from its radii, and with its ``sigma`` if known).
    y_true : array-like of shape (n_inputs,)
        True labels (the ``label`` column).
    times : float or array-like of shape (n_inputs,), default=None
        Seconds spent per input (a float applies to every row, e.g. a batch's time divided by its
        size); ``None`` writes ``nan``, and so does a ``nan`` entry.
    index : array-like of int, shape (n_inputs,), default=None
        The ``idx`` column (positions in the data set, ``>= 0``); ``None`` numbers the rows from 0.
    extra_columns : bool, default=True
        Add the ``sigma`` or ``radius_proxy``/``min_sigma`` columns, ``n_used`` and DualSigma's radii; ``False``
        writes exactly Cohen's six columns.

    Raises
    ------
    TypeError
        If an argument has the wrong type (e.g. ``index`` not integer).
    ValueError
        If an array has the wrong shape, a radius or time is negative or not finite, a label is
        ``-1`` (the format's abstention marker) or contains a tab or newline, ``y_true`` and the
        certified labels compare differently as values and as written text (``1.0`` and ``1``),
        or DualSigma's two radii break their rule (see :meth:`Certificates.from_arrays
        <smoothcert.Certificates.from_arrays>`).

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from smoothcert import Certificates
    >>> from smoothcert.results import read_results, write_results
    >>> cert = Certificates.from_arrays(label=np.array([3, -1]), class_index=np.array([3, -1]),
    ...     p_lower=np.array([0.9, 0.4]), gap=np.array([1.2816, 0.0]), radius=np.array([0.3204, 0.0]),
    ...     sigma=np.array([0.25, 0.25]), norm="l2", log_volume=np.array([0.1, -np.inf]),
    ...     proxy_radius=np.array([0.3204, 0.0]), abstained=np.array([False, True]),
    ...     center=np.zeros((2, 3)), alpha=0.001)
    >>> path = os.path.join(tempfile.mkdtemp(), "results.tsv")
    >>> write_results(path, cert, y_true=[3, 7], times=[15.25, 15.5], index=[0, 20])
    >>> for line in open(path):
    ...     print(line.split())
    ['idx', 'label', 'predict', 'radius', 'correct', 'sigma', 'time']
    ['0', '3', '3', '0.3204', '1', '0.25', '0:00:15.250000']
    ['20', '7', '-1', '0.0', '0', '0.25', '0:00:15.500000']
    >>> read_results(path).radius.tolist()
    [0.3204, 0.0]
    """
    path = check_path(path)
    extra_columns = check_flag(extra_columns, "extra_columns")
    label, abstained, radius, proxy_radius, min_sigma = _checked_certificates(certificates)
    n_rows = len(label)
    y_true = check_column(y_true, "y_true", n_rows)
    index = np.arange(n_rows) if index is None else check_column(index, "index", n_rows, "index")
    n_used = getattr(certificates, "n_used", None)
    if n_used is not None:
        n_used = check_column(n_used, "certificates.n_used", n_rows, "n_used")
        if FIELDS["n_used"].invalid(n_used, known=True).size:
            n_used = None  # unknown (-1) for some rows, e.g. certificates built by hand: no column
    if times is None:
        times = np.full(n_rows, np.nan)
    elif isinstance(times, Real) and not isinstance(times, (bool, np.bool_)):
        times = check_column(np.full(n_rows, float(times)), "times", n_rows, "time")
    else:
        times = check_column(times, "times", n_rows, "time")
    truth = [str(t) for t in y_true]
    predict = [_ABSTAIN if a else str(c) for a, c in zip(abstained, label)]
    certified = [p for p, a in zip(predict, abstained) if not a]
    unwritable = [t for t in truth + certified if t == _ABSTAIN or "\t" in t or "\n" in t]
    if unwritable:
        raise ValueError(
            f"the label {unwritable[0]!r} cannot be written: the results format marks abstentions with -1 "
            f"and separates fields by tabs and lines; encode the labels first (e.g. with LabelEncoder)."
        )
    correct = (~abstained) & (label == y_true)
    # Readers (read_results, analyze.py's users) compare the written text: it must agree with the values.
    differ = np.flatnonzero(correct != ((~abstained) & (np.array(truth, dtype=object) == np.array(predict, dtype=object))))
    if differ.size:
        row = int(differ[0])
        raise ValueError(
            f"y_true[{row}] and the certified label of row {row} compare {'equal' if correct[row] else 'different'} "
            f"but are written {truth[row]!r} and {predict[row]!r}; "
            f"give y_true the type of the certified labels (e.g. y_true.astype(int))."
        )
    header = list(_REQUIRED_COLUMNS)
    columns = [index.astype(str), truth, predict, [_format_float(r) for r in radius], correct.astype(int).astype(str)]
    if extra_columns:
        if isinstance(certificates, Certificates):
            with_proxy = certificates.anisotropic
        else:
            # A results file does not record the noise's shape; a distinct proxy radius shows it.
            with_proxy = not np.array_equal(proxy_radius, radius)
        if with_proxy:
            # ANCER's order: radius_proxy after radius, min_sigma after correct.
            header[4:4] = ["radius_proxy"]
            columns[4:4] = [[_format_float(r) for r in proxy_radius]]
        if min_sigma is not None:
            header.append("min_sigma" if with_proxy else "sigma")
            columns.append([_format_float(s) for s in min_sigma])
    if extra_columns and n_used is not None:
        header.append("n_used")
        columns.append(n_used.astype(str))
    if extra_columns:
        for name, values in _dual_radii(certificates, n_rows, radius, abstained).items():
            header.append(name)
            columns.append([_format_float(v) for v in values])
    header.append("time")
    columns.append([_format_time(t) for t in times])
    lines = ["\t".join(header)] + ["\t".join(row) for row in zip(*columns)]
    text = "\n".join(lines) + "\n"
    atomic_write(path, lambda f: f.write(text), binary=False)
    record = getattr(certificates, "provenance", None) or None
    companion = provenance_path(path)
    if record is not None:
        # Plain JSON types (numpy scalars as numbers, tuples as lists), so that the record reads back typed.
        document = json.dumps(jsonable(record), indent=1, sort_keys=True) + "\n"
        atomic_write(companion, lambda f: f.write(document), binary=False)
    elif os.path.exists(companion):
        os.remove(companion)  # a record of an earlier file at this path would describe other rows


def _parse_labels(texts):
    try:
        return np.array([int(t) for t in texts], dtype=np.int64), -1
    except (ValueError, OverflowError):
        return np.array(texts, dtype=str), _ABSTAIN


def _read_numbers(table, column, field, where, parse=float):
    """The ``column`` entries of a file as float64, checked against ``FIELDS[field]`` (known values only)."""
    texts = table[column]
    values = np.empty(len(texts))
    for row, text in enumerate(texts):
        try:
            values[row] = parse(text)
        except (ValueError, OverflowError):
            raise ValueError(f"{where(row)}: the {column} column holds {text!r}, not a number.") from None
    bad = FIELDS[field].invalid(values, known=True)
    if bad.size:
        raise ValueError(f"{where(bad[0])}: {column} must be {FIELDS[field].must_be(known=True)}, got {texts[bad[0]]!r}.")
    return values


def _read_index(texts, where):
    index = np.empty(len(texts), np.int64)
    for row, text in enumerate(texts):
        try:
            value = int(text)
        except ValueError:
            value = -1
        if not 0 <= value < _INDEX_BOUND:
            raise ValueError(f"{where(row)}: idx must be {FIELDS['index'].rule}, got {text!r}.")
        index[row] = value
    return index


def read_results(path, *, alpha=None):
    """Read a results file in Cohen et al.'s tab-separated format.

    Accepts the files of Cohen et al.'s ``certify.py`` (``time`` as ``H:MM:SS.ffffff``), the
    published data files (``time`` in seconds), Alfarra et al.'s ``sigma`` column, ANCER's
    ``radius_proxy``/``min_sigma`` columns, and files from :func:`write_results`. Columns are found
    by name; other columns are ignored.

    Parameters
    ----------
    path : str or os.PathLike
        The file (UTF-8 text).
    alpha : float or None, default=None
        Failure probability the file's certificates were computed at, in ``(0, 1)``, kept for
        :func:`~smoothcert.metrics.certified_accuracy_lower_bound`.

    Returns
    -------
    results : CertificationResults
        Labels are int64 when every ``label`` and ``predict`` entry is an integer, strings otherwise.

    Raises
    ------
    ValueError
        If the file is not UTF-8 text, a required column is missing or named twice, a row has the
        wrong number of fields, an entry is malformed (an ``idx`` that is not an int ``>= 0``; a
        ``radius`` or ``radius_proxy`` that is not a finite number ``>= 0``; a ``sigma`` or
        ``min_sigma`` that is not finite and ``> 0``; a negative ``time``; an empty label), a
        ``correct`` entry disagrees with ``label`` and ``predict`` (so the metrics, which compare
        labels, always agree with Cohen's ``analyze.py``, which reads ``correct``), ``alpha`` is
        not in ``(0, 1)``, DualSigma's ``radius_sigma`` and ``radius_class`` break their rule (one
        without the other, a certified row with one of them 0, a ``radius`` above their minimum),
        or the ``<path>.provenance.json`` companion is unreadable or contradicts the file or the
        caller (an ``alpha`` other than the one passed or outside ``(0, 1)``, ``n0`` and ``n`` that
        ``n_used`` contradicts, a DualSigma record beside a file without its radii; see the user
        guide's "Provenance and resumes"). The message names the file, the line and the column,
        or both contradicting values.

    Examples
    --------
    >>> import os, tempfile
    >>> from smoothcert.results import read_results
    >>> path = os.path.join(tempfile.mkdtemp(), "ancer.tsv")
    >>> with open(path, "w") as f:
    ...     _ = f.write("idx\\tlabel\\tpredict\\tradius\\tradius_proxy\\tcorrect\\tmin_sigma\\ttime\\n"
    ...                 "0\\t3\\t3\\t0.25\\t0.61\\t1\\t0.12\\t0:00:09.5\\n")
    >>> results = read_results(path)
    >>> results.proxy_radius.tolist(), results.sigma.tolist()
    ([0.61], [0.12])
    """
    path = check_path(path)
    if alpha is not None:
        alpha = check_probability(alpha, "alpha")
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
            numbered = [(reader.line_num, row) for row in reader if any(field.strip() for field in row)]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"{path!r} is not a results file (tab-separated UTF-8 text): {exc}.") from None
    if not numbered:
        raise ValueError(f"{path!r} is empty; a results file starts with the header idx label predict ...")
    rows = [row for _, row in numbered]
    header = [name.strip() for name in rows[0]]
    missing = [name for name in _REQUIRED_COLUMNS if name not in header]
    if missing:
        raise ValueError(
            f"{path!r} lacks the column(s) {missing}; a results file has the tab-separated header "
            f"idx label predict radius correct time (found {header})."
        )
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise ValueError(f"{path!r} names the column(s) {repeated} more than once in its header {header}.")
    for line, row in numbered[1:]:
        if len(row) != len(header):
            raise ValueError(f"{path!r}, line {line}: {len(row)} fields, but the header has {len(header)}.")
    table = {name: [row[j].strip() for row in rows[1:]] for j, name in enumerate(header)}
    lines = [line for line, _ in numbered[1:]]

    def where(row):
        return f"{path!r}, line {lines[row]}"

    for column in ("label", "predict"):
        if "" in table[column]:
            raise ValueError(f"{where(table[column].index(''))}: the {column} column is empty.")
    index = _read_index(table["idx"], where)
    predict_text = table["predict"]
    abstained = np.array([t == _ABSTAIN for t in predict_text], dtype=bool)
    try:
        correct = np.array([_TRUE[t] for t in table["correct"]], dtype=bool)
    except KeyError as exc:
        raise ValueError(f"{path!r}: the correct column holds {exc.args[0]!r}; expected 1 or 0.") from None
    n_rows = len(rows) - 1
    labels, abstain_label = _parse_labels(table["label"] + predict_text)
    # Compare the parsed labels, as the metrics do ("03" and "3" are the same int label).
    expected = (~abstained) & (labels[:n_rows] == labels[n_rows:])
    if np.any(correct != expected):
        row = int(np.flatnonzero(correct != expected)[0])
        raise ValueError(
            f"{where(row)}, idx {table['idx'][row]}: correct={table['correct'][row]} but "
            f"label={table['label'][row]} and predict={predict_text[row]}; the file is inconsistent."
        )
    radius = _read_numbers(table, "radius", "radius", where)
    sigma_name = "sigma" if "sigma" in table else "min_sigma" if "min_sigma" in table else None
    n_used = _read_numbers(table, "n_used", "n_used", where, int).astype(np.int64) if "n_used" in table else None
    provenance = read_provenance(path)
    check_provenance(provenance, path, alpha=alpha, n_used=n_used,
                      dual_columns="radius_sigma" in table or "radius_class" in table)
    return CertificationResults(
        index=index,
        y_true=labels[:n_rows],
        label=labels[n_rows:],
        radius=radius,
        correct=correct,
        abstained=abstained,
        proxy_radius=_read_numbers(table, "radius_proxy", "proxy_radius", where) if "radius_proxy" in table else radius.copy(),
        time=_read_numbers(table, "time", "time", where, _parse_time) if "time" in table else np.full(n_rows, np.nan),
        sigma=None if sigma_name is None else _read_numbers(table, sigma_name, "sigma", where),
        n_used=n_used,
        radius_sigma=_read_numbers(table, "radius_sigma", "radius_sigma", where) if "radius_sigma" in table else None,
        radius_class=_read_numbers(table, "radius_class", "radius_class", where) if "radius_class" in table else None,
        provenance=provenance,
        alpha=alpha,
        abstain_label=abstain_label,
    )


def _as_pair(result, name="result"):
    """``(y_true, certificates)`` from a pair or a :class:`CertificationResults` (which holds its labels)."""
    if isinstance(result, CertificationResults):
        return result.y_true, result
    if isinstance(result, tuple) and len(result) == 2:
        _checked_certificates(result[1], f"{name}: certificates")
        return result
    raise TypeError(
        f"{name} must be a (y_true, certificates) pair or a CertificationResults from read_results, "
        f"got {type(result).__name__}."
    )


def certified_accuracy_table(results, radii, *, fmt="markdown", decimals=2, proxy=False):
    """Certified accuracy of several models at several radii, as a Markdown or LaTeX table.

    One row per model, one column per radius, the best value of each column in bold (every value
    that ties with it once rounded), as in Cohen et al.'s ``analyze.py`` tables.

    Parameters
    ----------
    results : dict of str to (y_true, Certificates) or CertificationResults
        Row name to results (each with at least one row). Names are inserted verbatim (LaTeX math
        such as ``$\\sigma = 0.25$`` works in LaTeX tables), except that Markdown tables escape
        ``|``; a name must not hold a line break.
    radii : float or sequence of float
        Column radii, finite and ``>= 0``.
    fmt : {"markdown", "latex"}, default="markdown"
        Output format (a LaTeX ``tabular`` with booktabs rules).
    decimals : int, default=2
        Digits after the decimal point, ``>= 0``.
    proxy : bool, default=False
        Use the proxy radius.

    Returns
    -------
    table : str

    Examples
    --------
    >>> import os, tempfile
    >>> from smoothcert.results import certified_accuracy_table, read_results
    >>> folder = tempfile.mkdtemp()
    >>> for name, radius in [("a", "0.3"), ("b", "0.7")]:
    ...     with open(os.path.join(folder, name), "w") as f:
    ...         _ = f.write(f"idx\\tlabel\\tpredict\\tradius\\tcorrect\\ttime\\n0\\t1\\t1\\t{radius}\\t1\\t1.0\\n"
    ...                     "1\\t0\\t1\\t0.9\\t0\\t1.0\\n")
    >>> results = {name: read_results(os.path.join(folder, name)) for name in ["a", "b"]}
    >>> print(certified_accuracy_table(results, [0.0, 0.5]))
    |  | r = 0 | r = 0.5 |
    | --- | --- | --- |
    | a | **0.50** | 0.00 |
    | b | **0.50** | **0.50** |
    """
    if fmt not in ("markdown", "latex"):
        raise ValueError(f"fmt must be 'markdown' or 'latex', got {fmt!r}.")
    if not isinstance(results, dict) or not results:
        raise TypeError("results must be a non-empty dict mapping row names to (y_true, certificates) pairs.")
    for name in results:
        if not isinstance(name, str):
            raise TypeError(f"results must map str row names to results, got the key {name!r}.")
        if "\n" in name or "\r" in name:
            raise ValueError(f"results: the row name {name!r} holds a line break, which would break the table.")
    radii = check_radii(radii)
    decimals = check_int(decimals, "decimals", 0)
    proxy = check_flag(proxy, "proxy")
    rows = []
    for name, result in results.items():
        y_true, certificates = _as_pair(result, f"results[{name!r}]")
        if not len(certificates.label):
            raise ValueError(f"results[{name!r}] has no rows: its certified accuracy is undefined.")
        try:
            rows.append(accuracy_at(y_true, certificates, radii, proxy=proxy))
        except ValueError as exc:
            raise ValueError(f"results[{name!r}]: {exc}") from None
    accuracy = np.array(rows)
    cells = np.array([f"{value:.{decimals}f}" for value in accuracy.ravel()], dtype=object).reshape(accuracy.shape)
    # Compare the printed values, so two cells that read the same are both bold or both not.
    shown = cells.astype(np.float64)
    best = shown == shown.max(axis=0, keepdims=True)
    if fmt == "markdown":
        cells[best] = ["**" + c + "**" for c in cells[best]]
        lines = ["|  | " + " | ".join(f"r = {r:g}" for r in radii) + " |", "| --- |" + " --- |" * len(radii)]
        lines += ["| " + name.replace("|", "\\|") + " | " + " | ".join(row) + " |" for name, row in zip(results, cells)]
    else:
        cells[best] = ["\\textbf{" + c + "}" for c in cells[best]]
        lines = [
            "\\begin{tabular}{l" + "c" * len(radii) + "}",
            "\\toprule",
            " & " + " & ".join(f"$r = {r:g}$" for r in radii) + " \\\\",
            "\\midrule",
        ]
        lines += [f"{name} & " + " & ".join(row) + " \\\\" for name, row in zip(results, cells)]
        lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines)
