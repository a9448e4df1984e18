"""Kinds with no behaviour beyond the generic store: configmaps, secrets, serviceaccounts, events,
endpoints, endpointslices, leases and RBAC. Each is still its own Strategy (named after its resource)."""
from __future__ import annotations

import base64
import binascii
from typing import Any

from ..api.models import apps as appsm
from ..api.models import core
from ..validation.field import FieldError, invalid, required
from .strategy import Strategy


class ConfigMapStrategy(Strategy):
    kind, resource, singular = "ConfigMap", "configmaps", "configmap"
    short_names = ("cm",)
    schema = core.ConfigMap

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        errs = super().validate(obj)
        for f in ("data", "binaryData"):
            for k in (obj.get(f) or {}):
                if not k or len(k) > 253 or not all(ch.isalnum() or ch in "-._" for ch in k):
                    errs.append(invalid(f"{f}[{k}]", k, "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"))
        return errs

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        errs = super().validate_update(new, old)
        if old.get("immutable") and (new.get("data") != old.get("data") or new.get("binaryData") != old.get("binaryData")):
            errs.append(FieldError("Forbidden", "data", "field is immutable when `immutable` is set"))
        return errs


class SecretStrategy(Strategy):
    kind, resource, singular = "Secret", "secrets", "secret"
    schema = core.Secret
    field_selectors = ("type",)

    def canonicalize(self, obj: dict[str, Any]) -> None:
        """stringData is write-only: merged into data (base64) as upstream does."""
        sd = obj.pop("stringData", None)
        if isinstance(sd, dict):
            data = obj.get("data") if isinstance(obj.get("data"), dict) else {}
            for k, v in sd.items():
                data[k] = base64.b64encode(str(v).encode()).decode()
            obj["data"] = data

    def default(self, obj: dict[str, Any]) -> None:
        obj.setdefault("type", "Opaque")

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        errs = super().validate(obj)
        for k, v in (obj.get("data") or {}).items():
            try:
                base64.b64decode(v or "", validate=True)
            except (binascii.Error, ValueError):
                errs.append(invalid(f"data[{k}]", "<secret contents redacted>", "illegal base64 data"))
        if obj.get("type") == "kubernetes.io/service-account-token" and not (obj["metadata"].get("annotations") or {}).get("kubernetes.io/service-account.name"):
            errs.append(required("metadata.annotations[kubernetes.io/service-account.name]"))
        return errs

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        errs = super().validate_update(new, old)
        if new.get("type") != old.get("type"):
            errs.append(invalid("type", new.get("type"), "field is immutable"))
        if old.get("immutable") and new.get("data") != old.get("data"):
            errs.append(FieldError("Forbidden", "data", "field is immutable when `immutable` is set"))
        return errs

    def fields(self, obj: dict[str, Any]) -> dict[str, str]:
        md = obj.get("metadata") or {}
        return {"metadata.name": md.get("name", ""), "metadata.namespace": md.get("namespace", ""), "type": obj.get("type", "")}


class ServiceAccountStrategy(Strategy):
    kind, resource, singular = "ServiceAccount", "serviceaccounts", "serviceaccount"
    short_names = ("sa",)
    schema = core.ServiceAccount


class EventStrategy(Strategy):
    kind, resource, singular = "Event", "events", "event"
    short_names = ("ev",)
    ttl_seconds = 3600  # upstream's --event-ttl default
    schema = core.Event
    name_validator = "path"
    field_selectors = ("involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
                       "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
                       "reason", "reportingComponent", "source", "type")

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        errs = super().validate(obj)
        io = obj.get("involvedObject") or {}
        ns = obj["metadata"].get("namespace")
        if io.get("namespace") and ns and io["namespace"] != ns:
            errs.append(invalid("involvedObject.namespace", io["namespace"], "does not match event.namespace"))
        return errs

    def fields(self, obj: dict[str, Any]) -> dict[str, str]:
        md, io = obj.get("metadata") or {}, obj.get("involvedObject") or {}
        src = obj.get("source") or {}
        out = {"metadata.name": md.get("name", ""), "metadata.namespace": md.get("namespace", ""),
               "reason": obj.get("reason", ""), "reportingComponent": obj.get("reportingComponent", ""),
               "source": src.get("component", ""), "type": obj.get("type", "")}
        for f in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath"):
            out[f"involvedObject.{f}"] = str(io.get(f, ""))
        return out


class EndpointsStrategy(Strategy):
    kind, resource, singular = "Endpoints", "endpoints", "endpoints"
    short_names = ("ep",)
    schema = core.Endpoints

    def default(self, obj: dict[str, Any]) -> None:
        for ss in obj.get("subsets") or []:
            for p in ss.get("ports") or []:
                p.setdefault("protocol", "TCP")


class EndpointSliceStrategy(Strategy):
    group, kind, resource, singular = "discovery.k8s.io", "EndpointSlice", "endpointslices", "endpointslice"
    schema = appsm.EndpointSlice

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        errs = super().validate(obj)
        at = obj.get("addressType")
        if not at:
            errs.append(required("addressType"))
        elif at not in ("IPv4", "IPv6", "FQDN"):
            from ..validation.field import not_supported
            errs.append(not_supported("addressType", at, ["FQDN", "IPv4", "IPv6"]))
        return errs


class LeaseStrategy(Strategy):
    group, kind, resource, singular = "coordination.k8s.io", "Lease", "leases", "lease"
    schema = appsm.Lease


class RoleStrategy(Strategy):
    group, kind, resource, singular = "rbac.authorization.k8s.io", "Role", "roles", "role"
    schema = appsm.Role
    name_validator = "path"


class ClusterRoleStrategy(Strategy):
    group, kind, resource, singular = "rbac.authorization.k8s.io", "ClusterRole", "clusterroles", "clusterrole"
    namespaced = False
    schema = appsm.ClusterRole
    name_validator = "path"


class RoleBindingStrategy(Strategy):
    group, kind, resource, singular = "rbac.authorization.k8s.io", "RoleBinding", "rolebindings", "rolebinding"
    schema = appsm.RoleBinding
    name_validator = "path"

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        errs = super().validate(obj)
        ref = obj.get("roleRef") or {}
        if not ref.get("name"):
            errs.append(required("roleRef.name"))
        if ref.get("kind") not in ("Role", "ClusterRole"):
            from ..validation.field import not_supported
            errs.append(not_supported("roleRef.kind", ref.get("kind", ""), ["Role", "ClusterRole"]))
        return errs

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        errs = super().validate_update(new, old)
        if new.get("roleRef") != old.get("roleRef"):
            errs.append(invalid("roleRef", new.get("roleRef"), "cannot change roleRef"))
        return errs


class ClusterRoleBindingStrategy(RoleBindingStrategy):
    kind, resource, singular = "ClusterRoleBinding", "clusterrolebindings", "clusterrolebinding"
    namespaced = False
    schema = appsm.ClusterRoleBinding

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        errs = Strategy.validate(self, obj)
        ref = obj.get("roleRef") or {}
        if not ref.get("name"):
            errs.append(required("roleRef.name"))
        if ref.get("kind") != "ClusterRole":
            from ..validation.field import not_supported
            errs.append(not_supported("roleRef.kind", ref.get("kind", ""), ["ClusterRole"]))
        return errs
