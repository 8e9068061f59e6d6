"""Certification cost versus the physical floor: pure forward passes of the same noisy samples.

The floor is the fastest per-sample forward time over batch sizes and memory layouts (NCHW and
channels_last), inference mode. Certify time per input is divided by (n0 + n) times the floor, for
the fixed batch of 1000 that the reference code uses and for ``batch_size="auto"``. Floor and
certify runs alternate, and the best of the repeats is kept, so the ratios are measured side by side.

    python benchmarks/bench_certify.py [--n 10000] [--inputs 8] [--repeats 3]
"""

import argparse
import time

import numpy as np
import torch
from _models import digits_cnn, small_cnn

from smoothcert import SmoothedClassifier


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def forward_time(model, shape, batch, total, layout):
    """Seconds per sample of forward passes over ``total`` samples in batches of ``batch``."""
    X = torch.randn(batch, *shape).contiguous(memory_format=layout)
    model = model.to(memory_format=layout)
    steps = max(1, total // batch)

    def run():
        with torch.inference_mode():
            for _ in range(steps):
                model(X).argmax(1)

    return timed(run) / (steps * batch)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=5_000)
    parser.add_argument("--n0", type=int, default=100)
    parser.add_argument("--inputs", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, n0={args.n0}, n={args.n}")
    header = f"{'input':>9} {'floor us/sample':>15} {'floor at':>18} {'batch':>6} {'certify us/sample':>17} {'ratio':>6}"
    print(header)
    models = [("1x8x8", digits_cnn, (1, 8, 8), 1), ("3x32x32", small_cnn, (3, 32, 32), 4), ("3x64x64", small_cnn, (3, 64, 64), 8)]
    for name, make, shape, shrink in models:
        model = make().eval()
        inputs = max(1, args.inputs // shrink)
        samples = inputs * (args.n0 + args.n)
        X = np.random.default_rng(0).random((inputs, *shape), dtype=np.float32)
        estimators = {}
        for batch in (1000, "auto"):
            clf = SmoothedClassifier(module=model, max_epochs=0, sigma=0.25, n0=args.n0, n=args.n,
                                     batch_size=batch, random_state=0, device="cpu")
            # max_epochs=0 wraps the untrained model as it is; one input per class sets classes_
            estimators[batch] = clf.fit(np.zeros((10, *shape), np.float32), np.arange(10))
            clf.certify(X[:1])  # warm-up (and the "auto" calibration)
        floor, floor_at = float("inf"), None
        certify = {batch: float("inf") for batch in estimators}
        results = {}
        for _ in range(args.repeats):
            for batch in (64, 128, 256, 512, 1000, 2000):
                for layout in (torch.contiguous_format, torch.channels_last):
                    t = forward_time(model, shape, batch, min(samples, 10_000), layout)
                    if t < floor:
                        floor, floor_at = t, f"{batch}, {'NHWC' if layout == torch.channels_last else 'NCHW'}"
            for batch, clf in estimators.items():
                certify[batch] = min(certify[batch], timed(lambda: results.setdefault(batch, clf.certify(X))) / samples)
        np.testing.assert_array_equal(results[1000].p_lower, results["auto"].p_lower)  # batch never changes a result
        for batch, clf in estimators.items():
            label = f"{clf.batch_size_}*" if batch == "auto" else str(batch)
            print(f"{name:>9} {floor * 1e6:15.2f} {floor_at:>18} {label:>6} {certify[batch] * 1e6:17.2f} {certify[batch] / floor:6.2f}")
    print("* chosen by batch_size='auto'")


if __name__ == "__main__":
    main()
