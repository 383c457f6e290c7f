"""Synthetic traffic: arrival times per consumer, and the calls they make.

Each consumer draws from its own random stream (seeded from the run's seed and its name), so
adding a consumer never changes another's traffic. Arrivals are generated lazily, which keeps
memory flat however long the run.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import random
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from apimgen.simulate.admission import chat_prompt_estimate, embeddings_estimate
from apimgen.simulate.scenario import Arrival, Consumer
from apimgen.simulate.state import LlmRequest
from apimgen.simulate.tokenizer import count_chat_tokens, count_tokens

__all__ = ["PlannedCall", "ScriptStep", "arrivals", "calls", "script", "unsigned_jwt"]


class PlannedCall:
    """One call a consumer makes: one is made per simulated request, so slotted, with its own
    ``__init__`` (compiled, a named tuple's is generated Python; native.py)."""

    __slots__ = ("body", "consumer", "llm", "number", "time")

    def __init__(
        self, time: float, consumer: Consumer, number: int, body: str, llm: LlmRequest
    ) -> None:
        self.time = time
        self.consumer = consumer
        self.number = number  # the consumer's calls counted from 0
        self.body = body
        self.llm = llm  # what the simulated request carries through the policies


def consumer_rng(seed: int, name: str) -> random.Random:
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def arrivals(arrival: Arrival, duration: float, rng: random.Random) -> Iterator[float]:
    """Arrival times in [start, min(stop, duration))."""
    end = min(arrival.stop if arrival.stop is not None else duration, duration)
    time = float(arrival.start)
    rate = arrival.per_minute / 60.0
    if arrival.kind == "constant":
        step = 1 / rate
        while time < end:
            yield time
            time += step
    elif arrival.kind == "poisson":
        while True:
            time += rng.expovariate(rate)
            if time >= end:
                return
            yield time
    elif arrival.kind == "burst":
        gap = arrival.burst_size / rate
        while time < end:
            for _ in range(arrival.burst_size):
                yield time
            time += gap
    else:  # ramp: the rate grows linearly; invert the cumulative rate for each arrival
        span = max(end - time, 1e-9)
        start_rate = arrival.start_per_minute / 60.0
        slope = (rate - start_rate) / span
        origin = time
        count = 0
        while True:
            count += 1
            # solve start_rate*t + slope*t^2/2 = count for t
            if slope:
                t = (-start_rate + math.sqrt(start_rate**2 + 2 * slope * count)) / slope
            else:
                t = count / start_rate if start_rate else math.inf
            if origin + t >= end:
                return
            yield origin + t


def unsigned_jwt(claims: Mapping[str, Any]) -> str:
    """A JWT with the given claims and no signature (validate-jwt is not what is tested)."""

    def part(data: Mapping[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}.sig"


def _below(rng: random.Random, n: int) -> int:
    """A uniform integer in [0, n), drawn as ``random.randrange`` draws it (same bits, same
    result) without its argument checks, which cost more than the draw."""
    bits = n.bit_length()
    value = rng.getrandbits(bits)
    while value >= n:
        value = rng.getrandbits(bits)
    return value


class ScriptStep:
    """One call of a consumer's script: planned, and sent ``at`` a time of the run or
    ``after`` a pause following the previous call's answer."""

    __slots__ = ("after", "at", "planned")

    def __init__(self, planned: PlannedCall, at: float | None, after: float | None) -> None:
        self.planned = planned
        self.at = at
        self.after = after


def script(consumer: Consumer, seed: int, *, api: str = "chat") -> list[ScriptStep]:
    """A scripted consumer's calls (``calls:``), each with its own tokens, max_tokens, stream
    and backend latency where the script gives them; what it leaves out is the consumer's,
    or drawn as for an arrival process."""
    assert consumer.calls is not None
    bodies = _BODIES[api]
    embeddings = api == "embeddings"
    rng = consumer_rng(seed, consumer.name)
    least = consumer.completion_tokens.min
    spread = consumer.completion_tokens.max - least + 1
    steps: list[ScriptStep] = []
    for index, item in enumerate(consumer.calls):
        prompt = item.prompt or consumer.prompts[index % len(consumer.prompts)]
        max_tokens = item.max_tokens if item.max_tokens is not None else consumer.max_tokens
        shaped = consumer.model_copy(update={"max_tokens": max_tokens})
        plain, streamed, prompt_tokens, estimate = bodies(shaped, prompt)
        if item.prompt_tokens is not None:
            prompt_tokens = estimate = item.prompt_tokens
        stream = bool(item.stream) and not embeddings
        completion = least + _below(rng, spread)
        if item.completion_tokens is not None:
            completion = item.completion_tokens
        llm = (
            LlmRequest(prompt_tokens, None, 0, False, False, None, "embeddings", estimate)
            if embeddings
            else LlmRequest(
                prompt_tokens, max_tokens, completion, stream, False, None, api, estimate
            )
        )
        llm.latency = item.latency
        # a script that starts with a pause starts that long into the run
        at, after = (item.after, None) if index == 0 and item.at is None else (item.at, item.after)
        planned = PlannedCall(at or 0.0, consumer, index, streamed if stream else plain, llm)
        steps.append(ScriptStep(planned, at, after))
    return steps


def calls(
    consumer: Consumer,
    duration: float,
    seed: int,
    *,
    api: str = "chat",
    steps: list[ScriptStep] | None = None,
) -> Iterator[PlannedCall]:
    """A consumer's calls in time order; ``api`` (chat, embeddings or responses) decides
    their bodies. A scripted consumer's are the calls of its ``steps`` (made here when not
    given) sent ``at`` a time before the run ends (those sent ``after`` an answer are started
    by the run)."""
    if consumer.calls is not None:
        for step in steps if steps is not None else script(consumer, seed, api=api):
            if step.at is not None and step.at < duration:
                yield step.planned
        return
    assert consumer.arrival is not None
    bodies = _BODIES[api]
    embeddings = api == "embeddings"
    rng = consumer_rng(seed, consumer.name)
    draw = rng.random
    # Each prompt's body, plain and streamed, its token count and its admission estimate,
    # made on first use.
    prompt_cache: dict[str, tuple[str, str, int, int]] = {}
    groups = sorted(consumer.prompt_groups)
    prompts = consumer.prompts
    plain_turn = 0
    group_share, stream_share = consumer.group_share, consumer.stream_share
    flagged_share, max_tokens = consumer.flagged_share, consumer.max_tokens
    least = consumer.completion_tokens.min
    spread = consumer.completion_tokens.max - least + 1
    for index, time in enumerate(arrivals(consumer.arrival, duration, rng)):
        group: str | None = None
        if groups and draw() < group_share:
            group = groups[_below(rng, len(groups))]
            wordings = consumer.prompt_groups[group]
            prompt = wordings[_below(rng, len(wordings))]
        else:
            prompt = prompts[plain_turn % len(prompts)]
            plain_turn += 1
        cached = prompt_cache.get(prompt)
        if cached is None:
            cached = prompt_cache[prompt] = bodies(consumer, prompt)
        plain, streamed, prompt_tokens, estimate = cached
        stream = draw() < stream_share
        completion = least + _below(rng, spread)
        flagged = flagged_share > 0 and draw() < flagged_share
        llm = (
            LlmRequest(prompt_tokens, None, 0, False, flagged, group, "embeddings", estimate)
            if embeddings
            else LlmRequest(
                prompt_tokens, max_tokens, completion, stream, flagged, group, api, estimate
            )
        )
        yield PlannedCall(time, consumer, index, streamed if stream else plain, llm)


def _embeddings_bodies(consumer: Consumer, prompt: str) -> tuple[str, str, int, int]:
    """An embeddings call's body (the prompt as its ``input``) twice, as a stream never is
    one, the input's tokens and its admission estimate."""
    body = _open_body(consumer, ("model", consumer.model), ("input", prompt))
    return body + "}", body + "}", count_tokens(prompt), embeddings_estimate(prompt)


def _prompt_bodies(consumer: Consumer, prompt: str) -> tuple[str, str, int, int]:
    """A prompt's request body, plain and streamed, its prompt tokens and its admission
    estimate."""
    messages = _messages(consumer, prompt)
    body = _open_body(
        consumer,
        ("model", consumer.model),
        ("messages", messages),
        ("max_tokens", consumer.max_tokens),
    )
    return body + "}", body + ', "stream": true}', *_prompt_counts(messages)


def _prompt_counts(messages: list[dict[str, str]]) -> tuple[int, int]:
    """Chat messages' tokens, and their share of a deployment's admission estimate."""
    estimate = chat_prompt_estimate(message["content"] for message in messages)
    return count_chat_tokens(messages), estimate


def _responses_bodies(consumer: Consumer, prompt: str) -> tuple[str, str, int, int]:
    """A Responses API call's body, plain and streamed, and its prompt tokens: the prompt as
    ``input``, the system prompt as ``instructions``, the model (or else the deployment) named
    in the body, as the v1 API wants it; its prompt counts as the chat messages it stands
    for."""
    body = _open_body(
        consumer,
        ("model", consumer.model or consumer.deployment),
        ("input", prompt),
        ("instructions", consumer.system_prompt),
        ("max_output_tokens", consumer.max_tokens),
    )
    messages = _messages(consumer, prompt)
    return body + "}", body + ', "stream": true}', *_prompt_counts(messages)


def _messages(consumer: Consumer, prompt: str) -> list[dict[str, str]]:
    messages = [{"role": "user", "content": prompt}]
    if consumer.system_prompt:
        messages.insert(0, {"role": "system", "content": consumer.system_prompt})
    return messages


def _open_body(consumer: Consumer, *fields: tuple[str, Any]) -> str:
    """A JSON body without its closing brace (a stream flag may follow): ``fields`` in order,
    those without a value left out, then the consumer's extra ``body_fields``."""
    present = [(name, value) for name, value in fields if value]
    present += consumer.body_fields.items()
    return "{" + ", ".join(f"{json.dumps(name)}: {json.dumps(value)}" for name, value in present)


_BODIES: dict[str, Callable[[Consumer, str], tuple[str, str, int, int]]] = {
    "chat": _prompt_bodies,
    "embeddings": _embeddings_bodies,
    "responses": _responses_bodies,
}
