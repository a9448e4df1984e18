"""ServiceAccount controller: every active namespace has a `default` ServiceAccount.

The apiserver's ServiceAccount admission names `default` on pods that name none; this
controller makes sure it exists, and recreates it if somebody deletes it.
"""
from __future__ import annotations

from typing import Any

from kubeling.shared.client import ApiError
from kubeling.shared.informer import Handlers

from .controller import Context, Controller
from .resources import NAMESPACES, SERVICEACCOUNTS

Obj = dict[str, Any]
ACCOUNTS = ("default",)


class ServiceAccountController(Controller):
    name = "serviceaccount"
    event_source = "serviceaccount-controller"
    default_workers = 1

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.namespaces = self.informer(NAMESPACES)
        self.accounts = self.informer(SERVICEACCOUNTS)
        self.namespaces.add_handlers(Handlers(self.enqueue, lambda old, new: self.enqueue(new)))
        self.accounts.add_handlers(Handlers(on_delete=lambda sa: self.queue.add(sa["metadata"].get("namespace", ""))))

    async def sync(self, key: str) -> None:
        ns = self.namespaces.get(key)
        if ns is None or ns["metadata"].get("deletionTimestamp") or (ns.get("status") or {}).get("phase") == "Terminating":
            return
        for name in ACCOUNTS:
            if self.accounts.get(f"{key}/{name}") is not None:
                continue
            try:
                await self.client.create(SERVICEACCOUNTS, {"metadata": {"name": name, "namespace": key}}, key)
            except ApiError as e:
                if e.code not in (409, 403):  # exists already / namespace started terminating
                    raise
