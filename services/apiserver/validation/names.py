"""Name and label validation (upstream `k8s.io/apimachinery/pkg/util/validation`)."""
from __future__ import annotations

import re

from .field import FieldError, invalid

DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253
_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_label_re = re.compile(f"^{_LABEL}$")
_subdomain_re = re.compile(rf"^{_LABEL}(\.{_LABEL})*$")
_qname_re = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_label_value_re = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_c_ident_re = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_env_re = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")

SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
                 "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
                 "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and "
             "end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
             "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
DNS1035_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
               "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
               "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")


def dns1123_subdomain(value: str) -> list[str]:
    errs = []
    if len(value) > DNS1123_SUBDOMAIN_MAX:
        errs.append(f"must be no more than {DNS1123_SUBDOMAIN_MAX} characters")
    if not _subdomain_re.match(value):
        errs.append(SUBDOMAIN_MSG)
    return errs


def dns1123_label(value: str) -> list[str]:
    errs = []
    if len(value) > DNS1123_LABEL_MAX:
        errs.append(f"must be no more than {DNS1123_LABEL_MAX} characters")
    if not _label_re.match(value):
        errs.append(LABEL_MSG)
    return errs


def dns1035_label(value: str) -> list[str]:
    errs = []
    if len(value) > DNS1123_LABEL_MAX:
        errs.append(f"must be no more than {DNS1123_LABEL_MAX} characters")
    if not re.match(r"^[a-z]([-a-z0-9]*[a-z0-9])?$", value):
        errs.append(DNS1035_MSG)
    return errs


def qualified_name(value: str) -> list[str]:
    """A label/annotation key: optional DNS subdomain prefix + '/' + name of at most 63 chars."""
    parts = value.split("/")
    name = parts[-1]
    errs = []
    if len(parts) > 2:
        return ["a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    if len(parts) == 2:
        if not parts[0]:
            errs.append("prefix part must be non-empty")
        else:
            errs += [f"prefix part {e}" for e in dns1123_subdomain(parts[0])]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part must be no more than 63 characters")
    elif not _qname_re.match(name):
        errs.append("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
    return errs


def label_value(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append("must be no more than 63 characters")
    if not _label_value_re.match(value):
        errs.append("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
    return errs


def validate_labels(labels: object, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not isinstance(labels, dict):
        return errs
    for k, v in labels.items():
        for msg in qualified_name(k):
            errs.append(invalid(path, k, msg))
        for msg in label_value(str(v)):
            errs.append(invalid(path, v, msg))
    return errs


def validate_annotations(ann: object, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not isinstance(ann, dict):
        return errs
    total = 0
    for k, v in ann.items():
        for msg in qualified_name(k):
            errs.append(invalid(path, k, msg))
        total += len(k) + len(str(v))
    if total > 256 * 1024:
        errs.append(FieldError("TooLong", path, "must have at most 262144 bytes"))
    return errs


def is_c_identifier(v: str) -> bool:
    return bool(_c_ident_re.match(v))


def is_env_var_name(v: str) -> bool:
    return bool(_env_re.match(v))
