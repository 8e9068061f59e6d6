"""
Certified regions in two dimensions
===================================

In two dimensions a certificate can be drawn: it is a region around the input in which the
smoothed classifier provably keeps its answer. Gaussian noise (``norm="l2"``) certifies discs,
uniform noise (``norm="l1"``) certifies diamonds (l1 balls). Anisotropic noise, one scale per
dimension (:class:`~smoothcert.AncerSigma`), certifies axis-aligned ellipses and stretched
diamonds, which :func:`~smoothcert.plotting.plot_regions_2d` draws the same way.
"""

# %%
# Two smoothed classifiers on the moons
# -------------------------------------
# For ``norm="l1"`` the scale is the half-width of the uniform noise ``U[-sigma, sigma]`` per
# coordinate, not a standard deviation.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_moons

from smoothcert import SmoothedClassifier
from smoothcert.plotting import plot_regions_2d

X, y = make_moons(400, noise=0.15, random_state=0)
X = X.astype(np.float32)
X_query = X[::10]  # 40 points to certify

models = {
    "Gaussian noise, sigma = 0.25: l2 discs": SmoothedClassifier(sigma=0.25, norm="l2"),
    "uniform noise, sigma = 0.5: l1 diamonds": SmoothedClassifier(sigma=0.5, norm="l1"),
}

# %%
# Certify and draw
# ----------------
# The background shows the smoothed classifier's decision on a grid (its Monte Carlo vote). A
# certified region never crosses it, up to the Monte Carlo error of the background itself.
xx, yy = np.meshgrid(np.linspace(-1.6, 2.6, 80), np.linspace(-1.2, 1.7, 60))
grid = np.c_[xx.ravel(), yy.ravel()].astype(np.float32)

fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
for ax, (title, clf) in zip(axes, models.items()):
    clf.set_params(n=2000, max_epochs=40, lr=0.01, random_state=0).fit(X, y)
    cert = clf.certify(X_query)
    decision = clf.set_params(n=200).predict(grid).reshape(xx.shape)
    ax.contourf(xx, yy, decision, levels=[-0.5, 0.5, 1.5], colors=["tab:blue", "tab:orange"], alpha=0.08)
    plot_regions_2d(cert, X=X, y=y, ax=ax)
    ax.set_title(title, fontsize=10)
plt.tight_layout()
plt.show()

# %%
# Points far from the boundary get large regions; points near it get small ones or abstain
# (black crosses): the top class's probability under noise is too close to 1/2 for ``n`` samples
# to separate it.
