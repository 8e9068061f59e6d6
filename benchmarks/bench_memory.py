"""Per-query time of CertificateMemory at 1k / 10k / 100k stored entries (d = 64), tree vs brute scan.

One memory is grown by ``partial_fit`` (the real insertion path: every entry is resolved against
the earlier ones) up to each size; at each size the same held-out queries are resolved with
``transform`` (read-only) by the k-d tree index and by a float64 scan of every entry, in the same
run, and the two results are checked to be identical. Single-query latency (one ``transform`` call
per input, the online case) and batched time per query are both reported.

Data: isotropic l2 certificates (sigma = 0.25, gap drawn like CERTIFY's at n = 1e5, radius <= 0.95)
centred on points of either

* ``blobs``: 20 Gaussian clusters in 64-D (full intrinsic dimension: hard for trees), or
* ``manifold``: an 8-D latent mapped into 64-D (low intrinsic dimension, as real data tends to be).

Run::

    .venv/bin/python benchmarks/bench_memory.py                  # 1k, 10k, 100k (a few minutes)
    .venv/bin/python benchmarks/bench_memory.py --sizes 1000 10000 --queries 100
"""

import argparse
import time

import numpy as np

from smoothcert import CertificateMemory, Certificates
from smoothcert.noise import get_noise


def make_points(kind, n, dim, rng):
    """Input points of the given kind (float32, like the estimator's inputs)."""
    if kind == "blobs":
        means = rng.uniform(-5.0, 5.0, (20, dim))
        return (means[rng.integers(0, 20, n)] + rng.normal(size=(n, dim))).astype(np.float32)
    latent = rng.normal(size=(n, 8))
    return (3.0 * np.tanh(latent @ rng.normal(size=(8, dim)) / np.sqrt(8.0))).astype(np.float32)


def make_certificates(points, rng, n_classes=10, sigma=0.25):
    """Isotropic l2 certificates around ``points`` with labels and radii like CERTIFY's."""
    n, dim = points.shape
    noise = get_noise("l2")
    p_lower = np.minimum(rng.uniform(0.6, 1.0, n), 0.99993)  # 0.99993: the cap at n = 1e5, alpha = 1e-3
    gap = noise.gap(p_lower)
    scales = np.full(n, sigma, np.float32)
    label = rng.integers(0, n_classes, n)
    return Certificates.from_arrays(
        label=label, class_index=label, p_lower=p_lower, gap=gap, radius=noise.radius(gap, scales),
        sigma=scales, norm="l2", log_volume=noise.log_volume(gap, scales, dim),
        proxy_radius=noise.proxy_radius(gap, scales), abstained=np.zeros(n, bool), center=points, alpha=0.001,
    )


def per_query_ms(memory, queries, single):
    """Best of 3: milliseconds per query, batched (one call) or single (one call per query)."""
    best = np.inf
    for _ in range(3):
        start = time.perf_counter()
        if single:
            out = [memory.transform(queries[i]) for i in range(len(queries))]
        else:
            out = memory.transform(queries)
        best = min(best, time.perf_counter() - start)
    return 1e3 * best / len(queries), out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--data", choices=["blobs", "manifold"], nargs="+", default=["blobs", "manifold"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sizes = sorted(args.sizes)
    print(f"d={args.dim}, {args.queries} queries; times in ms per query (best of 3); insert = partial_fit per entry")
    print(f"{'data':>9} {'entries':>8} {'insert':>8} {'tree 1-by-1':>12} {'brute 1-by-1':>13} {'ratio':>6} "
          f"{'tree batch':>11} {'brute batch':>12} {'ratio':>6}")
    for kind in args.data:
        rng = np.random.default_rng(args.seed)
        points = make_points(kind, sizes[-1] + args.queries, args.dim, rng)
        cert = make_certificates(points, rng)
        stored, queries = cert[: sizes[-1]], cert[sizes[-1]:]
        memory = CertificateMemory(algorithm="kd_tree")
        done = 0
        for size in sizes:
            start = time.perf_counter()
            memory.partial_fit(stored[done:size])
            insert_ms = 1e3 * (time.perf_counter() - start) / (size - done)
            done = size
            row = []
            for single in (True, False):
                times = {}
                for algorithm in ("kd_tree", "brute"):
                    memory.set_params(algorithm=algorithm)
                    memory.transform(queries[:1])  # builds or drops the index outside the timing
                    times[algorithm], out = per_query_ms(memory, queries, single)
                    if single:
                        out = Certificates.from_arrays(**{
                            name: np.concatenate([getattr(o, name) for o in out])
                            for name in ("label", "class_index", "p_lower", "gap", "radius", "sigma",
                                         "log_volume", "proxy_radius", "abstained", "center", "memory_entry")
                        }, norm="l2", alpha=0.001)
                    times[algorithm + "_out"] = out
                a, b = times["kd_tree_out"], times["brute_out"]
                assert np.array_equal(a.radius, b.radius) and np.array_equal(a.memory_entry, b.memory_entry)
                row += [times["kd_tree"], times["brute"], times["brute"] / times["kd_tree"]]
            memory.set_params(algorithm="kd_tree")
            print(f"{kind:>9} {size:>8} {insert_ms:>8.3f} {row[0]:>12.3f} {row[1]:>13.3f} {row[2]:>6.1f} "
                  f"{row[3]:>11.3f} {row[4]:>12.3f} {row[5]:>6.1f}", flush=True)


if __name__ == "__main__":
    main()
