"""Optional tqdm progress bars for long Monte Carlo runs (the ``progress`` extra)."""

import warnings
from contextlib import contextmanager

# A bar appears only once a run has lasted this long, so short calls (scorers in a search) stay quiet.
_DELAY_SECONDS = 1.0


@contextmanager
def progress_bar(verbose, total, desc):
    """Yield an ``update(k)`` callable advancing a tqdm bar of ``total`` noisy samples, or ``None``.

    ``None`` when ``verbose <= 0``, or (with a warning) when tqdm is not installed. ``total`` may
    be an upper bound (sequential sampling stops early): the bar is closed at 100% of what was
    drawn when the block exits.

    Examples
    --------
    >>> from smoothcert._progress import progress_bar
    >>> with progress_bar(0, total=10, desc="certify") as update:
    ...     update is None
    True
    """
    if verbose <= 0:
        yield None
        return
    try:
        from tqdm.auto import tqdm
    except ImportError:
        warnings.warn(
            "verbose > 0 shows certification progress with tqdm, which is not installed; "
            "install it with `pip install smoothcert[progress]`.",
            UserWarning,
            stacklevel=3,
        )
        yield None
        return
    with tqdm(total=total, desc=desc, unit="sample", unit_scale=True, delay=_DELAY_SECONDS, mininterval=0.5) as bar:
        try:
            yield bar.update
        finally:
            bar.total = bar.n
