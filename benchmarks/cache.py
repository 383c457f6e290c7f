"""Semantic cache: lookup latency at 1k, 10k and 100k cached entries against a brute-force
pure-Python scan of the same vectors, and embedding throughput batched against one text at a
time, all measured in the same run."""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DIMENSIONS = 384


def _unit_vectors(count: int, rng: random.Random) -> list[list[float]]:
    rows = []
    for _ in range(count):
        row = [rng.gauss(0, 1) for _ in range(DIMENSIONS)]
        norm = sum(x * x for x in row) ** 0.5
        rows.append([x / norm for x in row])
    return rows


def _brute_force(rows: list[list[float]], query: list[float], threshold: float) -> int | None:
    best, best_index = -2.0, None
    for index, row in enumerate(rows):
        similarity = sum(a * b for a, b in zip(row, query, strict=True))
        if similarity > best:
            best, best_index = similarity, index
    return best_index if 1 - best <= threshold else None


def bench_lookup() -> None:
    import numpy as np

    from apimgen.simulate.embeddings.index import VectorIndex

    rng = random.Random(7)
    for size in (1_000, 10_000, 100_000):
        rows = _unit_vectors(size, rng)
        matrix = np.array(rows, dtype=np.float32)
        index = VectorIndex(DIMENSIONS)
        for i in range(size):
            index.store("p", matrix[i], i, now=0.0, duration=3600.0)
        queries = matrix[:: max(1, size // 20)][:20]
        start = time.perf_counter()
        for query in queries:
            index.lookup("p", query, now=1.0, threshold=0.05)
        indexed = (time.perf_counter() - start) / len(queries)
        probes = rows[:: max(1, size // 3)][:3]  # the baseline is slow: fewer probes
        start = time.perf_counter()
        for probe in probes:
            _brute_force(rows, probe, 0.05)
        brute = (time.perf_counter() - start) / len(probes)
        print(
            f"cache     lookup at {size:>7,} entries {indexed * 1000:8.3f} ms | brute force "
            f"{brute * 1000:9.1f} ms | {brute / indexed:7.0f}x faster"
        )


def bench_embeddings() -> None:
    """Throughput with the one BLAS thread apimgen sets, against every core BLAS would use by
    itself (threadpoolctl lifts the limit for the comparison)."""
    import os

    from threadpoolctl import threadpool_limits

    from apimgen.simulate.embeddings.minilm import load_minilm

    start = time.perf_counter()
    model = load_minilm()  # sets one BLAS thread
    loaded = time.perf_counter() - start
    texts = [f"What are the opening hours of store number {i} on a Sunday?" for i in range(256)]
    model.encode(texts[:8])  # warm

    def throughput() -> tuple[float, float]:
        start = time.perf_counter()
        model.encode(texts)
        batched = len(texts) / (time.perf_counter() - start)
        start = time.perf_counter()
        for text in texts[:32]:
            model.encode([text])
        return batched, 32 / (time.perf_counter() - start)

    batched, single = throughput()
    with threadpool_limits(limits=os.cpu_count() or 1, user_api="blas"):
        threaded_batched, threaded_single = throughput()
    print(
        f"cache     embeddings: model load {loaded:5.2f} s | one BLAS thread: batched "
        f"{batched:6.0f} texts/s, one at a time {single:6.0f} texts/s | {os.cpu_count()} BLAS "
        f"threads: {threaded_batched:6.0f} and {threaded_single:6.0f} texts/s | one thread "
        f"{batched / threaded_batched:4.2f}x and {single / threaded_single:4.2f}x as fast"
    )


def main() -> None:
    bench_embeddings()
    bench_lookup()


if __name__ == "__main__":
    main()
