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
