"""The gateway's semantic cache for one run: the embedder, the vector index and what happened.

Shared by every gateway node of a run, like the external Redis cache APIM uses. The embedder is
loaded on the first lookup, so runs without semantic caching never import NumPy or the model.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from apimgen.simulate.embeddings.index import Hit, VectorIndex
    from apimgen.simulate.embeddings.provider import CachedEmbedder

__all__ = ["CachedAnswer", "SemanticCache", "SemanticCacheStats"]


@dataclass(frozen=True)
class CachedAnswer:
    """A stored response, and which prompt group produced it (to tell true from false hits)."""

    status: int
    headers: dict[str, list[str]]
    body: str | None
    group: str | None
    tokens: int  # what the answer cost at the backend, saved again on every hit


@dataclass
class SemanticCacheStats:
    lookups: int = 0
    hits: int = 0
    true_hits: int = 0  # the cached answer came from the same prompt group
    false_hits: int = 0  # a different group's answer: the threshold is too loose
    stores: int = 0
    skipped: int = 0  # not cacheable (no messages, too many messages)
    embedding_tokens: int = 0
    # the same calls and tokens by the embeddings backend the lookup named
    embedding_calls_by_backend: Counter[str] = field(default_factory=Counter)
    embedding_tokens_by_backend: Counter[str] = field(default_factory=Counter)
    tokens_saved: int = 0  # backend tokens the hits did not spend
    thresholds: set[float] = field(default_factory=set)  # score-thresholds the lookups used


@dataclass
class SemanticCache:
    """``distance_scale`` maps the local model's cosine distances onto the production embedding
    model's scale before the policy's score-threshold is applied (1.0: compare as they are)."""

    load_embedder: Callable[[], CachedEmbedder]
    distance_scale: float = 1.0
    threshold_override: float | None = None  # a sweep's value, replacing the policies' own
    calibrated: bool = False  # the scenario stated a distance_scale
    stats: SemanticCacheStats = field(default_factory=SemanticCacheStats)
    _embedder: CachedEmbedder | None = None
    _index: VectorIndex | None = None

    @property
    def embedder(self) -> CachedEmbedder:
        if self._embedder is None:
            self._embedder = self.load_embedder()
        return self._embedder

    @property
    def embedder_name(self) -> str | None:
        return self._embedder.name if self._embedder is not None else None

    def _vectors(self, vector: Any) -> VectorIndex:
        if self._index is None:
            from apimgen.simulate.embeddings.index import VectorIndex

            self._index = VectorIndex(int(vector.shape[0]))
        return self._index

    def lookup(
        self, partition: str, text: str, now: float, threshold: float
    ) -> tuple[Any, Hit | None]:
        """The prompt's vector (for the store) and the hit, if one is close enough."""
        vector = self.embedder.embed(text)
        index = self._vectors(vector)
        if self.threshold_override is not None:
            threshold = self.threshold_override
        self.stats.thresholds.add(threshold)
        local_threshold = threshold / self.distance_scale if self.distance_scale else threshold
        return vector, index.lookup(partition, vector, now, local_threshold)

    def store(
        self, partition: str, vector: Any, answer: CachedAnswer, now: float, duration: float
    ) -> None:
        self._vectors(vector).store(partition, vector, answer, now, duration)
        self.stats.stores += 1
