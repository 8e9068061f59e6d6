"""Runs that cannot be confused: fingerprints that see behaviour, parts that name their run, complete
and typed provenance, companions checked against their file, one rule for DualSigma's two radii."""

import copy
import json
import shutil
import threading
from dataclasses import replace

import numpy as np
import pytest
import torch

from smoothcert import CertificateMemory, Certificates, DualSigma, FixedSigma, SmoothedClassifier
from smoothcert import checkpoint as checkpoint_module
from smoothcert import estimator as estimator_module
from smoothcert.checkpoint import UnhashableError, behaviour_digest, model_digest
from smoothcert.results import read_results, write_results

X = np.random.default_rng(0).normal(size=(12, 2)).astype(np.float32)
Y = (X[:, 0] > 0).astype(int)
LINEAR = torch.nn.Linear(2, 2)


def threshold_selector(t):
    def sel(X):  # every copy has the same name and code; only the closure's constant differs
        return (X[:, 0] > t).long()

    return sel


class Scaled(torch.nn.Module):
    """A module whose behaviour depends on a plain attribute (not a parameter or a buffer)."""

    def __init__(self, scale):
        super().__init__()
        self.scale = scale

    def forward(self, X):
        return torch.stack([X[:, 0] * self.scale, -X[:, 0]], dim=1)


class NoPickle:
    """An attribute that copies but cannot be pickled (an open connection, a device handle)."""

    def __deepcopy__(self, memo):
        return NoPickle()

    def __reduce_ex__(self, protocol):
        raise TypeError("a NoPickle cannot be pickled")


def dual(t):
    sigma = DualSigma(levels=(0.25, 0.5), selector=threshold_selector(t))
    return SmoothedClassifier(module=LINEAR, classes=[0, 1], sigma=sigma, n0=20, n=300, random_state=0, device="cpu")


def plain(module, **params):
    return SmoothedClassifier(**{"module": module, "classes": [0, 1], "sigma": 0.5, "n0": 20, "n": 300,
                                 "random_state": 0, "device": "cpu", **params})


# -- 1. fingerprints that see behaviour, not names ---------------------------------------------------


def test_resume_refused_when_only_a_selector_constant_differs(tmp_path):
    dual(0.0).certify(X, checkpoint=tmp_path, checkpoint_every=4)
    with pytest.raises(ValueError, match="belongs to another run"):
        dual(0.5).certify(X, checkpoint=tmp_path, checkpoint_every=4)
    # the same function at another address (another process) resumes
    again = dual(0.0).certify(X, checkpoint=tmp_path, checkpoint_every=4)
    np.testing.assert_array_equal(again.radius, dual(0.0).certify(X).radius)


def test_resume_refused_when_only_a_module_attribute_differs(tmp_path):
    plain(Scaled(2.0)).certify(X, checkpoint=tmp_path, checkpoint_every=4)
    with pytest.raises(ValueError, match="belongs to another run"):
        plain(Scaled(3.0)).certify(X, checkpoint=tmp_path, checkpoint_every=4)


def test_a_part_copied_from_another_run_is_refused(tmp_path):
    plain(Scaled(2.0)).certify(X, checkpoint=tmp_path / "a", checkpoint_every=4)
    b = plain(Scaled(3.0))
    b.certify(X[:8], checkpoint=tmp_path / "b", checkpoint_every=4)
    shutil.copy(tmp_path / "a" / "rows-0000000004.npz", tmp_path / "b" / "rows-0000000004.npz")
    with pytest.raises(ValueError, match=r"rows-0000000004.npz' is not this run's .*copied from another run"):
        b.certify(X[:8], checkpoint=tmp_path / "b", checkpoint_every=4)
    # a part of this run moved to other rows is refused too
    shutil.copy(tmp_path / "a" / "rows-0000000000.npz", tmp_path / "a" / "rows-0000000008.npz")
    with pytest.raises(ValueError, match="is not this run's"):
        plain(Scaled(2.0)).certify(X, checkpoint=tmp_path / "a", checkpoint_every=4)


def test_a_checkpoint_of_an_older_format_is_refused_naming_the_version(tmp_path):
    plain(LINEAR).certify(X[:4], checkpoint=tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    (tmp_path / "manifest.json").write_text(json.dumps({**manifest, "version": 3}))
    with pytest.raises(ValueError, match=f"format version 3, this smoothcert writes version {checkpoint_module.VERSION}"):
        plain(LINEAR).certify(X[:4], checkpoint=tmp_path)


def test_what_cannot_be_hashed_is_named_and_no_resume_trusts_a_name(tmp_path):
    module = Scaled(2.0)
    module.handle = NoPickle()
    clf = plain(module)
    with pytest.raises(ValueError, match=r"cannot checkpoint this run: module_?\.handle \(NoPickle\) cannot be hashed"):
        clf.certify(X[:4], checkpoint=tmp_path)
    record = clf.certify(X[:4]).provenance  # certifying without a checkpoint still works, and says so
    assert record["model"].startswith("unhashable: module_.handle")


def test_digests_see_code_constants_closures_and_attributes():
    assert behaviour_digest(threshold_selector(0.0)) == behaviour_digest(threshold_selector(0.0))
    assert behaviour_digest(threshold_selector(0.0)) != behaviour_digest(threshold_selector(1.0))
    assert behaviour_digest(lambda X, t=1: X > t) != behaviour_digest(lambda X, t=2: X > t)  # defaults
    # modules without parameters no longer share the SHA-256 of nothing
    assert len({model_digest(m) for m in (torch.nn.ReLU(), torch.nn.Tanh(), Scaled(1.0), Scaled(2.0))}) == 4
    # sets are hashed in a fixed order, numpy scalars by value and dtype
    assert behaviour_digest({"b", "a", "c"}) == behaviour_digest({"c", "b", "a"})
    assert behaviour_digest(np.float32(1)) != behaviour_digest(np.float64(1))
    with pytest.raises(UnhashableError, match="selector.*cannot be hashed"):
        behaviour_digest(threading.Lock(), "selector")


# -- 2. complete, typed provenance -----------------------------------------------------------------


@pytest.fixture(scope="module")
def fitted():
    clf = plain(LINEAR)
    clf.certify(X[:2])
    return clf


VARIANTS = {
    "sampling": lambda c: c.set_params(sampling="sequential"),
    "n0": lambda c: c.set_params(n0=21),
    "n": lambda c: c.set_params(n=301),
    "alpha": lambda c: c.set_params(alpha=0.01),
    "norm": lambda c: c.set_params(norm="l1"),
    "sigma": lambda c: setattr(c, "sigma_", FixedSigma(0.75)),
    "seed": lambda c: setattr(c, "seed_", c.seed_ + 1),
    "model": lambda c: setattr(c, "module_", torch.nn.Linear(2, 2)),
    "memory": lambda c: setattr(c, "memory_", CertificateMemory()),
    "precision": lambda c: c.set_params(precision="bfloat16"),
    "compile": lambda c: c.set_params(compile=True),
    "radii": lambda c: c.set_params(radii=(0.0, 0.5)),
    "looks": lambda c: c.set_params(looks=(100, 300)),
    "pilot": lambda c: c.set_params(pilot=999),
    "radius_tolerance": lambda c: c.set_params(radius_tolerance=0.02),
    "classes": lambda c: setattr(c, "classes_", np.array([1, 0])),
    "abstain_label": lambda c: setattr(c, "abstain_label_", -7),
    "device": lambda c: setattr(c, "device_", torch.device("cuda")),
}


@pytest.mark.parametrize("field", sorted(VARIANTS))
def test_runs_differing_in_one_field_get_different_records(fitted, field):
    base = fitted._provenance()
    other = copy.copy(fitted)
    VARIANTS[field](other)
    changed = other._provenance()
    assert changed[field] != base[field]
    assert {k for k in base if base[k] != changed[k]} == {field}


def test_the_noise_stream_version_is_recorded(fitted, monkeypatch):
    base = fitted._provenance()
    monkeypatch.setattr(estimator_module, "NOISE_STREAM_VERSION", 2)
    assert base["noise_stream"] == 1 and fitted._provenance()["noise_stream"] == 2


def test_every_provenance_field_round_trips_with_its_type(tmp_path):
    clf = plain(LINEAR, n=np.int64(300), alpha=np.float64(0.001), sampling="sequential", radii=(0.0, np.float32(0.5)),
                looks=(np.int64(100), 300))
    cert = clf.certify(X[:4])
    assert type(cert.provenance["n"]) is int and cert.provenance["radii"] == [0.0, 0.5]
    write_results(tmp_path / "r.tsv", cert, Y[:4])
    record = read_results(tmp_path / "r.tsv").provenance
    assert record == cert.provenance
    for key, value in cert.provenance.items():
        assert type(record[key]) is type(value), key
    assert "np." not in (tmp_path / "r.tsv.provenance.json").read_text()
    # a hand-made record with numpy values is written as numbers and lists
    write_results(tmp_path / "h.tsv", replace(cert, provenance={"n": np.int64(1500), "radii": (np.float32(0.5),)}), Y[:4])
    assert read_results(tmp_path / "h.tsv").provenance == {"n": 1500, "radii": [0.5]}


def _companion(tmp_path, record, text=None):
    path = tmp_path / "r.tsv"
    cert = plain(LINEAR).certify(X[:4])
    write_results(path, cert, Y[:4])
    document = json.dumps({**cert.provenance, **record}) if text is None else text
    (tmp_path / "r.tsv.provenance.json").write_text(document)
    return path


def test_read_results_checks_the_companion_against_the_caller_and_the_file(tmp_path):
    path = _companion(tmp_path, {})
    assert read_results(path, alpha=0.001).provenance["alpha"] == 0.001
    with pytest.raises(ValueError, match=r"given alpha=0.01, but .* records alpha=0.001"):
        read_results(path, alpha=0.01)
    with pytest.raises(ValueError, match=r"records alpha=-1; it must be a number in \(0.0, 1.0\)"):
        read_results(_companion(tmp_path, {"alpha": -1}))
    with pytest.raises(ValueError, match=r"row 0 has n_used=320, but .* records n0=20 and n=500 .* equal to 520"):
        read_results(_companion(tmp_path, {"n": 500}))
    with pytest.raises(ValueError, match="records n=.?1500.?; it must be an int"):
        read_results(_companion(tmp_path, {"n": "1500"}))
    with pytest.raises(ValueError, match="records a DualSigma run .* no radius_sigma and radius_class columns"):
        read_results(_companion(tmp_path, {"alpha_sigma": 0.0005, "alpha_c": 0.0005}))
    with pytest.raises(ValueError, match="unreadable: it is nested too deeply"):
        read_results(_companion(tmp_path, {}, text="[" * 100_000 + "]" * 100_000))


# -- 3. one rule for DualSigma's two radii ----------------------------------------------------------


def _dual_cert(**dual):
    fields = dict(label=np.array([1, -1]), class_index=np.array([1, -1]), p_lower=np.array([0.9, 0.4]),
                  gap=np.array([1.0, 0.0]), radius=np.array([0.25, 0.0]), sigma=np.array([0.25, 0.25]), norm="l2",
                  log_volume=np.array([0.0, -np.inf]), proxy_radius=np.array([0.25, 0.0]),
                  abstained=np.array([False, True]), center=np.zeros((2, 2)), alpha=0.001)
    return Certificates.from_arrays(**fields, **dual)


def test_dual_radii_follow_one_rule_at_construction():
    good = _dual_cert(radius_sigma=np.array([0.3, 0.0]), radius_class=np.array([0.25, 0.0]))
    assert good.dual
    with pytest.raises(ValueError, match="radius_class is given without radius_sigma"):
        _dual_cert(radius_class=np.array([0.25, 0.0]))
    with pytest.raises(ValueError, match="radius_sigma is given without radius_class"):
        replace(good, radius_class=None)
    with pytest.raises(ValueError, match=r"row 0 has radius=0.25 above min\(radius_sigma=0.2, radius_class=0.25\)"):
        _dual_cert(radius_sigma=np.array([0.2, 0.0]), radius_class=np.array([0.25, 0.0]))
    with pytest.raises(ValueError, match="row 0 is certified but has radius_sigma=0.0"):
        _dual_cert(radius_sigma=np.array([0.0, 0.0]), radius_class=np.array([0.25, 0.0]))
    with pytest.raises(ValueError, match="known together .* or unknown together"):
        _dual_cert(radius_sigma=np.array([0.3, np.nan]), radius_class=np.array([0.25, 0.0]))
    with pytest.raises(ValueError, match="mix DualSigma certificates"):
        _dual_cert(radius_sigma=np.array([0.3, np.nan]), radius_class=np.array([0.25, np.nan]))
    # rows a memory decided may hold a stored region's radius
    assert _dual_cert(radius_sigma=np.array([0.2, 0.0]), radius_class=np.array([0.25, 0.0]),
                      memory_entry=np.array([0, -1])).dual


def test_dual_radii_follow_one_rule_at_concatenation_reading_and_writing(tmp_path):
    good = _dual_cert(radius_sigma=np.array([0.3, 0.0]), radius_class=np.array([0.25, 0.0]))
    other = _dual_cert()
    with pytest.raises(ValueError, match=r"cannot concatenate DualSigma certificates \(parts\[0\].*\(parts\[1\]\)"):
        Certificates.concatenate([good, other])
    assert len(Certificates.concatenate([good, good[:0], good])) == 4
    write_results(tmp_path / "d.tsv", good, [1, 0])
    assert read_results(tmp_path / "d.tsv").radius_sigma.tolist() == [0.3, 0.0]
    text = (tmp_path / "d.tsv").read_text().splitlines()
    header = text[0].split("\t")
    for column, value, match in [("radius_sigma", "0.2", "above min"), ("radius_sigma", "0.0", "is certified but")]:
        row = text[1].split("\t")
        row[header.index(column)] = value
        (tmp_path / "bad.tsv").write_text("\n".join([text[0], "\t".join(row), text[2]]) + "\n")
        with pytest.raises(ValueError, match=match):
            read_results(tmp_path / "bad.tsv")
    keep = [i for i, name in enumerate(header) if name != "radius_sigma"]
    (tmp_path / "half.tsv").write_text("\n".join("\t".join(line.split("\t")[i] for i in keep) for line in text) + "\n")
    with pytest.raises(ValueError, match="radius_class is given without radius_sigma"):
        read_results(tmp_path / "half.tsv")
