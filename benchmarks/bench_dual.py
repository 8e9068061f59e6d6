"""DualSigma against its bar on digits: the experts' fixed-sigma curves, their envelope, IsotropicSigma + memory.

One ``SmoothedClassifier(sigma=DualSigma(levels))`` is fitted on scikit-learn's digits (pixels in
[0, 1]): an expert (the default MLP) trained with Gaussian noise at each level, then the selector
trained on the experts' soft labels. On the same test inputs, with the same n and alpha:

* each expert's fixed-sigma certified accuracy (``FixedSigma(level)``, the pretrained path);
* the envelope: at each radius, the best of those (what an oracle knowing each input's best fixed
  level would get, and the goal of a sound selector);
* ``DualSigma``: sound without memory, radius ``min(radius_sigma, radius_class)``, with
  ``sampling="fixed"`` (Cohen's CERTIFY on both parts) and ``"sequential"`` (decisions exact at
  the table's radii; the selector stops once its radius reaches the expert's);
* ``IsotropicSigma(init=middle level)`` on the middle expert through a ``CertificateMemory``
  (the other sound data-dependent option; the test inputs are certified in order).

It prints one markdown table of certified accuracy, the gap of DualSigma to the envelope at every
radius, and the cost per input of each strategy (seconds and forward passes).

    python benchmarks/bench_dual.py [--n 10000] [--n-test 300]
"""

import argparse
import copy
import time

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from smoothcert import CertificateMemory, DualSigma, IsotropicSigma, SmoothedClassifier

RADII = [0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5]


def clone_fitted(clf, **params):
    """The fitted ``clf`` with other certification parameters (its networks are shared, not refitted)."""
    other = copy.copy(clf)
    return other.set_params(**params)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--levels", type=float, nargs="+", default=[0.12, 0.25, 0.5])
    parser.add_argument("--n", type=int, default=10_000, help="Monte Carlo samples per certificate")
    parser.add_argument("--n-test", type=int, default=300, help="certify the first N test digits")
    parser.add_argument("--epochs", type=int, default=30, help="training epochs of each expert")
    parser.add_argument("--selector-epochs", type=int, default=60)
    parser.add_argument("--selector-sigma", type=float, default=None, help="default: max(levels)")
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--consistency", type=float, default=50.0)
    parser.add_argument("--n-label", type=int, default=100)
    parser.add_argument("--skip-memory", action="store_true", help="leave out IsotropicSigma + memory")
    args = parser.parse_args()

    digits = load_digits()
    X = (digits.data / 16.0).astype(np.float32)
    X_train, X_test, y_train, y_test = train_test_split(X, digits.target, test_size=0.25, random_state=0,
                                                        stratify=digits.target)
    X_test, y_test = X_test[: args.n_test], y_test[: args.n_test]
    levels = tuple(args.levels)
    common = dict(n=args.n, alpha=0.001, random_state=0)
    sigma = DualSigma(levels=levels, selector_sigma=args.selector_sigma, selector_epochs=args.selector_epochs, temperature=args.temperature,
                      consistency=args.consistency, n_label=args.n_label)
    start = time.perf_counter()
    dual = SmoothedClassifier(sigma=sigma, max_epochs=args.epochs, lr=0.003, **common).fit(X_train, y_train)
    print(f"digits, {len(levels)} experts (default MLP) and a selector trained in {time.perf_counter() - start:.0f} s; "
          f"{len(X_test)} test inputs, n0=100, n={args.n}, alpha=0.001, torch threads {torch.get_num_threads()}")
    print()

    rows, costs = {}, {}

    def run(name, clf):
        start = time.perf_counter()
        cert = clf.certify(X_test)
        costs[name] = ((time.perf_counter() - start) / len(X_test), cert.n_used.mean())
        rows[name] = cert.certified_accuracy(y_test, RADII)
        return cert

    classes = dual.classes_
    for level, expert in zip(levels, dual.module_.experts):
        run(f"FixedSigma({level})", SmoothedClassifier(module=expert, classes=classes, sigma=level, **common))
    envelope = np.max([rows[f"FixedSigma({level})"] for level in levels], axis=0)
    cert = run("DualSigma", dual)
    # The same certificates' guarantee with fewer passes: decisions exact at the table's radii.
    run("DualSigma, sampling='sequential'", clone_fitted(dual, sampling="sequential", radii=RADII))
    if not args.skip_memory:
        middle = levels[len(levels) // 2]
        run(f"IsotropicSigma({middle}) + memory",
            SmoothedClassifier(module=dual.module_.experts[len(levels) // 2], classes=classes,
                               sigma=IsotropicSigma(init=middle), memory=CertificateMemory(), **common))

    radii = " | ".join(f"r={r:g}" for r in RADII)
    print(f"| strategy | {radii} | s / input | forward passes / input |")
    print("|---" * (len(RADII) + 3) + "|")
    for name, accuracy in rows.items():
        seconds, passes = costs[name]
        print(f"| {name} | " + " | ".join(f"{a:.3f}" for a in accuracy) + f" | {seconds:.3f} | {passes:.0f} |")
        if name == f"FixedSigma({levels[-1]})":
            print("| envelope (best fixed level per radius) | " + " | ".join(f"{a:.3f}" for a in envelope) + " | | |")
    gap = rows["DualSigma"] - envelope
    print("| **DualSigma - envelope** | " + " | ".join(f"{100 * g:+.1f} pt" for g in gap) + " | | |")
    print()
    chosen = {level: float(np.mean(cert.sigma == np.float32(level))) for level in levels}
    limited = np.mean((cert.radius_sigma < cert.radius_class) & ~cert.abstained)
    print(f"DualSigma: levels chosen {chosen}; abstained {cert.abstained.mean():.3f} "
          f"(selector abstained {np.mean(cert.radius_sigma == 0):.3f}); radius limited by the selector on "
          f"{limited:.3f} of the inputs.")


if __name__ == "__main__":
    main()
