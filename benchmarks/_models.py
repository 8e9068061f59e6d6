"""The CNNs the benchmarks time (untrained: only the cost of a forward/backward pass matters)."""

import torch


class FreeModel(torch.nn.Module):
    """Ten zero scores per input, costing nothing: times the sampling step around the forward pass."""

    def forward(self, x):
        return x.new_zeros(len(x), 10)


def digits_cnn():
    """A digits-size CNN for 1x8x8 inputs."""
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 32, 3, padding=1), torch.nn.ReLU(),
        torch.nn.Conv2d(32, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(32 * 4 * 4, 10),
    )


def small_cnn():
    """A small CNN for 3x32x32 and 3x64x64 inputs (global pooling makes it size-agnostic)."""
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(64, 64, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(), torch.nn.Linear(64, 10),
    )


class _BasicBlock(torch.nn.Module):
    def __init__(self, inputs, outputs, stride):
        super().__init__()
        self.body = torch.nn.Sequential(
            torch.nn.Conv2d(inputs, outputs, 3, stride, 1, bias=False), torch.nn.BatchNorm2d(outputs), torch.nn.ReLU(),
            torch.nn.Conv2d(outputs, outputs, 3, 1, 1, bias=False), torch.nn.BatchNorm2d(outputs),
        )
        self.shortcut = torch.nn.Identity() if stride == 1 and inputs == outputs else torch.nn.Sequential(
            torch.nn.Conv2d(inputs, outputs, 1, stride, bias=False), torch.nn.BatchNorm2d(outputs))

    def forward(self, x):
        return torch.relu(self.body(x) + self.shortcut(x))


def cifar_resnet(depth=20, n_classes=10):
    """He et al.'s CIFAR ResNet (depth 6k+2: three stages of k basic blocks, 16/32/64 channels)."""
    k = (depth - 2) // 6
    layers = [torch.nn.Conv2d(3, 16, 3, 1, 1, bias=False), torch.nn.BatchNorm2d(16), torch.nn.ReLU()]
    inputs = 16
    for stage, width in enumerate((16, 32, 64)):
        for block in range(k):
            layers.append(_BasicBlock(inputs, width, 2 if stage and not block else 1))
            inputs = width
    layers += [torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(64, n_classes)]
    return torch.nn.Sequential(*layers)


class _Bottleneck(torch.nn.Module):
    """ResNet-50's block: 1x1 down to ``width``, 3x3 (with the stride), 1x1 up to ``4 * width``."""

    def __init__(self, inputs, width, stride):
        super().__init__()
        outputs = 4 * width
        self.body = torch.nn.Sequential(
            torch.nn.Conv2d(inputs, width, 1, bias=False), torch.nn.BatchNorm2d(width), torch.nn.ReLU(),
            torch.nn.Conv2d(width, width, 3, stride, 1, bias=False), torch.nn.BatchNorm2d(width), torch.nn.ReLU(),
            torch.nn.Conv2d(width, outputs, 1, bias=False), torch.nn.BatchNorm2d(outputs),
        )
        self.shortcut = torch.nn.Identity() if stride == 1 and inputs == outputs else torch.nn.Sequential(
            torch.nn.Conv2d(inputs, outputs, 1, stride, bias=False), torch.nn.BatchNorm2d(outputs))

    def forward(self, x):
        return torch.relu(self.body(x) + self.shortcut(x))


def resnet50(n_classes=1000, base_width=64):
    """He et al.'s ResNet-50 for 3x224x224 ImageNet inputs: 7x7 stem, bottleneck stages of 3, 4, 6 and 3
    blocks, torchvision's layout (stride on the 3x3 conv: 25,557,032 parameters), written out here since
    torchvision is not a dependency. A smaller ``base_width`` (64 is ResNet-50) keeps the depth and makes
    it narrower, for quick checks on a CPU."""
    layers = [torch.nn.Conv2d(3, base_width, 7, 2, 3, bias=False), torch.nn.BatchNorm2d(base_width), torch.nn.ReLU(),
              torch.nn.MaxPool2d(3, 2, 1)]
    inputs = base_width
    for stage, (width, blocks) in enumerate(zip((base_width, 2 * base_width, 4 * base_width, 8 * base_width), (3, 4, 6, 3))):
        for block in range(blocks):
            layers.append(_Bottleneck(inputs, width, 2 if stage and not block else 1))
            inputs = 4 * width
    layers += [torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(inputs, n_classes)]
    return torch.nn.Sequential(*layers)


# The model zoo (bench_zoo.py): architectures users bring, each in the layout a user builds it in.


def tabular_mlp(features=100, n_classes=10, width=256):
    """An MLP for tabular rows of ``features`` numbers."""
    return torch.nn.Sequential(
        torch.nn.Linear(features, width), torch.nn.ReLU(), torch.nn.Linear(width, width), torch.nn.ReLU(),
        torch.nn.Linear(width, n_classes),
    )


def flatten_cnn(n_classes=10):
    """The smallest digits CNN for 1x8x8 inputs: one convolution, ReLU, ``Flatten``, one linear layer."""
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(32 * 8 * 8, n_classes),
    )


def lenet5(n_classes=10):
    """LeNet-5 for 1x28x28 MNIST digits: two convolutions with pooling, ``Flatten``, three linear layers."""
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 6, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(6, 16, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
        torch.nn.Linear(16 * 5 * 5, 120), torch.nn.ReLU(), torch.nn.Linear(120, 84), torch.nn.ReLU(),
        torch.nn.Linear(84, n_classes),
    )


def pooled_cnn(n_classes=10):
    """A 3x32x32 CNN with two convolutions and global average pooling."""
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
        torch.nn.Linear(64, n_classes),
    )


class TinyViT(torch.nn.Module):
    """A small vision transformer: ``patch`` x ``patch`` patches embedded by a strided convolution, a class
    token and learned positions, ``torch.nn.TransformerEncoder`` (pre-norm), a linear head on the token."""

    def __init__(self, image=32, channels=3, patch=4, dim=64, depth=2, heads=4, n_classes=10):
        super().__init__()
        self.embed = torch.nn.Conv2d(channels, dim, patch, stride=patch)
        self.token = torch.nn.Parameter(torch.zeros(1, 1, dim))
        self.position = torch.nn.Parameter(0.02 * torch.randn(1, (image // patch) ** 2 + 1, dim))
        layer = torch.nn.TransformerEncoderLayer(dim, heads, 2 * dim, dropout=0.0, batch_first=True, norm_first=True)
        self.encoder = torch.nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = torch.nn.LayerNorm(dim)
        self.head = torch.nn.Linear(dim, n_classes)

    def forward(self, x):
        patches = self.embed(x).flatten(2).transpose(1, 2)  # (batch, patches, dim)
        tokens = torch.cat([self.token.expand(len(x), -1, -1), patches], dim=1) + self.position
        return self.head(self.norm(self.encoder(tokens)[:, 0]))
