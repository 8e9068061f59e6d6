"""Table-driven fuzz test of Certificates, the metrics, the scorers, the planning helpers, the
certified-accuracy display and certify_pipeline: every argument given a wrong type, a wrong value,
a non-finite value, a wrong shape or nothing gets an error naming it.

Convention shared by every ``tests/test_fuzz_*.py``: ``CASES`` holds ``(public name, zero-argument
callable, exception class, regex the message must match)``; valid borderline input has ``None`` as
the exception and a predicate on the result instead of a regex (``test_fuzz_coverage.py`` checks
that every name of ``smoothcert.__all__`` has cases).
"""

import dataclasses
import functools
import math

import matplotlib
import numpy as np
import pytest
from certificate_factory import make_certificates, with_radius
from fuzz_cases import fuzz_test
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from smoothcert import (
    Certificates,
    CertifiedAccuracyDisplay,
    SmoothedClassifier,
    acr_scorer,
    average_certified_radius,
    certified_accuracy,
    certified_accuracy_curve,
    certified_accuracy_lower_bound,
    certified_accuracy_scorer,
    certify_pipeline,
    max_certifiable_radius,
    min_samples_for_radius,
)
from smoothcert.noise import scale_summary

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

NAN, INF = float("nan"), float("inf")
X = np.random.default_rng(0).normal(size=(40, 4)).astype(np.float32)
Y = np.arange(40) % 2
FAST = dict(n0=10, n=50, max_epochs=1, random_state=0, device="cpu")

# Three rows: correct at radius 0.1, correct at 0.5, abstained.
CERT = with_radius([0.1, 0.5, 0.0], [0, 1, -1])
Y3 = np.array([0, 1, 1])
EMPTY = with_radius(np.zeros(0), np.zeros(0, int))
ANISO = make_certificates([1.0, 2.0], [0, 1], sigma=np.full((2, 1, 2, 2), 0.5, np.float32))
# What from_arrays is given: two isotropic rows over inputs of 3 features.
FIELDS = dict(
    label=np.array([0, 1]), class_index=np.array([0, 1]), p_lower=np.full(2, 0.9), gap=np.ones(2),
    radius=np.full(2, 0.5), sigma=np.full(2, 0.5), norm="l2", log_volume=np.zeros(2),
    proxy_radius=np.full(2, 0.5), abstained=np.zeros(2, bool), center=np.zeros((2, 3)), alpha=0.001,
)
CURVE = dict(radii=[np.array([0.0, 0.5])], accuracies=[np.array([0.8, 0.5])])


@functools.lru_cache(maxsize=None)
def fitted():
    return SmoothedClassifier(**FAST).fit(X, Y)


@functools.lru_cache(maxsize=None)
def pipeline():
    return make_pipeline(StandardScaler(), SmoothedClassifier(**FAST)).fit(X, Y)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def arrays(**changes):
    return Certificates.from_arrays(**{**FIELDS, **changes})


def concatenate(*parts):
    return Certificates.concatenate(list(parts))


def unpack():
    pred, radius = CERT[:2]  # the habit of libraries that return a tuple
    return pred, radius


def display(**changes):
    return CertifiedAccuracyDisplay(**{**CURVE, **changes})


def case(name):
    """Cases of ``name``: ``case(name)(call, exc, match)``."""
    return lambda call, exc, match: (name, call, exc, match)


cert, acc, curve, low, acr = (case(n) for n in ("Certificates", "certified_accuracy", "certified_accuracy_curve",
                                                "certified_accuracy_lower_bound", "average_certified_radius"))
ca_scorer, a_scorer, pipe, cap, samples, disp = (case(n) for n in (
    "certified_accuracy_scorer", "acr_scorer", "certify_pipeline", "max_certifiable_radius", "min_samples_for_radius",
    "CertifiedAccuracyDisplay"))
NOT_CERT = r"certificates must be a smoothcert.Certificates .*got"

CASES = [
    # -- Certificates.from_arrays: every field --
    cert(lambda: arrays(label=np.zeros((2, 1), int)), ValueError, r"label must be a 1-D array .*\(2, 1\)"),
    cert(lambda: arrays(label=None), ValueError, "label must be a 1-D array"),
    cert(lambda: arrays(label=5), ValueError, "label must be a 1-D array"),
    cert(lambda: arrays(label=[[0], [1, 2]]), ValueError, "label must be an array, got ragged"),
    cert(lambda: arrays(label=np.array([0, 1, 1])), ValueError, r"class_index must have shape \(3,\)"),
    cert(lambda: arrays(class_index=np.array([0.0, 1.0])), TypeError, "class_index must hold integers"),
    cert(lambda: arrays(class_index=None), TypeError, "class_index is required"),
    cert(lambda: arrays(p_lower=np.full(2, 1.5)), ValueError, r"p_lower must be in \[0, 1\]; row 0"),
    cert(lambda: arrays(p_lower=np.full(2, NAN)), ValueError, r"p_lower must be in \[0, 1\]"),
    cert(lambda: arrays(p_lower=np.array(["a", "b"])), TypeError, "p_lower must hold real numbers"),
    cert(lambda: arrays(p_lower=np.full(3, 0.9)), ValueError, r"p_lower must have shape \(2,\)"),
    cert(lambda: arrays(gap=-np.ones(2)), ValueError, "gap must be finite and >= 0"),
    cert(lambda: arrays(gap=np.full(2, INF)), ValueError, "gap must be finite and >= 0"),
    cert(lambda: arrays(radius=np.full(2, NAN)), ValueError, "radius must be finite and >= 0; row 0 holds nan"),
    cert(lambda: arrays(radius=np.full(2, INF)), ValueError, "radius must be finite and >= 0"),
    cert(lambda: arrays(radius=np.array([0.5, -0.1])), ValueError, "radius must be finite and >= 0; row 1"),
    cert(lambda: arrays(radius=None), TypeError, "radius is required"),
    cert(lambda: arrays(radius=np.full((2, 1), 0.5)), ValueError, r"radius must have shape \(2,\)"),
    cert(lambda: arrays(proxy_radius=np.full(2, -1.0)), ValueError, "proxy_radius must be finite and >= 0"),
    cert(lambda: arrays(log_volume=np.full(2, NAN)), ValueError, "log_volume must be a number or -inf"),
    cert(lambda: arrays(log_volume=np.full(2, INF)), ValueError, "log_volume must be a number or -inf"),
    cert(lambda: arrays(abstained=np.zeros(2, int)), TypeError, r"abstained must hold booleans"),
    cert(lambda: arrays(abstained=np.array([True, False])), ValueError,
         "label must be abstain_label=-1 exactly where abstained is True; row 0"),
    cert(lambda: arrays(label=np.array([-1, 1])), ValueError, "label must be abstain_label=-1 exactly where abstained"),
    cert(lambda: arrays(sigma=np.zeros(2)), ValueError, "sigma must be finite and > 0"),
    cert(lambda: arrays(sigma=np.full(2, NAN)), ValueError, "sigma must be finite and > 0"),
    cert(lambda: arrays(sigma=np.full(2, INF)), ValueError, "sigma must be finite and > 0"),
    cert(lambda: arrays(sigma=0.5), ValueError, r"sigma must be numbers of shape \(2,\) or \(2, 3\)"),
    cert(lambda: arrays(sigma=np.full(3, 0.5)), ValueError, r"sigma must be numbers of shape \(2,\)"),
    cert(lambda: arrays(sigma="wide"), ValueError, "sigma must be numbers of shape"),
    cert(lambda: arrays(sigma=None), ValueError, "sigma must be numbers of shape"),
    cert(lambda: arrays(center=np.zeros(2)), ValueError, r"center must be numbers of shape \(2, \*input_shape\)"),
    cert(lambda: arrays(center=np.zeros((3, 3))), ValueError, r"center must be numbers of shape \(2, \*input_shape\)"),
    cert(lambda: arrays(center=np.full((2, 3), NAN)), ValueError, "center must be finite"),
    cert(lambda: arrays(center=np.full((2, 3), INF)), ValueError, "center must be finite"),
    cert(lambda: arrays(center=None), ValueError, "center must be numbers"),
    cert(lambda: arrays(norm="linf"), ValueError, "norm must be 'l2' .* or 'l1'"),
    cert(lambda: arrays(norm=None), ValueError, "norm must be 'l2'"),
    cert(lambda: arrays(alpha=0.0), ValueError, r"alpha must be in the open interval \(0, 1\)"),
    cert(lambda: arrays(alpha=NAN), ValueError, "alpha must be in the open interval"),
    cert(lambda: arrays(alpha="0.001"), TypeError, "alpha must be a float"),
    cert(lambda: arrays(alpha=None), TypeError, "alpha must be a float"),
    cert(lambda: arrays(abstain_label=[-1]), TypeError, "abstain_label must be a scalar label"),
    cert(lambda: arrays(memory_entry=np.zeros(2)), TypeError, "memory_entry must hold integers"),
    cert(lambda: arrays(n_used=np.zeros(2)), TypeError, "n_used must hold integers"),
    cert(lambda: arrays(stop_reason=np.zeros(2, int)), TypeError, "stop_reason must hold strings"),
    cert(lambda: arrays(extra=np.zeros(2)), TypeError, "unexpected keyword argument 'extra'"),
    cert(lambda: Certificates(**{**FIELDS, "label": [0, 1], "memory_entry": np.zeros(2, int)}), TypeError,
         r"label must be a numpy array, got list; build certificates with Certificates.from_arrays"),
    # -- from_gap: the derived sizes need a checked sigma and gap --
    cert(lambda: Certificates.from_gap(gap=np.ones(2), sigma="wide", norm="l2", center=np.zeros((2, 3)),
                                       label=FIELDS["label"], class_index=FIELDS["class_index"],
                                       p_lower=FIELDS["p_lower"], abstained=FIELDS["abstained"], alpha=0.001),
         ValueError, "sigma must be numbers of shape"),
    cert(lambda: Certificates.from_gap(gap=np.full(2, NAN), sigma=np.ones(2), norm="l2", center=np.zeros((2, 3)),
                                       label=FIELDS["label"], class_index=FIELDS["class_index"],
                                       p_lower=FIELDS["p_lower"], abstained=FIELDS["abstained"], alpha=0.001),
         ValueError, "gap must be finite and >= 0"),
    cert(lambda: Certificates.from_gap(gap=np.ones(2), sigma=np.ones(2), norm="linf", center=np.zeros((2, 3)),
                                       label=FIELDS["label"], class_index=FIELDS["class_index"],
                                       p_lower=FIELDS["p_lower"], abstained=FIELDS["abstained"], alpha=0.001),
         ValueError, "norm must be 'l2'"),
    cert(lambda: Certificates.from_gap(gap=np.ones(1), sigma=np.ones(1), norm="l2", center=np.zeros((1, 2))), TypeError,
         "missing required keyword argument: 'label'"),
    cert(lambda: Certificates.from_gap(gap=1.0, sigma=np.ones(1), norm="l2", center=np.zeros((1, 2)), label=[1],
                                       class_index=[1], p_lower=[0.9], abstained=[False], alpha=0.1),
         ValueError, r"gap must have shape \(1,\)"),
    cert(lambda: Certificates.from_gap(gap=np.ones(0), sigma=np.ones((0, 3)), norm="l1", center=np.zeros((0, 3)),
                                       label=np.zeros(0, int), class_index=[], p_lower=[], abstained=[], alpha=0.1),
         None, lambda c: len(c) == 0 and c.anisotropic),
    # -- concatenate --
    cert(lambda: concatenate(CERT, with_radius([0.1], [0], norm="l1")), ValueError,
         "different norm: parts\\[0\\] has 'l2', parts\\[1\\] has 'l1'"),
    cert(lambda: concatenate(CERT, with_radius([0.1], [0], alpha=0.01)), ValueError, "different alpha"),
    cert(lambda: concatenate(CERT, with_radius([0.1], [0], center=np.zeros((1, 3)))), ValueError,
         r"different input shape \(center.shape\[1:\]\)"),
    cert(lambda: concatenate(ANISO, make_certificates([1.0], [0], center=np.zeros((1, 1, 2, 2)))), ValueError,
         "different sigma layout"),
    cert(lambda: concatenate(CERT, with_radius([0.1], [0], abstain_label=-2)), ValueError, "different abstain_label"),
    cert(lambda: Certificates.concatenate([]), ValueError, "parts is empty"),
    cert(lambda: Certificates.concatenate(CERT), TypeError, r"parts must be a sequence of Certificates \(e.g. \[first"),
    cert(lambda: Certificates.concatenate(None), TypeError, "parts must be a sequence of Certificates, got NoneType"),
    cert(lambda: concatenate(CERT, CERT.label), TypeError, r"parts\[1\] must be Certificates, got ndarray"),
    # -- iteration, unpacking, membership --
    cert(lambda: list(CERT), TypeError, r"not iterable .*use cert.label and cert.radius"),
    cert(unpack, TypeError, r"use cert.label and cert.radius"),
    cert(lambda: 0 in CERT, TypeError, r"item in cert.label"),
    # -- indexing --
    cert(lambda: CERT[1.0], TypeError, "Certificates index must be an int, .*got float"),
    cert(lambda: CERT["radius"], TypeError, "Certificates index must be an int, .*got str"),
    cert(lambda: CERT[np.zeros((1, 1), int)], TypeError, "Certificates index must be .*1-D array of ints"),
    cert(lambda: CERT[0, 1], TypeError, "Certificates index must be .*got tuple"),
    cert(lambda: CERT[None], TypeError, "Certificates index must be .*got NoneType"),
    cert(lambda: CERT[True], TypeError, "Certificates index must be .*got bool"),
    cert(lambda: CERT[np.array([0.0])], TypeError, "Certificates index must be"),
    cert(lambda: CERT[[[0], [1, 2]]], TypeError, "Certificates index must be"),
    cert(lambda: CERT[3], IndexError, "row 3 is out of range for 3 certificates"),
    cert(lambda: CERT[-4], IndexError, "row -4 is out of range"),
    cert(lambda: CERT[np.array([True])], IndexError, r"boolean mask needs one entry per row, shape \(3,\)"),
    cert(lambda: EMPTY[0], IndexError, "row 0 is out of range for 0 certificates"),
    # -- methods --
    cert(lambda: CERT.certified_accuracy(None), ValueError, r"y_true must have shape \(3,\)"),
    cert(lambda: CERT.certified_accuracy(Y3, -1.0), ValueError, "radii must be finite and >= 0"),
    cert(lambda: CERT.certified_accuracy(Y3, proxy="yes"), TypeError, "proxy must be True or False"),
    cert(lambda: CERT.to_frame(True), TypeError, "positional argument"),
    # -- valid borderline use --
    cert(lambda: arrays(n_used=None, stop_reason=None, memory_entry=None), None,
         lambda c: (c.n_used == -1).all() and (c.memory_entry == -1).all()),
    cert(lambda: arrays(label=["a", "b"]), None, lambda c: c.label.tolist() == ["a", "b"]),
    cert(lambda: arrays(abstained=np.array([True, False]), label=np.array([-1, 1]), log_volume=np.array([-INF, 0.0])),
         None, lambda c: c.abstained.tolist() == [True, False]),
    cert(lambda: arrays(abstain_label=NAN, label=np.array([NAN, 1.0]), abstained=np.array([True, False])), None,
         lambda c: len(c) == 2),
    cert(lambda: arrays(**{k: (v[:0] if isinstance(v, np.ndarray) else v) for k, v in FIELDS.items()}), None,
         lambda c: len(c) == 0),
    cert(lambda: arrays(label=[], class_index=[], p_lower=[], gap=[], radius=[], sigma=[], log_volume=[],
                        proxy_radius=[], abstained=[], center=np.zeros((0, 3))), None, lambda c: len(c) == 0),
    cert(lambda: len(concatenate(CERT, EMPTY, CERT)), None, lambda n: n == 6),
    cert(lambda: len(Certificates.concatenate(part for part in (CERT, CERT))), None, lambda n: n == 6),
    cert(lambda: concatenate(CERT, with_radius([0.1], np.array(["a"]))).label, None,
         lambda label: label.tolist() == [0, 1, -1, "a"]),
    cert(lambda: CERT[np.int64(1)], None, lambda c: c.radius.tolist() == [0.5]),
    cert(lambda: CERT[[]], None, lambda c: len(c) == 0),
    cert(lambda: CERT[[True, False, True]], None, lambda c: len(c) == 2),
    cert(lambda: CERT[-1:], None, lambda c: c.abstained.tolist() == [True]),
    cert(lambda: CERT.to_frame(), None, lambda f: f.shape == (3, 11) and f.attrs["norm"] == "l2"),
    cert(lambda: dataclasses.replace(CERT, provenance=["n", 10]), TypeError, "provenance must be a dict"),
    cert(lambda: CERT.provenance, None, lambda p: p == {}),
    cert(lambda: EMPTY.to_frame(), None, lambda f: f.shape == (0, 11)),
    cert(lambda: ANISO.to_frame(), None, lambda f: np.allclose(f["sigma_gm"], 0.5) and "sigma" not in f),
    cert(lambda: ANISO[[]].to_frame(), None, lambda f: f.shape == (0, 12)),
    cert(lambda: make_certificates(np.zeros(0), np.zeros(0, int), sigma=np.ones((0, 1, 8, 8), np.float32)), None,
         lambda c: len(c) == 0 and c.anisotropic),
    cert(lambda: (CERT.anisotropic, ANISO.anisotropic), None, lambda flags: flags == (False, True)),
    cert(lambda: EMPTY.certified_accuracy([]), None, lambda a: np.isnan(a).all()),
    # -- certified_accuracy --
    acc(lambda: certified_accuracy(Y3, None), TypeError, NOT_CERT + " NoneType"),
    acc(lambda: certified_accuracy(Y3, "cert.npz"), TypeError, NOT_CERT + " str"),
    acc(lambda: certified_accuracy(Y3, [CERT]), TypeError, NOT_CERT + " list"),
    acc(lambda: certified_accuracy(Y3, CERT.radius), TypeError, NOT_CERT + " ndarray"),
    acc(lambda: certified_accuracy(None, CERT), ValueError, r"y_true must have shape \(3,\)"),
    acc(lambda: certified_accuracy([0, 1], CERT), ValueError, r"y_true must have shape \(3,\) .*got \(2,\)"),
    acc(lambda: certified_accuracy([Y3], CERT), ValueError, r"y_true must have shape \(3,\) .*got \(1, 3\)"),
    acc(lambda: certified_accuracy([], CERT), ValueError, r"y_true must have shape \(3,\)"),
    acc(lambda: certified_accuracy([0, 1, NAN], CERT), ValueError, "y_true must not contain nan or inf"),
    acc(lambda: certified_accuracy([0, 1, INF], CERT), ValueError, "y_true must not contain nan or inf"),
    acc(lambda: certified_accuracy([[0], [1, 2], 3], CERT), ValueError, "y_true must be a 1-D array of labels"),
    acc(lambda: certified_accuracy(["a", "b", "b"], CERT), TypeError, "y_true holds <U1 labels but the certified"),
    acc(lambda: certified_accuracy(Y3, CERT, -0.5), ValueError, r"radii must be finite and >= 0, got \[-0.5\]"),
    acc(lambda: certified_accuracy(Y3, CERT, [0.0, NAN]), ValueError, "radii must be finite and >= 0"),
    acc(lambda: certified_accuracy(Y3, CERT, INF), ValueError, "radii must be finite and >= 0"),
    acc(lambda: certified_accuracy(Y3, CERT, [[0.0, 0.5]]), ValueError, r"radii must be .*1-D .*got shape \(1, 2\)"),
    acc(lambda: certified_accuracy(Y3, CERT, []), ValueError, r"radii must be a float or a non-empty 1-D sequence"),
    acc(lambda: certified_accuracy(Y3, CERT, "0.5"), TypeError, "radii must be a float or a 1-D sequence of floats, got str"),
    acc(lambda: certified_accuracy(Y3, CERT, None), TypeError, "radii must be a float .*got NoneType"),
    acc(lambda: certified_accuracy(Y3, CERT, True), TypeError, "radii must be a float .*got bool"),
    acc(lambda: certified_accuracy(Y3, CERT, [0.0, None]), TypeError, "radii must be a float"),
    acc(lambda: certified_accuracy(Y3, CERT, 1j), TypeError, "radii must be a float"),
    acc(lambda: certified_accuracy(Y3, CERT, [[0.1], [0.2, 0.3]]), TypeError, "radii must be a float"),
    acc(lambda: certified_accuracy(Y3, CERT, proxy="yes"), TypeError, "proxy must be True or False, got str"),
    acc(lambda: certified_accuracy(Y3, CERT, proxy=None), TypeError, "proxy must be True or False"),
    acc(lambda: certified_accuracy(Y3, CERT, proxy=1), TypeError, "proxy must be True or False, got int"),
    acc(lambda: certified_accuracy(Y3, CERT, [0.1], True), TypeError, "positional"),
    acc(lambda: certified_accuracy([], EMPTY), None, lambda a: a.shape == (1,) and np.isnan(a).all()),
    acc(lambda: certified_accuracy([], EMPTY, [0.0, 1.0]), None, lambda a: a.shape == (2,) and np.isnan(a).all()),
    acc(lambda: certified_accuracy(Y3, CERT, 0.0), None, lambda a: a.tolist() == [2 / 3]),
    acc(lambda: certified_accuracy(Y3, CERT, np.float32(0.1)), None, lambda a: a.tolist() == [1 / 3]),
    acc(lambda: certified_accuracy(Y3, CERT, [0, 0.5, 0.50001, 1e9]), None, lambda a: a.tolist() == [2 / 3, 1 / 3, 0, 0]),
    acc(lambda: certified_accuracy(Y3, CERT, proxy=np.True_), None, lambda a: a.tolist() == [2 / 3]),
    acc(lambda: certified_accuracy(Y3.astype(float), CERT), None, lambda a: a.tolist() == [2 / 3]),
    # -- certified_accuracy_curve --
    curve(lambda: certified_accuracy_curve(Y3, None), TypeError, NOT_CERT + " NoneType"),
    curve(lambda: certified_accuracy_curve(Y3, {"a": CERT}), TypeError, NOT_CERT + " dict"),
    curve(lambda: certified_accuracy_curve(Y3, None, [0.0]), TypeError, NOT_CERT),
    curve(lambda: certified_accuracy_curve(None, CERT), ValueError, r"y_true must have shape \(3,\)"),
    curve(lambda: certified_accuracy_curve([0, 1, NAN], CERT), ValueError, "y_true must not contain nan"),
    curve(lambda: certified_accuracy_curve(Y3, CERT, [0.5, 0.1]), ValueError,
          r"radii must be a 1-D ascending sequence .*radii\[1\] = 0.1 is smaller than radii\[0\] = 0.5"),
    curve(lambda: certified_accuracy_curve(Y3, CERT, [0.0, -1.0]), ValueError, "radii must be finite and >= 0"),
    curve(lambda: certified_accuracy_curve(Y3, CERT, [0.0, NAN]), ValueError, "radii must be finite and >= 0"),
    curve(lambda: certified_accuracy_curve(Y3, CERT, [0.0, INF]), ValueError, "radii must be finite and >= 0"),
    curve(lambda: certified_accuracy_curve(Y3, CERT, np.zeros((2, 2))), ValueError, r"radii must be .*1-D .*\(2, 2\)"),
    curve(lambda: certified_accuracy_curve(Y3, CERT, []), ValueError, "radii must be a float or a non-empty"),
    curve(lambda: certified_accuracy_curve(Y3, CERT, "fine"), TypeError, "radii must be a float or a 1-D sequence"),
    curve(lambda: certified_accuracy_curve(Y3, CERT, proxy="no"), TypeError, "proxy must be True or False"),
    curve(lambda: certified_accuracy_curve([], EMPTY), None, lambda rc: rc[0].tolist() == [0.0] and np.isnan(rc[1]).all()),
    curve(lambda: certified_accuracy_curve(Y3, CERT, 0.0), None, lambda rc: rc[1].tolist() == [2 / 3]),
    curve(lambda: certified_accuracy_curve(Y3, CERT, [0.1, 0.1]), None, lambda rc: rc[1].tolist() == [2 / 3, 2 / 3]),
    curve(lambda: certified_accuracy_curve(Y3, CERT), None,
          lambda rc: rc[0][:3].tolist() == [0.0, 0.1, 0.5] and rc[1].tolist() == [2 / 3, 2 / 3, 1 / 3, 0.0]),
    # -- certified_accuracy_lower_bound --
    low(lambda: certified_accuracy_lower_bound(Y3, None), TypeError, NOT_CERT + " NoneType"),
    low(lambda: certified_accuracy_lower_bound(Y3, None, alpha=0.01), TypeError, NOT_CERT),
    low(lambda: certified_accuracy_lower_bound(Y3, 0.5, rho="x"), TypeError, NOT_CERT + " float"),
    low(lambda: certified_accuracy_lower_bound(None, CERT), ValueError, r"y_true must have shape \(3,\)"),
    low(lambda: certified_accuracy_lower_bound(Y3, CERT, rho=0.0), ValueError, r"rho must be in the open interval \(0, 1\)"),
    low(lambda: certified_accuracy_lower_bound(Y3, CERT, rho=1.0), ValueError, "rho must be in the open interval"),
    low(lambda: certified_accuracy_lower_bound(Y3, CERT, rho=-0.1), ValueError, "rho must be in the open interval"),
    low(lambda: certified_accuracy_lower_bound(Y3, CERT, rho=NAN), ValueError, "rho must be in the open interval"),
    low(lambda: certified_accuracy_lower_bound(Y3, CERT, rho=INF), ValueError, "rho must be in the open interval"),
    low(lambda: certified_accuracy_lower_bound(Y3, CERT, rho="0.01"), TypeError, "rho must be a float in"),
    low(lambda: certified_accuracy_lower_bound(Y3, CERT, rho=None), TypeError, "rho must be a float in"),
    low(lambda: certified_accuracy_lower_bound(Y3, CERT, rho=[0.01]), TypeError, "rho must be a float in"),
    low(lambda: certified_accuracy_lower_bound(Y3, CERT, rho=True), TypeError, "rho must be a float in"),
    low(lambda: certified_accuracy_lower_bound(Y3, CERT, alpha=0.0), ValueError, "alpha must be in the open interval"),
    low(lambda: certified_accuracy_lower_bound(Y3, CERT, alpha=1.5), ValueError, "alpha must be in the open interval"),
    low(lambda: certified_accuracy_lower_bound(Y3, CERT, alpha=NAN), ValueError, "alpha must be in the open interval"),
    low(lambda: certified_accuracy_lower_bound(Y3, CERT, alpha=-INF), ValueError, "alpha must be in the open interval"),
    low(lambda: certified_accuracy_lower_bound(Y3, CERT, alpha="0.001"), TypeError, "alpha must be a float"),
    low(lambda: certified_accuracy_lower_bound(Y3, CERT, alpha=[0.001]), TypeError, "alpha must be a float"),
    low(lambda: certified_accuracy_lower_bound(Y3, CERT, radii=-1), ValueError, "radii must be finite and >= 0"),
    low(lambda: certified_accuracy_lower_bound(Y3, CERT, radii=[[0.0]]), ValueError, "radii must be"),
    low(lambda: certified_accuracy_lower_bound(Y3, CERT, radii="a"), TypeError, "radii must be a float"),
    low(lambda: certified_accuracy_lower_bound(Y3, CERT, radii=[]), ValueError, "radii must be a float or a non-empty"),
    low(lambda: certified_accuracy_lower_bound(Y3, CERT, proxy="yes"), TypeError, "proxy must be True or False"),
    low(lambda: certified_accuracy_lower_bound([], EMPTY), None, lambda b: np.isnan(b).all()),
    low(lambda: certified_accuracy_lower_bound(Y3, CERT, 0.0, rho=np.float64(0.5), alpha=np.float32(0.001)), None,
        lambda b: b.shape == (1,) and b[0] < 2 / 3),
    low(lambda: certified_accuracy_lower_bound(Y3, CERT, [0.0, 1.0]), None, lambda b: b[1] < 0 < b[0] + 1),
    # -- average_certified_radius --
    acr(lambda: average_certified_radius(Y3, None), TypeError, NOT_CERT + " NoneType"),
    acr(lambda: average_certified_radius(Y3, CERT.radius), TypeError, NOT_CERT + " ndarray"),
    acr(lambda: average_certified_radius(Y3, "results.tsv"), TypeError, NOT_CERT + " str"),
    acr(lambda: average_certified_radius(None, CERT), ValueError, r"y_true must have shape \(3,\)"),
    acr(lambda: average_certified_radius(Y3[:2], CERT), ValueError, r"y_true must have shape \(3,\)"),
    acr(lambda: average_certified_radius(np.zeros((3, 1)), CERT), ValueError, r"y_true must have shape \(3,\)"),
    acr(lambda: average_certified_radius([0, NAN, 1], CERT), ValueError, "y_true must not contain nan"),
    acr(lambda: average_certified_radius(["0", "1", "1"], CERT), TypeError, "y_true holds <U1 labels"),
    acr(lambda: average_certified_radius(Y3, CERT, proxy="yes"), TypeError, "proxy must be True or False"),
    acr(lambda: average_certified_radius(Y3, CERT, True), TypeError, "positional"),
    acr(lambda: average_certified_radius([], EMPTY), None, lambda r: math.isnan(r)),
    acr(lambda: average_certified_radius(Y3, CERT), None, lambda r: r == pytest.approx(0.2)),
    acr(lambda: average_certified_radius(Y3, CERT, proxy=True), None, lambda r: r == pytest.approx(0.2)),
    # -- certified_accuracy_scorer and acr_scorer --
    ca_scorer(lambda: certified_accuracy_scorer(-1), ValueError, "radius must be a finite float >= 0.0"),
    ca_scorer(lambda: certified_accuracy_scorer(NAN), ValueError, "radius must be a finite float >= 0.0"),
    ca_scorer(lambda: certified_accuracy_scorer(INF), ValueError, "radius must be a finite float >= 0.0"),
    ca_scorer(lambda: certified_accuracy_scorer("a"), TypeError, "radius must be a float"),
    ca_scorer(lambda: certified_accuracy_scorer(None), TypeError, "radius must be a float"),
    ca_scorer(lambda: certified_accuracy_scorer([0.25]), TypeError, "radius must be a float"),
    ca_scorer(lambda: certified_accuracy_scorer(True), TypeError, "radius must be a float"),
    ca_scorer(lambda: certified_accuracy_scorer(0.1, proxy="yes"), TypeError, "proxy must be True or False"),
    ca_scorer(lambda: certified_accuracy_scorer(0.1)(None, X[:3], Y[:3]), TypeError,
              "estimator must be a SmoothedClassifier or a Pipeline .*NoneType has no certify"),
    ca_scorer(lambda: certified_accuracy_scorer(0.1)(LogisticRegression().fit(X, Y), X[:3], Y[:3]), TypeError,
              "LogisticRegression has no certify method"),
    ca_scorer(lambda: certified_accuracy_scorer(0.1)(fitted(), X[:3], Y[:2]), ValueError, r"y_true must have shape \(3,\)"),
    ca_scorer(lambda: certified_accuracy_scorer(0.1)(fitted(), X[:3], None), ValueError, r"y_true must have shape \(3,\)"),
    ca_scorer(lambda: certified_accuracy_scorer(0.1)(fitted(), X[:3, :3], Y[:3]), ValueError, "X has 3 features"),
    ca_scorer(lambda: certified_accuracy_scorer(0.1)(SmoothedClassifier(**FAST), X[:3], Y[:3]), NotFittedError,
              "not fitted"),
    ca_scorer(lambda: certified_accuracy_scorer(0)(pipeline(), X[:4], Y[:4]), None, lambda s: 0.0 <= s <= 1.0),
    ca_scorer(lambda: certified_accuracy_scorer(np.float32(0.0), proxy=True)(fitted(), X[:2], Y[:2]), None,
              lambda s: 0.0 <= s <= 1.0),
    a_scorer(lambda: acr_scorer(proxy=None), TypeError, "proxy must be True or False"),
    a_scorer(lambda: acr_scorer(proxy="yes"), TypeError, "proxy must be True or False"),
    a_scorer(lambda: acr_scorer(0.25), TypeError, "positional"),
    a_scorer(lambda: acr_scorer()("model", X[:3], Y[:3]), TypeError, "estimator must be a SmoothedClassifier"),
    a_scorer(lambda: acr_scorer()(fitted(), X[:3], Y[:4]), ValueError, r"y_true must have shape \(3,\)"),
    a_scorer(lambda: acr_scorer()(fitted(), X[:3], np.array(["a", "b", "a"])), TypeError, "y_true holds <U1 labels"),
    a_scorer(lambda: acr_scorer()(fitted(), X[:3], Y[:3]), None, lambda s: s >= 0.0),
    # -- certify_pipeline --
    pipe(lambda: certify_pipeline(None, X[:2]), TypeError, "estimator must be a SmoothedClassifier .*NoneType"),
    pipe(lambda: certify_pipeline("clf", X[:2]), TypeError, "estimator must be a SmoothedClassifier .*str"),
    pipe(lambda: certify_pipeline(SmoothedClassifier, X[:2]), TypeError, "estimator must be a fitted estimator instance"),
    pipe(lambda: certify_pipeline(LogisticRegression().fit(X, Y), X[:2]), TypeError, "LogisticRegression has no certify"),
    pipe(lambda: certify_pipeline(make_pipeline(StandardScaler(), LogisticRegression()).fit(X, Y), X[:2]), TypeError,
         r"the last step \('logisticregression'\) of estimator must be a SmoothedClassifier"),
    pipe(lambda: certify_pipeline(Pipeline([("a", LogisticRegression()), ("s", fitted())]), X[:2]), TypeError,
         r"every step of estimator but the last must be a transformer; step 'a'"),
    pipe(lambda: certify_pipeline(Pipeline([("s", StandardScaler()), ("p", "passthrough")]), X[:2]), TypeError,
         r"the last step \('p'\) of estimator"),
    pipe(lambda: certify_pipeline(Pipeline([]), X[:2]), ValueError, "estimator is a Pipeline without steps"),
    pipe(lambda: certify_pipeline(SmoothedClassifier(**FAST), X[:2]), NotFittedError, "not fitted"),
    pipe(lambda: certify_pipeline(make_pipeline(StandardScaler(), SmoothedClassifier(**FAST)), X[:2]), NotFittedError,
         "not fitted"),
    pipe(lambda: certify_pipeline(fitted(), None), TypeError, "X must be an array-like of inputs"),
    pipe(lambda: certify_pipeline(pipeline(), None), TypeError, "X must be an array-like of inputs"),
    pipe(lambda: certify_pipeline(fitted(), np.full((2, 4), NAN)), ValueError, "Input X contains NaN"),
    pipe(lambda: certify_pipeline(pipeline(), np.full((2, 4), INF)), ValueError, "Input X contains infinity"),
    pipe(lambda: certify_pipeline(fitted(), X[:2, :3]), ValueError, "X has 3 features, but SmoothedClassifier is expecting 4"),
    pipe(lambda: certify_pipeline(pipeline(), X[:2, :3]), ValueError, "X has 3 features"),
    pipe(lambda: certify_pipeline(fitted(), X[0]), ValueError, "Expected 2D array, got 1D array"),
    pipe(lambda: certify_pipeline(fitted(), X[:0]), ValueError, r"0 sample\(s\)"),
    pipe(lambda: certify_pipeline(pipeline(), X[:1]), None, lambda c: len(c) == 1),
    pipe(lambda: certify_pipeline(Pipeline([("none", "passthrough"), ("s", fitted())]), X[:2]), None, lambda c: len(c) == 2),
    pipe(lambda: certify_pipeline(Pipeline([("pre", make_pipeline(StandardScaler()).fit(X)), ("p", pipeline())]), X[:2]),
         None, lambda c: len(c) == 2),
    # -- max_certifiable_radius --
    cap(lambda: max_certifiable_radius("0.25", 1000), TypeError, "sigma must be a positive float"),
    cap(lambda: max_certifiable_radius(None, 1000), TypeError, "sigma must be a positive float"),
    cap(lambda: max_certifiable_radius([0.25], 1000), TypeError, "sigma must be a positive float"),
    cap(lambda: max_certifiable_radius(NAN, 1000), ValueError, "sigma must be a positive finite float"),
    cap(lambda: max_certifiable_radius(INF, 1000), ValueError, "sigma must be a positive finite float"),
    cap(lambda: max_certifiable_radius(-0.25, 1000), ValueError, "sigma must be a positive finite float"),
    cap(lambda: max_certifiable_radius(0.0, 1000), ValueError, "sigma must be a positive finite float"),
    cap(lambda: max_certifiable_radius(0.25, "1000"), TypeError, "n must be an int >= 1, got str"),
    cap(lambda: max_certifiable_radius(0.25, None), TypeError, "n must be an int >= 1, got NoneType"),
    cap(lambda: max_certifiable_radius(0.25, 1e5), TypeError, "n must be an int >= 1, got float"),
    cap(lambda: max_certifiable_radius(0.25, NAN), TypeError, "n must be an int >= 1, got float nan"),
    cap(lambda: max_certifiable_radius(0.25, [1000]), TypeError, "n must be an int"),
    cap(lambda: max_certifiable_radius(0.25, True), TypeError, "n must be an int"),
    cap(lambda: max_certifiable_radius(0.25, 0), ValueError, "n must be an int >= 1, got 0"),
    cap(lambda: max_certifiable_radius(0.25, -5), ValueError, "n must be an int >= 1"),
    cap(lambda: max_certifiable_radius(0.25, 2**60), ValueError, r"n must be an int <= 2\*\*53"),
    cap(lambda: max_certifiable_radius(0.25, 1000, 0.0), ValueError, "alpha must be in the open interval"),
    cap(lambda: max_certifiable_radius(0.25, 1000, 1.0), ValueError, "alpha must be in the open interval"),
    cap(lambda: max_certifiable_radius(0.25, 1000, NAN), ValueError, "alpha must be in the open interval"),
    cap(lambda: max_certifiable_radius(0.25, 1000, "0.001"), TypeError, "alpha must be a float"),
    cap(lambda: max_certifiable_radius(0.25, 1000, None), TypeError, "alpha must be a float"),
    cap(lambda: max_certifiable_radius(0.25, 1000, norm="linf"), ValueError, "norm must be 'l2' .* or 'l1'"),
    cap(lambda: max_certifiable_radius(0.25, 1000, norm=None), ValueError, "norm must be 'l2'"),
    cap(lambda: max_certifiable_radius(0.25, 1000, norm=["l2"]), ValueError, "norm must be 'l2'"),
    cap(lambda: max_certifiable_radius(1e308, 10**5), ValueError, "certifiable radius is not finite in float64"),
    cap(lambda: max_certifiable_radius(0.25, 5), None, lambda r: r == 0.0),
    cap(lambda: max_certifiable_radius(0.25, 1), None, lambda r: r == 0.0),
    cap(lambda: max_certifiable_radius(1, np.int64(100_000)), None, lambda r: round(r, 5) == 3.81146),
    cap(lambda: max_certifiable_radius(np.float32(0.5), 100_000, norm="l1"), None, lambda r: 0.4999 < r < 0.5),
    cap(lambda: max_certifiable_radius(0.25, 2**53), None, lambda r: math.isfinite(r) and r > 1.9),
    # -- min_samples_for_radius --
    samples(lambda: min_samples_for_radius("1.0", 0.25), TypeError, "radius must be a float .*got str"),
    samples(lambda: min_samples_for_radius(np.str_("1.0"), 0.25), TypeError, "radius must be a float"),
    samples(lambda: min_samples_for_radius(None, 0.25), TypeError, "radius must be a float .*got NoneType"),
    samples(lambda: min_samples_for_radius([1.0], 0.25), TypeError, "radius must be a float .*got list"),
    samples(lambda: min_samples_for_radius(True, 0.25), TypeError, "radius must be a float .*got bool"),
    samples(lambda: min_samples_for_radius(NAN, 0.25), ValueError, "radius must be a finite float >= 0.0"),
    samples(lambda: min_samples_for_radius(INF, 0.25), ValueError, "radius must be a finite float >= 0.0"),
    samples(lambda: min_samples_for_radius(-1.0, 0.25), ValueError, "radius must be a finite float >= 0.0"),
    samples(lambda: min_samples_for_radius(1.0, "0.25"), TypeError, "sigma must be a positive float"),
    samples(lambda: min_samples_for_radius(1.0, None), TypeError, "sigma must be a positive float"),
    samples(lambda: min_samples_for_radius(1.0, NAN), ValueError, "sigma must be a positive finite float"),
    samples(lambda: min_samples_for_radius(1.0, -0.25), ValueError, "sigma must be a positive finite float"),
    samples(lambda: min_samples_for_radius(1.0, 0.25, 0.0), ValueError, "alpha must be in the open interval"),
    samples(lambda: min_samples_for_radius(1.0, 0.25, NAN), ValueError, "alpha must be in the open interval"),
    samples(lambda: min_samples_for_radius(1.0, 0.25, "0.001"), TypeError, "alpha must be a float"),
    samples(lambda: min_samples_for_radius(1.0, 0.25, norm="l3"), ValueError, "norm must be 'l2'"),
    samples(lambda: min_samples_for_radius(1.0, 0.25, norm={}), ValueError, "norm must be 'l2'"),
    samples(lambda: min_samples_for_radius(0.25, 0.25, norm="l1"), ValueError,
            "uniform noise never certifies an l1 radius of sigma or more"),
    samples(lambda: min_samples_for_radius(10.0, 0.25), ValueError, r"no number of samples up to 2\*\*53 certifies"),
    samples(lambda: min_samples_for_radius(0.0, 0.25), None, lambda n: n == 10),
    samples(lambda: min_samples_for_radius(np.float64(1.0), np.float32(0.25), np.float64(0.001)), None,
            lambda n: n == 218105),
    samples(lambda: min_samples_for_radius(0.1, 0.25, norm="l1"), None, lambda n: max_certifiable_radius(0.25, n, norm="l1") >= 0.1 > max_certifiable_radius(0.25, n - 1, norm="l1")),
    # -- CertifiedAccuracyDisplay.from_certificates --
    disp(lambda: CertifiedAccuracyDisplay.from_certificates(Y3, None), TypeError, NOT_CERT + " NoneType"),
    disp(lambda: CertifiedAccuracyDisplay.from_certificates(Y3, "cert"), TypeError, NOT_CERT + " str"),
    disp(lambda: CertifiedAccuracyDisplay.from_certificates(Y3, [CERT, None]), TypeError,
         r"certificates\[1\] must be a smoothcert.Certificates"),
    disp(lambda: CertifiedAccuracyDisplay.from_certificates(Y3, {"a": CERT, "b": 3}), TypeError,
         r"certificates\['b'\] must be a smoothcert.Certificates"),
    disp(lambda: CertifiedAccuracyDisplay.from_certificates(Y3, (c for c in [CERT])), TypeError, NOT_CERT + " generator"),
    disp(lambda: CertifiedAccuracyDisplay.from_certificates(Y3, []), ValueError, "certificates is empty"),
    disp(lambda: CertifiedAccuracyDisplay.from_certificates(Y3, {}), ValueError, "certificates is an empty dict"),
    disp(lambda: CertifiedAccuracyDisplay.from_certificates(None, CERT), ValueError, r"y_true must have shape \(3,\)"),
    disp(lambda: CertifiedAccuracyDisplay.from_certificates(Y3[:1], CERT), ValueError, r"y_true must have shape \(3,\)"),
    disp(lambda: CertifiedAccuracyDisplay.from_certificates([0, NAN, 1], CERT), ValueError, "y_true must not contain nan"),
    disp(lambda: CertifiedAccuracyDisplay.from_certificates(Y3, CERT, radii=[0.5, 0.1]), ValueError,
         "radii must be a 1-D ascending sequence"),
    disp(lambda: CertifiedAccuracyDisplay.from_certificates(Y3, CERT, radii=[NAN]), ValueError, "radii must be finite"),
    disp(lambda: CertifiedAccuracyDisplay.from_certificates(Y3, CERT, radii=[[0.0]]), ValueError, "radii must be"),
    disp(lambda: CertifiedAccuracyDisplay.from_certificates(Y3, CERT, radii=[]), ValueError, "radii must be a float or a non-empty"),
    disp(lambda: CertifiedAccuracyDisplay.from_certificates(Y3, CERT, radii="all"), TypeError, "radii must be a float"),
    disp(lambda: CertifiedAccuracyDisplay.from_certificates(Y3, CERT, names="sigma=0.25"), TypeError,
         "names must be None or a list of legend names, one per curve"),
    disp(lambda: CertifiedAccuracyDisplay.from_certificates(Y3, [CERT, CERT], names="ab"), TypeError,
         "names must be None or a list of legend names"),
    disp(lambda: CertifiedAccuracyDisplay.from_certificates(Y3, CERT, names=3), TypeError, "names must be None or a list"),
    disp(lambda: CertifiedAccuracyDisplay.from_certificates(Y3, CERT, names=["a", "b"]), ValueError,
         "names has 2 entries for 1 curves"),
    disp(lambda: CertifiedAccuracyDisplay.from_certificates(Y3, CERT, names=[]), ValueError, "names has 0 entries for 1"),
    disp(lambda: CertifiedAccuracyDisplay.from_certificates(Y3, {"a": CERT}, names=["a"]), ValueError,
         "names must be None when the results are given as a dict"),
    disp(lambda: CertifiedAccuracyDisplay.from_certificates(Y3, CERT, proxy="yes"), TypeError, "proxy must be True or False"),
    disp(lambda: CertifiedAccuracyDisplay.from_certificates(Y3, CERT, envelope="yes"), TypeError,
         "envelope must be True or False"),
    disp(lambda: CertifiedAccuracyDisplay.from_certificates(Y3, CERT, envelope=None), TypeError, "envelope must be True"),
    disp(lambda: CertifiedAccuracyDisplay.from_certificates(Y3, CERT, ax="axes"), TypeError,
         "ax must be a matplotlib Axes or None"),
    disp(lambda: CertifiedAccuracyDisplay.from_certificates(Y3, CERT, colour="red"), AttributeError, "colour"),
    # -- from_estimator and from_files --
    disp(lambda: CertifiedAccuracyDisplay.from_estimator(None, X[:3], Y[:3]), TypeError,
         "estimator must be a SmoothedClassifier .*NoneType has no certify"),
    disp(lambda: CertifiedAccuracyDisplay.from_estimator("clf", X[:3], Y[:3]), TypeError, "estimator must be a SmoothedClassifier"),
    disp(lambda: CertifiedAccuracyDisplay.from_estimator([fitted(), 3], X[:3], Y[:3]), TypeError,
         r"estimator\[1\] must be a SmoothedClassifier"),
    disp(lambda: CertifiedAccuracyDisplay.from_estimator(SmoothedClassifier, X[:3], Y[:3]), TypeError,
         "estimator must be a fitted estimator instance"),
    disp(lambda: CertifiedAccuracyDisplay.from_estimator([], X[:3], Y[:3]), ValueError, "estimator is empty"),
    disp(lambda: CertifiedAccuracyDisplay.from_estimator(SmoothedClassifier(**FAST), X[:3], Y[:3]), NotFittedError,
         "not fitted"),
    disp(lambda: CertifiedAccuracyDisplay.from_estimator(fitted(), X[:3], Y[:2]), ValueError, r"y_true must have shape \(3,\)"),
    disp(lambda: CertifiedAccuracyDisplay.from_estimator(fitted(), X[:3, :3], Y[:3]), ValueError, "X has 3 features"),
    disp(lambda: CertifiedAccuracyDisplay.from_estimator(fitted(), np.full((2, 4), NAN), Y[:2]), ValueError,
         "Input X contains NaN"),
    disp(lambda: CertifiedAccuracyDisplay.from_estimator(fitted(), X[:3], Y[:3], envelope=1), TypeError,
         "envelope must be True or False"),
    disp(lambda: CertifiedAccuracyDisplay.from_estimator(fitted(), X[:3], Y[:3], proxy="no"), TypeError,
         "proxy must be True or False"),
    disp(lambda: CertifiedAccuracyDisplay.from_files(None), TypeError, "paths must be a path .*got NoneType"),
    disp(lambda: CertifiedAccuracyDisplay.from_files(3), TypeError, "paths must be a path .*got int"),
    disp(lambda: CertifiedAccuracyDisplay.from_files(["a.tsv", None]), TypeError, r"paths\[1\] must be a path"),
    disp(lambda: CertifiedAccuracyDisplay.from_files({"a": 0.25}), TypeError, r"paths\['a'\] must be a path"),
    disp(lambda: CertifiedAccuracyDisplay.from_files([]), ValueError, "paths is empty"),
    disp(lambda: CertifiedAccuracyDisplay.from_files({}), ValueError, "paths is an empty dict"),
    disp(lambda: CertifiedAccuracyDisplay.from_files("/nonexistent/sigma_0.25"), FileNotFoundError, "sigma_0.25"),
    # -- the constructor's curves, checked by plot --
    disp(lambda: display(radii=np.array([0.0, 0.5])).plot(), TypeError,
         r"radii must be a list of 1-D arrays, one per curve \(wrap a single curve in a list"),
    disp(lambda: display(accuracies=None).plot(), TypeError, "accuracies must be a list of 1-D arrays"),
    disp(lambda: display(radii=[], accuracies=[]).plot(), ValueError, "radii is empty"),
    disp(lambda: display(radii=[], accuracies=[]).plot(envelope=True), ValueError, "radii is empty"),
    disp(lambda: display(radii=CURVE["radii"] * 2).plot(), ValueError, "radii has 2 curves but accuracies has 1"),
    disp(lambda: display(accuracies=[np.array([0.8])]).plot(), ValueError, r"radii\[0\] has 2 points but accuracies\[0\] has 1"),
    disp(lambda: display(radii=[np.array([0.5, 0.0])]).plot(), ValueError, r"radii\[0\] must be finite, >= 0 and ascending"),
    disp(lambda: display(radii=[np.array([NAN, 0.5])]).plot(), ValueError, r"radii\[0\] must be finite"),
    disp(lambda: display(radii=[np.array([-1.0, 0.5])]).plot(), ValueError, r"radii\[0\] must be finite, >= 0"),
    disp(lambda: display(accuracies=[np.array([2.0, 0.5])]).plot(), ValueError, r"accuracies\[0\] must be at most 1"),
    disp(lambda: display(accuracies=[np.array([INF, 0.5])]).plot(), ValueError, r"accuracies\[0\] must be at most 1"),
    disp(lambda: display(accuracies=[np.array(["a", "b"])]).plot(), TypeError, r"accuracies\[0\] must be a 1-D array of floats"),
    disp(lambda: display(radii=[None], accuracies=[None]).plot(), TypeError, r"radii\[0\] must be a 1-D array of floats"),
    disp(lambda: display(radii=[np.zeros((2, 1))], accuracies=[np.zeros((2, 1))]).plot(), ValueError,
         r"radii\[0\] must be a non-empty 1-D array, got shape \(2, 1\)"),
    disp(lambda: display(radii=[np.zeros(0)], accuracies=[np.zeros(0)]).plot(), ValueError, r"radii\[0\] must be a non-empty"),
    disp(lambda: display(names="curve").plot(), TypeError, "names must be None or a list of legend names"),
    disp(lambda: display(names=["a", "b"]).plot(), ValueError, "names has 2 entries for 1 curves"),
    disp(lambda: display(proxy="yes").plot(), TypeError, "proxy must be True or False"),
    disp(lambda: display().plot(ax="axes"), TypeError, "ax must be a matplotlib Axes or None"),
    disp(lambda: display().plot(envelope="no"), TypeError, "envelope must be True or False"),
    disp(lambda: display().plot(None, True), TypeError, "positional"),
    # -- valid borderline use --
    disp(lambda: CertifiedAccuracyDisplay.from_certificates([], EMPTY), None,
         lambda d: np.isnan(d.lines_[0].get_ydata()).all()),
    disp(lambda: CertifiedAccuracyDisplay.from_certificates([], [EMPTY, EMPTY], envelope=True), None,
         lambda d: len(d.lines_) == 2 and d.envelope_line_ is not None),
    disp(lambda: CertifiedAccuracyDisplay.from_certificates(Y3, CERT, radii=0.0), None,
         lambda d: d.lines_[0].get_xdata().tolist() == [0.0]),
    disp(lambda: CertifiedAccuracyDisplay.from_certificates(Y3, (CERT, CERT), names=("a", "b"), envelope=np.True_), None,
         lambda d: [line.get_label() for line in d.lines_] == ["a", "b"]),
    disp(lambda: CertifiedAccuracyDisplay.from_certificates(Y3, {0.25: CERT}), None, lambda d: d.names == [0.25]),
    disp(lambda: CertifiedAccuracyDisplay.from_certificates(Y3, CERT, ax=plt.subplots()[1], color="red"), None,
         lambda d: d.lines_[0].get_color() == "red"),
    disp(lambda: CertifiedAccuracyDisplay.from_estimator({"pipe": pipeline(), "clf": fitted()}, X[:3], Y[:3]), None,
         lambda d: d.names == ["pipe", "clf"]),
    disp(lambda: display(accuracies=[np.array([NAN, NAN])]).plot(envelope=True), None, lambda d: len(d.lines_) == 1),
    disp(lambda: display(accuracies=[np.array([0.1, -0.05])]).plot(), None, lambda d: len(d.lines_) == 1),  # a lower bound
    disp(lambda: display(radii=[[0, 1]], accuracies=[[1, 0]]).plot(), None, lambda d: d.ax_.get_xlabel() == "radius"),
]


test_fuzz = fuzz_test(CASES)


@pytest.mark.parametrize("shape", [(0, 3), (0, 1, 8, 8), (0,)])
def test_scale_summary_of_no_inputs(shape):
    low, mean_log = scale_summary(np.ones(shape, np.float32))
    assert low.shape == mean_log.shape == (0,)
    assert low.dtype == mean_log.dtype == np.float64


def test_scale_summary_unchanged_on_rows():
    scales = np.array([[[1.0, 4.0]], [[2.0, 2.0]]], np.float32)
    low, mean_log = scale_summary(scales)
    np.testing.assert_array_equal(low, [1.0, 2.0])
    np.testing.assert_allclose(np.exp(mean_log), [2.0, 2.0])


def test_refused_display_draws_nothing():
    _, ax = plt.subplots()
    with pytest.raises(TypeError, match="envelope"):
        CertifiedAccuracyDisplay.from_certificates(Y3, CERT, ax=ax, envelope="yes")
    assert not ax.lines
