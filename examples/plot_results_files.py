"""
Results files, tables and the envelope over noise levels
========================================================

Randomized-smoothing papers publish one tab-separated file per experiment, in the format of Cohen
et al.'s ``certify.py``: ``idx label predict radius correct time``, one row per certified input.
:func:`~smoothcert.write_results` writes that format (so the original ``analyze.py`` reads our
results) and :func:`~smoothcert.read_results` reads it (so published baselines can be compared
with our models). Here we certify digits at three noise levels, save the results, read them back,
draw the curves with their envelope, and print a table.
"""

# %%
# Certify at three noise levels
# -----------------------------
# A larger ``sigma`` certifies larger radii but costs clean accuracy. Each model is trained at the
# noise level it is certified at.
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from smoothcert import SmoothedClassifier, write_results

X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype(np.float32)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=200, random_state=0, stratify=y)

folder = Path(tempfile.mkdtemp())
for sigma in (0.12, 0.25, 0.5):
    clf = SmoothedClassifier(sigma=sigma, n=1000, max_epochs=20, lr=0.003, random_state=0)
    clf.fit(X_train, y_train)
    start = time.perf_counter()
    cert = clf.certify(X_test)
    seconds_per_input = (time.perf_counter() - start) / len(X_test)  # certify works on batches
    write_results(folder / f"sigma_{sigma}", cert, y_test, times=seconds_per_input)

print("".join((folder / "sigma_0.25").read_text().splitlines(keepends=True)[:5]))

# %%
# Read the files back
# -------------------
# :func:`~smoothcert.read_results` returns a :class:`~smoothcert.CertificationResults`, which every
# metric accepts in place of certificates (its true labels are in ``y_true``). The files keep
# every digit of the radii, so the metrics of the file and of the certificates agree exactly.
from smoothcert import certified_accuracy, read_results

results = {f"sigma = {s}": read_results(folder / f"sigma_{s}", alpha=0.001) for s in (0.12, 0.25, 0.5)}
for name, result in results.items():
    print(name, certified_accuracy(result.y_true, result, [0.0, 0.25, 0.5, 1.0]).round(3))

# %%
# Files written by the reference scripts read the same way, whatever their time format:
sample = folder / "cohen_sample"
sample.write_text(
    "idx\tlabel\tpredict\tradius\tcorrect\ttime\n"
    "0\t3\t3\t0.378\t1\t0:00:15.412345\n"  # certify.py's time format
    "20\t7\t-1\t0.0\t0\t15.6\n"  # the published files' (seconds); predict -1: abstained
)
print(read_results(sample).to_frame())

# %%
# Curves and envelope
# -------------------
# The envelope is the best certified accuracy over the noise levels at each radius, the usual
# summary when sigma is a hyperparameter chosen per radius.
import matplotlib.pyplot as plt

from smoothcert import CertifiedAccuracyDisplay

display = CertifiedAccuracyDisplay.from_files(
    {name: folder / f"sigma_{name.split()[-1]}" for name in results}, envelope=True
)
display.ax_.set_title("Digits: three noise levels")
plt.show()

# %%
# Tables
# ------
# The best value at each radius is in bold, as in the tables of Cohen et al.'s ``analyze.py``.
from smoothcert import certified_accuracy_table

print(certified_accuracy_table(results, [0.0, 0.25, 0.5, 0.75, 1.0]))

# %%
# The same table for a paper (LaTeX math in the row names is kept as it is):
latex_results = {f"$\\sigma = {name.split()[-1]}$": result for name, result in results.items()}
print(certified_accuracy_table(latex_results, [0.0, 0.25, 0.5, 0.75, 1.0], fmt="latex"))
