"""
Memory-based certification pictured in two dimensions
=====================================================

With a scale chosen per input, certified regions computed independently can overlap with
different labels, and a region may promise a label that the data-dependent classifier does not
give inside it. A :class:`~smoothcert.CertificateMemory` resolves each new certificate against the
stored ones, in order: an input inside a stored region takes its label, and a region that would
overlap another label shrinks to a ball that only touches it.
"""

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_moons

from smoothcert import CertificateMemory, IsotropicSigma, SmoothedClassifier
from smoothcert.exceptions import SoundnessWarning
from smoothcert.plotting import plot_regions_2d

X, y = make_moons(300, noise=0.2, random_state=0)
X = X.astype(np.float32)
X_query = X[::6]

sigma = IsotropicSigma(init=0.3, n_iter=60, n_samples=64)
settings = dict(sigma=sigma, n=2000, max_epochs=30, random_state=0)
naive = SmoothedClassifier(**settings).fit(X, y)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", SoundnessWarning)  # the point of the left panel
    unsound = naive.certify(X_query)
sound = SmoothedClassifier(memory=CertificateMemory(), **settings).fit(X, y).certify(X_query)

fig, (left, right) = plt.subplots(1, 2, figsize=(11, 5))
plot_regions_2d(unsound, X, y, ax=left)
left.set_title("per-input sigma, no memory (regions may conflict)")
plot_regions_2d(sound, X, y, ax=right)
right.set_title("with CertificateMemory (conflicts resolved in order)")
print(f"rows decided by a stored region: {(sound.memory_entry >= 0).sum()} of {len(sound)}")
plt.show()
