"""cache-lookup and cache-store (Learn: API Management looks up and stores GET responses only):
on an AI gateway's POST calls they do nothing; on GET requests they answer from the cache."""

from __future__ import annotations

import pytest

from apimgen.simulate.policy.handlers.base import PolicyConfigError
from tests.simulate.harness import Call, api_policy, run, single

LOOKUP = (
    '<cache-lookup vary-by-developer="{developer}" vary-by-developer-groups="false"'
    ' downstream-caching-type="none" {private}>'
    "<vary-by-header>Accept</vary-by-header>"
    "<vary-by-query-parameter>api-version;format</vary-by-query-parameter>"
    "</cache-lookup>"
)
STORE = '<base /><cache-store duration="{duration}" />'


def _policy(developer: str = "false", duration: int = 60, private: str = "") -> str:
    return api_policy(
        inbound=LOOKUP.format(developer=developer, private=private),
        outbound=STORE.format(duration=duration),
    )


def test_post_calls_are_neither_looked_up_nor_stored() -> None:
    calls = [Call(t * 10.0) for t in range(3)]
    results, _, _ = run(_policy(), calls)
    assert [r.status for r in results] == [200, 200, 200]
    assert [r.state.backend_calls for r in results] == [1, 1, 1]
    assert not any(r.state.from_cache for r in results)


def test_a_get_answer_is_served_from_the_cache_until_it_expires() -> None:
    calls = [Call(0, method="GET"), Call(10, method="GET"), Call(70, method="GET")]
    results, services, _ = run(_policy(duration=60), calls)
    assert [r.state.backend_calls for r in results] == [1, 0, 1]  # the third: entry expired
    hit = results[1]
    assert hit.status == 200 and hit.state.from_cache and hit.done_at == 10
    assert hit.body == results[0].body
    assert len(services.response_cache) == 1


def test_the_key_varies_by_query_parameters_headers_and_developer() -> None:
    url = "https://gateway.example/items?api-version=1&format=x"
    other = "https://gateway.example/items?api-version=2&format=x"
    ignored = "https://gateway.example/items?api-version=1&format=x&page=9"
    calls = [
        Call(0, method="GET", url=url),  # each call finishes (in 5.2 s) before the next
        Call(10, method="GET", url=other),  # another api-version: a miss
        Call(20, method="GET", url=ignored),  # a parameter not varied by: a hit
        Call(30, method="GET", url=url, headers={"Accept": "text/plain"}),  # another Accept
        Call(40, method="GET", url=url, user="bob"),  # another developer: shared here
    ]
    results, _, _ = run(_policy(), calls)
    assert [r.state.from_cache for r in results] == [False, False, True, False, True]
    by_developer, _, _ = run(_policy(developer="true"), calls)
    assert by_developer[4].state.from_cache is False


def test_a_request_with_authorization_is_cached_only_when_private_caching_is_allowed() -> None:
    calls = [Call(t, method="GET", headers={"Authorization": "Bearer x"}) for t in (0, 10)]
    plain, _, _ = run(_policy(), calls)
    assert [r.state.from_cache for r in plain] == [False, False]
    private, _, _ = run(_policy(private='allow-private-response-caching="true"'), calls)
    assert [r.state.from_cache for r in private] == [False, True]


def test_only_200_answers_are_stored_unless_cache_response_is_true() -> None:
    calls = [Call(0, method="GET"), Call(10, method="GET")]
    broken = [single("aoai", error_rate=1.0)]
    results, services, _ = run(_policy(), calls, backends=broken)
    assert [(r.status, r.state.from_cache) for r in results] == [(500, False), (500, False)]
    assert services.response_cache == {}
    every = api_policy(
        inbound=LOOKUP.format(developer="false", private=""),
        outbound='<base /><cache-store duration="60" cache-response="true" />',
    )
    results, _, _ = run(every, calls, backends=broken)
    assert [(r.status, r.state.from_cache) for r in results] == [(500, False), (500, True)]


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        (
            api_policy(inbound='<cache-lookup vary-by-developer="false" />'),
            "vary-by-developer-groups",
        ),
        (api_policy(outbound="<base /><cache-store />"), "duration"),
        (
            api_policy(
                inbound='<cache-lookup vary-by-developer="false" vary-by-developer-groups="false">'
                "<vary-by-body /></cache-lookup>"
            ),
            "vary-by-body",
        ),
        (
            api_policy(
                outbound='<base /><cache-lookup vary-by-developer="false" '
                'vary-by-developer-groups="false" />'
            ),
            "outbound",
        ),
    ],
)
def test_a_malformed_cache_policy_is_a_located_error(policy: str, message: str) -> None:
    with pytest.raises(PolicyConfigError, match=message):
        run(policy, [Call(0)])


def test_explain_reads_each_runs_outcome_from_the_state_it_left() -> None:
    from apimgen.simulate.policy.handlers.response_cache import CacheLookup, CacheStore

    calls = [
        Call(0, method="GET"),  # miss, stored
        Call(10, method="GET"),  # hit (the store does not run: the lookup answered)
        Call(20, method="GET", headers={"Authorization": "Bearer x"}),  # private: not looked up
        Call(30),  # a POST
    ]
    results, _, compiled = run(_policy(duration=60), calls)
    lookup = next(h for h in compiled.inbound if isinstance(h, CacheLookup))
    store = next(h for h in compiled.outbound if isinstance(h, CacheStore))
    assert [lookup.explain(r.state) for r in results] == [
        "miss",
        "hit",
        "the request carries Authorization and allow-private-response-caching is not true",
        "not a GET request: API Management looks up and stores GET responses only",
    ]
    assert store.explain(results[0].state) == "stored for 60 s"
    assert store.explain(results[2].state) == ""
