"""Pictures of certificates: certified-accuracy curves, per-pixel sigma maps, 2-D certified regions.

matplotlib is an optional dependency (``pip install "smoothcert[plot]"``); it is imported when a
function here is called, not when :mod:`smoothcert` is.
"""

import os
from numbers import Integral, Real

import numpy as np

from ._fields import check_certificates
from ._validation import check_flag
from .certificates import Certificates
from .metrics import certified_accuracy_curve
from .pipeline import _check_certifier, certify_pipeline
from .results import _as_pair, read_results

__all__ = ["CertifiedAccuracyDisplay", "plot_sigma_map", "plot_regions_2d"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "smoothcert's plotting needs matplotlib; install it with pip install 'smoothcert[plot]'."
        ) from exc
    return plt


def _axes(ax):
    if ax is None:
        _, ax = _pyplot().subplots()
    else:
        _pyplot()
        from matplotlib.axes import Axes

        if not isinstance(ax, Axes):
            raise TypeError(f"ax must be a matplotlib Axes or None (a new figure), got {type(ax).__name__}.")
    return ax


def _check_names(names, n_curves):
    """``None`` or a list of legend names, one per curve."""
    if names is None:
        return None
    # A str is a sequence of characters: names="ab" would name two curves "a" and "b".
    if isinstance(names, str) or not isinstance(names, (list, tuple, np.ndarray)) or (isinstance(names, np.ndarray) and names.ndim == 0):
        raise TypeError(
            f"names must be None or a list of legend names, one per curve (e.g. names=['sigma=0.25']), "
            f"got {type(names).__name__} {names!r}."
        )
    if len(names) != n_curves:
        raise ValueError(f"names has {len(names)} entries for {n_curves} curves; give one name per curve.")
    return list(names)


def _named(items, names, what, default_names=None):
    """``(names, values)`` from one item, a list of items or a dict name -> item (``what`` names the argument)."""
    if isinstance(items, dict):
        if names is not None:
            raise ValueError("names must be None when the results are given as a dict (its keys are the names).")
        if not items:
            raise ValueError(f"{what} is an empty dict: nothing to plot.")
        return list(items), list(items.values())
    if not isinstance(items, (list, tuple)):
        items = [items]
    items = list(items)
    if not items:
        raise ValueError(f"{what} is empty: pass at least one curve's {what}.")
    return _check_names(default_names if names is None else names, len(items)), items


def _item_names(what, names, n):
    """How to name item ``i`` of argument ``what`` in an error message."""
    if n == 1:
        return [what]
    return [f"{what}[{i}]" for i in range(n)] if names is None else [f"{what}[{name!r}]" for name in names]


def _certificates_only(certificates, why):
    if not isinstance(certificates, Certificates):
        raise TypeError(
            f"certificates must be a smoothcert.Certificates (from SmoothedClassifier.certify; {why}), "
            f"got {type(certificates).__name__}."
        )


def _check_curves(radii, accuracies):
    """The curves of a display: lists of 1-D float arrays of equal lengths, radii ascending."""
    for name, value in (("radii", radii), ("accuracies", accuracies)):
        if not isinstance(value, (list, tuple)):
            raise TypeError(
                f"{name} must be a list of 1-D arrays, one per curve (wrap a single curve in a list: {name}=[...]), "
                f"got {type(value).__name__}."
            )
    if not radii:
        raise ValueError("radii is empty: a CertifiedAccuracyDisplay needs at least one curve.")
    if len(radii) != len(accuracies):
        raise ValueError(f"radii has {len(radii)} curves but accuracies has {len(accuracies)}; give one of each per curve.")
    checked = []
    for i, (r, a) in enumerate(zip(radii, accuracies)):
        pair = []
        for name, value in ((f"radii[{i}]", r), (f"accuracies[{i}]", a)):
            try:
                array = np.asarray(value)
            except ValueError:  # ragged nested sequences
                array = np.asarray(None)
            if array.dtype.kind not in "iuf":
                raise TypeError(f"{name} must be a 1-D array of floats, got {type(value).__name__} {value!r}.")
            if array.ndim != 1 or not array.size:
                raise ValueError(f"{name} must be a non-empty 1-D array, got shape {array.shape}.")
            pair.append(array.astype(np.float64))
        r, a = pair
        if r.shape != a.shape:
            raise ValueError(f"radii[{i}] has {len(r)} points but accuracies[{i}] has {len(a)}; give one accuracy per radius.")
        if not (np.isfinite(r) & (r >= 0)).all() or np.any(np.diff(r) < 0):
            raise ValueError(f"radii[{i}] must be finite, >= 0 and ascending, got {r.tolist()[:10]}.")
        # nan: no inputs (certified accuracy of empty certificates); below 0: a lower bound.
        if np.any(a > 1) or np.any(np.isinf(a)):
            raise ValueError(f"accuracies[{i}] must be at most 1 (nan where there are no inputs), got {a.tolist()[:10]}.")
        checked.append((r, a))
    return checked


def _step_values(radii, accuracy, grid):
    """Values at ``grid`` of the step curve that equals ``accuracy[k]`` on ``(radii[k-1], radii[k]]``."""
    position = np.searchsorted(radii, grid, side="left")
    # Past the last grid point nothing is known: 0 keeps the envelope a lower bound.
    return np.where(position < len(radii), np.asarray(accuracy)[np.minimum(position, len(radii) - 1)], 0.0)


class CertifiedAccuracyDisplay:
    """Certified accuracy against radius, one line per model (scikit-learn's Display pattern).

    Build it with :meth:`from_certificates`, :meth:`from_estimator` or :meth:`from_files`; they
    compute the curves with :func:`~smoothcert.metrics.certified_accuracy_curve` and call
    :meth:`plot`. Curves are drawn as steps (``drawstyle="steps-pre"``): on the default exact grid
    this is the curve itself, on a coarser grid a lower bound of it.

    Parameters
    ----------
    radii : list of ndarray
        Radius grid of each curve (ascending).
    accuracies : list of ndarray
        Certified accuracy of each curve on its grid.
    names : list of str or None, default=None
        Legend entry of each curve.
    proxy : bool, default=False
        Whether the curves use the proxy radius (labels the x axis).

    Attributes
    ----------
    lines_ : list of matplotlib.lines.Line2D
        One line per curve.
    envelope_line_ : matplotlib.lines.Line2D or None
        The envelope (best certified accuracy over the curves at each radius), if drawn.
    ax_ : matplotlib.axes.Axes
        Axes with the curves.
    figure_ : matplotlib.figure.Figure
        Figure containing the axes.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from smoothcert import Certificates
    >>> from smoothcert.plotting import CertifiedAccuracyDisplay
    >>> def certificates(radius):
    ...     n = len(radius)
    ...     return Certificates.from_arrays(label=np.zeros(n, int), class_index=np.zeros(n, int),
    ...         p_lower=np.full(n, 0.9), gap=np.ones(n), radius=np.asarray(radius), sigma=np.full(n, 0.5),
    ...         norm="l2", log_volume=np.zeros(n), proxy_radius=np.asarray(radius),
    ...         abstained=np.zeros(n, bool), center=np.zeros((n, 2)), alpha=0.001)
    >>> display = CertifiedAccuracyDisplay.from_certificates(
    ...     np.zeros(3), {"sigma=0.25": certificates([0.1, 0.3, 0.6]), "sigma=0.5": certificates([0.0, 0.2, 1.1])},
    ...     envelope=True)
    >>> len(display.lines_), display.envelope_line_ is not None
    (2, True)
    """

    def __init__(self, *, radii, accuracies, names=None, proxy=False):
        self.radii = radii
        self.accuracies = accuracies
        self.names = names
        self.proxy = proxy

    def plot(self, ax=None, *, envelope=False, **kwargs):
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib.axes.Axes or None, default=None
            Axes to draw on; ``None`` makes a new figure.
        envelope : bool, default=False
            Also draw the envelope: at each radius, the best certified accuracy over the curves
            (e.g. over noise levels, as Yang et al. and Salman et al. report).
        **kwargs
            Passed to :meth:`matplotlib.axes.Axes.plot` for every curve.

        Returns
        -------
        display : CertifiedAccuracyDisplay
            ``self``, with ``lines_``, ``envelope_line_``, ``ax_`` and ``figure_`` set.

        Raises
        ------
        TypeError
            If ``radii`` or ``accuracies`` is not a list of 1-D arrays of numbers, ``names`` not a
            list, ``proxy`` or ``envelope`` not a bool, or ``ax`` not a matplotlib Axes.
        ValueError
            If there are no curves, the lists or a curve's arrays differ in length, a grid is not
            finite, non-negative and ascending, or an accuracy exceeds 1.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import numpy as np
        >>> from smoothcert.plotting import CertifiedAccuracyDisplay
        >>> display = CertifiedAccuracyDisplay(radii=[np.array([0.0, 0.5, 0.9])],
        ...                                    accuracies=[np.array([0.8, 0.6, 0.1])])
        >>> display.plot(color="black").lines_[0].get_color()
        'black'
        """
        curves = _check_curves(self.radii, self.accuracies)
        names = _check_names(self.names, len(curves))
        proxy = check_flag(self.proxy, "proxy")
        envelope = check_flag(envelope, "envelope")
        ax = _axes(ax)
        names = names if names is not None else [None] * len(curves)
        self.lines_ = [
            ax.plot(radii, accuracy, **{"drawstyle": "steps-pre", "label": name, **kwargs})[0]
            for (radii, accuracy), name in zip(curves, names)
        ]
        self.envelope_line_ = None
        if envelope:
            grid = np.unique(np.concatenate([r for r, _ in curves]))
            best = np.max([_step_values(r, a, grid) for r, a in curves], axis=0)
            (self.envelope_line_,) = ax.plot(
                grid, best, drawstyle="steps-pre", color="black", linestyle="--", linewidth=1.0, label="envelope"
            )
        ax.set_xlabel("proxy radius" if proxy else "radius")
        ax.set_ylabel("certified accuracy")
        ax.set_ylim(0.0, 1.02)
        ax.set_xlim(left=0.0)
        if any(name is not None for name in names) or envelope:
            ax.legend()
        self.ax_, self.figure_ = ax, ax.figure
        return self

    @classmethod
    def _from_pairs(cls, names, pairs, *, radii, proxy, envelope, ax, kwargs):
        check_flag(envelope, "envelope")  # before the curves are computed (certification may be long)
        if ax is not None:
            _axes(ax)
        curves = [certified_accuracy_curve(y, certificates, radii, proxy=proxy) for y, certificates in pairs]
        display = cls(radii=[c[0] for c in curves], accuracies=[c[1] for c in curves], names=names, proxy=proxy)
        return display.plot(ax=ax, envelope=envelope, **kwargs)

    @classmethod
    def from_certificates(
        cls, y_true, certificates, *, radii=None, names=None, proxy=False, envelope=False, ax=None, **kwargs
    ):
        """Plot certified accuracy curves of one or several sets of certificates of the same inputs.

        Parameters
        ----------
        y_true : array-like of shape (n_inputs,)
            True labels, shared by all curves.
        certificates : Certificates, CertificationResults, or a list or dict of them
            One curve each; a dict's keys are the legend names.
        radii : array-like of float or None, default=None
            Common radius grid; ``None`` uses each curve's exact grid.
        names : list of str or None, default=None
            Legend names (not with a dict).
        proxy : bool, default=False
            Use the proxy radius.
        envelope : bool, default=False
            Also draw the best curve value at each radius.
        ax : matplotlib.axes.Axes or None, default=None
            Axes to draw on.
        **kwargs
            Passed to :meth:`matplotlib.axes.Axes.plot`.

        Returns
        -------
        display : CertifiedAccuracyDisplay

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import numpy as np
        >>> from smoothcert import Certificates
        >>> from smoothcert.plotting import CertifiedAccuracyDisplay
        >>> cert = Certificates.from_arrays(label=np.array([0, 1]), class_index=np.array([0, 1]),
        ...     p_lower=np.full(2, 0.9), gap=np.ones(2), radius=np.array([0.3, 0.6]), sigma=np.full(2, 0.5),
        ...     norm="l2", log_volume=np.zeros(2), proxy_radius=np.array([0.3, 0.6]),
        ...     abstained=np.zeros(2, bool), center=np.zeros((2, 2)), alpha=0.001)
        >>> display = CertifiedAccuracyDisplay.from_certificates([0, 1], cert, names=["sigma = 0.5"])
        >>> display.lines_[0].get_ydata().tolist()
        [1.0, 1.0, 0.5, 0.0]
        """
        names, items = _named(certificates, names, "certificates")
        for item, what in zip(items, _item_names("certificates", names, len(items))):
            check_certificates(item, what)
        return cls._from_pairs(
            names, [(y_true, c) for c in items], radii=radii, proxy=proxy, envelope=envelope, ax=ax, kwargs=kwargs
        )

    @classmethod
    def from_estimator(
        cls, estimator, X, y, *, radii=None, names=None, proxy=False, envelope=False, ax=None, **kwargs
    ):
        """Certify ``X`` with one or several fitted smoothed classifiers and plot their curves.

        Parameters
        ----------
        estimator : SmoothedClassifier, or a list or dict of them
            Fitted estimators (anything with ``certify(X)``, or a :class:`~sklearn.pipeline.Pipeline`
            ending in one, certified through :func:`~smoothcert.certify_pipeline`); a dict's keys
            are the legend names.
        X : array-like of shape (n_inputs, *input_shape)
            Inputs to certify.
        y : array-like of shape (n_inputs,)
            True labels.
        radii, names, proxy, envelope, ax, **kwargs
            As in :meth:`from_certificates`.

        Returns
        -------
        display : CertifiedAccuracyDisplay

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from sklearn.datasets import make_blobs
        >>> from smoothcert import SmoothedClassifier
        >>> from smoothcert.plotting import CertifiedAccuracyDisplay
        >>> X, y = make_blobs(200, centers=[[-2, -2], [2, 2]], random_state=0)
        >>> clf = SmoothedClassifier(sigma=0.5, n=500, max_epochs=5, random_state=0).fit(X, y)
        >>> display = CertifiedAccuracyDisplay.from_estimator(clf, X[:20], y[:20])
        >>> len(display.lines_)
        1
        """
        names, estimators = _named(estimator, names, "estimator")
        check_flag(proxy, "proxy")
        for est, what in zip(estimators, _item_names("estimator", names, len(estimators))):
            _check_certifier(est, what)
        pairs = [(y, certify_pipeline(est, X)) for est in estimators]
        return cls._from_pairs(names, pairs, radii=radii, proxy=proxy, envelope=envelope, ax=ax, kwargs=kwargs)

    @classmethod
    def from_files(cls, paths, *, radii=None, names=None, proxy=False, envelope=False, ax=None, **kwargs):
        """Plot the curves of results files in Cohen et al.'s format (see :func:`~smoothcert.results.read_results`).

        Parameters
        ----------
        paths : str or os.PathLike, or a list or dict of them
            Results files; a dict's keys are the legend names, otherwise the file names are.
        radii, names, proxy, envelope, ax, **kwargs
            As in :meth:`from_certificates`.

        Returns
        -------
        display : CertifiedAccuracyDisplay

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import os, tempfile
        >>> from smoothcert.plotting import CertifiedAccuracyDisplay
        >>> path = os.path.join(tempfile.mkdtemp(), "sigma_0.25")
        >>> with open(path, "w") as f:
        ...     _ = f.write("idx\\tlabel\\tpredict\\tradius\\tcorrect\\ttime\\n0\\t3\\t3\\t0.378\\t1\\t15.4\\n")
        >>> CertifiedAccuracyDisplay.from_files([path]).lines_[0].get_label()
        'sigma_0.25'
        """
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        if not isinstance(paths, (list, tuple, dict)):
            raise TypeError(f"paths must be a path (str or os.PathLike), or a list or dict of them, got {type(paths).__name__}.")
        for key, p in paths.items() if isinstance(paths, dict) else enumerate(paths):
            if not isinstance(p, (str, os.PathLike)):
                raise TypeError(f"paths[{key!r}] must be a path (str or os.PathLike), got {type(p).__name__} {p!r}.")
        defaults = None if isinstance(paths, dict) or names is not None else [os.path.basename(os.fspath(p)) for p in paths]
        names, items = _named(paths, names, "paths", default_names=defaults)
        pairs = [_as_pair(read_results(p)) for p in items]
        return cls._from_pairs(names, pairs, radii=radii, proxy=proxy, envelope=envelope, ax=ax, kwargs=kwargs)


def plot_sigma_map(certificates, index=0, *, image_shape=None, channel=None, ax=None, cmap="viridis", colorbar=True):
    """Show the per-dimension noise scales of one anisotropic certificate as an image.

    Bright pixels are directions in which the certified region (an ellipsoid or cross-polytope,
    Eiras et al.'s ANCER) extends far; the worst-case radius follows the darkest pixel.

    Parameters
    ----------
    certificates : Certificates
        Certificates with per-dimension ``sigma`` (e.g. from :class:`~smoothcert.AncerSigma`).
    index : int, default=0
        Row to show.
    image_shape : tuple of int or None, default=None
        Reshape one input's scales to this shape first (e.g. ``(8, 8)`` for flattened digits).
    channel : int or None, default=None
        For ``(C, H, W)`` inputs, the channel to show; ``None`` shows the mean over channels.
    ax : matplotlib.axes.Axes or None, default=None
        Axes to draw on.
    cmap : str, default="viridis"
        Colormap.
    colorbar : bool, default=True
        Add a colorbar.

    Returns
    -------
    image : matplotlib.image.AxesImage

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from smoothcert import Certificates
    >>> from smoothcert.plotting import plot_sigma_map
    >>> sigma = np.linspace(0.1, 0.5, 64, dtype=np.float32).reshape(1, 64)
    >>> cert = Certificates.from_arrays(label=np.array([1]), class_index=np.array([1]),
    ...     p_lower=np.array([0.9]), gap=np.array([1.28]), radius=np.array([0.128]), sigma=sigma,
    ...     norm="l2", log_volume=np.array([0.0]), proxy_radius=np.array([0.3]),
    ...     abstained=np.array([False]), center=np.zeros((1, 64)), alpha=0.001)
    >>> plot_sigma_map(cert, 0, image_shape=(8, 8)).get_array().shape
    (8, 8)
    """
    _certificates_only(certificates, "results files hold no sigma maps")
    if not certificates.anisotropic:
        raise ValueError(
            "plot_sigma_map needs per-dimension sigma (anisotropic certificates, e.g. from AncerSigma); "
            "these certificates have one sigma per input."
        )
    n = len(certificates)
    if isinstance(index, bool) or not isinstance(index, Integral):
        raise TypeError(f"index must be an int (the row to show), got {type(index).__name__} {index!r}.")
    if not -n <= index < n:
        raise ValueError(f"index must be a row of the certificates, in [-{n}, {n}), got {index}.")
    scales = np.asarray(certificates.sigma[index], dtype=np.float64)
    if image_shape is not None:
        try:
            scales = scales.reshape(image_shape)
        except (TypeError, ValueError):
            raise ValueError(
                f"image_shape must be a tuple of ints with {scales.size} elements in all (one input's scales, of shape "
                f"{scales.shape}), got {image_shape!r}."
            ) from None
    if scales.ndim == 3:
        if channel is not None and (isinstance(channel, bool) or not isinstance(channel, Integral)):
            raise TypeError(f"channel must be None or an int, got {type(channel).__name__} {channel!r}.")
        if channel is not None and not -len(scales) <= channel < len(scales):
            raise ValueError(f"channel must be None or in [0, {len(scales)}) (the inputs have {len(scales)} channels), got {channel}.")
        scales = scales.mean(axis=0) if channel is None else scales[channel]
    elif channel is not None:
        raise ValueError(f"channel={channel!r} needs (C, H, W) scales; one input's scales have shape {scales.shape}.")
    if scales.ndim != 2:
        raise ValueError(
            f"one input's sigma has shape {scales.shape}; pass image_shape=(H, W) or (C, H, W) to draw it as an image."
        )
    colorbar = check_flag(colorbar, "colorbar")
    ax = _axes(ax)
    image = ax.imshow(scales, cmap=cmap)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"sigma of input {index}" + ("" if channel is None else f", channel {channel}"))
    if colorbar:
        ax.figure.colorbar(image, ax=ax, label="sigma")
    return image


def plot_regions_2d(certificates, X=None, y=None, *, ax=None, cmap="tab10", alpha=0.25):
    """Draw the certified regions of 2-D inputs, optionally over a scatter of data.

    Each certified row becomes its region around ``center``: a disc (``norm="l2"``, one sigma), an
    axis-aligned ellipse (``"l2"``, per-dimension sigma, semi-axes ``gap * sigma_i``) or a diamond
    (``"l1"``, half-diagonals ``gap * sigma_i``), coloured by its certified class. Abstentions are
    black crosses. The axes get an equal aspect ratio, so discs look round.

    Parameters
    ----------
    certificates : Certificates
        Certificates of inputs with 2 features.
    X : array-like of shape (n_samples, 2) or None, default=None
        Points to scatter underneath (e.g. the training data).
    y : array-like of shape (n_samples,) or None, default=None
        Their labels (colours); ``None`` draws them grey.
    ax : matplotlib.axes.Axes or None, default=None
        Axes to draw on.
    cmap : str, default="tab10"
        Qualitative colormap for the classes.
    alpha : float, default=0.25
        Opacity of the regions' fill.

    Returns
    -------
    patches : list of matplotlib.patches.Patch
        One patch per certified (not abstained) row, in row order.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from smoothcert import Certificates
    >>> from smoothcert.plotting import plot_regions_2d
    >>> cert = Certificates.from_arrays(label=np.array([0, 1, -1]), class_index=np.array([0, 1, -1]),
    ...     p_lower=np.array([0.9, 0.8, 0.4]), gap=np.array([1.28, 0.84, 0.0]),
    ...     radius=np.array([0.64, 0.42, 0.0]), sigma=np.full(3, 0.5), norm="l2",
    ...     log_volume=np.zeros(3), proxy_radius=np.array([0.64, 0.42, 0.0]),
    ...     abstained=np.array([False, False, True]), center=np.array([[0.0, 0.0], [2.0, 0.0], [1.0, 1.0]]),
    ...     alpha=0.001)
    >>> [type(p).__name__ for p in plot_regions_2d(cert)]
    ['Circle', 'Circle']
    """
    colormap = _pyplot().get_cmap(cmap)  # first, for the install hint when matplotlib is missing
    from matplotlib.lines import Line2D
    from matplotlib.patches import Circle, Ellipse, Patch, Polygon

    _certificates_only(certificates, "results files hold no regions")
    centers = np.asarray(certificates.center, dtype=np.float64)
    if centers.ndim != 2 or centers.shape[1] != 2:
        raise ValueError(f"plot_regions_2d needs inputs with 2 features, got inputs of shape {centers.shape[1:]}.")
    if isinstance(alpha, bool) or not isinstance(alpha, Real) or not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be a float in [0, 1] (the opacity of the regions' fill), got {alpha!r}.")
    if X is not None:
        try:
            X = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"X must be None or an array of numbers of shape (n_samples, 2), got {type(X).__name__}.") from None
        if X.ndim != 2 or X.shape[1] != 2:
            raise ValueError(f"X must be None or of shape (n_samples, 2), got shape {X.shape}.")
    if y is not None:
        if np.ndim(y) != 1 or (X is not None and np.shape(y) != (len(X),)):
            rows = "n_samples" if X is None else len(X)
            raise ValueError(f"y must be None or of shape ({rows},) (one label per row of X), got shape {np.shape(y)}.")
    ax = _axes(ax)
    certified = ~np.asarray(certificates.abstained, dtype=bool)
    known = [np.asarray(certificates.label)[certified]] + ([] if y is None else [np.asarray(y)])
    classes = np.unique(np.concatenate(known))
    color = {c: colormap(i % colormap.N) for i, c in enumerate(classes.tolist())}
    if X is not None:
        colors = "0.6" if y is None else [color[c] for c in np.asarray(y).tolist()]
        ax.scatter(X[:, 0], X[:, 1], c=colors, s=8, linewidths=0)
    # Semi-axes (half-diagonals for l1) along each input dimension: gap * sigma_i.
    semi = np.asarray(certificates.gap, dtype=np.float64)[:, None] * np.broadcast_to(
        np.asarray(certificates.sigma, dtype=np.float64).reshape(len(certificates), -1 if len(certificates) else 1),
        (len(certificates), 2),
    )
    patches = []
    for row in np.flatnonzero(certified):
        (cx, cy), (a, b) = centers[row], semi[row]
        rgb = color[np.asarray(certificates.label)[row].item()][:3]
        style = {"facecolor": (*rgb, alpha), "edgecolor": rgb, "linewidth": 0.8}
        if certificates.norm == "l1":
            patch = Polygon([(cx + a, cy), (cx, cy + b), (cx - a, cy), (cx, cy - b)], closed=True, **style)
        elif certificates.anisotropic:
            patch = Ellipse((cx, cy), 2 * a, 2 * b, **style)
        else:
            patch = Circle((cx, cy), a, **style)
        patches.append(ax.add_patch(patch))
    handles = [Patch(color=color[c], label=str(c)) for c in classes.tolist()]
    if np.any(~certified):
        ax.scatter(centers[~certified, 0], centers[~certified, 1], marker="x", color="black", s=20)
        handles.append(Line2D([], [], marker="x", color="black", linestyle="none", label="abstained"))
    ax.set_aspect("equal")
    ax.autoscale_view()
    ax.legend(handles=handles, title="class")
    return patches
