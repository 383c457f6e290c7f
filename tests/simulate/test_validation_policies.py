"""validate-content, as Learn's validate-content page and the validation policies' shared pages
(actions, errors) describe it."""

from __future__ import annotations

from typing import Any

import pytest

from apimgen.simulate.policy.handlers.base import PolicyConfigError
from apimgen.simulate.policy.reader import PolicyReadError
from tests.simulate.harness import Call, Result, api_policy, run

JSON = {"Content-Type": "application/json"}
ON_ERROR = (
    '<set-header name="x-reason" exists-action="override">'
    "<value>@(context.LastError.Reason)</value></set-header>"
    '<set-header name="x-details" exists-action="override">'
    "<value>@(context.LastError.Message)</value></set-header>"
)
CHAT_SCHEMA = {
    "type": "object",
    "required": ["messages"],
    "properties": {
        "messages": {"type": "array", "minItems": 1},
        "max_tokens": {"type": "integer", "maximum": 500},
    },
}


def _validate(
    children: str = "",
    *,
    size: int = 102400,
    size_action: str = "prevent",
    unspecified: str = "prevent",
    where: str = "inbound",
) -> str:
    statement = (
        f'<validate-content unspecified-content-type-action="{unspecified}" max-size="{size}" '
        f'size-exceeded-action="{size_action}" errors-variable-name="problems">'
        f"{children}</validate-content>"
    )
    if where == "outbound":
        return api_policy(outbound="<base />" + statement, on_error=ON_ERROR)
    return api_policy(statement, on_error=ON_ERROR)


def _one(policy: str, call: Call, **options: Any) -> Result:
    results, _, _ = run(policy, [call], **options)
    return results[0]


def _problems(result: Result) -> list[dict[str, Any]]:
    from apimgen.simulate.expr.values import to_plain

    logged = result.state.context.Variables.values.get("problems")
    return [] if logged is None else list(to_plain(logged))


def test_a_body_over_max_size_is_refused_with_400_before_the_backend() -> None:
    result = _one(_validate(size=60), Call(0, headers=JSON, body={"messages": ["x" * 80]}))
    assert result.status == 400 and result.state.backend_calls == 0
    details = "Request's body is 98 bytes long and it exceeds the configured limit of 60 bytes."
    # the caller reads the public message; LastError and the variable keep the details
    assert '"message": "Request\'s body is 98 bytes long and it exceeds the limit of 60' in (
        result.body or ""
    )
    assert result.headers["x-reason"] == ["Bad request"]
    assert result.headers["x-details"] == [details]
    assert _problems(result) == [
        {
            "Name": "",
            "Type": "RequestBody",
            "ValidationRule": "SizeLimit",
            "Details": details,
            "Action": "prevent",
        }
    ]


def test_detect_logs_what_it_finds_and_lets_the_call_through() -> None:
    policy = _validate(size=5, size_action="detect", unspecified="detect")
    xml = {"Content-Type": "application/xml; charset=utf-8"}
    result = _one(policy, Call(0, headers=xml, body="<q>hi</q>"))
    assert result.status == 200 and result.state.backend_calls == 1
    assert [(p["ValidationRule"], p["Name"]) for p in _problems(result)] == [
        ("SizeLimit", ""),
        ("Unspecified", "application/xml"),
    ]
    # a clean call leaves the variable unset
    clean = _one(_validate(size_action="detect"), Call(0, headers=JSON))
    assert clean.status == 200 and _problems(clean) == []
    assert "problems" not in clean.state.context.Variables.values


def test_the_errors_variable_is_a_json_array_expressions_can_read() -> None:
    read = (
        '<set-header name="x-first" exists-action="override"><value>'
        '@((string)((JArray)context.Variables["problems"])[0]["ValidationRule"])'
        "</value></set-header>"
    )
    policy = api_policy(
        '<validate-content unspecified-content-type-action="ignore" max-size="10" '
        'size-exceeded-action="detect" errors-variable-name="problems" />',
        outbound="<base />" + read,
    )
    assert _one(policy, Call(0, headers=JSON)).headers["x-first"] == ["SizeLimit"]


def test_ignore_skips_a_check() -> None:
    policy = _validate(size=10, size_action="ignore", unspecified="ignore")
    result = _one(policy, Call(0, headers={"Content-Type": "text/plain"}, body="hello world"))
    assert result.status == 200 and _problems(result) == []


def test_a_content_type_outside_the_api_definition_is_unspecified() -> None:
    result = _one(_validate(), Call(0, headers={"Content-Type": "application/xml"}, body="<a/>"))
    assert result.status == 400
    assert result.headers["x-details"] == [
        "Unspecified content type application/xml is not allowed."
    ]
    # no Content-Type at all is unspecified too, unless content-type-map supplies one
    assert _one(_validate(), Call(0)).status == 400
    mapped = _validate(
        '<content-type-map missing-content-type-value="application/json">'
        '<type from="application/hal+json" to="application/json" /></content-type-map>'
    )
    assert _one(mapped, Call(0)).status == 200
    hal = {"Content-Type": "application/hal+json"}
    assert _one(mapped, Call(0, headers=hal)).status == 200
    anything = _validate('<content-type-map any-content-type-value="application/json" />')
    assert _one(anything, Call(0, headers={"Content-Type": "text/plain"})).status == 200


def test_a_type_mapping_may_be_a_condition() -> None:
    policy = _validate(
        "<content-type-map>"
        '<type when="@(context.Request.Headers.GetValueOrDefault(&quot;Content-Type&quot;, &quot;&quot;).StartsWith(&quot;text/&quot;))" to="application/json" />'
        "</content-type-map>"
    )
    assert _one(policy, Call(0, headers={"Content-Type": "text/json"})).status == 200
    assert _one(policy, Call(0, headers={"Content-Type": "image/png"}, body="x")).status == 400


def test_a_schema_id_checks_the_body_against_the_scenarios_schema() -> None:
    policy = _validate('<content type="application/json" validate-as="json" schema-id="chat" />')
    schemas = {"chat": CHAT_SCHEMA}
    fine = _one(policy, Call(0, headers=JSON, max_tokens=200), schemas=schemas)
    assert fine.status == 200
    # action defaults to ignore: only an action makes the rule check anything
    assert _one(policy, Call(0, headers=JSON, max_tokens=900), schemas=schemas).status == 200
    prevent = policy.replace('schema-id="chat"', 'schema-id="chat" action="prevent"')
    refused = _one(prevent, Call(0, headers=JSON, max_tokens=900), schemas=schemas)
    assert refused.status == 400 and refused.state.backend_calls == 0
    assert refused.headers["x-details"] == [
        "Body of the request does not conform to the definition chat, which is associated "
        "with the content type application/json. 900 is greater than the maximum of 500. "
        "Path: '$.max_tokens'"
    ]
    assert _problems(refused)[0]["ValidationRule"] == "IncorrectMessage"


def test_allow_additional_properties_overrides_the_schema_both_ways() -> None:
    content = (
        '<content type="application/json" validate-as="json" schema-id="chat" action="prevent" '
        'allow-additional-properties="{allowed}" />'
    )
    extra = Call(0, headers=JSON, body={"messages": [{}], "stream": False})
    open_schema = {"chat": CHAT_SCHEMA}
    closed_schema = {"chat": {**CHAT_SCHEMA, "additionalProperties": False}}
    assert (
        _one(_validate(content.format(allowed="true")), extra, schemas=closed_schema).status == 200
    )
    refused = _one(_validate(content.format(allowed="false")), extra, schemas=open_schema)
    assert refused.status == 400
    assert (
        "Additional properties are not allowed ('stream' was unexpected)"
        in (refused.headers["x-details"][0])
    )


def test_schema_ref_picks_a_definition_inside_the_schema_document() -> None:
    document = {"components": {"schemas": {"chat": CHAT_SCHEMA}}}
    policy = _validate(
        '<content validate-as="json" schema-id="openapi" action="prevent" '
        'schema-ref="#/components/schemas/chat" />'
    )
    schemas = {"openapi": document}
    assert _one(policy, Call(0, headers=JSON), schemas=schemas).status == 200
    refused = _one(policy, Call(0, headers=JSON, body={"prompt": "hi"}), schemas=schemas)
    assert refused.status == 400
    assert "definition #/components/schemas/chat" in refused.headers["x-details"][0]
    assert "'messages' is a required property" in refused.headers["x-details"][0]


def test_without_a_schema_id_only_a_body_that_is_not_json_fails() -> None:
    policy = _validate('<content validate-as="json" action="prevent" />')
    assert _one(policy, Call(0, headers=JSON, body={"anything": 1})).status == 200
    broken = _one(policy, Call(0, headers=JSON, body='{"messages": ['))
    assert broken.status == 400
    assert "definition of the API definition" in broken.headers["x-details"][0]
    assert "Line: 1, Position: 15" in broken.headers["x-details"][0]


def test_in_outbound_a_refused_answer_is_a_502_that_hides_the_details() -> None:
    policy = _validate(where="outbound")
    streamed = _one(policy, Call(0, headers=JSON), stream=True)
    # the backend answered (and spent its tokens) before the answer was refused
    assert streamed.state.backend_calls == 1 and streamed.status == 502
    assert "internal error. Contact the API owner." in (streamed.body or "")
    assert streamed.headers["x-reason"] == ["Response not allowed"]
    assert streamed.headers["x-details"] == [
        "Unspecified content type text/event-stream is not allowed."
    ]
    whole = _one(policy, Call(0, headers=JSON))
    assert whole.status == 200
    small = _one(_validate(size=50, where="outbound"), Call(0, headers=JSON))
    assert small.status == 502
    assert _problems(small)[0]["Type"] == "ResponseBody"


def test_an_unknown_schema_id_is_a_located_error_naming_the_supplied_ones() -> None:
    policy = _validate('<content validate-as="json" schema-id="nope" action="prevent" />')
    with pytest.raises(PolicyConfigError) as raised:
        run(policy, [Call(0)], schemas={"chat": CHAT_SCHEMA})
    assert "schema-id 'nope' is not a schema the scenario supplies" in str(raised.value)
    assert "supplied: chat" in raised.value.hint
    assert raised.value.location is not None and raised.value.location.file == "api.xml"


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        (
            '<validate-content max-size="10" size-exceeded-action="prevent" />',
            "needs the attribute",
        ),
        (
            '<validate-content unspecified-content-type-action="block" max-size="10" '
            'size-exceeded-action="prevent" />',
            "must be one of ignore, prevent, detect",
        ),
        (
            '<validate-content unspecified-content-type-action="ignore" max-size="ten" '
            'size-exceeded-action="prevent" />',
            "must be a whole number",
        ),
        (
            '<validate-content unspecified-content-type-action="ignore" max-size="10" '
            'size-exceeded-action="prevent"><schema /></validate-content>',
            "has no element <schema>",
        ),
        (
            '<validate-content unspecified-content-type-action="ignore" max-size="10" '
            'size-exceeded-action="prevent"><content-type-map><type from="a/b" />'
            "</content-type-map></validate-content>",
            "<type> needs the attribute 'to'",
        ),
        (
            '<validate-content unspecified-content-type-action="ignore" max-size="10" '
            'size-exceeded-action="prevent"><content type="application/json" /></validate-content>',
            "<content> needs the attribute 'validate-as'",
        ),
        (
            '<validate-content unspecified-content-type-action="ignore" max-size="10" '
            'size-exceeded-action="prevent"><content validate-as="json" actoin="prevent" />'
            "</validate-content>",
            "<content> has no attribute 'actoin'",  # with "did you mean 'action'?"
        ),
        (
            '<validate-content unspecified-content-type-action="ignore" max-size="10" '
            'size-exceeded-action="prevent"><content-type-map><type from="a/b" when="@(true)" '
            'to="application/json" /></content-type-map></validate-content>',
            "<type> needs one of 'from' or 'when'",
        ),
    ],
)
def test_what_apim_would_not_save_is_a_located_error(statement: str, message: str) -> None:
    with pytest.raises(PolicyConfigError, match=message):
        run(api_policy(statement), [Call(0)])


@pytest.mark.parametrize(
    "rule",
    [
        '<content validate-as="xml" action="prevent" />',
        '<content validate-as="json" schema-id="chat" action="prevent" '
        'case-insensitive-property-names="true" />',
    ],
)
def test_validation_the_simulator_cannot_do_is_refused_as_unsupported(rule: str) -> None:
    result = _one(_validate(rule), Call(0, headers=JSON), schemas={"chat": CHAT_SCHEMA})
    assert result.status == 500
    assert result.state.error is not None and result.state.error[0] == "SimulatorUnsupported"


def test_a_schema_ref_that_names_nothing_is_a_located_error() -> None:
    policy = _validate(
        '<content validate-as="json" schema-id="chat" schema-ref="#/components/nope" '
        'action="prevent" />'
    )
    with pytest.raises(PolicyConfigError, match="schema-ref '#/components/nope' names nothing"):
        run(policy, [Call(0)], schemas={"chat": CHAT_SCHEMA})


def test_a_schema_that_refers_to_another_document_is_apims_api_schema_error() -> None:
    # nothing is fetched: the reference cannot be resolved, as APIM reports
    policy = _validate('<content validate-as="json" schema-id="remote" action="prevent" />')
    schemas = {"remote": {"$ref": "https://schemas.example/chat.json"}}
    result = _one(policy, Call(0, headers=JSON), schemas=schemas)
    assert result.status == 400 and result.state.backend_calls == 0
    assert "internal error" in (result.body or "")
    problem = _problems(result)[0]
    assert problem["Type"] == "ApiSchema"
    assert problem["Details"].startswith("API's schema does not exist or it could not be resolved")


def test_the_additional_properties_override_touches_schemas_only() -> None:
    from apimgen.simulate.policy.handlers.validation import _with_additional_properties

    schema = {
        "type": "object",
        "properties": {
            "properties": {"type": "object", "properties": {}},  # a property named so
            "mode": {"const": {"type": "object"}},
        },
        "anyOf": [{"type": "object"}],
        "$defs": {"m": {"properties": {"role": {"enum": ["user"]}}}},
    }
    closed = _with_additional_properties(schema, False)
    assert closed["additionalProperties"] is False
    assert set(closed["properties"]) == {"properties", "mode"}
    assert closed["properties"]["properties"]["additionalProperties"] is False
    assert closed["properties"]["mode"] == {"const": {"type": "object"}}
    assert closed["anyOf"][0]["additionalProperties"] is False
    assert closed["$defs"]["m"]["additionalProperties"] is False
    assert closed["$defs"]["m"]["properties"]["role"] == {"enum": ["user"]}


def test_a_schema_whose_references_loop_is_apims_api_schema_error() -> None:
    policy = _validate('<content validate-as="json" schema-id="loop" action="prevent" />')
    result = _one(policy, Call(0, headers=JSON), schemas={"loop": {"$ref": "#"}})
    assert result.status == 400
    assert _problems(result)[0]["Details"].endswith("its references lead back to themselves")
    # schema-ref "#" names the whole document, as no schema-ref does
    whole = _validate(
        '<content validate-as="json" schema-id="chat" schema-ref="#" action="prevent" />'
    )
    assert _one(whole, Call(0, headers=JSON), schemas={"chat": CHAT_SCHEMA}).status == 200


# Pieces of validate-content put together at random: every mix is refused with a located error
# or runs to an answer; a Python error escaping would stop a whole simulation.
_RULE_ATTRIBUTES = (
    'type="application/json"', 'type=""', 'type="text/plain"', 'validate-as="json"',
    'validate-as="xml"', 'validate-as="x"', 'schema-id="chat"', 'schema-id="loop"',
    'schema-ref="#/properties"', 'schema-ref="#"', 'schema-ref="x"', 'action="prevent"',
    'action="detect"', 'action="no"', 'allow-additional-properties="false"',
    'allow-additional-properties="maybe"', 'unknown="1"',
)  # fmt: skip
_MAPS = (
    '<content-type-map any-content-type-value="application/json" />',
    '<content-type-map missing-content-type-value="text/xml">'
    '<type from="a/b" to="application/json" /></content-type-map>',
    '<content-type-map><type when="@(1)" to="x" /></content-type-map>',
    '<content-type-map><type to="x" /></content-type-map>',
)


def test_random_mixes_are_refused_or_run_never_crash() -> None:
    import random

    rng = random.Random(7)
    schemas = {"chat": CHAT_SCHEMA, "loop": {"$ref": "#"}}
    for _ in range(1000):
        children = "".join(
            rng.choice(_MAPS)
            if rng.random() < 0.3
            else f"<content {' '.join(rng.sample(_RULE_ATTRIBUTES, rng.randrange(5)))} />"
            for _ in range(rng.randrange(3))
        )
        statement = _validate(
            children,
            size=rng.choice((0, 100, 102400)),
            size_action=rng.choice(("prevent", "detect", "ignore")),
            unspecified=rng.choice(("prevent", "detect", "ignore")),
            where=rng.choice(("inbound", "outbound")),
        )
        headers = {"Content-Type": rng.choice(("application/json", "text/plain", ""))}
        body = rng.choice(('{"messages": [1]}', '{"a": 1}', "[1]", "not json", ""))
        try:
            run(statement, [Call(0, headers=headers, body=body)], schemas=schemas)
        except (PolicyConfigError, PolicyReadError):  # located errors (a repeated attribute)
            continue
