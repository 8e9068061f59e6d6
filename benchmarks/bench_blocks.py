"""Host cost of one noise block: does one generator launch per block starve a GPU at 3x224x224?

:func:`smoothcert.sampling.count_votes` draws each noise block from its own seeded generator
(one launch, plus the copy into the batch and the owner bookkeeping). A 3x224x224 block holds 6
samples, so a GPU gets a launch per 6 samples. The host issues them asynchronously; they starve
the GPU only if issuing a block takes longer than the GPU's forward pass on its 6 samples.

This measures the host's cost per block on the CPU: the same number of samples of a tiny input
(64 floats, so drawing and copying the noise costs almost nothing) is counted with a model that
costs nothing, once with the real blocks (1024 samples) and once with the block cap lowered so
that a block holds 6 samples; the difference divided by the extra blocks is the host's cost of a
block. Best of 5.

    python benchmarks/bench_blocks.py
"""

import time

import torch
from _models import FreeModel

from smoothcert import sampling
from smoothcert.noise import GaussianNoise


def seconds(block_elements, num, batch):
    sampling._BLOCK_ELEMENTS, saved = block_elements, sampling._BLOCK_ELEMENTS
    try:
        x, scales = torch.zeros(1, 64), torch.full((1,), 0.25)
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            sampling.count_votes(FreeModel(), x, scales, GaussianNoise(), num, [0], sampling.Stage.ESTIMATION, 10, batch)
            best = min(best, time.perf_counter() - start)
        return best
    finally:
        sampling._BLOCK_ELEMENTS = saved


def main():
    num, batch, small = 60_000, 256, 6
    large = sampling.noise_block_size(64)
    extra_blocks = num / small - num / large
    per_block = (seconds(small * 64, num, batch) - seconds(sampling._BLOCK_ELEMENTS, num, batch)) / extra_blocks
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"host cost per noise block: {per_block * 1e6:.1f} us; at 3x224x224 ({sampling.noise_block_size(3 * 224 * 224)} "
          f"samples a block) {per_block / small * 1e6:.2f} us of host time per sample, so the GPU waits on the host only "
          f"if its forward pass runs faster than {small / per_block:,.0f} images per second")


if __name__ == "__main__":
    main()
