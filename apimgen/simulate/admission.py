"""How an Azure OpenAI deployment charges a call against its tokens-per-minute at admission.

Azure does not count a call's real usage against a deployment's TPM: it reserves an estimate
when the call arrives (Learn, "Manage Azure OpenAI quota": the prompt, ``max_tokens`` and
``best_of`` give a max-processed-token count added to a per-minute running count). Published
measurements (stuartleeks/aoai-testing, 2024) show the estimate's shape per model, read from
the drop of ``x-ratelimit-remaining-tokens`` between calls:

- gpt-35-turbo: ``max_tokens`` exactly (10 → 10, 1000 → 1000, 2000 → 2000), and 16 when the
  call sets none, whatever the prompt (15 to 914 prompt tokens all dropped 16);
- gpt-4 and gpt-4o: ``max_tokens`` (or 640 without it) plus, per message, a quarter of its
  characters rounded down plus one (28 characters → 8, so 648 and 2008; 233 → 59; four
  messages of 59, 16, 673 and 233 characters → 248);
- embeddings: a quarter of the input's characters, rounded up (44 → 11, and so on for every
  row of the published table, 11 to 822), whatever the model.

The gateway's own token counters count the real ``usage`` instead, so the two budgets drift
apart, as they do on live systems. The table is one place; a scenario overrides it per backend.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "DEFAULT_MODEL",
    "MODEL_RESERVATIONS",
    "Reservation",
    "chat_prompt_estimate",
    "embeddings_estimate",
    "reservation_for",
]


@dataclass(frozen=True)
class Reservation:
    """A model's admission estimate: what it reserves for the completion when a call sets no
    ``max_tokens``, and whether the prompt's characters are added (``MockDeployment.estimate``
    applies it, per call)."""

    without_max_tokens: int
    counts_prompt: bool


DEFAULT_MODEL = "gpt-4o"

# Model name (as deployed) → its reservation; a name not listed takes its family's (below).
MODEL_RESERVATIONS: dict[str, Reservation] = {
    "gpt-35-turbo": Reservation(without_max_tokens=16, counts_prompt=False),
    "gpt-4": Reservation(without_max_tokens=640, counts_prompt=True),
    "gpt-4o": Reservation(without_max_tokens=640, counts_prompt=True),
}

# Families by name prefix, longest first: gpt-35-turbo-16k and gpt-3.5-turbo are gpt-35-turbo's;
# gpt-4o-mini, gpt-4.1 and later models are taken as gpt-4o's (no published run says otherwise).
_FAMILIES = (("gpt-35", "gpt-35-turbo"), ("gpt-3.5", "gpt-35-turbo"), ("gpt-4-", "gpt-4"))


def reservation_for(model: str) -> Reservation:
    """The reservation of a deployed model, by name: its own, its family's, or gpt-4o's."""
    name = model.lower()
    found = MODEL_RESERVATIONS.get(name)
    if found is not None:
        return found
    for prefix, family in _FAMILIES:
        if name.startswith(prefix):
            return MODEL_RESERVATIONS[family]
    return MODEL_RESERVATIONS[DEFAULT_MODEL]


def chat_prompt_estimate(message_texts: Iterable[str]) -> int:
    """The prompt's share of a chat call's reservation: per message, its characters ÷ 4
    rounded down, plus one."""
    return sum(len(text) // 4 + 1 for text in message_texts)


def embeddings_estimate(input_text: str) -> int:
    """An embeddings call's reservation: its input's characters ÷ 4, rounded up."""
    return math.ceil(len(input_text) / 4)
