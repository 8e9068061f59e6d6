"""Small default architectures and layers used by :class:`SmoothedClassifier`."""

import torch
from torch import nn

__all__ = ["MLP", "Normalize"]


class MLP(nn.Module):
    """Multilayer perceptron over flattened inputs, the default base classifier.

    Parameters
    ----------
    n_inputs : int
        Number of input features (product of the input shape).
    n_classes : int
        Number of output logits.
    hidden_units : tuple of int, default=(128, 128)
        Widths of the hidden layers (ReLU activations).

    Examples
    --------
    >>> import torch
    >>> from smoothcert.models import MLP
    >>> MLP(4, 3)(torch.zeros(2, 4)).shape
    torch.Size([2, 3])
    """

    def __init__(self, n_inputs, n_classes, hidden_units=(128, 128)):
        super().__init__()
        layers = [nn.Flatten()]
        width = n_inputs
        for units in hidden_units:
            layers += [nn.Linear(width, units), nn.ReLU()]
            width = units
        layers.append(nn.Linear(width, n_classes))
        self.layers = nn.Sequential(*layers)

    def forward(self, X):
        return self.layers(X)


class Normalize(nn.Module):
    """``(X - mean) / std`` as the first layer, so noise is added before normalisation.

    Parameters
    ----------
    mean, std : float or array-like broadcastable to one input
        Normalisation constants (e.g. per channel, shaped ``(C, 1, 1)``).

    Examples
    --------
    >>> import torch
    >>> from smoothcert.models import Normalize
    >>> Normalize(1.0, 2.0)(torch.tensor([[3.0]]))
    tensor([[1.]])
    """

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))

    def forward(self, X):
        return (X - self.mean) / self.std
