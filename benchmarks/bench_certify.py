"""Certification with default parameters versus the plain loop and the forward-pass floor.

For each model, in one run and alternating:

* the forward-pass floor: the fastest per-sample forward time (inference mode, argmax) over
  batch sizes 64-4096 and both memory layouts (the module as given with contiguous batches, and a
  channels_last copy of it with channels_last batches);
* the plain loop a user would write: Gaussian noise drawn for the batch, added to the input,
  forward, argmax, ``bincount`` of the votes, at the best batch size and layout of the same sweep;
* ``SmoothedClassifier(module=model, classes=range(10), sigma=0.25, n0=..., n=...).certify(X)``:
  every other parameter at its default (so ``batch_size="auto"``), and with the reference code's
  fixed batch of 1000 for comparison.

The sweep only picks the floor's and the plain loop's batch size and layout. The numbers reported
come from ``--repeats`` paired rounds afterwards: each round times, back to back, the floor and the
plain loop at their picked settings and both ``certify`` calls, all over the same number of samples
(``inputs * (n0 + n)``); the table shows each column's median and the median of the per-round ratios.
(Comparing the best of a 14-setting sweep with the best of a few ``certify`` calls would favour the
loop on a noisy machine: a minimum over more timings is lower by chance alone.) The calibration of
``batch_size="auto"`` runs on the first call (timed separately, reported as "calibration").

    python benchmarks/bench_certify.py [--n 10000] [--inputs 8] [--repeats 5]
"""

import argparse

import numpy as np
import torch
from _models import digits_cnn, small_cnn
from _timing import layouts, per_sample, sweep, timed

from smoothcert import SmoothedClassifier


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--n0", type=int, default=100)
    parser.add_argument("--inputs", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, n0={args.n0}, n={args.n}, "
          f"median of {args.repeats} paired rounds")
    print("| input | forward floor (us/sample, at) | plain loop (us/sample, at) | certify batch | certify (us/sample) "
          "| certify / plain loop | certify / floor | calibration (s) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    models = [("1x8x8 digits CNN", digits_cnn, (1, 8, 8), 1), ("3x32x32 CNN", small_cnn, (3, 32, 32), 4)]
    for name, make, shape, shrink in models:
        model = make().eval()
        inputs = max(1, args.inputs // shrink)
        samples = inputs * (args.n0 + args.n)
        X = np.random.default_rng(0).random((inputs, *shape), dtype=np.float32)
        estimators, calibration = {}, {}
        for batch in ("auto", 1000):
            params = {} if batch == "auto" else {"batch_size": batch}
            clf = SmoothedClassifier(module=model, classes=range(10), sigma=0.25, n0=args.n0, n=args.n,
                                     random_state=0, device="cpu", **params)
            calibration[batch] = timed(lambda: clf.certify(X[:1]))  # the first call calibrates "auto"
            estimators[batch] = clf
        x = torch.as_tensor(X[0])
        options = layouts(model, shape)
        settings = sweep(options, x, min(samples, 20_000), repeats=2)
        times = {column: [] for column in ("floor", "loop", *estimators)}
        results = {}
        for _ in range(args.repeats):
            for kind, (batch, layout_name) in settings.items():
                module, memory_format = options[layout_name]
                times[kind].append(per_sample(module, x, batch, samples, memory_format, noise=kind == "loop"))
            for batch, clf in estimators.items():
                times[batch].append(timed(lambda: results.setdefault(batch, clf.certify(X))) / samples)
        np.testing.assert_array_equal(results[1000].p_lower, results["auto"].p_lower)  # batch never changes a result
        floor, loop = np.median(times["floor"]), np.median(times["loop"])
        at = {kind: f"{batch}, {layout_name}" for kind, (batch, layout_name) in settings.items()}
        for batch, clf in estimators.items():
            label = f"default: auto, {clf.batch_size_}" if batch == "auto" else str(batch)
            certify = np.asarray(times[batch])
            print(f"| {name} | {floor * 1e6:.2f} ({at['floor']}) | {loop * 1e6:.2f} ({at['loop']}) | {label} | "
                  f"{np.median(certify) * 1e6:.2f} | {np.median(certify / times['loop']):.2f} | "
                  f"{np.median(certify / times['floor']):.2f} | {calibration[batch]:.1f} |", flush=True)


if __name__ == "__main__":
    main()
