"""Discovery documents: legacy (APIVersions, APIGroupList, APIResourceList) and aggregated v2.

kubectl uses aggregated discovery when the response carries the exact content type below; the
Python dynamic client needs the legacy documents, so both are generated from the strategies.
"""
from __future__ import annotations

from typing import Any

from ..registry.strategy import Strategy

AGGREGATED_CT = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
SUB_VERBS = ("get", "patch", "update")


def _subresources(s: Strategy) -> list[tuple[str, str, str, str, tuple[str, ...]]]:
    subs = []
    if s.has_status:
        subs.append(("status", s.group, s.version, s.kind, SUB_VERBS))
    if s.has_scale:
        subs.append(("scale", "autoscaling", "v1", "Scale", SUB_VERBS))
    subs.extend(s.extra_subresources)
    return subs


def api_resource_list(group: str, version: str, strategies: list[Strategy]) -> dict[str, Any]:
    res: list[dict[str, Any]] = []
    for s in strategies:
        r: dict[str, Any] = {"name": s.resource, "singularName": s.singular, "namespaced": s.namespaced,
                             "kind": s.kind, "verbs": list(s.verbs)}
        if s.short_names:
            r["shortNames"] = list(s.short_names)
        if s.categories:
            r["categories"] = list(s.categories)
        res.append(r)
        for name, g, v, kind, verbs in _subresources(s):
            sub: dict[str, Any] = {"name": f"{s.resource}/{name}", "singularName": "", "namespaced": s.namespaced,
                                   "kind": kind, "verbs": list(verbs)}
            if (g, v) != (s.group, s.version):
                sub["group"], sub["version"] = g, v
            res.append(sub)
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": res}


def api_versions(address: str) -> dict[str, Any]:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}]}


def api_group(group: str, version: str) -> dict[str, Any]:
    gv = {"groupVersion": f"{group}/{version}", "version": version}
    return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": [gv], "preferredVersion": gv}


def api_group_list(groups: dict[str, list[Strategy]]) -> dict[str, Any]:
    out = []
    for g, ss in groups.items():
        if not g:
            continue
        doc = api_group(g, ss[0].version)
        doc.pop("kind")
        doc.pop("apiVersion")
        out.append(doc)
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": out}


def _aggregated_resource(s: Strategy) -> dict[str, Any]:
    r: dict[str, Any] = {"resource": s.resource, "singularResource": s.singular,
                         "scope": "Namespaced" if s.namespaced else "Cluster",
                         "responseKind": {"group": s.group, "version": s.version, "kind": s.kind},
                         "verbs": list(s.verbs)}
    if s.short_names:
        r["shortNames"] = list(s.short_names)
    if s.categories:
        r["categories"] = list(s.categories)
    subs = [{"subresource": name, "responseKind": {"group": g, "version": v, "kind": kind}, "verbs": list(verbs)}
            for name, g, v, kind, verbs in _subresources(s)]
    if subs:
        r["subresources"] = subs
    return r


def aggregated(groups: dict[str, list[Strategy]], legacy: bool) -> dict[str, Any]:
    items = []
    for g, ss in groups.items():
        if legacy != (g == ""):
            continue
        items.append({"metadata": {"name": g} if g else {},
                      "versions": [{"version": ss[0].version, "freshness": "Current",
                                    "resources": [_aggregated_resource(s) for s in ss]}]})
    return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items}
