"""The semantic cache's store: unit vectors per partition, nearest neighbour by cosine distance.

APIM's ``score-threshold`` is a distance (lower is stricter), so a hit is the closest live entry
with ``1 - cosine ≤ threshold``. Vectors sit in one growing NumPy matrix per partition and a
lookup is a single matrix-vector product, which stays fast at 100k entries (see
benchmarks/cache.py); expired rows are skipped by a mask and compacted when they dominate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from apimgen.simulate.embeddings.blas import one_blas_thread

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["Hit", "VectorIndex"]


@dataclass(frozen=True)
class Hit:
    distance: float
    value: Any
    stored_at: float


@dataclass
class _Partition:
    dimensions: int
    vectors: Any = None  # float32 (capacity, dimensions)
    expires: Any = None  # float64 (capacity,)
    values: list[Any] = field(default_factory=list)
    stored: list[float] = field(default_factory=list)
    size: int = 0

    def __post_init__(self) -> None:
        import numpy as np

        one_blas_thread()
        self.vectors = np.zeros((16, self.dimensions), dtype=np.float32)
        self.expires = np.full(16, -np.inf)

    def add(self, vector: npt.NDArray[np.float32], expires: float, value: Any, now: float) -> None:
        import numpy as np

        if self.size == len(self.expires):
            live = self.expires[: self.size] > now
            if live.sum() < self.size // 2:  # mostly expired: compact instead of growing
                keep = np.flatnonzero(live)
                self.vectors[: len(keep)] = self.vectors[keep]
                self.expires[: len(keep)] = self.expires[keep]
                self.values = [self.values[i] for i in keep]
                self.stored = [self.stored[i] for i in keep]
                self.expires[len(keep) :] = -np.inf
                self.size = len(keep)
            else:
                self.vectors = np.concatenate([self.vectors, np.zeros_like(self.vectors)])
                self.expires = np.concatenate([self.expires, np.full(len(self.expires), -np.inf)])
        self.vectors[self.size] = vector
        self.expires[self.size] = expires
        self.values.append(value)
        self.stored.append(now)
        self.size += 1


@dataclass
class VectorIndex:
    dimensions: int
    partitions: dict[str, _Partition] = field(default_factory=dict)

    def __len__(self) -> int:
        return sum(p.size for p in self.partitions.values())

    def store(
        self,
        partition: str,
        vector: npt.NDArray[np.float32],
        value: Any,
        now: float,
        duration: float,
    ) -> None:
        part = self.partitions.get(partition)
        if part is None:
            part = self.partitions[partition] = _Partition(self.dimensions)
        part.add(vector, now + duration, value, now)

    def lookup(
        self, partition: str, vector: npt.NDArray[np.float32], now: float, threshold: float
    ) -> Hit | None:
        """The nearest live entry within ``threshold`` (cosine distance), if any."""
        import numpy as np

        part = self.partitions.get(partition)
        if part is None or part.size == 0:
            return None
        similarity = part.vectors[: part.size] @ vector
        similarity[part.expires[: part.size] <= now] = -np.inf
        best = int(np.argmax(similarity))
        distance = float(1.0 - similarity[best])
        if not np.isfinite(similarity[best]) or distance > threshold:
            return None
        return Hit(max(distance, 0.0), part.values[best], part.stored[best])
