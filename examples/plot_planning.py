"""
Planning the number of samples
==============================

With ``n`` Monte Carlo samples, the Clopper-Pearson lower bound on the top class's probability
is at most ``alpha ** (1/n)`` (when every noisy copy votes for it). So whatever the model, no
certificate can exceed a cap: ``sigma * Phi^-1(alpha ** (1/n))`` for Gaussian noise and
``2 sigma (alpha ** (1/n) - 1/2)`` for uniform noise. Below about ``log2(1/alpha)`` samples the
cap is 0 and every input abstains. These helpers answer two questions before a long run: what can
this ``n`` certify at best, and how many samples does a target radius need?
"""

# %%
# The cap against the number of samples
# -------------------------------------
# In units of sigma, for three failure probabilities. The Gaussian cap keeps growing (slowly, like
# ``sqrt(2 ln n)``); the uniform one saturates at sigma.
import matplotlib.pyplot as plt
import numpy as np

from smoothcert import max_certifiable_radius, min_samples_for_radius

n_grid = np.unique(np.logspace(1, 7, 200).astype(int))
fig, ax = plt.subplots()
for alpha, style in [(1e-2, "-"), (1e-3, "--"), (1e-5, ":")]:
    for norm, color in [("l2", "tab:blue"), ("l1", "tab:orange")]:
        cap = [max_certifiable_radius(1.0, int(n), alpha, norm) for n in n_grid]
        ax.plot(n_grid, cap, style, color=color, label=f"{norm}, alpha = {alpha:g}")
ax.set_xscale("log")
ax.set_xlabel("n (samples per certificate)")
ax.set_ylabel("largest certifiable radius / sigma")
ax.legend(fontsize=8)
plt.show()

# %%
# Reference values
# ----------------
# The setting of most papers, ``n = 100,000`` and ``alpha = 0.001``, caps Gaussian certificates
# at ``3.81 sigma``: the highest radius on Cohen et al.'s ImageNet curves at ``sigma = 1`` is not
# a property of the model.
for n in (100, 1000, 10_000, 100_000):
    print(f"n = {n:>7}: cap = {max_certifiable_radius(1.0, n, 0.001):.5f} sigma")
print("n = 5 certifies nothing:", max_certifiable_radius(1.0, 5, 0.001))

# %%
# Samples needed for a target radius
# ----------------------------------
# The smallest ``n`` whose cap reaches the radius. This is a floor: a model that is not right on
# every noisy copy needs more. The required ``n`` explodes as the radius approaches a few sigma.
for ratio in (1.0, 2.0, 3.0, 4.0, 5.0):
    n = min_samples_for_radius(ratio * 0.25, sigma=0.25, alpha=0.001)
    print(f"radius = {ratio:.0f} sigma needs n >= {n:,}")
print("uniform noise, radius 0.9 sigma:", min_samples_for_radius(0.9, sigma=1.0, norm="l1"))
