"""One BLAS thread for the semantic cache's matrices.

The cache multiplies small matrices: a MiniLM forward pass over a few sentences (at most 256
tokens by 384 dimensions) and one vector against at most some thousands of cached ones. At these
sizes OpenBLAS's worker threads cost more than they save: on a two-core machine the seed story's
fourth step took 1.1 s usually and 7 to 21 s at times, as the workers spun against the simulator
for the same cores, and held at 1.2 to 1.35 s with one thread. ``benchmarks/cache.py`` measures
the embedder both ways. The limit is set once per process, through threadpoolctl (which talks to
whichever BLAS NumPy loaded), before the first product, and only by the code that multiplies.
"""

from __future__ import annotations

from functools import cache

__all__ = ["one_blas_thread"]


@cache
def one_blas_thread() -> None:
    """Limit NumPy's BLAS to one thread for the rest of the process (idempotent)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
