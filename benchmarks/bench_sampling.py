"""Forward passes, wall time and certified accuracy of the three sampling modes, side by side.

Two parts:

* a real network: a digits CNN trained with noise augmentation at each sigma, the same test
  inputs certified with ``sampling="fixed"``, ``"sequential"`` (the radius grid, and one radius)
  and ``"adaptive"``;
* a simulation on the per-input p_A implied by Cohen et al.'s published CIFAR-10 ResNet-110
  results (``benchmarks/data/cohen_cifar10_pa.csv``), votes redrawn as binomials
  (:func:`smoothcert.simulation.simulate_certify`), at Cohen's n = 100,000 and alpha = 0.001.

Usage::

    .venv/bin/python benchmarks/bench_sampling.py --n 100000 --inputs 300
"""

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from _models import digits_cnn
from sklearn.datasets import load_digits

from smoothcert import SmoothedClassifier
from smoothcert.simulation import simulate_certify

GRID = (0.0, 0.25, 0.5, 0.75, 1.0)
TABLE = Path(__file__).resolve().parent / "data" / "cohen_cifar10_pa.csv"


def modes(single_radius):
    return [
        ("fixed", dict(sampling="fixed")),
        ("sequential, grid", dict(sampling="sequential", radii=GRID)),
        (f"sequential, r={single_radius}", dict(sampling="sequential", radii=(single_radius,))),
        ("adaptive, tol 0.01", dict(sampling="adaptive", radius_tolerance=0.01)),
    ]


def row(name, passes, base_passes, wall, base_wall, accuracy, acr):
    acc = " | ".join(f"{a:.3f}" for a in accuracy)
    wall_text = "" if wall is None else f" {wall:.1f} s ({base_wall / wall:.2f}x) |"
    return f"| {name} | {passes / 1e6:.2f} M ({base_passes / passes:.2f}x) |{wall_text} {acc} | {acr:.4f} |"


def real_network(args):
    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32).reshape(-1, 1, 8, 8)
    train, test = slice(0, len(X) - args.inputs), slice(len(X) - args.inputs, None)
    for sigma in args.sigmas:
        torch.manual_seed(0)
        clf = SmoothedClassifier(module=digits_cnn(), sigma=sigma, n=args.n, max_epochs=args.epochs, lr=0.003,
                                 batch_size="auto", random_state=0, device="cpu").fit(X[train], y[train])
        print(f"\n### digits CNN, sigma = {sigma}, {args.inputs} inputs, n0 = 100, n = {args.n}, alpha = 0.001\n")
        print("| mode | forward passes (saving) | wall (speed-up) | " + " | ".join(f"r={r}" for r in GRID) + " | ACR |")
        print("|---|---:|---:|" + "---:|" * (len(GRID) + 1))
        clf.certify(X[test][:1])  # calibrates batch_size="auto" outside the timings
        base = None
        for name, params in modes(sigma):
            clf.set_params(**{"radii": None, **params})
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cert = clf.certify(X[test])
            wall = time.perf_counter() - start
            accuracy = cert.certified_accuracy(y[test], GRID)
            acr = float(np.where(cert.label == y[test], cert.radius, 0.0).mean())
            passes = int(cert.n_used.sum())
            base = base or (passes, wall)
            print(row(name, passes, base[0], wall, base[1], accuracy, acr), flush=True)


def simulation(args):
    data = np.genfromtxt(TABLE, delimiter=",", names=True)
    for sigma in np.unique(data["sigma"]):
        rows = data[data["sigma"] == sigma]
        p, correct = rows["p_a"], rows["correct"].astype(bool)
        print(f"\n### simulation on Cohen et al.'s CIFAR-10 p_A, sigma = {sigma}, {len(p)} inputs, n = 100,000, "
              f"alpha = 0.001, {args.seeds} redraws\n")
        print("| mode | forward passes (saving) | " + " | ".join(f"r={r}" for r in GRID) + " | ACR |")
        print("|---|---:|" + "---:|" * (len(GRID) + 1))
        base = None
        for name, params in modes(float(sigma)):
            passes, accuracy, acr = 0, 0, 0
            for seed in range(args.seeds):
                r = simulate_certify(p, sigma=sigma, n=100_000, alpha=0.001, block=341, random_state=seed, **params)
                ok = r["top"] & (r["p_lower"] > 0.5) & correct
                passes += r["n_used"].sum() / args.seeds
                accuracy = accuracy + np.array([np.mean(ok & (r["radius"] >= x)) for x in GRID]) / args.seeds
                acr += np.mean(np.where(ok, r["radius"], 0.0)) / args.seeds
            base = base or passes
            print(row(name, passes, base, None, None, accuracy, acr), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--inputs", type=int, default=300)
    parser.add_argument("--sigmas", type=float, nargs="+", default=[0.25, 0.5])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--skip-network", action="store_true")
    args = parser.parse_args()
    simulation(args)
    if not args.skip_network:
        real_network(args)
