"""Certification on a GPU: forward passes per second, certify / floor, and the share of the noise.

Prepared to run in one call on a CUDA machine; ``--device cpu --quick`` checks on any machine that
it runs. For He et al.'s CIFAR ResNet-20 (3x32x32 inputs, untrained: only the cost matters), in
float32 and under bfloat16 autocast, it prints:

* per batch size (256-4096): the forward-pass floor (inference mode, channels_last, argmax; input
  fixed on the device), the sampling step :func:`smoothcert.sampling.count_votes` at that batch
  size (keyed noise drawn on the device, copied into the batch with the input and scale, forward,
  votes counted), and the same step with a model that costs nothing (``noise``: what drawing and
  copying the noise and counting cost alone). ``noise share`` is that time over the step's;
* ``certify`` with ``SmoothedClassifier(module=..., classes=range(10), sigma=0.25, n0=100, n=...,
  precision=...)`` and every other parameter at its default (``batch_size="auto"``; the first call,
  which calibrates it, is timed apart): forward passes per second and its time per sample over the
  best floor's;
* the noise step alone (the free model) for 3x224x224 inputs, whose noise blocks hold 6 samples:
  what one generator launch per block costs there.

Every timing synchronises the device before it starts and after it ends, and is the median of
``--repeats``.

    python benchmarks/bench_gpu.py [--device cuda] [--n 100000] [--inputs 16]   # a few minutes on a GPU
    python benchmarks/bench_gpu.py --device cpu --quick
"""

import argparse
import time

import numpy as np
import torch
from _models import FreeModel, cifar_resnet

from smoothcert import SmoothedClassifier
from smoothcert.engine import MonteCarloEngine
from smoothcert.noise import GaussianNoise
from smoothcert.sampling import Stage, count_votes, noise_block_size

SHAPE = (3, 32, 32)


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_seconds(fn, device, repeats, warm_up=True):
    if warm_up:
        fn()  # kernels, allocator, cuDNN's choice of algorithm
    times = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def step_seconds(model, shape, batch, steps, device, repeats):
    """Seconds per sample of :func:`count_votes` over ``steps`` batches of noisy copies of one input."""
    x = torch.rand(1, *shape, device=device)
    scales = torch.full((1,), 0.25, device=device)

    def step():
        count_votes(model, x, scales, GaussianNoise(), batch * steps, [0], Stage.ESTIMATION, 10, batch)

    return median_seconds(step, device, repeats) / (batch * steps)


def batch_table(model, device, precision, batches, steps, repeats):
    """Per batch size: seconds per sample of the floor, of the sampling step and of its noise alone."""
    # The callable certify's forward passes go through (autocast as asked).
    forward = MonteCarloEngine(model, GaussianNoise(), 10, 0, device=device, batch_size=1, precision=precision).model()
    rows = []
    for batch in batches:
        fixed = torch.randn(batch, *SHAPE, device=device).contiguous(memory_format=torch.channels_last)

        def floor():
            with torch.inference_mode():
                for _ in range(steps):
                    forward(fixed).argmax(1)

        rows.append((batch, median_seconds(floor, device, repeats) / (batch * steps),
                     *(step_seconds(net, SHAPE, batch, steps, device, repeats) for net in (forward, FreeModel()))))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--inputs", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="small sizes: a check that the script runs")
    args = parser.parse_args()
    device = torch.device(args.device)
    batches, steps, n, inputs = ((64, 128), 2, 500, 2) if args.quick else ((256, 512, 1024, 2048, 4096), 10, args.n,
                                                                           args.inputs)
    torch.manual_seed(0)
    model = cifar_resnet(20).to(device).eval().to(memory_format=torch.channels_last)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"torch {torch.__version__}, {name}, CIFAR ResNet-20, n0=100, n={n}, {inputs} inputs, "
          f"median of {args.repeats}")
    X = np.random.default_rng(0).random((inputs, *SHAPE), dtype=np.float32)
    for precision in ("float32", "bfloat16"):
        rows = batch_table(model, device, precision, batches, steps, args.repeats)
        print(f"\n{precision}\n")
        print("| batch | floor (passes/s) | sampling step (passes/s) | step / floor | noise (us/sample) | noise share |")
        print("|---:|---:|---:|---:|---:|---:|")
        for batch, floor, step, noise in rows:
            print(f"| {batch} | {1 / floor:,.0f} | {1 / step:,.0f} | {step / floor:.2f} | {noise * 1e6:.2f} | "
                  f"{noise / step:.1%} |")
        clf = SmoothedClassifier(module=model, classes=range(10), sigma=0.25, n0=100, n=n, random_state=0,
                                 device=str(device), precision=precision)
        calibration = median_seconds(lambda: clf.certify(X[:1]), device, 1, warm_up=False)  # calibrates "auto"
        seconds = median_seconds(lambda: clf.certify(X), device, max(1, args.repeats // 2)) / (inputs * (100 + n))
        best = min(floor for _, floor, _, _ in rows)
        print(f"\ncertify (default batch_size='auto' -> {clf.batch_size_}): {1 / seconds:,.0f} passes/s, "
              f"certify / best floor {seconds / best:.2f}, first call (with calibration) {calibration:.1f} s")
    large = (3, 224, 224)
    print(f"\nnoise alone at {'x'.join(map(str, large))} ({noise_block_size(int(np.prod(large)))}-sample blocks, "
          "one generator launch each):")
    for batch in batches[:2]:
        print(f"  batch {batch}: {step_seconds(FreeModel(), large, batch, steps, device, args.repeats) * 1e6:.1f} us/sample")


if __name__ == "__main__":
    main()
