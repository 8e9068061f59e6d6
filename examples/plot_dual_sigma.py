"""
A data-dependent noise level that is sound without memory: DualSigma
====================================================================

A small noise level certifies more inputs at small radii, a large one certifies larger radii. The
*envelope* of the fixed-level curves (at each radius, the best level) is what an oracle that knew
each input's best level would reach. :class:`~smoothcert.DualSigma` (dual randomized smoothing,
Sun, Mao and Vechev) chooses the level per input with a *smoothed selector*, whose choice is
certified like a prediction: the certificate is ``min(radius_sigma, radius_class)``, sound for the
deployed classifier as a plain function of the input, with no memory.

Tiny settings (``n=1000``, 100 test digits) keep this example fast on a CPU; the paper-scale
comparison (``n=10000``, 300 inputs) is ``benchmarks/bench_dual.py``.
"""

# %%
# One fit trains an expert per level, then the selector
# -----------------------------------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from smoothcert import DualSigma, SmoothedClassifier
from smoothcert.plotting import CertifiedAccuracyDisplay

X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype(np.float32)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
X_test, y_test = X_test[:100], y_test[:100]

levels = (0.12, 0.25, 0.5)
dual = SmoothedClassifier(sigma=DualSigma(levels=levels), n=1000, max_epochs=20, lr=0.003, random_state=0)
dual.fit(X_train, y_train)
cert = dual.certify(X_test)  # no SoundnessWarning: the level is certified too
print(cert.to_frame()[["label", "radius", "radius_sigma", "radius_class", "sigma"]].head())

# %%
# The experts at their own fixed level, and the envelope
# ------------------------------------------------------
# Each expert is a trained module: the pretrained path (``classes=``) certifies it at its level.
fixed = {
    f"FixedSigma({level})": SmoothedClassifier(module=expert, classes=dual.classes_, sigma=level, n=1000,
                                               random_state=0).certify(X_test)
    for level, expert in zip(levels, dual.module_.experts)
}
radii = np.linspace(0, 1.0, 41)
fig, ax = plt.subplots(figsize=(6, 4))
CertifiedAccuracyDisplay.from_certificates(y_test, list(fixed.values()), names=list(fixed), radii=radii,
                                           envelope=True, ax=ax)
CertifiedAccuracyDisplay.from_certificates(y_test, [cert], names=["DualSigma"], radii=radii, ax=ax,
                                           color="crimson", linewidth=2)
_ = ax.set_title("digits, n = 1000")

# %%
# Where the selector spends its levels
# ------------------------------------
# With the default strong consistency weight the selector's choice is stable under noise, so its
# own radius rarely limits the certificate; how often each level is chosen:
for level in levels:
    print(f"sigma = {level}: chosen for {np.mean(cert.sigma == np.float32(level)):.0%} of the inputs")
print(f"radius limited by the selector on {np.mean(cert.radius_sigma < cert.radius_class):.0%} of the inputs")
