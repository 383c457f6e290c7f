"""The lenient policy reader: what APIM accepts, with line numbers, and nothing dangerous."""

from __future__ import annotations

import pytest

from apimgen.errors import Location
from apimgen.simulate.expr.compiler import compile_expression
from apimgen.simulate.policy.reader import PolicyReadError, escape_expressions, read_policy

HAND_WRITTEN = """<policies>
    <inbound>
        <base />
        <set-variable name="deployment" value="@(context.Request.MatchedParameters["deployment-id"])" />
        <choose>
            <when condition="@(context.Request.Headers.GetValueOrDefault("X-Tier","") == "gold" && context.Variables.ContainsKey("deployment"))">
                <llm-token-limit counter-key="@(context.Subscription.Id + "-" + (string)context.Variables["deployment"])" tokens-per-minute="5000" estimate-prompt-tokens="true" />
            </when>
            <otherwise>
                <set-body>@{
                    var body = context.Request.Body.As<JObject>(preserveContent: true);
                    if (body["max_tokens"] != null && body["max_tokens"].Value<int>() > 512) {
                        body["max_tokens"] = 512;
                    }
                    return body.ToString();
                }</set-body>
            </otherwise>
        </choose>
        <!-- comments stay comments, even with @( and < inside -->
    </inbound>
</policies>
"""


def test_reads_what_apim_accepts_and_keeps_lines() -> None:
    root = read_policy(HAND_WRITTEN, "hand.xml")
    inbound = root.child("inbound")
    assert inbound is not None
    assert [c.name for c in inbound.children] == ["base", "set-variable", "choose"]
    variable, choose = inbound.children[1], inbound.children[2]
    assert variable.line == 4 and variable.file == "hand.xml"
    assert variable.attributes["value"] == ('@(context.Request.MatchedParameters["deployment-id"])')
    when = choose.children[0]
    assert when.attributes["condition"] == (
        '@(context.Request.Headers.GetValueOrDefault("X-Tier","") == "gold" && '
        'context.Variables.ContainsKey("deployment"))'
    )
    limit = when.children[0]
    assert limit.line == 7
    body = choose.children[1].children[0]
    assert body.name == "set-body" and body.line == 10
    assert body.text is not None and "As<JObject>" in body.text and "> 512" in body.text
    for expression in (variable.attributes["value"], when.attributes["condition"], body.text):
        compile_expression(expression)  # everything read back is a valid expression


def test_well_formed_xml_with_entities_reads_the_same() -> None:
    strict = (
        '<policies><inbound><set-variable name="a" '
        'value="@(context.Request.Headers.GetValueOrDefault(&quot;x&quot;, &quot;&lt;&quot;))" />'
        "</inbound></policies>"
    )
    lenient = (
        '<policies><inbound><set-variable name="a" '
        'value="@(context.Request.Headers.GetValueOrDefault("x", "<"))" />'
        "</inbound></policies>"
    )
    read = [
        read_policy(t).child("inbound").children[0].attributes["value"] for t in (strict, lenient)
    ]  # type: ignore[union-attr]
    assert read[0] == read[1] == '@(context.Request.Headers.GetValueOrDefault("x", "<"))'


def test_braces_and_parens_inside_strings_do_not_end_the_expression() -> None:
    text = '<a v="@(&quot;)&quot; + ")}" + \'(\')" w="x" />'
    element = read_policy(text)
    assert element.attributes == {"v": '@(")" + ")}" + \'(\')', "w": "x"}


def test_escaping_never_changes_line_count() -> None:
    assert escape_expressions(HAND_WRITTEN).count("\n") == HAND_WRITTEN.count("\n")


def test_malformed_xml_is_located() -> None:
    with pytest.raises(PolicyReadError) as error:
        read_policy("<policies>\n  <inbound>\n    <base>\n  </inbound>\n</policies>", "bad.xml")
    assert error.value.location is not None
    assert (error.value.location.file, error.value.location.line) == ("bad.xml", 4)
    assert "</inbound> does not close <base> (opened on line 3)" in error.value.message


MULTI_LINE_THEN_TYPO = """<policies>
  <inbound>
    <set-variable name="x" value="@{
        var a = 1;
        return (a + 1).ToString();
    }" />
    <choose>
      <when condition="@(true)"><set-variable name="y" value="1" /></when>
    </chose>
  </inbound>
</policies>
"""


def test_lines_after_a_multi_line_expression_are_the_lines_written() -> None:
    fixed = MULTI_LINE_THEN_TYPO.replace("</chose>", "</choose>")
    assert escape_expressions(fixed).count("\n") == fixed.count("\n")
    inbound = read_policy(fixed).child("inbound")
    assert inbound is not None
    assert [child.line for child in inbound.children] == [3, 7]
    value = inbound.children[0].attributes["value"]
    assert value.splitlines()[1] == "        var a = 1;", "the block's own text is unchanged"
    with pytest.raises(PolicyReadError) as error:
        read_policy(MULTI_LINE_THEN_TYPO, "typo.xml")
    assert error.value.location == Location("typo.xml", 9, 7)
    assert "</chose> does not close <choose> (opened on line 7)" in error.value.message


def test_a_double_hyphen_in_a_comment_is_refused_with_a_hint() -> None:
    # XML forbids "--" inside a comment; APIM refuses such a policy without naming comments.
    text = "<policies>\n  <inbound>\n    <!-- limit -- per user -->\n  </inbound>\n</policies>"
    with pytest.raises(PolicyReadError) as error:
        read_policy(text, "api.xml")
    assert error.value.location is not None and error.value.location.line == 3
    assert error.value.hint == "a comment cannot contain '--' (XML forbids it)"
    with pytest.raises(PolicyReadError) as other:
        read_policy("<policies><inbound></outbound></policies>", "api.xml")
    assert other.value.hint == ""


def test_dtd_and_entity_expansion_are_refused() -> None:
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
        "<policies>&lol2;</policies>"
    )
    with pytest.raises(PolicyReadError, match="DTD"):
        read_policy(bomb)
    external = '<!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]><policies>&x;</policies>'
    with pytest.raises(PolicyReadError):
        read_policy(external)


def test_named_values_are_put_into_attributes_and_text() -> None:
    text = '<policies><inbound><set-header name="{{hdr}}"><value>@("{{prefix}}" + "1")</value></set-header></inbound></policies>'
    root = read_policy(text, named_values={"hdr": "X-Key", "prefix": "p-"})
    header = root.child("inbound").children[0]  # type: ignore[union-attr]
    assert header.attributes["name"] == "X-Key"
    assert header.children[0].text == '@("p-" + "1")'


def test_a_named_value_may_hold_what_xml_refuses_in_an_attribute() -> None:
    # A load balancer's configuration kept as JSON in a named value: APIM puts it into the
    # attribute after reading the XML, so its quotes do not end the attribute.
    config = '[{"name": "ptu", "priority": 1}, {"name": "a&b <c>", "priority": 2}]'
    text = (
        '<policies><inbound><set-variable name="lb" value="{{lb-config}}" />'
        '<set-header name="x"><value>{{lb-config}}</value></set-header></inbound></policies>'
    )
    inbound = read_policy(text, named_values={"lb-config": config}).child("inbound")
    assert inbound is not None
    assert inbound.children[0].attributes["value"] == config
    assert inbound.children[1].children[0].text == config


def test_a_comment_in_a_multi_line_attribute_block_ends_at_its_line() -> None:
    # An XML parser turns line breaks in an attribute into spaces; kept as written, the
    # comment ends at its line and its apostrophe and brace open nothing.
    text = (
        '<policies><inbound><set-variable name="n" value="@{\n'
        "    // don't count { this\n"
        '    /* nor "this" */ int n = 2;\n'
        '    return n + 1;\n}" /></inbound></policies>'
    )
    inbound = read_policy(text).child("inbound")
    assert inbound is not None
    block = inbound.children[0].attributes["value"]
    assert block.splitlines()[1] == "    // don't count { this"
    assert compile_expression(block).evaluate(None, {}) == 3


def test_unknown_named_value_is_located() -> None:
    with pytest.raises(PolicyReadError) as error:
        read_policy("<policies>\n<inbound>{{missing}}</inbound></policies>", "p.xml", {})
    assert error.value.location is not None and error.value.location.line == 2
    assert "'{{missing}}' is not defined" in error.value.message
