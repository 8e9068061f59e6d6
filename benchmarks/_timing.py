"""The plain loop a user would write, and its sweep, shared by the benchmarks that compare ``certify`` with it."""

import copy
import time

import torch

BATCHES = (64, 128, 256, 512, 1024, 2048, 4096)


def timed(fn):
    """Seconds ``fn()`` takes."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def layouts(model, input_shape):
    """The memory layouts a user would try, as ``{name: (module, batch memory format)}``: the module as
    given with contiguous batches and, for images, a channels_last copy with channels_last batches
    (``model`` itself is never converted)."""
    options = {"as given": (model, torch.contiguous_format)}
    if len(input_shape) == 3:
        options["channels_last"] = (copy.deepcopy(model).to(memory_format=torch.channels_last), torch.channels_last)
    return options


def per_sample(model, x, batch, total, memory_format, noise, n_classes=10, sigma=0.25):
    """Seconds per sample over ``total`` samples in batches of ``batch``: the forward pass alone (inference
    mode, argmax; ``noise=False``, the floor) or the plain loop (Gaussian noise drawn for the batch, added
    to ``x``, forward, argmax, ``bincount`` of the votes)."""
    fixed = torch.randn(batch, *x.shape).contiguous(memory_format=memory_format)
    steps = max(1, round(total / batch))

    def run():
        counts = torch.zeros(n_classes, dtype=torch.int64)
        with torch.inference_mode():
            for _ in range(steps):
                if noise:
                    batch_x = (x + sigma * torch.randn(batch, *x.shape)).contiguous(memory_format=memory_format)
                    counts += torch.bincount(model(batch_x).argmax(1), minlength=n_classes)
                else:
                    model(fixed).argmax(1)
        return counts

    return timed(run) / (steps * batch)


def sweep(options, x, total, repeats, kinds=("floor", "loop"), n_classes=10, batches=BATCHES):
    """The fastest ``(batch, layout name)`` of each kind (``"floor"``, ``"loop"``) over ``batches`` and the
    ``options`` of :func:`layouts`, best of ``repeats`` timings of ``total`` samples per setting.

    The sweep only picks settings: a minimum over many short timings is lower by chance alone on a busy
    machine, so the numbers to compare come from paired rounds at the picked settings afterwards."""
    best = {kind: (float("inf"), None) for kind in kinds}
    for _ in range(repeats):
        for batch in batches:
            for name, (module, memory_format) in options.items():
                for kind in kinds:
                    t = per_sample(module, x, batch, total, memory_format, noise=kind == "loop", n_classes=n_classes)
                    if t < best[kind][0]:
                        best[kind] = (t, (batch, name))
    return {kind: setting for kind, (_, setting) in best.items()}
