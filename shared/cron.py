"""CronJob schedules as Kubernetes reads them: robfig/cron v3's `ParseStandard`.

Two jobs, two places:
- *Parsing* follows robfig/cron's parser.go (`ParseStandard`, `getRange`, `parseDescriptor`)
  exactly, so the apiserver accepts and refuses what upstream does, with its messages
  (`end of range (99) above maximum (59): 99`, `expected exactly 5 fields, found 4: [* * * *]`):
  five fields, `*`/`?`, lists, ranges, steps, month and weekday names, weekdays 0-6, the
  `@yearly`..`@hourly` descriptors, `@every <Go duration>`, and a `TZ=`/`CRON_TZ=` prefix.
- *Finding the next time* is the cronsim library's (a well-kept Debian-cron-compatible iterator
  that jumps field by field and refuses impossible dates up front), fed the parsed fields
  re-written as plain number lists. A schedule that never fires (30 February) parses, as upstream,
  and its `next()` is None: the controller reports it once instead of searching for it.

The day-of-month/day-of-week rule is robfig's: a field written as `*` or `?` (without a step
above 1) makes the two fields AND, otherwise either may match; a field re-written as `*` keeps
that rule in cronsim, which ANDs when either field starts with `*`.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from .strconv import int64_error, parse_duration, parse_int64, quote

__all__ = ["ScheduleError", "Schedule", "parse_standard"]


class ScheduleError(ValueError):
    """A schedule robfig/cron's ParseStandard refuses; the text is its error message."""


@dataclass(frozen=True)
class _Bounds:
    lo: int
    hi: int
    names: dict[str, int] | None = None


_MONTHS = {m: i + 1 for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun",
                                             "jul", "aug", "sep", "oct", "nov", "dec"))}
_DAYS = {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
# minute, hour, day of month, month, day of week (parser.go's `minutes`, `hours`, `dom`, `months`, `dow`)
_FIELDS = (_Bounds(0, 59), _Bounds(0, 23), _Bounds(1, 31), _Bounds(1, 12, _MONTHS), _Bounds(0, 6, _DAYS))
_STAR = "*"  # robfig's starBit, kept as a literal `*` in the field re-written for cronsim
_DESCRIPTORS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
                "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}


class Schedule(ABC):
    """When a parsed schedule fires next (robfig's `Schedule.Next`)."""

    @abstractmethod
    def next(self, t: datetime) -> datetime | None:
        """The first activation strictly after `t` (timezone-aware), or None if there is none."""


class SpecSchedule(Schedule):
    """A five-field (or descriptor) schedule, in `location` (None: the caller's time zone)."""

    def __init__(self, fields: list[str], location: ZoneInfo | None) -> None:
        self.expr = " ".join(fields)
        self.location = location
        try:
            CronSim(self.expr, datetime(2000, 1, 1))
            self.possible = "" not in fields
        except CronSimError:  # no month has such a day: robfig parses it, and its Next gives zero time
            self.possible = False

    def next(self, t: datetime) -> datetime | None:
        if not self.possible:
            return None
        local = t.astimezone(self.location) if self.location is not None else t
        return next(CronSim(self.expr, local))


class EverySchedule(Schedule):
    """`@every <duration>`: robfig's ConstantDelaySchedule (whole seconds, at least one)."""

    def __init__(self, seconds: int) -> None:
        self.seconds = max(seconds, 1)

    def next(self, t: datetime) -> datetime | None:
        return t.replace(microsecond=0) + timedelta(seconds=self.seconds)


def parse_standard(spec: str) -> Schedule:
    """robfig/cron's ParseStandard: the schedule, or ScheduleError with upstream's message."""
    if not spec:
        raise ScheduleError("empty spec string")
    location: ZoneInfo | None = None
    if spec.startswith(("TZ=", "CRON_TZ=")):
        eq, space = spec.index("="), spec.find(" ")
        name = spec[eq + 1:space] if space > eq else spec[eq + 1:]
        location = load_location(name, f"provided bad location {name}: ")
        spec = spec[space:].strip() if space > eq else ""
    if spec.startswith("@"):
        return _descriptor(spec, location)
    fields = spec.split()
    if len(fields) != 5:
        raise ScheduleError(f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]")
    return SpecSchedule([_field(f, b) for f, b in zip(fields, _FIELDS)], location)


def load_location(name: str, prefix: str = "") -> ZoneInfo:
    """Go's time.LoadLocation for an IANA name (ScheduleError: `unknown time zone X`)."""
    if name in ("", "UTC"):
        return ZoneInfo("UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ScheduleError(f"{prefix}unknown time zone {name}") from None


def _descriptor(spec: str, location: ZoneInfo | None) -> Schedule:
    if spec in _DESCRIPTORS:
        return SpecSchedule([_field(f, b) for f, b in zip(_DESCRIPTORS[spec].split(), _FIELDS)], location)
    if spec.startswith("@every "):
        text = spec[len("@every "):]
        try:
            return EverySchedule(int(parse_duration(text)))
        except ValueError as e:
            raise ScheduleError(f"failed to parse duration {spec}: {e}") from None
    raise ScheduleError(f"unrecognized descriptor: {spec}")


def _field(text: str, bounds: _Bounds) -> str:
    """One field (a comma list of ranges) as cronsim reads it: `*`, or the sorted values."""
    values: set[int] = set()
    star = False
    for expr in (part for part in text.split(",") if part):
        got, is_star = _range(expr, bounds)
        values |= got
        star = star or is_star
    if star:
        return _STAR
    return ",".join(str(v) for v in sorted(values))


def _range(expr: str, b: _Bounds) -> tuple[set[int], bool]:
    """parser.go's getRange: `number | number "-" number [ "/" number ]`, `*` or `?`."""
    range_and_step = expr.split("/")
    low_high = range_and_step[0].split("-")
    star = False
    if low_high[0] in ("*", "?"):
        start, end, star = b.lo, b.hi, True
    else:
        start = _int_or_name(low_high[0], b.names)
        if len(low_high) == 1:
            end = start
        elif len(low_high) == 2:
            end = _int_or_name(low_high[1], b.names)
        else:
            raise ScheduleError(f"too many hyphens: {expr}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _int(range_and_step[1])
        if len(low_high) == 1:  # "N/step" means "N-max/step"
            end = b.hi
        if step > 1:
            star = False
    else:
        raise ScheduleError(f"too many slashes: {expr}")
    if start < b.lo:
        raise ScheduleError(f"beginning of range ({start}) below minimum ({b.lo}): {expr}")
    if end > b.hi:
        raise ScheduleError(f"end of range ({end}) above maximum ({b.hi}): {expr}")
    if start > end:
        raise ScheduleError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise ScheduleError(f"step of range should be a positive number: {expr}")
    return set(range(start, end + 1, step)), star


def _int_or_name(expr: str, names: dict[str, int] | None) -> int:
    if names and expr.lower() in names:
        return names[expr.lower()]
    return _int(expr)


def _int(expr: str) -> int:
    """parser.go's mustParseInt over Go's strconv.Atoi."""
    num = parse_int64(expr)
    if num is None:
        raise ScheduleError(f"failed to parse int from {expr}: strconv.Atoi: parsing {quote(expr)}: {int64_error(expr)}")
    if num < 0:
        raise ScheduleError(f"negative number ({num}) not allowed: {expr}")
    return num
