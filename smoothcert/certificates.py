"""The result of :meth:`SmoothedClassifier.certify`: one certified region per input, as arrays."""

from dataclasses import dataclass, fields

import numpy as np

from .noise import get_noise

__all__ = ["Certificates", "replace_labels"]


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
    numeric = "biuf"
    if (labels.dtype.kind in numeric) == (values.dtype.kind in numeric) and "O" not in labels.dtype.kind + values.dtype.kind:
        dtype = np.result_type(labels.dtype, values.dtype)
    else:
        dtype = object
    out = labels.astype(dtype)
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

    def __post_init__(self):
        n = len(self.label)
        # Certificates made before sampling modes existed (or by hand) have no sampling record.
        if self.n_used is None:
            object.__setattr__(self, "n_used", np.full(n, -1, dtype=np.int64))
        if self.stop_reason is None:
            object.__setattr__(self, "stop_reason", np.full(n, "", dtype="<U11"))

    @classmethod
    def from_arrays(cls, *, memory_entry=None, abstain_label=-1, **arrays):
        """Build from arrays, filling ``memory_entry`` with ``-1`` when not given."""
        n = len(arrays["label"])
        if memory_entry is None:
            memory_entry = np.full(n, -1, dtype=np.int64)
        return cls(memory_entry=np.asarray(memory_entry, dtype=np.int64), abstain_label=abstain_label, **arrays)

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
        noise = get_noise(norm)
        d = int(np.prod(np.shape(center)[1:], dtype=np.int64))
        return cls.from_arrays(
            gap=gap, sigma=sigma, norm=norm, center=center, radius=noise.radius(gap, sigma),
            log_volume=noise.log_volume(gap, sigma, d), proxy_radius=noise.proxy_radius(gap, sigma), **arrays,
        )

    @classmethod
    def concatenate(cls, parts):
        """Stack the rows of several ``Certificates`` with the same ``norm`` and ``alpha``.

        Parameters
        ----------
        parts : sequence of Certificates

        Returns
        -------
        certificates : Certificates
        """
        first = parts[0]
        return cls(
            **{
                f.name: (
                    np.concatenate([getattr(p, f.name) for p in parts])
                    if isinstance(getattr(first, f.name), np.ndarray)
                    else getattr(first, f.name)
                )
                for f in fields(first)
            }
        )

    def __len__(self):
        return len(self.label)

    def __getitem__(self, index):
        """Rows ``index`` (an int, slice, boolean mask or integer array) as new ``Certificates``."""
        if np.isscalar(index):
            index = [index]
        return Certificates(
            **{
                f.name: (getattr(self, f.name)[index] if isinstance(getattr(self, f.name), np.ndarray) else getattr(self, f.name))
                for f in fields(self)
            }
        )

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
        from .metrics import certified_accuracy

        return certified_accuracy(y_true, self, radii, proxy=proxy)

    def to_frame(self):
        """The per-row scalars as a :class:`pandas.DataFrame` (needs pandas).

        Per-dimension ``sigma`` is summarised by its minimum (``sigma_min``) and geometric mean
        (``sigma_gm``); ``center`` is left out.
        """
        import pandas as pd

        columns = {
            "label": self.label,
            "p_lower": self.p_lower,
            "gap": self.gap,
            "radius": self.radius,
            "proxy_radius": self.proxy_radius,
            "log_volume": self.log_volume,
            "abstained": self.abstained,
            "memory_entry": self.memory_entry,
            "n_used": self.n_used,
            "stop_reason": self.stop_reason,
        }
        if self.anisotropic:
            flat = self.sigma.reshape(len(self), -1).astype(np.float64)
            columns["sigma_min"] = flat.min(axis=1)
            columns["sigma_gm"] = np.exp(np.log(flat).mean(axis=1))
        else:
            columns["sigma"] = self.sigma
        frame = pd.DataFrame(columns)
        frame.attrs.update(norm=self.norm, alpha=self.alpha)
        return frame
