"""A consumer's headers are built once and shared by its requests: a change made by one
request (set-header, managed identity) must stay that request's."""

from __future__ import annotations

from apimgen.simulate.context import Request
from apimgen.simulate.expr.dictionaries import MultiValueDictionary


def _template() -> MultiValueDictionary:
    return MultiValueDictionary({"X-User": "alice", "Accept": ["a", "b"]}, case_insensitive=True)


def test_copies_read_the_shared_entries() -> None:
    copy = _template().copy()
    assert copy.GetValueOrDefault("x-user") == "alice"
    assert copy["ACCEPT"] == ["a", "b"]


def test_a_change_to_one_copy_reaches_neither_the_original_nor_other_copies() -> None:
    template = _template()
    first, second = template.copy(), template.copy()
    first._set("Authorization", ["Bearer one"])
    first._remove("X-User")
    second._set("x-user", ["bob"])
    assert first.Keys == ["Accept", "Authorization"]
    assert second.GetValueOrDefault("X-User") == "bob"
    assert template.GetValueOrDefault("X-User") == "alice"
    assert not template.ContainsKey("Authorization")


def test_a_change_to_the_original_reaches_no_copy() -> None:
    template = _template()
    copy = template.copy()
    template._set("X-User", ["carol"])
    assert copy.GetValueOrDefault("X-User") == "alice"


def test_a_list_read_from_a_copy_cannot_change_the_shared_entry() -> None:
    template = _template()
    template.copy()["Accept"].append("c")
    assert template["Accept"] == ["a", "b"]


def test_requests_built_from_one_template_have_their_own_headers() -> None:
    template = _template()
    one, two = Request(headers=template), Request(headers=template)
    one.Headers._set("Authorization", ["Bearer mi-token"])
    assert not two.Headers.ContainsKey("Authorization")
    assert not template.ContainsKey("Authorization")
