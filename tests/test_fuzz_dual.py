"""Table-driven fuzz test of DualSigma: every parameter, selector and expert given a wrong type, a wrong
value, a non-finite value or a wrong shape gets an error naming it (convention: ``test_fuzz_training.py``)."""

import warnings

import numpy as np
import torch
from fuzz_cases import fuzz_test
from sklearn.exceptions import NotFittedError

from smoothcert import Certificates, DualSigma, SmoothedClassifier
from smoothcert.models import DualModel
from smoothcert.noise import GaussianNoise

NAN = float("nan")
X = np.random.default_rng(0).normal(size=(16, 2)).astype(np.float32)
Y = np.arange(16) % 2
LINEAR = torch.nn.Linear(2, 2)
NAN_LINEAR = torch.nn.Linear(2, 2)
with torch.no_grad():
    NAN_LINEAR.weight.fill_(NAN)


class BreaksAfterCheck(torch.nn.Module):
    """Passes the fit-time check (its first forward pass) and then returns ``kind`` of output on the noisy
    copies, so the error comes from the sampling loop, which must name the network too."""

    def __init__(self, kind, width=2):
        super().__init__()
        self.linear = torch.nn.Linear(2, width)
        self.kind = kind
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        out = self.linear(x)
        if self.calls == 1:
            return out
        return out * NAN if self.kind == "nan" else torch.cat([out, out], dim=1)


def level_of_sign(X):
    return (X[:, 0] > 0).long()


def check(**params):
    return DualSigma(**params).base_scale()


def recorded(call):
    """Run ``call``, returning the messages of the warnings it emitted."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    return [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


def pretrained(selector=level_of_sign, experts=None, levels=(0.25, 0.5), selector_epochs=60, **params):
    sigma = DualSigma(levels=levels, selector=selector, experts=experts, selector_epochs=selector_epochs)
    return SmoothedClassifier(module=LINEAR, classes=[0, 1], sigma=sigma, n=100, n_predict=100, random_state=0, **params)


def certificates(**dual):
    return Certificates.from_arrays(
        label=np.array([1]), class_index=np.array([1]), p_lower=np.array([0.9]), gap=np.array([1.0]),
        radius=np.array([0.25]), sigma=np.array([0.25]), norm="l2", log_volume=np.array([0.0]),
        proxy_radius=np.array([0.25]), abstained=np.array([False]), center=np.zeros((1, 2)), alpha=0.001, **dual,
    )


CASES = [
    # -- levels --
    ("DualSigma", lambda: check(levels=()), ValueError, "at least one noise level"),
    ("DualSigma", lambda: check(levels="0.25"), TypeError, "levels must be a sequence of positive floats"),
    ("DualSigma", lambda: check(levels=0.25), TypeError, "levels must be a sequence of positive floats"),
    ("DualSigma", lambda: check(levels=(0.25, -1.0)), ValueError, r"levels\[1\] must be a positive finite float"),
    ("DualSigma", lambda: check(levels=(0.25, NAN)), ValueError, r"levels\[1\] must be a positive finite float"),
    ("DualSigma", lambda: check(levels=(0.25, float("inf"))), ValueError, r"levels\[1\] must be a positive finite"),
    ("DualSigma", lambda: check(levels=(True, 0.5)), TypeError, r"levels\[0\] must be a positive float"),
    ("DualSigma", lambda: check(levels=(0.25, 0.25)), ValueError, "levels must be distinct"),
    ("DualSigma", lambda: check(levels={0.25, 0.5}), TypeError, r"levels must be an ordered sequence .*got a set"),
    ("DualSigma", lambda: check(levels=[0.5, 0.25]), None, lambda v: v == 0.25),
    ("DualSigma", lambda: check(levels=(0.25, 1e-50)), ValueError, r"levels\[1\] must be a positive finite .* in float32"),
    ("DualSigma", lambda: check(levels=(0.25, 1e39)), ValueError, r"levels\[1\] must be a positive finite .* in float32"),
    ("DualSigma", lambda: check(levels=(0.25, 0.25 + 1e-12)), ValueError, "levels must be distinct in float32"),
    ("DualSigma", lambda: check(selector_sigma=1e-45), ValueError, "selector_sigma must be a positive finite .* in float32"),
    # -- scalars --
    ("DualSigma", lambda: check(selector_sigma=0.0), ValueError, "selector_sigma must be a positive finite float"),
    ("DualSigma", lambda: check(selector_sigma="big"), TypeError, "selector_sigma must be a positive float"),
    ("DualSigma", lambda: check(alpha_split=0.0), ValueError, "alpha_split must be a finite float > 0.0 and < 1.0"),
    ("DualSigma", lambda: check(alpha_split=1.0), ValueError, "alpha_split must be a finite float > 0.0 and < 1.0"),
    ("DualSigma", lambda: check(alpha_split=NAN), ValueError, "alpha_split"),
    ("DualSigma", lambda: check(alpha_split="half"), TypeError, "alpha_split must be a float"),
    ("DualSigma", lambda: check(selector_epochs=-1), ValueError, "selector_epochs must be an int >= 0"),
    ("DualSigma", lambda: check(selector_epochs=1.5), TypeError, "selector_epochs must be an int >= 0"),
    ("DualSigma", lambda: check(selector_lr=0.0), ValueError, "selector_lr must be a finite float > 0"),
    ("DualSigma", lambda: check(n_label=0), ValueError, "n_label must be an int >= 1"),
    ("DualSigma", lambda: check(consistency=-1.0), ValueError, "consistency must be a finite float >= 0"),
    ("DualSigma", lambda: check(consistency=NAN), ValueError, "consistency must be a finite float >= 0"),
    ("DualSigma", lambda: check(temperature=0.0), ValueError, "temperature must be a finite float > 0"),
    ("DualSigma", lambda: DualSigma(levels=(0.25, 0.5)).split_alpha(0.01), None, lambda v: v == (0.005, 0.005)),
    # -- experts and selector --
    ("DualSigma", lambda: check(experts=[LINEAR]), TypeError, "experts must be None or a sequence of 3"),
    ("DualSigma", lambda: check(experts=LINEAR), TypeError, "experts must be None or a sequence of 3"),
    ("DualSigma", lambda: check(experts=[LINEAR, LINEAR, "net"]), TypeError, "experts must be None or a sequence"),
    ("DualSigma", lambda: check(selector=42), TypeError, "selector must be None, a torch.nn.Module class or instance"),
    ("DualSigma", lambda: recorded(lambda: check(selector=level_of_sign, selector_epochs=5)), None,
     lambda m: any("['selector_epochs'] only train a selector module" in s for s in m)),
    ("DualSigma", lambda: recorded(lambda: check(selector=level_of_sign)), None, lambda m: m == []),
    ("DualSigma", lambda: DualSigma().scales(LINEAR, torch.zeros(2, 2), noise=GaussianNoise(), keys=[0, 1],
                                             batch_size=8), TypeError, "needs the DualModel of a fitted"),
    ("DualSigma", lambda: DualSigma().scales(DualModel([LINEAR], LINEAR), np.zeros((2, 2)), noise=GaussianNoise(),
                                             keys=[0, 1], batch_size=8), TypeError, "X as a torch.Tensor"),
    # -- through the estimator --
    ("DualSigma", lambda: pretrained(selector=lambda X: torch.full((len(X),), 2)).certify(X), ValueError,
     r"level indices from 2 to 2; they must be in \[0, 2\)"),
    ("DualSigma", lambda: pretrained(selector=lambda X: X[:, 0]).certify(X), ValueError, "integer level indices"),
    ("DualSigma", lambda: pretrained(selector=lambda X: X[:1, 0].long()).certify(X), ValueError,
     "map a batch of 2 inputs to 2 integer level indices"),
    ("DualSigma", lambda: pretrained(selector=torch.nn.Linear(2, 3)).fit(X, Y), ValueError,
     r"DualSigma selector outputs shape \(2, 3\) for 2 inputs, but there are 2 levels"),
    ("DualSigma", lambda: pretrained(selector=None).certify(X), NotFittedError, "selector must be trained"),
    ("DualSigma", lambda: pretrained(experts=[LINEAR, torch.nn.Linear(2, 3)]).certify(X), ValueError,
     r"module outputs shape \(2, 3\) for 2 inputs, but y has 2 classes"),
    ("DualSigma", lambda: pretrained(experts=[LINEAR, torch.nn.Linear(3, 2)]).certify(X), ValueError,
     "module failed on a batch of inputs"),
    ("DualSigma", lambda: pretrained(experts=[LINEAR, NAN_LINEAR]).certify(X), ValueError,
     r"DualSigma expert 1 \(level 0.5\) module produced non-finite scores"),
    ("DualSigma", lambda: pretrained(experts=[torch.nn.Linear(3, 2), LINEAR]).certify(X), ValueError,
     r"DualSigma expert 0 \(level 0.25\) module failed on a batch"),
    ("DualSigma", lambda: SmoothedClassifier(module=LINEAR, classes=[0, 1], sigma=DualSigma(
        levels=(0.25, 0.5), selector=NAN_LINEAR, selector_epochs=0), n=100, random_state=0).certify(X), ValueError,
     "DualSigma selector produced non-finite scores"),
    ("DualSigma", lambda: pretrained(experts=[LINEAR, BreaksAfterCheck("nan")]).certify(X), ValueError,
     r"DualSigma expert 1 \(level 0.5\) module produced non-finite scores \(NaN or inf\) on noisy copies"),
    ("DualSigma", lambda: pretrained(experts=[BreaksAfterCheck("wide"), LINEAR]).certify(X), ValueError,
     r"DualSigma expert 0 \(level 0.25\) module must return scores of shape \(batch, n_classes\)"),
    ("DualSigma", lambda: pretrained(selector=BreaksAfterCheck("nan"), selector_epochs=0).certify(X), ValueError,
     r"DualSigma selector produced non-finite scores \(NaN or inf\) on noisy copies"),
    ("DualSigma", lambda: pretrained(selector=BreaksAfterCheck("wide"), selector_epochs=0).predict(X), ValueError,
     r"DualSigma selector must return scores of shape \(batch, n_classes\) = \(\d+, 2\)"),
    ("DualSigma", lambda: pretrained(selector=lambda X: torch.zeros(len(X), dtype=torch.long), levels=(0.25,))
     .certify(X).radius_sigma, None, lambda v: np.isinf(v).all()),
    ("DualSigma", lambda: pretrained().predict(X, abstain=True), None, lambda v: v.shape == (16,)),
    ("DualSigma", lambda: DualModel([LINEAR], LINEAR)(torch.zeros(1, 2)), TypeError, "no forward pass of its own"),
    # -- the certificates' two radii --
    ("Certificates", lambda: certificates(radius_sigma=np.array([-1.0])), ValueError,
     r"radius_sigma must be nan \(unknown\) or >= 0"),
    ("Certificates", lambda: certificates(radius_class=np.array([np.inf])), ValueError,
     r"radius_class must be nan \(unknown\) or finite and >= 0"),
    ("Certificates", lambda: certificates(radius_sigma=np.array(["far"])), TypeError, "radius_sigma must hold real"),
    ("Certificates", lambda: certificates(radius_sigma=np.ones(2)), ValueError, r"radius_sigma must have shape \(1,\)"),
    ("Certificates", lambda: certificates(radius_sigma=np.array([np.inf]), radius_class=np.array([0.25])), None,
     lambda c: c.dual and "radius_sigma" in c.to_frame()),
    ("Certificates", lambda: certificates(), None, lambda c: not c.dual and "radius_sigma" not in c.to_frame()),
    ("Certificates", lambda: certificates(radius_class=np.array([0.25])), ValueError,
     "radius_class is given without radius_sigma"),
    ("Certificates", lambda: certificates(radius_sigma=np.array([0.1]), radius_class=np.array([0.25])), ValueError,
     r"radius=0.25 above min\(radius_sigma=0.1, radius_class=0.25\)"),
    ("Certificates", lambda: certificates(radius_sigma=np.array([0.0]), radius_class=np.array([0.25])), ValueError,
     "row 0 is certified but has radius_sigma=0.0"),
    ("Certificates", lambda: certificates(radius_sigma=np.array([np.nan]), radius_class=np.array([0.25])), ValueError,
     "known together"),
    ("Certificates", lambda: Certificates.concatenate([certificates(radius_sigma=np.array([np.inf]),
                                                                    radius_class=np.array([0.25])), certificates()]),
     ValueError, "cannot concatenate DualSigma certificates"),
]

test_fuzz = fuzz_test(CASES)
