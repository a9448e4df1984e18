"""Standard 5-field cron schedules (minute hour day-of-month month day-of-week), as CronJobs use.

Supports `*`, lists, ranges, steps (`*/5`, `1-10/2`), month and weekday names, `7` for Sunday,
the `@yearly/@annually/@monthly/@weekly/@daily/@midnight/@hourly` macros, and the Vixie-cron rule
that when both day fields are restricted a day matching either one counts.
"""
from __future__ import annotations

from datetime import datetime, timedelta

MACROS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
          "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}
NAMES = [{}, {}, {}, {m: i + 1 for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])},
         {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}]
BOUNDS = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]


class Schedule:
    def __init__(self, spec: str) -> None:
        text = MACROS.get(spec.strip().lower(), spec.strip())
        fields = text.split()
        if len(fields) != 5:
            raise ValueError(f"expected exactly 5 fields, found {len(fields)}: {spec!r}")
        self.sets = [self._field(f, i) for i, f in enumerate(fields)]
        if 7 in self.sets[4]:
            self.sets[4] = (self.sets[4] - {7}) | {0}
        self.dom_star = fields[2] in ("*", "?")
        self.dow_star = fields[4] in ("*", "?")

    @staticmethod
    def _field(text: str, i: int) -> set[int]:
        lo, hi = BOUNDS[i]
        out: set[int] = set()
        for part in text.lower().split(","):
            rng, _, step_s = part.partition("/")
            step = int(step_s) if step_s else 1
            if step <= 0:
                raise ValueError(f"bad step in {text!r}")
            if rng in ("*", "?"):
                a, b = lo, hi
            else:
                a_s, dash, b_s = rng.partition("-")
                a = int(NAMES[i].get(a_s, a_s))
                b = int(NAMES[i].get(b_s, b_s)) if dash else (hi if step_s else a)
            if a < lo or b > hi or a > b:
                raise ValueError(f"value out of range in {text!r}")
            out.update(range(a, b + 1, step))
        return out

    def _day_ok(self, t: datetime) -> bool:
        dom = t.day in self.sets[2]
        dow = (t.isoweekday() % 7) in self.sets[4]
        if self.dom_star or self.dow_star:
            return dom and dow
        return dom or dow

    def next_after(self, t: datetime) -> datetime:
        """The first scheduled minute strictly after t (same tzinfo as t)."""
        t = t.replace(second=0, microsecond=0) + timedelta(minutes=1)
        for _ in range(366 * 24 * 60 * 5):
            if t.month not in self.sets[3]:
                t = (t.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
                continue
            if not self._day_ok(t):
                t = t.replace(hour=0, minute=0) + timedelta(days=1)
                continue
            if t.hour not in self.sets[1]:
                t = t.replace(minute=0) + timedelta(hours=1)
                continue
            if t.minute not in self.sets[0]:
                t += timedelta(minutes=1)
                continue
            return t
        raise ValueError("schedule never fires")
