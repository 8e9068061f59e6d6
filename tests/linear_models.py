"""Base classifiers with closed-form smoothed classifiers (THEORY.md section 6), shared by tests."""

import numpy as np
import torch

from smoothcert import SmoothedClassifier


class LinearBinary(torch.nn.Module):
    """f(x) = class 1 if w.x + b > 0 else class 0, as two logits (0, w.x + b)."""

    def __init__(self, w, b):
        super().__init__()
        self.w = torch.nn.Parameter(torch.as_tensor(np.asarray(w), dtype=torch.float32).flatten())
        self.b = torch.nn.Parameter(torch.tensor(float(b)))

    def forward(self, X):
        margin = X.flatten(1) @ self.w + self.b
        return torch.stack([torch.zeros_like(margin), margin], dim=1)


class CountingModule(torch.nn.Module):
    """``LinearBinary((1, 0), 0)`` that counts the rows of every forward pass (each row is one noisy copy)."""

    def __init__(self):
        super().__init__()
        self.inner = LinearBinary((1.0, 0.0), 0.0)
        self.rows = 0

    def forward(self, X):
        self.rows += len(X)
        return self.inner(X)


def smoothed_linear(w, b, **params):
    """A SmoothedClassifier around ``LinearBinary(w, b)``, 'fitted' without training (max_epochs=0)."""
    w = np.asarray(w, dtype=np.float64)
    X = np.zeros((2, *w.shape), dtype=np.float32)
    clf = SmoothedClassifier(module=LinearBinary(w, b), max_epochs=0, random_state=0, **params)
    return clf.fit(X, [0, 1])
