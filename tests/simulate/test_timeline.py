"""The sliding windows' shared structure: entries leave from the front, the total follows, and
the lists behind it stay as short as the live entries (memory stays flat over long runs)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from apimgen.simulate.timeline import Timeline


def test_expire_drops_entries_at_or_before_the_cutoff_and_the_total_follows() -> None:
    timeline = Timeline()
    for time, amount in ((1.0, 10), (2.0, 20), (3.0, 30)):
        timeline.add(time, amount)
    timeline.expire(2.0)
    assert list(timeline.entries()) == [(3.0, 30)]
    assert timeline.total == 30
    assert len(timeline) == 1
    assert timeline.oldest() == 3.0


def test_expire_before_the_oldest_entry_changes_nothing() -> None:
    timeline = Timeline()
    timeline.add(5.0, 7)
    timeline.expire(4.9)
    assert (len(timeline), timeline.total, timeline.oldest()) == (1, 7, 5.0)


def test_an_emptied_timeline_takes_entries_again() -> None:
    timeline = Timeline()
    timeline.add(1.0, 3)
    timeline.expire(10.0)
    assert (len(timeline), timeline.total, list(timeline.entries())) == (0, 0, [])
    timeline.add(11.0, 4)
    assert (len(timeline), timeline.total, timeline.oldest()) == (1, 4, 11.0)


def test_the_lists_behind_it_stay_as_short_as_a_window_over_a_long_run() -> None:
    timeline = Timeline()
    for second in range(100_000):
        timeline.add(float(second), 1)
        timeline.expire(second - 60.0)
    assert len(timeline) == 60
    assert timeline.total == 60
    # Dropped entries are cut away in batches: never more than a few thousand are held.
    assert len(timeline._times) < 2_100
    assert timeline.oldest() == 99_940.0


# An operation: add `count` entries one second apart (amounts cycling), or expire up to a time.
_OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(1, 700), st.integers(-5, 50)),
        st.tuples(st.just("expire"), st.integers(0, 3000), st.just(0)),
    ),
    max_size=25,
)


@settings(max_examples=200, deadline=None)
@given(_OPERATIONS)
def test_a_timeline_agrees_with_a_plain_list_through_any_adds_and_expiries(
    operations: list[tuple[str, int, int]],
) -> None:
    # Bulk adds cross the batch size at which dropped entries are cut away, so compaction runs.
    timeline, naive = Timeline(), []
    clock = 0.0
    for kind, number, amount in operations:
        if kind == "add":
            for step in range(number):
                clock += 1.0
                timeline.add(clock, amount + step % 3)
                naive.append((clock, amount + step % 3))
        else:
            cutoff = float(number)
            timeline.expire(cutoff)
            naive = [(time, value) for time, value in naive if time > cutoff]
        assert list(timeline.entries()) == naive
        assert (len(timeline), timeline.total) == (len(naive), sum(v for _, v in naive))
        if naive:
            assert timeline.oldest() == naive[0][0]
