"""Logged calls turned into the scenario's traffic: each call sent at its logged time, from its
subscription, to its deployment, with its logged token counts, prompt and backend latency.

A subscription the scenario names (a consumer's ``subscription``, else its name) keeps that
consumer's settings (product, headers, client, ...) with the logged calls in place of its
arrivals; any other subscription becomes a consumer of its own. A subscription that called
several deployments or operations is one consumer per pair, all with its key.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from apimgen.simulate.replay.export import LoggedCall
from apimgen.simulate.scenario import EMBEDDINGS, Consumer, LoadedScenario, ScriptedCall

__all__ = ["Replay", "replay_scenario"]

_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Replay:
    """The scenario to run, and which logged call each of its requests replays (by the
    request's label, ``consumer-index``)."""

    loaded: LoadedScenario
    calls: dict[str, LoggedCall]


def _operation(call: LoggedCall) -> str | None:
    return EMBEDDINGS if "embedding" in call.operation.lower() else None


def _typical(calls: list[LoggedCall]) -> tuple[int | None, int | None]:
    """The consumer's mean logged prompt and completion tokens: what a call the gateway
    refused (logged without counts) would have carried, had it been let through."""
    counted = [c for c in calls if c.prompt_tokens and c.completion_tokens is not None]
    if not counted:
        return None, None
    prompt = round(sum(c.prompt_tokens or 0 for c in counted) / len(counted))
    completion = round(sum(c.completion_tokens or 0 for c in counted) / len(counted))
    return prompt, completion


def _scripted(call: LoggedCall, at: float, typical: tuple[int | None, int | None]) -> ScriptedCall:
    counted = bool(call.prompt_tokens)
    return ScriptedCall.model_construct(
        at=at,
        after=None,
        prompt=call.prompt,
        prompt_tokens=call.prompt_tokens if counted else typical[0],
        completion_tokens=call.completion_tokens if counted else typical[1],
        max_tokens=None,
        stream=call.stream,
        latency=call.backend_seconds,
    )


def replay_scenario(loaded: LoadedScenario, logged: list[LoggedCall]) -> Replay:
    """``loaded`` with the logged calls as its traffic, starting at the first call."""
    scenario = loaded.scenario
    start = logged[0].time
    known: dict[str, Consumer] = {}
    for consumer in scenario.consumers:
        known.setdefault(consumer.subscription or consumer.name, consumer)
    groups: dict[tuple[str, str, str | None], list[LoggedCall]] = {}
    for call in logged:
        groups.setdefault((call.subscription, call.deployment, _operation(call)), []).append(call)
    per_subscription: dict[str, int] = {}
    for subscription, _, _ in groups:
        per_subscription[subscription] = per_subscription.get(subscription, 0) + 1
    consumers: list[Consumer] = []
    labels: dict[str, LoggedCall] = {}
    for (subscription, deployment, operation), calls in groups.items():
        base_name = _NAME.sub("-", subscription) if subscription else "anonymous"
        name = base_name
        if per_subscription[subscription] > 1:
            name = f"{base_name}.{_NAME.sub('-', deployment or 'default')}" + (
                ".embeddings" if operation == EMBEDDINGS else ""
            )
        typical = _typical(calls)
        script = [_scripted(c, (c.time - start).total_seconds(), typical) for c in calls]
        update: dict[str, Any] = {"name": name, "calls": script, "arrival": None}
        if deployment:
            update["deployment"] = deployment
        if operation is not None:
            update["operation"] = operation
        template = known.get(subscription)
        if template is not None:
            consumer = template.model_copy(update=update)
        else:
            consumer = Consumer.model_validate(
                {
                    "name": name,
                    "calls": [{"at": 0}],
                    **({"subscription": subscription} if subscription else {"anonymous": True}),
                }
            ).model_copy(update=update)
        consumers.append(consumer)
        for index, call in enumerate(calls):
            labels[f"{name}-{index}"] = call
    last = (logged[-1].time - start).total_seconds()
    replayed = scenario.model_copy(
        update={"consumers": consumers, "starts_at": start, "duration": math.floor(last) + 1}
    )
    return Replay(LoadedScenario(replayed, loaded.path, loaded.source, loaded.schemas), labels)
