"""ServiceAccount admission: pods run as the namespace's `default` account unless told otherwise.

Upstream (plugin/pkg/admission/serviceaccount/admission.go) also rejects pods whose account does
not exist yet; kubeling's service-account controller lives in the controller-manager, so the
apiserver only defaults the name. The name it sets is validated afterwards with the rest of the
pod (a `spec.serviceAccount` that is no DNS subdomain is refused as `spec.serviceAccountName`).
"""
from __future__ import annotations

from .interfaces import Attributes, MutationInterface, Operation


class ServiceAccountAdmission(MutationInterface):
    operations = frozenset({Operation.CREATE})

    async def admit(self, a: Attributes) -> None:
        if a.strategy.resource != "pods" or a.strategy.group != "" or a.subresource or a.obj is None:
            return
        spec = a.obj.get("spec")
        if not isinstance(spec, dict):
            return
        name = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
        spec["serviceAccountName"] = name
        spec["serviceAccount"] = name
