"""The protobuf body decoder, on a body captured from `kubectl create namespace dev`."""
import pytest

from kubeling.services.apiserver.api.errors import StatusError
from kubeling.services.apiserver.protobuf.decoder import decode

# 6b 38 73 00 | 0a 0f (0a 02 "v1" 12 09 "Namespace") | 12 1b (...) | 1a 00 | 22 00   (captured from kubectl 1.32's `create namespace`)
NAMESPACE_DEV = bytes.fromhex(
    "6b387300" "0a0f" "0a027631" "12094e616d657370616365"
    "121b" "0a13" "0a03646576" "1200" "1a00" "2200" "2a00" "3200" "3800" "4200" "1200" "1a02" "0a00"
    "1a00" "2200")


def test_namespace_body():
    assert decode(NAMESPACE_DEV) == {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "dev"}}


def _ld(field: int, payload: bytes) -> bytes:
    return bytes([field << 3 | 2, len(payload)]) + payload


def test_configmap_with_data_map():
    meta = _ld(1, _ld(1, b"cfg"))
    entry = _ld(2, _ld(1, b"a") + _ld(2, b"b"))
    raw = b"k8s\x00" + _ld(1, _ld(1, b"v1") + _ld(2, b"ConfigMap")) + _ld(2, meta + entry)
    assert decode(raw) == {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"a": "b"}}


def test_unknown_kind_is_415():
    raw = b"k8s\x00" + _ld(1, _ld(1, b"v1") + _ld(2, b"Pod")) + _ld(2, b"")
    with pytest.raises(StatusError) as e:
        decode(raw)
    assert e.value.code == 415


def test_garbage_is_400():
    with pytest.raises(StatusError) as e:
        decode(b"nope")
    assert e.value.code == 400
