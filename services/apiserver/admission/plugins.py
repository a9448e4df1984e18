"""The admission plugins kubeling runs, in kube-apiserver's order
(pkg/kubeapiserver/options/plugins.go AllOrderedPlugins): NamespaceLifecycle, ServiceAccount,
NodeRestriction (only with --enable-admission-plugins=NodeRestriction, as upstream),
DefaultTolerationSeconds, then the validating steps: RBAC escalation prevention and ResourceQuota,
which upstream always runs last."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from .chain import AdmissionChain
from .interfaces import Interface
from .namespace_lifecycle import NamespaceLifecycle
from .noderestriction import NodeRestriction
from .rbac_escalation import RBACEscalation
from .resource_quota import ResourceQuotaAdmission
from .service_account import ServiceAccountAdmission
from .tolerations import DefaultTolerationSeconds

if TYPE_CHECKING:
    from ..auth.authz import Authorizer
    from ..registry.catalog import Registry


def default_chain(registry: "Registry", authorizer: Callable[[], "Authorizer"], enabled: Sequence[str] = ()) -> AdmissionChain:
    """The default plugins plus the optional ones named in `enabled`. Plugins keep `registry`
    to read other kinds at request time (its stores are built with this chain)."""
    plugins: list[Interface] = [NamespaceLifecycle(registry), ServiceAccountAdmission()]
    if "NodeRestriction" in enabled:
        plugins.append(NodeRestriction())
    plugins += [DefaultTolerationSeconds(), RBACEscalation(authorizer), ResourceQuotaAdmission(registry)]
    return AdmissionChain(plugins)
