"""The authorizer chain (`--authorization-mode`, e.g. `Node,RBAC`) and upstream's 403 wording.

As in kube-apiserver, members of system:masters are allowed everything before any mode runs;
then each mode in order may allow; when none does, the request is forbidden with the message
`pods is forbidden: User "x" cannot list resource "pods" in API group "" in the namespace "dev"`
(plus the reasons the authorizers gave, e.g. the Node authorizer's "no relationship found").
The default mode is AlwaysAllow, so a cluster started without flags behaves as before.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from ..api.errors import StatusError, qualified
from .attributes import Attributes
from .user import MASTERS

if TYPE_CHECKING:
    from ..registry.catalog import Registry

MODES = ("AlwaysAllow", "AlwaysDeny", "Node", "RBAC")


class Mode(Protocol):
    def authorize(self, attrs: Attributes) -> tuple[str, str]: ...


class _Always:
    def __init__(self, decision: str) -> None:
        self.decision = decision

    def authorize(self, attrs: Attributes) -> tuple[str, str]:
        return (self.decision, "") if self.decision else ("", "")


def parse_modes(text: str) -> list[str]:
    modes = [m.strip() for m in text.split(",") if m.strip()]
    for m in modes:
        if m not in MODES:
            raise ValueError(f"unknown authorization mode {m!r} (supported: {', '.join(MODES)})")
    if len(set(modes)) != len(modes):
        raise ValueError(f"authorization modes may not repeat: {text!r}")
    if not modes:
        raise ValueError("at least one authorization mode is required")
    return modes


class Authorizer:
    def __init__(self, modes: list[str], registry: Registry) -> None:
        from .node import NodeAuthorizer
        from .rbac import RBACAuthorizer
        self.modes = modes
        self.rbac: RBACAuthorizer | None = None
        self.node: NodeAuthorizer | None = None
        self.chain: list[Mode] = []
        for m in modes:
            if m == "AlwaysAllow":
                self.chain.append(_Always("allow"))
            elif m == "AlwaysDeny":
                self.chain.append(_Always(""))
            elif m == "Node":
                self.node = NodeAuthorizer(registry)
                self.chain.append(self.node)
            elif m == "RBAC":
                self.rbac = RBACAuthorizer(registry)
                self.chain.append(self.rbac)

    @property
    def always_allow(self) -> bool:
        return self.modes == ["AlwaysAllow"]

    async def start(self) -> None:
        """Fill the watch caches the authorizers read, before the first request is served."""
        if self.rbac:
            await self.rbac.start()
        if self.node:
            await self.node.start()

    def authorize(self, attrs: Attributes) -> tuple[bool, str]:
        """(allowed, reason); the reason of a denial joins what every authorizer said."""
        if MASTERS in attrs.user.groups:
            return True, "allowed by the system:masters group"
        reasons = []
        for mode in self.chain:
            decision, reason = mode.authorize(attrs)
            if decision == "allow":
                return True, reason
            if reason:
                reasons.append(reason)
        return False, ", ".join(reasons)


def forbidden_message(attrs: Attributes) -> str:
    """upstream's responsewriters.forbiddenMessage."""
    user = attrs.user.name
    if not attrs.resource_request:
        return f'User "{user}" cannot {attrs.verb} path "{attrs.path}"'
    scope = f'in the namespace "{attrs.namespace}"' if attrs.namespace else "at the cluster scope"
    return f'User "{user}" cannot {attrs.verb} resource "{attrs.resource_with_sub}" in API group "{attrs.api_group}" {scope}'


def forbidden(attrs: Attributes, reason: str = "") -> StatusError:
    """The 403 Status upstream writes (apierrors.NewForbidden around the message above)."""
    msg = forbidden_message(attrs) + (f": {reason}" if reason else "")
    if not attrs.resource_request:
        return StatusError(403, "Forbidden", f"forbidden: {msg}", {})
    gr = qualified(attrs.resource, attrs.api_group)
    details: dict[str, str] = {"kind": attrs.resource}
    if attrs.api_group:
        details["group"] = attrs.api_group
    if attrs.name:
        details["name"] = attrs.name
        return StatusError(403, "Forbidden", f'{gr} "{attrs.name}" is forbidden: {msg}', details)
    return StatusError(403, "Forbidden", f"{gr} is forbidden: {msg}", details)
