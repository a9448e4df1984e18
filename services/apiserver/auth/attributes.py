"""Request attributes, as upstream's authorizer.Attributes: what an authorizer decides on.

The verb comes from the HTTP method the way kube-apiserver's RequestInfoFactory derives it: GET
on a collection is `list` (`watch` with ?watch=true), GET on a name is `get`, POST `create`, PUT
`update`, PATCH `patch`, DELETE on a collection `deletecollection`. Requests outside /api and
/apis are non-resource requests whose verb is the lower-cased method.
"""
from __future__ import annotations

from dataclasses import dataclass

from .user import UserInfo

_METHOD_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch"}


@dataclass(frozen=True)
class Attributes:
    user: UserInfo
    verb: str
    resource_request: bool
    path: str = ""
    namespace: str = ""
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    field_selector: str = ""

    @property
    def resource_with_sub(self) -> str:
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource


def resource_verb(method: str, has_name: bool, watch: bool) -> str:
    if method in ("GET", "HEAD"):
        if watch:
            return "watch"
        return "get" if has_name else "list"
    if method == "DELETE":
        return "delete" if has_name else "deletecollection"
    return _METHOD_VERBS.get(method, method.lower())


def non_resource(user: UserInfo, method: str, path: str) -> Attributes:
    return Attributes(user=user, verb=method.lower(), resource_request=False, path=path)
