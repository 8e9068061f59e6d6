"""Derive per-input ``p_A`` values from Cohen et al.'s published CIFAR-10 certificates.

Source
------
Repository ``locuslab/smoothing`` (Cohen, Rosenfeld & Kolter, "Certified Adversarial Robustness
via Randomized Smoothing", ICML 2019), commit ``78a4d949e4f627d000a78908e001f8ca66c92943``,
files ``data/certify/cifar10/resnet110/noise_{s}/test/sigma_{s}`` for ``s`` in 0.12, 0.25, 0.50,
1.00 (training noise equal to certification noise). Only the data values are used.

Each file is a TSV ``idx label predict radius correct time`` produced with ``N = 100000``
estimation samples and ``N0 = 100`` selection samples. The radius is ``sigma * Phi^-1(pA_lower)``
where ``pA_lower = beta.ppf(alpha, k, N - k + 1)`` is the one-sided Clopper-Pearson lower bound on
the count ``k`` of the predicted class; ``predict = -1`` means the certifier abstained
(``pA_lower <= 1/2``). The paper states ``alpha = 0.001``, but only the sigma = 0.12 file is
reproduced by it: the sigma = 0.25, 0.50 and 1.00 files are reproduced exactly (every printed
radius) by ``alpha = 0.01`` and not by ``alpha = 0.001`` (for sigma = 0.25, 65 inputs sit at
0.978, the ``k = N`` radius for ``alpha = 0.01``, above the ``alpha = 0.001`` maximum of 0.953).
``alpha`` is therefore chosen per file, from ``ALPHAS``, as the one that reproduces most of the
printed radii.

Inversion
---------
For a certified row, ``pA_lower = Phi(radius / sigma)``, and ``k`` is the integer in ``[0, N]``
whose Clopper-Pearson lower bound is closest to it (vectorised binary search; the bound is
increasing in ``k``). The recorded value is ``p_a = k / N``, the point estimate that reproduces
the published radius. The radius is printed to 3 significant digits (``{:.3}``), so ``k`` is
only determined up to that rounding: every count in a run of neighbours (up to a few hundred
for large sigma and mid-range ``p_A``, i.e. ``p_a`` uncertain by about 1e-3) prints the same
radius, and re-certifying from ``p_a`` matches the published radius only to printed precision.

Abstentions
-----------
For an abstained row only ``pA_lower(k) <= 1/2`` is known. It is given the largest such count
(under the file's ``alpha``), ``p_a = k_max / N``, just below the certification threshold: the
most certifiable value consistent with the abstention. Such rows have ``abstained = 1`` and
``correct = 0`` (copied from the file, as for every row).

Usage
-----
::

    python benchmarks/data/derive_cohen_pa.py <git-dir-or-folder-of-tsvs> [-o out.csv] [--check]

The argument is a git directory of the repository (read with ``git show HEAD:...``) or a folder
holding the ``noise_{s}/test/sigma_{s}`` files (or flat ``sigma_{s}`` files). ``--check``
re-certifies every row from its ``p_a`` and prints the agreement with the published file.
"""

import argparse
import os
import re
import subprocess

import numpy as np
from scipy.stats import beta, norm

N = 100_000
ALPHAS = (0.001, 0.01)
RADII = (0.0, 0.25, 0.5, 0.75, 1.0)
PATTERN = re.compile(r"(?:^|/)(?:noise_(?P<noise>[\d.]+)/test/)?sigma_(?P<sigma>[\d.]+)$")
HERE = os.path.dirname(os.path.abspath(__file__))


def cp_lower(k, alpha, n=N):
    """One-sided Clopper-Pearson lower bound on a binomial proportion (0 for ``k = 0``)."""
    k = np.asarray(k, dtype=float)
    return np.where(k > 0, beta.ppf(alpha, np.maximum(k, 1), n - k + 1), 0.0)


def first_count_above(target, alpha, strict=False, n=N):
    """Smallest ``k`` in ``[0, n + 1]`` with ``cp_lower(k) >= target`` (``>`` if ``strict``)."""
    target = np.asarray(target, dtype=float)
    lo, hi = np.zeros(target.shape, dtype=np.int64), np.full(target.shape, n + 1, dtype=np.int64)
    while np.any(lo < hi):
        mid = (lo + hi) // 2
        bound = cp_lower(mid, alpha, n)
        above = bound > target if strict else bound >= target
        hi, lo = np.where(above, mid, hi), np.where(above, lo, mid + 1)
    return lo


def nearest_count(target, alpha, n=N):
    """Count whose lower bound is closest to ``target``."""
    upper = np.minimum(first_count_above(target, alpha, n=n), n)
    lower = np.maximum(upper - 1, 0)
    closer = np.abs(cp_lower(lower, alpha, n) - target) < np.abs(cp_lower(upper, alpha, n) - target)
    return np.where(closer, lower, upper)


def certified_radius(k, sigma, alpha, n=N):
    """Radius ``sigma * Phi^-1(pA_lower)`` from counts, 0 where the certifier abstains."""
    bound = cp_lower(k, alpha, n)
    return np.where(bound > 0.5, sigma * norm.ppf(np.maximum(bound, 0.5)), 0.0)


def read_sources(source):
    """Yield ``(sigma, text)`` for every certify file with matching training noise."""
    if os.path.isfile(os.path.join(source, "HEAD")):
        git = ["git", "--git-dir", source]
        names = subprocess.run(
            git + ["ls-tree", "-r", "HEAD", "--name-only"], check=True, capture_output=True, text=True
        ).stdout.split()
        names = [p for p in names if p.startswith("data/certify/cifar10/")]
        read = lambda p: subprocess.run(git + ["show", f"HEAD:{p}"], check=True, capture_output=True, text=True).stdout
    else:
        names = sorted(
            os.path.relpath(os.path.join(d, f), source).replace(os.sep, "/") for d, _, files in os.walk(source) for f in files
        )
        read = lambda p: open(os.path.join(source, p)).read()
    for path in names:
        match = PATTERN.search(path)
        if match and match["noise"] in (None, match["sigma"]):
            yield float(match["sigma"]), read(path)


def derive(source):
    """Per-file dicts of ``sigma, alpha, idx, correct, abstained, k, radius, printed``."""
    files = []
    for sigma, text in sorted(read_sources(source)):
        fields = np.array([line.split("\t")[:5] for line in text.strip().splitlines()[1:]])
        printed = fields[:, 3]
        abstained = fields[:, 2] == "-1"
        radius = np.where(abstained, 0.0, printed.astype(float))

        def fit(alpha):
            k = nearest_count(norm.cdf(radius / sigma), alpha)
            k_abstain = first_count_above(0.5, alpha, strict=True) - 1
            k = np.where(abstained, k_abstain, k)
            hits = [f"{r:.3}" == p for r, p in zip(certified_radius(k, sigma, alpha), printed)]
            return np.mean(np.array(hits)[~abstained]), alpha, k

        _, alpha, k = max((fit(a) for a in ALPHAS), key=lambda fitted: fitted[0])
        files.append(
            dict(
                sigma=sigma,
                alpha=alpha,
                idx=fields[:, 0].astype(int),
                correct=fields[:, 4].astype(int),
                abstained=abstained,
                k=k,
                radius=radius,
                printed=printed,
            )
        )
    if not files:
        raise SystemExit(f"no certify files found under {source}")
    return files


def check(f):
    """Print the re-certification agreement and certified accuracies of one file."""
    sigma, alpha, ok = f["sigma"], f["alpha"], ~f["abstained"]
    radius = certified_radius(f["k"], sigma, alpha)
    exact = np.mean([f"{r:.3}" == p for r, p in zip(radius[ok], f["printed"][ok])])
    # counts printing the same radius: those whose radius lies within half a last digit
    half = 0.5 * 10.0 ** (np.floor(np.log10(f["radius"][ok])) - 2)
    lo = first_count_above(norm.cdf((f["radius"][ok] - half) / sigma), alpha)
    hi = first_count_above(norm.cdf((f["radius"][ok] + half) / sigma), alpha, strict=True)
    acc = lambda r: " ".join(f"{np.mean((f['correct'] == 1) & (r >= t)):.3f}" for t in RADII)
    print(
        f"sigma={sigma:.2f} alpha={alpha} rows={len(radius)} abstained={np.sum(~ok)} "
        f"exact={exact:.3f} max|radius error|={np.max(np.abs(radius - f['radius'])):.1e} "
        f"abstain mismatches={np.sum((radius > 0) != ok)} "
        f"counts per printed radius: median {np.median(hi - lo):.0f}, max {np.max(hi - lo)}"
    )
    print(f"  certified accuracy at {RADII}: published {acc(f['radius'])}, re-derived {acc(radius)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="git dir of locuslab/smoothing or folder of certify TSVs")
    parser.add_argument("-o", "--output", default=os.path.join(HERE, "cohen_cifar10_pa.csv"))
    parser.add_argument("--check", action="store_true", help="print the re-certification check")
    args = parser.parse_args()
    files = derive(args.source)
    rows = np.concatenate(
        [np.column_stack([np.full(len(f["idx"]), f["sigma"]), f["idx"], f["correct"], f["abstained"], f["k"] / N]) for f in files]
    )
    np.savetxt(
        args.output,
        rows,
        fmt=["%.2f", "%d", "%d", "%d", "%.6f"],
        delimiter=",",
        header="sigma,idx,correct,abstained,p_a",
        comments="",
    )
    print(
        f"wrote {len(rows)} rows to {args.output}; alpha per sigma: "
        + ", ".join(f"{f['sigma']:.2f}: {f['alpha']}" for f in files)
    )
    if args.check:
        for f in files:
            check(f)


if __name__ == "__main__":
    main()
