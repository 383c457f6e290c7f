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
