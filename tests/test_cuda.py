"""The CUDA path: what it promises, checked on the CPU where the code is the same, and on a GPU
where one is present (skipped otherwise, with the reason)."""

import collections

import numpy as np
import pytest
import torch
from linear_models import LinearBinary
from torch.overrides import TorchFunctionMode

from smoothcert import SmoothedClassifier
from smoothcert._validation import resolve_device
from smoothcert.noise import GaussianNoise
from smoothcert.sampling import Stage, count_votes, noise_block_size

needs_cuda = pytest.mark.skipif(
    not torch.cuda.is_available(),
    reason="needs a CUDA device (none on this machine); the same code paths run on the CPU in the tests above",
)

# Tensor calls that make the host wait for the device (they read a value back).
_HOST_READS = {"__bool__", "__int__", "__float__", "__index__", "item", "tolist", "cpu", "numpy", "nonzero"}


class _Calls(TorchFunctionMode):
    """Counts every torch call made while the mode is active, by name."""

    def __init__(self):
        super().__init__()
        self.counts = collections.Counter()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.counts[getattr(func, "__name__", str(func))] += 1
        return func(*args, **(kwargs or {}))


def _calls(num, batch_size=32):
    model = torch.nn.Linear(4, 3).eval()
    with _Calls() as calls:
        count_votes(model, torch.zeros(2, 4), torch.full((2,), 0.5), GaussianNoise(), num, [1, 2], Stage.ESTIMATION, 3,
                    batch_size)
    return calls.counts


def test_the_sampling_loop_never_reads_the_device_back():
    # Ten times the batches, the same host reads: none is inside the loop, so a GPU never idles waiting on it.
    few, many = _calls(64), _calls(640)
    assert many["linear"] == 10 * few["linear"] == 40
    assert {name: many[name] for name in _HOST_READS} == {name: few[name] for name in _HOST_READS}
    assert sum(few[name] for name in _HOST_READS) >= 1  # the count would see a read: the final one


def test_noise_is_drawn_once_per_block_not_once_per_batch():
    # 2 inputs x 3000 samples of 4 floats are 2 x 3 blocks of 1024 (the last one short), in 188 batches of 32.
    assert noise_block_size(4) == 1024
    calls = _calls(3000)
    assert calls["randn"] == 2 * 3 and calls["linear"] == -(-6000 // 32)


def test_auto_device_follows_cuda_availability(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")


def test_the_certify_path_reads_the_device_back_a_fixed_number_of_times():
    X = np.array([[0.5, 0.0], [-0.3, 0.0]], np.float32)
    reads = []
    for n in (500, 5000):
        clf = SmoothedClassifier(module=LinearBinary((1.0, 0.0), 0.0), classes=[0, 1], sigma=0.5, n0=64, n=n,
                                 batch_size=64, random_state=0, device="cpu")
        clf.certify(X[:1])  # first call: validation of the module
        with _Calls() as calls:
            clf.certify(X)
        reads.append({name: calls.counts[name] for name in _HOST_READS})
    assert reads[0] == reads[1]


@needs_cuda
def test_cuda_certificates_do_not_depend_on_batch_size_or_row_order():
    X = np.random.default_rng(0).normal(size=(5, 2)).astype(np.float32)
    settings = dict(module=LinearBinary((1.0, 0.0), 0.0), classes=[0, 1], sigma=0.5, n0=100, n=5000, random_state=0,
                    device="cuda")
    small = SmoothedClassifier(batch_size=64, **settings).certify(X)
    large = SmoothedClassifier(batch_size=4096, **settings).certify(X[::-1])
    np.testing.assert_array_equal(small.p_lower, large.p_lower[::-1])
    np.testing.assert_array_equal(small.radius, large.radius[::-1])


@needs_cuda
def test_cuda_radii_stay_below_the_exact_radius_of_a_linear_classifier():
    # The smoothed linear classifier's exact radius is |x_0| (THEORY.md 6). Each certificate exceeds it with
    # probability <= alpha = 0.001: false failure <= 20 * 0.001, and the seed is fixed.
    X = np.zeros((20, 2), np.float32)
    X[:, 0] = np.linspace(-1.0, 1.0, 20)
    clf = SmoothedClassifier(module=LinearBinary((1.0, 0.0), 0.0), classes=[0, 1], sigma=0.5, n0=100, n=20_000,
                             random_state=0, device="cuda")
    cert = clf.certify(X)
    certified = ~cert.abstained
    assert np.all(cert.radius[certified] <= np.abs(X[certified, 0]) + 1e-6)
    assert np.all(cert.label[certified] == (X[certified, 0] > 0))
    assert certified.sum() == 20  # the smallest |x_0| here, 0.053, has p_A = 0.542: its lower bound is 0.53 > 1/2


@needs_cuda
def test_bfloat16_autocast_on_cuda_certifies():
    X = np.array([[1.0, 0.0], [-1.0, 0.0]], np.float32)
    cert = SmoothedClassifier(module=LinearBinary((1.0, 0.0), 0.0), classes=[0, 1], sigma=0.5, n=2000, random_state=0,
                              device="cuda", precision="bfloat16").certify(X)
    assert cert.label.tolist() == [1, 0] and np.all(cert.radius > 0.5)
