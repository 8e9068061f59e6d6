"""Results files in Cohen et al.'s tab-separated format, and certified-accuracy tables.

Cohen, Rosenfeld and Kolter's ``certify.py`` (2019) writes one tab-separated row per certified
input, after a header line::

    idx    label    predict    radius    correct    time
    0      3        3          0.378     1          0:00:15.412345

with ``predict = -1`` for an abstention and ``correct = 1`` when the certified class is the true
label. Later work adds columns: ``sigma`` (Alfarra et al.'s data-dependent smoothing) and
``radius_proxy`` / ``min_sigma`` (Eiras et al.'s ANCER). Papers publish their results in this
format, so writing it lets results be compared with published files and analysed with the
original ``analyze.py``.
"""

import csv
import datetime
import math
import os
import re
from dataclasses import dataclass

import numpy as np

from ._io import atomic_write
from .metrics import certified_accuracy
from .noise import scale_summary

__all__ = ["CertificationResults", "read_results", "write_results", "certified_accuracy_table"]

_REQUIRED_COLUMNS = ("idx", "label", "predict", "radius", "correct")
_ABSTAIN = "-1"  # the format's abstention marker in the predict column
_TIMEDELTA = re.compile(r"^(?:(-?\d+) days?, )?(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$")
_TRUE = {"1": True, "0": False, "True": True, "False": False, "true": True, "false": False}


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
    alpha : float or None, default=None
        Failure probability of each certificate (results files do not store it).
    abstain_label : object, default=-1
        Value of ``label`` for abstentions (``"-1"`` when labels are strings).

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
    alpha: float = None
    abstain_label: object = -1

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
        return certified_accuracy(self.y_true, self, radii, proxy=proxy)

    def to_frame(self):
        """The rows as a :class:`pandas.DataFrame` with the file's column names (needs pandas).

        Returns
        -------
        frame : pandas.DataFrame
            Columns ``idx label predict radius radius_proxy correct time`` and ``sigma`` if known.

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
        if self.sigma is not None:
            columns["sigma"] = self.sigma
        return pd.DataFrame(columns)


def _format_float(value):
    # repr keeps every digit, so a written file reads back to the same float (Cohen's "{:.3}"
    # rounds radii to 3 significant digits, which shifts certified accuracy at those radii).
    return repr(float(value))


def _format_time(seconds):
    if not math.isfinite(seconds):
        return "nan"
    return str(datetime.timedelta(seconds=float(seconds)))


def _parse_time(text):
    match = _TIMEDELTA.match(text)
    if match is None:
        return float(text)  # published files hold plain seconds ("15.4"); "nan" when unknown
    days, hours, minutes, seconds = match.groups()
    return int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _column(values, name, n_rows):
    values = np.asarray(values)
    if values.shape != (n_rows,):
        raise ValueError(f"{name} must have shape ({n_rows},) to match the certificates, got {values.shape}.")
    return values


def write_results(path, certificates, y_true, times=None, index=None, *, extra_columns=True):
    """Write certificates as a results file in Cohen et al.'s tab-separated format (atomically).

    Columns ``idx label predict radius correct time`` as Cohen's ``certify.py`` writes them
    (abstentions as ``predict = -1``, ``time`` as ``H:MM:SS.ffffff``), radii with all their digits.
    With ``extra_columns``, isotropic certificates add Alfarra et al.'s ``sigma`` column (before
    ``time``) and anisotropic ones ANCER's ``radius_proxy`` and ``min_sigma`` columns. The file is
    written to a temporary file and moved into place, so a reader never sees half a file.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; replaced if it exists.
    certificates : Certificates
        Result of :meth:`SmoothedClassifier.certify`.
    y_true : array-like of shape (n_inputs,)
        True labels (the ``label`` column).
    times : float or array-like of shape (n_inputs,), default=None
        Seconds spent per input (a float applies to every row, e.g. a batch's time divided by its
        size); ``None`` writes ``nan``.
    index : array-like of int, shape (n_inputs,), default=None
        The ``idx`` column (positions in the data set); ``None`` numbers the rows from 0.
    extra_columns : bool, default=True
        Add the ``sigma`` or ``radius_proxy``/``min_sigma`` columns; ``False`` writes exactly
        Cohen's six columns.

    Raises
    ------
    ValueError
        If a label is ``-1`` (the format's abstention marker) or contains a tab or newline.

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
    n_rows = len(certificates)
    y_true = _column(y_true, "y_true", n_rows)
    index = np.arange(n_rows) if index is None else _column(index, "index", n_rows).astype(np.int64)
    if times is None or np.ndim(times) == 0:
        times = np.full(n_rows, np.nan if times is None else float(times))
    else:
        times = _column(times, "times", n_rows).astype(np.float64)
    abstained = np.asarray(certificates.abstained, dtype=bool)
    correct = (~abstained) & (certificates.label == y_true)
    truth = [str(t) for t in y_true]
    certified = [str(c) for c, a in zip(certificates.label, abstained) if not a]
    unwritable = [t for t in truth + certified if t == _ABSTAIN or "\t" in t or "\n" in t]
    if unwritable:
        raise ValueError(
            f"the label {unwritable[0]!r} cannot be written: the results format marks abstentions with -1 "
            f"and separates fields by tabs and lines; encode the labels first (e.g. with LabelEncoder)."
        )
    predict = [_ABSTAIN if a else str(c) for a, c in zip(abstained, certificates.label)]
    header = list(_REQUIRED_COLUMNS)
    radius = [_format_float(r) for r in certificates.radius]
    columns = [index.astype(str), truth, predict, radius, correct.astype(int).astype(str)]
    if extra_columns:
        min_sigma, _ = scale_summary(certificates.sigma)
        sigma_text = [_format_float(s) for s in min_sigma]
        if certificates.anisotropic:
            # ANCER's order: radius_proxy after radius, min_sigma after correct.
            header[4:4] = ["radius_proxy"]
            columns[4:4] = [[_format_float(r) for r in certificates.proxy_radius]]
            header.append("min_sigma")
        else:
            header.append("sigma")
        columns.append(sigma_text)
    header.append("time")
    columns.append([_format_time(t) for t in times])
    lines = ["\t".join(header)] + ["\t".join(row) for row in zip(*columns)]
    text = "\n".join(lines) + "\n"
    atomic_write(path, lambda f: f.write(text), binary=False)


def _parse_labels(texts):
    try:
        return np.array([int(t) for t in texts], dtype=np.int64), -1
    except ValueError:
        return np.array(texts, dtype=str), _ABSTAIN


def read_results(path, *, alpha=None):
    """Read a results file in Cohen et al.'s tab-separated format.

    Accepts the files of Cohen et al.'s ``certify.py`` (``time`` as ``H:MM:SS.ffffff``), the
    published data files (``time`` in seconds), Alfarra et al.'s ``sigma`` column, ANCER's
    ``radius_proxy``/``min_sigma`` columns, and files from :func:`write_results`. Columns are found
    by name; other columns are ignored.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    alpha : float or None, default=None
        Failure probability the file's certificates were computed at, kept for
        :func:`~smoothcert.metrics.certified_accuracy_lower_bound`.

    Returns
    -------
    results : CertificationResults
        Labels are int64 when every ``label`` and ``predict`` entry is an integer, strings otherwise.

    Raises
    ------
    ValueError
        If a required column is missing, a row has the wrong number of fields, or a ``correct``
        entry disagrees with ``label`` and ``predict`` (so the metrics, which compare labels, always
        agree with Cohen's ``analyze.py``, which reads ``correct``).

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
    with open(path, newline="") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        numbered = [(reader.line_num, row) for row in reader if any(field.strip() for field in row)]
    if not numbered:
        raise ValueError(f"{os.fspath(path)!r} is empty; a results file starts with the header idx label predict ...")
    rows = [row for _, row in numbered]
    header = [name.strip() for name in rows[0]]
    missing = [name for name in _REQUIRED_COLUMNS if name not in header]
    if missing:
        raise ValueError(
            f"{os.fspath(path)!r} lacks the column(s) {missing}; a results file has the tab-separated header "
            f"idx label predict radius correct time (found {header})."
        )
    for line, row in numbered[1:]:
        if len(row) != len(header):
            raise ValueError(f"{os.fspath(path)!r}, line {line}: {len(row)} fields, but the header has {len(header)}.")
    table = {name: [row[j].strip() for row in rows[1:]] for j, name in enumerate(header)}

    predict_text = table["predict"]
    abstained = np.array([t == _ABSTAIN for t in predict_text], dtype=bool)
    try:
        correct = np.array([_TRUE[t] for t in table["correct"]], dtype=bool)
    except KeyError as exc:
        raise ValueError(f"{os.fspath(path)!r}: the correct column holds {exc.args[0]!r}; expected 1 or 0.") from None
    expected = (~abstained) & (np.array(predict_text) == np.array(table["label"]))
    if np.any(correct != expected):
        row = int(np.flatnonzero(correct != expected)[0])
        raise ValueError(
            f"{os.fspath(path)!r}, idx {table['idx'][row]}: correct={table['correct'][row]} but "
            f"label={table['label'][row]} and predict={predict_text[row]}; the file is inconsistent."
        )
    labels, abstain_label = _parse_labels(table["label"] + predict_text)
    radius = np.array(table["radius"], dtype=np.float64)
    sigma_name = "sigma" if "sigma" in table else "min_sigma" if "min_sigma" in table else None
    n_rows = len(rows) - 1
    return CertificationResults(
        index=np.array(table["idx"], dtype=np.int64),
        y_true=labels[:n_rows],
        label=labels[n_rows:],
        radius=radius,
        correct=correct,
        abstained=abstained,
        proxy_radius=np.array(table["radius_proxy"], dtype=np.float64) if "radius_proxy" in table else radius.copy(),
        time=np.array([_parse_time(t) for t in table["time"]]) if "time" in table else np.full(n_rows, np.nan),
        sigma=None if sigma_name is None else np.array(table[sigma_name], dtype=np.float64),
        alpha=alpha,
        abstain_label=abstain_label,
    )


def _as_pair(result):
    """``(y_true, certificates)`` from a pair or a :class:`CertificationResults` (which holds its labels)."""
    if isinstance(result, CertificationResults):
        return result.y_true, result
    if isinstance(result, tuple) and len(result) == 2:
        return result
    raise TypeError(
        "each result must be a (y_true, certificates) pair or a CertificationResults from read_results, "
        f"got {type(result).__name__}."
    )


def certified_accuracy_table(results, radii, *, fmt="markdown", decimals=2, proxy=False):
    """Certified accuracy of several models at several radii, as a Markdown or LaTeX table.

    One row per model, one column per radius, the best value of each column in bold (every value
    that ties with it once rounded), as in Cohen et al.'s ``analyze.py`` tables.

    Parameters
    ----------
    results : dict of str to (y_true, Certificates) or CertificationResults
        Row name to results. Names are inserted verbatim (LaTeX math such as ``$\\sigma = 0.25$``
        works in LaTeX tables).
    radii : sequence of float
        Column radii.
    fmt : {"markdown", "latex"}, default="markdown"
        Output format (a LaTeX ``tabular`` with booktabs rules).
    decimals : int, default=2
        Digits after the decimal point.
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
    radii = np.atleast_1d(np.asarray(radii, dtype=np.float64))
    accuracy = np.array([certified_accuracy(*_as_pair(r), radii, proxy=proxy) for r in results.values()])
    cells = np.array([f"{value:.{decimals}f}" for value in accuracy.ravel()], dtype=object).reshape(accuracy.shape)
    # Compare the printed values, so two cells that read the same are both bold or both not.
    shown = cells.astype(np.float64)
    best = shown == shown.max(axis=0, keepdims=True)
    if fmt == "markdown":
        cells[best] = ["**" + c + "**" for c in cells[best]]
        lines = ["|  | " + " | ".join(f"r = {r:g}" for r in radii) + " |", "| --- |" + " --- |" * len(radii)]
        lines += [f"| {name} | " + " | ".join(row) + " |" for name, row in zip(results, cells)]
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
