"""``validate-content`` (Learn: validate-content-policy, with the validation policies' shared
pages on actions and errors): the request's body in inbound, the response's in outbound and
on-error, checked for size, content type and JSON schema.

What stands in for the API definition: the Azure OpenAI inference API, whose operations take
and answer ``application/json``. The simulated calls and the mock backends' answers follow its
schema, so a ``content`` rule without ``schema-id`` (the API's own schema) fails only a body
that is not JSON. ``schema-id`` names a schema the scenario supplies under ``schemas:``, and
jsonschema checks the body against it. A streamed answer is ``text/event-stream``, a content
type the definition does not name: Learn advises against validate-content on server-sent
events, as it buffers the answer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from apimgen.simulate.context import Request, Response
from apimgen.simulate.expr.values import JArray, JObject, JValue
from apimgen.simulate.policy.handlers.base import (
    Attribute,
    BuildContext,
    PolicyConfigError,
    PolicyHandler,
    Value,
    attribute_values,
    refuse_unknown_children,
)
from apimgen.simulate.policy.handlers.control import to_bool
from apimgen.simulate.policy.reader import PolicyElement
from apimgen.simulate.state import PolicyError, RequestState, error_body

__all__ = ["API_CONTENT_TYPES", "ValidateContent", "json_schema_validator"]

_ACTIONS = ("ignore", "prevent", "detect")
API_CONTENT_TYPES = frozenset({"application/json"})  # what the inference API takes and answers
_INTERNAL = "The request could not be processed due to an internal error. Contact the API owner."


def json_schema_validator(schema: dict[str, Any]) -> Any:
    """A jsonschema validator for ``schema`` (its ``$schema`` picks the draft, else the
    latest). Imported here: most runs validate nothing."""
    from jsonschema.validators import validator_for

    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


# Where a JSON Schema holds other schemas: one, a list of them, or a mapping to them.
_SUBSCHEMA = ("items", "additionalItems", "contains", "not", "if", "then", "else")
_SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SUBSCHEMA_MAPS = ("properties", "patternProperties", "definitions", "$defs", "dependentSchemas")


def _with_additional_properties(schema: Any, allowed: bool) -> Any:
    """``schema`` with every object schema's additionalProperties overridden, as the
    allow-additional-properties attribute does at run time. Only schema positions are
    walked: a ``const``, an ``enum`` or a property named "properties" stays as written."""
    if not isinstance(schema, dict):
        return schema
    copy = dict(schema)
    for key in _SUBSCHEMA:
        if key in copy:
            copy[key] = _with_additional_properties(copy[key], allowed)
    for key in _SUBSCHEMA_LISTS:
        if isinstance(copy.get(key), list):
            copy[key] = [_with_additional_properties(item, allowed) for item in copy[key]]
    for key in _SUBSCHEMA_MAPS:
        if isinstance(copy.get(key), dict):
            copy[key] = {
                name: _with_additional_properties(item, allowed) for name, item in copy[key].items()
            }
    if "properties" in copy or copy.get("type") == "object":
        copy["additionalProperties"] = allowed
    return copy


class _Finding(NamedTuple):
    """One validation error, as APIM logs it, and what the caller is told of it."""

    name: str
    type: str
    rule: str
    details: str
    public: str
    action: str

    def as_json(self) -> JObject:
        return JObject(
            {
                "Name": JValue(self.name),
                "Type": JValue(self.type),
                "ValidationRule": JValue(self.rule),
                "Details": JValue(self.details),
                "Action": JValue(self.action),
            }
        )


@dataclass(frozen=True)
class _TypeMapping:
    """A ``content-type-map/type``: ``from`` a known content type, or ``when`` a condition."""

    source: str | None
    when: Value | None
    to: str
    element: PolicyElement


@dataclass(frozen=True)
class _ContentRule:
    content_type: str  # lower case; empty: every content type the API defines
    validate_as: str
    action: str
    definition: str  # what the errors call the schema
    validator: Any  # a jsonschema validator, or None for the API definition's own schema
    element: PolicyElement
    unsupported: str | None = None  # what the simulator cannot do for this rule, if anything

    def problem(self, text: str) -> str | None:
        """Why ``text`` does not conform, or None."""
        if self.unsupported is not None:
            raise PolicyError(
                "SimulatorUnsupported", self.unsupported, self.element, source="validate-content"
            )
        try:
            document = json.loads(text)
        except ValueError as error:
            message = getattr(error, "msg", str(error))
            line, column = getattr(error, "lineno", 0), getattr(error, "colno", 0)
            return f"{message}. Line: {line}, Position: {column}"
        if self.validator is None:
            return None
        from jsonschema.exceptions import best_match
        from referencing.exceptions import Unresolvable

        try:
            found = best_match(self.validator.iter_errors(document))
        except Unresolvable as unresolved:  # a $ref to another document: nothing is fetched
            raise _SchemaUnresolvedError(str(unresolved)) from None
        except RecursionError:
            raise _SchemaUnresolvedError("its references lead back to themselves") from None
        return None if found is None else f"{found.message}. Path: '{found.json_path}'"


class _SchemaUnresolvedError(Exception):
    """The schema names a part it cannot reach (a ``$ref`` to another document)."""


def _points_into(document: Any, reference: str) -> bool:
    """Whether the JSON pointer ``#/a/b`` names a part of ``document``."""
    if not reference.startswith("#"):
        return False
    target = document
    for part in (part for part in reference[1:].split("/") if part):
        step = part.replace("~1", "/").replace("~0", "~")
        if isinstance(target, dict) and step in target:
            target = target[step]
        elif isinstance(target, list) and step.isdigit() and int(step) < len(target):
            target = target[int(step)]
        else:
            return False
    return True


_BOOLEAN = ("true", "false")
# <content>'s attributes; without an action a rule checks nothing (inference).
_CONTENT = (
    Attribute("type", expressions=False, default=""),
    Attribute("validate-as", required=True, expressions=False, choices=("json", "xml", "soap")),
    Attribute("schema-id", expressions=False),
    Attribute("schema-ref", expressions=False),
    Attribute("action", expressions=False, default="ignore", choices=_ACTIONS),
    Attribute("allow-additional-properties", expressions=False, choices=_BOOLEAN),
    Attribute("case-insensitive-property-names", expressions=False, choices=_BOOLEAN),
)
_TYPE_MAP = (
    Attribute("any-content-type-value", expressions=False),
    Attribute("missing-content-type-value", expressions=False),
)
_TYPE = (
    Attribute("from", expressions=False),
    Attribute("when"),
    Attribute("to", required=True, expressions=False),
)


def _literals(element: PolicyElement, specs: tuple[Attribute, ...]) -> dict[str, str | None]:
    """A child element's literal attributes, checked as a statement's are."""
    values = attribute_values(element, specs)
    return {spec.name: values[spec.name].literal if spec.name in values else None for spec in specs}


def _content_rule(element: PolicyElement, schemas: Mapping[str, Any]) -> _ContentRule:
    given = _literals(element, _CONTENT)
    validate_as, action = given["validate-as"] or "", given["action"] or "ignore"
    schema_id, schema_ref = given["schema-id"], given["schema-ref"]
    allowed = given["allow-additional-properties"]
    validator = None
    if schema_id is not None and validate_as == "json":
        if schema_id not in schemas:
            known_ids = ", ".join(sorted(schemas)) or "none"
            raise PolicyConfigError(
                f"<content> schema-id '{schema_id}' is not a schema the scenario supplies",
                hint=f"add it under the scenario's schemas: (id: a JSON Schema file); "
                f"supplied: {known_ids}",
                location=element.location,
            )
        schema = dict(schemas[schema_id])
        if schema_ref and schema_ref != "#":  # "#" is the whole document, as without one
            if not _points_into(schemas[schema_id], schema_ref):
                raise PolicyConfigError(
                    f"<content> schema-ref '{schema_ref}' names nothing in schema '{schema_id}'",
                    hint="a JSON pointer into the schema document, e.g. "
                    "#/components/schemas/request",
                    location=element.location,
                )
            schema["$ref"] = schema_ref  # resolved against the document it came from
        if allowed is not None:
            schema = _with_additional_properties(schema, allowed == "true")
        validator = json_schema_validator(schema)
    unsupported = None
    if validate_as != "json":
        unsupported = f'<content validate-as="{validate_as}">: the simulator validates JSON only'
    elif given["case-insensitive-property-names"] == "true" and validator is not None:
        unsupported = '<content case-insensitive-property-names="true"> is not simulated'
    return _ContentRule(
        content_type=(given["type"] or "").strip().lower(),
        validate_as=validate_as,
        action=action,
        definition=schema_ref or schema_id or "of the API definition",
        validator=validator,
        element=element,
        unsupported=unsupported,
    )


class ValidateContent(PolicyHandler):
    """``validate-content``: ``ignore`` skips a check, ``detect`` logs its errors to
    ``errors-variable-name``, ``prevent`` also stops the message at its first errors — 400 in
    inbound, 502 in outbound, with ``LastError`` holding the details the caller is not told.

    The errors variable is set only when a check found something (inference: Learn says errors
    are logged to it), as a JArray of objects with Name, Type, ValidationRule, Details and
    Action (inference: Learn gives the fields, not the type)."""

    element_names = ("validate-content",)
    child_elements = ("content-type-map", "content")
    sections = ("inbound", "outbound", "on-error")
    attributes = (
        Attribute(
            "unspecified-content-type-action", required=True, expressions=False, choices=_ACTIONS
        ),
        Attribute("max-size", required=True, expressions=False, kind="whole"),
        Attribute("size-exceeded-action", required=True, expressions=False, choices=_ACTIONS),
        Attribute("errors-variable-name", expressions=False),
    )

    def __init__(self, element: PolicyElement, build: BuildContext) -> None:
        super().__init__(element, build)
        self.max_size = self.int_literal("max-size") or 0
        # both are required, their values checked against the actions by the base class
        self.size_action = self.literal("size-exceeded-action") or ""
        self.unspecified_action = self.literal("unspecified-content-type-action") or ""
        self.variable = self.literal("errors-variable-name")
        mapping = element.child("content-type-map")
        self.any_type = self.missing_type = None
        self.mappings: list[_TypeMapping] = []
        if mapping is not None:
            refuse_unknown_children(mapping, ("type",))
            given = _literals(mapping, _TYPE_MAP)
            self.any_type = _lower(given["any-content-type-value"])
            self.missing_type = _lower(given["missing-content-type-value"])
            self.mappings = [_type_mapping(child) for child in mapping.children]
        self.rules = [
            _content_rule(child, build.schemas)
            for child in element.children
            if child.name == "content"
        ]

    def run(self, state: RequestState) -> None:
        inbound = state.section == "inbound"
        message: Request | Response | None = (
            state.context.Request if inbound else state.context.Response
        )
        if message is None:
            return
        kind = "Request" if inbound else "Response"
        body = message.Body
        text = "" if body is None or body.consumed else body.text
        findings: list[_Finding] = []
        size = len(text.encode("utf-8"))
        if size > self.max_size and self.size_action != "ignore":
            details = f"{kind}'s body is {size} bytes long and it exceeds the configured limit"
            public = f"{kind}'s body is {size} bytes long and it exceeds the limit"
            self._found(
                state,
                findings,
                _Finding(
                    "",
                    f"{kind}Body",
                    "SizeLimit",
                    f"{details} of {self.max_size} bytes.",
                    f"{public} of {self.max_size} bytes." if inbound else _INTERNAL,
                    self.size_action,
                ),
            )
        if text:
            content_type = self._content_type(message, state)
            if content_type not in API_CONTENT_TYPES:
                if self.unspecified_action != "ignore":
                    details = f"Unspecified content type {content_type} is not allowed."
                    finding = _Finding(
                        content_type,
                        f"{kind}Body",
                        "Unspecified",
                        details,
                        details if inbound else _INTERNAL,
                        self.unspecified_action,
                    )
                    self._found(state, findings, finding)
            else:
                self._check_schema(state, findings, text, content_type, kind)
        if findings and self.variable:
            state.context.Variables.values[self.variable] = _logged(findings)

    def _check_schema(
        self,
        state: RequestState,
        findings: list[_Finding],
        text: str,
        content_type: str,
        kind: str,
    ) -> None:
        rule = next((r for r in self.rules if r.content_type in ("", content_type)), None)
        if rule is None or rule.action == "ignore":
            return
        try:
            problem = rule.problem(text)
        except _SchemaUnresolvedError as error:
            # Learn's ApiSchema error: the caller is told of an internal error either way
            details = f"API's schema does not exist or it could not be resolved. {error}"
            finding = _Finding("", "ApiSchema", "", details, _INTERNAL, rule.action)
            self._found(state, findings, finding)
            return
        if problem is None:
            return
        details = (
            f"Body of the {kind.lower()} does not conform to the definition {rule.definition}, "
            f"which is associated with the content type {content_type}. {problem}"
        )
        public = details if kind == "Request" else _INTERNAL
        finding = _Finding(
            content_type, f"{kind}Body", "IncorrectMessage", details, public, rule.action
        )
        self._found(state, findings, finding)

    def _content_type(self, message: Request | Response, state: RequestState) -> str:
        """The content type validation goes by: the message's, mapped by content-type-map."""
        raw = message.Headers.GetValueOrDefault("Content-Type", "")
        incoming = str(raw or "").split(";")[0].strip().lower()
        for mapping in self.mappings:
            if mapping.source is not None and mapping.source == incoming:
                return mapping.to
            if mapping.when is not None and to_bool(mapping.when.get(state), mapping.element):
                return mapping.to
        if not incoming and self.missing_type:
            return self.missing_type
        return self.any_type or incoming

    def _found(self, state: RequestState, findings: list[_Finding], finding: _Finding) -> None:
        """Log ``finding``; under ``prevent`` the message goes no further."""
        findings.append(finding)
        if finding.action != "prevent":
            return
        if self.variable:
            state.context.Variables.values[self.variable] = _logged(findings)
        inbound = state.section == "inbound"
        status, reason = (400, "Bad Request") if inbound else (502, "Bad Gateway")
        response = state.respond(
            status, reason, {"Content-Type": "application/json"}, error_body(status, finding.public)
        )
        raise PolicyError(
            "Bad request" if inbound else "Response not allowed",
            finding.details,
            self.element,
            response=response,
        )


def _logged(findings: list[_Finding]) -> JArray:
    return JArray([finding.as_json() for finding in findings])


def _lower(text: str | None) -> str | None:
    return text.strip().lower() if text else None


def _type_mapping(element: PolicyElement) -> _TypeMapping:
    values = attribute_values(element, _TYPE)
    source, when = values.get("from"), values.get("when")
    if (source is None) == (when is None):
        raise PolicyConfigError("<type> needs one of 'from' or 'when'", location=element.location)
    return _TypeMapping(
        _lower(source.literal if source else None),
        when,
        (values["to"].literal or "").lower(),
        element,
    )
