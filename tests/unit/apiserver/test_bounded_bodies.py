"""Request bodies and patches are bounded: each bad input of issue 12 gets a 400/413/422 Status.

YAML and JSON cases include the corpus of upstream's decoder limit tests
(k8s.io/apimachinery/pkg/runtime/serializer/yaml/yaml_test.go, .../json/json_limit_test.go).
"""
from __future__ import annotations

import random

import pytest

from kubeling.services.apiserver.api.bodies import MAX_DEPTH, load_json, load_yaml
from kubeling.services.apiserver.api.errors import StatusError
from kubeling.services.apiserver.api.models.apps import Deployment
from kubeling.services.apiserver.api.models.core import Pod
from kubeling.services.apiserver.api.schema import check
from kubeling.services.apiserver.patch import apply_patch
from kubeling.services.apiserver.protobuf.decoder import decode as decode_pb
from kubeling.services.apiserver.server.codec import MAX_BODY, decode_body

YAML = "application/yaml"
APPLY = "application/apply-patch+yaml"
MIB3 = 3 * 1024 * 1024

# the "billion laughs": 9^9 strings from 9 lines
BOMB = b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\ndata:\n" + b"".join(
    f"  {c}: &{c} [{','.join([f'*{p}'] * 9) if p else ','.join(['lol'] * 9)}]\n".encode()
    for p, c in zip([""] + list("abcdefgh"), "abcdefghi"))


def status(fn, *args, **kwargs) -> StatusError:
    with pytest.raises(StatusError) as e:
        fn(*args, **kwargs)
    return e.value


# --- YAML -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("ctype", [YAML, APPLY])
def test_yaml_alias_bomb_is_400(ctype):
    assert len(BOMB) < 600
    err = status(decode_body, BOMB, ctype, for_patch=ctype == APPLY)
    assert (err.code, err.reason) == (400, "BadRequest")
    assert "yaml: document contains excessive aliasing" in err.message


def test_yaml_upstream_alias_corpus():
    nested = b"a: &a [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"\"]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n" + b"".join(
        f"{c}: &{c} [{','.join([f'[[[[[[[[[*{p}]]]]]]]]]'] * 5)}]\n".encode() for p, c in zip("abcdefgh", "bcdefghi"))
    assert "excessive aliasing" in status(decode_body, nested, YAML).message
    small = b"a: &a [{a}" + b",{a}" * 50_000 + b"]"
    assert len(load_yaml(small)["a"]) == 50_001  # without an alias it decodes
    big = b"a: &a [{a}" + b",{a}" * (MIB3 // 4) + b"]\nb: &b [*a]"  # upstream's "3MB map with alias"
    assert "excessive aliasing" in status(decode_body, big, YAML).message


def test_yaml_aliases_within_budget_are_expanded_into_copies():
    doc = load_yaml(b"base: &b {k: v, n: [1]}\nuse: *b\nmerged:\n  <<: *b\n  n: [2]\n")
    assert doc == {"base": {"k": "v", "n": [1]}, "use": {"k": "v", "n": [1]}, "merged": {"k": "v", "n": [2]}}
    doc["use"]["n"].append(5)
    assert doc["base"]["n"] == [1]


@pytest.mark.parametrize("body", [b"[" * MIB3, b"x: " + b"{" * MIB3, b"- " * MIB3,
                                  b"a: " + b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1)],
                         ids=["slices", "maps", "indents", "max+1"])
def test_yaml_deep_nesting_is_400(body):
    err = status(decode_body, body, YAML)
    assert err.code == 400 and f"exceeded max depth of {MAX_DEPTH}" in err.message


def test_yaml_as_go_yaml_decodes_it():
    doc = load_yaml(b"t: 2024-01-01T00:00:00Z\nyes: on\n1: one\nbig: 18446744073709551616\nn: ~\n")
    assert doc == {"t": "2024-01-01T00:00:00Z", "true": True, "1": "one", "big": 18446744073709551616.0, "n": None}
    for bad, text in [(b"a: .inf", "json: unsupported value: +Inf"), (b"~: 1", "unsupported map key"),
                      (b"a: *nope", "unknown anchor"), (b"a: [1", "yaml: line 2:")]:
        assert text in status(decode_body, bad, YAML).message


# --- JSON -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("body", [
    b"[" * 10000 + b"]" * 10000,
    b'{"a":' + b"[" * (MIB3 // 2) + b"]" * (MIB3 // 2) + b"}",
    b'{"a":' + b"[" * MIB3,
    b'{"":' * (MIB3 // 10) + b"{}" + b"}" * (MIB3 // 10),
    # 300 levels inside a free-form field (a ConfigMap has none; a Pod's annotations are strings, so
    # the nesting is what counts, wherever it is)
    b'{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"x":' + b"[" * 300 + b"]" * 300 + b"}}",
], ids=["10000", "3MB-slices", "3MB-unbalanced", "3MB-maps", "300-in-a-field"])
def test_json_deep_nesting_is_400(body):
    err = status(decode_body, body, "application/json")
    assert err.code == 400
    assert err.message == f"couldn't get version/kind; json parse error: exceeded max depth of {MAX_DEPTH}"


def test_json_at_max_depth_decodes():
    body = b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    assert load_json(body) is not None


@pytest.mark.parametrize("body", [b'{"a": 1e400}', b'{"a": NaN}', b'{"a": "\\ud800"}', b'{"a": "\xff"}', b"\xef\xbb\xbf{}"],
                         ids=["inf", "nan", "surrogate", "utf8", "bom"])
def test_json_unrepresentable_is_400(body):
    assert status(decode_body, body, "application/json").code == 400


def test_integers_outside_int64():
    body = decode_body(b'{"spec": {"activeDeadlineSeconds": 18446744073709551616, "containers": []}}', "application/json")
    _, errs = check(body, Pod)
    assert errs == ["json: cannot unmarshal number 18446744073709551616 into Go struct field "
                    "spec.activeDeadlineSeconds of type int64"]
    _, errs = check({"spec": {"replicas": -(2 ** 63) - 1}}, Deployment)
    assert errs and "of type int64" in errs[0]


# --- JSON patch -------------------------------------------------------------------------------------

DOC = {"metadata": {"name": "x", "labels": {"a": "1"}}, "spec": {"list": [1, 2, 3], "flag": True}}
REJECTED = (422, "Invalid", "the server rejected our request due to an error in our request")


def patch_error(ptype, patch, doc=DOC, schema=None) -> tuple[int, str, str]:
    err = status(apply_patch, ptype, doc, patch, schema)
    return err.code, err.reason, err.message


@pytest.mark.parametrize("ops", [
    [{"op": "copy", "path": "/spec/x"}],  # no from
    [{"op": "move", "path": "/spec/x"}],
    [{"op": "add", "path": 5, "value": 1}],  # non-string path
    [{"op": "add", "value": {"replaced": "everything"}}],  # no path: not the root
    [{"op": "replace", "value": {}}],
    [{"op": "add", "path": "/spec/x"}],  # no value
    [{"op": "replace", "path": "/spec/list/01", "value": 9}],  # leading zero
    [{"op": "remove", "path": "/spec/list/-1"}],
    [{"op": "add", "path": "/spec/list/4", "value": 9}],
    [{"op": "test", "path": "/spec/flag", "value": 1}],  # true is not 1
    [{"op": "test", "path": "/spec/list/0", "value": True}],
    [{"op": "move", "from": "/spec", "path": "/spec/inner"}],
    [{"op": "explode", "path": "/spec"}],
    [{"path": "/spec"}],
    [{"op": "remove", "path": "/nope"}],
])
def test_json_patch_errors_are_422(ops):
    assert patch_error("json", ops) == REJECTED


def test_json_patch_rfc_semantics():
    out = apply_patch("json", DOC, [{"op": "test", "path": "/spec/list/0", "value": 1.0},
                                    {"op": "add", "path": "/spec/list/-", "value": 4},
                                    {"op": "replace", "path": "/spec/list/0", "value": 0},
                                    {"op": "move", "from": "/metadata/labels/a", "path": "/metadata/labels/b"},
                                    {"op": "copy", "from": "/spec/list", "path": "/spec/copy"}], None)
    assert out["spec"]["list"] == [0, 2, 3, 4] and out["spec"]["copy"] == [0, 2, 3, 4]
    assert out["metadata"]["labels"] == {"b": "1"}
    assert DOC["spec"]["list"] == [1, 2, 3]  # the input is not changed


def test_json_patch_copy_doubling_is_bounded():
    doc = {"spec": {"a": "x" * 1000}}
    ops = [{"op": "copy", "from": "/spec", "path": f"/spec/c{i}"} for i in range(20)]
    assert patch_error("json", ops, doc) == REJECTED


def test_json_patch_array_shifting_is_bounded():
    doc = {"list": list(range(200_000))}
    assert patch_error("json", [{"op": "add", "path": "/list/0", "value": 1}] * 10000, doc) == REJECTED
    out = apply_patch("json", doc, [{"op": "add", "path": "/list/-", "value": 1}] * 10000, None)
    assert len(out["list"]) == 210_000  # appends move nothing


def test_json_patch_operation_count_and_shape():
    ops = [{"op": "test", "path": "/metadata/name", "value": "x"}] * 10001
    code, reason, message = patch_error("json", ops)
    assert (code, reason) == (413, "RequestEntityTooLarge")
    assert message == "Request entity too large: The allowed maximum operations in a JSON patch is 10000, got 10001"
    assert patch_error("json", {"op": "add"})[0] == 400
    assert patch_error("json", [1, 2])[0] == 400


def test_patched_object_size_is_bounded():
    big = {"metadata": {"name": "x", "annotations": {"a": "x" * (2 * 1024 * 1024)}}}
    code, reason, _ = patch_error("merge", {"metadata": {"annotations": {"b": "y" * (2 * 1024 * 1024)}}}, big)
    assert (code, reason) == (413, "RequestEntityTooLarge")
    code, _, _ = patch_error("strategic", {"metadata": {"annotations": {"b": "y" * (2 * 1024 * 1024)}}}, big, Pod)
    assert code == 413


# --- strategic merge patch --------------------------------------------------------------------------

POD = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a", "image": "i"}]}}


@pytest.mark.parametrize("patch,code,text", [
    ({"spec": {"$setElementOrder/containers": 5}}, 400, "invalid patch format of setElementOrder list"),
    ({"metadata": {"$deleteFromPrimitiveList/finalizers": "x"}}, 400, "invalid patch format of primitive list"),
    ({"spec": {"$retainKeys": "x"}}, 400, "invalid patch format of retainKeys"),
    ({"spec": {"$patch": "explode"}}, 422, "unknown patch type: explode"),
    ({"spec": {"containers": [{"$patch": "explode", "name": "a"}]}}, 422, "unknown patch type: explode"),
    ({"spec": {"containers": [{"image": "no-name"}]}}, 422, "does not contain declared merge key: name"),
    ({"spec": {"containers": [5]}}, 422, "data type is not map"),
])
def test_strategic_merge_errors(patch, code, text):
    got_code, _, message = patch_error("strategic", patch, POD, Pod)
    assert got_code == code and text in message


def test_strategic_merge_does_not_change_its_inputs():
    patch = {"spec": {"containers": [{"name": "b", "image": "j"}]}}
    out = apply_patch("strategic", POD, patch, Pod)
    out["spec"]["containers"][1]["image"] = "changed"
    assert patch["spec"]["containers"][0]["image"] == "j"
    assert [c["name"] for c in POD["spec"]["containers"]] == ["a"]


# --- protobuf ---------------------------------------------------------------------------------------

def _ld(field: int, payload: bytes) -> bytes:
    n, length = len(payload), b""
    while True:
        length += bytes([(n & 0x7F) | (0x80 if n > 0x7F else 0)])
        n >>= 7
        if not n:
            break
    return bytes([field << 3 | 2]) + length + payload


def _varint(field: int, n: int) -> bytes:
    out = bytes([field << 3])
    while True:
        out += bytes([(n & 0x7F) | (0x80 if n > 0x7F else 0)])
        n >>= 7
        if not n:
            return out


def _configmap(meta: bytes) -> bytes:
    return b"k8s\x00" + _ld(1, _ld(1, b"v1") + _ld(2, b"ConfigMap")) + _ld(2, _ld(1, meta))


@pytest.mark.parametrize("raw", [
    _configmap(_ld(1, b"\xff\xfe")),  # invalid UTF-8 in metadata.name
    _configmap(_varint(8, 5)),  # a number where the creationTimestamp message is expected
    _configmap(_ld(8, _varint(1, 1 << 62))),  # a timestamp of 2^62 seconds
    _configmap(_ld(8, _varint(1, (1 << 64) - (1 << 62)))),  # and -2^62
    _configmap(_ld(1, b"name")[:-2]),  # truncated
    b"k8s\x00" + _varint(1, 7),  # the TypeMeta a number
    b"k8s\x00\x0f",  # wire type 7
    b"k8s\x00" + b"\x08" + b"\xff" * 11,  # a varint past 64 bits
    _configmap(_ld(11, _ld(1, b"k") + _varint(2, 3))),  # a label value as a number
], ids=["utf8", "number-for-message", "time-2^62", "time-minus-2^62", "truncated", "typemeta-number", "wiretype-7",
        "varint-overflow", "label-number"])
def test_malformed_protobuf_is_400(raw):
    assert status(decode_pb, raw).code == 400


def test_protobuf_fuzz_only_answers_statuses():
    rng = random.Random(12)
    seed = _configmap(_ld(1, b"cfg") + _ld(11, _ld(1, b"a") + _ld(2, b"b")) + _ld(8, _varint(1, 1_700_000_000)))
    assert decode_pb(seed)["metadata"]["creationTimestamp"] == "2023-11-14T22:13:20Z"
    for _ in range(3000):
        raw = bytearray(seed)
        for _ in range(rng.randint(1, 4)):
            raw[rng.randrange(4, len(raw))] = rng.randrange(256)
        try:
            decode_pb(bytes(raw))
        except StatusError as e:
            assert e.code in (400, 415)


def test_body_cap_is_upstreams():
    assert MAX_BODY == 3 * 1024 * 1024
