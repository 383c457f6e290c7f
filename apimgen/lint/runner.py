"""Collect what to lint (policy files, policy folders, specs), run the rules, apply the
configuration."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from apimgen.errors import ApimgenError, Location, Severity
from apimgen.files import read_bounded
from apimgen.lint.config import LintConfig, config_from_settings
from apimgen.lint.rules import RULES, Finding, Knowledge, LintDocument, gateway_variables
from apimgen.simulate.policy.reader import PolicyReadError, read_policy

__all__ = ["LintConfig", "LintReport", "lint_paths"]


@dataclass
class LintReport:
    findings: list[Finding]
    files: int

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity is Severity.ERROR)


def _kind(relative: str) -> str:
    parts = relative.removesuffix(".xml").split("/")
    if parts[0] == "fragments":
        return "fragment"
    if parts == ["global"]:
        return "global"
    if parts[0] == "products":
        return "product"
    if len(parts) >= 3 and parts[-2] == "operations":
        return "operation"
    return "api"


def _document(text: str, file: str, relative: str) -> tuple[LintDocument | None, Finding | None]:
    try:
        root = read_policy(text, file)
    except PolicyReadError as error:
        location = error.location or Location(file)
        return None, Finding(
            "APIM000", Severity.ERROR, None, error.message, error.hint, str(location)
        )
    kind = "fragment" if root.name == "fragment" else _kind(relative)
    return LintDocument(root, kind, file), None


def _from_spec(
    path: Path,
) -> tuple[list[LintDocument], Knowledge, list[Finding], LintConfig]:
    from apimgen.pipeline import build_gateway
    from apimgen.render.policies import render_policy_files
    from apimgen.spec.load import load_spec

    loaded = load_spec(path)
    spec_config = config_from_settings(loaded.spec.lint, loaded.source, ("lint",))
    gateway = build_gateway(loaded)
    knowledge = Knowledge(known=True, whole_gateway=True)
    for backend in gateway.backends:
        knowledge.backends[backend.name] = 1
        if ".openai.azure.com" in backend.url:
            knowledge.openai_backends.add(backend.name)
    for pool in gateway.pools:
        knowledge.backends[pool.name] = len(pool.members)
        if any(m.backend in knowledge.openai_backends for m in pool.members):
            knowledge.openai_backends.add(pool.name)
    knowledge.fragments = {f.name for f in gateway.fragments}
    documents, problems = [], []
    for name, text in render_policy_files(gateway).items():
        relative = name.removeprefix("policies/")
        document, problem = _document(text, f"{path}:{name}", relative)
        if document:
            documents.append(document)
        if problem:
            problems.append(problem)
    return documents, knowledge, problems, spec_config


def _from_files(path: Path) -> tuple[list[LintDocument], list[Finding]]:
    files = sorted(path.rglob("*.xml")) if path.is_dir() else [path]
    documents, problems = [], []
    for file in files:
        try:
            text = read_bounded(file).decode("utf-8")
        except (OSError, UnicodeDecodeError, ValueError) as error:
            problems.append(
                Finding("APIM000", Severity.ERROR, None, f"cannot read: {error}", file=str(file))
            )
            continue
        relative = file.relative_to(path).as_posix() if path.is_dir() else file.name
        document, problem = _document(text, str(file), relative)
        if document:
            documents.append(document)
        if problem:
            problems.append(problem)
    return documents, problems


def lint_paths(paths: list[Path], config: LintConfig | None = None) -> LintReport:
    """Lint every policy under ``paths``: XML files, folders of them, and specs."""
    config = config or LintConfig()
    findings: list[Finding] = []
    files = 0
    for path in paths:
        if not path.exists():
            raise ApimgenError(f"{path}: no such file or directory")
        local = LintConfig()
        if path.suffix in (".yaml", ".yml"):
            documents, knowledge, problems, local = _from_spec(path)
        else:
            documents, problems = _from_files(path)
            knowledge = Knowledge()
            if path.is_dir():  # a policies/ folder: its fragments/ are all there is
                knowledge.fragments = {Path(d.file).stem for d in documents if d.kind == "fragment"}
                # a policies folder's root (not one of its parts): every setter is in it
                knowledge.whole_gateway = (path / "global.xml").is_file() or (
                    path / "apis"
                ).is_dir()
        files += len(documents) + len(problems)
        knowledge.variables = gateway_variables(documents)
        checks = list(dict.fromkeys(rule.check for rule in RULES))
        found = list(problems)
        for document in documents:
            for check in checks:
                found.extend(replace(f, file=document.file) for f in check(document, knowledge))
        # The command line's configuration wins over the spec's own `lint:` settings.
        merged = LintConfig(
            local.disabled | config.disabled, {**local.severities, **config.severities}
        )
        findings.extend(_configured(found, merged))
    findings.sort(key=lambda f: (f.file, f.element.line if f.element else 0, f.rule))
    return LintReport(findings, files)


def _configured(findings: list[Finding], config: LintConfig) -> list[Finding]:
    kept = []
    for finding in findings:
        if finding.rule in config.disabled:
            continue
        severity = config.severities.get(finding.rule)
        kept.append(replace(finding, severity=severity) if severity else finding)
    return kept
