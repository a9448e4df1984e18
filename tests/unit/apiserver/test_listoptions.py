"""Query parameters of reads decoded as upstream's ListOptions conversion and validation do:
the status code and the exact Go error text for each bad value."""
import pytest

from kubeling.services.apiserver.api.errors import StatusError
from kubeling.services.apiserver.registry.selectors import parse_label_selector
from kubeling.services.apiserver.server.listoptions import (list_options, parse_resource_version, query_bool,
                                                            validate_delete_options)

FIELDS = {"metadata.name", "metadata.namespace", "status.phase"}
NAME_PART = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
             "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
             "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")


def err(query: dict[str, str]) -> StatusError:
    with pytest.raises(StatusError) as e:
        list_options(query, FIELDS, "Pod")
    return e.value


@pytest.mark.parametrize("query,code,message", [
    ({"limit": "99999999999999999999999"}, 400, 'strconv.ParseInt: parsing "99999999999999999999999": value out of range'),
    ({"limit": "-99999999999999999999999"}, 400, 'strconv.ParseInt: parsing "-99999999999999999999999": value out of range'),
    ({"limit": "abc"}, 400, 'strconv.ParseInt: parsing "abc": invalid syntax'),
    ({"limit": " 5"}, 400, 'strconv.ParseInt: parsing " 5": invalid syntax'),
    ({"limit": "5_0"}, 400, 'strconv.ParseInt: parsing "5_0": invalid syntax'),
    ({"limit": ""}, 400, 'strconv.ParseInt: parsing "": invalid syntax'),
    ({"timeoutSeconds": "1.5"}, 400, 'strconv.ParseInt: parsing "1.5": invalid syntax'),
    ({"resourceVersion": "abc"}, 400,
     'invalid resource version: resourceVersion: Invalid value: "abc": strconv.ParseUint: parsing "abc": invalid syntax'),
    ({"resourceVersion": "-1"}, 400,
     'invalid resource version: resourceVersion: Invalid value: "-1": strconv.ParseUint: parsing "-1": invalid syntax'),
    ({"resourceVersion": "18446744073709551616"}, 400,
     'invalid resource version: resourceVersion: Invalid value: "18446744073709551616": strconv.ParseUint: '
     'parsing "18446744073709551616": value out of range'),
    ({"watch": "true", "resourceVersion": "x\n"}, 400,
     'invalid resource version: resourceVersion: Invalid value: "x\\n": strconv.ParseUint: parsing "x\\n": invalid syntax'),
    ({"labelSelector": "%%%"}, 400, f'unable to parse requirement: <nil>: Invalid value: "%%%": {NAME_PART}'),
    ({"labelSelector": "a" * 10000}, 400,
     f'unable to parse requirement: <nil>: Invalid value: "{"a" * 10000}": name part must be no more than 63 characters'),
    ({"labelSelector": "x" * 254 + "/a"}, 400,
     f'unable to parse requirement: <nil>: Invalid value: "{"x" * 254}/a": prefix part must be no more than 253 characters'),
    ({"labelSelector": "a=b c"}, 400, "found 'c', expected: ',' or 'end of string'"),
    ({"labelSelector": "a in b"}, 400, "unable to parse requirement: found 'b' expected: '('"),
    ({"labelSelector": "a,"}, 400, "found '', expected: identifier after ','"),
    ({"labelSelector": ")"}, 400, "found ')', expected: !, identifier, or 'end of string'"),
    ({"labelSelector": "a>b"}, 400,
     "unable to parse requirement: values[0]: Invalid value: \"b\": for 'Gt', 'Lt' operators, the value must be an integer"),
    ({"fieldSelector": "%%"}, 400, "invalid selector: '%%'; can't understand '%%'"),
    ({"fieldSelector": "metadata.name=a=b"}, 400, "invalid field selector: unescaped character in value: 61"),
    ({"fieldSelector": "metadata.name=a\\x"}, 400, "invalid field selector: invalid escape sequence: \\x"),
    ({"fieldSelector": "spec.bogus=1"}, 400, '"spec.bogus" is not a known field selector: only "metadata.name, metadata.namespace, status.phase"'),
    ({"continue": "abc", "resourceVersion": "5"}, 400, "specifying resource version is not allowed when using continue"),
    ({"resourceVersionMatch": "Exact"}, 422,
     'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided'),
    ({"resourceVersionMatch": "Exact", "resourceVersion": "0"}, 422,
     'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"'),
    ({"resourceVersionMatch": "Bogus", "resourceVersion": "1"}, 422,
     'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Unsupported value: "Bogus": supported values: "Exact", "NotOlderThan", ""'),
    ({"sendInitialEvents": "true"}, 422,
     'ListOptions.meta.k8s.io "" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list'),
    ({"watch": "1", "resourceVersionMatch": "Exact"}, 422,
     'ListOptions.meta.k8s.io "" is invalid: [resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch '
     'unless sendInitialEvents is provided, resourceVersionMatch: Unsupported value: "Exact": supported values: "NotOlderThan"]'),
])
def test_bad_parameters_get_upstreams_answer(query, code, message):
    e = err(query)
    assert (e.code, e.message) == (code, message)
    if code == 422:
        assert e.details["kind"] == "ListOptions" and e.details["group"] == "meta.k8s.io" and e.details["causes"]


def test_good_parameters():
    o = list_options({"limit": "+9223372036854775807", "timeoutSeconds": "-3", "watch": "", "resourceVersion": "18446744073709551615",
                      "labelSelector": "app in (a, b),!x,y", "fieldSelector": "metadata.name=a\\,b"}, FIELDS, "Pod")
    assert o.watch and o.timeout_seconds == -3 and o.limit == (1 << 63) - 2  # the store reads limit+1 keys
    assert o.labels.matches({"app": "b", "y": ""}) and not o.labels.matches({"app": "b", "y": "", "x": "1"})
    assert o.fields.exact("metadata.name") == "a,b"
    assert parse_resource_version("") == parse_resource_version("0") == 0


@pytest.mark.parametrize("value,expected", [("true", True), ("1", True), ("", True), ("yes", True),
                                            ("0", False), ("false", False), ("FALSE", False)])
def test_bools_follow_upstream(value, expected):
    """runtime.Convert_Slice_string_To_bool: only "0" and "false" are false once the key is present."""
    assert query_bool({"watch": value}, "watch") is expected
    assert query_bool({}, "watch") is False


@pytest.mark.parametrize("text,labels,expected", [
    ("x in (foo,,baz)", {"x": ""}, True),
    ("x in ()", {"x": ""}, True),
    ("v>5", {"v": "6"}, True),
    ("v>5", {"v": "5"}, False),
    ("v<5", {"v": "x"}, False),
    ("in in (in)", {"in": "in"}, True),
    ("a=b\x00c=d", {"a": "b"}, True),  # a NUL byte ends the selector, as upstream's byte lexer
    ("example.com/key==v", {"example.com/key": "v"}, True),
])
def test_label_selector_grammar(text, labels, expected):
    assert parse_label_selector(text).matches(labels) is expected


@pytest.mark.parametrize("opts,message", [
    ({"propagationPolicy": "Bogus"},
     'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "Bogus": supported values: '
     '"Foreground", "Background", "Orphan", "nil"'),
    ({"propagationPolicy": "Orphan", "orphanDependents": True},
     'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Invalid value: "Orphan": orphanDependents and '
     'deletionPropagation cannot be both set'),
])
def test_delete_options_are_validated(opts, message):
    with pytest.raises(StatusError) as e:
        validate_delete_options(opts)
    assert (e.value.code, e.value.message) == (422, message)
    validate_delete_options({"propagationPolicy": "Foreground", "gracePeriodSeconds": 0})
