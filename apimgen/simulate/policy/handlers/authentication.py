"""Credentials the gateway presents to the backend: ``authentication-managed-identity``,
``authentication-basic`` and ``authentication-certificate``.

The mock backends accept any credential: what these policies can get wrong in a simulation is
where the credential goes (a header, a variable) and whether their expressions evaluate.
"""

from __future__ import annotations

import base64

from apimgen.simulate.policy.handlers.base import (
    Attribute,
    BuildContext,
    PolicyConfigError,
    PolicyHandler,
)
from apimgen.simulate.policy.reader import PolicyElement
from apimgen.simulate.state import RequestState

__all__ = ["BasicAuthentication", "CertificateAuthentication", "ManagedIdentity"]


class ManagedIdentity(PolicyHandler):
    """``authentication-managed-identity`` (Learn: authentication-managed-identity-policy): sets
    ``Authorization: Bearer <token>`` for the resource; the token is a recognisable stand-in."""

    element_names = ("authentication-managed-identity",)
    child_elements = ()
    sections = ("inbound",)
    attributes = (
        Attribute("resource", required=True),
        Attribute("client-id", expressions=False),
        Attribute("output-token-variable-name", expressions=False),
        Attribute("ignore-error", expressions=False, choices=("true", "false")),
    )

    def __init__(self, element: PolicyElement, build: BuildContext) -> None:
        super().__init__(element, build)
        self.resource = self.values["resource"]
        self.identity = self.literal("client-id") or "system-assigned"
        self.variable = self.literal("output-token-variable-name")
        # The token of the resource last asked for: a resource is nearly always a literal, so
        # the strings are made once, not per request.
        self._resource_seen: str | None = None
        self._token = ""
        self._bearer = [""]

    def run(self, state: RequestState) -> None:
        resource = self.resource.text(state)
        if resource != self._resource_seen:
            self._resource_seen = resource
            self._token = f"mi-token:{self.identity}:{resource}"
            self._bearer = [f"Bearer {self._token}"]
        if self.variable:
            state.context.Variables.values[self.variable] = self._token
        else:
            state.context.Request.Headers._set("Authorization", self._bearer)


class BasicAuthentication(PolicyHandler):
    """``authentication-basic`` (Learn: authentication-basic-policy): the forwarded request's
    ``Authorization`` header becomes ``Basic`` and the Base64 of ``username:password``."""

    element_names = ("authentication-basic",)
    child_elements = ()
    sections = ("inbound",)
    once_per_section = True
    attributes = (Attribute("username", required=True), Attribute("password", required=True))

    def run(self, state: RequestState) -> None:
        pair = f"{self.values['username'].text(state)}:{self.values['password'].text(state)}"
        encoded = base64.b64encode(pair.encode("utf-8")).decode("ascii")
        state.context.Request.Headers._set("Authorization", [f"Basic {encoded}"])


class CertificateAuthentication(PolicyHandler):
    """``authentication-certificate`` (Learn: authentication-certificate-policy): a client
    certificate named by ``thumbprint`` or ``certificate-id``, or given as ``body`` (with its
    ``password``). The mock backends take any certificate, so a run evaluates the attributes'
    expressions (a failing one sends the request to on-error) and changes nothing else."""

    element_names = ("authentication-certificate",)
    child_elements = ()
    sections = ("inbound",)
    attributes = (
        Attribute("thumbprint"),
        Attribute("certificate-id"),
        Attribute("body"),
        Attribute("password"),
    )

    def __init__(self, element: PolicyElement, build: BuildContext) -> None:
        super().__init__(element, build)
        named = [name for name in ("thumbprint", "certificate-id", "body") if self.has(name)]
        if len(named) != 1:
            raise PolicyConfigError(
                "<authentication-certificate> needs exactly one of thumbprint, certificate-id "
                f"or body{f', not {len(named)}' if named else ''}",
                location=element.location,
            )
        if self.has("password") and not self.has("body"):
            raise PolicyConfigError(
                "<authentication-certificate> password protects a certificate given as body",
                location=element.location,
            )

    def run(self, state: RequestState) -> None:
        for value in self.values.values():
            value.get(state)
