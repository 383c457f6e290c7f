"""The embedder the semantic cache asks: names itself (thresholds are model-specific) and
computes each distinct text once per run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["CachedEmbedder", "Encoder"]


class Encoder(Protocol):
    @property
    def name(self) -> str: ...

    def encode(self, texts: list[str], batch_size: int = 32) -> npt.NDArray[np.float32]: ...


@dataclass
class CachedEmbedder:
    """Memoises vectors by text: a workload of repeated prompts pays for each wording once."""

    encoder: Encoder
    vectors: dict[str, npt.NDArray[np.float32]] = field(default_factory=dict)
    computed: int = 0  # texts actually run through the model

    @property
    def name(self) -> str:
        return self.encoder.name

    def embed(self, text: str) -> npt.NDArray[np.float32]:
        vector = self.vectors.get(text)
        if vector is None:
            vector = self.encoder.encode([text])[0]
            self.vectors[text] = vector
            self.computed += 1
        return vector
