"""The provenance companion of a results file (``<file>.provenance.json``): reading and cross-checking it."""

import json
import math
import os

import numpy as np

__all__ = []


def provenance_path(path):
    """The companion file of the results file ``path``."""
    return os.fspath(path) + ".provenance.json"


def read_provenance(path):
    """The companion record of ``path`` (a dict), or ``None`` without one; a ValueError naming it if unreadable."""
    companion = provenance_path(path)
    if not os.path.exists(companion):
        return None
    try:
        with open(companion, encoding="utf-8") as f:
            record = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        reason = "it is nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise ValueError(f"{companion!r} (the provenance of {path!r}) is unreadable: {reason}; delete it or fix it.") from None
    if not isinstance(record, dict):
        raise ValueError(f"{companion!r} must hold a JSON object (the provenance of {path!r}), got {type(record).__name__}.")
    return record


def _recorded_number(record, key, companion, *, integer=False, low=None, high=None):
    """``record[key]`` checked as a JSON number (``None`` if absent); a ValueError naming the companion."""
    if key not in record:
        return None
    value = record[key]
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or (isinstance(value, float) and not math.isfinite(value)) \
            or (low is not None and not value > low) or (high is not None and not value < high):
        what = "an int" if integer else "a number"
        bounds = "" if low is None else f" > {low}" if high is None else f" in ({low}, {high})"
        raise ValueError(f"{companion!r} records {key}={value!r}; it must be {what}{bounds}. Delete or fix the companion.")
    return value


def check_provenance(record, path, *, alpha, n_used, dual_columns):
    """Cross-check a companion record against the file it describes and the caller's ``alpha``."""
    if record is None:
        return
    companion = provenance_path(path)
    recorded_alpha = _recorded_number(record, "alpha", companion, low=0.0, high=1.0)
    if alpha is not None and recorded_alpha is not None and alpha != recorded_alpha:
        raise ValueError(
            f"read_results was given alpha={alpha!r}, but {companion!r} records alpha={recorded_alpha!r} for the "
            f"certificates of {path!r}; pass alpha={recorded_alpha!r} (or None), or fix the companion."
        )
    counts = {key: _recorded_number(record, key, companion, integer=True, low=0) for key in ("n0", "n", "pilot")}
    dual = "alpha_sigma" in record or "alpha_c" in record
    if dual and not dual_columns:
        raise ValueError(
            f"{companion!r} records a DualSigma run (alpha_sigma, alpha_c), but {path!r} has no radius_sigma and "
            f"radius_class columns; the companion describes another file: delete it or write the file again."
        )
    if dual_columns and "sampling" in record and not dual:
        raise ValueError(
            f"{path!r} holds DualSigma's radius_sigma and radius_class columns, but its companion {companion!r} "
            f"records a run of another strategy (no alpha_sigma, alpha_c); the companion describes another file."
        )
    sampling = record.get("sampling")
    first = counts["pilot"] if sampling == "adaptive" else counts["n0"]
    if n_used is None or counts["n"] is None or first is None or not len(n_used):
        return
    most = (first + counts["n"]) * (2 if dual else 1)  # DualSigma: the selector's samples, then the expert's
    start = "pilot" if sampling == "adaptive" else "n0"
    wrong = np.flatnonzero(n_used != most) if sampling == "fixed" and not dual else np.flatnonzero(n_used > most)
    if wrong.size:
        r = int(wrong[0])
        rule = "equal to" if sampling == "fixed" and not dual else "at most"
        raise ValueError(
            f"{path!r}: row {r} has n_used={int(n_used[r])}, but {companion!r} records {start}={first} and "
            f"n={counts['n']} (sampling={sampling!r}), so n_used must be {rule} {most}; the companion describes "
            f"another run: delete it or write the file again."
        )
