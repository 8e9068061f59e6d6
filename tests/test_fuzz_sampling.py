"""Fuzz cases of the sampling modes and their simulation (conventions: ``test_fuzz_estimator.py``)."""

import numpy as np
from fuzz_cases import fuzz_test

from smoothcert import SmoothedClassifier, simulate_certify

X = np.random.default_rng(0).normal(size=(20, 2)).astype(np.float32)
Y = np.arange(20) % 2
P = np.full(10, 0.95)


def certify(**params):
    clf = SmoothedClassifier(**{"n0": 10, "n": 2000, "max_epochs": 0, "random_state": 0, "device": "cpu", **params})
    return clf.fit(X, Y).certify(X[:3])


CASES = [
    ("SmoothedClassifier", lambda: certify(sampling="bayes"), ValueError, "sampling must be one of"),
    ("SmoothedClassifier", lambda: certify(sampling=None), ValueError, "sampling must be one of"),
    ("SmoothedClassifier", lambda: certify(sampling="sequential", radii=(float("nan"),)), ValueError, "radii must be"),
    ("SmoothedClassifier", lambda: certify(sampling="sequential", radii=()), ValueError, "radii must be"),
    ("SmoothedClassifier", lambda: certify(sampling="sequential", radii="a"), TypeError, "radii must be"),
    ("SmoothedClassifier", lambda: certify(sampling="sequential", radii=("0.5",)), TypeError, "not strings or booleans"),
    ("SmoothedClassifier", lambda: certify(sampling="sequential", radii=(True, 0.5)), TypeError, "not strings or booleans"),
    ("SmoothedClassifier", lambda: certify(sampling="sequential", looks=5), ValueError, "looks must be 'doubling'"),
    ("SmoothedClassifier", lambda: certify(sampling="sequential", looks=(1.5, 2000)), TypeError, "looks must be"),
    ("SmoothedClassifier", lambda: certify(sampling="sequential", looks=(0, 2000)), ValueError, "looks must be increasing"),
    ("SmoothedClassifier", lambda: certify(sampling="adaptive", radius_tolerance=float("inf")), ValueError,
     "radius_tolerance must be a finite float"),
    ("SmoothedClassifier", lambda: certify(sampling="adaptive", radius_tolerance="0.1"), TypeError, "radius_tolerance"),
    ("SmoothedClassifier", lambda: certify(sampling="adaptive", pilot=2.5), TypeError, "pilot must be an int"),
    # valid borderline settings
    ("SmoothedClassifier", lambda: certify(sampling="sequential", looks=(2000,)), None,
     lambda c: (c.n_used == 2010).all() and (c.stop_reason == "max_samples").all()),
    ("SmoothedClassifier", lambda: certify(sampling="sequential", radii=(0.0, 100.0)), None, lambda c: len(c) == 3),
    ("SmoothedClassifier", lambda: certify(sampling="adaptive", pilot=1, n0=100), None, lambda c: (c.n_used >= 1).all()),
    # -- simulate_certify --
    ("simulate_certify", lambda: simulate_certify([1.5], sigma=0.25), ValueError, "p_a must be"),
    ("simulate_certify", lambda: simulate_certify([[0.9]], sigma=0.25), ValueError, "p_a must be a 1-D"),
    ("simulate_certify", lambda: simulate_certify([np.nan], sigma=0.25), ValueError, "p_a must be"),
    ("simulate_certify", lambda: simulate_certify(P, sigma=0.0), ValueError, "sigma must be a finite float > 0"),
    ("simulate_certify", lambda: simulate_certify(P, sigma="a"), TypeError, "sigma must be a float"),
    ("simulate_certify", lambda: simulate_certify(P, sigma=0.25, sampling="x"), ValueError, "sampling must be one of"),
    ("simulate_certify", lambda: simulate_certify(P, sigma=0.25, n=0), ValueError, "n must be an int >= 1"),
    ("simulate_certify", lambda: simulate_certify(P, sigma=0.25, n0=1.5), TypeError, "n0 must be an int"),
    ("simulate_certify", lambda: simulate_certify(P, sigma=0.25, alpha=1.0), ValueError, "alpha must be in the open"),
    ("simulate_certify", lambda: simulate_certify(P, sigma=0.25, block=0), ValueError, "block must be an int >= 1"),
    ("simulate_certify", lambda: simulate_certify(P, sigma=0.25, norm="linf"), ValueError, "norm must be 'l2'"),
    ("simulate_certify", lambda: simulate_certify(P, sigma=0.25, pilot=0, sampling="adaptive"), ValueError,
     "pilot must be an int >= 1"),
    ("simulate_certify", lambda: simulate_certify(P, sigma=0.25, sampling="sequential", looks=(5,)), ValueError,
     "ending at n=100000"),
    ("simulate_certify", lambda: simulate_certify([], sigma=0.25), None, lambda r: r["n_used"].shape == (0,)),
    ("simulate_certify", lambda: simulate_certify(P, sigma=0.25, n=1000, random_state=0), None,
     lambda r: (r["n_used"] == 1100).all() and (r["radius"] > 0).all()),
]


test_fuzz = fuzz_test(CASES)
