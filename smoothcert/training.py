"""Noise-augmented training of the base classifier through skorch (Cohen et al., 2019)."""

import torch
from skorch import NeuralNetClassifier
from skorch.dataset import unpack_data

from .noise import get_noise

__all__ = ["NoiseAugmentedNet"]


class NoiseAugmentedNet(NeuralNetClassifier):
    """A skorch classifier that trains on noisy copies of its inputs.

    Every training batch gets fresh noise of the smoothing distribution at the smoothing scale,
    as in Cohen et al. (2019) (Gaussian, ``norm="l2"``) and Yang et al. (2020) (uniform,
    ``norm="l1"``). Validation and inference are left clean. Usable on its own by skorch users.

    Parameters
    ----------
    *args, **kwargs
        Passed to :class:`skorch.NeuralNetClassifier`.
    norm : {"l2", "l1"}, default="l2"
        Noise family (Gaussian or uniform).
    sigma : float, default=0.25
        Gaussian standard deviation or uniform half-width of the training noise.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from smoothcert.training import NoiseAugmentedNet
    >>> net = NoiseAugmentedNet(torch.nn.Linear(2, 2), criterion=torch.nn.CrossEntropyLoss,
    ...                         sigma=0.1, max_epochs=1, train_split=None, verbose=0)
    >>> X = np.zeros((8, 2), dtype=np.float32); y = np.array([0, 1] * 4)
    >>> net.fit(X, y).history[-1, "epoch"]
    1
    """

    def __init__(self, *args, norm="l2", sigma=0.25, **kwargs):
        super().__init__(*args, **kwargs)
        self.norm = norm
        self.sigma = sigma

    def train_step_single(self, batch, **fit_params):
        Xi, yi = unpack_data(batch)
        Xi = self._noisy(Xi)
        return super().train_step_single((Xi, yi), **fit_params)

    def _noisy(self, Xi):
        Xi = torch.as_tensor(Xi, device=self.device)
        eps = get_noise(self.norm).sample(Xi.shape, None, Xi.device, Xi.dtype)
        return Xi + self.sigma * eps
