"""ResourceQuota admission: charge each create against every quota of its namespace.

`status.used` is the ledger: admission adds the object's usage with a compare-and-swap on the
quota's resourceVersion before the object is written (so concurrent creates on any apiserver
cannot overcommit), and the release hook subtracts it when the object leaves the store.
"""
from __future__ import annotations

import copy
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from ..api import errors
from ..api.quantity import format_quantity, parse_quantity

if TYPE_CHECKING:
    from ..registry.store import Store
    from .chain import AdmissionChain

_LEGACY_COUNTS = {"pods": "pods", "services": "services", "configmaps": "configmaps", "secrets": "secrets",
                  "replicationcontrollers": "replicationcontrollers", "resourcequotas": "resourcequotas",
                  "persistentvolumeclaims": "persistentvolumeclaims"}
_COMPUTE = ("requests.cpu", "requests.memory", "limits.cpu", "limits.memory", "cpu", "memory")


def usage(store: "Store", obj: dict[str, Any]) -> dict[str, Fraction]:
    """What one object consumes, in quota resource names."""
    s = store.strategy
    out: dict[str, Fraction] = {}
    count_key = f"count/{s.resource}" + (f".{s.group}" if s.group else "")
    out[count_key] = Fraction(1)
    if s.resource in _LEGACY_COUNTS:
        out[_LEGACY_COUNTS[s.resource]] = Fraction(1)
    if s.resource == "pods":
        if (obj.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return {}
        spec = obj.get("spec") or {}
        for kind in ("requests", "limits"):
            for r in ("cpu", "memory"):
                total = Fraction(0)
                for c in spec.get("containers") or []:
                    q = ((c.get("resources") or {}).get(kind) or {}).get(r)
                    if q is not None:
                        total += parse_quantity(q)
                out[f"{kind}.{r}"] = total
        out["cpu"], out["memory"] = out["requests.cpu"], out["requests.memory"]
    if s.resource == "services":
        t = (obj.get("spec") or {}).get("type")
        out["services.nodeports"] = Fraction(len((obj.get("spec") or {}).get("ports") or [])) if t in ("NodePort", "LoadBalancer") else Fraction(0)
        out["services.loadbalancers"] = Fraction(1 if t == "LoadBalancer" else 0)
    return out


def _missing_compute(obj: dict[str, Any], hard: dict[str, Any]) -> list[str]:
    tracked = [k for k in ("limits.cpu", "limits.memory", "requests.cpu", "requests.memory") if k in hard]
    if "cpu" in hard and "requests.cpu" not in tracked:
        tracked.append("requests.cpu")
    if "memory" in hard and "requests.memory" not in tracked:
        tracked.append("requests.memory")
    out = []
    for key in sorted(tracked):
        kind, r = key.split(".")
        names = [c.get("name", "") for c in (obj.get("spec") or {}).get("containers") or []
                 if r not in ((c.get("resources") or {}).get(kind) or {})]
        if names:
            out.append(f"{key} for: {','.join(names)}")
    return out


class ResourceQuotaAdmission:
    def __init__(self, chain: "AdmissionChain") -> None:
        self.chain = chain

    def _quota_store(self) -> "Store | None":
        return self.chain.registry.get("", "v1", "resourcequotas") if self.chain.registry else None

    async def _current_usage(self, store: "Store", ns: str, key: str) -> Fraction:
        from ..registry.selectors import FieldSelector, LabelSelector
        items, _, _, _ = await store.list(ns, LabelSelector(), FieldSelector())
        return sum((usage(store, o).get(key, Fraction(0)) for o in items), Fraction(0))

    def _store_for(self, key: str) -> "Store | None":
        """The resource a quota key counts: `pods`, `requests.cpu` -> pods, `count/deployments.apps` -> deployments..."""
        reg = self.chain.registry
        if reg is None:
            return None
        if key.startswith("count/"):
            res, _, group = key[len("count/"):].partition(".")
            st = reg.stores.get((group, res))
            return st
        if key in _COMPUTE or key == "pods":
            return reg.stores.get(("", "pods"))
        if key.startswith("services"):
            return reg.stores.get(("", "services"))
        return reg.stores.get(("", key))

    async def initial_usage(self, quota: dict[str, Any]) -> None:
        """A new quota starts with what its namespace already uses (the quota controller's first sync)."""
        ns = quota["metadata"].get("namespace")
        hard = (quota.get("spec") or {}).get("hard") or {}
        used = {}
        for key in hard:
            st = self._store_for(key)
            if st is None:
                continue
            used[key] = format_quantity(await self._current_usage(st, ns, key), str(hard[key]))
        quota.setdefault("status", {})["hard"] = dict(hard)
        quota["status"]["used"] = used

    async def admit(self, store: "Store", obj: dict[str, Any], dry_run: bool, old: dict[str, Any] | None = None) -> None:
        """Charge `obj` (a create), or what an update adds over `old` (a Service turning NodePort...)."""
        if store.strategy.resource == "resourcequotas" and old is None:
            await self.initial_usage(obj)
        qs = self._quota_store()
        if qs is None or not store.strategy.namespaced or store.strategy.resource == "events":
            return
        delta = usage(store, obj)
        if old is not None:
            before = usage(store, old)
            delta = {k: delta.get(k, Fraction(0)) - before.get(k, Fraction(0)) for k in set(delta) | set(before)}
            delta = {k: v for k, v in delta.items() if v}
            if not delta:
                return  # most updates (status, labels) change no usage: no quota lookups at all
        ns = obj["metadata"].get("namespace")
        from ..registry.selectors import FieldSelector, LabelSelector
        quotas, _, _, _ = await qs.list(ns, LabelSelector(), FieldSelector())
        if not quotas:
            return
        name = obj["metadata"].get("name") or obj["metadata"].get("generateName", "")
        who = f'{store.strategy.group_resource} "{name}" is forbidden'
        for q in sorted(quotas, key=lambda x: x["metadata"]["name"]):
            hard = (q.get("spec") or {}).get("hard") or {}
            if old is None and store.strategy.resource == "pods" and any(k in hard for k in _COMPUTE):
                missing = _missing_compute(obj, hard)
                if missing:
                    raise errors.StatusError(403, "Forbidden", f"{who}: failed quota: {q['metadata']['name']}: must specify {'; '.join(missing)}",
                                             {"name": name, "kind": store.strategy.resource})
            keys = sorted(k for k in hard if k in delta)
            if not keys:
                continue

            async def charge(cur: dict[str, Any], keys: list[str] = keys, hard: dict[str, Any] = hard) -> dict[str, Any]:
                used = dict((cur.get("status") or {}).get("used") or {})
                over = []
                new_used = {}
                for k in keys:
                    base = parse_quantity(used[k]) if k in used else await self._current_usage(store, ns, k)
                    total = base + delta[k]
                    new_used[k] = (base, total)
                    if total > parse_quantity(hard[k]) and delta[k] > 0:
                        over.append(k)
                if over:
                    req = ",".join(f"{k}={format_quantity(delta[k], str(hard[k]))}" for k in over)
                    usd = ",".join(f"{k}={format_quantity(new_used[k][0], str(hard[k]))}" for k in over)
                    lim = ",".join(f"{k}={hard[k]}" for k in over)
                    raise errors.StatusError(403, "Forbidden",
                                             f"{who}: exceeded quota: {cur['metadata']['name']}, requested: {req}, used: {usd}, limited: {lim}",
                                             {"name": name, "kind": store.strategy.resource})
                for k, (_, total) in new_used.items():
                    used[k] = format_quantity(max(total, Fraction(0)), str(hard[k]))
                cur.setdefault("status", {})["used"] = used
                cur["status"]["hard"] = dict(hard)
                return cur

            await qs.update(ns, q["metadata"]["name"], charge, subresource="status", dry_run=dry_run)

    async def released(self, store: "Store", obj: dict[str, Any]) -> None:
        qs = self._quota_store()
        if qs is None or not store.strategy.namespaced or store.strategy.resource in ("events", "resourcequotas"):
            return
        ns = obj["metadata"].get("namespace")
        from ..registry.selectors import FieldSelector, LabelSelector
        quotas, _, _, _ = await qs.list(ns, LabelSelector(), FieldSelector())
        delta = usage(store, obj)
        for q in quotas:
            used = (q.get("status") or {}).get("used") or {}
            keys = [k for k in used if k in delta and delta[k]]
            if not keys:
                continue

            def release(cur: dict[str, Any], keys: list[str] = keys) -> dict[str, Any]:
                cur = copy.deepcopy(cur)
                u = cur.setdefault("status", {}).setdefault("used", {})
                for k in keys:
                    if k in u:
                        u[k] = format_quantity(max(Fraction(0), parse_quantity(u[k]) - delta[k]), str(((cur.get("spec") or {}).get("hard") or {}).get(k, "")))
                return cur
            try:
                await qs.update(ns, q["metadata"]["name"], release, subresource="status")
            except errors.StatusError:
                pass
