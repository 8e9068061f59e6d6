"""smoothcert: certifiably robust PyTorch classifiers by randomized smoothing, the scikit-learn way."""

from ._version import __version__  # noqa: F401 (the package version, not an API name)
from .certificates import Certificates
from .denoiser_net import DenoiserNet
from .denoisers import DiffusionDenoiser
from .estimator import SmoothedClassifier
from .memory import CertificateMemory
from .metrics import (
    acr_scorer,
    average_certified_radius,
    certified_accuracy,
    certified_accuracy_curve,
    certified_accuracy_lower_bound,
    certified_accuracy_scorer,
)
from .pipeline import certify_pipeline
from .planning import max_certifiable_radius, min_samples_for_radius
from .plotting import CertifiedAccuracyDisplay
from .recipes import MACER, NoiseAugmentation, SmoothAdv, TrainingRecipe
from .results import CertificationResults, certified_accuracy_table, read_results, write_results
from .sigma import AncerSigma, DualSigma, FixedSigma, IsotropicSigma, SigmaOptimizer
from .simulation import simulate_certify
from .training import NoiseAugmentedNet

__all__ = [
    "SmoothedClassifier",
    "Certificates",
    "CertificateMemory",
    "SigmaOptimizer",
    "FixedSigma",
    "IsotropicSigma",
    "AncerSigma",
    "DualSigma",
    "certified_accuracy",
    "average_certified_radius",
    "certified_accuracy_scorer",
    "acr_scorer",
    "certified_accuracy_curve",
    "certified_accuracy_lower_bound",
    "CertificationResults",
    "read_results",
    "write_results",
    "certified_accuracy_table",
    "CertifiedAccuracyDisplay",
    "max_certifiable_radius",
    "min_samples_for_radius",
    "simulate_certify",
    "certify_pipeline",
    "TrainingRecipe",
    "NoiseAugmentation",
    "MACER",
    "SmoothAdv",
    "NoiseAugmentedNet",
    "DenoiserNet",
    "DiffusionDenoiser",
]
