"""Strategies that choose the smoothing noise scales per input."""

from .ancer import AncerSigma
from .base import SigmaOptimizer
from .dual import DualSigma
from .fixed import FixedSigma
from .isotropic import IsotropicSigma

__all__ = ["SigmaOptimizer", "FixedSigma", "IsotropicSigma", "AncerSigma", "DualSigma"]
