"""CertificateMemory: the resolver of THEORY.md 2.4 / 3.6 (tests T12, T13, T15), persistence, and
its use inside SmoothedClassifier."""

import json
import os
import pickle
import signal
import subprocess
import sys
import warnings
from dataclasses import replace

import numpy as np
import pytest
import torch
from certificate_factory import make_certificates
from scipy.stats import norm as normal
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.exceptions import NotFittedError

from smoothcert import CertificateMemory, Certificates, SmoothedClassifier
from smoothcert.exceptions import SoundnessWarning
from smoothcert.geometry import overlap_margin
from smoothcert.memory import FORMAT_VERSION
from smoothcert.sigma import SigmaOptimizer

# -- helpers ------------------------------------------------------------------------------------


def with_classes(cert):
    """class_index = label (so that adopting another entry's class is visible)."""
    return replace(cert, class_index=np.where(cert.abstained, -1, cert.label).astype(np.int64))


def balls(centers, labels, radii, norm="l2"):
    """Balls of the given radii (sigma = 1, gap = radius); label -1 is an abstention."""
    return with_classes(make_certificates(radii, labels, sigma=1.0, norm=norm, center=centers))


def regions(centers, labels, axes, norm="l2"):
    """Ellipsoids (l2) or cross-polytopes (l1) with the given per-dimension axes (gap = 1)."""
    return with_classes(make_certificates(1.0, labels, sigma=axes, norm=norm, center=centers))


def region_arrays(cert):
    """(centres, per-dimension axes, labels) of the non-empty regions that certificates describe."""
    keep = (~cert.abstained) & (cert.gap > 0)
    n = len(cert)
    sigma = cert.sigma.reshape(n, -1) if cert.anisotropic else cert.sigma[:, None]
    d = cert.center.reshape(n, -1).shape[1]
    axes = np.broadcast_to(cert.gap[:, None] * sigma.astype(np.float64), (n, d))
    return cert.center.reshape(n, -1)[keep].astype(np.float64), axes[keep], np.asarray(cert.label)[keep]


def cross_label_overlaps(centers, axes, labels, norm):
    """Number of pairs of regions with different labels whose interiors intersect (exact test).

    Pairs whose circumscribed balls are apart cannot intersect (a superset pre-filter).
    """
    rmax = axes.max(axis=1)
    count = 0
    for i in range(len(centers)):
        diff = centers[i + 1 :] - centers[i]
        D = np.sqrt((diff**2).sum(1)) if norm == "l2" else np.abs(diff).sum(1)
        near = np.flatnonzero((D <= (rmax[i] + rmax[i + 1 :]) * (1 + 1e-9)) & (labels[i + 1 :] != labels[i])) + i + 1
        if near.size:
            count += int((overlap_margin(centers[i], axes[i][None], centers[near], axes[near], norm) > 0).sum())
    return count


def sampled_cross_label_points(centers, axes, labels, norm, points):
    """Independent brute force: points strictly inside regions of two different labels."""
    bad = 0
    codes = np.unique(labels, return_inverse=True)[1]
    for chunk in np.array_split(points, max(1, len(points) // 500)):
        z = chunk[:, None, :] - centers[None]
        N = np.sqrt(((z / axes) ** 2).sum(-1)) if norm == "l2" else np.abs(z / axes).sum(-1)
        inside = N < 1.0
        lo = np.where(inside, codes, np.iinfo(np.int64).max).min(1)
        hi = np.where(inside, codes, -1).max(1)
        bad += int((inside.any(1) & (lo != hi)).sum())
    return bad


def random_certificates(rng, n, d, norm, aniso, n_labels=3, p_abstain=0.05, spread=5.0):
    centers = rng.uniform(-spread, spread, (n, d)).astype(np.float32)
    labels = rng.integers(0, n_labels, n)
    labels[rng.random(n) < p_abstain] = -1
    if aniso:
        return regions(centers, labels, rng.uniform(0.05, 0.6, (n, d)), norm)
    return balls(centers, labels, rng.uniform(0.05, 0.6, n), norm)


def random_sequence(rng, norm, d, n=2000, chunks=4):
    """``n`` certificates in ``chunks`` parts that alternate balls and ellipsoids / polytopes."""
    return [random_certificates(rng, n // chunks, d, norm, aniso=bool(k % 2)) for k in range(chunks)]


def store_sequence(memory, sequence):
    return [memory.resolve(part, store=True) for part in sequence]


def check_invariants(memory, resolved, norm, rng):
    """(I1) exactly and by sampling, stored = returned regions, and consistency of later queries."""
    parts = [region_arrays(c) for c in resolved]
    centers, axes, labels = (np.concatenate([p[k] for p in parts]) for k in range(3))
    assert cross_label_overlaps(centers, axes, labels, norm) == 0
    lo, hi = centers.min(0) - 1, centers.max(0) + 1
    points = rng.uniform(lo, hi, (10_000, centers.shape[1]))
    assert sampled_cross_label_points(centers, axes, labels, norm, points) == 0
    # The memory stores exactly the regions it returned (non-empty ones, in order).
    stored = memory.regions()
    nonempty = stored["radius"] > 0
    np.testing.assert_allclose(stored["axes"][nonempty], axes, rtol=1e-12)
    np.testing.assert_array_equal(stored["center"].reshape(len(nonempty), -1)[nonempty], centers)
    # Every later query strictly inside a stored region gets that region's label, whatever its own
    # certificate says (another label, the same label, or an abstention).
    near = centers[rng.integers(0, len(centers), 3000)] + rng.normal(scale=0.2, size=(3000, centers.shape[1]))
    z = near[:, None, :] - centers[None]
    N = np.sqrt(((z / axes) ** 2).sum(-1)) if norm == "l2" else np.abs(z / axes).sum(-1)
    inside = np.flatnonzero((N < 1.0 - 1e-9).any(1))[:300]
    assert len(inside) >= 100
    expected = labels[np.argmax(N[inside] < 1.0 - 1e-9, axis=1)]
    own = rng.integers(-1, 3, len(inside))
    queries = balls(near[inside], own, rng.uniform(0.05, 1.0, len(inside)), norm)
    answered = memory.transform(queries)
    np.testing.assert_array_equal(answered.label, expected)
    assert not answered.abstained.any()
    return answered


# -- hand-made cases with exact answers (T13) ----------------------------------------------------


def test_overlap_shrinks_to_touch_and_inside_adopts():
    memory = CertificateMemory()
    out = memory.fit_transform(balls([[0, 0], [3, 0], [0.5, 0]], [0, 1, 1], [2.0, 2.0, 1.0]))
    assert out.label.tolist() == [0, 1, 0]
    np.testing.assert_allclose(out.radius, [2.0, 1.0, 1.5], rtol=1e-9)  # 1 = 3 - 2; 1.5 = 2 - 0.5
    assert out.memory_entry.tolist() == [-1, 0, 0]
    assert out.class_index.tolist() == [0, 1, 0]
    # A ball keeps describing itself: gap = radius / sigma, proxy radius = radius, ball volume.
    np.testing.assert_allclose(out.gap, out.radius / out.sigma, rtol=1e-7)
    np.testing.assert_allclose(out.proxy_radius, out.radius, rtol=1e-7)
    np.testing.assert_allclose(out.log_volume, np.log(np.pi * out.radius**2), rtol=1e-7)
    assert out.p_lower.tolist() == [0.9, 0.9, 0.9]  # the Monte Carlo bound is left as measured
    assert len(memory) == memory.n_entries_ == 3
    assert memory.total_alpha_ == pytest.approx(0.003)


def test_deepest_region_decides_and_same_label_overlaps_are_kept():
    memory = CertificateMemory()
    out = memory.fit_transform(balls([[0, 0], [1, 0], [0.25, 0]], [0, 0, 1], [2.0, 3.0, 0.5]))
    # Rows 0 and 1 share a label: overlapping is allowed, nothing changes.
    np.testing.assert_allclose(out.radius[:2], [2.0, 3.0])
    assert out.memory_entry[:2].tolist() == [-1, -1]
    # (0.25, 0) is 1.75 deep in entry 0 and 2.25 deep in entry 1: the deeper one decides.
    assert out.label[2] == 0 and out.memory_entry[2] == 1
    assert out.radius[2] == pytest.approx(2.25, rel=1e-9)


def test_l1_balls_shrink_in_the_l1_norm():
    out = CertificateMemory().fit_transform(balls([[0, 0], [1.5, 0], [1, 1.5]], [0, 1, 2], [1.0, 1.0, 2.0], "l1"))
    # l1 distances to the earlier balls: 1.5 - 1 = 0.5; then min(2.5 - 1, |(1,1.5)-(1.5,0)|_1 - 0.5 = 1.5).
    np.testing.assert_allclose(out.radius, [1.0, 0.5, 1.5], rtol=1e-9)
    assert out.memory_entry.tolist() == [-1, 0, 0]


def test_ellipsoid_and_ball_cases():
    memory = CertificateMemory().fit(regions([[0, 0]], [0], [[2.0, 1.0]]))  # ellipse, semi-axes (2, 1)
    # A ball of radius 3 at (4, 0) overlaps it; the distance to the ellipse is 2.
    out = memory.resolve(balls([[4, 0]], [1], [3.0]), store=True)
    assert out.radius[0] == pytest.approx(2.0, rel=1e-9) and out.memory_entry[0] == 0
    # (1.5, 0) has gauge 0.75 in the ellipse: adopted, with the gauge bound (1 - 0.75) * min axis.
    out = memory.transform(balls([[1.5, 0]], [1], [0.1]))
    assert out.label[0] == 0 and out.radius[0] == pytest.approx(0.25, rel=1e-9)


def test_anisotropic_region_replaced_by_an_exact_ball():
    memory = CertificateMemory().fit(balls([[0, 0]], [0], [1.0]))
    cert = regions([[3, 0], [0, 5]], [1, 1], [[2.5, 0.5], [2.5, 0.5]])
    out = memory.resolve(cert, store=True)
    # Row 0 meets the unit ball: it becomes the ball of radius min(0.5, distance 2) = 0.5, written
    # as constant per-dimension sigma = min(sigma) and gap = 0.5 / min(sigma).
    np.testing.assert_array_equal(out.sigma[0], [0.5, 0.5])
    assert out.gap[0] == pytest.approx(1.0) and out.radius[0] == pytest.approx(0.5)
    assert out.proxy_radius[0] == pytest.approx(0.5) and out.log_volume[0] == pytest.approx(np.log(np.pi * 0.25))
    assert out.memory_entry.tolist() == [0, -1]
    # Row 1 is apart and stays an ellipse, stored as such.
    np.testing.assert_array_equal(out.sigma[1], cert.sigma[1])
    np.testing.assert_allclose(memory.regions()["axes"], [[1.0, 1.0], [0.5, 0.5], [2.5, 0.5]])


def test_cross_polytope_cases():
    memory = CertificateMemory().fit(regions([[0, 0]], [0], [[2.0, 1.0]], "l1"))  # diamond
    out = memory.resolve(balls([[3, 0]], [1], [1.5], "l1"), store=True)
    assert out.radius[0] == pytest.approx(1.0, rel=1e-9)  # l1 distance from (3, 0) to the diamond
    out = memory.transform(balls([[1.0, 0.25]], [1], [1.0], "l1"))
    assert out.label[0] == 0 and out.radius[0] == pytest.approx(0.25, rel=1e-9)  # (1 - 0.75) * 1


def test_abstentions_not_stored_by_default():
    memory = CertificateMemory()
    out = memory.fit_transform(balls([[0, 0], [5, 5], [6, 5], [0.5, 0]], [0, -1, 1, -1], [2.0, 0.0, 2.0, 0.0]))
    assert out.abstained.tolist() == [False, True, False, False]
    np.testing.assert_allclose(out.radius, [2.0, 0.0, 2.0, 1.5], rtol=1e-9)  # (6, 5) ignores the abstention
    assert out.label[3] == 0 and out.memory_entry.tolist() == [-1, -1, -1, 0]  # abstained inside: adopts
    assert len(memory) == 3 and memory.total_alpha_ == pytest.approx(0.003)


def test_store_abstain_keeps_abstained_inputs_outside_later_regions():
    memory = CertificateMemory(store_abstain=True)
    out = memory.fit_transform(balls([[0, 0], [5, 5], [6, 5], [5, 2]], [0, -1, 1, 1], [2.0, 0.0, 2.0, 4.0]))
    # Later regions shrink to exclude the stored abstention at (5, 5); row 3 would also touch
    # entry 0 at distance sqrt(29) - 2 > 3, so the abstention decides.
    np.testing.assert_allclose(out.radius, [2.0, 0.0, 1.0, 3.0], rtol=1e-9)
    assert out.memory_entry.tolist() == [-1, -1, 1, 1]
    assert len(memory) == 4 and memory.total_alpha_ == pytest.approx(0.003)  # abstentions carry no claim
    assert memory.regions()["label"][1] is None


@pytest.mark.parametrize("store_abstain", [False, True])
def test_inside_rule_abstain(store_abstain):
    memory = CertificateMemory(inside_rule="abstain", store_abstain=store_abstain).fit(balls([[0, 0]], [0], [2.0]))
    out = memory.resolve(balls([[0.5, 0], [0.5, 0.1]], [1, 0], [1.0, 1.0]), store=True)
    assert out.abstained.tolist() == [True, False] and out.label.tolist() == [-1, 0]
    assert out.radius[0] == 0 and out.gap[0] == 0 and out.proxy_radius[0] == 0
    assert out.log_volume[0] == -np.inf and out.class_index[0] == -1 and out.memory_entry[0] == 0
    # Same label inside: untouched, unless the stored abstention at (0.5, 0) must be kept out.
    assert out.radius[1] == pytest.approx(0.1 if store_abstain else 1.0, rel=1e-6)
    assert out.memory_entry[1] == (1 if store_abstain else -1)
    assert len(memory) == (3 if store_abstain else 2)


def test_transform_is_read_only_and_storing_sees_earlier_rows():
    memory = CertificateMemory().fit(balls([[10, 10]], [0], [1.0]))
    pair = balls([[0, 0], [1, 0]], [0, 1], [1.0, 1.0])
    out = memory.transform(pair)
    np.testing.assert_allclose(out.radius, [1.0, 1.0])  # each row only sees the stored entry
    assert len(memory) == 1
    out = memory.resolve(pair, store=True)
    np.testing.assert_allclose(out.radius, [1.0, 0.0], atol=1e-9)  # row 1 touches row 0
    assert len(memory) == 3
    # fit_transform starts from an empty memory.
    np.testing.assert_allclose(memory.fit_transform(pair).radius, [1.0, 0.0], atol=1e-9)
    assert len(memory) == 2


def test_order_changes_the_answers():
    cert = balls([[0, 0], [1.5, 0]], [0, 1], [1.0, 1.0])
    forward = CertificateMemory().fit_transform(cert)
    backward = CertificateMemory().fit_transform(cert[[1, 0]])
    np.testing.assert_allclose(forward.radius, [1.0, 0.5], rtol=1e-9)
    np.testing.assert_allclose(backward.radius, [1.0, 0.5], rtol=1e-9)
    assert forward.memory_entry.tolist() == [-1, 0] and backward.label.tolist() == [1, 0]


# -- invariants on random sequences (T12) --------------------------------------------------------


@pytest.mark.parametrize(("norm", "d"), [("l2", 2), ("l1", 3)])
def test_random_sequences_keep_the_invariants(norm, d, monkeypatch):
    # Small blocks exercise the tree index (several blocks, merges, scanned tails).
    monkeypatch.setattr(CertificateMemory, "_block_size", lambda self: 64)
    rng = np.random.default_rng(7)
    sequence = random_sequence(rng, norm, d)
    # The checkers have teeth: the unresolved certificates do overlap across labels.
    raw = region_arrays(random_certificates(rng, 300, d, norm, aniso=True, spread=1.5))
    assert cross_label_overlaps(*raw, norm) > 20
    assert sampled_cross_label_points(*raw, norm, rng.uniform(-1.5, 1.5, (5000, d))) > 20
    tree = CertificateMemory(algorithm="kd_tree")
    resolved = store_sequence(tree, sequence)
    answered = check_invariants(tree, resolved, norm, rng)
    # The brute-force scan finds exactly the same candidates: identical results.
    brute = CertificateMemory(algorithm="brute")
    for a, b in zip(resolved, store_sequence(brute, sequence)):
        for name in ("label", "radius", "gap", "memory_entry", "abstained"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    np.testing.assert_array_equal(brute.transform(balls(answered.center, answered.label, answered.radius, norm)).label,
                                  answered.label)
    # Another order gives other certificates, but the same invariants.
    order = rng.permutation(len(sequence[0]))
    shuffled = [part[order] for part in sequence[::-1]]
    other = CertificateMemory()
    reordered = store_sequence(other, shuffled)
    check_invariants(other, reordered, norm, rng)
    before = np.concatenate([c.radius for c in resolved[::-1]])
    after = np.concatenate([c.radius[np.argsort(order)] for c in reordered])
    assert np.abs(before - after).max() > 0.01


def test_inside_rule_abstain_answers_the_label_or_abstains():
    rng = np.random.default_rng(8)
    memory = CertificateMemory(inside_rule="abstain")
    stored = memory.fit_transform(random_certificates(rng, 500, 2, "l2", aniso=False))
    centers, axes, labels = region_arrays(stored)
    near = centers[rng.integers(0, len(centers), 1000)] + rng.normal(scale=0.1, size=(1000, 2))
    N = np.sqrt((((near[:, None] - centers[None]) / axes) ** 2).sum(-1))
    inside = np.flatnonzero((N < 1 - 1e-9).any(1))
    expected = labels[np.argmax(N[inside] < 1 - 1e-9, axis=1)]
    out = memory.transform(balls(near[inside], rng.integers(-1, 3, len(inside)), np.full(len(inside), 0.3)))
    assert np.all((out.label == expected) | out.abstained)
    assert out.abstained.any() and (out.label == expected).any()


# -- the 1-D counterexample of THEORY.md 6.5 (T15) -----------------------------------------------


class Interval(torch.nn.Module):
    """f(z) = A (class 0) if |z| < 1 else B (class 1)."""

    def __init__(self):
        super().__init__()
        self.gain = torch.nn.Parameter(torch.ones(()))  # never trained (max_epochs=0)

    def forward(self, z):
        inside = (z[:, :1].abs() < 1).float()
        return self.gain * torch.cat([inside, 1 - inside], dim=1)


class StepSigma(SigmaOptimizer):
    """sigma(x) = small if |x| < 0.25 else large: a discontinuous data-dependent scale."""

    data_dependent = True

    def __init__(self, small=0.2, large=3.0):
        self.small = small
        self.large = large

    def base_scale(self):
        return self.small

    def scales(self, model, X, *, noise, keys, batch_size):
        near = X.reshape(len(X), -1)[:, 0].abs() < 0.25
        return torch.where(near, self.small, self.large).to(torch.float32)


def interval_classifier(**kwargs):
    clf = SmoothedClassifier(module=Interval(), sigma=StepSigma(), max_epochs=0, n0=100, n=20_000, alpha=0.001,
                             batch_size=5000, device="cpu", random_state=0, **kwargs)
    return clf.fit(np.array([[0.0], [0.5]], np.float32), np.array(["A", "B"]))


def test_naive_data_dependent_certificate_is_violated_and_memory_fixes_it():
    # Fixed seed, so deterministic. For another seed: the p_lower checks fail with probability
    # <= alpha = 0.001 each; the labels and radius > 0.5 fail with probability < 1e-10 (row 0
    # needs p_lower > Phi(2.5) = 0.9938 at p_A = 1 - 5.7e-7, row 1 p_lower(B) > 1/2 at p_B = 0.742,
    # both from n = 20000 samples).
    p_a_x0 = 2 * normal.cdf(5.0) - 1  # sigma = 0.2 at x0 = 0
    p_a_x1 = normal.cdf(0.5 / 3) - normal.cdf(-1.5 / 3)  # sigma = 3 at x1 = 0.5
    assert p_a_x0 == pytest.approx(0.99999943, abs=1e-8) and p_a_x1 == pytest.approx(0.25765, abs=1e-5)
    X = np.array([[0.0], [0.5]], np.float32)

    naive = interval_classifier()
    with pytest.warns(SoundnessWarning):
        cert = naive.certify(X)
    # Each certificate is correct about its own fixed-scale classifier (p_lower below the exact p)...
    assert cert.label.tolist() == ["A", "B"]
    assert cert.p_lower[0] <= p_a_x0 and cert.p_lower[1] <= 1 - p_a_x1
    # ...but x1 lies inside x0's certified interval and the deployed classifier answers B there.
    assert cert.radius[0] > 0.5
    assert naive.predict(X[1:]).tolist() == ["B"]

    clf = interval_classifier(memory=CertificateMemory())
    with warnings.catch_warnings():
        warnings.simplefilter("error", SoundnessWarning)  # a memory makes the warning unnecessary
        cert = clf.certify(X)
    assert cert.label.tolist() == ["A", "A"] and cert.memory_entry.tolist() == [-1, 0]
    assert cert.class_index.tolist() == [0, 0]
    assert cert.radius[1] == pytest.approx(cert.radius[0] - 0.5, rel=1e-9)
    assert clf.predict(X[1:]).tolist() == ["A"]  # predict agrees with the stored region
    assert clf.predict(X[1:], abstain=True).tolist() == ["A"]
    assert clf.predict(np.array([[2.0]], np.float32)).tolist() == ["B"]  # outside: its own vote
    assert len(clf.memory_) == 2 and len(clf.memory) == 0  # the user's object is untouched

    # The other order: x1 is certified first (B, radius ~1.9) and then x0 = 0 lies inside it.
    other = interval_classifier(memory=CertificateMemory())
    cert = other.certify(X[::-1])
    assert cert.label.tolist() == ["B", "B"] and cert.memory_entry.tolist() == [-1, 0]


def test_predict_with_inside_rule_abstain():
    clf = interval_classifier(memory=CertificateMemory(inside_rule="abstain"), abstain_label="none")
    clf.certify(np.array([[0.0]], np.float32))
    X1 = np.array([[0.5]], np.float32)
    assert clf.predict(X1, abstain=True).tolist() == ["none"]  # own vote B inside a stored A region
    assert clf.predict(X1).tolist() == ["A"]  # predict must return a class: the stored one


# -- estimator integration -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(80, centers=[[-1.0, -1.0], [1.0, 1.0]], cluster_std=0.9, random_state=0)
    return X.astype(np.float32), y


def test_estimator_with_memory_on_blobs(blobs):
    X, y = blobs
    user_memory = CertificateMemory()
    clf = SmoothedClassifier(sigma=0.5, n=500, n0=50, alpha=0.01, max_epochs=5, random_state=0, device="cpu",
                             memory=user_memory).fit(X, y)
    cert = clf.certify(X[:40])
    assert len(clf.memory_) == int((~cert.abstained).sum()) and len(user_memory) == 0
    assert cross_label_overlaps(*region_arrays(cert), "l2") == 0
    # Certifying again resolves against the stored regions: every repeated input is inside its own
    # earlier region (when that was non-empty) and keeps its answer.
    again = clf.certify(X[:40])
    kept = (~cert.abstained) & (cert.radius > 0)
    np.testing.assert_array_equal(again.label[kept], cert.label[kept])
    assert len(clf.memory_) == 2 * int((~cert.abstained).sum())
    # clone: an empty memory with the same parameters, reachable as memory__*.
    cloned = clone(clf)
    assert isinstance(cloned.memory, CertificateMemory) and len(cloned.memory) == 0
    assert clf.get_params()["memory__inside_rule"] == "adopt"
    cloned.set_params(memory__inside_rule="abstain")
    assert cloned.memory.inside_rule == "abstain" and clf.memory.inside_rule == "adopt"
    # pickle: the copy carries the memory and continues exactly like the original.
    copy = pickle.loads(pickle.dumps(clf))
    a, b = clf.certify(X[40:60]), copy.certify(X[40:60])
    np.testing.assert_array_equal(a.radius, b.radius)
    np.testing.assert_array_equal(a.memory_entry, b.memory_entry)
    assert len(copy.memory_) == len(clf.memory_)


def test_estimator_starts_from_a_given_memory_and_validates_it(blobs, tmp_path):
    X, y = blobs
    kwargs = dict(sigma=0.5, n=300, n0=30, alpha=0.01, max_epochs=2, random_state=0, device="cpu")
    first = SmoothedClassifier(memory=CertificateMemory(), **kwargs).fit(X, y)
    first.certify(X[:10])
    first.memory_.save(tmp_path / "memory.npz")
    loaded = CertificateMemory.load(tmp_path / "memory.npz")
    second = SmoothedClassifier(memory=loaded, **kwargs).fit(X, y)
    assert len(second.memory_) == len(first.memory_) and second.memory_ is not loaded
    with pytest.raises(TypeError, match="memory must be None or a CertificateMemory"):
        SmoothedClassifier(memory="yes", **kwargs).fit(X, y)
    with pytest.raises(ValueError, match="inside_rule"):
        SmoothedClassifier(memory=CertificateMemory(inside_rule="keep"), **kwargs).fit(X, y)
    l1_memory = CertificateMemory().fit(balls([[0, 0]], [0], [1.0], "l1"))
    with pytest.raises(ValueError, match="norm"):
        SmoothedClassifier(memory=l1_memory, **kwargs).fit(X, y)


def test_memory_replaced_after_fit_is_used_from_the_next_call(blobs):
    X, y = blobs
    kwargs = dict(sigma=0.5, n=300, n0=30, alpha=0.01, max_epochs=2, random_state=0, device="cpu")
    first = SmoothedClassifier(memory=CertificateMemory(), **kwargs).fit(X, y)
    first.certify(X[:10])
    clf = SmoothedClassifier(memory=CertificateMemory(), **kwargs).fit(X, y)
    clf.certify(X[20:23])
    held = first.memory_
    clf.set_params(memory=held)
    clf.certify(X[30:32])  # resolved against (a copy of) the 10 regions of the new memory
    stored = len(clf.memory_)
    assert stored > len(held) == 10 and clf.memory_ is not held
    kept = clf.memory_
    clf.certify(X[40:43])  # the same memory parameter: the copy is kept and keeps growing
    assert clf.memory_ is kept and len(kept) >= stored


# -- persistence ---------------------------------------------------------------------------------


def mixed_memory(seed=0):
    rng = np.random.default_rng(seed)
    memory = CertificateMemory(store_abstain=True)
    for part in random_sequence(rng, "l2", 3, n=400):
        memory.partial_fit(part)
    return memory, rng


def assert_same_memory(a, b):
    assert a.get_params() == b.get_params() and len(a) == len(b)
    ra, rb = a.regions(), b.regions()
    for key in ra:
        np.testing.assert_array_equal(ra[key], rb[key])


def test_save_load_round_trip_and_append(tmp_path):
    memory, rng = mixed_memory()
    path = tmp_path / "memory.npz"
    memory.save(path)
    loaded = CertificateMemory.load(path)
    assert_same_memory(memory, loaded)
    queries = random_certificates(rng, 200, 3, "l2", aniso=True)
    for name in ("label", "radius", "memory_entry"):
        np.testing.assert_array_equal(getattr(memory.transform(queries), name),
                                      getattr(loaded.transform(queries), name))
    # Appending across runs equals storing everything in one run.
    more = random_certificates(rng, 200, 3, "l2", aniso=False)
    loaded.partial_fit(more)
    loaded.save(path)
    memory.partial_fit(more)
    assert_same_memory(memory, CertificateMemory.load(path))
    assert not [f for f in os.listdir(tmp_path) if f != "memory.npz"]


def test_string_labels_survive_a_round_trip(tmp_path):
    cert = replace(balls([[0, 0], [3, 0]], [0, 1], [1.0, 1.0]), label=np.array(["cat", "dog"]))
    memory = CertificateMemory().fit(cert)
    memory.save(tmp_path / "m.npz")
    loaded = CertificateMemory.load(tmp_path / "m.npz")
    query = replace(balls([[0.5, 0]], [1], [1.0]), label=np.array(["dog"]))
    assert loaded.transform(query).label.tolist() == ["cat"]


def test_corrupt_truncated_and_foreign_files_raise_clear_errors(tmp_path):
    memory, _ = mixed_memory()
    path = tmp_path / "memory.npz"
    memory.save(path)
    data = path.read_bytes()
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(data[: len(data) // 2])
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(data[:1000] + bytes(b ^ 0xFF for b in data[1000:1100]) + data[1100:])
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a memory at all")
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, x=np.arange(3))
    for bad in (truncated, corrupt, garbage, foreign):
        with pytest.raises(ValueError, match="Cannot load a CertificateMemory from") as info:
            CertificateMemory.load(bad)
        assert str(bad) in str(info.value)
    with pytest.raises(FileNotFoundError):
        CertificateMemory.load(tmp_path / "missing.npz")
    assert_same_memory(memory, CertificateMemory.load(path))  # the good file is unaffected


def test_wrong_format_version_is_refused(tmp_path):
    memory, _ = mixed_memory()
    path = tmp_path / "memory.npz"
    memory.save(path)
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    header = json.loads(bytes(arrays["header"]).decode())
    header["version"] = FORMAT_VERSION + 1
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    future = tmp_path / "future.npz"
    np.savez(future, **arrays)
    with pytest.raises(ValueError, match=f"format version {FORMAT_VERSION + 1} is not supported"):
        CertificateMemory.load(future)


def test_interrupted_write_keeps_the_previous_file(tmp_path, monkeypatch):
    old, _ = mixed_memory(seed=1)
    new, _ = mixed_memory(seed=2)
    path = tmp_path / "memory.npz"
    old.save(path)

    def crash(src, dst):
        raise OSError("simulated crash before the rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="simulated crash"):
        new.save(path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["memory.npz"]  # no stray temporary file
    assert_same_memory(old, CertificateMemory.load(path))


def small_memory():
    """Six entries of every kind: ellipsoids, a stored abstention, an adopted ball, a ball, a point."""
    aniso = regions([[0, 0], [3, 0], [5, 5]], [0, 1, -1], [[0.5, 1.0], [0.3, 0.6], [1.0, 1.0]])
    memory = CertificateMemory(store_abstain=True).fit(aniso)
    memory.partial_fit(balls([[0.2, 0.0], [9, 9], [7, 7]], [1, 2, 0], [1.0, 0.5, 0.0]))
    return memory


def saved_arrays(memory, path):
    memory.save(path)
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    return json.loads(bytes(arrays["header"]).decode()), arrays


def with_header(header, arrays):
    return {**arrays, "header": np.frombuffer(json.dumps(header).encode(), np.uint8)}


def set_entry(name, entry, value):
    def change(arrays):
        column = arrays[name].copy()
        column[entry] = value
        return {**arrays, name: column}

    return change


def set_header(key, value):
    def change(arrays):
        header = json.loads(bytes(arrays["header"]).decode())
        return with_header({**header, key: value}, arrays)

    return change


@pytest.mark.parametrize(
    "change, message",
    [
        (set_entry("gap", 0, -1.0), "gap must be finite, >= 0"),
        (set_entry("gap", 1, np.nan), "gap must be finite"),
        (set_entry("rmin", 4, -0.5), "rmin must be finite and >= 0, but entry 4"),
        (set_entry("rmin", 3, np.inf), "rmin must be finite"),
        (set_entry("rmax", 4, 0.25), "rmax must be finite and >= rmin"),
        (set_entry("rmax", 2, 0.5), "rmax must be"),  # a stored abstention must be a point
        (set_entry("rmin", 0, 0.6), "rmin must be in \\(0, gap \\* min\\(scales\\)\\]"),  # larger than certified
        (set_entry("rmax", 0, 0.9), "rmax must be >= gap \\* max\\(scales\\)"),  # too small for the pre-filter
        (set_entry("scales", 1, [0.3, -0.6]), "scales must be finite and > 0, but entry 1"),
        (set_entry("scales", 0, [np.nan, 1.0]), "scales must be finite and > 0, but entry 0"),
        (lambda a: {**a, "scales": a["scales"][:1]}, "scales must have shape \\(2, 2\\)"),
        (lambda a: {**a, "gap": a["gap"][:-1]}, "gap must have shape \\(6,\\)"),
        (lambda a: {**a, "centers": a["centers"].reshape(-1)}, "centers must have shape \\(6, 2\\)"),
        (set_entry("centers", 5, [np.inf, 0.0]), "centers must be finite, but entry 5"),
        (lambda a: {**a, "centers": a["centers"].astype(np.int64)}, "centers must hold float32 or float64"),
        (lambda a: {**a, "code": a["code"].astype(np.float64)}, "code must hold integers"),
        (set_entry("code", 4, 7), "code must be a label code in \\[-1, 3\\)"),
        (set_entry("code", 4, -2), "code must be a label code"),
        (set_entry("alpha", 0, 1.5), "alpha must be in \\(0, 1\\)"),
        (set_entry("alpha", 2, 0.01), "alpha must be in \\(0, 1\\) \\(0 for abstentions\\)"),
        (set_entry("source", 3, 5), "source must be -1 or an earlier entry, but entry 3"),
        (set_header("input_shape", [-2]), "input_shape"),
        (set_header("input_shape", [2.0]), "input_shape"),
        (set_header("n_entries", -1), "n_entries"),
        (set_header("n_entries", True), "n_entries"),
        (set_header("norm", "linf"), "norm"),
        (set_header("labels", [0, 1, True]), "labels' must be distinct"),
        (set_header("labels", [0, [1], 2]), "labels"),
        (set_header("params", {"inside_rule": "adopt", "leaf_size": 3}), "params"),
        (set_header("params", {"max_size": -4}), "max_size"),
        (set_header("version", True), "format version True is not supported"),
        (lambda a: {**a, "header": np.frombuffer(b"[1, 2]", np.uint8)}, "not a CertificateMemory file"),
        (lambda a: {**a, "header": np.zeros(3)}, "header must be UTF-8 JSON bytes"),
        (lambda a: {k: v for k, v in a.items() if k != "source"}, "no \\['source'\\] arrays"),
    ],
)
def test_load_refuses_invalid_entries_naming_the_field(tmp_path, change, message):
    memory = small_memory()
    _, arrays = saved_arrays(memory, tmp_path / "good.npz")
    bad = tmp_path / "bad.npz"
    np.savez(bad, **change(arrays))
    with pytest.raises(ValueError, match="Cannot load a CertificateMemory from .*bad.npz.*: .*" + message):
        CertificateMemory.load(bad)
    np.savez(bad, **arrays)  # the unchanged arrays load (the checks accept what save writes)
    assert_same_memory(memory, CertificateMemory.load(bad))


def test_every_damaged_byte_is_detected_or_harmless(tmp_path):
    # The zip and npy readers raise BadZipFile, zlib.error, NotImplementedError, RuntimeError, ... on
    # damaged bytes; load must turn every one into its documented ValueError.
    memory = small_memory()
    path = tmp_path / "memory.npz"
    memory.save(path)
    data = path.read_bytes()
    damaged = tmp_path / "damaged.npz"
    harmless = 0
    for position in range(len(data)):
        flipped = bytearray(data)
        flipped[position] ^= (0xFF, 0x01, 0x10)[position % 3]
        damaged.write_bytes(flipped)
        try:
            loaded = CertificateMemory.load(damaged)
        except ValueError as exc:
            assert "Cannot load a CertificateMemory from" in str(exc), position
            continue
        harmless += 1  # a byte the content does not depend on (timestamps, "version made by", ...)
        assert_same_memory(memory, loaded)
        assert loaded.norm_ == memory.norm_ and loaded.input_shape_ == memory.input_shape_
    assert 0 < harmless < len(data) // 2


# Saves a memory, but hangs inside the write (after some bytes) until it is killed.
STUCK_WRITER = """
import sys, time
import numpy as np
from smoothcert import CertificateMemory

def stuck(file, **arrays):
    file.write(b"partial")
    file.flush()
    print("writing", flush=True)
    time.sleep(120)

memory = CertificateMemory.load(sys.argv[1])
np.savez = stuck
memory.save(sys.argv[2])
"""


def temporaries(folder):
    return sorted(name for name in os.listdir(folder) if name.startswith(".tmp-"))


@pytest.mark.skipif(os.name != "posix", reason="stale temporary files are only cleaned up on POSIX")
def test_temporaries_of_killed_writers_do_not_accumulate(tmp_path):
    memory = small_memory()
    source, path, other = tmp_path / "source.npz", tmp_path / "memory.npz", tmp_path / "other.npz"
    memory.save(source)
    writers = [
        subprocess.Popen([sys.executable, "-c", STUCK_WRITER, str(source), str(target)], stdout=subprocess.PIPE, text=True)
        for target in (path, other)
    ]
    try:
        for writer in writers:
            assert writer.stdout.readline().strip() == "writing"
        live = temporaries(tmp_path)
        assert len(live) == 2 and all(str(writer.pid) in " ".join(live) for writer in writers)
        memory.save(path)
        assert temporaries(tmp_path) == live  # a live writer's temporary file is never removed
    finally:
        for writer in writers:
            writer.send_signal(signal.SIGKILL)
            writer.wait()
            writer.stdout.close()
    assert temporaries(tmp_path) == live  # killed mid-write: both left their temporary file
    memory.save(path)
    [left] = temporaries(tmp_path)  # only the one for the other destination remains
    assert other.name in left and str(writers[1].pid) in left
    assert_same_memory(memory, CertificateMemory.load(path))
    memory.save(other)
    assert temporaries(tmp_path) == []
    assert sorted(os.listdir(tmp_path)) == ["memory.npz", "other.npz", "source.npz"]


# -- parameters, errors, scikit-learn face -------------------------------------------------------


def test_max_size_refuses_and_stores_nothing():
    memory = CertificateMemory(max_size=3).fit(balls([[0, 0], [5, 0]], [0, 1], [1.0, 1.0]))
    before = memory.regions()
    with pytest.raises(ValueError, match="max_size=3"):
        memory.partial_fit(balls([[10, 0], [20, 0]], [2, 2], [1.0, 1.0]))
    assert len(memory) == 2
    after = memory.regions()
    for key in before:
        np.testing.assert_array_equal(before[key], after[key])
    memory.partial_fit(balls([[10, 0]], [2], [1.0]))  # one more still fits
    assert len(memory) == 3
    # A failed fit leaves the previous state too.
    with pytest.raises(ValueError, match="max_size=3"):
        memory.fit(balls([[0, 0]] * 4, [0] * 4, [1.0] * 4))
    assert len(memory) == 3


def test_parameter_and_input_validation():
    cert = balls([[0, 0]], [0], [1.0])
    for params, error in (
        ({"inside_rule": "keep"}, ValueError),
        ({"store_abstain": "yes"}, TypeError),
        ({"max_size": 0}, ValueError),
        ({"max_size": 2.5}, TypeError),
        ({"algorithm": "ball_tree"}, ValueError),
    ):
        with pytest.raises(error, match=next(iter(params))):
            CertificateMemory(**params).fit(cert)
    with pytest.raises(TypeError, match="smoothcert.Certificates"):
        CertificateMemory().fit(np.zeros((2, 2)))
    with pytest.raises(NotFittedError):
        CertificateMemory().transform(cert)
    memory = CertificateMemory().fit(cert)
    with pytest.raises(ValueError, match="norm"):
        memory.transform(balls([[0, 0]], [0], [1.0], "l1"))
    with pytest.raises(ValueError, match="shape"):
        memory.transform(balls([[0, 0, 0]], [0], [1.0]))
    with pytest.raises(ValueError, match="sigma"):
        memory.transform(replace(cert, sigma=np.array([-1.0], np.float32)))


def test_set_output_clone_and_lookup():
    memory = CertificateMemory(inside_rule="abstain").set_output(transform="pandas")
    frame = memory.fit_transform(balls([[0, 0], [3, 0]], [0, 1], [2.0, 2.0]))
    assert list(frame["memory_entry"]) == [-1, 0] and frame["radius"].iloc[1] == pytest.approx(1.0)
    assert isinstance(memory.resolve(balls([[9, 9]], [0], [1.0])), Certificates)
    cloned = clone(memory)
    assert cloned.get_params() == memory.get_params() and len(cloned) == 0
    entry, label = memory.lookup(np.array([[0.5, 0.0], [3.5, 0.0], [9.0, 9.0]]), default=np.array([7, 7, 7]))
    assert entry.tolist() == [0, 1, -1] and label.tolist() == [0, 1, 7]
    with pytest.raises(ValueError, match="transform"):
        memory.set_output(transform="polars")


def test_empty_certificates(tmp_path):
    empty = balls(np.zeros((0, 2)), np.zeros(0, int), np.zeros(0))
    memory = CertificateMemory().fit(empty)
    assert len(memory) == 0 and len(memory.transform(empty)) == 0
    memory.save(tmp_path / "empty.npz")
    assert len(CertificateMemory.load(tmp_path / "empty.npz")) == 0
    assert memory.lookup(np.zeros((2, 2)))[0].tolist() == [-1, -1]


def test_pickle_and_copy_do_not_carry_the_index(monkeypatch):
    monkeypatch.setattr(CertificateMemory, "_block_size", lambda self: 16)
    rng = np.random.default_rng(9)
    memory = CertificateMemory(algorithm="kd_tree").fit(random_certificates(rng, 300, 2, "l2", aniso=False))
    queries = random_certificates(rng, 100, 2, "l2", aniso=False)
    expected = memory.transform(queries)
    assert memory._index is not None
    restored = pickle.loads(pickle.dumps(memory))
    assert restored._index is None
    np.testing.assert_array_equal(restored.transform(queries).radius, expected.radius)
