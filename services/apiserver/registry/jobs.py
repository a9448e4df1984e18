"""batch/v1 Jobs: a generated controller-uid selector, restartPolicy OnFailure|Never, backoffLimit 6."""
from __future__ import annotations

from typing import Any

from ..api.models import batch
from ..validation.field import FieldError, invalid
from ..validation.podspec import validate_template
from . import defaults
from .strategy import Strategy
from .workload import WorkloadStrategy


def default_job_spec(spec: dict[str, Any], uid: str | None, name: str | None) -> None:
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    spec.setdefault("parallelism", 1)
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
    tmpl = spec.get("template")
    if isinstance(tmpl, dict) and uid and not spec.get("manualSelector"):
        labels = tmpl.setdefault("metadata", {}).setdefault("labels", {})
        if not spec.get("selector"):
            spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
            labels.setdefault("batch.kubernetes.io/controller-uid", uid)
            labels.setdefault("controller-uid", uid)
            if name:
                labels.setdefault("batch.kubernetes.io/job-name", name)
                labels.setdefault("job-name", name)
    defaults.pod_template(tmpl)


class JobStrategy(WorkloadStrategy):
    group, kind, resource, singular = "batch", "Job", "jobs", "job"
    categories = ("all",)
    schema = batch.Job
    default_replicas = None
    restart_policies = ("OnFailure", "Never")

    def default(self, obj: dict[str, Any]) -> None:
        spec = obj.get("spec")
        if isinstance(spec, dict):
            md = obj.get("metadata") or {}
            default_job_spec(spec, md.get("uid"), md.get("name"))

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        errs = Strategy.validate(self, obj)
        spec = obj.get("spec") or {}
        errs += validate_template(spec.get("template"), "spec.template", spec.get("selector"), "spec.selector",
                                  list(self.restart_policies))
        for f in ("parallelism", "completions", "backoffLimit", "activeDeadlineSeconds", "ttlSecondsAfterFinished"):
            v = spec.get(f)
            if isinstance(v, int) and v < 0:
                errs.append(invalid(f"spec.{f}", v, "must be greater than or equal to 0"))
        return errs

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        errs = Strategy.validate_update(self, new, old)
        ns, os_ = new.get("spec") or {}, old.get("spec") or {}
        if ns.get("selector") != os_.get("selector"):
            errs.append(invalid("spec.selector", ns.get("selector"), "field is immutable"))
        if ns.get("completions") != os_.get("completions"):
            errs.append(invalid("spec.completions", ns.get("completions"), "field is immutable"))
        return errs
