"""Strategies that choose the smoothing noise scales per input."""

from .base import SigmaOptimizer
from .fixed import FixedSigma

__all__ = ["SigmaOptimizer", "FixedSigma"]
