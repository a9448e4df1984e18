"""CronJob schedules parsed as robfig/cron's ParseStandard parses them (upstream's messages), and
their next activation times."""
from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from kubeling.shared.cron import ScheduleError, parse_standard

T = datetime(2026, 1, 1, 10, 7, tzinfo=UTC)  # a Thursday


@pytest.mark.parametrize("spec, after", [
    ("*/5 * * * *", datetime(2026, 1, 1, 10, 10, tzinfo=UTC)),
    ("@hourly", datetime(2026, 1, 1, 11, 0, tzinfo=UTC)),
    ("0 9 * * mon-fri", datetime(2026, 1, 2, 9, 0, tzinfo=UTC)),
    ("0 0 1 feb *", datetime(2026, 2, 1, 0, 0, tzinfo=UTC)),
    ("0 0 13 * 5", datetime(2026, 1, 2, 0, 0, tzinfo=UTC)),   # both day fields set: either matches
    ("0 0 13 * *", datetime(2026, 1, 13, 0, 0, tzinfo=UTC)),  # one is `*`: both must match
    ("0 0 */2 * 1", datetime(2026, 1, 3, 0, 0, tzinfo=UTC)),  # `*/2` is not a star: either matches
    ("0 0 ? * 1", datetime(2026, 1, 5, 0, 0, tzinfo=UTC)),
    ("5/20 * * * *", datetime(2026, 1, 1, 10, 25, tzinfo=UTC)),  # "N/step" is "N-max/step"
    ("0 0 29 2 *", datetime(2028, 2, 29, 0, 0, tzinfo=UTC)),
    ("@every 1h30m", datetime(2026, 1, 1, 11, 37, tzinfo=UTC)),
    ("TZ=Asia/Seoul 0 9 * * *", datetime(2026, 1, 2, 0, 0, tzinfo=UTC)),
])
def test_next_activation(spec, after):
    assert parse_standard(spec).next(T) == after


@pytest.mark.parametrize("spec, message", [
    ("", "empty spec string"),
    ("99 * * * *", "end of range (99) above maximum (59): 99"),
    ("* * * *", "expected exactly 5 fields, found 4: [* * * *]"),
    ("0 0 * * * *", "expected exactly 5 fields, found 6: [0 0 * * * *]"),
    ("x * * * *", 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax'),
    ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
    ("*/0 * * * *", "step of range should be a positive number: */0"),
    ("0 0 * * 7", "end of range (7) above maximum (6): 7"),  # robfig's weekdays are 0-6
    ("0 0 0 * *", "beginning of range (0) below minimum (1): 0"),
    ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
    ("1/2/3 * * * *", "too many slashes: 1/2/3"),
    ("0 0 L * *", 'failed to parse int from L: strconv.Atoi: parsing "L": invalid syntax'),
    ("99999999999999999999 * * * *", "value out of range"),
    ("@fortnightly", "unrecognized descriptor: @fortnightly"),
    ("@every 1x", 'failed to parse duration @every 1x: time: unknown unit "x" in duration "1x"'),
    ("TZ=Mars/Olympus 0 * * * *", "provided bad location Mars/Olympus: unknown time zone Mars/Olympus"),
])
def test_refused_as_upstream(spec, message):
    with pytest.raises(ScheduleError) as e:
        parse_standard(spec)
    assert message in str(e.value)


@pytest.mark.parametrize("spec", ["0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 31 2 *", ", * * * *"])
def test_schedules_that_never_fire_parse_but_have_no_next_time(spec):
    assert parse_standard(spec).next(T) is None


def test_next_follows_the_time_zone_across_daylight_saving():
    ny = ZoneInfo("America/New_York")
    s = parse_standard("30 2 * * *")  # 02:30 does not exist on 8 March 2026 in New York
    got = s.next(datetime(2026, 3, 7, 12, 0, tzinfo=ny))
    assert got.tzinfo is not None and got.date().isoformat() in ("2026-03-08", "2026-03-09")
