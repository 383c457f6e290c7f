"""Traffic draws: the same numbers Python's own ``random`` would draw, so a seed means the same
traffic whichever way it is drawn."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from apimgen.simulate.traffic import _below


@given(seed=st.integers(0, 2**32), n=st.integers(1, 10**6))
def test_below_draws_what_randrange_draws(seed: int, n: int) -> None:
    ours, theirs = random.Random(seed), random.Random(seed)
    assert [_below(ours, n) for _ in range(20)] == [theirs.randrange(n) for _ in range(20)]
    assert ours.random() == theirs.random()  # and leaves the stream at the same place


def test_a_consumer_names_its_model_in_the_body_only_when_the_scenario_says() -> None:
    import json

    from apimgen.simulate.scenario import Consumer
    from apimgen.simulate.traffic import calls

    def first_body(**settings: object) -> dict[str, object]:
        consumer = Consumer.model_validate(
            {"name": "c", "arrival": {"kind": "constant", "per_minute": 6}, **settings}
        )
        return dict(json.loads(next(calls(consumer, 60.0, 1)).body))

    assert "model" not in first_body()
    named = first_body(model="gpt-4o-mini", max_tokens=50)
    assert named["model"] == "gpt-4o-mini"
    assert named["max_tokens"] == 50
    assert named["messages"][-1]["role"] == "user"  # type: ignore[index]
