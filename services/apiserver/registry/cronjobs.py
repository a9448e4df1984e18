"""batch/v1 CronJobs."""
from __future__ import annotations

from typing import Any

from ..api.models import batch
from ..validation.field import FieldError, invalid, not_supported, required
from ..validation.podspec import validate_template
from . import defaults
from .strategy import Strategy


class CronJobStrategy(Strategy):
    group, kind, resource, singular = "batch", "CronJob", "cronjobs", "cronjob"
    short_names = ("cj",)
    categories = ("all",)
    schema = batch.CronJob
    has_status = True
    has_generation = True
    name_validator = "subdomain"

    def default(self, obj: dict[str, Any]) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        spec.setdefault("concurrencyPolicy", "Allow")
        spec.setdefault("suspend", False)
        spec.setdefault("successfulJobsHistoryLimit", 3)
        spec.setdefault("failedJobsHistoryLimit", 1)
        jt = spec.get("jobTemplate")
        if isinstance(jt, dict) and isinstance(jt.get("spec"), dict):
            js = jt["spec"]
            js.setdefault("backoffLimit", 6)
            js.setdefault("completionMode", "NonIndexed")
            js.setdefault("suspend", False)
            js.setdefault("podReplacementPolicy", "TerminatingOrFailed")
            defaults.pod_template(js.get("template"))
            jt.setdefault("metadata", {}).setdefault("creationTimestamp", None)

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        errs = super().validate(obj)
        name = obj["metadata"].get("name") or ""
        if len(name) > 52:
            errs.append(invalid("metadata.name", name, "must be no more than 52 characters"))
        spec = obj.get("spec") or {}
        sched = spec.get("schedule")
        if not sched:
            errs.append(required("spec.schedule"))
        elif len(str(sched).split()) != 5 and not str(sched).startswith("@"):
            errs.append(invalid("spec.schedule", sched, f"unparseable schedule: expected exactly 5 fields, found {len(str(sched).split())}: [{sched}]"))
        cp = spec.get("concurrencyPolicy")
        if cp and cp not in ("Allow", "Forbid", "Replace"):
            errs.append(not_supported("spec.concurrencyPolicy", cp, ["Allow", "Forbid", "Replace"]))
        jt = spec.get("jobTemplate") or {}
        js = jt.get("spec") or {}
        errs += validate_template(js.get("template"), "spec.jobTemplate.spec.template", None, "", ["OnFailure", "Never"])
        return errs
