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
