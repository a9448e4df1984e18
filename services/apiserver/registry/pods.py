"""Pods: defaults users see in -o yaml, spec validation, graceful deletion, binding/eviction."""
from __future__ import annotations

import copy
from typing import Any

from ..api.models import core
from ..validation.field import FieldError, forbidden
from ..validation.podspec import validate_pod_spec
from . import defaults
from .strategy import Strategy


def qos_class(spec: dict[str, Any]) -> str:
    cs = (spec.get("containers") or []) + (spec.get("initContainers") or [])
    any_set, guaranteed = False, True
    for c in cs:
        res = c.get("resources") or {}
        lim, req = res.get("limits") or {}, res.get("requests") or {}
        if lim or req:
            any_set = True
        for r in ("cpu", "memory"):
            if r not in lim or (r in req and str(req[r]) != str(lim[r])):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


class PodStrategy(Strategy):
    kind, resource, singular = "Pod", "pods", "pod"
    short_names = ("po",)
    categories = ("all",)
    schema = core.Pod
    has_status = True
    field_selectors = ("spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
                       "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName")
    extra_subresources = (("binding", "", "v1", "Binding", ("create",)), ("eviction", "policy", "v1", "Eviction", ("create",)),
                          ("log", "", "v1", "Pod", ("get",)), ("exec", "", "v1", "PodExecOptions", ("create", "get")),
                          ("attach", "", "v1", "PodAttachOptions", ("create", "get")),
                          ("portforward", "", "v1", "PodPortForwardOptions", ("create", "get")))

    def initial_status(self, obj: dict[str, Any]) -> dict[str, Any]:
        return {"phase": "Pending", "qosClass": qos_class(obj.get("spec") or {})}

    def default(self, obj: dict[str, Any]) -> None:
        spec = obj.get("spec")
        if isinstance(spec, dict):
            defaults.pod_spec(spec)
            spec.setdefault("enableServiceLinks", True)
            spec.setdefault("priority", 0)
            spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
            if spec.get("serviceAccountName") and not spec.get("serviceAccount"):
                spec["serviceAccount"] = spec["serviceAccountName"]

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        return super().validate(obj) + validate_pod_spec(obj.get("spec"), "spec")

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        errs = super().validate_update(new, old)
        a, b = copy.deepcopy(new.get("spec") or {}), copy.deepcopy(old.get("spec") or {})
        for spec in (a, b):
            for key in ("containers", "initContainers"):
                for c in spec.get(key) or []:
                    c.pop("image", None)
            spec.pop("activeDeadlineSeconds", None)
            spec.pop("tolerations", None)
            spec.pop("terminationGracePeriodSeconds", None)
        if a != b:
            errs.append(forbidden("spec", "pod updates may not change fields other than `spec.containers[*].image`,"
                                  "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` "
                                  "(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
                                  "(allow it to be set to 1 if it was previously negative)"))
        return errs

    def spec_changed(self, new: dict[str, Any], old: dict[str, Any]) -> bool:
        return new.get("spec") != old.get("spec")

    def fields(self, obj: dict[str, Any]) -> dict[str, str]:
        spec, st, md = obj.get("spec") or {}, obj.get("status") or {}, obj.get("metadata") or {}
        return {"metadata.name": md.get("name", ""), "metadata.namespace": md.get("namespace", ""),
                "spec.nodeName": spec.get("nodeName", ""), "spec.restartPolicy": spec.get("restartPolicy", ""),
                "spec.schedulerName": spec.get("schedulerName", ""), "spec.serviceAccountName": spec.get("serviceAccountName", ""),
                "spec.hostNetwork": "true" if spec.get("hostNetwork") else "false",
                "status.phase": st.get("phase", ""), "status.podIP": st.get("podIP", ""),
                "status.nominatedNodeName": st.get("nominatedNodeName", "")}

    def on_delete_immediately(self, obj: dict[str, Any], grace: int | None) -> bool:
        """Unscheduled or finished pods go at once; running ones wait for the kubelet (or grace 0)."""
        if grace == 0:
            return True
        if not (obj.get("spec") or {}).get("nodeName"):
            return True
        return (obj.get("status") or {}).get("phase") in ("Succeeded", "Failed")

    def deletion_pending(self, obj: dict[str, Any]) -> bool:
        """A pod in its grace period stays until the kubelet deletes it with grace 0."""
        return not self.on_delete_immediately(obj, None) and (obj["metadata"].get("deletionGracePeriodSeconds") or 0) > 0
