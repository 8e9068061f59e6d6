"""Building the base classifier and the skorch net that trains it, from a SmoothedClassifier's parameters.

Plain functions over the estimator (like :mod:`sklearn.utils.validation`'s): the estimator stays the
scikit-learn face, and how a module is assembled (a class with ``module__*`` parameters, a copied
instance, a skorch net's module, the default MLP, behind the normalisation layer) lives here.
"""

import copy
import inspect

import numpy as np
import torch
from sklearn.base import clone
from skorch import NeuralNet

from .denoising import denoised
from .models import MLP, Normalize
from .sampling import check_scores
from .training import NoiseAugmentedNet

__all__ = ["build_module", "check_module_output", "normalized", "skorch_net", "train_net"]

# NoiseAugmentedNet parameters that SmoothedClassifier sets itself when module is a skorch net.
_NET_OWNED = {
    "module", "norm", "sigma", "recipe", "update_sigma_every", "update_batch_size", "classes", "device", "verbose"
}
# SmoothedClassifier's training settings that a skorch net given as module brings itself.
_NET_SETTINGS = ("lr", "train_batch_size", "optimizer", "criterion")


def normalized(module, normalize):
    """``module`` behind the normalisation layer when ``normalize`` is set (noise comes before it)."""
    return module if normalize is None else torch.nn.Sequential(Normalize(*normalize), module)


def build_module(est, n_classes, net=None, sigma=None):
    """A fresh base classifier from ``est.module`` (copied or built), behind the normalisation layer
    and, when ``est.denoiser`` is set, behind a frozen copy of the denoiser
    (:class:`~smoothcert.denoising.Denoised`: ``module(normalize(denoiser(x)))``).

    Parameters
    ----------
    est : SmoothedClassifier
        Its ``input_shape_`` is set.
    n_classes : int
    net : skorch.NeuralNet or None
        ``est``'s skorch net (see :func:`skorch_net`) when ``module`` is one.
    sigma : SigmaOptimizer or None, default=None
        The strategy the module is trained with (a DualSigma expert's level), else ``est.sigma_``:
        its base scale is the level a direct call tells a sigma-conditioned denoiser.
    """
    module_kwargs = {k[len("module__") :]: v for k, v in est._routed_params("module__").items()}
    if net is not None:
        # An initialised net's trained module (copied), else the module of our clone of the net.
        if getattr(est.module, "initialized_", False):
            module = copy.deepcopy(est.module.module_)
        else:
            module = net.initialized_instance(net.module, net.get_params_for("module"))
    elif est.module is None or (inspect.isclass(est.module) and issubclass(est.module, torch.nn.Module)):
        build = MLP if est.module is None else est.module
        args = (int(np.prod(est.input_shape_)), n_classes) if est.module is None else ()
        try:
            module = build(*args, **module_kwargs)
        except Exception as exc:
            raise ValueError(
                f"could not build {build.__name__} from module__* parameters {module_kwargs} "
                f"({type(exc).__name__}: {exc}); fix those parameters."
            ) from exc
    elif isinstance(est.module, torch.nn.Module):
        if module_kwargs:
            raise ValueError("module__* parameters need module to be a class, not an instance.")
        module = copy.deepcopy(est.module)
    else:
        raise TypeError(
            f"module must be a torch.nn.Module instance or class, a skorch NeuralNet, or None, got "
            f"{type(est.module).__name__}."
        )
    # A denoiser goes in front of the normalisation layer: it sees the noisy inputs in the units of X.
    # Sampling, training and the sigma optimisation tell a sigma-conditioned denoiser each copy's level;
    # the strategy's base scale is the level of a direct call.
    strategy = getattr(est, "sigma_", None) if sigma is None else sigma
    level = None if strategy is None else float(strategy.base_scale())
    return denoised(normalized(module, est.normalize), getattr(est, "denoiser", None), level)


def skorch_net(est):
    """A clone of the skorch net given as ``est.module``, with the ``module__*`` parameters set on it
    (``get_params(deep=True)`` lists the net's parameters as ``module__<name>``, so that is how
    ``GridSearchCV`` sets them); ``None`` when ``module`` is not a skorch net."""
    if not isinstance(est.module, NeuralNet):
        return None
    defaults = {k: p.default for k, p in inspect.signature(type(est).__init__).parameters.items()}
    ignored = [k for k in _NET_SETTINGS if getattr(est, k) != defaults[k]]
    if est.max_epochs not in (0, defaults["max_epochs"]):
        ignored.append("max_epochs")
    if ignored:
        # The net's own settings train it: a value set here would be silently unused.
        raise ValueError(
            f"module is a skorch net, which carries its own training settings; set {ignored} on the net (or as "
            f"module__<name>, e.g. module__lr) instead of on {type(est).__name__} (max_epochs=0 keeps an "
            f"initialised net as it is)."
        )
    routed = est._routed_params()
    others = sorted(k for k in routed if not k.startswith("module__"))
    if others:
        raise ValueError(
            f"module is a skorch net, which carries its own settings; set {others} on the net (or as "
            f"module__<name>) instead of on {type(est).__name__}."
        )
    overrides = {k[len("module__") :]: v for k, v in routed.items()}
    architecture = sorted("module__" + k for k in overrides if k.startswith("module__"))
    if architecture and getattr(est.module, "initialized_", False):
        raise ValueError(
            f"module is an initialised skorch net, whose trained module is used as it is; {architecture} "
            f"cannot change it (pass an uninitialised net to build a new module)."
        )
    return clone(est.module).set_params(**overrides)


def _make_net(est, n_classes, training, sigma):
    net = skorch_net(est)
    if net is not None:
        # The user's training settings; the module, the smoothing, device and verbosity are ours.
        settings = {
            k: v
            for k, v in net.get_params(deep=False).items()
            if not k.startswith("_") and k.split("__", 1)[0] not in _NET_OWNED
        }
        if est.max_epochs == 0:
            settings["max_epochs"] = 0
    else:
        settings = dict(
            criterion=est.criterion,
            optimizer=est.optimizer,
            lr=est.lr,
            max_epochs=est.max_epochs,
            batch_size=est.train_batch_size,
            train_split=None,
            **{k: v for k, v in est._routed_params().items() if not k.startswith("module__")},
        )
    return NoiseAugmentedNet(
        module=build_module(est, n_classes, net, sigma),
        norm=est.norm,
        sigma=sigma,
        recipe=training,
        update_sigma_every=est.update_sigma_every,
        update_batch_size=None if est.batch_size == "auto" else est.batch_size,
        classes=np.arange(n_classes),
        device=est.device_,
        verbose=est.verbose,
        **settings,
    )


def train_net(est, X, y, training, sigma):
    """A NoiseAugmentedNet trained on ``(X, y)`` with the ``sigma`` strategy (``max_epochs=0``: initialised only).

    Parameters
    ----------
    est : SmoothedClassifier
        Its ``classes_``, ``input_shape_`` and ``device_`` are set.
    X : ndarray of shape (n_samples, *input_shape)
    y : ndarray of int, shape (n_samples,)
        Output indices.
    training : TrainingRecipe
    sigma : SigmaOptimizer
    """
    net = _make_net(est, len(est.classes_), training, sigma).initialize()
    check_module_output(net.module_, X[:2], len(est.classes_), est.device_)  # before training, for a clear error
    return net.partial_fit(X, y)


def check_module_output(module, X_few, n_classes, device, role="module", outputs="classes"):
    """One forward pass on a few rows: the module's failures named here, not deep in training.

    Parameters
    ----------
    module : torch.nn.Module
    X_few : ndarray of shape (n_few, *input_shape)
    n_classes : int
        The expected width of the output (classes, or a selector's levels).
    device : torch.device
    role : str, default="module"
        How the error messages name the module (e.g. ``"DualSigma selector"`` or
        ``"DualSigma expert 0 (level 0.25) module"``).
    outputs : {"classes", "levels"}, default="classes"
        What the outputs stand for (a DualSigma selector's are levels), for the messages.
    """
    try:
        with torch.inference_mode():
            out = module.eval()(torch.as_tensor(X_few, device=device))
    except Exception as exc:
        raise ValueError(
            f"{role} failed on a batch of inputs of shape {tuple(X_few.shape)} ({type(exc).__name__}: {exc}); "
            f"it must map (batch, *{tuple(X_few.shape[1:])}) inputs to (batch, {n_classes}) scores."
        ) from exc
    if isinstance(out, torch.Tensor) and out.dim() == 2 and out.shape[0] == len(X_few) and out.shape[1] != n_classes:
        expected = f"there are {n_classes} levels" if outputs == "levels" else f"y has {n_classes} classes"
        raise ValueError(
            f"{role} outputs shape {tuple(out.shape)} for {len(X_few)} inputs, but {expected}; "
            f"the {role} must output (batch, {n_classes}) scores."
        )
    check_scores(out, len(X_few), n_classes, role)
    if not bool(torch.isfinite(out).all()):
        raise ValueError(f"{role} produced non-finite scores (NaN or inf) on training inputs; check its weights and normalize.")
