"""Label and field selector parsing and matching."""
import pytest

from kubeling.services.apiserver.api.errors import StatusError
from kubeling.services.apiserver.registry.selectors import (parse_field_selector, parse_label_selector,
                                                            selector_from_object)


@pytest.mark.parametrize("text,labels,expected", [
    ("app=myapp", {"app": "myapp"}, True),
    ("app==myapp", {"app": "other"}, False),
    ("app=myapp,type!=back-end", {"app": "myapp", "type": "front-end"}, True),
    ("app=myapp,type!=back-end", {"app": "myapp", "type": "back-end"}, False),
    ("type!=back-end", {}, True),
    ("type in (front-end, back-end)", {"type": "back-end"}, True),
    ("type notin (front-end)", {"type": "front-end"}, False),
    ("type notin (front-end)", {}, True),
    ("app", {"app": ""}, True),
    ("!app", {"app": "x"}, False),
    ("!app", {}, True),
    ("", {"x": "y"}, True),
])
def test_label_selector(text, labels, expected):
    assert parse_label_selector(text).matches(labels) is expected


def test_label_selector_syntax_error_is_400():
    with pytest.raises(StatusError) as e:
        parse_label_selector("app in front-end")
    assert e.value.code == 400


def test_selector_from_object():
    sel = selector_from_object({"matchLabels": {"a": "b"}, "matchExpressions": [{"key": "t", "operator": "In", "values": ["x", "y"]},
                                                                               {"key": "g", "operator": "DoesNotExist"}]})
    assert sel.matches({"a": "b", "t": "y"})
    assert not sel.matches({"a": "b", "t": "y", "g": "1"})
    assert str(sel) == "a=b,t in (x,y),!g"


def test_field_selector():
    fs = parse_field_selector("metadata.name=x,status.phase!=Running", {"metadata.name", "status.phase"}, "Pod")
    assert fs.matches({"metadata.name": "x", "status.phase": "Pending"})
    assert not fs.matches({"metadata.name": "x", "status.phase": "Running"})
    assert fs.exact("metadata.name") == "x"
    with pytest.raises(StatusError) as e:
        parse_field_selector("spec.bogus=1", {"metadata.name"}, "Pod")
    assert e.value.code == 400 and '"spec.bogus" is not a known field selector' in e.value.message
