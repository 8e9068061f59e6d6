"""Fixed versus data-dependent noise scales on scikit-learn's digits, as a markdown table.

One base model (the default MLP, trained with Gaussian noise at sigma = 0.25) is certified with
``FixedSigma(0.25)``, ``IsotropicSigma(0.25)`` (default surrogate, and the authors' ``"top2"``
surrogate for comparison) and ``AncerSigma(IsotropicSigma(0.25))``. Certified accuracy uses the
worst-case l2 radius; ``proxy`` columns use ANCER's volume-equivalent radius (equal to the radius
for isotropic scales). Data-dependent certificates are only sound through a CertificateMemory;
this table compares the strategies' certificates as computed, like the papers' tables.

    python benchmarks/digits_sigma_table.py [--n 2000] [--n-test 300] [--threads 1]
"""

import argparse
import time
import warnings

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from smoothcert import AncerSigma, FixedSigma, IsotropicSigma, SmoothedClassifier, average_certified_radius
from smoothcert.exceptions import SoundnessWarning

RADII = [0.0, 0.25, 0.5, 0.75, 1.0]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sigma", type=float, default=0.25)
    parser.add_argument("--n", type=int, default=2000, help="Monte Carlo samples per certificate")
    parser.add_argument("--n-test", type=int, default=300, help="certify the first N test digits")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore", SoundnessWarning)  # the table compares raw certificates

    digits = load_digits()
    X = (digits.data / 16.0).astype(np.float32)
    X_train, X_test, y_train, y_test = train_test_split(
        X, digits.target, test_size=0.25, random_state=0, stratify=digits.target
    )
    X_test, y_test = X_test[: args.n_test], y_test[: args.n_test]
    clf = SmoothedClassifier(
        sigma=args.sigma, n=args.n, alpha=0.001, max_epochs=args.epochs, lr=0.003, random_state=0
    ).fit(X_train, y_train)
    strategies = {
        f"FixedSigma({args.sigma})": FixedSigma(args.sigma),
        f"IsotropicSigma({args.sigma})": IsotropicSigma(args.sigma),
        f"IsotropicSigma({args.sigma}, surrogate='top2')": IsotropicSigma(args.sigma, surrogate="top2"),
        f"AncerSigma(IsotropicSigma({args.sigma}))": AncerSigma(IsotropicSigma(args.sigma)),
    }
    print(f"digits, default MLP trained at sigma={args.sigma}, {len(X_test)} test inputs, n0=100, "
          f"n={args.n}, alpha=0.001, torch threads {torch.get_num_threads()}")
    print()
    radii = " | ".join(f"r={r:g}" for r in RADII)
    print(f"| strategy | {radii} | ACR | proxy-ACR | proxy acc. r=0.5 | median min sigma | abstain | seconds |")
    print("|---" * (len(RADII) + 7) + "|")
    for name, strategy in strategies.items():
        clf.sigma_ = strategy  # certify the same fitted model with each strategy
        start = time.perf_counter()
        cert = clf.certify(X_test)
        seconds = time.perf_counter() - start
        accuracy = " | ".join(f"{a:.3f}" for a in cert.certified_accuracy(y_test, RADII))
        min_sigma = np.median(cert.sigma.reshape(len(cert), -1).min(axis=1))
        print(
            f"| {name} | {accuracy} | {average_certified_radius(y_test, cert):.3f} | "
            f"{average_certified_radius(y_test, cert, proxy=True):.3f} | "
            f"{cert.certified_accuracy(y_test, [0.5], proxy=True)[0]:.3f} | {min_sigma:.3f} | "
            f"{cert.abstained.mean():.3f} | {seconds:.0f} |"
        )


if __name__ == "__main__":
    main()
