"""Small default architectures and layers used by :class:`SmoothedClassifier`."""

import torch
from torch import nn

__all__ = ["MLP", "Normalize", "CallableSelector", "DualModel"]


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


class CallableSelector(nn.Module):
    """A function from a batch of inputs to level indices, as a module with one score per level.

    Lets any callable be the selector of :class:`~smoothcert.DualSigma`: its choice is smoothed and
    certified like a network's (votes count the argmax, which is the returned index).

    Parameters
    ----------
    function : callable
        Maps a batch ``(b, *input_shape)`` tensor to ``b`` integer level indices in
        ``[0, n_levels)`` (a tensor or an array). It must be picklable for ``n_jobs > 1``.
    n_levels : int
        Number of levels.

    Examples
    --------
    >>> import torch
    >>> from smoothcert.models import CallableSelector
    >>> selector = CallableSelector(lambda X: (X[:, 0] > 0).long(), 2)
    >>> selector(torch.tensor([[-1.0], [2.0]]))
    tensor([[1., 0.],
            [0., 1.]])
    """

    def __init__(self, function, n_levels):
        super().__init__()
        self.function = function
        self.n_levels = n_levels

    def forward(self, X):
        index = torch.as_tensor(self.function(X), device=X.device)
        if index.shape != (len(X),) or index.is_floating_point() or index.is_complex():
            raise ValueError(
                f"the DualSigma selector must map a batch of {len(X)} inputs to {len(X)} integer level indices, "
                f"got {index.dtype} of shape {tuple(index.shape)}."
            )
        if len(index) and not (0 <= int(index.min()) and int(index.max()) < self.n_levels):
            raise ValueError(
                f"the DualSigma selector returned level indices from {int(index.min())} to {int(index.max())}; "
                f"they must be in [0, {self.n_levels}) (one per level)."
            )
        return nn.functional.one_hot(index.long(), self.n_levels).to(torch.float32)


class DualModel(nn.Module):
    """The networks of dual randomized smoothing: one expert per noise level and the level selector.

    What :class:`~smoothcert.SmoothedClassifier` holds as ``module_`` with a
    :class:`~smoothcert.DualSigma` strategy, so that moving, hashing (checkpoint fingerprints,
    provenance) and pickling cover every network. It has no forward pass of its own: the deployed
    classifier smooths the selector, then the expert of the chosen level.

    Parameters
    ----------
    experts : sequence of torch.nn.Module
        The base classifier of each level, in the order of the levels.
    selector : torch.nn.Module
        Maps a batch to one score per level (its argmax is the chosen level).

    Examples
    --------
    >>> import torch
    >>> from smoothcert.models import DualModel
    >>> model = DualModel([torch.nn.Linear(2, 3), torch.nn.Linear(2, 3)], torch.nn.Linear(2, 2))
    >>> len(model.experts), model.selector(torch.zeros(1, 2)).shape
    (2, torch.Size([1, 2]))
    """

    def __init__(self, experts, selector):
        super().__init__()
        self.experts = nn.ModuleList(experts)
        self.selector = selector

    def forward(self, X):
        raise TypeError(
            "DualModel has no forward pass of its own: smooth model.selector to choose a level, then "
            "model.experts[level] (SmoothedClassifier.certify and predict do both)."
        )
