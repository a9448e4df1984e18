"""User impersonation (`kubectl --as alice --as-group devs`), upstream's impersonation filter.

A request with `Impersonate-User` / `Impersonate-Group` / `Impersonate-Uid` headers is served as
that user, once the real requester is authorized to `impersonate` each of them: resource `users`
(or `serviceaccounts` in its namespace, for system:serviceaccount:<ns>:<name>), `groups`, `uids`.
`Impersonate-Extra-*` headers are refused: kubeling's authorizers do not read user extras.
"""
from __future__ import annotations

from collections.abc import Callable

from starlette.datastructures import Headers

from ..api.errors import StatusError
from .attributes import Attributes
from .user import (
    ANONYMOUS,
    SA_PREFIX,
    UserInfo,
    service_account_groups,
    with_authenticated,
)

Authorize = Callable[[Attributes], tuple[bool, str]]


def _check(requester: UserInfo, authorize: Authorize, resource: str, name: str, namespace: str = "") -> None:
    attrs = Attributes(user=requester, verb="impersonate", resource_request=True, namespace=namespace,
                       resource=resource, name=name)
    allowed, reason = authorize(attrs)
    if not allowed:
        from .authz import forbidden
        raise forbidden(attrs, reason)


def impersonate(requester: UserInfo, headers: Headers, authorize: Authorize) -> UserInfo:
    """The user to act as (the requester itself without impersonation headers)."""
    user = headers.get("impersonate-user")
    groups = headers.getlist("impersonate-group") if hasattr(headers, "getlist") else []
    uid = headers.get("impersonate-uid")
    if any(k.lower().startswith("impersonate-extra-") for k in headers):
        raise StatusError(400, "BadRequest", "kubeling does not support Impersonate-Extra-* headers")
    if user is None:
        if groups or uid:
            raise StatusError(400, "BadRequest", "requested impersonation of groups or a UID without impersonating a user")
        return requester
    if user.startswith(SA_PREFIX) and user.count(":") == 3:
        ns, name = user[len(SA_PREFIX):].split(":", 1)
        _check(requester, authorize, "serviceaccounts", name, ns)
        base_groups = service_account_groups(ns)
    else:
        _check(requester, authorize, "users", user)
        base_groups = ()
    for g in groups:
        _check(requester, authorize, "groups", g)
    if uid:
        _check(requester, authorize, "uids", uid)
    target = UserInfo(user, uid or "", (*base_groups, *[g for g in groups if g not in base_groups]))
    return target if user == ANONYMOUS else with_authenticated(target)
