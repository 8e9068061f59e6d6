"""Table-driven fuzz test of the results files and the certificate memory: every argument of
``read_results``, ``write_results``, ``certified_accuracy_table``, ``CertificationResults`` and
``CertificateMemory`` given a wrong type, a wrong value, a non-finite value, a wrong shape or
nothing gets an error naming it; damaged files get the documented ``ValueError``.

Convention shared by every ``tests/test_fuzz_*.py``: ``CASES`` holds ``(public name, zero-argument
callable, exception class, regex the message must match)``; valid borderline input has ``None`` as
the exception and a predicate on the result instead of a regex (``test_fuzz_coverage.py`` checks
that every name of ``smoothcert.__all__`` has cases).
"""

import json
import os
import tempfile
from dataclasses import replace

import numpy as np
from certificate_factory import make_certificates, with_radius
from fuzz_cases import fuzz_test
from sklearn.exceptions import NotFittedError

from smoothcert import CertificateMemory, CertificationResults, certified_accuracy_table, read_results, write_results

HEADER = "idx\tlabel\tpredict\tradius\tcorrect\ttime\n"
GOOD_ROWS = "0\t3\t3\t0.5\t1\t0:00:01.5\n1\t2\t-1\t0.0\t0\tnan\n"
BAD_FILES = {
    "nan radius": HEADER + "0\t3\t3\tnan\t1\t1.0\n",
    "negative radius": HEADER + "0\t3\t3\t-0.5\t1\t1.0\n",
    "infinite radius": HEADER + "0\t3\t3\tinf\t1\t1.0\n",
    "text radius": HEADER + "0\t3\t3\tfar\t1\t1.0\n",
    "empty radius": HEADER + "0\t3\t3\t\t1\t1.0\n",
    "negative proxy": "idx\tlabel\tpredict\tradius\tradius_proxy\tcorrect\ttime\n0\t3\t3\t0.5\t-1\t1\t1.0\n",
    "nan proxy": "idx\tlabel\tpredict\tradius\tradius_proxy\tcorrect\ttime\n0\t3\t3\t0.5\tnan\t1\t1.0\n",
    "zero sigma": "idx\tlabel\tpredict\tradius\tcorrect\tsigma\ttime\n0\t3\t3\t0.5\t1\t0\t1.0\n",
    "infinite min_sigma": "idx\tlabel\tpredict\tradius\tcorrect\tmin_sigma\ttime\n0\t3\t3\t0.5\t1\tinf\t1.0\n",
    "negative time": HEADER + "0\t3\t3\t0.5\t1\t-2.0\n",
    "negative timedelta": HEADER + "0\t3\t3\t0.5\t1\t-1 day, 0:00:01\n",
    "infinite time": HEADER + "0\t3\t3\t0.5\t1\tinf\n",
    "text time": HEADER + "0\t3\t3\t0.5\t1\tsoon\n",
    "negative idx": HEADER + "-1\t3\t3\t0.5\t1\t1.0\n",
    "float idx": HEADER + "1.5\t3\t3\t0.5\t1\t1.0\n",
    "huge idx": HEADER + "99999999999999999999\t3\t3\t0.5\t1\t1.0\n",
    "empty label": HEADER + "0\t\t3\t0.5\t0\t1.0\n",
    "empty predict": HEADER + "0\t3\t \t0.5\t0\t1.0\n",
    "bad correct": HEADER + "0\t3\t3\t0.5\tyes\t1.0\n",
    "inconsistent": HEADER + "0\t3\t4\t0.5\t1\t1.0\n",
    "missing column": "idx\tlabel\tpredict\tcorrect\ttime\n0\t3\t3\t1\t1.0\n",
    "repeated column": "idx\tlabel\tpredict\tradius\tradius\tcorrect\ttime\n0\t3\t3\t0.5\t0.6\t1\t1.0\n",
    "short row": HEADER + "0\t3\t3\t0.5\t1\n",
    "long row": HEADER + "0\t3\t3\t0.5\t1\t1.0\textra\n",
    "empty": "",
    "blank lines": "\n \n\t\n",
}


def file_with(text, name="results.tsv"):
    path = os.path.join(tempfile.mkdtemp(), name)
    with open(path, "w", newline="") as f:
        f.write(text)
    return path


def bad_file(kind):
    return file_with(BAD_FILES[kind])


def binary_file(data):
    path = os.path.join(tempfile.mkdtemp(), "file.bin")
    with open(path, "wb") as f:
        f.write(data)
    return path


def destination(name="out.tsv"):
    return os.path.join(tempfile.mkdtemp(), name)


def cert(**changes):
    """Two isotropic certificates, the second abstained."""
    return replace(with_radius([0.5, 0.0], [3, -1]), **changes)


def written(certificates=None, y_true=(3, 2), **kwargs):
    """Write ``certificates`` and read the file back."""
    path = destination()
    write_results(path, cert() if certificates is None else certificates, np.asarray(y_true), **kwargs)
    return read_results(path)


def results(**changes):
    """The arguments of a valid two-row CertificationResults, with ``changes``."""
    fields = dict(
        index=np.array([0, 1]),
        y_true=np.array([3, 2]),
        label=np.array([3, -1]),
        radius=np.array([0.5, 0.0]),
        correct=np.array([True, False]),
        abstained=np.array([False, True]),
        proxy_radius=np.array([0.5, 0.0]),
        time=np.array([1.5, np.nan]),
    )
    return CertificationResults(**{**fields, **changes})


def table(results_=None, radii=(0.0, 0.5), **kwargs):
    return certified_accuracy_table({"a": results()} if results_ is None else results_, radii, **kwargs)


def regions_cert(**changes):
    """Three anisotropic certificates (an abstention among them) in 2-D."""
    base = make_certificates(1.0, [0, 1, -1], sigma=[[0.5, 1.0], [0.3, 0.6], [1.0, 1.0]], center=[[0, 0], [3, 0], [5, 5]])
    return replace(base, **{"class_index": np.array([0, 1, -1]), **changes})


def memory(**params):
    return CertificateMemory(store_abstain=True, **params).fit(regions_cert())


def saved(memory_):
    path = destination("memory.npz")
    memory_.save(path)
    return path


def memory_file(change):
    """A saved memory whose arrays (and JSON header, as a dict) went through ``change``."""
    with np.load(saved(memory())) as data:
        arrays = {k: data[k] for k in data.files}
    header = json.loads(bytes(arrays["header"]).decode())
    arrays = change(arrays, header)
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    path = destination("changed.npz")
    np.savez(path, **arrays)
    return path


def entry(name, index, value):
    def change(arrays, header):
        column = arrays[name].copy()
        column[index] = value
        return {**arrays, name: column}

    return change


def header_field(key, value):
    def change(arrays, header):
        header[key] = value
        return arrays

    return change


def damaged(position):
    data = bytearray(open(saved(memory()), "rb").read())
    data[position % len(data)] ^= 0xFF
    return binary_file(bytes(data))


def same_regions(a, b):
    ra, rb = a.regions(), b.regions()
    return (
        len(a) == len(b)
        and all(np.array_equal(ra[k], rb[k]) for k in ra if k != "label")
        and (ra["label"].tolist() == rb["label"].tolist())
    )


def with_companion(record=None, text=None, rows=GOOD_ROWS, header=HEADER):
    """A valid results file beside a provenance companion holding ``record`` (or the raw ``text``)."""
    path = file_with(header + rows)
    with open(path + ".provenance.json", "w") as f:
        f.write(json.dumps(record) if text is None else text)
    return path


N_USED_HEADER = "idx\tlabel\tpredict\tradius\tcorrect\tn_used\ttime\n"
N_USED_ROWS = "0\t3\t3\t0.5\t1\t1100\t1.0\n"
DUAL_HEADER = "idx\tlabel\tpredict\tradius\tcorrect\tradius_sigma\tradius_class\ttime\n"


def dual_results(**changes):
    return results(**{"radius_sigma": np.array([0.6, 0.0]), "radius_class": np.array([0.5, 0.0]), **changes})


def read_case(thunk, exc, match):
    return ("read_results", thunk, exc, match)


def write_case(thunk, exc, match):
    return ("write_results", thunk, exc, match)


def table_case(thunk, exc, match):
    return ("certified_accuracy_table", thunk, exc, match)


def results_case(thunk, exc, match):
    return ("CertificationResults", thunk, exc, match)


def memory_case(thunk, exc, match):
    return ("CertificateMemory", thunk, exc, match)


def bad_file_cases():
    expected = {
        "nan radius": "line 2: radius must be finite and >= 0, got 'nan'",
        "negative radius": "line 2: radius must be finite and >= 0, got '-0.5'",
        "infinite radius": "line 2: radius must be finite",
        "text radius": "line 2: the radius column holds 'far', not a number",
        "empty radius": "the radius column holds '', not a number",
        "negative proxy": "radius_proxy must be finite and >= 0",
        "nan proxy": "radius_proxy must be finite and >= 0",
        "zero sigma": "sigma must be finite and > 0",
        "infinite min_sigma": "min_sigma must be finite and > 0",
        "negative time": "line 2: time must be nan \\(unknown\\) or finite seconds >= 0",
        "negative timedelta": "time must be nan",
        "infinite time": "time must be nan",
        "text time": "the time column holds 'soon'",
        "negative idx": "idx must be an int >= 0",
        "float idx": "idx must be an int >= 0",
        "huge idx": "idx must be an int >= 0",
        "empty label": "line 2: the label column is empty",
        "empty predict": "line 2: the predict column is empty",
        "bad correct": "the correct column holds 'yes'; expected 1 or 0",
        "inconsistent": "line 2, idx 0: correct=1 but label=3 and predict=4",
        "missing column": "lacks the column\\(s\\) \\['radius'\\]",
        "repeated column": "names the column\\(s\\) \\['radius'\\] more than once",
        "short row": "line 2: 5 fields, but the header has 6",
        "long row": "line 2: 7 fields, but the header has 6",
        "empty": "is empty",
        "blank lines": "is empty",
    }
    assert set(expected) == set(BAD_FILES)
    return [read_case(lambda kind=kind: read_results(bad_file(kind)), ValueError, match) for kind, match in expected.items()]


CASES = [
    # -- read_results: the path -----------------------------------------------------------------
    read_case(lambda: read_results(3), TypeError, "path must be a str or os.PathLike"),  # not a file descriptor
    read_case(lambda: read_results(None), TypeError, "path must be a str"),
    read_case(lambda: read_results(""), ValueError, "path must be a non-empty"),
    read_case(lambda: read_results(os.path.join(tempfile.mkdtemp(), "missing.tsv")), FileNotFoundError, "missing.tsv"),
    read_case(lambda: read_results(tempfile.mkdtemp()), IsADirectoryError, "Is a directory"),
    read_case(lambda: read_results(binary_file(b"idx\tlabel\xff\xfe\x00\n")), ValueError, "is not a results file"),
    read_case(lambda: read_results(saved(memory())), ValueError, "is not a results file"),
    # -- read_results: the file's content --------------------------------------------------------
    *bad_file_cases(),
    # -- read_results: the provenance companion, checked against the caller and the file -----------
    read_case(lambda: read_results(with_companion({"alpha": 0.001}), alpha=0.01), ValueError,
              r"given alpha=0.01, but .* records alpha=0.001"),
    read_case(lambda: read_results(with_companion({"alpha": -1})), ValueError, r"records alpha=-1; it must be a number in"),
    read_case(lambda: read_results(with_companion({"alpha": True})), ValueError, "records alpha=True; it must be a number"),
    read_case(lambda: read_results(with_companion({"n": "np.int64(1500)"})), ValueError, "records n='np.int64.1500.'"),
    read_case(lambda: read_results(with_companion({"n0": 100, "n": 2000, "sampling": "fixed"}, rows=N_USED_ROWS,
                                                  header=N_USED_HEADER)), ValueError,
              r"row 0 has n_used=1100, but .* records n0=100 and n=2000 .*equal to 2100"),
    read_case(lambda: read_results(with_companion({"n0": 100, "n": 500, "sampling": "sequential"}, rows=N_USED_ROWS,
                                                  header=N_USED_HEADER)), ValueError, "must be at most 600"),
    read_case(lambda: read_results(with_companion({"alpha_sigma": 0.0005, "alpha_c": 0.0005})), ValueError,
              "records a DualSigma run .* no radius_sigma and radius_class columns"),
    read_case(lambda: read_results(with_companion({"sampling": "fixed"}, rows="0\t3\t3\t0.5\t1\t0.6\t0.5\t1.0\n",
                                                  header=DUAL_HEADER)), ValueError, "records a run of another strategy"),
    read_case(lambda: read_results(with_companion(text="[" * 100_000)), ValueError, "unreadable: it is nested too deeply"),
    read_case(lambda: read_results(file_with("idx\tlabel\tpredict\tradius\tcorrect\tradius_class\ttime\n"
                                             "0\t3\t3\t0.5\t1\t0.5\t1.0\n")), ValueError,
              "radius_class is given without radius_sigma"),
    read_case(lambda: read_results(file_with(DUAL_HEADER + "0\t3\t3\t0.5\t1\t0.4\t0.5\t1.0\n")), ValueError,
              r"radius=0.5 above min\(radius_sigma=0.4"),
    read_case(lambda: read_results(file_with(DUAL_HEADER + "0\t3\t3\t0.5\t1\t0.0\t0.5\t1.0\n")), ValueError,
              "row 0 is certified but has radius_sigma=0.0"),
    read_case(lambda: read_results(with_companion({"alpha": 0.001, "n0": 100, "n": 1000, "sampling": "fixed"},
                                                  rows=N_USED_ROWS, header=N_USED_HEADER), alpha=0.001), None,
              lambda r: r.provenance["n"] == 1000 and r.alpha == 0.001),
    # -- read_results: alpha ---------------------------------------------------------------------
    read_case(lambda: read_results(file_with(HEADER + GOOD_ROWS), alpha="0.001"), TypeError, "alpha must be a float"),
    read_case(lambda: read_results(file_with(HEADER + GOOD_ROWS), alpha=True), TypeError, "alpha must be a float"),
    read_case(lambda: read_results(file_with(HEADER + GOOD_ROWS), alpha=[0.001]), TypeError, "alpha must be a float"),
    read_case(lambda: read_results(file_with(HEADER + GOOD_ROWS), alpha=-0.1), ValueError, "alpha must be in the open"),
    read_case(lambda: read_results(file_with(HEADER + GOOD_ROWS), alpha=0.0), ValueError, "alpha must be in the open"),
    read_case(lambda: read_results(file_with(HEADER + GOOD_ROWS), alpha=1.0), ValueError, "alpha must be in the open"),
    read_case(lambda: read_results(file_with(HEADER + GOOD_ROWS), alpha=np.nan), ValueError, "alpha must be in the open"),
    read_case(lambda: read_results(file_with(HEADER + GOOD_ROWS), alpha=np.inf), ValueError, "alpha must be in the open"),
    # -- read_results: valid borderline files ----------------------------------------------------
    read_case(lambda: read_results(file_with(HEADER)), None, lambda r: len(r) == 0 and r.radius.dtype == np.float64),
    read_case(lambda: read_results(file_with(HEADER + GOOD_ROWS), alpha=1e-300), None, lambda r: r.alpha == 1e-300),
    read_case(
        lambda: read_results(file_with(HEADER + GOOD_ROWS)),
        None,
        lambda r: r.time[0] == 1.5 and np.isnan(r.time[1]) and r.abstained.tolist() == [False, True],
    ),
    read_case(
        lambda: read_results(file_with("note\t" + HEADER + "x\t0\t3\t3\t0.0\t1\t1 day, 0:00:00\n\n")),
        None,
        lambda r: r.radius.tolist() == [0.0] and r.time.tolist() == [86400.0],  # unknown columns are ignored
    ),
    read_case(lambda: read_results(file_with(HEADER + "0\t3\t03\t0.5\t1\t1.0\n")), None, lambda r: r.correct.tolist() == [True]),
    read_case(
        lambda: read_results(file_with(HEADER + "0\tcat\tcat\t1e-300\t1\t1.0\n")), None, lambda r: r.label.tolist() == ["cat"]
    ),
    # -- write_results: path ---------------------------------------------------------------------
    write_case(lambda: write_results(3, cert(), [3, 2]), TypeError, "path must be a str or os.PathLike"),
    write_case(lambda: write_results(destination(), replace(cert(), radius_sigma=np.array([0.1, 0.0]),
                                                            radius_class=np.array([0.5, 0.0])), [3, 2]), ValueError,
               r"certificates: row 0 has radius=0.5 above min\(radius_sigma=0.1"),
    write_case(lambda: write_results(destination(), replace(cert(), radius_sigma=np.array([0.6, np.nan]),
                                                            radius_class=np.array([0.5, np.nan])), [3, 2]), ValueError,
               "mix DualSigma certificates"),
    write_case(lambda: written(replace(cert(), provenance={"n": np.int64(1500), "radii": (np.float32(0.5),)})), None,
               lambda r: r.provenance == {"n": 1500, "radii": [0.5]} and type(r.provenance["n"]) is int),
    write_case(lambda: write_results(None, cert(), [3, 2]), TypeError, "path must be a str"),
    write_case(lambda: write_results("", cert(), [3, 2]), ValueError, "path must be a non-empty"),
    write_case(lambda: write_results(os.path.join(tempfile.mkdtemp(), "no", "x.tsv"), cert(), [3, 2]), FileNotFoundError, "no"),
    write_case(lambda: write_results(tempfile.mkdtemp(), cert(), [3, 2]), OSError, "directory"),
    # -- write_results: certificates -------------------------------------------------------------
    write_case(lambda: write_results(destination(), None, [3, 2]), TypeError, "certificates must be a smoothcert.Certificates"),
    write_case(lambda: write_results(destination(), np.zeros(2), [3, 2]), TypeError, "certificates must be"),
    write_case(lambda: write_results(destination(), {"radius": [0.5]}, [3]), TypeError, "certificates must be"),
    write_case(
        lambda: written(cert(radius=np.array([np.nan, 0.0]))), ValueError, "certificates.radius must be finite and >= 0; row 0"
    ),
    write_case(
        lambda: written(cert(radius=np.array([0.5, -1.0]))), ValueError, "certificates.radius must be finite and >= 0; row 1"
    ),
    write_case(lambda: written(cert(radius=np.array([np.inf, 0.0]))), ValueError, "certificates.radius must be finite"),
    write_case(lambda: written(cert(radius=np.array([0.5]))), ValueError, "certificates.radius must have shape \\(2,\\)"),
    write_case(lambda: written(cert(radius=np.array(["0.5", "0"]))), TypeError, "certificates.radius must hold real numbers"),
    write_case(
        lambda: written(cert(proxy_radius=np.array([0.5, np.nan]))), ValueError, "certificates.proxy_radius must be finite"
    ),
    write_case(
        lambda: written(cert(sigma=np.array([0.5, -0.5]))), ValueError, "certificates.sigma must be finite and > 0; row 1"
    ),
    write_case(lambda: written(cert(sigma=np.array([0.5, np.nan]))), ValueError, "certificates.sigma must be finite and > 0"),
    write_case(lambda: written(cert(sigma=np.array(0.5))), ValueError, "certificates.sigma must be numbers of shape"),
    write_case(lambda: written(cert(sigma=np.ones((2, 0)))), ValueError, "certificates.sigma must be numbers of shape"),
    write_case(lambda: written(cert(label=np.array([[3, -1]]))), ValueError, "certificates.label must be a 1-D array"),
    write_case(lambda: written(cert(abstained=np.array([False]))), ValueError, "certificates.abstained must have shape \\(2,\\)"),
    write_case(lambda: written(cert(abstained=np.array([0, 1]))), TypeError, "certificates.abstained must hold booleans"),
    # -- write_results: y_true -------------------------------------------------------------------
    write_case(lambda: written(y_true=[3]), ValueError, "y_true must have shape \\(2,\\)"),
    write_case(lambda: written(y_true=[[3, 2]]), ValueError, "y_true must have shape \\(2,\\)"),
    write_case(lambda: written(y_true=3), ValueError, "y_true must have shape \\(2,\\)"),
    write_case(lambda: write_results(destination(), cert(), [[3], [2, 1]]), ValueError, "y_true must be a 1-D array"),
    write_case(lambda: written(y_true=[-1, 2]), ValueError, "the label '-1' cannot be written"),
    write_case(lambda: written(y_true=np.array(["a\tb", "c"])), ValueError, "the label 'a\\\\tb' cannot be written"),
    write_case(lambda: written(y_true=np.array([3.0, 2.0])), ValueError, "y_true\\[0\\] and .* written '3.0' and '3'"),
    write_case(lambda: written(y_true=np.array(["3", "2"], dtype=object)), ValueError, "y_true\\[0\\] and .* compare different"),
    # -- write_results: times --------------------------------------------------------------------
    write_case(lambda: written(times=-1.0), ValueError, "times must be nan \\(unknown\\) or finite seconds >= 0"),
    write_case(lambda: written(times=np.inf), ValueError, "times must be nan"),
    write_case(lambda: written(times=[1.0, -np.inf]), ValueError, "times must be nan .*; row 1"),
    write_case(lambda: written(times=[1.0, 2.0, 3.0]), ValueError, "times must have shape \\(2,\\)"),
    write_case(lambda: written(times=[[1.0, 2.0]]), ValueError, "times must have shape \\(2,\\)"),
    write_case(lambda: written(times="soon"), ValueError, "times must have shape \\(2,\\)"),
    write_case(lambda: written(times=["a", "b"]), TypeError, "times must hold real numbers"),
    write_case(lambda: written(times=True), ValueError, "times must have shape"),
    # -- write_results: index --------------------------------------------------------------------
    write_case(lambda: written(index=[0.5, 1.5]), TypeError, "index must hold integers"),  # was truncated silently
    write_case(lambda: written(index=[True, False]), TypeError, "index must hold integers"),
    write_case(lambda: written(index=["0", "1"]), TypeError, "index must hold integers"),
    write_case(lambda: written(index=[-1, 0]), ValueError, "index must be an int >= 0 .*; row 0 holds -1"),
    write_case(lambda: written(index=[0]), ValueError, "index must have shape \\(2,\\)"),
    write_case(lambda: written(index=5), ValueError, "index must have shape \\(2,\\)"),
    # -- write_results: extra_columns ------------------------------------------------------------
    write_case(lambda: written(extra_columns="yes"), TypeError, "extra_columns must be True or False"),
    write_case(lambda: written(extra_columns=None), TypeError, "extra_columns must be True or False"),
    # -- write_results: valid borderline input ---------------------------------------------------
    write_case(lambda: written(cert()[np.zeros(2, bool)], y_true=[]), None, lambda r: len(r) == 0),
    write_case(lambda: written(times=np.nan, index=np.array([7, 7], np.uint8)), None, lambda r: r.index.tolist() == [7, 7]),
    write_case(lambda: written(times=1e15), None, lambda r: r.time.tolist() == [1e15, 1e15]),  # beyond timedelta
    write_case(lambda: written(times=np.float32(0.0), extra_columns=np.True_), None, lambda r: r.time.tolist() == [0.0, 0.0]),
    write_case(lambda: written(written()), None, lambda r: r.sigma.tolist() == [0.5, 0.5]),  # results read back
    write_case(lambda: written(results()), None, lambda r: r.sigma is None and r.radius.tolist() == [0.5, 0.0]),
    write_case(
        lambda: written(make_certificates([1.0, 0.0], [3, -1], sigma=np.full((2, 3), 0.25))),
        None,
        lambda r: r.proxy_radius.tolist() == [0.25, 0.0] and r.sigma.tolist() == [0.25, 0.25],
    ),
    # -- certified_accuracy_table: results -------------------------------------------------------
    table_case(lambda: table([results()]), TypeError, "results must be a non-empty dict"),
    table_case(lambda: table({}), TypeError, "results must be a non-empty dict"),
    table_case(lambda: table({1: results()}), TypeError, "results must map str row names"),
    table_case(lambda: table({"a\nb": results()}), ValueError, "results: the row name 'a\\\\nb' holds a line break"),
    table_case(lambda: table({"a": 3}), TypeError, "results\\['a'\\] must be a \\(y_true, certificates\\) pair"),
    table_case(
        lambda: table({"a": ([3, 2], cert(), 1)}), TypeError, "results\\['a'\\] must be a \\(y_true, certificates\\) pair"
    ),
    table_case(lambda: table({"a": ([3, 2], "cert")}), TypeError, "results\\['a'\\]: certificates must be a smoothcert"),
    table_case(lambda: table({"a": ([3], cert())}), ValueError, "results\\['a'\\]: y_true must have shape \\(2,\\)"),
    table_case(
        lambda: table({"a": ([3, 2], cert(radius=np.array([np.nan, 0.0])))}),
        ValueError,
        "results\\['a'\\]: certificates.radius must be finite",
    ),
    table_case(lambda: table({"a": ([], cert()[np.zeros(2, bool)])}), ValueError, "results\\['a'\\] has no rows"),
    # -- certified_accuracy_table: radii, fmt, decimals, proxy -----------------------------------
    table_case(lambda: table(radii="far"), TypeError, "radii must be a float or a 1-D sequence"),
    table_case(lambda: table(radii=[0.0, [0.5]]), TypeError, "radii must be a float or a 1-D sequence"),
    table_case(lambda: table(radii=[]), ValueError, "radii must be a float or a non-empty 1-D sequence"),
    table_case(lambda: table(radii=[[0.0, 0.5]]), ValueError, "radii must be a float or a non-empty 1-D sequence"),
    table_case(lambda: table(radii=[0.0, np.nan]), ValueError, "radii must be finite and >= 0"),
    table_case(lambda: table(radii=[np.inf]), ValueError, "radii must be finite and >= 0"),
    table_case(lambda: table(radii=[-0.5]), ValueError, "radii must be finite and >= 0"),
    table_case(lambda: table(radii=None), TypeError, "radii must be a float or a 1-D sequence"),
    table_case(lambda: table(fmt="html"), ValueError, "fmt must be 'markdown' or 'latex'"),
    table_case(lambda: table(fmt=None), ValueError, "fmt must be 'markdown' or 'latex'"),
    table_case(lambda: table(decimals=-1), ValueError, "decimals must be an int >= 0"),
    table_case(lambda: table(decimals=2.5), TypeError, "decimals must be an int"),
    table_case(lambda: table(decimals="2"), TypeError, "decimals must be an int"),
    table_case(lambda: table(decimals=True), TypeError, "decimals must be an int"),
    table_case(lambda: table(proxy="yes"), TypeError, "proxy must be True or False"),
    table_case(lambda: table(proxy=None), TypeError, "proxy must be True or False"),
    # -- certified_accuracy_table: valid borderline input ----------------------------------------
    table_case(lambda: table(radii=0.0, decimals=0), None, lambda t: t.splitlines()[-1] == "| a | **0** |"),
    table_case(lambda: table({"a|b": results()}, radii=[0.5]), None, lambda t: t.splitlines()[-1] == "| a\\|b | **0.50** |"),
    table_case(
        lambda: table({"$\\sigma$": ([3, 2], cert())}, radii=[0.0], fmt="latex", proxy=True),
        None,
        lambda t: "$\\sigma$ & \\textbf{0.50} \\\\" in t,
    ),
    # -- CertificationResults --------------------------------------------------------------------
    results_case(lambda: results(label=np.array([[3, -1]])), ValueError, "label must be a 1-D array"),
    results_case(lambda: results(label=3), ValueError, "label must be a 1-D array"),
    results_case(lambda: results(provenance="run 3"), TypeError, "provenance must be a dict or None"),
    results_case(lambda: results(provenance={"n": 10}), None, lambda r: r.provenance == {"n": 10}),
    results_case(lambda: dual_results(radius_sigma=None), ValueError, "radius_class is given without radius_sigma"),
    results_case(lambda: results(alpha=0.01, provenance={"alpha": 0.001}), ValueError,
                 r"alpha=0.01, but its provenance records alpha=0.001"),
    results_case(lambda: results(alpha=0.001, provenance={"alpha": 0.001}), None, lambda r: r.alpha == 0.001),
    results_case(lambda: dual_results(radius=np.array([0.7, 0.0]), proxy_radius=np.array([0.7, 0.0])), ValueError,
                 r"radius=0.7 above min\(radius_sigma=0.6, radius_class=0.5\)"),
    results_case(lambda: dual_results(radius_sigma=np.array([0.0, 0.0])), ValueError, "is certified but has radius_sigma=0.0"),
    results_case(lambda: dual_results(radius=np.array([0.7, 0.0]), provenance={"memory": True}), None,
                 lambda r: r.radius_sigma[0] == 0.6),  # a memory may adopt a stored region's radius
    results_case(lambda: results(y_true=np.array([3])), ValueError, "y_true must have shape \\(2,\\)"),
    results_case(lambda: results(y_true=None), ValueError, "y_true must have shape \\(2,\\)"),
    results_case(lambda: results(index=np.array([0.0, 1.0])), TypeError, "index must hold integers"),
    results_case(lambda: results(index=np.array([-1, 1])), ValueError, "index must be an int >= 0"),
    results_case(lambda: results(index=np.arange(3)), ValueError, "index must have shape \\(2,\\)"),
    results_case(lambda: results(correct=np.array([1, 0])), TypeError, "correct must hold booleans"),
    results_case(lambda: results(correct=np.array([True])), ValueError, "correct must have shape \\(2,\\)"),
    results_case(lambda: results(correct=np.array([False, False])), ValueError, "correct must be \\(not abstained\\)"),
    results_case(lambda: results(abstained=np.array([False, False])), ValueError, "abstained must be True exactly where"),
    results_case(lambda: results(abstained=np.array(["no", "yes"])), TypeError, "abstained must hold booleans"),
    results_case(lambda: results(radius=np.array([np.nan, 0.0])), ValueError, "radius must be finite and >= 0; row 0"),
    results_case(lambda: results(radius=np.array([0.5, -0.1])), ValueError, "radius must be finite and >= 0; row 1"),
    results_case(lambda: results(radius=np.array([np.inf, 0.0])), ValueError, "radius must be finite"),
    results_case(lambda: results(radius=[0.5]), ValueError, "radius must have shape \\(2,\\)"),
    results_case(lambda: results(radius=np.array(["0.5", "0"])), TypeError, "radius must hold real numbers"),
    results_case(lambda: results(radius=[[0.5], [0.0, 1.0]]), ValueError, "radius must be a 1-D array"),
    results_case(lambda: results(proxy_radius=np.array([-1.0, 0.0])), ValueError, "proxy_radius must be finite and >= 0"),
    results_case(lambda: results(time=np.array([-1.0, 0.0])), ValueError, "time must be nan \\(unknown\\) or finite"),
    results_case(lambda: results(time=np.array([np.inf, 0.0])), ValueError, "time must be nan"),
    results_case(lambda: results(time=None), ValueError, "time must have shape \\(2,\\)"),
    results_case(lambda: results(sigma=np.array([0.0, 0.5])), ValueError, "sigma must be finite and > 0; row 0"),
    results_case(lambda: results(sigma=np.array([0.5, np.nan])), ValueError, "sigma must be finite and > 0"),
    results_case(lambda: results(sigma=np.full((2, 3), 0.5)), ValueError, "sigma must have shape \\(2,\\)"),
    results_case(lambda: results(alpha=1.5), ValueError, "alpha must be in the open interval"),
    results_case(lambda: results(alpha=-0.001), ValueError, "alpha must be in the open interval"),
    results_case(lambda: results(alpha=np.nan), ValueError, "alpha must be in the open interval"),
    results_case(lambda: results(alpha="0.001"), TypeError, "alpha must be a float"),
    results_case(lambda: results(abstain_label=[-1]), TypeError, "abstain_label must be a scalar label"),
    results_case(lambda: results(abstain_label=-2), ValueError, "abstained must be True exactly where label is abstain_label"),
    results_case(lambda: results().certified_accuracy("far"), TypeError, "radii must be a float or a 1-D sequence"),
    results_case(lambda: results().certified_accuracy([np.nan]), ValueError, "radii must be finite and >= 0"),
    results_case(lambda: results().certified_accuracy([0.0], proxy="yes"), TypeError, "proxy must be True or False"),
    results_case(lambda: results(), None, lambda r: len(r) == 2 and r.certified_accuracy(0.5).tolist() == [0.5]),
    results_case(
        lambda: results(
            index=[0, 1],
            y_true=[3, 2],
            label=[3, -1],
            radius=[0.5, 0],
            correct=[True, False],
            abstained=[False, True],
            proxy_radius=[1, 0],
            time=[0, 0],
            sigma=[1e-30, 1e30],
            alpha=0.5,
        ),
        None,
        lambda r: r.radius.dtype == np.float64 and r.index.dtype == np.int64,  # lists are converted
    ),
    results_case(
        lambda: CertificationResults(
            **{
                name: np.zeros(0, dtype)
                for name, dtype in [
                    ("index", np.int64),
                    ("y_true", np.int64),
                    ("label", np.int64),
                    ("radius", float),
                    ("correct", bool),
                    ("abstained", bool),
                    ("proxy_radius", float),
                    ("time", float),
                ]
            }
        ),
        None,
        lambda r: len(r) == 0 and len(r.to_frame()) == 0,
    ),
    # -- CertificateMemory: parameters (checked at fit, as in scikit-learn) ----------------------
    memory_case(lambda: CertificateMemory(inside_rule="keep").fit(regions_cert()), ValueError, "inside_rule must be"),
    memory_case(lambda: CertificateMemory(inside_rule=None).fit(regions_cert()), ValueError, "inside_rule must be"),
    memory_case(lambda: CertificateMemory(store_abstain="yes").fit(regions_cert()), TypeError, "store_abstain must be"),
    memory_case(lambda: CertificateMemory(store_abstain=1).fit(regions_cert()), TypeError, "store_abstain must be"),
    memory_case(lambda: CertificateMemory(max_size=0).fit(regions_cert()), ValueError, "max_size must be None or an int >= 1"),
    memory_case(lambda: CertificateMemory(max_size=-3).fit(regions_cert()), ValueError, "max_size must be None or an int >= 1"),
    memory_case(lambda: CertificateMemory(max_size=2.5).fit(regions_cert()), TypeError, "max_size must be None or an int"),
    memory_case(lambda: CertificateMemory(max_size=np.nan).fit(regions_cert()), TypeError, "max_size must be None or an int"),
    memory_case(lambda: CertificateMemory(max_size="3").fit(regions_cert()), TypeError, "max_size must be None or an int"),
    memory_case(lambda: CertificateMemory(max_size=True).fit(regions_cert()), TypeError, "max_size must be None or an int"),
    memory_case(lambda: CertificateMemory(max_size=1).fit(regions_cert()), ValueError, "full \\(max_size=1 entries\\)"),
    memory_case(lambda: CertificateMemory(algorithm="ball_tree").fit(regions_cert()), ValueError, "algorithm must be"),
    memory_case(lambda: CertificateMemory(algorithm=None).fit(regions_cert()), ValueError, "algorithm must be"),
    # -- CertificateMemory: certificates (fit, partial_fit, fit_transform, transform, resolve) --
    memory_case(lambda: CertificateMemory().fit(None), TypeError, "certificates must be a smoothcert.Certificates"),
    memory_case(lambda: CertificateMemory().partial_fit(np.zeros((2, 2))), TypeError, "certificates must be"),
    memory_case(lambda: CertificateMemory().fit_transform(results()), TypeError, "certificates must be"),
    memory_case(lambda: memory().transform([regions_cert()]), TypeError, "certificates must be"),
    memory_case(lambda: CertificateMemory().fit(regions_cert(norm="linf")), ValueError, "certificates.norm must be"),
    memory_case(
        lambda: CertificateMemory().fit(regions_cert(label=np.array([[0, 1, -1]]))),
        ValueError,
        "certificates.label must be a 1-D",
    ),
    memory_case(
        lambda: CertificateMemory().fit(regions_cert(center=np.zeros(3))), ValueError, "certificates.center must have shape"
    ),
    memory_case(
        lambda: CertificateMemory().fit(regions_cert(center=np.zeros((3, 0)), sigma=np.ones(3))),
        ValueError,
        "certificates.center must have shape \\(3, \\*input_shape\\) with every size >= 1",
    ),
    memory_case(
        lambda: CertificateMemory().fit(regions_cert(center=np.zeros((2, 2)))), ValueError, "certificates.center must have shape"
    ),
    memory_case(
        lambda: CertificateMemory().fit(regions_cert(center=np.full((3, 2), "0"))),
        TypeError,
        "certificates.center must hold real",
    ),
    memory_case(
        lambda: CertificateMemory().fit(regions_cert(center=np.full((3, 2), np.nan))),
        ValueError,
        "certificates.center must be finite",
    ),
    memory_case(
        lambda: CertificateMemory().fit(regions_cert(sigma=-np.ones((3, 2)))), ValueError, "certificates.sigma must be positive"
    ),
    memory_case(
        lambda: CertificateMemory().fit(regions_cert(sigma=np.full((3, 2), np.inf))),
        ValueError,
        "certificates.sigma must be positive",
    ),
    memory_case(
        lambda: CertificateMemory().fit(regions_cert(sigma=np.ones((3, 3)))), ValueError, "certificates.sigma must have shape"
    ),
    memory_case(lambda: CertificateMemory().fit(regions_cert(sigma=None)), TypeError, "certificates.sigma must hold real"),
    memory_case(
        lambda: CertificateMemory().fit(regions_cert(gap=np.array([1.0, np.nan, 0.0]))), ValueError, "certificates.gap must be"
    ),
    memory_case(
        lambda: CertificateMemory().fit(regions_cert(gap=np.array([1.0, -1.0, 0.0]))), ValueError, "certificates.gap must be"
    ),
    memory_case(lambda: CertificateMemory().fit(regions_cert(gap=np.ones(2))), ValueError, "certificates.gap must be 3 finite"),
    memory_case(
        lambda: CertificateMemory().fit(regions_cert(p_lower=np.ones(2))), ValueError, "certificates.p_lower must have shape"
    ),
    memory_case(
        lambda: CertificateMemory().fit(regions_cert(log_volume=np.zeros(4))), ValueError, "certificates.log_volume must have"
    ),
    memory_case(
        lambda: CertificateMemory().fit(regions_cert(proxy_radius=None)), TypeError, "certificates.proxy_radius must hold"
    ),
    memory_case(
        lambda: CertificateMemory().fit(regions_cert(class_index=np.zeros(1))), ValueError, "certificates.class_index must have"
    ),
    memory_case(
        lambda: CertificateMemory().fit(regions_cert(abstained=np.zeros(2, bool))), ValueError, "certificates.abstained must have"
    ),
    memory_case(lambda: CertificateMemory().fit(regions_cert(alpha=0.0)), ValueError, "certificates.alpha must be in the open"),
    memory_case(
        lambda: CertificateMemory().fit(regions_cert(alpha=np.nan)), ValueError, "certificates.alpha must be in the open"
    ),
    memory_case(lambda: CertificateMemory().fit(regions_cert(alpha=None)), TypeError, "certificates.alpha must be a float"),
    memory_case(lambda: memory().transform(regions_cert(norm="l1")), ValueError, "norm 'l1' but this memory stores 'l2'"),
    memory_case(
        lambda: memory().transform(with_radius([0.5], [0], center=np.zeros((1, 3)))), ValueError, "inputs of shape \\(3,\\)"
    ),
    memory_case(lambda: CertificateMemory().transform(regions_cert()), NotFittedError, "CertificateMemory is empty"),
    memory_case(lambda: memory().resolve(regions_cert(), store="yes"), TypeError, "store must be True or False"),
    memory_case(lambda: memory().resolve(regions_cert(), store=None), TypeError, "store must be True or False"),
    memory_case(lambda: CertificateMemory().resolve(regions_cert(), store=False), NotFittedError, "CertificateMemory is empty"),
    # -- CertificateMemory: lookup ---------------------------------------------------------------
    memory_case(lambda: memory().lookup(np.zeros((2, 3))), ValueError, "X must have shape \\(n_points, \\*\\(2,\\)\\)"),
    memory_case(lambda: memory().lookup(np.zeros(2)), ValueError, "X must have shape"),
    memory_case(lambda: memory().lookup(None), ValueError, "X must have shape"),
    memory_case(lambda: memory().lookup([[0.0, np.nan]]), ValueError, "X must be finite"),
    memory_case(lambda: memory().lookup([["a", "b"]]), TypeError, "X must be an array of numbers"),
    memory_case(lambda: memory().lookup([[0.0], [0.0, 1.0]]), TypeError, "X must be an array of numbers"),
    memory_case(lambda: memory().lookup(np.zeros((2, 2)), default=[1]), ValueError, "default must have shape \\(2,\\)"),
    memory_case(lambda: memory().lookup(np.zeros((2, 2)), default=[[1], [1, 2]]), ValueError, "default must be None or an array"),
    memory_case(lambda: CertificateMemory().lookup(np.zeros((1, 2))), NotFittedError, "CertificateMemory is empty"),
    memory_case(lambda: memory().lookup(np.zeros((0, 2))), None, lambda out: out[0].shape == (0,) and len(out[1]) == 0),
    memory_case(lambda: memory().lookup([[0.1, 0.0], [40, 40]], default=[7, 7]), None, lambda out: out[1].tolist() == [0, 7]),
    # -- CertificateMemory: save -----------------------------------------------------------------
    memory_case(lambda: memory().save(3), TypeError, "path must be a str or os.PathLike"),
    memory_case(lambda: memory().save(None), TypeError, "path must be a str"),
    memory_case(lambda: memory().save(""), ValueError, "path must be a non-empty"),
    memory_case(lambda: memory().save(os.path.join(tempfile.mkdtemp(), "no", "m.npz")), FileNotFoundError, "no"),
    memory_case(
        lambda: CertificateMemory().save(destination("m.npz")), NotFittedError, "empty: store certificates before saving"
    ),
    memory_case(lambda: memory().set_params(max_size=0).save(destination("m.npz")), ValueError, "max_size must be"),
    memory_case(
        lambda: CertificateMemory().fit(regions_cert(label=np.array([(1,), "b", -1], dtype=object))).save(destination("m.npz")),
        ValueError,
        "labels must be ints, floats, strings or bools, got \\(1,\\)",
    ),
    # -- CertificateMemory: load -----------------------------------------------------------------
    memory_case(lambda: CertificateMemory.load(3), TypeError, "path must be a str or os.PathLike"),
    memory_case(lambda: CertificateMemory.load(None), TypeError, "path must be a str"),
    memory_case(lambda: CertificateMemory.load(""), ValueError, "path must be a non-empty"),
    memory_case(lambda: CertificateMemory.load(destination("missing.npz")), FileNotFoundError, "No CertificateMemory file at"),
    memory_case(lambda: CertificateMemory.load(tempfile.mkdtemp()), IsADirectoryError, "Is a directory"),
    memory_case(lambda: CertificateMemory.load(binary_file(b"")), ValueError, "Cannot load a CertificateMemory from"),
    memory_case(lambda: CertificateMemory.load(file_with(HEADER + GOOD_ROWS)), ValueError, "Cannot load a CertificateMemory"),
    memory_case(lambda: CertificateMemory.load(damaged(200)), ValueError, "Cannot load a CertificateMemory from"),
    memory_case(lambda: CertificateMemory.load(damaged(-30)), ValueError, "Cannot load a CertificateMemory from"),
    memory_case(lambda: CertificateMemory.load(memory_file(entry("gap", 0, -1.0))), ValueError, "gap must be finite, >= 0"),
    memory_case(lambda: CertificateMemory.load(memory_file(entry("rmin", 0, np.nan))), ValueError, "rmin must be finite"),
    memory_case(
        lambda: CertificateMemory.load(memory_file(entry("rmax", 1, -2.0))), ValueError, "rmax must be finite and >= rmin"
    ),
    memory_case(
        lambda: CertificateMemory.load(memory_file(entry("scales", 0, [-0.5, 1.0]))), ValueError, "scales must be finite and > 0"
    ),
    memory_case(
        lambda: CertificateMemory.load(memory_file(entry("centers", 0, [np.inf, 0]))), ValueError, "centers must be finite"
    ),
    memory_case(lambda: CertificateMemory.load(memory_file(entry("code", 0, 9))), ValueError, "code must be a label code"),
    memory_case(
        lambda: CertificateMemory.load(memory_file(entry("alpha", 0, np.inf))), ValueError, "alpha must be in \\(0, 1\\)"
    ),
    memory_case(
        lambda: CertificateMemory.load(memory_file(entry("source", 0, 0))), ValueError, "source must be -1 or an earlier"
    ),
    memory_case(
        lambda: CertificateMemory.load(memory_file(lambda a, h: {**a, "scales": a["scales"][:, :1]})),
        ValueError,
        "scales must have shape",
    ),
    memory_case(
        lambda: CertificateMemory.load(memory_file(lambda a, h: {**a, "aniso": a["aniso"].astype(np.int8)})),
        ValueError,
        "aniso must hold bool",
    ),
    memory_case(
        lambda: CertificateMemory.load(memory_file(header_field("n_entries", 2))),
        ValueError,
        "centers must have shape \\(2, 2\\)",
    ),
    memory_case(
        lambda: CertificateMemory.load(memory_file(header_field("input_shape", []))), ValueError, "'input_shape' must be"
    ),
    memory_case(lambda: CertificateMemory.load(memory_file(header_field("labels", "01"))), ValueError, "'labels' must be a list"),
    memory_case(lambda: CertificateMemory.load(memory_file(header_field("params", None))), ValueError, "'params' must be a dict"),
    memory_case(
        lambda: CertificateMemory.load(memory_file(header_field("format", "x"))), ValueError, "not a CertificateMemory file"
    ),
    # -- CertificateMemory: other public methods, and valid borderline input ---------------------
    memory_case(lambda: memory().set_output(transform="polars"), ValueError, "transform must be 'default'"),
    memory_case(lambda: CertificateMemory().regions(), NotFittedError, "not fitted"),
    memory_case(lambda: CertificateMemory(store_abstain=True, max_size=3).fit(regions_cert()), None, lambda m: len(m) == 3),
    memory_case(lambda: CertificateMemory().fit(cert()[np.zeros(2, bool)]), None, lambda m: len(m) == 0),
    memory_case(
        lambda: CertificateMemory.load(saved(CertificateMemory().fit(cert()[np.zeros(2, bool)]))),
        None,
        lambda m: len(m) == 0 and m.input_shape_ == (2,),
    ),
    memory_case(lambda: CertificateMemory.load(saved(memory())), None, lambda m: same_regions(m, memory())),
    memory_case(
        lambda: CertificateMemory.load(
            saved(CertificateMemory().fit(regions_cert(label=np.array(["a", "b", -1], dtype=object))))
        ),
        None,
        lambda m: m.regions()["label"].tolist() == ["a", "b"],
    ),
    memory_case(lambda: memory().resolve(regions_cert(), store=np.True_), None, lambda c: len(c) == 3),
]


test_fuzz = fuzz_test(CASES)
