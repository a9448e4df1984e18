"""The generic registry store: create/get/list/update/delete/watch for every resource.

Upstream's `k8s.io/apiserver/pkg/registry/generic/registry.Store`, over the etcd JSON gateway:
- resourceVersion is the store's mod_revision; a list's resourceVersion is the read revision;
- writes are txns guarded on mod_revision (optimistic concurrency: 409 Conflict on a stale
  resourceVersion) or on version == 0 (create: 409 AlreadyExists);
- anything allocated alongside the object (service IPs and ports) is written in the same txn,
  so nothing is ever half-written;
- every write runs admission in upstream's order: mutating plugins, then the strategy's
  prepare/default/validate, then validating plugins (which may reserve, as quota does), then the
  write; the reservations' FinishFunc learns whether the write happened (admission/interfaces.py).
"""
from __future__ import annotations

import asyncio
import base64
import copy
import datetime as _dt
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..admission.chain import AdmissionChain
from ..admission.interfaces import Operation, attributes
from ..api import errors
from ..storage import Compare, EtcdClient, KeyValue, StoreError, prefix_end
from ..storage.client import op_delete, op_put
from ..validation.field import invalid_error
from .objects import decode, encode, generate_name, meta, new_uid, now, rfc3339, strip_rv
from .selectors import FieldSelector, LabelSelector
from .strategy import Strategy
from .watchcache import CacheEvent, WatchCache


@dataclass
class WatchItem:
    type: str  # ADDED MODIFIED DELETED BOOKMARK ERROR
    object: dict[str, Any]


class _Retry(Exception):
    pass


def _store_error(e: StoreError) -> errors.StatusError:
    if e.compacted:
        return errors.gone("The resourceVersion for the provided list is too old.")
    if e.http_status in (500, 503):
        return errors.unavailable(f"the store is unavailable: {e}")
    if "request is too large" in str(e) or "received message larger than max" in str(e):
        # an object over the store's --max-request-bytes (etcd's 1.5 MiB; its gRPC limit 2 MiB):
        # the client's mistake, not the server's (upstream still answers 500, kubernetes#112152)
        return errors.too_large(f"Request entity too large: {e}")
    return errors.internal(str(e))


class Store:
    """One resource's storage, parameterised only by its Strategy."""

    def __init__(self, client: EtcdClient, strategy: Strategy, admission: AdmissionChain | None = None) -> None:
        self.client = client
        self.strategy = strategy
        self.admission = admission if admission is not None else AdmissionChain()  # none: every write is admitted
        self.cache = WatchCache(client, f"/registry/{strategy.resource}/")
        self.prefix = self.cache.prefix
        self._lease: tuple[int, float] | None = None  # (lease id, monotonic expiry), shared by many objects

    async def _lease_id(self) -> int:
        """A store lease for kinds with a TTL, reused for a minute so events don't each need one."""
        ttl = self.strategy.ttl_seconds
        if not ttl:
            return 0
        import time
        now_ = time.monotonic()
        if self._lease is None or self._lease[1] - now_ < ttl - 60:
            try:
                lease = await self.client.lease_grant(ttl + 60)
            except StoreError as e:
                raise _store_error(e) from e
            self._lease = (lease, now_ + ttl + 60)
        return self._lease[0]

    # --- keys -----------------------------------------------------------------------------------
    def key(self, namespace: str | None, name: str) -> str:
        if self.strategy.namespaced:
            return f"{self.prefix}{namespace}/{name}"
        return f"{self.prefix}{name}"

    def collection_prefix(self, namespace: str | None) -> str:
        if self.strategy.namespaced and namespace:
            return f"{self.prefix}{namespace}/"
        return self.prefix

    def _not_found(self, name: str) -> errors.StatusError:
        return errors.not_found(self.strategy.resource, name, self.strategy.group)

    # --- reads ----------------------------------------------------------------------------------
    async def _get_kv(self, namespace: str | None, name: str) -> KeyValue | None:
        try:
            kv, _ = await self.client.get(self.key(namespace, name))
        except StoreError as e:
            raise _store_error(e) from e
        return kv

    async def get(self, namespace: str | None, name: str) -> dict[str, Any]:
        kv = await self._get_kv(namespace, name)
        if kv is None:
            raise self._not_found(name)
        return self._finish(decode(kv.value, kv.mod_revision))

    async def get_from_cache(self, namespace: str | None, name: str) -> dict[str, Any]:
        """A GET with resourceVersion=0 ("any version"): answered from the watch cache without a
        store read, as upstream's cacher answers it. The kubelet reads its Node this way every
        status period, so a thousand nodes' reads cost the store nothing."""
        await self.cache.ensure_started()
        obj = self.cache.objects.get(self.key(namespace, name))
        if obj is None:
            raise self._not_found(name)
        return self._finish(dict(obj))  # a shallow copy: the cache's object is shared

    async def try_get(self, namespace: str | None, name: str) -> dict[str, Any] | None:
        kv = await self._get_kv(namespace, name)
        return self._finish(decode(kv.value, kv.mod_revision)) if kv else None

    def _finish(self, obj: dict[str, Any]) -> dict[str, Any]:
        obj.setdefault("apiVersion", self.strategy.api_version)
        obj.setdefault("kind", self.strategy.kind)
        return obj

    def matches(self, obj: dict[str, Any], labels: LabelSelector, fields: FieldSelector) -> bool:
        if not labels.empty() and not labels.matches(meta(obj).get("labels")):
            return False
        if not fields.empty() and not fields.matches(self.strategy.fields(obj)):
            return False
        return True

    async def list(self, namespace: str | None, labels: LabelSelector, fields: FieldSelector, limit: int = 0,
                   continue_token: str | None = None, from_cache: bool = False,
                   at_revision: int = 0) -> tuple[list[dict[str, Any]], int, str | None, int | None]:
        """Returns (items, list resourceVersion, continue token, remainingItemCount).

        `from_cache` (resourceVersion=0 in the request: "any recent state is fine") serves the
        list from the watch cache without touching the store, ignoring limit, as upstream does.
        """
        prefix = self.collection_prefix(namespace)
        if from_cache and not continue_token:
            await self.cache.ensure_started()
            objs, rev = self.cache.snapshot(prefix)
            # cached objects are shared and never mutated: a shallow copy per response is enough
            items = [self._finish(dict(o)) for o in objs]
            return [o for o in items if self.matches(o, labels, fields)], rev, None, None
        start, revision = prefix, at_revision  # resourceVersionMatch=Exact reads the past revision
        if continue_token:
            try:
                tok = json.loads(base64.b64decode(continue_token))
                start, revision = tok["start"], int(tok["rv"])
                if not start.startswith(prefix):
                    raise ValueError
            except (ValueError, TypeError, KeyError, AttributeError):  # bad base64, JSON, fields or prefix
                # upstream: "invalid continue token: " + storage.ErrGenericInvalidKey (etcd3/store.go GetList)
                raise errors.bad_request("invalid continue token: continue key is not valid") from None
        end = prefix_end(prefix)
        name = fields.exact("metadata.name")
        items: list[dict[str, Any]] = []
        try:
            if name is not None and not continue_token and not revision and (namespace or not self.strategy.namespaced):
                kv, rev = await self.client.get(self.key(namespace, name))
                if kv:
                    obj = self._finish(decode(kv.value, kv.mod_revision))
                    if self.matches(obj, labels, fields):
                        items.append(obj)
                return items, rev, None, None
            page = max(limit, 0)
            while True:
                batch = (page + 1) if page else 0
                kvs, more, count, header_rev = await self.client.range(start, end, limit=batch, revision=revision)
                if not revision:
                    revision = header_rev
                for i, kv in enumerate(kvs):
                    if page and len(items) == page:
                        token = base64.b64encode(json.dumps({"v": "meta.k8s.io/v1", "rv": revision, "start": kv.key}).encode()).decode()
                        remaining = None
                        if labels.empty() and fields.empty():
                            remaining = count - i
                        return items, revision, token, remaining
                    obj = self._finish(decode(kv.value, kv.mod_revision))
                    if self.matches(obj, labels, fields):
                        items.append(obj)
                if not more or not kvs:
                    return items, revision, None, None
                start = kvs[-1].key + "\0"
        except StoreError as e:
            if e.compacted and continue_token:
                raise errors.gone("The provided continue parameter is too old to display a consistent list result. "
                                  "You can start a new list without the continue parameter, or use the continue token in "
                                  "this response to retrieve the remainder of the results. Continuing with the provided "
                                  "token results in an inconsistent list - objects that were created, modified, or deleted "
                                  "between the time the first chunk was returned and now may show up in the list.") from e
            raise _store_error(e) from e

    # --- create ---------------------------------------------------------------------------------
    async def create(self, namespace: str | None, obj: dict[str, Any], dry_run: bool = False) -> dict[str, Any]:
        """Create in upstream's order (endpoints/handlers/create.go, then genericregistry.Store.Create):
        1. mutating admission, on the object as the client sent it;
        2. BeforeCreate: system metadata, PrepareForCreate, defaulting, canonicalization, validation;
        3. validating admission, which may reserve (quota), on the object as it will be stored;
        4. the store write, whose outcome the reservation's FinishFunc learns.
        Steps 2-4 are redone for another generated name or after losing an allocation race."""
        s = self.strategy
        obj = self._request_object(namespace, obj)
        await self.admission.admit(attributes(Operation.CREATE, self, obj, None, dry_run=dry_run))
        generated = not meta(obj).get("name") and bool(meta(obj).get("generateName"))
        for attempt in range(5):
            new = copy.deepcopy(obj)  # each attempt starts from the admitted request: allocations are redone
            md = meta(new)
            if generated:
                md["name"] = generate_name(md["generateName"])
            self._before_create(new)
            finish = await self.admission.validate(attributes(Operation.CREATE, self, new, None, dry_run=dry_run))
            written, res = False, None
            try:
                key = self.key(md.get("namespace"), md["name"])
                compares, ops = await s.allocations(self, None, new)
                if dry_run:
                    md.pop("resourceVersion", None)
                    return new
                try:
                    res = await self.client.txn([Compare(key, "VERSION", 0), *compares],
                                                [op_put(key, encode(new), await self._lease_id()), *ops])
                except StoreError as e:
                    if e.code != 5 or self._lease is None:
                        raise _store_error(e) from e
                    self._lease = None  # our shared lease is gone (store restarted): retry with a new one
                written = res is not None and res.succeeded
            finally:
                await finish(written)  # an object that was not written gives back what it reserved
            if res is not None and res.succeeded:
                md["resourceVersion"] = str(res.revision)
                return new
            if res is None:
                continue
            if await self._get_kv(md.get("namespace"), md["name"]) is not None:
                if generated and attempt < 4:
                    continue
                raise errors.already_exists(s.resource, md["name"], s.group)
            # an allocation raced with another apiserver: pick again
        raise errors.StatusError(500, "InternalError", "Internal error occurred: could not allocate after several attempts")

    def _request_object(self, namespace: str | None, obj: dict[str, Any]) -> dict[str, Any]:
        """The object to create as far as the request decides it: its namespace checked against
        the URL's, and nothing only the server sets (what admission sees first)."""
        s = self.strategy
        obj = copy.deepcopy(obj)
        md = meta(obj)
        if s.namespaced:
            if md.get("namespace") and namespace and md["namespace"] != namespace:
                raise errors.bad_request("the namespace of the provided object does not match the namespace sent on the request")
            md["namespace"] = namespace or md.get("namespace")
        else:
            md.pop("namespace", None)
        obj["apiVersion"], obj["kind"] = s.api_version, s.kind
        for f in ("resourceVersion", "uid", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink", "managedFields",
                  "creationTimestamp", "generation"):
            md.pop(f, None)
        return obj

    def _before_create(self, obj: dict[str, Any]) -> None:
        """upstream's rest.FillObjectMetaSystemFields and rest.BeforeCreate, with kubeling's
        defaulting (done at decoding upstream) before validation."""
        s = self.strategy
        md = meta(obj)
        md["creationTimestamp"] = rfc3339()
        md["uid"] = new_uid()
        if s.has_generation:
            md["generation"] = 1
        s.prepare_for_create(obj)
        s.default(obj)
        s.canonicalize(obj)
        errs = s.validate(obj)
        if errs:
            raise invalid_error(s.kind, md.get("name") or md.get("generateName", ""), errs, s.group)

    # --- update ---------------------------------------------------------------------------------
    async def update(self, namespace: str | None, name: str, mutate: Callable[[dict[str, Any]], Any],
                     subresource: str = "", dry_run: bool = False, precondition_rv: str | None = None,
                     create_if_missing: Callable[[], Awaitable[dict[str, Any]]] | None = None) -> tuple[dict[str, Any], bool]:
        """Read-modify-write with compare-and-swap, retried on races when the client gave no RV.

        `mutate(current)` returns the desired object (it may be async). Returns (object, created).
        """
        s = self.strategy
        for _ in range(20):
            kv = await self._get_kv(namespace, name)
            if kv is None:
                if create_if_missing is not None:
                    return await create_if_missing(), True
                raise self._not_found(name)
            old = self._finish(decode(kv.value, kv.mod_revision))
            new = mutate(copy.deepcopy(old))
            if asyncio.iscoroutine(new):
                new = await new
            new = copy.deepcopy(new)
            nmd = meta(new)
            rv = nmd.get("resourceVersion") or precondition_rv
            if rv and rv != str(kv.mod_revision):
                raise errors.conflict(s.resource, name, s.group)
            if nmd.get("name") and nmd["name"] != name:
                raise errors.bad_request(f'the name of the object ({nmd["name"]}) does not match the name on the URL ({name})')
            if s.namespaced and nmd.get("namespace") and nmd["namespace"] != namespace:
                raise errors.bad_request("the namespace of the provided object does not match the namespace sent on the request")
            try:
                result = await self._write_update(kv, old, new, subresource, dry_run, guarded=bool(rv))
            except _Retry:
                continue
            return result, False
        raise errors.conflict(s.resource, name, s.group, "too many concurrent updates, please retry")

    async def _write_update(self, kv: KeyValue, old: dict[str, Any], new: dict[str, Any], subresource: str,
                            dry_run: bool, guarded: bool) -> dict[str, Any]:
        """One update attempt in upstream's order (endpoints/handlers/update.go runs mutating
        admission on the updated object inside genericregistry.Store.Update's GuaranteedUpdate):
        1. mutating admission; 2. BeforeUpdate: identity kept from the stored object, PrepareForUpdate,
        defaulting, canonicalization, generation, validation; 3. validating admission, which may
        reserve; 4. the compare-and-swap write, whose outcome the reservation's FinishFunc learns."""
        await self.admission.admit(attributes(Operation.UPDATE, self, new, old, subresource, dry_run))
        self._before_update(new, old, subresource)
        finish = await self.admission.validate(attributes(Operation.UPDATE, self, new, old, subresource, dry_run))
        written = False
        try:
            out = await self._put_update(kv, old, new, dry_run, guarded)
            written = not dry_run
            return out
        finally:
            await finish(written)  # a lost race or a failed write gives back what the update reserved

    def _before_update(self, new: dict[str, Any], old: dict[str, Any], subresource: str) -> None:
        """upstream's rest.BeforeUpdate with kubeling's defaulting before validation."""
        s = self.strategy
        omd, nmd = meta(old), meta(new)
        new["apiVersion"], new["kind"] = s.api_version, s.kind
        if s.namespaced:
            nmd["namespace"] = omd.get("namespace")
        nmd["name"] = omd.get("name")
        if not nmd.get("uid") and omd.get("uid"):
            nmd["uid"] = omd["uid"]
        for f in ("creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
            if f in omd:
                nmd[f] = omd[f]
            else:
                nmd.pop(f, None)
        if subresource == "status":
            s.prepare_for_status_update(new, old)
        elif subresource in ("", "scale"):
            s.prepare_for_update(new, old)
        s.default(new)
        s.canonicalize(new)
        if s.has_generation:
            gen = omd.get("generation", 1)
            nmd["generation"] = gen + 1 if s.spec_changed(new, old) else gen
        # a binding sets spec.nodeName, which no ordinary update may change
        errs = Strategy.validate_update(s, new, old) if subresource == "binding" else s.validate_update(new, old)
        if errs:
            raise invalid_error(s.kind, omd.get("name", ""), errs, s.group)

    async def _put_update(self, kv: KeyValue, old: dict[str, Any], new: dict[str, Any], dry_run: bool,
                          guarded: bool) -> dict[str, Any]:
        s = self.strategy
        omd, nmd = meta(old), meta(new)
        nmd.pop("resourceVersion", None)
        if strip_rv(new) == strip_rv(old):
            return old  # a no-op update writes nothing and keeps the resourceVersion
        if dry_run:
            nmd["resourceVersion"] = omd.get("resourceVersion")
            return new
        key = kv.key
        if nmd.get("deletionTimestamp") and not nmd.get("finalizers") and not s.deletion_pending(new):
            # the last finalizer is gone: the object leaves the store now
            return await self._delete_now(kv, new, guarded)
        compares, ops = await s.allocations(self, old, new)
        try:
            res = await self.client.txn([Compare(key, "MOD", kv.mod_revision), *compares],
                                        [op_put(key, encode(new), await self._lease_id()), *ops])
        except StoreError as e:
            if e.code == 5 and self._lease is not None:
                self._lease = None
                raise _Retry() from e
            raise _store_error(e) from e
        if not res.succeeded:
            if guarded:
                cur = await self.client.get(key)
                if cur[0] is None:
                    raise self._not_found(omd.get("name", ""))
                if cur[0].mod_revision != kv.mod_revision:
                    raise errors.conflict(s.resource, omd.get("name", ""), s.group)
            raise _Retry()
        nmd["resourceVersion"] = str(res.revision)
        return new

    # --- delete ---------------------------------------------------------------------------------
    async def delete(self, namespace: str | None, name: str, options: dict[str, Any] | None = None,
                     dry_run: bool = False) -> tuple[dict[str, Any], bool]:
        """Returns (object, deleted_now). Objects with finalizers or a grace period are only marked.

        Admission sees the stored object, mutating then validating plugins, as upstream's
        rest.AdmissionToValidateObjectDeleteFunc runs them before genericregistry.Store.Delete
        decides between deleting and marking."""
        s = self.strategy
        options = options or {}
        pre = options.get("preconditions") or {}
        for _ in range(20):
            kv = await self._get_kv(namespace, name)
            if kv is None:
                raise self._not_found(name)
            obj = self._finish(decode(kv.value, kv.mod_revision))
            md = meta(obj)
            if pre.get("uid") and pre["uid"] != md.get("uid"):
                raise errors.conflict(s.resource, name, s.group,
                                      f"Precondition failed: UID in precondition: {pre['uid']}, UID in object meta: {md.get('uid')}")
            if pre.get("resourceVersion") and pre["resourceVersion"] != md.get("resourceVersion"):
                raise errors.conflict(s.resource, name, s.group,
                                      f"Precondition failed: ResourceVersion in precondition: {pre['resourceVersion']}, ResourceVersion in object meta: {md.get('resourceVersion')}")
            a = attributes(Operation.DELETE, self, None, obj, dry_run=dry_run)
            await self.admission.admit(a)
            finish = await self.admission.validate(a)
            result = None
            try:
                result = await self._delete_once(kv, obj, options, dry_run)
            finally:
                await finish(result is not None and not dry_run)
            if result is not None:
                return result
        raise errors.conflict(s.resource, name, s.group, "too many concurrent updates, please retry")

    async def _delete_once(self, kv: KeyValue, obj: dict[str, Any], options: dict[str, Any],
                           dry_run: bool) -> tuple[dict[str, Any], bool] | None:
        """Delete `obj` now or mark it for deletion; None when it changed meanwhile (retry)."""
        s = self.strategy
        md = meta(obj)
        grace = options.get("gracePeriodSeconds")
        policy = options.get("propagationPolicy")
        if options.get("orphanDependents") is True:
            policy = "Orphan"
        new = copy.deepcopy(obj)
        nmd = meta(new)
        finalizers = list(nmd.get("finalizers") or [])
        if policy == "Foreground" and "foregroundDeletion" not in finalizers and not md.get("deletionTimestamp"):
            finalizers.append("foregroundDeletion")
        if policy == "Orphan" and "orphan" not in finalizers and not md.get("deletionTimestamp"):
            finalizers.append("orphan")
        graceful = not s.on_delete_immediately(obj, grace)
        marked = s.mark_for_deletion(new)
        if not finalizers and not graceful and not marked:
            if dry_run:
                return obj, True
            try:
                return await self._delete_now(kv, obj, guarded=False), True
            except _Retry:
                return None
        # mark for deletion: finalizers must be removed, or the grace period must run out
        if finalizers:
            nmd["finalizers"] = finalizers
        if graceful:
            if grace is None:
                grace = (new.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
            cur = nmd.get("deletionGracePeriodSeconds")
            if cur is not None and grace >= cur:
                return obj, False  # already terminating with a shorter or equal grace
            nmd["deletionGracePeriodSeconds"] = int(grace)
            nmd["deletionTimestamp"] = rfc3339(now() + _dt.timedelta(seconds=int(grace)))
            if grace == 0 and not finalizers:
                if dry_run:
                    return obj, True
                try:
                    return await self._delete_now(kv, obj, guarded=False), True
                except _Retry:
                    return None
        else:
            if md.get("deletionTimestamp") and nmd.get("finalizers") == md.get("finalizers") and new == obj:
                return obj, False
            nmd.setdefault("deletionTimestamp", rfc3339())
            nmd.setdefault("deletionGracePeriodSeconds", 0)
        if dry_run:
            return new, False
        try:
            res = await self.client.txn([Compare(kv.key, "MOD", kv.mod_revision)], [op_put(kv.key, encode(new))])
        except StoreError as e:
            raise _store_error(e) from e
        if not res.succeeded:
            return None
        nmd["resourceVersion"] = str(res.revision)
        return new, False

    async def _delete_now(self, kv: KeyValue, obj: dict[str, Any], guarded: bool) -> dict[str, Any]:
        compares, ops = await self.strategy.allocations(self, obj, None)
        try:
            res = await self.client.txn([Compare(kv.key, "MOD", kv.mod_revision), *compares], [op_delete(kv.key), *ops])
        except StoreError as e:
            raise _store_error(e) from e
        if not res.succeeded:
            if guarded:
                raise errors.conflict(self.strategy.resource, meta(obj).get("name", ""), self.strategy.group)
            raise _Retry()
        await self.admission.after_delete(self, obj)  # a ledger (quota) forgets what the object used
        return obj

    # --- watch ----------------------------------------------------------------------------------
    async def watch(self, namespace: str | None, labels: LabelSelector, fields: FieldSelector,
                    resource_version: str | None, initial_events_end: bool = False) -> AsyncIterator[WatchItem]:
        """Events after `resource_version`; with "" or "0", synthetic ADDED events for the current
        state come first (closed by a `k8s.io/initial-events-end` BOOKMARK when asked, as the
        WatchList protocol does). Stale versions end in an ERROR event carrying a 410 Status."""
        prefix = self.collection_prefix(namespace)
        if resource_version and resource_version != "0":
            try:
                after = int(resource_version)
            except ValueError:
                raise errors.bad_request(f'invalid resource version "{resource_version}"') from None
            await self.cache.ensure_started()
            sub = self.cache.subscribe(after)
        else:
            # the current state and the subscription are taken together, with no await between:
            # no event can fall in between (no gap) or be counted twice (no duplicate)
            await self.cache.ensure_started()
            objs, after = self.cache.snapshot(prefix)
            sub = self.cache.subscribe(after)
            for obj in objs:
                obj = self._finish(dict(obj))
                if self.matches(obj, labels, fields):
                    yield WatchItem("ADDED", obj)
            if initial_events_end:
                yield WatchItem("BOOKMARK", {"kind": self.strategy.kind, "apiVersion": self.strategy.api_version,
                                             "metadata": {"resourceVersion": str(after),
                                                          "annotations": {"k8s.io/initial-events-end": "true"}}})
        if sub is None:
            async for item in self._direct_watch(prefix, after, labels, fields):
                yield item
            return
        try:
            while True:
                ev = await sub.queue.get()
                if ev is sub.CLOSED:
                    return
                if not ev.key.startswith(prefix):
                    continue
                item = self._convert(ev, labels, fields)
                if item:
                    yield item
        finally:
            self.cache.unsubscribe(sub)

    def _convert(self, ev: CacheEvent, labels: LabelSelector, fields: FieldSelector) -> WatchItem | None:
        new_ok = ev.obj is not None and self.matches(ev.obj, labels, fields)
        old_ok = ev.prev is not None and self.matches(ev.prev, labels, fields)
        if ev.obj is None:
            if old_ok:
                return WatchItem("DELETED", self._finish(dict(ev.prev)))
            return None
        obj = self._finish(dict(ev.obj))
        if new_ok and ev.prev is None:
            return WatchItem("ADDED", obj)
        if new_ok and old_ok:
            return WatchItem("MODIFIED", obj)
        if new_ok:
            return WatchItem("ADDED", obj)
        if old_ok:  # it left the selection: clients see it go away
            return WatchItem("DELETED", obj)
        return None

    async def _direct_watch(self, prefix: str, after: int, labels: LabelSelector, fields: FieldSelector) -> AsyncIterator[WatchItem]:
        from .watchcache import to_cache_events
        try:
            async for batch in self.client.watch(prefix, after + 1):
                if isinstance(batch, int):
                    yield WatchItem("ERROR", errors.gone(f"too old resource version: {after} ({batch})").status())
                    return
                for ev in to_cache_events(batch):
                    item = self._convert(ev, labels, fields)
                    if item:
                        yield item
        except StoreError as e:
            yield WatchItem("ERROR", _store_error(e).status())
