"""Semantic-cache lookup and store as documented: score-threshold is a distance, a hit answers
from the gateway without a backend call, only 200s are stored, vary-by partitions, TTL on the
virtual clock, system messages ignored on request, long dialogs skipped, false hits counted.

A tiny fake encoder maps each wording to a fixed unit vector, so distances are exact."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from apimgen.simulate.embeddings.provider import CachedEmbedder
from apimgen.simulate.semantic_cache import SemanticCache
from tests.simulate.harness import Call, api_policy, run, single

# Angles in degrees: cosine distance 1 - cos(angle).
ANGLES = {"store": 0.0, "shop": 10.0, "keynote": 90.0}  # 10° ≈ 0.0152, 90° = 1.0


class FakeEncoder:
    name = "fake-angles"

    def encode(self, texts: list[str], batch_size: int = 32) -> Any:
        rows = []
        for text in texts:
            found = [(text.find(w), w) for w in ANGLES if w in text]
            word = min(found)[1] if found else "keynote"  # the first word named wins
            angle = np.radians(ANGLES[word])
            rows.append([np.cos(angle), np.sin(angle)])
        return np.array(rows, dtype=np.float32)


def cache(distance_scale: float = 1.0) -> SemanticCache:
    return SemanticCache(lambda: CachedEmbedder(FakeEncoder()), distance_scale)


def lookup(threshold: str = "0.05", extra: str = "", vary_by: str = "") -> str:
    vary = f"<vary-by>{vary_by}</vary-by>" if vary_by else ""
    return (
        f'<llm-semantic-cache-lookup score-threshold="{threshold}" embeddings-backend-id="emb" '
        f'embeddings-backend-auth="system-assigned"{extra}>{vary}</llm-semantic-cache-lookup>'
    )


STORE = '<base /><llm-semantic-cache-store duration="60" />'


def ask(time: float, text: str, user: str = "alice", system: str | None = None, **kw: Any) -> Call:
    messages = [{"role": "user", "content": text}]
    if system:
        messages.insert(0, {"role": "system", "content": system})
    return Call(time, user=user, body={"messages": messages}, **kw)


def test_a_close_paraphrase_hits_and_never_reaches_the_backend() -> None:
    semantic = cache()
    policy = api_policy(lookup("0.05"), outbound=STORE)
    calls = [ask(0, "where is the store?", group="store"), ask(30, "nearest shop?", group="store")]
    results, _, _ = run(policy, calls, semantic_cache=semantic)
    first, second = results
    assert (first.status, second.status) == (200, 200)
    assert first.state.backend_calls == 1 and second.state.backend_calls == 0
    assert second.state.from_cache and second.body == first.body
    stats = semantic.stats
    assert (stats.lookups, stats.hits, stats.true_hits, stats.stores) == (2, 1, 1, 1)
    assert stats.tokens_saved == json.loads(first.body or "{}")["usage"]["total_tokens"]


def test_threshold_is_a_distance_so_lower_is_stricter() -> None:
    calls = [ask(0, "store"), ask(30, "shop")]  # 0.0152 apart
    strict, _, _ = run(api_policy(lookup("0.01"), outbound=STORE), calls, semantic_cache=cache())
    assert strict[1].state.backend_calls == 1, "0.0152 > 0.01: a miss"
    loose, _, _ = run(api_policy(lookup("0.02"), outbound=STORE), calls, semantic_cache=cache())
    assert loose[1].state.backend_calls == 0


def test_distance_scale_maps_local_distances_onto_the_production_scale() -> None:
    calls = [ask(0, "store"), ask(30, "shop")]
    policy = api_policy(lookup("0.005"), outbound=STORE)
    unscaled, _, _ = run(policy, calls, semantic_cache=cache())
    scaled, _, _ = run(policy, calls, semantic_cache=cache(distance_scale=0.25))
    assert unscaled[1].state.backend_calls == 1 and scaled[1].state.backend_calls == 0


def test_false_hits_are_counted_when_groups_differ() -> None:
    semantic = cache()
    calls = [ask(0, "store", group="store"), ask(30, "keynote", group="keynote")]
    run(api_policy(lookup("1.0"), outbound=STORE), calls, semantic_cache=semantic)
    assert (semantic.stats.hits, semantic.stats.false_hits) == (1, 1)


def test_vary_by_partitions_and_duration_expires() -> None:
    semantic = cache()
    policy = api_policy(lookup(vary_by="@(context.User.Id)"), outbound=STORE)
    calls = [ask(0, "store"), ask(30, "store", user="bob"), ask(60, "store"), ask(200, "store")]
    results, _, _ = run(policy, calls, semantic_cache=semantic)
    assert [r.state.backend_calls for r in results] == [1, 1, 0, 1]


def test_only_successful_answers_are_stored() -> None:
    semantic = cache()
    backend = single("aoai", error_rate=1.0)
    policy = api_policy(lookup(), outbound=STORE)
    results, _, _ = run(policy, [ask(0, "store"), ask(30, "store")], backends=[backend],
                        semantic_cache=semantic)  # fmt: skip
    assert [r.status for r in results] == [500, 500]
    assert semantic.stats.stores == 0 and semantic.stats.hits == 0


@pytest.mark.parametrize(
    ("extra", "hits"), [("", 0), (' ignore-system-messages="true"', 1)], ids=["kept", "ignored"]
)
def test_system_messages_can_be_left_out_of_the_comparison(extra: str, hits: int) -> None:
    semantic = cache()
    calls = [ask(0, "store", system="be brief"), ask(30, "store", system="keynote persona")]
    run(api_policy(lookup(extra=extra), outbound=STORE), calls, semantic_cache=semantic)
    assert semantic.stats.hits == hits


def test_long_dialogs_and_bodies_without_messages_skip_the_cache() -> None:
    semantic = cache()
    policy = api_policy(lookup(extra=' max-message-count="1"'), outbound=STORE)
    calls = [
        ask(0, "store", system="hello"),
        ask(30, "store", system="hello"),
        Call(60, body={"prompt": "store"}),
    ]
    results, _, _ = run(policy, calls, semantic_cache=semantic)
    assert all(r.status == 200 for r in results)
    assert semantic.stats.skipped == 3 and semantic.stats.lookups == 0
