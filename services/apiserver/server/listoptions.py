"""Query parameters of reads (ListOptions, GetOptions) and DeleteOptions, decoded as upstream does.

kube-apiserver converts the query string into `metav1.ListOptions` with generated conversion
functions (staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/zz_generated.conversion.go, using
staging/src/k8s.io/apimachinery/pkg/runtime/conversion.go for the scalars), then into the
internal form (labels.Parse, fields.ParseSelector), validates it
(staging/src/k8s.io/apimachinery/pkg/apis/meta/internalversion/validation/validation.go), and the
storage layer parses `resourceVersion`
(staging/src/k8s.io/apiserver/pkg/storage/util.go ValidateListOptions). Every failure there is a
400 BadRequest carrying the Go error text, or a 422 Invalid for ListOptions; nothing reaches a
handler unparsed, so no bad parameter can become a 500 further down.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubeling.shared.strconv import int64_error, parse_int64, quote

from ..api import errors
from ..registry.selectors import FieldSelector, LabelSelector, parse_field_selector, parse_label_selector
from ..validation.field import FieldError, forbidden, invalid, invalid_error, not_supported

MAX_INT64 = (1 << 63) - 1


def query_bool(query: Mapping[str, str], name: str) -> bool:
    """runtime.Convert_Slice_string_To_bool: absent, "0" or "false" (any case) is false; anything
    else, even an empty value, is true."""
    if name not in query:
        return False
    v = query[name]
    return not (v == "0" or v.lower() == "false")


def query_int64(query: Mapping[str, str], name: str) -> int | None:
    """runtime.Convert_Slice_string_To_int64: strconv.ParseInt's rules and error text."""
    if name not in query:
        return None
    text = query[name]
    n = parse_int64(text)
    if n is None:
        raise errors.bad_request(f"strconv.ParseInt: parsing {quote(text)}: {int64_error(text)}")
    return n


def parse_resource_version(rv: str) -> int:
    """APIObjectVersioner.ParseResourceVersion as the storage layer reports it ("" and "0" are 0)."""
    if rv in ("", "0"):
        return 0
    if rv.isascii() and rv.isdigit() and int(rv) < (1 << 64):
        return int(rv)
    why = "value out of range" if rv.isascii() and rv.isdigit() else "invalid syntax"
    raise errors.bad_request(f"invalid resource version: resourceVersion: Invalid value: {quote(rv)}: "
                             f"strconv.ParseUint: parsing {quote(rv)}: {why}")


def validate_delete_options(opts: dict[str, Any]) -> None:
    """ValidateDeleteOptions (staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/validation): a 422
    on DeleteOptions for an unknown propagationPolicy, or one set beside orphanDependents."""
    errs: list[FieldError] = []
    policy = opts.get("propagationPolicy")
    if policy is not None and opts.get("orphanDependents") is not None:
        errs.append(invalid("propagationPolicy", policy, "orphanDependents and deletionPropagation cannot be both set"))
    if policy is not None and policy not in ("Foreground", "Background", "Orphan"):
        errs.append(not_supported("propagationPolicy", policy, ["Foreground", "Background", "Orphan", "nil"]))
    if errs:
        raise invalid_error("DeleteOptions", "", errs, group="meta.k8s.io")


def too_large_resource_version(wanted: int, current: int) -> errors.StatusError:
    """A read of a revision the store has not reached (storage.NewTooLargeResourceVersionError in
    staging/src/k8s.io/apiserver/pkg/storage/errors.go): 504 Timeout, retry after a second."""
    return errors.StatusError(504, "Timeout", f"Timeout: Too large resource version: {wanted}, current: {current}",
                              {"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
                               "retryAfterSeconds": 1})


def _invalid(errs: list[FieldError]) -> errors.StatusError:
    return invalid_error("ListOptions", "", errs, group="meta.k8s.io")


@dataclass(frozen=True)
class ListOptions:
    labels: LabelSelector
    fields: FieldSelector
    watch: bool
    bookmarks: bool
    resource_version: str
    match: str
    timeout_seconds: int | None
    limit: int
    continue_token: str
    send_initial_events: bool | None


def list_options(query: Mapping[str, str], supported_fields: set[str], kind: str) -> ListOptions:
    """Decode and validate a list or watch request's query, in upstream's order: scalars, then the
    selectors, then ListOptions validation (422), then the field selector's labels (400)."""
    timeout = query_int64(query, "timeoutSeconds")
    limit = query_int64(query, "limit") or 0
    labels = parse_label_selector(query.get("labelSelector"))
    fields = parse_field_selector(query.get("fieldSelector"), None, kind)
    watch = query_bool(query, "watch")
    rv, match, cont = query.get("resourceVersion", ""), query.get("resourceVersionMatch", ""), query.get("continue", "")
    initial = query_bool(query, "sendInitialEvents") if "sendInitialEvents" in query else None
    errs: list[FieldError] = []
    if watch:
        if match:
            if initial is None:
                errs.append(forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"))
            if match != "NotOlderThan":
                errs.append(not_supported("resourceVersionMatch", match, ["NotOlderThan"]))
            if cont:
                errs.append(forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden when continue is provided"))
    else:
        if match:
            if not rv:
                errs.append(forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden unless resourceVersion is provided"))
            if cont:
                errs.append(forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden when continue is provided"))
            if match not in ("Exact", "NotOlderThan"):
                errs.append(not_supported("resourceVersionMatch", match, ["Exact", "NotOlderThan", ""]))
            if match == "Exact" and rv == "0":
                errs.append(forbidden("resourceVersionMatch", 'resourceVersionMatch "exact" is forbidden for resourceVersion "0"'))
        if initial is not None:
            errs.append(forbidden("sendInitialEvents", "sendInitialEvents is forbidden for list"))
    if errs:
        raise _invalid(errs)
    fields.check_supported(supported_fields)  # the field label conversion (handlers/get.go): 400
    if cont and rv not in ("", "0"):
        raise errors.bad_request("specifying resource version is not allowed when using continue")
    parse_resource_version(rv)
    # the store reads limit+1 keys to learn whether more remain, and etcd's limit is an int64
    return ListOptions(labels, fields, watch, query_bool(query, "allowWatchBookmarks"), rv, match, timeout,
                       min(limit, MAX_INT64 - 1), cont, initial)
