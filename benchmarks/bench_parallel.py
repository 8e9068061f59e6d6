"""Sharded certification: one process versus joblib loky workers versus a Dask LocalCluster.

Same estimator, same inputs, same random_state: the three runs must return identical certificates
(checked), and the wall times are printed side by side.

    python benchmarks/bench_parallel.py [--inputs 64] [--n 5000] [--workers 2]
"""

import argparse
import time

import joblib
import numpy as np
from sklearn.datasets import load_digits

from smoothcert import SmoothedClassifier


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--inputs", type=int, default=64)
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    import distributed

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    clf = SmoothedClassifier(sigma=0.25, n=args.n, max_epochs=5, random_state=0, device="cpu").fit(X[:1000], y[:1000])
    X_test = X[1000 : 1000 + args.inputs]
    timings, results = {}, {}

    def run(name, n_jobs):
        start = time.perf_counter()
        results[name] = clf.set_params(n_jobs=n_jobs).certify(X_test)
        timings[name] = time.perf_counter() - start

    run("single process", None)
    run(f"loky, {args.workers} workers", args.workers)
    with distributed.LocalCluster(
        n_workers=args.workers, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
    ) as cluster, distributed.Client(cluster):
        with joblib.parallel_backend("dask"):
            run(f"dask LocalCluster, {args.workers} workers", -1)
    reference = results["single process"]
    for name, cert in results.items():
        np.testing.assert_array_equal(cert.p_lower, reference.p_lower)
        np.testing.assert_array_equal(cert.label, reference.label)
        print(f"{name:>32}: {timings[name]:6.2f} s  ({timings[name] / timings['single process']:.2f}x single)  identical")


if __name__ == "__main__":
    main()
