"""The scikit-learn face of the certificate memory: :class:`CertificateMemory`."""

import math
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._io import check_path
from .._validation import check_probability
from ..certificates import Certificates
from ._fileformat import reading_memory, store_from_file, write_memory
from ._resolver import Resolver
from ._store import RegionStore, storage_dtype

__all__ = ["CertificateMemory"]

_BLOCK_ELEMENTS = 1 << 17  # entries not yet in a tree are scanned: at most ~2 blocks of this many floats
_EMPTY = "This CertificateMemory is empty: store certificates with partial_fit or fit first."


class CertificateMemory(TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):
    """Stores certified regions and resolves new certificates against them, in order.

    A certificate computed with an input-dependent noise scale ``sigma(x)`` speaks about the smoothed
    classifier at that scale, not about ``x -> g_{sigma(x)}(x)``: nearby inputs get other scales and
    possibly other labels (``THEORY.md`` 6.5). Memory-based certification (Alfarra et al., 2022;
    Eiras et al., 2022) makes the *stateful* classifier consistent. Each certificate, in the order
    of the rows, is resolved against the stored regions of *other* labels (``THEORY.md`` 2.4, 3.6):

    1. **containment**: if its input lies strictly inside stored regions, the deepest one ``j``
       decides: with ``inside_rule="adopt"`` the row takes ``j``'s label and the largest l_p ball
       around the input that the gauge bound ``(1 - N_j(x - x_j)) min(axes_j)`` guarantees inside
       ``S_j``; with ``"abstain"`` it abstains;
    2. otherwise, **overlap**: if its region's interior meets stored regions (exact tests for
       balls, ellipsoids and cross-polytopes), it is replaced by the l_p ball of radius
       ``min(inscribed radius, distance to the nearest of them)``, which touches them at most;
    3. the resolved region is stored (abstentions only with ``store_abstain=True``, as points).

    Regions of the same label may overlap freely. A stored region with an empty interior (an
    abstention stored with ``store_abstain=True``, or a zero radius) is a point: later regions of
    other labels are shrunk so that they do not contain it, so asking that input again gives the
    same answer. Radii derived from distances are rounded down by a relative ``1e-10`` and
    near-tangent pairs are treated as overlapping, so rounding can never create an overlap.

    **What is promised.** After every step, stored regions of different labels have disjoint
    interiors, and each stored region lies inside a region certified (with probability
    ``1 - alpha``) for a fixed-scale smoothed classifier. With ``inside_rule="adopt"`` every query
    that comes *after* a stored region and lies strictly inside it is answered with that region's
    label, whatever its own certificate said (``"abstain"``: that label or an abstention). The
    promise is about the stateful classifier and later queries only: an input never queried before
    its perturbed version is not protected, and results depend on the order of the queries
    (a different order gives different, equally valid, certificates; report the order). The
    statistical part holds jointly for all ``T`` stored entries with probability at least
    ``1 - T alpha`` (union bound, ``THEORY.md`` 5; see ``total_alpha_``). Keep one memory per model,
    norm and noise seed: its regions are statements about that classifier.

    **Methods.** :meth:`transform` resolves without storing (read-only). :meth:`partial_fit`
    resolves and stores, row by row, so later rows of the same call see earlier ones.
    :meth:`fit_transform` (and :meth:`fit`) first empties the memory, then does the same and
    returns the resolved certificates. :meth:`resolve` is the general form. A call that fails
    (for example on a full memory) stores nothing.

    **Resolved certificates.** Rows keep their own ``p_lower`` (what the Monte Carlo measured);
    ``label``, ``class_index``, ``gap``, ``radius``, ``sigma``, ``log_volume``, ``proxy_radius``,
    ``abstained`` describe the resolved region and ``memory_entry`` the stored entry that decided
    the row (``-1``: unchanged). When a region is replaced by an l_p ball of radius ``r``, the row
    describes that ball exactly: an isotropic row keeps its ``sigma`` and gets ``gap = r / sigma``;
    an anisotropic row gets the constant per-dimension ``sigma = min(sigma)`` and
    ``gap = r / min(sigma)``, so ``radius`` and ``proxy_radius`` both equal ``r`` and
    ``log_volume`` is the ball's.

    Parameters
    ----------
    inside_rule : {"adopt", "abstain"}, default="adopt"
        Answer for a row strictly inside a stored region of another label: that region's label
        (keeps every earlier promise) or an abstention (RANCER's choice; weaker promise).
    store_abstain : bool, default=False
        Also store abstentions, as points: later regions of other labels are then shrunk so they
        do not contain an abstained input (so asking it again still abstains), as in the DDS script.
    max_size : int or None, default=None
        Largest number of stored entries. A call that would store more raises ``ValueError`` and
        stores nothing: evicting entries would silently break the promise of earlier answers.
    algorithm : {"auto", "kd_tree", "brute"}, default="auto"
        Candidate search. ``"kd_tree"``: :class:`scipy.spatial.cKDTree` trees over blocks of stored
        centres (merged as entries grow, so each entry is re-indexed ``O(log n)`` times), queried
        with radius ``R + max_j R_j`` (circumscribed l_p balls, so a superset of the regions that
        can matter); entries not yet in a tree are scanned. ``"brute"``: a float64 scan of all
        entries. ``"auto"``: the trees from 2048 entries on. All give identical results; see
        ``benchmarks/README.md`` ("Memory") for timings.

    Attributes
    ----------
    norm_ : {"l2", "l1"}
        Norm of the stored regions (from the first stored certificates).
    input_shape_ : tuple of int
        Shape of one input.
    n_entries_ : int
        Number of stored entries (also ``len(memory)``).
    total_alpha_ : float
        Sum of ``alpha`` over stored certified entries: the union bound on the probability that
        any stored region is wrong.

    See Also
    --------
    SmoothedClassifier : applies a memory inside ``certify`` and ``predict`` (``memory=``).
    smoothcert.geometry : the exact overlap and distance computations.

    Notes
    -----
    Storage per entry: the input (float32 when the inputs are float32), the label, a few float64
    numbers and, for anisotropic regions kept as such, the per-dimension scales; distances are
    computed in float64. ``set_output(transform="pandas")`` makes :meth:`transform` and
    :meth:`fit_transform` return :meth:`Certificates.to_frame`; :meth:`resolve` always returns
    :class:`Certificates`. See :meth:`save` for the file format.

    Examples
    --------
    >>> import numpy as np
    >>> from smoothcert import Certificates, CertificateMemory
    >>> def balls(centers, labels, radii):
    ...     n = len(labels)
    ...     return Certificates.from_arrays(label=np.array(labels), class_index=np.array(labels),
    ...         p_lower=np.full(n, 0.99), gap=np.array(radii), radius=np.array(radii),
    ...         sigma=np.ones(n, np.float32), norm="l2", log_volume=np.zeros(n),
    ...         proxy_radius=np.array(radii), abstained=np.zeros(n, bool),
    ...         center=np.array(centers, np.float32), alpha=0.001)
    >>> memory = CertificateMemory()
    >>> out = memory.fit_transform(balls([[0, 0], [3, 0], [0.5, 0]], [0, 1, 1], [2.0, 2.0, 1.0]))
    >>> out.label.tolist(), out.radius.round(6).tolist(), out.memory_entry.tolist()
    ([0, 1, 0], [2.0, 1.0, 1.5], [-1, 0, 0])
    >>> len(memory)
    3
    """

    def __init__(self, inside_rule="adopt", store_abstain=False, max_size=None, algorithm="auto"):
        self.inside_rule = inside_rule
        self.store_abstain = store_abstain
        self.max_size = max_size
        self.algorithm = algorithm

    # -- parameters and state ----------------------------------------------------------------

    def _check_params(self):
        if self.inside_rule not in ("adopt", "abstain"):
            raise ValueError(f"inside_rule must be 'adopt' or 'abstain', got {self.inside_rule!r}.")
        if not isinstance(self.store_abstain, (bool, np.bool_)):
            raise TypeError(f"store_abstain must be True or False, got {type(self.store_abstain).__name__}.")
        if self.max_size is not None:
            if isinstance(self.max_size, bool) or not isinstance(self.max_size, Integral):
                raise TypeError(f"max_size must be None or an int >= 1, got {type(self.max_size).__name__}.")
            if self.max_size < 1:
                raise ValueError(f"max_size must be None or an int >= 1, got {self.max_size}.")
        if self.algorithm not in ("auto", "kd_tree", "brute"):
            raise ValueError(f"algorithm must be 'auto', 'kd_tree' or 'brute', got {self.algorithm!r}.")

    def __sklearn_is_fitted__(self):
        return hasattr(self, "_store")

    def __len__(self):
        return len(self._store) if self.__sklearn_is_fitted__() else 0

    @property
    def norm_(self):
        check_is_fitted(self)
        return self._store.norm

    @property
    def input_shape_(self):
        check_is_fitted(self)
        return self._store.input_shape

    @property
    def n_entries_(self):
        check_is_fitted(self)
        return len(self._store)

    @property
    def total_alpha_(self):
        check_is_fitted(self)
        e = self._store.entries
        return float(e.alpha[: e.n].sum())

    @property
    def _index(self):
        """The k-d trees over the stored centres: a cache, ``None`` until built (and in copies)."""
        return self._store.index if self.__sklearn_is_fitted__() else None

    def set_output(self, *, transform=None):
        """Choose what :meth:`transform` and :meth:`fit_transform` return.

        Parameters
        ----------
        transform : {"default", "pandas"} or None, default=None
            ``"default"``: :class:`~smoothcert.Certificates`; ``"pandas"``: their
            :meth:`~smoothcert.Certificates.to_frame` (one row per input, ``center`` left out);
            ``None``: unchanged. :meth:`resolve` always returns ``Certificates``.

        Returns
        -------
        self : CertificateMemory

        Examples
        --------
        >>> from smoothcert import CertificateMemory
        >>> CertificateMemory().set_output(transform="pandas").inside_rule
        'adopt'
        """
        if transform is None:
            return self
        if transform not in ("default", "pandas"):
            raise ValueError(
                f"transform must be 'default' (Certificates) or 'pandas' (a DataFrame), got {transform!r}."
            )
        if not hasattr(self, "_sklearn_output_config"):
            self._sklearn_output_config = {}
        self._sklearn_output_config["transform"] = transform
        return self

    def _wrap(self, certificates):
        config = getattr(self, "_sklearn_output_config", {}).get("transform", "default")
        return certificates.to_frame() if config == "pandas" else certificates

    # -- scikit-learn face -------------------------------------------------------------------

    def fit(self, certificates, y=None):
        """Empty the memory, then resolve and store ``certificates`` row by row.

        Parameters
        ----------
        certificates : Certificates
            Certificates to store, in query order (e.g. from :meth:`SmoothedClassifier.certify`).
        y : None
            Ignored.

        Returns
        -------
        self : CertificateMemory
        """
        self.fit_transform(certificates)
        return self

    def partial_fit(self, certificates, y=None):
        """Resolve ``certificates`` row by row against the memory and store them (appending).

        Parameters
        ----------
        certificates : Certificates
            Certificates in query order.
        y : None
            Ignored.

        Returns
        -------
        self : CertificateMemory
        """
        self.resolve(certificates, store=True)
        return self

    def fit_transform(self, certificates, y=None):
        """Empty the memory, resolve and store ``certificates`` row by row, return the resolved rows.

        Later rows are resolved against the earlier ones (the memory's order semantics); this is
        not ``fit(X).transform(X)``.

        Parameters
        ----------
        certificates : Certificates
            Certificates in query order.
        y : None
            Ignored.

        Returns
        -------
        resolved : Certificates or pandas.DataFrame
            See :meth:`set_output`.
        """
        self._check_params()
        self._check_certificates(certificates, against_memory=False)
        return self._wrap(self._resolve(certificates, store=True, new_store=True))

    def transform(self, certificates):
        """Resolve ``certificates`` against the stored regions without storing them (read-only).

        Each row is resolved against the memory as it is, independently of the other rows.

        Parameters
        ----------
        certificates : Certificates

        Returns
        -------
        resolved : Certificates or pandas.DataFrame
            See :meth:`set_output`.
        """
        return self._wrap(self.resolve(certificates, store=False))

    # -- resolution ---------------------------------------------------------------------------

    def _check_certificates(self, certificates, against_memory=True):
        if not isinstance(certificates, Certificates):
            raise TypeError(
                "certificates must be a smoothcert.Certificates (e.g. from SmoothedClassifier.certify), "
                f"got {type(certificates).__name__}."
            )
        cert = certificates
        if cert.norm not in ("l2", "l1"):
            raise ValueError(f"certificates.norm must be 'l2' or 'l1', got {cert.norm!r}.")
        if np.ndim(cert.label) != 1:
            raise ValueError(f"certificates.label must be a 1-D array, got shape {np.shape(cert.label)}.")
        n = len(cert.label)
        arrays = {}
        for name in ("center", "sigma", "gap", "p_lower", "log_volume", "proxy_radius", "class_index"):
            arrays[name] = np.asarray(getattr(cert, name))
            if arrays[name].dtype.kind not in "iuf":
                raise TypeError(f"certificates.{name} must hold real numbers, got dtype {arrays[name].dtype}.")
        center, sigma = arrays["center"], arrays["sigma"]
        if center.ndim < 2 or len(center) != n or math.prod(center.shape[1:]) == 0:
            raise ValueError(f"certificates.center must have shape ({n}, *input_shape) with every size >= 1, got {center.shape}.")
        if sigma.shape not in ((n,), center.shape):
            raise ValueError(
                f"certificates.sigma must have shape ({n},) or {center.shape} (like center), got {sigma.shape}."
            )
        if not np.isfinite(center).all():
            raise ValueError("certificates.center must be finite.")
        if not (np.isfinite(sigma).all() and (sigma > 0).all()):
            raise ValueError("certificates.sigma must be positive and finite.")
        gap = arrays["gap"]
        if gap.shape != (n,) or not (np.isfinite(gap).all() and (gap >= 0).all()):
            raise ValueError(f"certificates.gap must be {n} finite values >= 0.")
        for name in ("p_lower", "log_volume", "proxy_radius", "class_index"):
            if arrays[name].shape != (n,):
                raise ValueError(f"certificates.{name} must have shape ({n},), got {arrays[name].shape}.")
        if np.shape(cert.abstained) != (n,):
            raise ValueError(f"certificates.abstained must have shape ({n},), got {np.shape(cert.abstained)}.")
        # Stored entries carry alpha into total_alpha_ and into saved files.
        check_probability(cert.alpha, "certificates.alpha")
        if against_memory and self.__sklearn_is_fitted__():
            if cert.norm != self.norm_:
                raise ValueError(
                    f"certificates have norm {cert.norm!r} but this memory stores {self.norm_!r} regions; "
                    "use one memory per norm."
                )
            if center.shape[1:] != self.input_shape_:
                raise ValueError(
                    f"certificates have inputs of shape {center.shape[1:]}, but this memory stores inputs of "
                    f"shape {self.input_shape_}."
                )

    def resolve(self, certificates, *, store=False):
        """Resolve certificates against the memory, in row order; optionally store them.

        Parameters
        ----------
        certificates : Certificates
            Certificates in query order (``norm`` and input shape must match the memory's).
        store : bool, default=False
            ``True``: store each resolved row before resolving the next (what :meth:`partial_fit`
            does; an unfitted memory starts empty). ``False``: read-only, like :meth:`transform`.

        Returns
        -------
        resolved : Certificates
            Same rows, resolved (see the class documentation); ``memory_entry`` names the
            deciding entry, ``-1`` where the row is unchanged.

        Raises
        ------
        ValueError
            When storing would exceed ``max_size``; nothing from the call is stored then.

        Examples
        --------
        >>> import numpy as np
        >>> from smoothcert import Certificates, CertificateMemory
        >>> cert = Certificates.from_arrays(label=np.array([0, 1]), class_index=np.array([0, 1]),
        ...     p_lower=np.full(2, 0.9), gap=np.array([1.0, 1.0]), radius=np.array([1.0, 1.0]),
        ...     sigma=np.ones(2, np.float32), norm="l1", log_volume=np.zeros(2),
        ...     proxy_radius=np.ones(2), abstained=np.zeros(2, bool),
        ...     center=np.array([[0.0, 0.0], [1.5, 0.0]], np.float32), alpha=0.001)
        >>> out = CertificateMemory().resolve(cert, store=True)
        >>> out.radius.round(6).tolist()  # the second l1 ball shrinks to touch the first
        [1.0, 0.5]
        """
        self._check_params()
        if not isinstance(store, (bool, np.bool_)):
            raise TypeError(f"store must be True or False, got {type(store).__name__} {store!r}.")
        self._check_certificates(certificates)
        if not store:
            check_is_fitted(self, msg=_EMPTY)
        return self._resolve(certificates, store, new_store=not self.__sklearn_is_fitted__())

    def _resolve(self, certificates, store, new_store):
        """Resolve into the memory's store, or into a new, empty one that replaces it (``new_store``).

        A call that fails leaves the memory as it was: the store's transaction drops what the call
        stored, and a new store (the memory's during the call: the resolver's block size reads it)
        gives way to the previous one, or to none.
        """
        previous = self.__dict__.get("_store")
        center_dtype, scale_dtype = storage_dtype(certificates.center), storage_dtype(certificates.sigma)
        if new_store:
            self._store = RegionStore.empty(certificates.norm, np.shape(certificates.center)[1:], center_dtype, scale_dtype)
        try:
            with self._store.transaction():
                if store:
                    self._store.entries.promote(center_dtype, scale_dtype)
                return self._resolver().resolve(certificates, store)
        except BaseException:
            if previous is None:
                del self._store
            else:
                self._store = previous
            raise

    def _resolver(self):
        return Resolver(
            self._store, inside_rule=self.inside_rule, store_abstain=self.store_abstain, max_size=self.max_size,
            algorithm=self.algorithm, block=self._block_size(),
        )

    def _block_size(self):
        return int(np.clip(_BLOCK_ELEMENTS // math.prod(self.input_shape_), 128, 2048))

    def lookup(self, X, default=None):
        """The stored region that decides each point: the deepest one strictly containing it.

        This is the answer an input gets from the memory whatever its own result (``"adopt"``);
        :meth:`SmoothedClassifier.predict` uses it. Nothing is stored.

        Parameters
        ----------
        X : array-like of shape (n_points, *input_shape)
            Points.
        default : array-like of shape (n_points,) or None, default=None
            Labels for points outside every stored region (``None``: ``None``).

        Returns
        -------
        entry : ndarray of int64, shape (n_points,)
            Index of the deciding stored entry, ``-1`` where no stored region contains the point.
        label : ndarray of shape (n_points,)
            The entry's label where ``entry >= 0``, else ``default``.

        Examples
        --------
        >>> import numpy as np
        >>> from smoothcert import Certificates, CertificateMemory
        >>> cert = Certificates.from_arrays(label=np.array(["a"]), class_index=np.array([0]),
        ...     p_lower=np.array([0.9]), gap=np.array([1.0]), radius=np.array([1.0]),
        ...     sigma=np.ones(1, np.float32), norm="l2", log_volume=np.zeros(1),
        ...     proxy_radius=np.ones(1), abstained=np.zeros(1, bool),
        ...     center=np.zeros((1, 2), np.float32), alpha=0.001)
        >>> entry, label = CertificateMemory().fit(cert).lookup([[0.5, 0.0], [2.0, 0.0]], default=["b", "b"])
        >>> entry.tolist(), label.tolist()
        ([0, -1], ['a', 'b'])
        """
        check_is_fitted(self, msg=_EMPTY)
        try:
            X = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"X must be an array of numbers of shape (n_points, *{self.input_shape_}).") from None
        if X.ndim < 2 or X.shape[1:] != self.input_shape_:
            raise ValueError(f"X must have shape (n_points, *{self.input_shape_}), got {X.shape}.")
        n = len(X)
        X = X.reshape(n, math.prod(self.input_shape_))  # not -1: n may be 0
        if not np.isfinite(X).all():
            raise ValueError("X must be finite.")
        try:
            label = np.array([None] * n, dtype=object) if default is None else np.asarray(default)
        except ValueError:  # ragged nested sequences
            raise ValueError(f"default must be None or an array of shape ({n},) of labels.") from None
        if label.shape != (n,):
            raise ValueError(f"default must have shape ({n},), got {label.shape}.")
        return self._resolver().lookup(X, label)

    def regions(self):
        """The stored regions, as arrays (for inspection and plots).

        Returns
        -------
        regions : dict
            ``center`` (n_entries, *input_shape); ``label`` (object array; ``None`` for stored
            abstentions); ``class_index``; ``axes`` (n_entries, d) float64 semi-axes (l2) or
            half-diagonals (l1), all equal for balls and ``0`` for points; ``radius`` (the
            inscribed l_p radius); ``source`` (deciding entry, ``-1``); ``alpha``.

        Examples
        --------
        >>> import numpy as np
        >>> from smoothcert import Certificates, CertificateMemory
        >>> cert = Certificates.from_arrays(label=np.array([3]), class_index=np.array([0]),
        ...     p_lower=np.array([0.9]), gap=np.array([2.0]), radius=np.array([1.0]),
        ...     sigma=np.array([[0.5, 1.0]], np.float32), norm="l2", log_volume=np.zeros(1),
        ...     proxy_radius=np.ones(1), abstained=np.zeros(1, bool),
        ...     center=np.zeros((1, 2), np.float32), alpha=0.001)
        >>> CertificateMemory().fit(cert).regions()["axes"].tolist()
        [[1.0, 2.0]]
        """
        check_is_fitted(self)
        return self._store.regions()

    # -- persistence --------------------------------------------------------------------------

    def save(self, path):
        """Write the memory to ``path`` atomically (a temporary file, then ``os.replace``).

        A crash while writing leaves any previous file at ``path`` intact. The format (version
        :data:`~smoothcert.memory.FORMAT_VERSION`) is an uncompressed ``.npz`` archive (read with
        ``numpy.load(path, allow_pickle=False)``) holding:

        * ``header``: UTF-8 JSON bytes (uint8) with ``format`` (``"smoothcert.CertificateMemory"``),
          ``version``, ``params`` (the constructor parameters), ``norm``, ``input_shape``,
          ``n_entries`` and ``labels`` (the label of each label code, JSON scalars);
        * per entry: ``centers`` (n, d), ``code`` (int32 label code, ``-1`` abstention),
          ``class_index``, ``rmin`` / ``rmax`` (inscribed / circumscribed l_p radii, float64, ``0`` for
          points), ``gap`` (float64, anisotropic entries), ``aniso`` (bool), ``source``, ``alpha``;
        * ``scales`` (m, d): per-dimension scales of the ``m`` anisotropic entries, in order; their
          region is ``gap * scales`` (semi-axes or half-diagonals), every other entry is a ball of
          radius ``rmin`` (a point when ``0``).

        The zip container checksums every array, so corruption is detected on :meth:`load`.

        Parameters
        ----------
        path : str or os.PathLike
            Destination, used as given (no extension is added).

        Raises
        ------
        ValueError
            If a stored label is not an int, float, string or bool (JSON cannot hold it), or a
            parameter is invalid (:meth:`load` would refuse the file).

        Examples
        --------
        >>> import os, tempfile
        >>> import numpy as np
        >>> from smoothcert import Certificates, CertificateMemory
        >>> cert = Certificates.from_arrays(label=np.array([1]), class_index=np.array([1]),
        ...     p_lower=np.array([0.9]), gap=np.array([1.0]), radius=np.array([0.5]),
        ...     sigma=np.array([0.5], np.float32), norm="l2", log_volume=np.zeros(1),
        ...     proxy_radius=np.array([0.5]), abstained=np.zeros(1, bool),
        ...     center=np.zeros((1, 2), np.float32), alpha=0.001)
        >>> path = os.path.join(tempfile.mkdtemp(), "memory.npz")
        >>> CertificateMemory().fit(cert).save(path)
        >>> len(CertificateMemory.load(path))
        1
        """
        path = check_path(path)
        check_is_fitted(self, msg="This CertificateMemory is empty: store certificates before saving.")
        self._check_params()  # load refuses invalid parameters: never write them
        write_memory(path, self._store, self.get_params())

    @classmethod
    def load(cls, path):
        """Read a memory written by :meth:`save`.

        Every array is checked, not only the zip checksums: a file with a negative, non-finite or
        inconsistent region (``rmin``, ``rmax``, ``gap``, ``scales``, ...), a wrong shape or dtype, or
        an unknown label code is refused, since loading it would void the memory's promise.

        Parameters
        ----------
        path : str or os.PathLike

        Returns
        -------
        memory : CertificateMemory
            With the saved parameters and entries; append with :meth:`partial_fit` and save again.

        Raises
        ------
        ValueError
            If the file is truncated, corrupt, not a memory file, of another format version, or holds
            invalid entries (the message names the file and the problem, e.g. the field).
        FileNotFoundError
            If ``path`` does not exist (other errors opening the file, such as ``PermissionError``,
            are raised as they are).

        Examples
        --------
        >>> from smoothcert import CertificateMemory
        >>> CertificateMemory.load("no-such-file.npz")
        Traceback (most recent call last):
        ...
        FileNotFoundError: ...
        """
        with reading_memory(check_path(path), cls._get_param_names()) as (header, arrays):
            memory = cls(**header["params"])
            memory._check_params()
            memory._store = store_from_file(header, arrays)
        return memory
