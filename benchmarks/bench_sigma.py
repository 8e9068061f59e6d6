"""Cost of the per-input noise-scale optimisation versus its floor.

The floor of ``n_iter`` steps with ``n_samples`` noise draws is ``n_iter * n_samples`` forward and
backward passes (gradient with respect to the input, weights frozen) of the same model, at the
fastest batch size and memory layout of a sweep. The strategies' time per input is divided by
that. Everything is measured side by side in one run; absolute times on a shared CPU are noisy.

    python benchmarks/bench_sigma.py [--n-iter 10] [--n-samples 100] [--inputs 10] [--repeats 3] [--threads 1]
"""

import argparse
import time

import torch
from _models import digits_cnn, small_cnn

from smoothcert import AncerSigma, IsotropicSigma
from smoothcert.noise import GaussianNoise
from smoothcert.sampling import input_keys


def best_of(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def backward_floor(model, shape, batch_sizes, total, layouts=None):
    """Fastest seconds per row of forward + backward-to-input passes, with its batch size and layout."""
    if layouts is None:
        layouts = {"NCHW": torch.contiguous_format}
        if len(shape) == 3:
            layouts["channels_last"] = torch.channels_last
    best = (float("inf"), None, None)
    for name, layout in layouts.items():
        for batch in batch_sizes:
            X = torch.randn(batch, *shape).contiguous(memory_format=layout)
            steps = max(1, total // batch)

            def run():
                for _ in range(steps):
                    x = X.clone().requires_grad_(True)
                    model(x).softmax(dim=1).mean(dim=0).max().backward()

            per_row = best_of(run, repeats=1) / (steps * batch)
            best = min(best, (per_row, batch, name), key=lambda item: item[0])
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-iter", type=int, default=10)
    parser.add_argument("--n-samples", type=int, default=100)
    parser.add_argument("--inputs", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    print(f"torch {torch.__version__}, {threads} threads, n_iter={args.n_iter}, n_samples={args.n_samples}")
    print(f"{'input':>8} {'floor us/row':>12} {'floor at':>19} {'strategy':>15} {'us/row':>8} {'ratio':>6}")
    for name, make, shape, shrink in [("1x8x8", digits_cnn, (1, 8, 8), 1), ("3x32x32", small_cnn, (3, 32, 32), 5)]:
        # SmoothedClassifier keeps image models' weights channels_last; measure that model.
        model = make().eval().to(memory_format=torch.channels_last)
        for p in model.parameters():
            p.requires_grad_(False)
        inputs = max(1, args.inputs // shrink)
        rows = inputs * args.n_iter * args.n_samples
        X = torch.rand(inputs, *shape)
        keys = input_keys(X.numpy(), 0)
        strategies = {
            "IsotropicSigma": IsotropicSigma(n_iter=args.n_iter, n_samples=args.n_samples),
            # a float init times ANCER's own steps only
            "AncerSigma": AncerSigma(init=0.25, n_iter=args.n_iter, n_samples=args.n_samples),
        }
        floor = (float("inf"), None, None)
        times = dict.fromkeys(strategies, float("inf"))
        for _ in range(args.repeats):  # floor and strategies alternate; the best of the repeats is kept
            floor = min(floor, backward_floor(model, shape, [100, 250, 500, 1000, 2000], min(rows, 2000)),
                        key=lambda item: item[0])
            # the strategies get the floor's best batch (one input's copies always share a pass)
            batch = max(floor[1], args.n_samples)
            for label, strategy in strategies.items():
                elapsed = best_of(
                    lambda: strategy.scales(model, X, noise=GaussianNoise(), keys=keys, batch_size=batch), repeats=1
                )
                times[label] = min(times[label], elapsed / rows)
        where = f"batch {floor[1]}, {floor[2]}"
        for label, per_row in times.items():
            ratio = per_row / floor[0]
            print(f"{name:>8} {floor[0] * 1e6:12.1f} {where:>19} {label:>15} {per_row * 1e6:8.1f} {ratio:6.2f}")
        # what freezing saves: the same floor with gradients for the weights as well
        for p in model.parameters():
            p.requires_grad_(True)
        layout = torch.channels_last if floor[2] == "channels_last" else torch.contiguous_format
        unfrozen = min(backward_floor(model, shape, [floor[1]], min(rows, 2000), layouts={floor[2]: layout})[0]
                       for _ in range(args.repeats))
        print(f"{name:>8} weights not frozen: {unfrozen * 1e6:.1f} us/row, {unfrozen / floor[0]:.2f} x the floor")


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"total {time.perf_counter() - start:.0f} s")
