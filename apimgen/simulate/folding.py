"""Finished requests folded into a run's totals: per consumer and minute as they complete,
then the backends', the semantic cache's, the logs' and the limits' figures at the end."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from apimgen.simulate.results import (
    BackendStats,
    ConsumerStats,
)
from apimgen.simulate.semantic_cache import SemanticCache
from apimgen.simulate.state import GatewayServices, RequestState

if TYPE_CHECKING:
    pass
from apimgen.simulate.assembly import ScenarioGateway

__all__ = ["Collector", "backend_stats", "cache_summary", "limits_by_consumer", "log_records"]


# The limit policies' refusals: counted in the 429 and 403 columns, not listed as failures.
_THROTTLING = frozenset(
    {
        "RateLimitExceeded",
        "QuotaExceeded",
        "OpenAITokenLimitExceeded",
        "OpenAITokenQuotaExceeded",
        "ConcurrencyLimitExceeded",
    }
)


@dataclass
class Collector:
    """Folds finished requests into per-consumer and per-minute totals as they complete."""

    consumers: dict[str, ConsumerStats]
    per_minute: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    errors: Counter[str] = field(default_factory=Counter)
    empty_bodies: int = 0  # answers whose body a policy used up (read without preserveContent)
    unforwarded: int = 0  # calls no forward-request sent on and nothing answered or failed

    def done(self, state: RequestState) -> None:
        response = state.context.Response
        status = response.StatusCode
        if response.Body is not None and response.Body.consumed:
            self.empty_bodies += 1
        if not (state.backend_calls or state.returned or state.error):
            self.unforwarded += 1
        tokens = state.usage["total_tokens"] if state.usage else 0
        minute = int(state.services.now // 60)
        self.consumers[state.consumer_name].record(minute, status, tokens, state.backend_calls)
        if tokens:
            self.per_minute[minute] += tokens
        if state.error is not None:
            reason, message = state.error
            # Throttling has its own columns; any other failure is listed with its reason.
            if reason not in _THROTTLING:
                self.errors[f"{status} {reason}: {message}"] += 1


def backend_stats(
    gateway: ScenarioGateway, nodes: list[GatewayServices], cache: SemanticCache
) -> dict[str, BackendStats]:
    calls, tokens = cache.stats.embedding_calls_by_backend, cache.stats.embedding_tokens_by_backend
    return {
        name: BackendStats(
            requests=deployment.calls,
            tokens=deployment.tokens_served,
            throttled=deployment.throttled,
            trips=sum(node.backends.singles[name].trips for node in nodes),
            tokens_per_minute=dict(deployment.tokens_per_minute),
            embedding_calls=calls[name],
            embedding_tokens=tokens[name],
        )
        for name, deployment in sorted(gateway.deployments.items())
    }


def log_records(nodes: Iterable[GatewayServices]) -> dict[str, dict[str, int]]:
    """What trace and log-to-eventhub wrote over every gateway node, by policy then sink."""
    records: dict[str, dict[str, int]] = {}
    for (policy, sink), count in sorted(sum((n.log_records for n in nodes), Counter()).items()):
        records.setdefault(policy, {})[sink] = count
    return records


def cache_summary(cache: SemanticCache) -> dict[str, Any] | None:
    stats = cache.stats
    if not stats.lookups and not stats.skipped:
        return None
    embedder = cache.embedder_name
    return {
        "embedder": embedder,
        "distance_scale": cache.distance_scale,
        "lookups": stats.lookups,
        "hits": stats.hits,
        "true_hits": stats.true_hits,
        "false_hits": stats.false_hits,
        "stores": stats.stores,
        "skipped": stats.skipped,
        "hit_ratio": stats.hits / stats.lookups if stats.lookups else 0.0,
        "embedding_tokens": stats.embedding_tokens,
        "tokens_saved": stats.tokens_saved,
        "texts_embedded": cache.embedder.computed if embedder else 0,
        "thresholds": sorted(stats.thresholds),
        "warning": _threshold_warning(cache),
    }


def _threshold_warning(cache: SemanticCache) -> str | None:
    from apimgen.simulate.embeddings.minilm import MODEL_NAME, PARAPHRASE_DISTANCE

    typical = PARAPHRASE_DISTANCE
    swept = cache.threshold_override is not None
    if cache.calibrated or swept or cache.embedder_name != MODEL_NAME:
        return None
    strict = [t for t in sorted(cache.stats.thresholds) if t * 2 < typical]
    if not strict:
        return None
    return (
        f"score-threshold {strict[0]:g} is compared with {cache.embedder_name} distances, which "
        f"put paraphrases about {typical:g} apart (thresholds like 0.05 were set for Azure "
        "OpenAI embeddings): only near-identical prompts can hit. Give the scenario "
        "semantic_cache.distance_scale, or choose with --sweep cache.score-threshold=0.01:0.30:0.01"
    )


def limits_by_consumer(nodes: Iterable[GatewayServices]) -> dict[str, list[int]]:
    """The tokens-per-minute limits each consumer's calls met, smallest first."""
    limits: dict[str, set[int]] = {}
    for node in nodes:
        for consumer, tpm in node.token_limits:
            limits.setdefault(consumer, set()).add(tpm)
    return {consumer: sorted(values) for consumer, values in sorted(limits.items())}
