"""Certification cost versus the physical floor: the pure forward passes of the same noisy samples.

For each model: the floor is the fastest per-sample forward time over a sweep of batch sizes
(inference mode, random inputs); certify time per input is divided by (n0 + n) times that floor.
Everything is measured side by side in one run.

    python benchmarks/bench_certify.py [--n 10000] [--inputs 8]
"""

import argparse
import time

import numpy as np
import torch

from smoothcert import SmoothedClassifier


def digits_cnn():
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 32, 3, padding=1), torch.nn.ReLU(),
        torch.nn.Conv2d(32, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(32 * 16, 10),
    )


def cifar_cnn():
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(64, 64, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(), torch.nn.Linear(64, 10),
    )


def best_of(fn, repeats=3):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def forward_floor(model, shape, batch_sizes, total):
    """Fastest seconds per sample of plain forward passes over ``total`` samples, and its batch size."""
    per_sample = {}
    for batch in batch_sizes:
        X = torch.randn(batch, *shape)
        steps = max(1, total // batch)

        def run():
            with torch.inference_mode():
                for _ in range(steps):
                    model(X).argmax(1)

        per_sample[batch] = best_of(run) / (steps * batch)
    best = min(per_sample, key=per_sample.get)
    return per_sample[best], best, per_sample


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--n0", type=int, default=100)
    parser.add_argument("--inputs", type=int, default=8)
    args = parser.parse_args()
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, n0={args.n0}, n={args.n}")
    print(f"{'model':>10} {'floor us/sample':>16} {'best batch':>10} {'certify batch':>13} {'certify us/sample':>18} {'ratio':>6}")
    for name, make, shape in [("digits", digits_cnn, (1, 8, 8)), ("3x32x32", cifar_cnn, (3, 32, 32))]:
        model = make().eval()
        inputs = args.inputs if name == "digits" else max(1, args.inputs // 4)
        samples = inputs * (args.n0 + args.n)
        floor, best_batch, _ = forward_floor(model, shape, [100, 250, 500, 1000, 2000], min(samples, 20_000))
        X = np.random.default_rng(0).random((inputs, *shape), dtype=np.float32)
        for batch in sorted({1000, best_batch}):
            clf = SmoothedClassifier(module=model, max_epochs=0, sigma=0.25, n0=args.n0, n=args.n,
                                     batch_size=batch, random_state=0, device="cpu")
            # max_epochs=0: wrap the (untrained) model as it is; one input per class sets classes_
            clf.fit(np.zeros((10, *shape), np.float32), np.arange(10))
            elapsed = best_of(lambda: clf.certify(X), repeats=2)
            per_sample = elapsed / samples
            print(f"{name:>10} {floor * 1e6:16.2f} {best_batch:10d} {batch:13d} {per_sample * 1e6:18.2f} {per_sample / floor:6.2f}")


if __name__ == "__main__":
    main()
