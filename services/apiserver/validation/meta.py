"""ObjectMeta validation, as upstream `ValidateObjectMeta` / `ValidateObjectMetaUpdate`."""
from __future__ import annotations

from typing import Any

from .field import FieldError, invalid, required
from .names import dns1035_label, dns1123_label, dns1123_subdomain, validate_annotations, validate_labels

NAME_VALIDATORS = {"subdomain": dns1123_subdomain, "label": dns1123_label, "dns1035": dns1035_label}


def _path_segment_name(value: str) -> list[str]:
    if value in (".", ".."):
        return [f"may not be '{value}'"]
    for bad in ("/", "%"):
        if bad in value:
            return [f"may not contain '{bad}'"]
    return []


def validate_object_meta(obj: dict[str, Any], namespaced: bool, name_validator: str = "subdomain") -> list[FieldError]:
    md = obj.get("metadata") or {}
    errs: list[FieldError] = []
    name = md.get("name")
    if not name:
        errs.append(required("metadata.name", "name or generateName is required"))
    else:
        fn = NAME_VALIDATORS.get(name_validator, _path_segment_name)
        for msg in fn(name):
            errs.append(invalid("metadata.name", name, msg))
    if namespaced and not md.get("namespace"):
        errs.append(required("metadata.namespace"))
    errs += validate_labels(md.get("labels"), "metadata.labels")
    errs += validate_annotations(md.get("annotations"), "metadata.annotations")
    for i, ref in enumerate(md.get("ownerReferences") or []):
        for f in ("apiVersion", "kind", "name", "uid"):
            if not ref.get(f):
                errs.append(invalid(f"metadata.ownerReferences[{i}].{f}" if f != "uid" else f"metadata.ownerReferences[{i}].uid",
                                    ref.get(f, ""), f"{f} must not be empty") if f != "uid" else
                            invalid(f"metadata.ownerReferences[{i}].uid", "", "uid must not be empty"))
    gen = md.get("generation")
    if isinstance(gen, int) and gen < 0:
        errs.append(invalid("metadata.generation", gen, "must be greater than or equal to 0"))
    return errs


def validate_object_meta_update(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    nm, om = new.get("metadata") or {}, old.get("metadata") or {}
    errs: list[FieldError] = []
    for f in ("name", "namespace", "uid", "creationTimestamp"):
        if nm.get(f) != om.get(f):
            errs.append(invalid(f"metadata.{f}", nm.get(f), "field is immutable"))
    return errs
