"""The per-resource strategy: everything that differs between kinds, and nothing else.

The generic store (store.py) does create/get/list/update/delete/watch for every resource; a
kind only says how to default, validate and canonicalize its objects, which selectors it
indexes, how it prints as a Table, and which subresources it has. Adding a kind = adding one
Strategy subclass in a file named after the resource.
"""
from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, ClassVar

from ..api.schema import T
from ..validation.field import FieldError
from ..validation.meta import validate_object_meta, validate_object_meta_update
from .selectors import default_fields

if TYPE_CHECKING:
    from .store import Store


class Strategy:
    group: ClassVar[str] = ""
    version: ClassVar[str] = "v1"
    kind: ClassVar[str] = ""
    resource: ClassVar[str] = ""
    singular: ClassVar[str] = ""
    namespaced: ClassVar[bool] = True
    short_names: ClassVar[tuple[str, ...]] = ()
    categories: ClassVar[tuple[str, ...]] = ()
    schema: ClassVar[T]
    has_status: ClassVar[bool] = False  # a /status subresource; status is ignored on main updates
    has_scale: ClassVar[bool] = False
    has_generation: ClassVar[bool] = False  # metadata.generation bumped on spec changes
    field_selectors: ClassVar[tuple[str, ...]] = ()
    extra_subresources: ClassVar[tuple[tuple[str, str, str, str, tuple[str, ...]], ...]] = ()  # (name, group, version, kind, verbs)
    name_validator: ClassVar[str] = "subdomain"  # subdomain | label | dns1035 | path
    virtual: ClassVar[bool] = False  # create-only reviews: answered by review(), never stored
    ttl_seconds: ClassVar[int | None] = None  # objects expire (store lease), as events do upstream
    verbs: ClassVar[tuple[str, ...]] = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> str:
        return f"{self.resource}.{self.group}" if self.group else self.resource

    # --- hooks, overridden per kind -----------------------------------------------------------
    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        """Reset what a client may not set on create (status for kinds with a status subresource)."""
        if self.has_status:
            obj["status"] = self.initial_status(obj)

    def initial_status(self, obj: dict[str, Any]) -> dict[str, Any]:
        return {}

    def prepare_for_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        """Main-resource updates keep the old status, as upstream's PrepareForUpdate."""
        if self.has_status:
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)

    def prepare_for_status_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        """Status updates change only status (metadata labels/annotations kept from new as upstream)."""
        for k in list(new.keys()):
            if k not in ("metadata", "status", "apiVersion", "kind"):
                del new[k]
        for k, v in old.items():
            if k not in ("metadata", "status", "apiVersion", "kind"):
                new[k] = copy.deepcopy(v)

    def default(self, obj: dict[str, Any]) -> None:
        """Fill in the defaults users see in `-o yaml`."""

    def canonicalize(self, obj: dict[str, Any]) -> None:
        """Normalise equivalent spellings before storing."""

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        return validate_object_meta(obj, self.namespaced, self.name_validator)

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        return validate_object_meta_update(new, old) + self.validate(new)

    def spec_changed(self, new: dict[str, Any], old: dict[str, Any]) -> bool:
        """Whether generation must be bumped: everything but metadata and status counts as spec."""
        strip = ("metadata", "status", "apiVersion", "kind")
        return {k: v for k, v in new.items() if k not in strip} != {k: v for k, v in old.items() if k not in strip}

    def fields(self, obj: dict[str, Any]) -> dict[str, str]:
        """Field-selector values for this object."""
        return default_fields(obj)

    def supported_field_selectors(self) -> set[str]:
        s = {"metadata.name"}
        if self.namespaced:
            s.add("metadata.namespace")
        return s | set(self.field_selectors)

    # scale subresource
    def scale_selector(self, obj: dict[str, Any]) -> str:
        from .selectors import selector_from_object
        return str(selector_from_object((obj.get("spec") or {}).get("selector")))

    async def allocations(self, store: "Store", old: dict[str, Any] | None, new: dict[str, Any] | None) -> tuple[list, list]:
        """Extra (compares, ops) written in the same store txn as the object (service IPs/ports)."""
        return [], []

    def on_delete_immediately(self, obj: dict[str, Any], grace: int | None) -> bool:
        """False when the object must go through graceful deletion (pods on a node)."""
        return True

    def review(self, obj: dict[str, Any], user: Any) -> dict[str, Any]:
        """For virtual kinds: the answer to a create."""
        raise NotImplementedError(f"{self.kind} is stored, not reviewed")

    def mark_for_deletion(self, obj: dict[str, Any]) -> bool:
        """True (after marking obj) when deletion must wait for a controller, as namespaces do."""
        return False

    def deletion_pending(self, obj: dict[str, Any]) -> bool:
        """Whether an object already marked for deletion must stay although its finalizers are gone."""
        return False

    def columns(self) -> list[dict[str, Any]]:
        from ..table.printers import columns_for
        return columns_for(self.kind)

    def row(self, obj: dict[str, Any]) -> list[Any]:
        from ..table.printers import row_for
        return row_for(self.kind, obj)
