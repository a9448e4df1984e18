"""batch/v1 CronJobs."""
from __future__ import annotations

import re
from typing import Any

from kubeling.shared.cron import ScheduleError, load_location, parse_standard

from ..api.models import batch
from ..validation.field import FieldError, invalid, not_supported, required
from ..validation.meta import validate_object_meta_update
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
        return self._validate(obj, None)

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        return validate_object_meta_update(new, old) + self._validate(new, old.get("spec") or {})

    def _validate(self, obj: dict[str, Any], old_spec: dict[str, Any] | None) -> list[FieldError]:
        """pkg/apis/batch/validation/validation.go's ValidateCronJobCreate/Update."""
        errs = super().validate(obj)
        name = obj["metadata"].get("name") or ""
        if len(name) > 52:
            errs.append(invalid("metadata.name", name, "must be no more than 52 characters"))
        spec = obj.get("spec") or {}
        sched = spec.get("schedule")
        if not sched:
            errs.append(required("spec.schedule"))
        else:
            # A TZ prefix stays allowed on objects that already had one (upstream's allowTZInSchedule).
            errs += _validate_schedule(str(sched), "TZ" in str((old_spec or {}).get("schedule") or ""),
                                       spec.get("timeZone"))
        if spec.get("timeZone") is not None:
            errs += _validate_time_zone(spec["timeZone"])
        cp = spec.get("concurrencyPolicy")
        if cp and cp not in ("Allow", "Forbid", "Replace"):
            errs.append(not_supported("spec.concurrencyPolicy", cp, ["Allow", "Forbid", "Replace"]))
        jt = spec.get("jobTemplate") or {}
        js = jt.get("spec") or {}
        errs += validate_template(js.get("template"), "spec.jobTemplate.spec.template", None, "", ["OnFailure", "Never"])
        return errs


# validation.go's validTimeZoneCharacters: each `/`-separated part of an IANA name.
_TZ_PART = re.compile(r"^[A-Za-z.\-_0-9+]{1,14}$")


def _validate_schedule(schedule: str, allow_tz_in_schedule: bool, time_zone: Any) -> list[FieldError]:
    """validateScheduleFormat: robfig's ParseStandard, and TZ only through spec.timeZone."""
    errs = []
    try:
        parse_standard(schedule)
    except ScheduleError as e:
        errs.append(invalid("spec.schedule", schedule, str(e)))
    if allow_tz_in_schedule and "TZ" in schedule and time_zone is not None:
        errs.append(invalid("spec.schedule", schedule, "cannot use both timeZone field and TZ or CRON_TZ in schedule"))
    elif not allow_tz_in_schedule and "TZ" in schedule:
        errs.append(invalid("spec.schedule", schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
    return errs


def _validate_time_zone(tz: Any) -> list[FieldError]:
    """validateTimeZone: an explicit IANA zone this machine's tz database knows."""
    if not isinstance(tz, str) or not tz:
        return [invalid("spec.timeZone", tz, "timeZone must be nil or non-empty string")]
    for part in tz.split("/"):
        if part in (".", "..") or part.startswith("-") or not _TZ_PART.match(part):
            return [invalid("spec.timeZone", tz, f"unknown time zone {tz}")]
    if tz.lower() == "local":
        return [invalid("spec.timeZone", tz, "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones")]
    try:
        load_location(tz)
    except ScheduleError as e:
        return [invalid("spec.timeZone", tz, str(e))]
    return []
