"""The GPU check: in one command on a fresh CUDA machine, what a GPU changes for smoothcert.

    python benchmarks/gpu_check.py                        # CUDA; about 4 minutes on an H200 (--budget 240)
    python benchmarks/gpu_check.py --device cpu --quick   # any machine, under a minute: that it runs
    make gpu-check [PY=python3] [ARGS="--device cpu --quick"]

Steps, each timed; the results file (``--out``) is rewritten atomically after each one, so a run cut
short still leaves what it measured:

a. ``cuda_tests``: ``pytest -q tests/test_cuda.py`` in a subprocess, its passed/failed/skipped counts
   (the CUDA-only tests skip without a GPU, with the reason).
b. ``linear``: a linear binary classifier certified on the device at default sampling (n0=100,
   n=100,000, alpha=0.001), each radius against the exact radius of its smoothed classifier (the
   distance to the hyperplane, ``tests/linear_models.py``). A radius above it (or a wrong label) is
   a violation, allowed with probability alpha per input; also the fraction of the exact radius
   reached.
c. ``throughput``: He et al.'s CIFAR ResNet-20 (3x32x32) and a ResNet-50 (3x224x224), untrained (only
   the cost matters), in float32 and under bfloat16 autocast: the floor (forward pass and argmax,
   inference mode, input fixed on the device) at a few batch sizes, and ``certify`` with
   ``SmoothedClassifier(module=..., classes=range(k), sigma=0.25, n0=100, n=..., precision=...)``,
   every other parameter at its default (the first call, which calibrates ``batch_size="auto"``, is
   timed apart): passes per second and certify / floor. Then ``compile=True``, last and within what is
   left of ``--budget``: one compile per model and precision (warmed up at the batch size that the
   eager run calibrated, batch dimension dynamic, so the remainder batch reuses it), floor and
   ``certify`` at that batch size. What does not fit is skipped and listed.
d. ``precision``: on the same noisy copies (100,000 for ResNet-20 and a digits CNN trained here for a
   few seconds, 10,000 for ResNet-50), how often the top class under bfloat16 autocast differs from
   float32's; and whether certificates (label, radius) of ``precision="float32"`` and ``"bfloat16"``
   with the same ``random_state`` differ (and compiled from eager), with the provenance each records.
   Reported, never failed: autocast changes the base classifier, and the certificate is for the
   classifier evaluated at that precision.
e. A summary on stdout.

Exit status 1 when a CUDA test fails or the linear check finds more violations than alpha allows
(the seed is fixed: a false alarm has probability below 1e-3).
"""

import argparse
import contextlib
import datetime
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
# smoothcert from this tree (a GPU machine may run it uninstalled) and the tests' linear models.
sys.path[1:1] = [str(ROOT), str(ROOT / "tests")]

from _models import cifar_resnet, digits_cnn, resnet50  # noqa: E402
from bench_gpu import median_seconds  # noqa: E402
from linear_models import smoothed_linear  # noqa: E402

import smoothcert  # noqa: E402
from smoothcert import SmoothedClassifier  # noqa: E402
from smoothcert.engine import MonteCarloEngine  # noqa: E402
from smoothcert.noise import GaussianNoise  # noqa: E402
from smoothcert.sampling import batch_memory_formats  # noqa: E402

PRECISIONS = ("float32", "bfloat16")
SIGMA = 0.25
FULL = dict(
    linear=dict(dim=64, inputs=200, n=100_000),
    models=[
        dict(name="CIFAR ResNet-20", build=lambda: cifar_resnet(20), shape=(3, 32, 32), classes=10,
             floor_batches=(256, 1024, 4096), floor_samples=8192, inputs=1, n=100_000, copies=25_000,
             compile_seconds=30),
        dict(name="ResNet-50", build=lambda: resnet50(), shape=(3, 224, 224), classes=1000,
             floor_batches=(64, 256, 512), floor_samples=1024, inputs=1, n=10_000, copies=2_500,
             compile_seconds=60),
    ],
    digits=dict(epochs=10, inputs=100, n=10_000, copies=10_000),
    repeats=3,  # timings per floor (their median); certify is timed once after its first call
)
QUICK = dict(  # small models and counts: a CPU shared with other work runs it in well under a minute
    linear=dict(dim=16, inputs=20, n=10_000),
    models=[
        dict(name="CIFAR ResNet-8 at 3x16x16 (quick)", build=lambda: cifar_resnet(8), shape=(3, 16, 16), classes=10,
             floor_batches=(64,), floor_samples=64, inputs=1, n=100, batch_size=64, copies=500, compile_seconds=60),
        dict(name="ResNet-50, base width 8, at 3x32x32 (quick)", build=lambda: resnet50(base_width=8),
             shape=(3, 32, 32), classes=1000, floor_batches=(64,), floor_samples=64, inputs=1, n=100, batch_size=64,
             copies=500, compile_seconds=120),
    ],
    digits=dict(epochs=1, inputs=10, n=200, batch_size=256, copies=200),
    repeats=1,
    threads=1,  # on a CPU shared with other work, intra-op threads wait for each other: one is many times faster
)


# -- helpers -----------------------------------------------------------------------------------------


def _json(value):
    """``value`` with numpy scalars and arrays as Python numbers and lists (for ``json.dump``)."""
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return _json(value.tolist())
    if isinstance(value, np.generic):
        return _json(value.item())
    if isinstance(value, float) and not np.isfinite(value):
        return str(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def write_atomically(path, record):
    """Write ``record`` as JSON to ``path`` through a temporary file and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as file:
            json.dump(_json(record), file, indent=1)
            file.write("\n")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp's file is private; a results file is not
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


class OutOfTime(Exception):
    """Raised in the main thread when a :func:`deadline` passes."""


@contextlib.contextmanager
def deadline(seconds):
    """Interrupt the block after ``seconds`` (SIGALRM): a compile that would overrun the budget is abandoned.

    Yields a dict whose ``"expired"`` is set when the alarm fired (torch may wrap the exception)."""
    state = {"expired": False}
    if not hasattr(signal, "setitimer"):
        yield state
        return

    def alarm(signum, frame):
        state["expired"] = True
        raise OutOfTime(f"out of the time budget after {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.01))
    try:
        yield state
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def forward(module, classes, device, precision, compiled=False, memory_format=torch.contiguous_format):
    """The callable of ``certify``'s forward passes on batches in ``memory_format`` (autocast and compile as asked)."""
    engine = MonteCarloEngine(module, GaussianNoise(), classes, 0, device=device, batch_size=1, precision=precision,
                              compile=compiled)
    return engine.model(memory_format)


def floor_passes_per_second(fns, shape, batch, samples, device, repeats):
    """Forward passes per second and argmax on a batch fixed on the device (inference mode), in the fastest of
    the layouts ``fns`` maps to their callables (those the engine chooses from: ``batch_memory_formats``)."""
    steps = max(1, samples // batch)
    rates = []
    for memory_format, fn in fns.items():
        fixed = torch.randn(batch, *shape, device=device).contiguous(memory_format=memory_format)

        def run(fn=fn, fixed=fixed):
            with torch.inference_mode():
                for _ in range(steps):
                    fn(fixed).argmax(1)

        rates.append(steps * batch / median_seconds(run, device, repeats))
    return max(rates)


def compare_certificates(first, second):
    """How two runs' certificates of the same inputs differ: labels, radii, and the precision each records."""
    radius_gap = np.abs(first.radius - second.radius)
    rows = np.flatnonzero((first.label != second.label) | (first.radius != second.radius))[:20]
    return dict(
        inputs=len(first.label),
        labels_differ=int(np.sum(first.label != second.label)),
        radii_differ=int(np.sum(first.radius != second.radius)),
        max_radius_difference=float(radius_gap.max()) if len(radius_gap) else 0.0,
        p_lower_differ=int(np.sum(first.p_lower != second.p_lower)),
        provenance_precision=[c.provenance.get("precision") for c in (first, second)],
        provenance_compile=[c.provenance.get("compile") for c in (first, second)],
        differing_rows=[dict(row=i, labels=[first.label[i], second.label[i]], radii=[first.radius[i], second.radius[i]],
                             p_lower=[first.p_lower[i], second.p_lower[i]]) for i in rows],  # the first 20
    )


def environment(device):
    record = dict(
        date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        python=platform.python_version(), platform=platform.platform(), torch=torch.__version__,
        numpy=np.__version__, smoothcert=smoothcert.__version__, device=str(device), cpu_threads=torch.get_num_threads(),
    )
    with contextlib.suppress(Exception):
        record["git_commit"] = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                              timeout=10).stdout.strip() or None
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        record.update(
            device_name=torch.cuda.get_device_name(device), capability=f"{props.major}.{props.minor}",
            memory_gib=round(props.total_memory / 2**30, 1), cuda=torch.version.cuda,
            cudnn=torch.backends.cudnn.version(),
        )
        # What "float32" means there: by default cuDNN runs float32 convolutions in TF32, matrix products not.
        switches = dict(
            cudnn_allow_tf32=lambda: torch.backends.cudnn.allow_tf32,
            matmul_allow_tf32=lambda: torch.backends.cuda.matmul.allow_tf32,
            float32_matmul_precision=torch.get_float32_matmul_precision,
            cudnn_conv_fp32_precision=lambda: torch.backends.cudnn.conv.fp32_precision,  # newer torch's switches
            cuda_matmul_fp32_precision=lambda: torch.backends.cuda.matmul.fp32_precision,
        )
        for name, switch in switches.items():
            with contextlib.suppress(Exception):
                record[name] = switch()
    else:
        record["device_name"] = f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"
    return record


# -- a. the CUDA tests ---------------------------------------------------------------------------------


def cuda_tests(timeout, threads=None):
    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "pytest", "-q", "-ra", "-p", "no:cacheprovider", "tests/test_cuda.py"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    output = done.stdout + done.stderr
    last = [line for line in output.splitlines() if re.search(r"\d+ (passed|failed|skipped|error)", line)]
    counts = {key: 0 for key in ("passed", "failed", "skipped", "errors")}
    for number, key in re.findall(r"(\d+) (passed|failed|skipped|errors?)", last[-1] if last else ""):
        counts["errors" if key.startswith("error") else key] = int(number)
    return dict(
        command=" ".join(command[2:]), returncode=done.returncode, **counts,
        summary=last[-1].strip("= ") if last else None,
        skip_reasons=sorted({line.split(": ", 1)[-1] for line in output.splitlines() if line.startswith("SKIPPED")}),
        ok=done.returncode == 0 and counts["failed"] == 0 and counts["errors"] == 0,
        output_tail=output[-3000:],
    )


# -- b. linear model against its exact radius ---------------------------------------------------------


def linear_check(device, dim, inputs, n):
    from scipy.stats import binom, norm

    rng = np.random.default_rng(0)
    w = rng.normal(size=dim).astype(np.float32)
    b = np.float32(0.1)
    w64, b64 = w.astype(np.float64), float(b)
    scale = np.linalg.norm(w64)
    # Inputs at signed distances up to 1.2 (4.8 sigma) from the hyperplane w.x + b = 0, in random directions along it.
    distance = rng.uniform(0.01, 1.2, inputs) * rng.choice([-1.0, 1.0], inputs)
    Z = rng.normal(size=(inputs, dim))
    Z -= np.outer((Z @ w64 + b64) / scale**2, w64)
    X = (Z + np.outer(distance, w64 / scale)).astype(np.float32)
    margin = X.astype(np.float64) @ w64 + b64  # exact for the float32 inputs and weights the model holds
    exact = np.abs(margin) / scale
    truth = (margin > 0).astype(np.int64)
    params = dict(sigma=SIGMA, device=str(device))
    if n is not None:
        params["n"] = n
    clf = smoothed_linear(w, b, **params)
    start = time.perf_counter()
    cert = clf.certify(X)
    seconds = time.perf_counter() - start
    alpha, n_used = clf.alpha, clf.n
    certified = ~cert.abstained
    tolerance = 1e-6 * (1 + exact)
    wrong_label = certified & (cert.label != truth)
    too_large = certified & (cert.radius > exact + tolerance)
    violations = int(np.sum(wrong_label | too_large))
    allowed = int(binom.ppf(1 - 1e-3, inputs, alpha))  # P(more than this | every certificate sound) < 1e-3
    # The largest radius n samples can certify (all n votes for the top class): sigma * Phi^-1(alpha^(1/n)).
    reachable = SIGMA * norm.ppf(alpha ** (1 / n_used))
    ratio = np.where(certified, cert.radius / exact, 0.0)
    within = exact < reachable
    return dict(
        inputs=inputs, dim=dim, sigma=SIGMA, n0=clf.n0, n=n_used, alpha=alpha, seconds=seconds,
        passes_per_second=inputs * (clf.n0 + n_used) / seconds, batch_size=getattr(clf, "batch_size_", clf.batch_size),
        certified=int(certified.sum()), violations=violations, wrong_labels=int(wrong_label.sum()),
        radius_above_exact=int(too_large.sum()), expected_violations_at_most=alpha * inputs, allowed_violations=allowed,
        max_radius_over_exact=float(np.max((cert.radius - exact)[certified], initial=-np.inf)),
        reachable_radius=reachable,
        mean_fraction_of_exact=float(ratio.mean()),
        mean_fraction_of_exact_below_reachable=float(ratio[within].mean()) if within.any() else None,
        median_fraction_of_exact_below_reachable=float(np.median(ratio[within])) if within.any() else None,
        provenance=cert.provenance,
        ok=violations <= allowed,
    )


# -- c. throughput ------------------------------------------------------------------------------------


def measure_config(spec, module, X, device, precision, compiled, repeats, batch_size=None):
    """Floor and ``certify`` of one model at one precision, eager or compiled; returns (row, certificates)."""
    k, shape = spec["classes"], spec["shape"]
    params = dict(module=module, classes=range(k), sigma=SIGMA, n0=100, n=spec["n"], precision=precision,
                  compile=compiled, random_state=0, device=str(device))
    if batch_size is not None:
        params["batch_size"] = batch_size
    clf = SmoothedClassifier(**params)
    row = dict(model=spec["name"], input="x".join(map(str, shape)), precision=precision, compile=compiled,
               inputs=len(X), n0=100, n=spec["n"])
    if compiled:
        # The estimator's own copy of the module, so that the floor and certify share one compiled graph.
        clf.noise_scales(X[:1])  # sets module_ and runs no forward pass (fixed sigma, fixed batch size)
        fn = forward(clf.module_, k, device, precision, compiled=True)
        warm = torch.randn(batch_size, *shape, device=device)  # an int batch size runs the module as given
        torch._dynamo.maybe_mark_dynamic(warm, 0)  # one graph for every batch size >= 2 (the remainder batch too)

        def compile_once():
            with torch.inference_mode():
                fn(warm)

        row["compile_seconds"] = median_seconds(compile_once, device, 1, warm_up=False)
        batches = (batch_size,)
    else:
        batches = spec["floor_batches"]
    row["first_call_seconds"] = median_seconds(lambda: clf.certify(X[:1]), device, 1, warm_up=False)
    row["batch_size"] = getattr(clf, "batch_size_", clf.batch_size)
    row["batch_size_calibrated"] = clf.batch_size == "auto"
    if compiled:
        fns = {torch.contiguous_format: fn}
    else:
        formats = batch_memory_formats(torch.empty(1, *shape))
        fns = {f: forward(clf.module_, k, device, precision, memory_format=f) for f in formats}
    row["floor_passes_per_second"] = {
        str(b): floor_passes_per_second(fns, shape, b, spec["floor_samples"], device, repeats) for b in batches}
    best = max(row["floor_passes_per_second"].values())
    result = {}
    seconds = median_seconds(lambda: result.update(cert=clf.certify(X)), device, 1, warm_up=False)
    passes = len(X) * (100 + spec["n"])
    row.update(certify_seconds=seconds, certify_passes_per_second=passes / seconds, best_floor_passes_per_second=best,
               certify_over_floor=best * seconds / passes)
    return row, result["cert"]


def compile_settings():
    """Room for a graph per model and precision (dynamo keeps 8 per code object by default; both ResNets are
    ``Sequential``s)."""
    config = torch._dynamo.config
    for name in ("cache_size_limit", "recompile_limit"):
        if hasattr(config, name):
            setattr(config, name, max(getattr(config, name), 64))


# -- d. precision -------------------------------------------------------------------------------------


def disagreement(module, X, classes, copies, device, batch):
    """Top class under float32 and under bfloat16 autocast on the same noisy copies of each row of ``X``."""
    f32, bf16 = (forward(module, classes, device, p) for p in PRECISIONS)
    shape = tuple(X.shape[1:])
    generator = torch.Generator(device=device)
    generator.manual_seed(0)
    X_t = torch.as_tensor(X, device=device)
    differ = torch.zeros((), dtype=torch.int64, device=device)
    ties = torch.zeros((), dtype=torch.int64, device=device)
    votes = {p: torch.zeros(len(X), classes, dtype=torch.int64, device=device) for p in PRECISIONS}
    for i, x in enumerate(X_t):
        left = copies
        while left:
            size = min(batch, left)
            noise = torch.randn((size, *shape), generator=generator, device=device)
            noisy = x + SIGMA * noise
            with torch.inference_mode():
                scores = f32(noisy).float()
                top = scores.argmax(1)
                other = bf16(noisy).argmax(1)
                differ += (top != other).sum()
                best2 = scores.topk(2, dim=1).values
                # A near tie: the two best float32 scores within bfloat16's resolution (2^-8) of the larger magnitude.
                ties += (best2[:, 0] - best2[:, 1] <= 2**-8 * best2.abs().max(1).values).sum()
                votes["float32"][i] += torch.bincount(top, minlength=classes)
                votes["bfloat16"][i] += torch.bincount(other, minlength=classes)
            left -= size
    total = copies * len(X)
    counts = {p: v.cpu().numpy() for p, v in votes.items()}
    share = {p: c.max(1) / copies for p, c in counts.items()}
    return dict(
        copies=total, inputs=len(X), copies_per_input=copies, sigma=SIGMA, disagreements=int(differ),
        disagreement_rate=int(differ) / total, near_ties=int(ties), near_tie_rate=int(ties) / total,
        same_top_class_per_input=(counts["float32"].argmax(1) == counts["bfloat16"].argmax(1)).tolist(),
        top_share_float32=share["float32"], top_share_bfloat16=share["bfloat16"],
    )


def digits_data():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    X = (digits.images / 16.0).astype(np.float32)[:, None]
    return train_test_split(X, digits.target, test_size=0.25, random_state=0, stratify=digits.target)


def digits_check(settings, device):
    """A digits CNN trained here with noise: a trained network's disagreement, beside the untrained ResNets'."""
    X_train, X_test, y_train, y_test = digits_data()
    start = time.perf_counter()
    trained = SmoothedClassifier(module=digits_cnn(), sigma=SIGMA, max_epochs=settings["epochs"], random_state=0,
                                 device=str(device)).fit(X_train, y_train)
    record = dict(model="digits CNN (1x8x8)", epochs=settings["epochs"], train_seconds=time.perf_counter() - start)
    module = trained.module_.eval()
    X, y = X_test[: settings["inputs"]], y_test[: settings["inputs"]]
    certs = {}
    for precision in PRECISIONS:
        params = {"batch_size": settings["batch_size"]} if "batch_size" in settings else {}  # quick: no calibration
        clf = SmoothedClassifier(module=module, classes=range(10), sigma=SIGMA, n0=100, n=settings["n"],
                                 precision=precision, random_state=0, device=str(device), **params)
        certs[precision] = clf.certify(X)
        record[f"accuracy_certified_at_radius_0_{precision}"] = float(np.mean(certs[precision].label == y))
    record["certificates"] = compare_certificates(certs["float32"], certs["bfloat16"])
    record["certificates"]["n"] = settings["n"]
    record["disagreement"] = disagreement(module, X[:10], 10, settings["copies"], device, 4096)
    return record


# -- e. summary ---------------------------------------------------------------------------------------


def summary(record):
    env = record["environment"]
    lines = [f"\nsmoothcert GPU check: {env['device_name']}, torch {env['torch']}, smoothcert {env['smoothcert']}, "
             f"{env['date']}, {record.get('total_seconds', 0):.0f} s" + (" (quick)" if record["quick"] else "")]
    steps = record["steps"]
    tests = steps.get("cuda_tests", {})
    if "error" in tests or not tests:
        lines.append(f"a. CUDA tests: not run ({tests.get('error', 'missing').splitlines()[-1] if tests else 'missing'})")
    else:
        lines.append(f"a. CUDA tests: {tests['passed']} passed, {tests['failed']} failed, {tests['skipped']} skipped, "
                     f"{tests['errors']} errors ({tests['seconds']:.0f} s)"
                     + (f"; skipped because: {'; '.join(tests['skip_reasons'])}" if tests["skip_reasons"] else ""))
    linear = steps.get("linear", {})
    if "violations" in linear:
        fraction = linear["mean_fraction_of_exact_below_reachable"]
        lines.append(
            f"b. linear model, n={linear['n']:,}: {linear['certified']}/{linear['inputs']} certified, "
            f"{linear['violations']} violations (alpha allows {linear['allowed_violations']}: "
            f"{'OK' if linear['ok'] else 'FAIL'}); radius / exact radius {fraction or float('nan'):.3f} on average where "
            f"the exact one is below {linear['reachable_radius']:.3f} (the most n samples certify); "
            f"{linear['passes_per_second']:,.0f} passes/s")
    else:
        lines.append(f"b. linear model: {linear.get('error', 'not run').splitlines()[-1]}")
    rows = steps.get("throughput", {}).get("rows", [])
    if rows:
        lines.append("c. throughput (passes/s; certify / floor is time per sample over the best floor's)")
        lines.append("| model | precision | compile | floor, by batch | certify | batch | certify / floor | first call (s) |")
        lines.append("|---|---|---|---|---:|---:|---:|---:|")
        for row in rows:
            floors = ", ".join(f"{b}: {v:,.0f}" for b, v in row["floor_passes_per_second"].items())
            first = f"{row['first_call_seconds']:.1f}" + (f" + compile {row['compile_seconds']:.1f}" if row["compile"] else "")
            lines.append(f"| {row['model']} | {row['precision']} | {row['compile']} | {floors} | "
                         f"{row['certify_passes_per_second']:,.0f} | {row['batch_size']} | {row['certify_over_floor']:.2f} | "
                         f"{first} |")
    for skipped in steps.get("throughput", {}).get("skipped", []):
        lines.append(f"   skipped: {skipped}")
    precision = steps.get("precision", {})
    for item in precision.get("disagreement", []):
        d = item["disagreement"]
        lines.append(f"d. {item['model']}: bf16 and float32 top class differ on {d['disagreements']:,} of "
                     f"{d['copies']:,} noisy copies ({d['disagreement_rate']:.3%}; near ties {d['near_tie_rate']:.3%})")
    for item in precision.get("certificates", []):
        c = item["comparison"]
        lines.append(f"   certificates {item['model']}, {item['runs']}: labels differ {c['labels_differ']}/{c['inputs']}, "
                     f"radii differ {c['radii_differ']}/{c['inputs']} (max {c['max_radius_difference']:.4f}), "
                     f"provenance precision {c['provenance_precision']}, compile {c['provenance_compile']}")
    for name, step in steps.items():
        if "error" in step and name not in ("cuda_tests", "linear"):
            lines.append(f"   {name}: error: {step['error'].strip().splitlines()[-1]}")
    lines.append(f"results: {record['out']}; {'all checks passed' if record['ok'] else 'A CHECK FAILED'}")
    return "\n".join(lines)


# -- main ---------------------------------------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--quick", action="store_true", help="tiny sizes and models: a check that it runs (< 1 min on a CPU)")
    parser.add_argument("--out", default=None, help="results file (default benchmarks/results/gpu_check[_cpu][_quick].json)")
    parser.add_argument("--budget", type=float, default=240.0,
                        help="seconds for the whole run; compile runs only within what is left (default 240)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: 1 with --device cpu --quick, else torch's default)")
    parser.add_argument("--compile", choices=("auto", "on", "off"), default="auto",
                        help="torch.compile rows: auto = on CUDA only (compiling on a CPU takes minutes)")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error(f"no CUDA device here (torch {torch.__version__}, built for CUDA {torch.version.cuda}); "
                     "use --device cpu --quick to check that the script runs")
    device = torch.device(args.device)
    out = Path(args.out) if args.out else (
        ROOT / "benchmarks" / "results" / f"gpu_check{'_cpu' if args.device == 'cpu' else ''}{'_quick' if args.quick else ''}.json")
    settings = QUICK if args.quick else FULL
    threads = args.threads or (settings.get("threads") if device.type == "cpu" else None)
    if threads:
        torch.set_num_threads(threads)
    compiling = args.compile == "on" or (args.compile == "auto" and device.type == "cuda")
    start = time.perf_counter()

    def left():
        return args.budget - (time.perf_counter() - start)

    record = dict(check="smoothcert GPU check", argv=sys.argv[1:], quick=args.quick, budget_seconds=args.budget,
                  out=str(out), environment=environment(device), steps={}, ok=False)
    print(f"{record['environment']['device_name']}, torch {torch.__version__}; writing {out}", flush=True)

    def step(name, function):
        print(f"\n[{time.perf_counter() - start:5.0f} s] {name} ...", flush=True)
        begun = time.perf_counter()
        try:
            result = function()
        except Exception:
            result = dict(error=traceback.format_exc(), ok=False)
            print(result["error"], file=sys.stderr, flush=True)
        result["seconds"] = result.get("seconds", time.perf_counter() - begun)
        result["step_seconds"] = time.perf_counter() - begun
        record["steps"][name] = result
        record["total_seconds"] = time.perf_counter() - start
        write_atomically(out, record)
        return result

    step("cuda_tests", lambda: cuda_tests(timeout=max(120, args.budget), threads=threads))
    step("linear", lambda: linear_check(device, **settings["linear"]))

    # c. eager rows, then d., then the compiled rows within what is left.
    specs, modules, inputs, certs, rows, skipped = settings["models"], {}, {}, {}, [], []
    for spec in specs:
        torch.manual_seed(0)
        modules[spec["name"]] = spec["build"]().eval().to(device)  # as a user gives it; the engine picks the layout
        inputs[spec["name"]] = np.random.default_rng(0).random((spec["inputs"], *spec["shape"]), dtype=np.float32)

    def eager():
        for spec in specs:
            for precision in PRECISIONS:
                row, cert = measure_config(spec, modules[spec["name"]], inputs[spec["name"]], device, precision, False,
                                           settings["repeats"], batch_size=spec.get("batch_size"))
                rows.append(row)
                certs[spec["name"], precision, False] = cert
                print(f"  {row['model']}, {precision}: certify {row['certify_passes_per_second']:,.0f} passes/s, "
                      f"certify / floor {row['certify_over_floor']:.2f}", flush=True)
        return dict(rows=rows, skipped=skipped)

    step("throughput", eager)

    def precision_step():
        found = dict(disagreement=[], certificates=[])
        for spec in specs:
            name = spec["name"]
            found["disagreement"].append(dict(model=name, disagreement=disagreement(
                modules[name], np.random.default_rng(1).random((4, *spec["shape"]), dtype=np.float32), spec["classes"],
                spec["copies"], device, max(spec["floor_batches"]))))
            d = found["disagreement"][-1]["disagreement"]
            print(f"  {name}: {d['disagreement_rate']:.3%} of {d['copies']:,} copies differ", flush=True)
            if (name, "float32", False) in certs and (name, "bfloat16", False) in certs:
                found["certificates"].append(dict(model=name, runs="float32 vs bfloat16", comparison=compare_certificates(
                    certs[name, "float32", False], certs[name, "bfloat16", False])))
        digits = digits_check(settings["digits"], device)
        found["digits"] = digits
        found["disagreement"].append(dict(model=f"{digits['model']}, trained", disagreement=digits["disagreement"]))
        found["certificates"].append(dict(model=f"{digits['model']}, trained", runs="float32 vs bfloat16",
                                          comparison=digits["certificates"]))
        found["ok"] = True  # reported, never failed
        return found

    precision = step("precision", precision_step)

    def compiled():
        if not compiling:
            skipped.append(f"torch.compile: {'--compile off' if args.compile == 'off' else 'not on a CPU (--compile on to force)'}")
            return dict(rows=rows, skipped=skipped)
        compile_settings()
        order = [(spec, p) for spec in specs for p in PRECISIONS]
        order = order[:2] + order[3:1:-1]  # ResNet-20 float32, bfloat16, then ResNet-50 bfloat16 (what one deploys), float32
        for spec, p in order:
            name, eager_row = spec["name"], next((r for r in rows if r["model"] == spec["name"] and r["precision"] == p), None)
            room = left() - 15  # kept for the summary and the results file
            if eager_row is None:
                skipped.append(f"{name}, {p}, compile: no eager run to take the batch size from")
                continue
            if room < spec["compile_seconds"]:
                skipped.append(f"{name}, {p}, compile: {max(room, 0):.0f} s left of --budget {args.budget:.0f}, "
                               f"a compile takes about {spec['compile_seconds']} s")
                continue
            print(f"  {name}, {p}, compile (at most {room:.0f} s) ...", flush=True)
            with deadline(room) as state:
                try:
                    row, cert = measure_config(spec, modules[name], inputs[name], device, p, True, settings["repeats"],
                                               batch_size=eager_row["batch_size"])
                except Exception as exc:
                    if state["expired"] or isinstance(exc, OutOfTime):
                        skipped.append(f"{name}, {p}, compile: abandoned at the end of --budget {args.budget:.0f} s")
                    else:  # compile=True failed: a finding, not a measurement to skip
                        errors.append(f"{name}, {p}, compile:\n{traceback.format_exc()}")
                        skipped.append(f"{name}, {p}, compile: FAILED ({type(exc).__name__}: {exc})"[:300])
                    continue
            rows.append(row)
            certs[name, p, True] = cert
            print(f"  {name}, {p}, compiled: certify {row['certify_passes_per_second']:,.0f} passes/s, "
                  f"certify / floor {row['certify_over_floor']:.2f}, compile {row['compile_seconds']:.0f} s", flush=True)
            precision.setdefault("certificates", []).append(dict(
                model=name, runs=f"{p}, eager vs compiled", comparison=compare_certificates(certs[name, p, False], cert)))
            write_atomically(out, record)  # the row is in the throughput table already (the same list)
        return dict(rows=rows, skipped=skipped, errors=errors, ok=not errors)

    errors = []
    result = step("throughput_compiled", compiled)
    if "rows" in result:  # one table: the compiled rows join the eager ones
        record["steps"]["throughput"].update(rows=rows, skipped=skipped)
        del result["rows"], result["skipped"]
    record["total_seconds"] = time.perf_counter() - start
    record["ok"] = all(done.get("ok", True) for done in record["steps"].values())
    write_atomically(out, record)
    print(summary(record), flush=True)
    return 0 if record["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
