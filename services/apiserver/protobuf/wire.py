"""A minimal protobuf wire-format reader (varint, 64-bit, length-delimited, 32-bit).

Every malformed input raises WireError, with the messages of the gogo-generated Unmarshal code
behind k8s.io/api (generated.pb.go): "proto: integer overflow", "unexpected EOF",
"proto: illegal wireType N".
"""
from __future__ import annotations

from collections.abc import Iterator


class WireError(ValueError):
    pass


def varint(buf: bytes, pos: int) -> tuple[int, int]:
    """A base-128 varint of at most 10 bytes and 64 bits (gogo refuses a longer one)."""
    result = shift = 0
    while True:
        if shift >= 64:
            raise WireError("proto: integer overflow")
        if pos >= len(buf):
            raise WireError("unexpected EOF")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            if result >> 64:
                raise WireError("proto: integer overflow")
            return result, pos
        shift += 7


def fields(buf: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """Yield (field number, wire type, value) for each field of a message."""
    if not isinstance(buf, bytes):
        raise WireError("proto: a scalar where a message was expected")
    pos = 0
    while pos < len(buf):
        key, pos = varint(buf, pos)
        num, wt = key >> 3, key & 7
        if num <= 0:
            raise WireError(f"proto: illegal tag {num} (wire type {wt})")
        if wt == 0:
            v, pos = varint(buf, pos)
            yield num, wt, v
        elif wt == 1:
            if pos + 8 > len(buf):
                raise WireError("unexpected EOF")
            yield num, wt, int.from_bytes(buf[pos:pos + 8], "little")
            pos += 8
        elif wt == 2:
            ln, pos = varint(buf, pos)
            if pos + ln > len(buf):
                raise WireError("unexpected EOF")
            yield num, wt, buf[pos:pos + ln]
            pos += ln
        elif wt == 5:
            if pos + 4 > len(buf):
                raise WireError("unexpected EOF")
            yield num, wt, int.from_bytes(buf[pos:pos + 4], "little")
            pos += 4
        else:
            raise WireError(f"proto: illegal wireType {wt}")
