"""smoothcert: certifiably robust PyTorch classifiers by randomized smoothing, the scikit-learn way."""

from .certificates import Certificates
from .estimator import SmoothedClassifier
from .metrics import acr_scorer, average_certified_radius, certified_accuracy, certified_accuracy_scorer
from .sigma import FixedSigma, SigmaOptimizer

__version__ = "0.1.0"

__all__ = [
    "SmoothedClassifier",
    "Certificates",
    "SigmaOptimizer",
    "FixedSigma",
    "certified_accuracy",
    "average_certified_radius",
    "certified_accuracy_scorer",
    "acr_scorer",
]
