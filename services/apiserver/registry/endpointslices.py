"""discovery.k8s.io/v1 EndpointSlices."""
from __future__ import annotations

from typing import Any

from ..api.models import discovery
from ..validation.field import FieldError, not_supported, required
from .strategy import Strategy


class EndpointSliceStrategy(Strategy):
    group, kind, resource, singular = "discovery.k8s.io", "EndpointSlice", "endpointslices", "endpointslice"
    schema = discovery.EndpointSlice

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        errs = super().validate(obj)
        at = obj.get("addressType")
        if not at:
            errs.append(required("addressType"))
        elif at not in ("IPv4", "IPv6", "FQDN"):
            errs.append(not_supported("addressType", at, ["FQDN", "IPv4", "IPv6"]))
        return errs
