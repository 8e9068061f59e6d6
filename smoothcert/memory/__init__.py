"""Memory-based certification: stored certified regions that keep data-dependent certificates sound.

Alfarra et al. (2022), "Data Dependent Randomized Smoothing", and Eiras et al. (2022), "ANCER",
store every certified region and resolve each new certificate against them, so that regions of
different labels never overlap and an input inside a stored region is answered with that region's
label. This package implements the resolver of ``THEORY.md`` 2.4 and 3.6 (containment first, then
overlap; exact geometry from :mod:`smoothcert.geometry`), not the authors' script.

Its private modules: ``_transformer`` (:class:`CertificateMemory`, the scikit-learn face),
``_resolver`` (candidates, gauges, containment and overlap), ``_store`` (entries, label codes,
k-d trees, transactions) and ``_fileformat`` (the ``.npz`` file, version :data:`FORMAT_VERSION`).
"""

from ._fileformat import FORMAT_VERSION
from ._transformer import CertificateMemory

__all__ = ["CertificateMemory", "FORMAT_VERSION"]
