"""A minimal protobuf wire-format reader (varint, 64-bit, length-delimited, 32-bit)."""
from __future__ import annotations

from collections.abc import Iterator


class WireError(ValueError):
    pass


def varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise WireError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 70:
            raise WireError("varint too long")


def fields(buf: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """Yield (field number, wire type, value) for each field of a message."""
    pos = 0
    while pos < len(buf):
        key, pos = varint(buf, pos)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, pos = varint(buf, pos)
            yield num, wt, v
        elif wt == 1:
            yield num, wt, int.from_bytes(buf[pos:pos + 8], "little")
            pos += 8
        elif wt == 2:
            ln, pos = varint(buf, pos)
            if pos + ln > len(buf):
                raise WireError("truncated length-delimited field")
            yield num, wt, buf[pos:pos + ln]
            pos += ln
        elif wt == 5:
            yield num, wt, int.from_bytes(buf[pos:pos + 4], "little")
            pos += 4
        else:
            raise WireError(f"unsupported wire type {wt}")
