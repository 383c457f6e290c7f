"""ARM resources → ``main.bicep``, one module per concern, and a ``.bicepparam`` per environment.

Each module declares what it creates and, as ``existing``, what it only refers to; references
across modules become module ``dependsOn`` in ``main.bicep``. Policies are loaded from the
rendered policy files with ``loadTextContent``, never pasted in.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from apimgen.model.arm import ArmResource, Param, parameters_used, references
from apimgen.model.arm_builder import CONCERNS
from apimgen.model.deployment_params import DeploymentParameters, ParameterSpec
from apimgen.render.bicep_values import bicep_string, bicep_value
from apimgen.render.environment import environment

__all__ = ["BICEP_FOLDER", "render_bicep"]

BICEP_FOLDER = "bicep"


@dataclass(frozen=True)
class _ModuleView:
    name: str
    file: str
    params: tuple[ParameterSpec, ...]
    existing: tuple[ArmResource, ...]
    owned: tuple[ArmResource, ...]
    depends_on: tuple[str, ...]
    outputs: tuple[tuple[str, str, str], ...]  # (name, type, expression)


def module_name(concern: str) -> str:
    return concern.replace("_", "-")


def _modules(
    resources: tuple[ArmResource, ...], parameters: DeploymentParameters
) -> list[_ModuleView]:
    by_symbol = {r.symbol: r for r in resources}
    owner = {r.symbol: r.concern for r in resources}
    views: list[_ModuleView] = []
    for concern in CONCERNS:
        owned = [r for r in resources if r.concern == concern]
        if all(r.existing for r in owned):
            continue  # nothing to deploy; modules that use these declare them as existing
        mine = {r.symbol for r in owned}
        needed: list[str] = []
        pending = sorted(set().union(*(references(r) for r in owned)) - mine)
        while pending:
            symbol = pending.pop(0)
            if symbol in needed or symbol in mine:
                continue
            needed.append(symbol)
            parent = by_symbol[symbol].parent
            if parent and parent not in mine and parent not in needed:
                pending.append(parent)
        # Declare parents before children, in the global resource order.
        order = {r.symbol: i for i, r in enumerate(resources)}
        existing = tuple(
            replace(by_symbol[s], existing=True, body={}, depends_on=())
            for s in sorted(needed, key=lambda s: order[s])
        )
        module_deps = sorted(
            {
                module_name(owner[s])
                for r in owned
                for s in (*references(r), *r.depends_on)
                if s not in mine and not by_symbol[s].existing
            }
            - {module_name(concern)},
            key=lambda name: CONCERNS.index(name.replace("-", "_")),
        )
        used_params = set().union(*(parameters_used(r) for r in (*owned, *existing)))
        outputs: list[tuple[str, str, str]] = []
        if "apim" in mine:
            outputs.append(("gatewayUrl", "string", "apim.properties.gatewayUrl"))
        views.append(
            _ModuleView(
                name=module_name(concern),
                file=f"modules/{module_name(concern)}.bicep",
                params=tuple(p for p in parameters.specs if p.name in used_params),
                existing=existing,
                owned=tuple(owned),
                depends_on=tuple(module_deps),
                outputs=tuple(outputs),
            )
        )
    return views


def _resource_name(resource: ArmResource) -> str:
    if isinstance(resource.name, Param):
        if resource.name.name == "guid":  # role assignments: stable, unique per scope and role
            role = resource.body["properties"]
            assert isinstance(role, dict)
            definition = role["roleDefinitionId"]
            role_id = getattr(definition, "role_id", "")
            return f"guid({resource.scope}.id, apim.id, '{role_id}')"
        return resource.name.name
    return bicep_string(resource.name)


def _dependencies(resource: ArmResource, module: _ModuleView) -> list[str]:
    mine = {r.symbol for r in module.owned}
    return [s for s in resource.depends_on if s in mine]


def render_bicep(
    resources: tuple[ArmResource, ...], parameters: DeploymentParameters
) -> dict[str, str]:
    """Relative path (under ``bicep/``) → file text."""
    env = environment()
    modules = _modules(resources, parameters)
    helpers = {
        "bicep_value": bicep_value,
        "bicep_string": bicep_string,
        "resource_name": _resource_name,
        "dependencies": _dependencies,
    }
    files: dict[str, str] = {}
    module_template = env.get_template("bicep/module.bicep.jinja")
    for module in modules:
        files[f"{BICEP_FOLDER}/{module.file}"] = module_template.render(module=module, **helpers)
    # Without an apim module (an existing service), main looks the service up itself.
    service = next(r for r in resources if r.symbol == "apim")
    lookup = None if any(m.outputs for m in modules) else service
    files[f"{BICEP_FOLDER}/main.bicep"] = env.get_template("bicep/main.bicep.jinja").render(
        modules=modules, parameters=parameters, service_lookup=lookup, **helpers
    )
    param_template = env.get_template("bicep/params.bicepparam.jinja")
    for environment_name, values in parameters.environments().items():
        name = "main" if environment_name is None else environment_name
        files[f"{BICEP_FOLDER}/{name}.bicepparam"] = param_template.render(
            values=values, parameters=parameters, **helpers
        )
    return files
