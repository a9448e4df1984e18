"""etcd's client-visible errors: the gRPC code, its HTTP status through the JSON gateway, and the
exact messages etcd 3.4 returns (etcd's api/v3rpc/rpctypes/error.go, as its gateway answers them;
checked against a live etcd 3.4.23 by tests/conformance).

Clients such as the apiserver and etcdctl match on these strings and codes, so they are copied
verbatim from etcd's rpctypes rather than paraphrased.
"""
from __future__ import annotations

# gRPC status codes
OK, CANCELED, UNKNOWN, INVALID_ARGUMENT, DEADLINE_EXCEEDED, NOT_FOUND, ALREADY_EXISTS = 0, 1, 2, 3, 4, 5, 6
PERMISSION_DENIED, RESOURCE_EXHAUSTED, FAILED_PRECONDITION, ABORTED, OUT_OF_RANGE = 7, 8, 9, 10, 11
UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS, UNAUTHENTICATED = 12, 13, 14, 15, 16

# grpc-gateway v1's mapping from gRPC code to HTTP status (runtime.HTTPStatusFromCode).
HTTP_STATUS = {
    OK: 200, CANCELED: 408, UNKNOWN: 500, INVALID_ARGUMENT: 400, DEADLINE_EXCEEDED: 504, NOT_FOUND: 404,
    ALREADY_EXISTS: 409, PERMISSION_DENIED: 403, UNAUTHENTICATED: 401, RESOURCE_EXHAUSTED: 429,
    FAILED_PRECONDITION: 412, ABORTED: 409, OUT_OF_RANGE: 400, UNIMPLEMENTED: 501, INTERNAL: 500,
    UNAVAILABLE: 503, DATA_LOSS: 500,
}


class EtcdError(Exception):
    """An error answered to the client as `{"error", "message", "code"}`."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    @property
    def http_status(self) -> int:
        return HTTP_STATUS.get(self.code, 500)

    def body(self) -> dict:
        return {"error": self.message, "message": self.message, "code": self.code}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EtcdError) and (self.message, self.code) == (other.message, other.code)

    def __hash__(self) -> int:
        return hash((self.message, self.code))

    def __reduce__(self):  # travels through pysyncobj's pickled results
        return (EtcdError, (self.message, self.code))


def _e(msg: str, code: int) -> EtcdError:
    return EtcdError(msg, code)


EMPTY_KEY = _e("etcdserver: key is not provided", INVALID_ARGUMENT)
KEY_NOT_FOUND = _e("etcdserver: key not found", INVALID_ARGUMENT)
VALUE_PROVIDED = _e("etcdserver: value is provided", INVALID_ARGUMENT)
LEASE_PROVIDED = _e("etcdserver: lease is provided", INVALID_ARGUMENT)
TOO_MANY_OPS = _e("etcdserver: too many operations in txn request", INVALID_ARGUMENT)
DUPLICATE_KEY = _e("etcdserver: duplicate key given in txn request", INVALID_ARGUMENT)
INVALID_SORT_OPTION = _e("etcdserver: invalid sort option", INVALID_ARGUMENT)
REQUEST_TOO_LARGE = _e("etcdserver: request is too large", INVALID_ARGUMENT)
COMPACTED = _e("etcdserver: mvcc: required revision has been compacted", OUT_OF_RANGE)
FUTURE_REV = _e("etcdserver: mvcc: required revision is a future revision", OUT_OF_RANGE)
NO_SPACE = _e("etcdserver: mvcc: database space exceeded", RESOURCE_EXHAUSTED)
LEASE_NOT_FOUND = _e("etcdserver: requested lease not found", NOT_FOUND)
LEASE_EXISTS = _e("etcdserver: lease already exists", FAILED_PRECONDITION)
LEASE_TTL_TOO_LARGE = _e("etcdserver: too large lease TTL", OUT_OF_RANGE)
NO_LEADER = _e("etcdserver: no leader", UNAVAILABLE)
LEADER_CHANGED = _e("etcdserver: leader changed", UNAVAILABLE)
REQUEST_TIMEOUT = _e("etcdserver: request timed out", UNAVAILABLE)
# What etcd answers for a write that could not be committed before the request deadline
# (no quorum): the gateway's own context deadline, surfaced as gRPC Unknown / HTTP 500.
DEADLINE = _e("context deadline exceeded", UNKNOWN)
STOPPING = _e("etcdserver: server stopped", UNAVAILABLE)

# Watch cancel reasons (strings, carried in cancel_reason rather than as errors)
WATCH_EMPTY_RANGE = "mvcc: watcher range is empty"
WATCH_DUPLICATE_ID = "mvcc: duplicate watch ID provided on the WatchStream"


def bad_request(message: str) -> EtcdError:
    """A malformed request body, as the gateway reports it (400, InvalidArgument)."""
    return EtcdError(message, INVALID_ARGUMENT)
