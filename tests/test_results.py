import math
import os
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from certificate_factory import make_certificates, with_radius

from smoothcert import Certificates
from smoothcert.metrics import certified_accuracy, certified_accuracy_lower_bound
from smoothcert.results import CertificationResults, certified_accuracy_table, read_results, write_results

# The first rows of locuslab/smoothing's certify.py output, as it prints them: radius "{:.3}",
# time str(datetime.timedelta), predict -1 for an abstention.
CERTIFY_PY_SAMPLE = (
    "idx\tlabel\tpredict\tradius\tcorrect\ttime\n"
    "0\t3\t3\t0.378\t1\t0:00:15.412345\n"
    "20\t7\t-1\t0.0\t0\t0:00:15.600021\n"
    "40\t4\t4\t0.0831\t1\t0:00:07\n"
    "60\t7\t5\t0.941\t0\t1 day, 0:00:01.500000\n"
)
HEADER = "idx\tlabel\tpredict\tradius\tcorrect\ttime\n"
# The published data files (data/certify/...) hold the time in seconds.
PUBLISHED_SAMPLE = "idx\tlabel\tpredict\tradius\tcorrect\ttime\n0\t3\t3\t0.378\t1\t15.4\n20\t7\t-1\t0.0\t0\t15.6\n"
# Alfarra et al.'s certify_ds.py adds sigma; ANCER's certify_dataset.py adds radius_proxy and min_sigma.
DDS_SAMPLE = "idx\tlabel\tpredict\tradius\tcorrect\tsigma\ttime\n0\t3\t3\t0.378\t1\t0.26\t0:00:01.5\n"
ANCER_SAMPLE = (
    "idx\tlabel\tpredict\tradius\tradius_proxy\tcorrect\tmin_sigma\ttime\n"
    "0\t3\t3\t0.25\t0.61\t1\t0.12\t0:00:09.5\n"
    "1\t2\t-1\t0.0\t0.0\t0\t0.12\t0:00:09.4\n"
)


def write_text(tmp_path, text, name="results.tsv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_reads_certify_py_output_exactly(tmp_path):
    results = read_results(write_text(tmp_path, CERTIFY_PY_SAMPLE))
    assert results.index.tolist() == [0, 20, 40, 60]
    assert results.y_true.tolist() == [3, 7, 4, 7] and results.y_true.dtype == np.int64
    assert results.label.tolist() == [3, -1, 4, 5]
    assert results.abstained.tolist() == [False, True, False, False]
    assert results.correct.tolist() == [True, False, True, False]
    assert results.radius.tolist() == [0.378, 0.0, 0.0831, 0.941]
    assert results.proxy_radius.tolist() == results.radius.tolist()  # isotropic: no radius_proxy column
    np.testing.assert_allclose(results.time, [15.412345, 15.600021, 7.0, 86401.5], rtol=0, atol=1e-9)
    assert results.sigma is None and results.alpha is None and results.abstain_label == -1


def test_reads_published_dds_and_ancer_formats(tmp_path):
    published = read_results(write_text(tmp_path, PUBLISHED_SAMPLE))
    assert published.time.tolist() == [15.4, 15.6]
    assert read_results(write_text(tmp_path, DDS_SAMPLE)).sigma.tolist() == [0.26]
    ancer = read_results(write_text(tmp_path, ANCER_SAMPLE))
    assert ancer.proxy_radius.tolist() == [0.61, 0.0] and ancer.sigma.tolist() == [0.12, 0.12]
    assert ancer.certified_accuracy([0.5], proxy=True).tolist() == [0.5]
    assert ancer.certified_accuracy([0.5]).tolist() == [0.0]


def cohen_approximate_accuracy(path, radii):
    """locuslab/smoothing analyze.py's ApproximateAccuracy, restated: it reads only the file's columns."""
    df = pd.read_csv(path, delimiter="\t")
    return np.array([(df["correct"] & (df["radius"] >= radius)).mean() for radius in radii])


def cohen_high_prob_accuracy(path, radii, alpha, rho):
    df = pd.read_csv(path, delimiter="\t")
    n = len(df)
    return np.array(
        [
            (df["correct"] & (df["radius"] >= r)).mean()
            - alpha
            - math.sqrt(alpha * (1 - alpha) * math.log(1 / rho) / n)
            - math.log(1 / rho) / (3 * n)
            for r in radii
        ]
    )


def random_cohen_file(tmp_path, seed, n=500):
    """A file in certify.py's format with 3-digit radii (so many rows tie at a radius)."""
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 10, n)
    predict = np.where(rng.random(n) < 0.15, -1, np.where(rng.random(n) < 0.75, label, (label + 1) % 10))
    radius = np.where(predict == -1, 0.0, np.round(rng.uniform(0, 1.0, n), 2))
    lines = ["idx\tlabel\tpredict\tradius\tcorrect\ttime"] + [
        f"{20 * i}\t{label[i]}\t{predict[i]}\t{radius[i]:.3}\t{int(predict[i] == label[i])}\t0:00:01.25"
        for i in range(n)
    ]
    return write_text(tmp_path, "\n".join(lines) + "\n", name=f"sigma_{seed}")


def test_certified_accuracy_matches_cohen_analyze(tmp_path):
    path = random_cohen_file(tmp_path, seed=0)
    results = read_results(path, alpha=0.001)
    # analyze.py's grid (radius_step=0.01) and the file's own radii, where the inclusive bound matters
    radii = np.unique(np.concatenate([np.arange(0.0, 1.05, 0.01), results.radius]))
    np.testing.assert_array_equal(
        certified_accuracy(results.y_true, results, radii), cohen_approximate_accuracy(path, radii)
    )
    np.testing.assert_allclose(
        certified_accuracy_lower_bound(results.y_true, results, radii, rho=0.001),
        cohen_high_prob_accuracy(path, radii, alpha=0.001, rho=0.001),
        rtol=0,
        atol=1e-12,
    )


def test_round_trip_isotropic(tmp_path):
    rng = np.random.default_rng(2)
    n = 50
    y = rng.integers(0, 4, n)
    label = np.where(rng.random(n) < 0.2, -1, np.where(rng.random(n) < 0.8, y, (y + 1) % 4))
    sigma = rng.uniform(0.1, 1.0, n)  # data-dependent isotropic sigma: one per row
    cert = make_certificates(rng.uniform(0, 3, n), label, sigma=sigma)
    times = rng.uniform(0, 100, n)
    path = tmp_path / "iso.tsv"
    write_results(path, cert, y, times=times, index=np.arange(n) * 20)
    header = path.read_text().splitlines()[0]
    assert header == "idx\tlabel\tpredict\tradius\tcorrect\tsigma\ttime"
    back = read_results(path)
    assert back.index.tolist() == (np.arange(n) * 20).tolist()
    np.testing.assert_array_equal(back.y_true, y)
    np.testing.assert_array_equal(back.label, cert.label)
    np.testing.assert_array_equal(back.abstained, cert.abstained)
    np.testing.assert_array_equal(back.correct, (~cert.abstained) & (cert.label == y))
    np.testing.assert_array_equal(back.radius, cert.radius)  # every digit kept
    np.testing.assert_array_equal(back.sigma, cert.sigma.astype(np.float64))
    np.testing.assert_allclose(back.time, times, rtol=0, atol=1e-6)  # timedelta keeps microseconds
    radii = np.unique(cert.radius)
    np.testing.assert_array_equal(back.certified_accuracy(radii), certified_accuracy(y, cert, radii))
    np.testing.assert_array_equal(cohen_approximate_accuracy(path, radii), certified_accuracy(y, cert, radii))


def test_round_trip_anisotropic_uses_ancer_columns(tmp_path):
    rng = np.random.default_rng(3)
    sigma = rng.uniform(0.1, 1.0, (6, 2, 3))
    cert = make_certificates(rng.uniform(0, 2, 6), [0, 1, -1, 1, 0, 1], sigma=sigma)
    path = tmp_path / "ancer.tsv"
    write_results(path, cert, [0, 1, 1, 0, 0, 1])
    assert path.read_text().splitlines()[0] == "idx\tlabel\tpredict\tradius\tradius_proxy\tcorrect\tmin_sigma\ttime"
    back = read_results(path)
    np.testing.assert_array_equal(back.proxy_radius, cert.proxy_radius)
    np.testing.assert_array_equal(back.sigma, sigma.reshape(6, -1).astype(np.float32).min(axis=1))
    assert np.isnan(back.time).all() and back.index.tolist() == list(range(6))


def test_cohen_columns_only_and_string_labels(tmp_path):
    cert = with_radius([0.5, 0.0, 0.2], np.array(["cat", "-1", "dog"], dtype=object), abstain_label="-1")
    path = tmp_path / "strings.tsv"
    write_results(path, cert, ["cat", "dog", "cat"], times=1.5, extra_columns=False)
    lines = path.read_text().splitlines()
    assert lines[0] == "idx\tlabel\tpredict\tradius\tcorrect\ttime"
    assert lines[2] == "1\tdog\t-1\t0.0\t0\t0:00:01.500000"
    back = read_results(path)
    assert back.label.tolist() == ["cat", "-1", "dog"] and back.abstain_label == "-1"
    assert back.correct.tolist() == [True, False, False]


def test_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "results.tsv"
    path.write_text("old content\n")
    cert = with_radius([0.5], [1])

    def failing_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        write_results(path, cert, [1])
    assert path.read_text() == "old content\n"  # untouched
    assert os.listdir(tmp_path) == ["results.tsv"]  # no temporary file left behind
    monkeypatch.undo()
    write_results(path, cert, [1])
    assert read_results(path).radius.tolist() == [0.5]


def test_write_rejects_labels_the_format_cannot_hold(tmp_path):
    with pytest.raises(ValueError, match="-1"):
        write_results(tmp_path / "x.tsv", with_radius([0.5], [-1], abstain_label=-2), [-1])
    with pytest.raises(ValueError, match="LabelEncoder"):
        write_results(tmp_path / "x.tsv", with_radius([0.5], np.array(["a\tb"], dtype=object)), ["a\tb"])
    with pytest.raises(ValueError, match="y_true must have shape"):
        write_results(tmp_path / "x.tsv", with_radius([0.5], [1]), [1, 2])
    with pytest.raises(ValueError, match="times must have shape"):
        write_results(tmp_path / "x.tsv", with_radius([0.5], [1]), [1], times=[1.0, 2.0])
    assert not (tmp_path / "x.tsv").exists()


@pytest.mark.parametrize(
    "text, message",
    [
        ("idx\tlabel\tpredict\tcorrect\ttime\n0\t1\t1\t1\t1.0\n", "lacks the column"),
        ("idx\tlabel\tpredict\tradius\tcorrect\ttime\n0\t1\t1\t0.5\t1\n", "line 2: 5 fields"),
        ("idx\tlabel\tpredict\tradius\tcorrect\ttime\n0\t1\t1\t0.5\t1\t1.0\n\n1\t1\t1\t0.5\n", "line 4: 4 fields"),
        ("idx\tlabel\tpredict\tradius\tcorrect\ttime\n0\t1\t2\t0.5\t1\t1.0\n", "inconsistent"),
        ("idx\tlabel\tpredict\tradius\tcorrect\ttime\n0\t1\t1\t0.5\tyes\t1.0\n", "expected 1 or 0"),
        ("", "empty"),
        # Radii, scales and times that no certificate has: refused, naming the line and the column.
        (HEADER + "0\t1\t1\t0.5\t1\t1.0\n1\t1\t1\tnan\t1\t1.0\n", "line 3: radius must be finite and >= 0, got 'nan'"),
        (HEADER + "0\t1\t1\t-0.25\t1\t1.0\n", "line 2: radius must be finite and >= 0"),
        (HEADER + "0\t1\t1\tinf\t1\t1.0\n", "line 2: radius must be finite"),
        (HEADER + "0\t1\t1\t0.5x\t1\t1.0\n", "line 2: the radius column holds '0.5x', not a number"),
        (
            "idx\tlabel\tpredict\tradius\tradius_proxy\tcorrect\ttime\n0\t1\t1\t0.5\t-1\t1\t1.0\n",
            "radius_proxy must be finite and >= 0",
        ),
        ("idx\tlabel\tpredict\tradius\tcorrect\tsigma\ttime\n0\t1\t1\t0.5\t1\t0\t1.0\n", "sigma must be finite and > 0"),
        ("idx\tlabel\tpredict\tradius\tcorrect\tmin_sigma\ttime\n0\t1\t1\t0.5\t1\tnan\t1.0\n", "min_sigma must be finite"),
        (HEADER + "0\t1\t1\t0.5\t1\t-1 day, 23:59:59\n", "line 2: time must be nan"),
        (HEADER + "0\t1\t1\t0.5\t1\tsoon\n", "the time column holds 'soon'"),
        (HEADER + "-3\t1\t1\t0.5\t1\t1.0\n", "line 2: idx must be an int >= 0"),
        (HEADER + "0.5\t1\t1\t0.5\t1\t1.0\n", "idx must be an int >= 0 .*, got '0.5'"),
        (HEADER + "0\t \t1\t0.5\t0\t1.0\n", "line 2: the label column is empty"),
        (
            "idx\tlabel\tpredict\tradius\tradius\tcorrect\ttime\n0\t1\t1\t0.5\t0.7\t1\t1.0\n",
            "names the column\\(s\\) \\['radius'\\] more",
        ),
    ],
)
def test_read_rejects_malformed_files(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        read_results(write_text(tmp_path, text))


def test_read_rejects_binary_files_and_bad_alpha(tmp_path):
    path = tmp_path / "results.tsv"
    path.write_bytes(b"idx\tlabel\xff\xfe\n")
    with pytest.raises(ValueError, match="not a results file"):
        read_results(path)
    path.write_text(PUBLISHED_SAMPLE)
    for alpha in (-0.1, 0.0, 1.0, float("nan")):
        with pytest.raises(ValueError, match="alpha must be in the open interval"):
            read_results(path, alpha=alpha)
    with pytest.raises(TypeError, match="alpha must be a float"):
        read_results(path, alpha="0.001")
    with pytest.raises(TypeError, match="path must be a str or os.PathLike"):
        read_results(3)  # open() would take it as a file descriptor
    assert read_results(path, alpha=0.001).alpha == 0.001


def test_labels_are_compared_as_values(tmp_path):
    # "03" and "3" are the same int label: correct = 1 is consistent.
    text = "idx\tlabel\tpredict\tradius\tcorrect\ttime\n0\t3\t03\t0.5\t1\t1.0\n"
    assert read_results(write_text(tmp_path, text)).correct.tolist() == [True]


@pytest.mark.parametrize("sigma", [0.5, np.linspace(0.1, 0.9, 8).reshape(2, 2, 2)])
@pytest.mark.parametrize("extra_columns", [True, False])
def test_results_read_back_are_written_identically(tmp_path, sigma, extra_columns):
    cert = make_certificates([1.0, 0.0], [4, -1], sigma=sigma)
    first, second = tmp_path / "first.tsv", tmp_path / "second.tsv"
    write_results(first, cert, [4, 2], times=[1.5, np.nan], index=[10, 30], extra_columns=extra_columns)
    results = read_results(first)
    write_results(second, results, results.y_true, times=results.time, index=results.index, extra_columns=extra_columns)
    assert second.read_text() == first.read_text()


def test_results_without_sigma_or_proxy_are_written_with_cohens_columns(tmp_path):
    path = write_text(tmp_path, PUBLISHED_SAMPLE)
    results = read_results(path)
    write_results(tmp_path / "again.tsv", results, results.y_true, times=results.time, index=results.index)
    assert (tmp_path / "again.tsv").read_text() == "idx\tlabel\tpredict\tradius\tcorrect\ttime\n" + (
        "0\t3\t3\t0.378\t1\t0:00:15.400000\n20\t7\t-1\t0.0\t0\t0:00:15.600000\n"
    )
    ancer = read_results(write_text(tmp_path, ANCER_SAMPLE, name="ancer.tsv"))
    write_results(tmp_path / "ancer2.tsv", ancer, ancer.y_true, times=ancer.time)
    assert (tmp_path / "ancer2.tsv").read_text().splitlines()[0] == ANCER_SAMPLE.splitlines()[0]


def test_write_refuses_what_a_reader_would_misread(tmp_path):
    cert = with_radius([0.5, 0.2], [1, 0])
    # 1.0 == 1 as values, but a reader compares the written "1.0" and "1".
    with pytest.raises(ValueError, match="y_true\\[0\\] and .* compare equal but are written '1.0' and '1'"):
        write_results(tmp_path / "x.tsv", cert, np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match="compare different but are written '1' and '1'"):
        write_results(tmp_path / "x.tsv", cert, np.array(["1", "0"], dtype=object))
    with pytest.raises(ValueError, match="certificates.radius must be finite and >= 0; row 1 holds nan"):
        write_results(tmp_path / "x.tsv", replace(cert, radius=np.array([0.5, np.nan])), [1, 0])
    with pytest.raises(ValueError, match="times must be nan \\(unknown\\) or finite seconds >= 0; row 0"):
        write_results(tmp_path / "x.tsv", cert, [1, 0], times=[-1.0, 2.0])
    with pytest.raises(TypeError, match="index must hold integers"):
        write_results(tmp_path / "x.tsv", cert, [1, 0], index=[0.5, 1.5])  # was truncated to [0, 1]
    assert not (tmp_path / "x.tsv").exists()
    # Beyond timedelta's range, times are written in seconds, which read_results reads.
    write_results(tmp_path / "x.tsv", cert, [1, 0], times=1e15)
    assert read_results(tmp_path / "x.tsv").time.tolist() == [1e15, 1e15]


def test_to_frame_uses_the_file_column_names(tmp_path):
    frame = read_results(write_text(tmp_path, DDS_SAMPLE)).to_frame()
    assert list(frame.columns) == ["idx", "label", "predict", "radius", "radius_proxy", "correct", "time", "sigma"]
    assert frame["correct"].tolist() == [1]


def test_tables_bold_the_best_value_per_radius():
    y = np.zeros(4, int)
    results = {
        "a": (y, with_radius([0.2, 0.6, 0.6, 0.0], [0, 0, 0, -1])),
        "b": (y, with_radius([0.1, 0.1, 0.3, 0.3], [0, 0, 0, 1])),
    }
    assert certified_accuracy_table(results, [0.0, 0.25, 0.5]) == (
        "|  | r = 0 | r = 0.25 | r = 0.5 |\n"
        "| --- | --- | --- | --- |\n"
        "| a | **0.75** | **0.50** | **0.50** |\n"
        "| b | **0.75** | 0.25 | 0.00 |"
    )
    assert certified_accuracy_table(results, [0.25], fmt="latex", decimals=3) == (
        "\\begin{tabular}{lc}\n\\toprule\n & $r = 0.25$ \\\\\n\\midrule\n"
        "a & \\textbf{0.500} \\\\\nb & 0.250 \\\\\n\\bottomrule\n\\end{tabular}"
    )
    with pytest.raises(ValueError, match="fmt"):
        certified_accuracy_table(results, [0.0], fmt="html")
    with pytest.raises(TypeError, match="pair"):
        certified_accuracy_table({"a": with_radius([0.5], [0])}, [0.0])


def test_table_accepts_results_read_from_files(tmp_path):
    results = read_results(write_text(tmp_path, PUBLISHED_SAMPLE))
    assert isinstance(results, CertificationResults)
    table = certified_accuracy_table({"cohen": results}, [0.0, 0.5])
    assert table.splitlines()[-1] == "| cohen | **0.50** | **0.00** |"


def test_forward_passes_per_input_are_written_and_read_back(tmp_path):
    from linear_models import smoothed_linear

    X = np.zeros((4, 2), np.float32)
    X[:, 0] = [0.5, -0.5, 0.01, 2.0]
    clf = smoothed_linear((1.0, 0.0), 0.0, n=2000, n0=50, sampling="sequential", radii=(0.25,), device="cpu")
    cert = clf.certify(X)
    path = tmp_path / "sequential.tsv"
    write_results(path, cert, [1, 0, 1, 1])
    header = path.read_text().splitlines()[0].split("\t")
    assert header[-2:] == ["n_used", "time"]
    back = read_results(path)
    np.testing.assert_array_equal(back.n_used, cert.n_used)
    assert back.to_frame()["n_used"].tolist() == cert.n_used.tolist()
    # Certificates built by hand do not know their cost: no column rather than a column of -1.
    write_results(path, make_certificates([0.5], [1]), [1])
    assert "n_used" not in path.read_text() and read_results(path).n_used is None
    write_text(tmp_path, HEADER.replace("\ttime", "\tn_used\ttime") + "0\t3\t3\t0.5\t1\t-4\t1.0\n", "bad.tsv")
    with pytest.raises(ValueError, match="n_used must be an int >= 0"):
        read_results(tmp_path / "bad.tsv")


def test_provenance_is_recorded_beside_the_file_and_read_back(tmp_path):
    from linear_models import smoothed_linear

    X = np.zeros((3, 2), np.float32)
    X[:, 0] = [0.5, -0.5, 1.0]
    clf = smoothed_linear((1.0, 0.0), 0.0, n=500, n0=20, device="cpu", sampling="sequential", radii=(0.1,))
    cert = clf.certify(X)
    record = cert.provenance
    assert record["sampling"] == "sequential" and record["n"] == 500 and record["seed"] == clf.seed_
    assert len(record["model"]) == 64 and record["smoothcert"]
    assert cert[:1].provenance == record and cert.to_frame().attrs["provenance"] == record
    assert clf.set_params(batch_size=7).certify(X).provenance == record  # settings of the run, not of speed
    path = tmp_path / "run.tsv"
    write_results(path, cert, [1, 0, 1])
    assert read_results(path).provenance == record
    assert "provenance" not in path.read_text()  # Cohen's columns stay as his tools read them
    # Rows of two runs keep both records and claim neither.
    other = clf.set_params(n=600).certify(X)
    assert Certificates.concatenate([cert, other]).provenance == {"parts": [record, other.provenance]}
    # Overwriting with certificates of unknown provenance removes the old record.
    write_results(path, make_certificates([0.5], [1]), [1])
    assert read_results(path).provenance is None
    write_results(path, cert, [1, 0, 1])
    (tmp_path / "run.tsv.provenance.json").write_text("{not json")
    with pytest.raises(ValueError, match="provenance of .* is unreadable"):
        read_results(path)
