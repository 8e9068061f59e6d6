"""
Denoised smoothing: certify a classifier that never saw noise
=============================================================

Randomized smoothing certifies the classifier ``g(x) = argmax_c P[f(x + noise) = c]``. A base
classifier ``f`` trained on clean images is lost on noisy ones, so its smoothed classifier certifies
little. Salman et al. (2020) put a *denoiser* ``D`` in front: the base classifier becomes
``f(D(x + noise))``, still a base classifier, so the certificate is exactly as sound, and ``f`` is
never retrained ("a provable defense for pretrained classifiers").

``SmoothedClassifier(denoiser=...)`` does this, and :class:`~smoothcert.DenoiserNet` trains the
denoiser, with a mean-squared error (``"mse"``: no labels, no classifier) or with the frozen
classifier's own predictions (``"stability"``: no labels either). This example compares, on
scikit-learn's digits at ``sigma = 0.5``:

* the clean classifier alone,
* the same classifier behind an MSE denoiser, and behind a stability denoiser,
* a classifier trained with noise (Cohen et al.), for reference.

The settings are tiny so that it runs in seconds on a CPU.
"""

# %%
# Data and a classifier trained without noise
# -------------------------------------------
# Pixels are scaled to ``[0, 1]``; ``sigma`` and the radii are in those units. The clean classifier
# is an ordinary skorch net: nothing of smoothcert touched its training.
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from skorch import NeuralNetClassifier

from smoothcert.models import MLP

X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype(np.float32)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=200, random_state=0, stratify=y)

torch.manual_seed(0)
clean = NeuralNetClassifier(MLP, module__n_inputs=64, module__n_classes=10, criterion=torch.nn.CrossEntropyLoss,
                            optimizer=torch.optim.Adam, lr=0.003, max_epochs=30, train_split=None, verbose=0)
clean.fit(X_train, y_train)
print(f"clean accuracy of the classifier: {(clean.predict(X_test) == y_test).mean():.3f}")

# %%
# Two denoisers for the frozen classifier
# ---------------------------------------
# For flat inputs the default denoiser is an MLP that predicts the clean input (a small residual
# DnCNN for images). The stability denoiser starts from the MSE one (``warm_start``), as Salman et al. fine-tune theirs.
import copy

from smoothcert import DenoiserNet

SIGMA = 0.5
mse = DenoiserNet(sigma=SIGMA, objective="mse", max_epochs=40, lr=0.003, random_state=0).fit(X_train)
stability = copy.deepcopy(mse).set_params(objective="stability", classifier=clean, warm_start=True, max_epochs=20)
stability.fit(X_train)

# %%
# Certify
# -------
# The same clean classifier certifies with no denoiser and with each denoiser (``classes`` tells
# which label each output is: no ``fit`` is needed); the reference is trained with noise at
# ``sigma``. Every estimator draws the same keyed noise.
from smoothcert import SmoothedClassifier, certified_accuracy

settings = dict(sigma=SIGMA, n=1000, random_state=0)
models = {
    "clean": SmoothedClassifier(module=clean, classes=range(10), **settings),
    "clean + MSE denoiser": SmoothedClassifier(module=clean, classes=range(10), denoiser=mse, **settings),
    "clean + stability denoiser": SmoothedClassifier(module=clean, classes=range(10), denoiser=stability, **settings),
    "noise-trained": SmoothedClassifier(max_epochs=30, lr=0.003, **settings).fit(X_train, y_train),
}
radii = [0.0, 0.25, 0.5, 0.75, 1.0]
certificates = {name: clf.certify(X_test) for name, clf in models.items()}
print(f"{'certified accuracy at radius':>28}", *(f"{r:>6}" for r in radii))
for name, cert in certificates.items():
    print(f"{name:>28}", *(f"{a:6.3f}" for a in certified_accuracy(y_test, cert, radii)))

# %%
# The curves
# ----------
# The denoisers recover most of what the clean classifier loses under noise, without touching it.
import matplotlib.pyplot as plt

from smoothcert.plotting import CertifiedAccuracyDisplay

display = CertifiedAccuracyDisplay.from_certificates(y_test, certificates)
display.ax_.set_title(f"digits, sigma = {SIGMA}")
plt.show()
