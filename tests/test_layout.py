"""The memory layout of the noisy batches: chosen by timing with ``batch_size="auto"``, never by a
rule, never by converting a module; a chosen layout certifies exactly as that layout fixed."""

import time

import numpy as np
import pytest
import torch

import smoothcert.engine as engine_module
from smoothcert import SmoothedClassifier
from smoothcert.engine import MonteCarloEngine
from smoothcert.noise import GaussianNoise
from smoothcert.sampling import Stage, calibrate_sampling, count_votes, input_keys

FORMATS = {"contiguous": torch.contiguous_format, "channels_last": torch.channels_last}


def three_channel_cnn():
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(8, 8, 3, padding=1), torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(8, 3),
    )


def one_channel_flatten_cnn():
    # The case: a channels_last activation reaching Flatten is copied.
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(8 * 8 * 8, 3),
    )


MODELS = {"3x8x8 CNN": (three_channel_cnn, (3, 8, 8)), "1x8x8 CNN with Flatten": (one_channel_flatten_cnn, (1, 8, 8))}


def _model_and_inputs(name):
    make, shape = MODELS[name]
    torch.manual_seed(0)
    return make().eval(), np.random.default_rng(0).random((4, *shape), dtype=np.float32)


def _calibrate_quickly(monkeypatch, memory_format=None):
    """Make ``"auto"`` time batch sizes 16 and 32 only (a fast test) and, given ``memory_format``, pick that
    layout as if it had timed fastest; returns the list of the models it calibrates."""
    calibrated = []

    def calibrate(models, X, **kwargs):
        calibrated.append(models)
        if memory_format is not None:
            models = {memory_format: models[memory_format]}
        return calibrate_sampling(models, X, **{**kwargs, "candidates": (16, 32), "repeats": 3})

    monkeypatch.setattr(engine_module, "calibrate_sampling", calibrate)
    return calibrated


def _count_layouts(monkeypatch, pin=None):
    """Record the batch layout of every count the engines make (all of them ``pin`` if given)."""
    seen = []

    def count(*args, memory_format, **kwargs):
        seen.append(memory_format)
        return count_votes(*args, memory_format=memory_format if pin is None else pin, **kwargs)

    monkeypatch.setattr(engine_module, "count_votes", count)
    return seen


def _weights(module):
    return [(p.stride(), p.detach().clone()) for p in module.parameters()]


def _same_weights(module, weights):
    return all(p.stride() == stride and torch.equal(p, value) for p, (stride, value) in zip(module.parameters(), weights))


@pytest.mark.parametrize("layout", FORMATS)
@pytest.mark.parametrize("name", MODELS)
def test_the_chosen_layout_gives_the_certificates_of_that_layout_fixed(monkeypatch, name, layout):
    module, X = _model_and_inputs(name)
    memory_format = FORMATS[layout]
    settings = dict(module=module, classes=range(3), sigma=0.5, n0=64, n=500, random_state=0, device="cpu")
    _calibrate_quickly(monkeypatch, memory_format)
    seen = _count_layouts(monkeypatch)
    auto = SmoothedClassifier(**settings)  # batch_size="auto"
    chosen, chosen_proba = auto.certify(X), auto.predict_proba(X)
    assert set(seen) == {memory_format}  # a later call keeps the calibrated layout
    _count_layouts(monkeypatch, pin=memory_format)
    fixed = SmoothedClassifier(batch_size=29, **settings)
    reference, reference_proba = fixed.certify(X), fixed.predict_proba(X)
    for field in ("label", "p_lower", "gap", "radius", "n_used"):
        np.testing.assert_array_equal(getattr(chosen, field), getattr(reference, field), err_msg=field)
    np.testing.assert_array_equal(chosen_proba, reference_proba)  # the vote counts


@pytest.mark.parametrize("layout", FORMATS)
@pytest.mark.parametrize("name", MODELS)
def test_auto_counts_the_votes_of_its_layout_at_any_batch_size(monkeypatch, name, layout):
    module, X = _model_and_inputs(name)
    memory_format = FORMATS[layout]
    _calibrate_quickly(monkeypatch, memory_format)

    def votes(**settings):
        engine = MonteCarloEngine(module, GaussianNoise(), 3, 0, device=torch.device("cpu"), **settings)
        X_t = engine.to_device(X)
        counts = [engine.counts(X_t, torch.full((len(X),), 0.5), engine.keys(X), num, stage)
                  for num, stage in ((64, Stage.SELECTION), (700, Stage.ESTIMATION))]
        return engine, counts

    auto, counts = votes(batch_size="auto")
    assert auto.memory_format == memory_format and auto.batch_size in (16, 32)
    for batch_size in (7, 100):
        np.testing.assert_array_equal(counts, votes(batch_size=batch_size, memory_format=memory_format)[1])


def test_batch_layout_never_changes_the_noisy_inputs():
    class Recorder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.seen = []

        def forward(self, x):
            self.seen.append(x.clone(memory_format=torch.preserve_format))
            return x.flatten(1)[:, :2]

    X = torch.rand(2, 3, 4, 4)
    batches = {}
    for layout, memory_format in FORMATS.items():
        model = Recorder()
        count_votes(model, X, torch.full((2,), 0.5), GaussianNoise(), 50, input_keys(X.numpy(), 0), Stage.ESTIMATION,
                    2, 32, memory_format=memory_format)
        assert all(batch.is_contiguous(memory_format=memory_format) for batch in model.seen)
        batches[layout] = torch.cat(model.seen)
    assert torch.equal(batches["contiguous"], batches["channels_last"])


@pytest.mark.parametrize("layout", FORMATS)
def test_no_module_changes_layout(monkeypatch, layout):
    _calibrate_quickly(monkeypatch)
    module, X = _model_and_inputs("3x8x8 CNN")
    module = module.to(memory_format=FORMATS[layout])  # the user's own layout, whichever it is
    weights = _weights(module)
    clf = SmoothedClassifier(module=module, classes=range(3), sigma=0.5, n0=16, n=100, random_state=0, device="cpu")
    clf.certify(X)
    assert _same_weights(module, weights)  # the user's module
    assert all(p.stride() == stride for p, (stride, _) in zip(clf.module_.parameters(), weights))  # and the estimator's copy
    engine = MonteCarloEngine(module, GaussianNoise(), 3, 0, device=torch.device("cpu"), batch_size=16,
                              memory_format=torch.channels_last)
    engine.counts(engine.to_device(X), torch.full((len(X),), 0.5), engine.keys(X), 40, Stage.ESTIMATION)
    assert engine.module is module and _same_weights(module, weights)  # channels_last runs a copy


def test_the_channels_last_copy_follows_changes_to_the_module():
    module, X = _model_and_inputs("3x8x8 CNN")
    engine = MonteCarloEngine(module, GaussianNoise(), 3, 0, device=torch.device("cpu"), batch_size=16,
                              memory_format=torch.channels_last)
    converted = engine.model()
    assert converted is not module and converted[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert engine.model() is converted  # made once
    with torch.no_grad():
        module[-1].bias.add_(1.0)  # changed in place: a later count must not run the old weights
    assert engine.model() is not converted and torch.equal(engine.model()[-1].bias, module[-1].bias)


class SlowIn(torch.nn.Module):
    """A 1x1 convolution that sleeps 50 ms on every batch in ``memory_format``: slower there on any machine."""

    def __init__(self, memory_format):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 2, 1)
        self.slow = memory_format

    def forward(self, x):
        if len(x) > 1 and x.is_contiguous(memory_format=self.slow):  # batches of one are both
            time.sleep(0.05)
        return self.conv(x).mean((2, 3))


def test_calibration_is_per_module_and_cached(monkeypatch):
    calls = _calibrate_quickly(monkeypatch)
    X_t = torch.rand(1, 3, 4, 4)
    slow_in_channels_last, slow_in_contiguous = SlowIn(torch.channels_last), SlowIn(torch.contiguous_format)

    def resolved(module):
        engine = MonteCarloEngine(module, GaussianNoise(), 2, 0, device=torch.device("cpu"), batch_size="auto")
        engine.resolve_batch_size(X_t)
        return engine.batch_size, engine.memory_format

    first = resolved(slow_in_channels_last)
    assert first[1] == torch.contiguous_format
    assert resolved(slow_in_contiguous)[1] == torch.channels_last  # each module gets its own choice
    assert len(calls) == 2
    assert resolved(slow_in_channels_last) == first and len(calls) == 2  # once per module: cached
    # A fixed batch size times nothing and runs the batches in the inputs' own layout.
    engine = MonteCarloEngine(SlowIn(torch.channels_last), GaussianNoise(), 2, 0, device=torch.device("cpu"),
                              batch_size=16)
    assert engine.resolve_batch_size(X_t) == 16 and engine.memory_format == torch.contiguous_format and len(calls) == 2


class ViewNet(torch.nn.Module):
    """A CNN written with ``view`` where ``Flatten`` would do: it cannot run on channels_last activations."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.linear = torch.nn.Linear(4 * 8 * 8, 3)

    def forward(self, x):
        return self.linear(torch.relu(self.conv(x)).view(len(x), -1))


def test_auto_leaves_out_a_layout_the_model_cannot_run(monkeypatch):
    _calibrate_quickly(monkeypatch)
    X = np.random.default_rng(0).random((2, 3, 8, 8), dtype=np.float32)
    cert = SmoothedClassifier(module=ViewNet(), classes=range(3), sigma=0.5, n0=16, n=100, random_state=0,
                              device="cpu").certify(X)
    assert len(cert.label) == 2
    engine = MonteCarloEngine(ViewNet(), GaussianNoise(), 3, 0, device=torch.device("cpu"), batch_size="auto")
    engine.resolve_batch_size(torch.as_tensor(X))
    assert engine.memory_format == torch.contiguous_format


class ChannelsLastOnly(torch.nn.Sequential):
    """The 3x8x8 CNN, refusing batches of noisy copies (over two rows) that are not channels_last."""

    def forward(self, x):
        if len(x) > 2 and not x.is_contiguous(memory_format=torch.channels_last):
            raise AssertionError("a batch of noisy copies is not channels_last")
        return super().forward(x)


def test_workers_run_the_calibrated_layout(monkeypatch):
    _calibrate_quickly(monkeypatch, torch.channels_last)  # calibrated once, before the rows are sharded
    module, X = _model_and_inputs("3x8x8 CNN")
    settings = dict(module=ChannelsLastOnly(*module), classes=range(3), sigma=0.5, n0=32, n=200, random_state=0,
                    device="cpu")
    sharded = SmoothedClassifier(n_jobs=2, **settings).certify(X)
    np.testing.assert_array_equal(sharded.p_lower, SmoothedClassifier(**settings).certify(X).p_lower)
