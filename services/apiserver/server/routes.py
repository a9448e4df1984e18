"""Parse a request path into (group, version, namespace, resource, name, subresource).

The URL grammar is Kubernetes': /api/v1/... for the core group, /apis/<group>/<version>/...
for the others; `namespaces/<ns>/` scopes namespaced collections, and the namespaces resource
itself is also reachable at /api/v1/namespaces/<name>[/status|/finalize].
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ResourcePath:
    group: str
    version: str
    resource: str
    namespace: str | None = None
    name: str | None = None
    subresource: str = ""
    rest: str = ""  # the path after `proxy/` (nodes/<name>/proxy/<rest>)


def parse(path: str, is_namespaced: "callable") -> ResourcePath | None:
    parts = [p for p in path.split("/") if p]
    if not parts:
        return None
    if parts[0] == "api":
        if len(parts) < 3:
            return None
        group, version, rest = "", parts[1], parts[2:]
    elif parts[0] == "apis":
        if len(parts) < 4:
            return None
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    if rest[0] == "namespaces" and len(rest) >= 3:
        ns = rest[1]
        if len(rest) == 3 and rest[2] in ("status", "finalize") and not is_namespaced(group, rest[2]):
            return ResourcePath(group, version, "namespaces", None, ns, rest[2])
        rest2 = rest[2:]
        if len(rest2) > 3:
            return None
        return ResourcePath(group, version, rest2[0], ns, rest2[1] if len(rest2) > 1 else None, rest2[2] if len(rest2) > 2 else "")
    if len(rest) > 3:
        if rest[2] != "proxy":
            return None
        return ResourcePath(group, version, rest[0], None, rest[1], "proxy", "/".join(rest[3:]))
    return ResourcePath(group, version, rest[0], None, rest[1] if len(rest) > 1 else None, rest[2] if len(rest) > 2 else "")
