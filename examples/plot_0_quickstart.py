"""
Quickstart: certify a digits classifier
=======================================

Train a small network on scikit-learn's digits with Gaussian noise augmentation, certify test
images with Cohen et al.'s CERTIFY, and draw the certified accuracy against the radius.

The pixels are scaled to ``[0, 1]``, so ``sigma`` and every radius below are in those units: a
radius of ``0.5`` means that no change of the 64 pixel values with l2 norm below ``0.5`` can
change the smoothed classifier's answer.
"""

# %%
# Data and model
# --------------
# :class:`~smoothcert.SmoothedClassifier` wraps a PyTorch classifier (by default a small MLP sized
# from the data). ``fit`` trains a copy of it on noisy copies of the inputs, at the noise level
# used for certification. ``n`` is the number of Monte Carlo samples per certificate: papers use
# 100,000; 2,000 keeps this example fast, at the price of smaller radii (see the planning example).
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from smoothcert import SmoothedClassifier

X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype(np.float32)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=300, random_state=0, stratify=y)

clf = SmoothedClassifier(sigma=0.25, n=2000, max_epochs=30, lr=0.003, random_state=0)
clf.fit(X_train, y_train)
print(f"smoothed accuracy: {clf.score(X_test, y_test):.3f}")

# %%
# Certify
# -------
# ``certify`` returns one record per input: the certified class (or an abstention), the lower
# bound ``p_lower`` on the top class's probability under noise, and the certified radius. Each
# record holds with probability at least ``1 - alpha`` over the Monte Carlo noise.
cert = clf.certify(X_test)
print(cert.to_frame().head())
print(f"abstained on {cert.abstained.mean():.1%} of the test images")

# %%
# Certified accuracy
# ------------------
# Certified accuracy at radius ``r`` is the fraction of test images whose certified class is right
# with a radius of at least ``r`` (abstentions count as wrong). The average certified radius (ACR)
# averages the radius of the correct rows, counting the others as 0.
from smoothcert import average_certified_radius, certified_accuracy, certified_accuracy_lower_bound

radii = [0.0, 0.25, 0.5, 0.75]
print("radius                 ", radii)
print("certified accuracy     ", certified_accuracy(y_test, cert, radii).round(3))
# With probability 1 - rho, the certificates' true accuracy is at least this (Cohen et al.):
print("lower bound (rho=0.001)", certified_accuracy_lower_bound(y_test, cert, radii).round(3))
print(f"ACR: {average_certified_radius(y_test, cert):.3f}")

# %%
# The curve is a step function; :class:`~smoothcert.CertifiedAccuracyDisplay` draws it exactly.
# No radius exceeds ``sigma * Phi^-1(alpha ** (1/n))``, the largest radius ``n`` samples can
# certify (dotted line).
import matplotlib.pyplot as plt

from smoothcert import CertifiedAccuracyDisplay, max_certifiable_radius

display = CertifiedAccuracyDisplay.from_certificates(y_test, cert, names=["sigma = 0.25"])
display.ax_.axvline(max_certifiable_radius(0.25, clf.n, clf.alpha), color="grey", linestyle=":")
_ = display.ax_.set_title("Digits, MLP, n = 2000")
plt.show()

# %%
# A model you trained yourself
# ----------------------------
# A trained ``torch.nn.Module`` needs no ``fit``: name the labels of its outputs with ``classes``
# (``classes[i]`` is the label of output ``i``) and certify. The input shape is taken from the
# first call; the module is copied, never changed. Here the network trained above stands in for
# yours.
mine = clf.module_
pretrained = SmoothedClassifier(module=mine, classes=clf.classes_, sigma=0.25, n=2000, random_state=0)
print(pretrained.certify(X_test[:5]).to_frame()[["label", "radius", "abstained"]])
