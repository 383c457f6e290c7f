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
from collections.abc import Iterator
from typing import NamedTuple

from apimgen.simulate.scenario import Arrival, Consumer
from apimgen.simulate.state import LlmRequest
from apimgen.simulate.tokenizer import count_chat_tokens

__all__ = ["PlannedCall", "arrivals", "calls", "unsigned_jwt"]


class PlannedCall(NamedTuple):
    """One call a consumer makes (a named tuple: one is made per simulated request)."""

    time: float
    consumer: Consumer
    number: int  # the consumer's calls counted from 0
    body: str
    llm: LlmRequest  # what the simulated request carries through the policies


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


def unsigned_jwt(claims: dict[str, str]) -> str:
    """A JWT with the given claims and no signature (validate-jwt is not what is tested)."""

    def part(data: dict[str, str]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}.sig"


def calls(consumer: Consumer, duration: float, seed: int) -> Iterator[PlannedCall]:
    rng = consumer_rng(seed, consumer.name)
    prompt_cache: dict[str, tuple[str, str]] = {}  # each prompt's body, plain and streamed
    prompt_tokens_of: dict[str, int] = {}
    groups = sorted(consumer.prompt_groups)
    plain_turn = 0
    for index, time in enumerate(arrivals(consumer.arrival, duration, rng)):
        group: str | None = None
        if groups and rng.random() < consumer.group_share:
            group = groups[rng.randrange(len(groups))]
            wordings = consumer.prompt_groups[group]
            prompt = wordings[rng.randrange(len(wordings))]
        else:
            prompt = consumer.prompts[plain_turn % len(consumer.prompts)]
            plain_turn += 1
        if prompt not in prompt_cache:
            messages = [{"role": "user", "content": prompt}]
            if consumer.system_prompt:
                messages.insert(0, {"role": "system", "content": consumer.system_prompt})
            body = '{"messages": ' + json.dumps(messages)
            if consumer.max_tokens:
                body += f', "max_tokens": {consumer.max_tokens}'
            prompt_cache[prompt] = (body + "}", body + ', "stream": true}')
            prompt_tokens_of[prompt] = count_chat_tokens(messages)
        stream = rng.random() < consumer.stream_share
        completion = rng.randint(consumer.completion_tokens.min, consumer.completion_tokens.max)
        flagged = consumer.flagged_share > 0 and rng.random() < consumer.flagged_share
        plain, streamed = prompt_cache[prompt]
        body = streamed if stream else plain
        llm = LlmRequest(
            prompt_tokens_of[prompt], consumer.max_tokens, completion, stream, flagged, group
        )
        yield PlannedCall(time, consumer, index, body, llm)
