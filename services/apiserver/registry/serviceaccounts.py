"""ServiceAccounts, and their `token` subresource (TokenRequest, `kubectl create token <sa>`).

A TokenRequest returns a bound, expiring JWT signed with --service-account-signing-key-file;
nothing is stored. The subresource exists only when the apiserver has a signing key, as upstream.
"""
from __future__ import annotations

import datetime as _dt
from typing import Any

from ..api import errors
from ..api.models import core
from ..api.models.meta import toplevel
from ..api.schema import A, I, O, S
from .objects import rfc3339
from .strategy import Strategy

TokenRequest = toplevel(
    "io.k8s.api.authentication.v1.TokenRequest", "TokenRequest requests a token for a given service account.",
    spec=O(None, {"audiences": A(S()), "expirationSeconds": I(),
                  "boundObjectRef": O(None, {"kind": S(), "apiVersion": S(), "name": S(), "uid": S()})}),
    status=O(None, {"token": S(), "expirationTimestamp": S()}))

MAX_SECONDS = 1 << 32


def _invalid(name: str, field: str, value: Any, why: str) -> errors.StatusError:
    return errors.StatusError(422, "Invalid", f'TokenRequest.authentication.k8s.io "{name}" is invalid: {field}: {why}',
                              {"name": name, "group": "authentication.k8s.io", "kind": "TokenRequest",
                               "causes": [{"reason": "FieldValueInvalid", "message": why, "field": field}]})


class ServiceAccountStrategy(Strategy):
    kind, resource, singular = "ServiceAccount", "serviceaccounts", "serviceaccount"
    short_names = ("sa",)
    schema = core.ServiceAccount
    extra_subresources = (("token", "authentication.k8s.io", "v1", "TokenRequest", ("create",)),)
    issuer: Any = None  # auth.serviceaccount.Issuer, set when --service-account-signing-key-file is given

    async def create_subresource(self, registry: Any, rp: Any, body: Any, user: Any) -> dict[str, Any]:
        """POST serviceaccounts/<name>/token: a TokenRequest answered with a signed token."""
        if rp.subresource != "token":
            raise errors.method_not_allowed()
        if self.issuer is None:
            raise errors.StatusError(404, "NotFound", "the server could not find the requested resource "
                                                      "(the apiserver has no --service-account-signing-key-file)")
        from ..api.schema import check
        if not isinstance(body, dict):
            raise errors.bad_request("TokenRequest in version \"v1\" cannot be handled as a TokenRequest: expected an object")
        _, type_errs = check(body, TokenRequest)
        if type_errs:
            raise errors.bad_request(f'TokenRequest in version "v1" cannot be handled as a TokenRequest: {type_errs[0]}')
        sa = await registry.get("", "v1", "serviceaccounts").get(rp.namespace, rp.name)
        spec = dict(body.get("spec") or {})
        exp = spec.get("expirationSeconds")
        exp = 3600 if exp is None else exp
        if exp < 600:
            raise _invalid(rp.name, "spec.expirationSeconds", exp, f"Invalid value: {exp}: may not specify a duration less than 10 minutes")
        if exp > MAX_SECONDS:
            raise _invalid(rp.name, "spec.expirationSeconds", exp, f"Invalid value: {exp}: may not specify a duration larger than 2^32 seconds")
        bound = spec.get("boundObjectRef")
        if bound:
            if bound.get("kind") != "Pod":
                raise _invalid(rp.name, "spec.boundObjectRef.kind", bound.get("kind"),
                               f'Unsupported value: "{bound.get("kind")}": supported values: "Pod"')
            pod = await registry.get("", "v1", "pods").get(rp.namespace, bound.get("name") or "")
            uid = pod["metadata"].get("uid")
            if bound.get("uid") and bound["uid"] != uid:
                raise errors.conflict("pods", bound.get("name", ""), "", f"the UID in the bound object reference ({bound['uid']}) does not match the UID in record ({uid})")
            bound = {**bound, "uid": uid}
            spec["boundObjectRef"] = bound
        audiences = list(spec.get("audiences") or self.issuer.audiences)
        token, expiry = self.issuer.issue(rp.namespace, sa, audiences, int(exp), bound)
        spec.update({"audiences": audiences, "expirationSeconds": int(exp)})
        return {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
                "metadata": {"name": rp.name, "namespace": rp.namespace, "creationTimestamp": rfc3339()},
                "spec": spec,
                "status": {"token": token, "expirationTimestamp": rfc3339(_dt.datetime.fromtimestamp(expiry, _dt.timezone.utc))}}
