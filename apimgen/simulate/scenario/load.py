"""Reading a scenario file: YAML to a validated Scenario, with every problem located by file,
line and key, and the files it names (prompts, schemas, policies) confined to its folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from apimgen.errors import Diagnostic, InputError, Location, SpecError
from apimgen.files import OutsideRootError, confine, read_bounded
from apimgen.simulate.scenario.consumers import EMBEDDINGS, Consumer
from apimgen.simulate.scenario.document import PolicySource, Scenario
from apimgen.simulate.scenario.expectations import CLIENT_MEASURES
from apimgen.spec.paths import format_path
from apimgen.spec.validation_errors import diagnostics_from_validation
from apimgen.spec.yaml_source import KeyPath, YamlSource, load_yaml, refuse_other_kind

__all__ = ["LoadedScenario", "load_scenario"]


class LoadedScenario:
    def __init__(
        self,
        scenario: Scenario,
        path: Path,
        source: YamlSource | None = None,
        schemas: dict[str, Any] | None = None,
    ) -> None:
        self.scenario = scenario
        self.path = path
        self.source = source
        self.schemas = schemas or {}  # the schemas' documents, by id

    def refused(self, key_path: KeyPath, message: str, hint: str = "") -> SpecError:
        """The error for what a run finds wrong at ``key_path`` (a name only the rendered
        gateway can confirm), located and shaped like the errors of loading."""
        location = self.source.locate(key_path) if self.source else Location(str(self.path))
        return SpecError([Diagnostic(location, format_path(key_path), message, hint=hint)])

    @property
    def base_dir(self) -> Path:
        return self.path.parent


# What only a chat completion has: refused for an embeddings consumer rather than ignored.
_CHAT_ONLY = ("max_tokens", "completion_tokens", "stream_share", "system_prompt")


def _settings_refused(
    source: YamlSource,
    index: int,
    consumer: Consumer,
    names: tuple[str, ...],
    who: str,
    hint: str,
) -> list[Diagnostic]:
    """A problem for each of ``names`` the consumer sets that ``who`` cannot have."""
    return [
        _problem(
            source,
            ("consumers", index, name),
            f"{who} has no {name.replace('_', ' ')}",
            hint,
        )
        for name in names
        if name in consumer.model_fields_set
    ]


def _problem(source: YamlSource, key_path: KeyPath, message: str, hint: str = "") -> Diagnostic:
    return Diagnostic(source.locate(key_path), format_path(key_path), message, hint=hint)


def load_scenario(path: Path) -> LoadedScenario:
    source = load_yaml(path)
    if not isinstance(source.data, dict):
        raise SpecError(
            [Diagnostic(Location(source.file, 1, 1), "", "a scenario must be a mapping")]
        )
    refuse_other_kind(source, "scenario")
    try:
        scenario = Scenario.model_validate(source.data)
    except ValidationError as exc:
        raise SpecError(diagnostics_from_validation(exc, source, Scenario)) from None
    problems = []
    names = [c.name for c in scenario.consumers]
    for index, name in enumerate(names):
        if name in names[:index]:  # stats are kept by name, and traffic is seeded by it
            problems.append(
                _problem(
                    source,
                    ("consumers", index, "name"),
                    f"consumer '{name}' is named twice",
                    "give each consumer its own name",
                )
            )
    with_client = [c.name for c in scenario.consumers if c.client is not None]
    for index, expectation in enumerate(scenario.expect):
        if expectation.consumer and expectation.consumer not in names:
            problems.append(
                _problem(
                    source,
                    ("expect", index, "consumer"),
                    f"unknown consumer '{expectation.consumer}'",
                    f"consumers: {', '.join(names)}",
                )
            )
        elif expectation.measure in CLIENT_MEASURES and expectation.consumer not in with_client:
            problems.append(
                _problem(
                    source,
                    ("expect", index, "measure"),
                    f"{expectation.measure} measures a consumer's retrying client, and "
                    + (
                        f"consumer '{expectation.consumer}' has none"
                        if expectation.consumer
                        else "no consumer is named"
                    ),
                    "name a consumer with client: (e.g. client: openai-python)"
                    + (f"; those with one: {', '.join(with_client)}" if with_client else ""),
                )
            )
    for index, consumer in enumerate(scenario.consumers):
        for number, call in enumerate(consumer.calls or ()):
            if call.at is not None and call.at >= scenario.duration:
                problems.append(
                    _problem(
                        source,
                        ("consumers", index, "calls", number, "at"),
                        "the run ends before this call is sent: it would not be sent",
                        f"the run lasts {scenario.duration:g} s; lengthen duration or move it",
                    )
                )
                break
        if consumer.arrival is not None and consumer.arrival.start >= scenario.duration:
            problems.append(
                _problem(
                    source,
                    ("consumers", index, "arrival", "start"),
                    "the run ends before this consumer's first call: it would send nothing",
                    f"the run lasts {scenario.duration:g} s",
                )
            )
        if consumer.anonymous:
            problems += _settings_refused(
                source, index, consumer, ("subscription", "product", "user"),
                "an anonymous consumer",
                "without a subscription key a call has no subscription, product or user",
            )  # fmt: skip
        if (consumer.operation or scenario.operation) == EMBEDDINGS:
            problems += _settings_refused(
                source, index, consumer, _CHAT_ONLY, "an embeddings call",
                "embeddings answer with a vector: their usage counts the input's tokens only",
            )  # fmt: skip
        if consumer.region is not None and consumer.region not in scenario.regions:
            problems.append(
                _problem(
                    source,
                    ("consumers", index, "region"),
                    f"unknown region '{consumer.region}'",
                    f"regions: {', '.join(scenario.regions)}",
                )
            )
    problems += _policy_source_problems(scenario.policies, source, path.parent)
    consumers = _with_prompts_files(scenario, source, path.parent, problems)
    scenario = scenario.model_copy(update={"consumers": consumers})
    for pool, members in scenario.pools.items():
        for index, member in enumerate(members):
            if member.backend not in scenario.backends:
                problems.append(
                    _problem(
                        source,
                        ("pools", pool, index, "backend"),
                        f"unknown backend '{member.backend}'",
                        "pool members are backends defined under `backends`",
                    )
                )
    schemas = {}
    for schema_id, file in scenario.schemas.items():
        try:
            document, problem = _read_schema(confine(path.parent, file))
        except OutsideRootError as outside:
            problems.append(_problem(source, ("schemas", schema_id), str(outside), outside.hint))
            continue
        if problem:
            problems.append(
                _problem(
                    source,
                    ("schemas", schema_id),
                    problem,
                    "paths are relative to the scenario file",
                )
            )
        schemas[schema_id] = document
    if problems:
        raise SpecError(problems)
    return LoadedScenario(scenario, path, source, schemas)


def _with_prompts_files(
    scenario: Scenario, source: YamlSource, base_dir: Path, problems: list[Diagnostic]
) -> list[Consumer]:
    """The consumers, each with the prompts its ``prompts_file`` holds read in."""
    consumers = []
    for index, consumer in enumerate(scenario.consumers):
        if consumer.prompts_file is None:
            consumers.append(consumer)
            continue
        key_path: KeyPath = ("consumers", index, "prompts_file")
        try:
            prompts_path = confine(base_dir, consumer.prompts_file)
            lines = read_bounded(prompts_path).decode("utf-8").splitlines()
        except OutsideRootError as outside:
            problems.append(_problem(source, key_path, str(outside), outside.hint))
            continue
        except (OSError, UnicodeDecodeError, ValueError) as error:
            problems.append(
                _problem(
                    source,
                    key_path,
                    f"cannot read prompts: {error}",
                    "paths are relative to the scenario file",
                )
            )
            continue
        prompts = [line.strip() for line in lines if line.strip()]
        if not prompts:
            problems.append(
                _problem(
                    source,
                    ("consumers", index, "prompts_file"),
                    f"'{consumer.prompts_file}' holds no prompt",
                )
            )
            continue
        consumers.append(consumer.model_copy(update={"prompts": prompts}))
    return consumers


def _policy_source_problems(
    policies: PolicySource, source: YamlSource, base_dir: Path
) -> list[Diagnostic]:
    """The spec or policy folder a scenario names: inside the scenario's tree, and there."""
    for key, written, wanted in (
        ("spec", policies.spec, "file"),
        ("folder", policies.folder, "folder"),
    ):
        if written is None:
            continue
        key_path: KeyPath = ("policies", key)
        try:
            target = confine(base_dir, written)
        except OutsideRootError as outside:
            return [_problem(source, key_path, str(outside), outside.hint)]
        found = target.is_file() if wanted == "file" else target.is_dir()
        if not found:
            return [
                _problem(
                    source,
                    key_path,
                    f"{wanted} '{written}' not found ({target})",
                    "paths are relative to the scenario file",
                )
            ]
    return []


def _read_schema(file: Path) -> tuple[Any, str]:
    """A JSON Schema document and, when it cannot serve, why not."""
    try:
        document = load_yaml(file).data  # JSON is YAML; the same bounded reader serves both
    except InputError as error:
        return None, f"cannot read the schema: {error.message}"
    except SpecError as error:
        first = error.diagnostics[0]
        where = f" (line {first.location.line})" if first.location.line else ""
        return None, f"'{file.name}' is neither JSON nor YAML{where}: {first.message}"
    if not isinstance(document, dict):
        return None, f"'{file.name}' does not hold a JSON Schema object"
    from jsonschema.exceptions import SchemaError

    from apimgen.simulate.policy.handlers.validation import json_schema_validator

    try:
        json_schema_validator(document)
    except SchemaError as error:
        return None, f"'{file.name}' is not a valid JSON Schema: {error.message}"
    return document, ""
