"""Kubernetes `Status` errors. Every failure the apiserver returns is one of these."""
from __future__ import annotations

from typing import Any


class StatusError(Exception):
    """An API error rendered as a meta/v1 Status with the same HTTP code."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                "message": self.message, "reason": self.reason, "code": self.code}
        if self.details:
            body["details"] = self.details
        return body


def qualified(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def not_found(resource: str, name: str, group: str = "") -> StatusError:
    return StatusError(404, "NotFound", f'{qualified(resource, group)} "{name}" not found',
                       {"name": name, "group": group, "kind": resource} if group else {"name": name, "kind": resource})


def already_exists(resource: str, name: str, group: str = "") -> StatusError:
    d = {"name": name, "kind": resource}
    if group:
        d["group"] = group
    return StatusError(409, "AlreadyExists", f'{qualified(resource, group)} "{name}" already exists', d)


def conflict(resource: str, name: str, group: str = "", why: str = "the object has been modified; please apply your changes to the latest version and try again") -> StatusError:
    d = {"name": name, "kind": resource}
    if group:
        d["group"] = group
    return StatusError(409, "Conflict", f'Operation cannot be fulfilled on {qualified(resource, group)} "{name}": {why}', d)


def bad_request(message: str) -> StatusError:
    return StatusError(400, "BadRequest", message)


def forbidden(resource: str, name: str, why: str, group: str = "") -> StatusError:
    d = {"name": name, "kind": resource}
    if group:
        d["group"] = group
    return StatusError(403, "Forbidden", f'{qualified(resource, group)} "{name}" is forbidden: {why}', d)


def method_not_allowed(message: str = "the server does not allow this method on the requested resource") -> StatusError:
    return StatusError(405, "MethodNotAllowed", message)


def unsupported_media_type(content_type: str) -> StatusError:
    return StatusError(415, "UnsupportedMediaType", f'the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got "{content_type}")')


def not_acceptable(accept: str) -> StatusError:
    return StatusError(406, "NotAcceptable", f'only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf (got "{accept}")')


def gone(message: str) -> StatusError:
    return StatusError(410, "Expired", message)


def too_large(message: str = "Request entity too large: limit is 3145728") -> StatusError:
    return StatusError(413, "RequestEntityTooLarge", message)


def internal(message: str) -> StatusError:
    return StatusError(500, "InternalError", f"Internal error occurred: {message}")


def unavailable(message: str) -> StatusError:
    return StatusError(503, "ServiceUnavailable", message)


def route_not_found() -> StatusError:
    return StatusError(404, "NotFound", "the server could not find the requested resource", {})


def timeout(message: str) -> StatusError:
    return StatusError(504, "Timeout", message)


def patch_rejected() -> StatusError:
    """A JSON patch that does not apply: upstream answers NewGenericServerResponse(422, ...), whose
    message is the generic one (staging/src/k8s.io/apiserver/pkg/endpoints/handlers/patch.go
    applyJSPatch; k8s.io/apimachinery/pkg/api/errors NewGenericServerResponse)."""
    return StatusError(422, "Invalid", "the server rejected our request due to an error in our request")


def invalid_patch(message: str) -> StatusError:
    """A strategic merge patch that does not apply (422 with mergepatch's text)."""
    return StatusError(422, "Invalid", message)
