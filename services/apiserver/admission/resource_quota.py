"""ResourceQuota admission: charge each write against every quota of its namespace.

`status.used` is the ledger: admission adds what a create (or an update's growth) uses with a
compare-and-swap on each quota's resourceVersion before the object is written, so concurrent
creates on any apiserver cannot overcommit; the FinishFunc it returns gives the charge back when
the write does not happen, and `after_delete` subtracts an object's usage when it leaves the
store. Upstream (plugin/pkg/admission/resourcequota/admission.go and controller.go) checks every
quota of the namespace before charging any, and so does this: a quota that refuses leaves the
others as they were. It is the last validating plugin, as upstream orders it, so it charges the
object as it will be stored (defaulted, validated, admitted by everything else).
"""
from __future__ import annotations

import copy
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from ..api import errors
from ..api.quantity import format_quantity, parse_quantity
from ..registry.selectors import FieldSelector, LabelSelector
from .interfaces import AfterDelete, Attributes, FinishFunc, Operation, Reservation, finish_nothing

if TYPE_CHECKING:
    from ..registry.catalog import Registry
    from ..registry.store import Store
    from ..registry.strategy import Strategy

_LEGACY_COUNTS = {"pods": "pods", "services": "services", "configmaps": "configmaps", "secrets": "secrets",
                  "replicationcontrollers": "replicationcontrollers", "resourcequotas": "resourcequotas",
                  "persistentvolumeclaims": "persistentvolumeclaims"}
_COMPUTE = ("requests.cpu", "requests.memory", "limits.cpu", "limits.memory", "cpu", "memory")

Delta = dict[str, Fraction]


def usage(strategy: "Strategy", obj: dict[str, Any]) -> Delta:
    """What one object consumes, in quota resource names."""
    s = strategy
    out: Delta = {}
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


class ResourceQuotaAdmission(Reservation, AfterDelete):
    operations = frozenset({Operation.CREATE, Operation.UPDATE})

    def __init__(self, registry: "Registry") -> None:
        self.registry = registry

    @property
    def _quotas(self) -> "Store":
        return self.registry.stores[("", "resourcequotas")]

    async def _current_usage(self, store: "Store", ns: str, key: str) -> Fraction:
        items, _, _, _ = await store.list(ns, LabelSelector(), FieldSelector())
        return sum((usage(store.strategy, o).get(key, Fraction(0)) for o in items), Fraction(0))

    def _store_for(self, key: str) -> "Store | None":
        """The resource a quota key counts: `pods`, `requests.cpu` -> pods, `count/deployments.apps` -> deployments..."""
        stores = self.registry.stores
        if key.startswith("count/"):
            res, _, group = key[len("count/"):].partition(".")
            return stores.get((group, res))
        if key in _COMPUTE or key == "pods":
            return stores.get(("", "pods"))
        if key.startswith("services"):
            return stores.get(("", "services"))
        return stores.get(("", key))

    async def initial_usage(self, quota: dict[str, Any]) -> None:
        """A new quota starts with what its namespace already uses (the quota controller's first
        sync upstream). It fills the status the strategy's PrepareForCreate just reset: the one
        change a validating step makes, to the ledger it owns."""
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

    async def reserve(self, a: Attributes) -> FinishFunc:
        """Charge a create, or what an update adds over the stored object (a Service turning
        NodePort...); the FinishFunc gives the charge back if the write fails."""
        s, obj = a.strategy, a.obj
        if obj is None:
            return finish_nothing
        if s.resource == "resourcequotas" and a.operation == Operation.CREATE:
            await self.initial_usage(obj)
        if not s.namespaced or s.resource == "events":
            return finish_nothing
        delta = usage(s, obj)
        if a.old is not None:
            before = usage(s, a.old)
            delta = {k: delta.get(k, Fraction(0)) - before.get(k, Fraction(0)) for k in set(delta) | set(before)}
            delta = {k: v for k, v in delta.items() if v}
            if not delta:
                return finish_nothing  # most updates (status, labels) change no usage: no quota lookups at all
        ns = obj["metadata"].get("namespace")
        quotas, _, _, _ = await self._quotas.list(ns, LabelSelector(), FieldSelector())
        name = obj["metadata"].get("name") or obj["metadata"].get("generateName", "")
        who = f'{s.group_resource} "{name}" is forbidden'
        charges: list[tuple[str, dict[str, Any], Delta]] = []  # (quota, its spec.hard, what this write adds to it)
        for q in sorted(quotas, key=lambda x: x["metadata"]["name"]):
            hard = (q.get("spec") or {}).get("hard") or {}
            if a.operation == Operation.CREATE and s.resource == "pods" and any(k in hard for k in _COMPUTE):
                missing = _missing_compute(obj, hard)
                if missing:
                    raise errors.StatusError(403, "Forbidden", f"{who}: failed quota: {q['metadata']['name']}: must specify {'; '.join(missing)}",
                                             {"name": name, "kind": s.resource})
            keys = sorted(k for k in hard if k in delta)
            if keys:
                charges.append((q["metadata"]["name"], hard, {k: delta[k] for k in keys}))
        store = self.registry.stores[(s.group, s.resource)]
        charged: list[tuple[str, Delta]] = []
        try:
            for quota, hard, part in charges:
                await self._charge(store, ns, quota, hard, part, who, name, a.dry_run)
                charged.append((quota, part))
        except BaseException:
            if not a.dry_run:
                await self._give_back(ns, charged)
            raise
        if a.dry_run or not charged:
            return finish_nothing

        async def finish(success: bool) -> None:
            if not success:
                await self._give_back(ns, charged)
        return finish

    async def _charge(self, store: "Store", ns: str, quota: str, hard: dict[str, Any], delta: Delta, who: str,
                      name: str, dry_run: bool) -> None:
        """Add `delta` to one quota's status.used with a compare-and-swap, refusing growth past `hard`."""
        async def charge(cur: dict[str, Any]) -> dict[str, Any]:
            used = dict((cur.get("status") or {}).get("used") or {})
            over = []
            new_used = {}
            for k in sorted(delta):
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

        await self._quotas.update(ns, quota, charge, subresource="status", dry_run=dry_run)

    async def _give_back(self, ns: str, charges: list[tuple[str, Delta]]) -> None:
        """Subtract what was charged (or what an object used) from each quota's status.used.

        Best effort: a quota deleted meanwhile has nothing to give back to, and a store outage
        here must not hide the error that made the write fail (the quota controller's resync
        repairs the ledger)."""
        for quota, delta in charges:
            def release(cur: dict[str, Any], delta: Delta = delta) -> dict[str, Any]:
                cur = copy.deepcopy(cur)
                hard = (cur.get("spec") or {}).get("hard") or {}
                u = cur.setdefault("status", {}).setdefault("used", {})
                for k, v in delta.items():
                    if k in u:
                        u[k] = format_quantity(max(Fraction(0), parse_quantity(u[k]) - v), str(hard.get(k, "")))
                return cur
            try:
                await self._quotas.update(ns, quota, release, subresource="status")
            except errors.StatusError:
                pass

    async def after_delete(self, store: "Store", obj: dict[str, Any]) -> None:
        """An object that left the store gives back what it used."""
        s = store.strategy
        if not s.namespaced or s.resource in ("events", "resourcequotas"):
            return
        ns = obj["metadata"].get("namespace")
        quotas, _, _, _ = await self._quotas.list(ns, LabelSelector(), FieldSelector())
        delta = usage(s, obj)
        charges = []
        for q in quotas:
            used = (q.get("status") or {}).get("used") or {}
            keys = [k for k in used if k in delta and delta[k]]
            if keys:
                charges.append((q["metadata"]["name"], {k: delta[k] for k in keys}))
        await self._give_back(ns, charges)
