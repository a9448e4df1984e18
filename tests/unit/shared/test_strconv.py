"""Go's strconv and time.ParseDuration as upstream's messages quote them."""
from __future__ import annotations

import pytest

from kubeling.shared.strconv import int64_error, parse_duration, parse_int64, quote


def test_parse_int64_follows_strconv():
    assert parse_int64("+42") == 42 and parse_int64("-9223372036854775808") == -(1 << 63)
    for bad in ("9223372036854775808", "1e3", "", " 1", "0x10", "١"):
        assert parse_int64(bad) is None
    assert int64_error("9223372036854775808") == "value out of range"
    assert int64_error("ten") == "invalid syntax"


def test_quote_is_gos_percent_q():
    assert quote('a"b\\c') == '"a\\"b\\\\c"'
    assert quote("a\tb\x01\u200b") == '"a\\tb\\x01\\u200b"'
    assert quote("ünïcode ok") == '"ünïcode ok"'


def test_go_durations():
    assert parse_duration("1h30m") == 5400
    assert parse_duration("1.5h") == 5400
    assert parse_duration("300ms") == pytest.approx(0.3)
    assert parse_duration("-2s") == -2
    assert parse_duration("0") == 0
    for bad, msg in [("1", 'time: missing unit in duration "1"'), ("", 'time: invalid duration ""'),
                     ("h", 'time: invalid duration "h"'), ("1d", 'time: unknown unit "d" in duration "1d"'),
                     ("3000000h", 'time: invalid duration "3000000h"')]:
        with pytest.raises(ValueError) as e:
            parse_duration(bad)
        assert str(e.value) == msg
