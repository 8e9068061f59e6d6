"""Cohen et al. (2019): the same isotropic noise scale for every input."""

import torch

from .base import SigmaOptimizer, check_inputs, check_scale

__all__ = ["FixedSigma"]


class FixedSigma(SigmaOptimizer):
    """One noise scale for every input (Cohen et al., 2019), the only strategy sound without memory.

    Parameters
    ----------
    sigma : float, default=0.25
        Gaussian standard deviation (``norm="l2"``) or uniform half-width (``norm="l1"``), in the
        units of the inputs the smoothed classifier receives.

    Examples
    --------
    >>> import torch
    >>> from smoothcert import FixedSigma
    >>> FixedSigma(0.5).scales(None, torch.zeros(3, 2), noise=None, keys=[0, 1, 2], batch_size=10)
    tensor([0.5000, 0.5000, 0.5000])
    """

    def __init__(self, sigma=0.25):
        self.sigma = sigma

    def base_scale(self):
        return check_scale(self.sigma, "sigma")

    def scales(self, model, X, *, noise, keys, batch_size):
        check_inputs(X, type(self).__name__)
        return torch.full((X.shape[0],), self.base_scale(), dtype=torch.float32, device=X.device)
