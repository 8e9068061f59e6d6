"""The sampling settings of a certification run, defined, defaulted and validated in one place.

:class:`SamplingPlan` is what the procedures of :mod:`smoothcert.procedures` (and the dual ones)
take: the estimator and :func:`~smoothcert.simulate_certify` build one from their parameters, so
the defaults, the checks and the warnings about settings a mode does not use are written once.
"""

import dataclasses
import warnings

import numpy as np

from ._validation import check_float, check_int, check_probability
from .bounds import ClopperPearson

__all__ = ["SAMPLING_MODES", "SamplingPlan"]

SAMPLING_MODES = ("fixed", "sequential", "adaptive")


@dataclasses.dataclass(frozen=True)
class SamplingPlan:
    """How a certification run spends its samples (see ``SmoothedClassifier``'s parameters).

    Parameters
    ----------
    sampling : {"fixed", "sequential", "adaptive"}, default="fixed"
    n0 : int, default=100
        Selection samples (``"fixed"`` and ``"sequential"``).
    n : int, default=100_000
        Most estimation samples of an input.
    alpha : float, default=0.001
        Failure probability of each certificate.
    radii : sequence of float or None, default=None
        ``"sequential"``: the radii at which decisions must be exact.
    looks : "doubling" or tuple of int, default="doubling"
        ``"sequential"``: the sample sizes at which to look.
    radius_tolerance : float, default=0.01
        ``"adaptive"``: how much smaller than at ``n`` a planned radius may be.
    pilot : int, default=1000
        ``"adaptive"``: samples that select the class and plan the estimation.
    bound : ClopperPearson, default=ClopperPearson()
        The confidence bound on the top class's probability.

    Examples
    --------
    >>> from smoothcert.plan import SamplingPlan
    >>> plan = SamplingPlan(sampling="sequential", n=10_000, radii=(0, 0.5))
    >>> plan.most_samples
    10100
    """

    sampling: str = "fixed"
    n0: int = 100
    n: int = 100_000
    alpha: float = 0.001
    radii: tuple = None
    looks: object = "doubling"
    radius_tolerance: float = 0.01
    pilot: int = 1000
    bound: object = dataclasses.field(default_factory=ClopperPearson)

    def __post_init__(self):
        if not isinstance(self.sampling, str) or self.sampling not in SAMPLING_MODES:
            raise ValueError(f"sampling must be one of {SAMPLING_MODES}, got {self.sampling!r}.")
        check_int(self.n0, "n0", 1)
        check_int(self.n, "n", 1)
        check_probability(self.alpha, "alpha")
        if self.radii is not None:
            if isinstance(self.radii, (str, bytes)) or not hasattr(self.radii, "__iter__") or any(
                isinstance(r, (str, bytes, bool, np.bool_)) for r in self.radii
            ):
                raise TypeError(
                    f"radii must be None or a sequence of numbers >= 0 (not strings or booleans), got {self.radii!r}; "
                    f"e.g. radii=(0.0, 0.5)."
                )
            try:
                radii = np.asarray(self.radii, dtype=np.float64)
            except (TypeError, ValueError):
                raise TypeError(f"radii must be None or a sequence of radii >= 0, got {self.radii!r}.") from None
            if radii.ndim != 1 or not radii.size or not np.isfinite(radii).all() or (radii < 0).any():
                raise ValueError(
                    f"radii must be None or a non-empty 1-D sequence of finite radii >= 0, got {self.radii!r}."
                )
        if not (isinstance(self.looks, str) and self.looks == "doubling"):
            if isinstance(self.looks, str) or np.ndim(self.looks) != 1:
                raise ValueError(f"looks must be 'doubling' or an increasing tuple of ints ending at n, got {self.looks!r}.")
        check_float(self.radius_tolerance, "radius_tolerance", low=0.0, what="how much smaller a planned radius may be")
        check_int(self.pilot, "pilot", 1)

    @property
    def most_samples(self):
        """Most forward passes one input may use (sequential and adaptive runs may stop earlier)."""
        return (self.pilot if self.sampling == "adaptive" else self.n0) + self.n

    def warn_unused(self, stacklevel=2):
        """Warn about each setting changed from its default that ``sampling`` does not use."""
        defaults = SamplingPlan()
        unused = {
            "radii": self.radii is not None and self.sampling != "sequential",
            "looks": not (isinstance(self.looks, str) and self.looks == "doubling") and self.sampling != "sequential",
            "radius_tolerance": self.radius_tolerance != defaults.radius_tolerance and self.sampling != "adaptive",
            "pilot": self.pilot != defaults.pilot and self.sampling != "adaptive",
            "n0": self.n0 != defaults.n0 and self.sampling == "adaptive",
        }
        for name, quiet in unused.items():
            if quiet:
                warnings.warn(f"{name}={getattr(self, name)!r} is not used by sampling={self.sampling!r}.", UserWarning,
                              stacklevel=stacklevel + 1)
