"""Resumable certification: an interrupted run resumed from its checkpoint equals a full run."""

import os

import numpy as np
import pytest
import torch

from smoothcert import SmoothedClassifier
from smoothcert import checkpoint as checkpoint_module

RNG = np.random.default_rng(0)
X = RNG.normal(size=(60, 3)).astype(np.float32)
Y = (X[:, 0] + X[:, 1] > 0).astype(int)


@pytest.fixture(scope="module")
def clf():
    return SmoothedClassifier(sigma=0.5, n0=20, n=300, max_epochs=5, random_state=0, device="cpu").fit(X, Y)


def _same(a, b):
    for name in ("label", "p_lower", "radius", "gap", "sigma", "center", "abstained", "log_volume"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_interrupted_run_resumes_to_the_same_result(clf, tmp_path, monkeypatch):
    reference = clf.certify(X[:25])
    calls = []
    original = checkpoint_module._save_part

    def crash_on_third(path, cert):
        calls.append(path)
        if len(calls) == 3:
            raise KeyboardInterrupt  # the run dies while writing the third chunk
        original(path, cert)

    monkeypatch.setattr(checkpoint_module, "_save_part", crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        clf.certify(X[:25], checkpoint=tmp_path, checkpoint_every=4)
    monkeypatch.setattr(checkpoint_module, "_save_part", original)
    assert len([f for f in os.listdir(tmp_path) if f.startswith("rows-")]) == 2

    computed = []
    monkeypatch.setattr(clf, "_certify_rows", lambda rows: computed.append(len(rows)) or type(clf)._certify_rows(clf, rows))
    resumed = clf.certify(X[:25], checkpoint=tmp_path, checkpoint_every=4)
    assert sum(computed) == 25 - 8  # the two finished chunks were read back, not recomputed
    _same(resumed, reference)


def test_checkpoint_of_another_run_is_refused(clf, tmp_path):
    clf.certify(X[:5], checkpoint=tmp_path)
    with pytest.raises(ValueError, match="belongs to another run"):
        clf.certify(X[5:10], checkpoint=tmp_path)
    with pytest.raises(ValueError, match="checkpoint_every must be"):
        clf.certify(X[:5], checkpoint=tmp_path, checkpoint_every=0)


def test_corrupt_part_is_named(clf, tmp_path):
    clf.certify(X[:6], checkpoint=tmp_path, checkpoint_every=3)
    part = tmp_path / "rows-0000000003.npz"
    part.write_bytes(part.read_bytes()[:50])  # truncated
    with pytest.raises(ValueError, match="rows-0000000003.npz.*unreadable"):
        clf.certify(X[:6], checkpoint=tmp_path, checkpoint_every=3)


def test_renamed_classes_refuse_the_checkpoint_and_string_classes_resume(tmp_path):
    # The same pretrained weights and seed fitted on renamed classes give other labels: a checkpoint
    # of the first run must not be reused for the second (it would report labels 0/1 for classes 10/20).
    net = torch.nn.Linear(3, 2)
    kwargs = dict(module=net, max_epochs=0, sigma=0.5, n0=20, n=200, random_state=0, device="cpu")
    SmoothedClassifier(**kwargs).fit(X, Y).certify(X[:6], checkpoint=tmp_path / "a")
    renamed = SmoothedClassifier(**kwargs).fit(X, np.where(Y == 1, 20, 10))
    with pytest.raises(ValueError, match="belongs to another run"):
        renamed.certify(X[:6], checkpoint=tmp_path / "a")
    # String classes with the numeric abstain label make an object label array; resuming reads it back.
    named = SmoothedClassifier(**kwargs).fit(X, np.where(Y == 1, "b", "a"))
    first = named.certify(X[:6], checkpoint=tmp_path / "b", checkpoint_every=4)
    _same(named.certify(X[:6], checkpoint=tmp_path / "b", checkpoint_every=4), first)
    _same(first, named.certify(X[:6]))


_CHILD = """
import sys, numpy as np
from smoothcert import SmoothedClassifier
rng = np.random.default_rng(0)
X = rng.normal(size=(60, 3)).astype(np.float32)
y = (X[:, 0] + X[:, 1] > 0).astype(int)
clf = SmoothedClassifier(sigma=0.5, n0=20, n=20000, max_epochs=2, random_state=np.random.RandomState(5),
                         device="cpu").fit(X, y)
cert = clf.certify(X[:40], checkpoint=sys.argv[1], checkpoint_every=2)
np.save(sys.argv[2], cert.p_lower)
"""


def test_killed_run_with_a_random_state_instance_resumes_in_a_new_process(tmp_path):
    # The fingerprint must hold values only: a RandomState's repr names its address, new in every process.
    import signal
    import subprocess
    import sys
    import time

    folder, script = tmp_path / "ckpt", tmp_path / "child.py"
    script.write_text(_CHILD)
    child = subprocess.Popen([sys.executable, str(script), str(folder), str(tmp_path / "first.npy")])
    deadline = time.monotonic() + 120
    while not (folder.exists() and len(list(folder.glob("rows-*.npz"))) >= 2):
        assert child.poll() is None and time.monotonic() < deadline, "the child ended before it could be killed"
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    done = len(list(folder.glob("rows-*.npz")))
    assert 2 <= done < 20  # killed midway
    subprocess.run([sys.executable, str(script), str(folder), str(tmp_path / "resumed.npy")], check=True, timeout=300)
    namespace = {"__name__": "uninterrupted"}
    exec(_CHILD.split("cert = ")[0], namespace)  # the same fit, here, then certify without a checkpoint
    full = namespace["clf"].certify(namespace["X"][:40])
    np.testing.assert_array_equal(np.load(tmp_path / "resumed.npy"), full.p_lower)
