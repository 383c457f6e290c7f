"""What every simulated policy shares: attribute parsing with locations, expression-valued
attributes compiled once, and the registry that maps element names to handlers.

A handler is built once per policy element (its attributes validated and its expressions
compiled) and then runs once per request. ``run`` returns None, or a generator when the policy
waits on the virtual clock (forward-request, retry), so the engine can interleave requests.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from apimgen.errors import ApimgenError
from apimgen.simulate.expr.compiler import CompiledExpression, compile_expression
from apimgen.simulate.expr.errors import ExpressionUnsupportedError
from apimgen.simulate.expr.parser import ExpressionSyntaxError, is_expression
from apimgen.simulate.expr.values import cs_string
from apimgen.simulate.policy.apim_policies import APIM_POLICIES
from apimgen.simulate.policy.reader import PolicyElement
from apimgen.simulate.state import PolicyError

if TYPE_CHECKING:
    from apimgen.simulate.state import RequestState

__all__ = [
    "COMMON_ATTRIBUTES",
    "Attribute",
    "PolicyConfigError",
    "PolicyHandler",
    "RecordedHandler",
    "Value",
    "attribute_values",
    "build_handlers",
    "refuse_unknown_children",
]

Wait = Iterator[float]  # yields the virtual times to resume at


class PolicyConfigError(ApimgenError):
    """A policy APIM would refuse to save: unknown policy or attribute, missing or bad value."""


@dataclass(frozen=True, slots=True)
class Value:
    """An attribute value: a literal, or an expression evaluated per request."""

    literal: str | None
    expression: CompiledExpression | None

    def get(self, state: RequestState) -> Any:
        if self.expression is None:
            return self.literal
        return state.evaluate(self.expression)

    def text(self, state: RequestState) -> str:
        expression = self.expression
        if expression is None:
            return self.literal or ""
        return cs_string(state.evaluate(expression))


@dataclass(frozen=True)
class Attribute:
    """How one attribute may be written (apim-genai-policies.md lists these per policy)."""

    name: str
    required: bool = False
    expressions: bool = True
    default: str | None = None
    choices: tuple[str, ...] = ()
    kind: Literal["text", "number", "whole"] = "text"  # numbers are checked when literal

    def refuses(self, literal: str) -> str | None:
        """Why APIM would not take ``literal`` for this attribute, or None."""
        if self.choices and literal not in self.choices:
            return f"must be one of {', '.join(self.choices)}, not '{literal}'"
        if self.kind != "text" and parse_number(literal, self.kind) is None:
            return f"must be a {'whole ' if self.kind == 'whole' else ''}number, not '{literal}'"
        return None


def parse_number(text: str, kind: str) -> float | None:
    """``text`` as a whole number or any number, or None when it is neither."""
    try:
        return int(text.strip()) if kind == "whole" else float(text.strip())
    except ValueError:
        return None


# Attributes every policy statement accepts. ``id`` names a statement and changes nothing; the
# portal writes it (``<set-backend-service id="apim-generated-policy" .../>`` on an imported
# API), so exported policies carry it.
COMMON_ATTRIBUTES = (Attribute("id", expressions=False),)


def compile_value(text: str, element: PolicyElement, attribute: str | None = None) -> Value:
    if not is_expression(text):
        return Value(text, None)
    try:
        written = f"<{element.name} {attribute}>" if attribute else f"<{element.name}>"
        return Value(None, compile_expression(text, f"{written} at {element.location}"))
    except ExpressionSyntaxError as error:
        raise PolicyConfigError(
            f"{_where(attribute)}expression does not parse: {error.message} "
            f"(at {error.line}:{error.column})",
            location=element.location,
        ) from None
    except ExpressionUnsupportedError as unsupported:
        raise PolicyConfigError(
            f"{_where(attribute)}{unsupported}", location=element.location
        ) from None


def _where(attribute: str | None) -> str:
    return f"attribute '{attribute}': " if attribute else ""


def attribute_values(
    element: PolicyElement,
    specs: tuple[Attribute, ...],
    common: tuple[Attribute, ...] = (),
) -> dict[str, Value]:
    """``element``'s attributes checked against ``specs`` (and ``common``, accepted but never
    required) and compiled, defaults filled in: a policy statement's, or a child element's
    such as validate-content's ``<content>``. What APIM would refuse is a located error."""
    values: dict[str, Value] = {}
    known = {a.name: a for a in (*specs, *common)}
    for name, text in element.attributes.items():
        spec = known.get(name)
        if spec is None:
            close = difflib.get_close_matches(name, list(known), n=1)
            raise PolicyConfigError(
                f"<{element.name}> has no attribute '{name}'",
                hint=f"did you mean '{close[0]}'?" if close else "",
                location=element.location,
            )
        if is_expression(text) and not spec.expressions:
            raise PolicyConfigError(
                f"<{element.name}> attribute '{name}' does not allow expressions",
                location=element.location,
            )
        refusal = None if is_expression(text) else spec.refuses(text)
        if refusal:
            raise PolicyConfigError(
                f"<{element.name}> attribute '{name}' {refusal}", location=element.location
            )
        values[name] = compile_value(text, element, name)
    for spec in specs:
        if spec.name in values:
            continue
        if spec.required:
            raise PolicyConfigError(
                f"<{element.name}> needs the attribute '{spec.name}'", location=element.location
            )
        if spec.default is not None:
            values[spec.name] = Value(spec.default, None)
    return values


def refuse_unknown_children(element: PolicyElement, allowed: tuple[str, ...]) -> None:
    """A located error for a child element ``element`` cannot hold."""
    for child in element.children:
        if child.name not in allowed:
            raise PolicyConfigError(
                f"<{element.name}> has no element <{child.name}>",
                hint=children_hint(allowed),
                location=child.location,
            )


def children_hint(allowed: tuple[str, ...]) -> str:
    if not allowed:
        return "it holds no elements"
    return f"its elements: {', '.join(f'<{name}>' for name in allowed)}"


class PolicyHandler:
    """Base of every simulated policy."""

    element_names: ClassVar[tuple[str, ...]] = ()
    attributes: ClassVar[tuple[Attribute, ...]] = ()
    sections: ClassVar[tuple[str, ...]] = ("inbound", "backend", "outbound", "on-error")
    once_per_section: ClassVar[bool] = False  # APIM rejects a second one in the same section
    # The elements it may hold, or None where they are policies (retry, wait) or free content
    # (set-body); lint reads the same list, so both refuse the same misplaced element.
    child_elements: ClassVar[tuple[str, ...] | None] = None
    required_children: ClassVar[tuple[str, ...]] = ()  # Learn's required elements; lint's too

    def __init__(self, element: PolicyElement, build: BuildContext) -> None:
        self.element = element
        self.values = attribute_values(element, self.attributes, COMMON_ATTRIBUTES)
        if self.child_elements is not None:
            refuse_unknown_children(element, self.child_elements)
        for name in self.required_children:
            if element.child(name) is None:
                raise PolicyConfigError(
                    f"<{element.name}> needs <{name}>", location=element.location
                )

    def has(self, name: str) -> bool:
        return name in self.values

    def literal(self, name: str) -> str | None:
        value = self.values.get(name)
        return value.literal if value else None

    def int_literal(self, name: str) -> int | None:
        text = self.literal(name)
        if text is None:
            return None
        try:
            return int(text)
        except ValueError:
            raise PolicyConfigError(
                f"<{self.element.name}> attribute '{name}' must be a whole number, not '{text}'",
                location=self.element.location,
            ) from None

    def number(self, name: str, state: RequestState, *, whole: bool = False) -> float:
        """A numeric attribute's value for this request. An expression that gives something
        else fails the request, as APIM fails it (literals were checked when built)."""
        return self.number_from(name, cs_string(self.values[name].get(state)), whole=whole)

    def number_from(self, name: str, text: str, *, whole: bool = False) -> float:
        """``text``, what attribute ``name`` evaluated to, as a number, or the request fails."""
        value = parse_number(text, "whole" if whole else "number")
        if value is None:
            raise PolicyError(
                "ExpressionValueEvaluationFailure",
                f"<{self.element.name}> {name} gave '{text}', not a "
                f"{'whole ' if whole else ''}number",
                self.element,
            )
        return value

    def run(self, state: RequestState) -> Wait | None:
        raise NotImplementedError

    def explain(self, state: RequestState) -> str:
        """Why this run did what it did, for --explain, read from the state it left (nothing
        is recorded for it: a run without --explain pays nothing)."""
        return ""


@dataclass
class BuildContext:
    """What building handlers needs: the registry and the skip-unknown switch."""

    registry: Mapping[str, type[PolicyHandler]]
    skip_unknown: bool = False
    skipped: list[PolicyElement] | None = None
    section: str = "inbound"
    schemas: Mapping[str, Any] = field(default_factory=dict)  # validate-content's schema-ids
    # when the run records requests' paths (--explain): what wraps each handler built, a
    # callable rather than the explainer itself, so this base knows nothing above it
    wrap: Callable[[PolicyHandler, str], PolicyHandler] | None = None

    def handlers(self, elements: tuple[PolicyElement, ...], section: str) -> list[PolicyHandler]:
        return build_handlers(elements, section, self)


class RecordedHandler(PolicyHandler):
    """A handler whose runs ``--explain`` records (explain.py). It takes the handler's place
    in its section rather than replacing the handler's ``run``: a compiled handler's methods
    cannot be replaced on the instance (native.py)."""

    def __init__(
        self, inner: PolicyHandler, recorded: Callable[[RequestState], Wait | None]
    ) -> None:
        self.element, self.values = inner.element, inner.values
        self.recorded = recorded

    def run(self, state: RequestState) -> Wait | None:
        return self.recorded(state)


def registry() -> dict[str, type[PolicyHandler]]:
    """Every handler, by the element names it declares itself. Found as PolicyHandler's
    subclasses rather than registered by a decorator: a decorated class cannot be compiled to
    a native class (native.py)."""
    import apimgen.simulate.policy.handlers  # noqa: F401 - importing defines them

    found: dict[str, type[PolicyHandler]] = {}
    pending: list[type[PolicyHandler]] = [PolicyHandler]
    while pending:
        cls = pending.pop()
        for name in vars(cls).get("element_names", ()):
            found[name] = cls
        pending.extend(cls.__subclasses__())
    return found


def build_handlers(
    elements: tuple[PolicyElement, ...], section: str, build: BuildContext
) -> list[PolicyHandler]:
    handlers: list[PolicyHandler] = []
    build.section = section
    for element in elements:
        cls = build.registry.get(element.name)
        if cls is None:
            if build.skip_unknown:
                if build.skipped is not None:
                    build.skipped.append(element)
                continue
            if element.name in APIM_POLICIES:
                raise PolicyConfigError(
                    f"<{element.name}> is an APIM policy the simulator does not model",
                    hint="run with --skip-unknown to simulate without it",
                    location=element.location,
                )
            known = sorted(APIM_POLICIES | set(build.registry))
            close = difflib.get_close_matches(element.name, known, n=1)
            raise PolicyConfigError(
                f"unknown policy <{element.name}>",
                hint=(f"did you mean <{close[0]}>? " if close else "")
                + "or run with --skip-unknown to simulate without it",
                location=element.location,
            )
        if section not in cls.sections:
            raise PolicyConfigError(
                f"<{element.name}> is not allowed in the {section} section",
                hint=f"allowed in: {', '.join(cls.sections)}",
                location=element.location,
            )
        handler = cls(element, build)
        if build.wrap is not None:
            handler = build.wrap(handler, section)
        handlers.append(handler)
    return handlers
