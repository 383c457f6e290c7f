"""``azure-openai-semantic-cache-lookup``/``-store`` and their ``llm-`` twins (Learn pages of
the same names; apim-genai-policies.md §4).

The lookup embeds the prompt's messages (system messages dropped when asked), partitions by the
concatenated ``vary-by`` values and answers from the gateway on a hit: no backend call, no
backend tokens, nothing after it in the pipeline. ``score-threshold`` is a cosine *distance*.
A cache that cannot be used (a body without messages, too many messages) is skipped silently,
as documented. The store keeps successful (200) answers for ``duration`` seconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from apimgen.simulate.expr.values import cs_string
from apimgen.simulate.policy.handlers.base import (
    Attribute,
    BuildContext,
    PolicyHandler,
    Value,
    compile_value,
)
from apimgen.simulate.policy.reader import PolicyElement
from apimgen.simulate.semantic_cache import CachedAnswer
from apimgen.simulate.state import RequestState
from apimgen.simulate.tokenizer import count_tokens

__all__ = ["SemanticCacheLookup", "SemanticCacheStore"]


@dataclass(frozen=True)
class PendingStore:
    """What a missed lookup leaves for the store in outbound."""

    partition: str
    vector: Any


def _prompt_text(body_text: str, ignore_system: bool) -> tuple[str, int] | None:
    """The text compared for similarity and the message count, or None if not a chat body."""
    try:
        body = json.loads(body_text)
    except ValueError:
        return None
    messages = body.get("messages") if isinstance(body, dict) else None
    if not isinstance(messages, list) or not messages:
        return None
    kept = [
        m
        for m in messages
        if isinstance(m, dict) and not (ignore_system and m.get("role") == "system")
    ]
    parts = []
    for message in kept:
        content = message.get("content")
        if isinstance(content, list):  # multi-part content: the text parts count
            content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        parts.append(f"{message.get('role', '')}: {content}")
    return "\n".join(parts), len(kept)


class SemanticCacheLookup(PolicyHandler):
    element_names = ("azure-openai-semantic-cache-lookup", "llm-semantic-cache-lookup")
    child_elements = ("vary-by",)
    sections = ("inbound",)
    once_per_section = True
    attributes = (
        Attribute("score-threshold", required=True, kind="number"),
        Attribute("embeddings-backend-id", required=True),
        Attribute(
            "embeddings-backend-auth",
            required=True,
            expressions=False,
            choices=("system-assigned",),
        ),
        Attribute("ignore-system-messages", default="false", choices=("true", "false")),
        Attribute("max-message-count", kind="whole"),
    )

    def __init__(self, element: PolicyElement, build: BuildContext) -> None:
        super().__init__(element, build)
        self.vary_by: list[Value] = [
            compile_value(child.text or "", child) for child in element.children
            if child.name == "vary-by"
        ]  # fmt: skip

    def run(self, state: RequestState) -> None:
        cache = state.services.semantic_cache
        request_body = state.context.Request.Body
        ignore = self.values["ignore-system-messages"].text(state).lower() == "true"
        prompt = _prompt_text(request_body.text, ignore) if request_body is not None else None
        limit_value = self.values.get("max-message-count")
        limit = self.number("max-message-count", state, whole=True) if limit_value else None
        if cache is None or prompt is None or (limit is not None and prompt[1] > limit):
            if cache is not None:
                cache.stats.skipped += 1
            return
        text, _ = prompt
        threshold = self.number("score-threshold", state)
        partition = "".join(cs_string(value.get(state)) for value in self.vary_by)
        cache.stats.lookups += 1
        tokens = count_tokens(text)
        cache.stats.embedding_tokens += tokens
        backend = self.values["embeddings-backend-id"].text(state)
        cache.stats.embedding_calls_by_backend[backend] += 1
        cache.stats.embedding_tokens_by_backend[backend] += tokens
        vector, hit = cache.lookup(partition, text, state.services.now, threshold)
        if hit is None:
            state.semantic_cache_pending = PendingStore(partition, vector)
            state.cache_outcome = "miss"
            return
        state.cache_outcome = "hit"
        answer: CachedAnswer = hit.value
        cache.stats.hits += 1
        cache.stats.tokens_saved += answer.tokens
        group = state.llm.group
        if group is not None and answer.group is not None:
            if group == answer.group:
                cache.stats.true_hits += 1
            else:
                cache.stats.false_hits += 1
        state.respond(answer.status, "OK", body=answer.body)
        for name, values in answer.headers.items():
            state.context.Response.Headers._set(name, list(values))
        state.from_cache = True
        state.returned = True

    def explain(self, state: RequestState) -> str:
        if state.from_cache:
            return "hit: answered from the cache"
        if state.semantic_cache_pending is not None:
            return "miss"
        return "not looked up (no cache, no prompt, or more messages than max-message-count)"


class SemanticCacheStore(PolicyHandler):
    element_names = ("azure-openai-semantic-cache-store", "llm-semantic-cache-store")
    child_elements = ()
    sections = ("outbound",)
    once_per_section = True
    attributes = (Attribute("duration", required=True, kind="number"),)

    def run(self, state: RequestState) -> None:
        cache = state.services.semantic_cache
        pending = state.semantic_cache_pending
        response = state.context.Response
        if cache is None or pending is None or response.StatusCode != 200:
            return
        duration = self.number("duration", state)
        body = response.Body.text if response.Body is not None else None
        tokens = state.usage["total_tokens"] if state.usage else 0
        answer = CachedAnswer(200, response.Headers.plain(), body, state.llm.group, tokens)
        cache.store(pending.partition, pending.vector, answer, state.services.now, duration)
        state.semantic_cache_pending = None
