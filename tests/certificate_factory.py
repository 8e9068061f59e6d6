"""Hand-made Certificates with consistent fields, shared by the metrics, results and plotting tests."""

import numpy as np

from smoothcert import Certificates
from smoothcert.noise import get_noise


def make_certificates(gap, label, *, sigma=0.5, norm="l2", center=None, alpha=0.001, abstain_label=-1):
    """Certificates whose radius, proxy radius and volume follow from ``gap`` and ``sigma``.

    ``label == abstain_label`` marks abstentions (their gap is forced to 0). ``sigma`` is a scalar,
    one value per row, or ``(n, *input_shape)`` per-dimension scales.
    """
    label = np.asarray(label)
    n = len(label)
    abstained = label == abstain_label
    gap = np.where(abstained, 0.0, np.broadcast_to(np.asarray(gap, dtype=np.float64), (n,)))
    sigma = np.asarray(sigma, dtype=np.float32)
    if sigma.ndim == 0:
        sigma = np.full(n, sigma, dtype=np.float32)
    center = np.zeros((n, *sigma.shape[1:]) if sigma.ndim > 1 else (n, 2), np.float32) if center is None else center
    center = np.asarray(center, dtype=np.float32)
    noise = get_noise(norm)
    return Certificates.from_arrays(
        label=label,
        class_index=np.where(abstained, -1, 0),
        p_lower=np.where(abstained, 0.4, 0.9),
        gap=gap,
        radius=noise.radius(gap, sigma),
        sigma=sigma,
        norm=norm,
        log_volume=noise.log_volume(gap, sigma, int(np.prod(center.shape[1:]))),
        proxy_radius=noise.proxy_radius(gap, sigma),
        abstained=abstained,
        center=center,
        alpha=alpha,
        abstain_label=abstain_label,
    )


def with_radius(radius, label, **kwargs):
    """Isotropic certificates with the given worst-case radii (``gap = radius / sigma``)."""
    sigma = kwargs.pop("sigma", 0.5)
    return make_certificates(np.asarray(radius, dtype=np.float64) / sigma, label, sigma=sigma, **kwargs)
