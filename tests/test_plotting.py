import sys

import numpy as np
import pytest
from certificate_factory import make_certificates, with_radius
from linear_models import smoothed_linear

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Circle, Ellipse, Polygon  # noqa: E402

from smoothcert.metrics import certified_accuracy, certified_accuracy_curve  # noqa: E402
from smoothcert.plotting import CertifiedAccuracyDisplay, plot_regions_2d, plot_sigma_map  # noqa: E402
from smoothcert.results import write_results  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def three_noise_levels():
    """Certificates of the same 40 inputs at three noise levels (more robust, less accurate)."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 40)
    certificates = {}
    for sigma in (0.25, 0.5, 1.0):
        label = np.where(rng.random(40) < 0.9 - 0.3 * sigma, y, (y + 1) % 3)
        label = np.where(rng.random(40) < 0.1, -1, label)
        certificates[f"sigma={sigma}"] = with_radius(rng.uniform(0, 3.8 * sigma, 40), label)
    return y, certificates


def step_value_at(line, r):
    """Value at radius r of a line drawn with drawstyle='steps-pre' (value of the right end)."""
    x, value = line.get_data()
    k = np.searchsorted(x, r, side="left")
    return value[k] if k < len(x) else 0.0


def test_display_draws_one_line_per_curve_and_the_envelope():
    y, certificates = three_noise_levels()
    display = CertifiedAccuracyDisplay.from_certificates(y, certificates, envelope=True)
    assert len(display.lines_) == 3
    assert display.ax_.figure is display.figure_
    assert [line.get_label() for line in display.lines_] == list(certificates)
    assert display.ax_.get_legend() is not None
    for line, cert in zip(display.lines_, certificates.values()):
        x, value = line.get_data()
        expected_x, expected_value = certified_accuracy_curve(y, cert)
        np.testing.assert_array_equal(x, expected_x)
        np.testing.assert_array_equal(value, expected_value)
        assert line.get_drawstyle() == "steps-pre"
    # the envelope is the best certified accuracy over the noise levels, at every radius
    for r in np.linspace(0, 4, 401):
        best = max(certified_accuracy(y, cert, [r])[0] for cert in certificates.values())
        assert step_value_at(display.envelope_line_, r) == best


def test_display_on_given_axes_and_grid():
    y, certificates = three_noise_levels()
    _, ax = plt.subplots()
    cert = certificates["sigma=0.5"]
    display = CertifiedAccuracyDisplay.from_certificates(y, cert, radii=[0.0, 0.5, 1.0], ax=ax, color="red")
    assert display.ax_ is ax and len(display.lines_) == 1 and display.envelope_line_ is None
    assert display.lines_[0].get_color() == "red"
    assert display.lines_[0].get_ydata().tolist() == certified_accuracy(y, cert, [0.0, 0.5, 1.0]).tolist()
    assert ax.get_legend() is None  # no names, no legend
    assert ax.get_xlabel() == "radius" and ax.get_ylabel() == "certified accuracy"
    with pytest.raises(ValueError, match="names has 2 entries"):
        CertifiedAccuracyDisplay.from_certificates(y, [cert], names=["a", "b"])


def test_display_from_files_and_from_estimator(tmp_path):
    y, certificates = three_noise_levels()
    paths = []
    for name, cert in certificates.items():
        paths.append(tmp_path / name)
        write_results(paths[-1], cert, y)
    display = CertifiedAccuracyDisplay.from_files(paths, envelope=True, proxy=True)
    assert [line.get_label() for line in display.lines_] == list(certificates)  # the file names
    assert display.ax_.get_xlabel() == "proxy radius"
    for line, cert in zip(display.lines_, certificates.values()):
        np.testing.assert_array_equal(line.get_ydata(), certified_accuracy_curve(y, cert, proxy=True)[1])
    by_name = CertifiedAccuracyDisplay.from_files({"first": paths[0]})
    assert by_name.lines_[0].get_label() == "first"

    X = np.array([[d, 0.0] for d in (-0.8, -0.3, 0.1, 0.4, 0.8)], dtype=np.float32)
    y_lin = np.array([0, 0, 1, 1, 1])
    estimators = {f"sigma={s}": smoothed_linear([1.0, 0.0], 0.0, sigma=s, n=1000, n0=20) for s in (0.25, 0.5)}
    display = CertifiedAccuracyDisplay.from_estimator(estimators, X, y_lin)
    assert [line.get_label() for line in display.lines_] == ["sigma=0.25", "sigma=0.5"]
    for line, est in zip(display.lines_, estimators.values()):
        np.testing.assert_array_equal(line.get_ydata(), certified_accuracy_curve(y_lin, est.certify(X))[1])


def test_regions_balls_ellipses_and_diamonds():
    centers = np.array([[0.0, 0.0], [3.0, 1.0], [1.0, 4.0], [-2.0, 0.5]])
    label = [0, 1, -1, 1]
    gap = np.array([1.5, 0.5, 0.0, 2.0])
    balls = make_certificates(gap, label, sigma=0.5, center=centers)
    patches = plot_regions_2d(balls, X=centers, y=[0, 1, 1, 1])
    assert [type(p) for p in patches] == [Circle, Circle, Circle]  # the abstention has no region
    assert [p.get_radius() for p in patches] == [0.75, 0.25, 1.0]
    assert [tuple(p.center) for p in patches] == [(0.0, 0.0), (3.0, 1.0), (-2.0, 0.5)]
    assert patches[0].get_facecolor()[:3] != patches[1].get_facecolor()[:3]  # one colour per class
    assert patches[1].get_facecolor() == patches[2].get_facecolor()
    assert len(patches[0].axes.collections) == 2  # the data scatter and the abstention crosses

    sigma = np.array([[0.5, 0.25], [1.0, 2.0], [1.0, 1.0], [0.25, 0.75]])
    ellipses = plot_regions_2d(make_certificates(gap, label, sigma=sigma, center=centers))
    assert all(isinstance(p, Ellipse) for p in ellipses) and len(ellipses) == 3
    assert [(p.width, p.height) for p in ellipses] == [(1.5, 0.75), (1.0, 2.0), (1.0, 3.0)]

    diamonds = plot_regions_2d(make_certificates(gap, label, sigma=sigma, center=centers, norm="l1"))
    assert all(isinstance(p, Polygon) for p in diamonds) and len(diamonds) == 3
    # vertices at center +- gap * sigma_i along each axis (the polygon repeats its first vertex)
    np.testing.assert_allclose(diamonds[0].get_xy()[:4], [[0.75, 0.0], [0.0, 0.375], [-0.75, 0.0], [0.0, -0.375]])


def test_regions_need_two_features():
    with pytest.raises(ValueError, match="2 features"):
        plot_regions_2d(make_certificates([1.0], [0], center=np.zeros((1, 3))))


def test_sigma_map_shows_the_scales():
    rng = np.random.default_rng(4)
    sigma = rng.uniform(0.1, 1.0, (2, 3, 4, 5)).astype(np.float32)
    cert = make_certificates([1.0, 1.0], [0, 1], sigma=sigma)
    image = plot_sigma_map(cert, 1)
    np.testing.assert_allclose(image.get_array(), sigma[1].astype(np.float64).mean(axis=0))
    np.testing.assert_allclose(plot_sigma_map(cert, 0, channel=2, colorbar=False).get_array(), sigma[0, 2])
    flat = make_certificates([1.0], [0], sigma=sigma[:1].reshape(1, 60))
    assert plot_sigma_map(flat, image_shape=(6, 10)).get_array().shape == (6, 10)
    with pytest.raises(ValueError, match="image_shape"):
        plot_sigma_map(flat)
    with pytest.raises(ValueError, match="per-dimension sigma"):
        plot_sigma_map(with_radius([0.5], [0]))


def test_missing_matplotlib_gives_an_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)  # import fails as if not installed
    y, certificates = three_noise_levels()
    with pytest.raises(ImportError, match=r"smoothcert\[plot\]"):
        CertifiedAccuracyDisplay.from_certificates(y, certificates)
    with pytest.raises(ImportError, match=r"smoothcert\[plot\]"):
        plot_regions_2d(certificates["sigma=0.5"])
