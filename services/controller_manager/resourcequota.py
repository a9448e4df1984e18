"""ResourceQuota controller: recompute `status.used` (and `status.hard`) from what exists.

The apiserver's quota admission keeps `status.used` as a ledger (it charges each create and
gives the charge back when the object leaves the store). The controller corrects what a ledger
cannot see: pods that finished (Succeeded/Failed pods use no quota but stay in the store),
a changed `spec.hard`, drift after failures. It recomputes a namespace's quotas when one of
those happens and every --resource-quota-sync-period (5m, as upstream).
"""
from __future__ import annotations

import asyncio
from fractions import Fraction
from typing import Any

from kubeling.shared import quantity
from kubeling.shared.client import ApiError, Resource
from kubeling.shared.informer import Handlers

from .controller import Context, Controller, key_of
from .resources import (
    CONFIGMAPS,
    PODS,
    REPLICATIONCONTROLLERS,
    RESOURCEQUOTAS,
    SECRETS,
    SERVICES,
)

Obj = dict[str, Any]

COUNTED: tuple[Resource, ...] = (PODS, SERVICES, CONFIGMAPS, SECRETS, REPLICATIONCONTROLLERS, RESOURCEQUOTAS)
LEGACY = {"pods": PODS, "services": SERVICES, "configmaps": CONFIGMAPS, "secrets": SECRETS,
          "replicationcontrollers": REPLICATIONCONTROLLERS, "resourcequotas": RESOURCEQUOTAS}
SYNC_PERIOD = 300.0
_BINARY = {"Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40}


def pod_usage(pod: Obj) -> dict[str, Fraction]:
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return {}
    out: dict[str, Fraction] = {"pods": Fraction(1), "count/pods": Fraction(1)}
    for kind in ("requests", "limits"):
        for r in ("cpu", "memory"):
            out[f"{kind}.{r}"] = sum((quantity.parse(((c.get("resources") or {}).get(kind) or {}).get(r, 0))
                                      for c in (pod.get("spec") or {}).get("containers") or []), Fraction(0))
    out["cpu"], out["memory"] = out["requests.cpu"], out["requests.memory"]
    return out


def usage_of(res: Resource, obj: Obj) -> dict[str, Fraction]:
    if res is PODS:
        return pod_usage(obj)
    group = res.group_version.split("/")[0] if "/" in res.group_version else ""
    out = {f"count/{res.plural}" + (f".{group}" if group else ""): Fraction(1), res.plural: Fraction(1)}
    if res is SERVICES:
        spec = obj.get("spec") or {}
        t = spec.get("type")
        out["services.nodeports"] = Fraction(len(spec.get("ports") or [])) if t in ("NodePort", "LoadBalancer") else Fraction(0)
        out["services.loadbalancers"] = Fraction(1 if t == "LoadBalancer" else 0)
    return out


def format_like(v: Fraction, like: str) -> str:
    """Write usage in the unit the hard limit uses (10Gi hard -> 512Mi used), as kubectl shows it."""
    if v.denominator == 1:
        n = v.numerator
        if like.endswith(tuple(_BINARY)):
            for suf in ("Ti", "Gi", "Mi", "Ki"):
                if n and n % _BINARY[suf] == 0:
                    return f"{n // _BINARY[suf]}{suf}"
        return str(n)
    milli = v * 1000
    return f"{milli.numerator // milli.denominator}m"


def compute_used(hard: dict[str, Any], objects: dict[str, list[Obj]]) -> dict[str, str]:
    totals: dict[str, Fraction] = {}
    for plural, items in objects.items():
        res = next(r for r in COUNTED if r.plural == plural)
        for obj in items:
            for k, v in usage_of(res, obj).items():
                totals[k] = totals.get(k, Fraction(0)) + v
    return {k: format_like(totals.get(k, Fraction(0)), str(h)) for k, h in hard.items() if _tracked(k)}


def _tracked(key: str) -> bool:
    return key in LEGACY or key.startswith(("requests.", "limits.", "services.")) or key in ("cpu", "memory") or (
        key.startswith("count/") and key[len("count/"):] in {r.plural + (f".{r.group_version.split('/')[0]}" if "/" in r.group_version else "") for r in COUNTED})


class ResourceQuotaController(Controller):
    name = "resourcequota"
    event_source = "resourcequota-controller"
    default_workers = 2

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.quotas = self.informer(RESOURCEQUOTAS)
        self.counted = {r.plural: self.informer(r) for r in COUNTED}
        self.quotas.add_handlers(Handlers(self.enqueue, lambda old, new: self._quota_updated(old, new)))
        self.counted["pods"].add_handlers(Handlers(on_update=self._pod_updated))

    def _quota_updated(self, old: Obj, new: Obj) -> None:
        if (new.get("spec") or {}).get("hard") != (new.get("status") or {}).get("hard"):
            self.enqueue(new)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        done = ("Succeeded", "Failed")
        if (new.get("status") or {}).get("phase") in done and (old.get("status") or {}).get("phase") not in done:
            ns = new["metadata"].get("namespace")
            for q in self.quotas.list():
                if q["metadata"].get("namespace") == ns:
                    self.enqueue(q)

    async def background(self) -> None:
        while True:
            await asyncio.sleep(SYNC_PERIOD)
            for q in self.quotas.list():
                self.queue.add(key_of(q))

    async def sync(self, key: str) -> None:
        q = self.quotas.get(key)
        if q is None:
            return
        ns = q["metadata"]["namespace"]
        hard = dict((q.get("spec") or {}).get("hard") or {})
        objects = {plural: [o for o in inf.list() if o["metadata"].get("namespace") == ns]
                   for plural, inf in self.counted.items()}
        used = compute_used(hard, objects)
        st = q.get("status") or {}
        old_used = st.get("used") or {}
        same = st.get("hard") == hard and set(old_used) == set(used) and all(
            quantity.parse(old_used[k]) == quantity.parse(v) for k, v in used.items())
        if same:
            return
        new = {**q, "status": {"hard": hard, "used": used}}
        try:
            await self.client.update_status(RESOURCEQUOTAS, new)  # resourceVersion-guarded against the ledger
        except ApiError as e:
            if e.code == 404:
                return
            raise
