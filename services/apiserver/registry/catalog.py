"""Every resource kubeling serves, in discovery order, built from the strategies."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..storage import EtcdClient
from .cronjobs import CronJobStrategy
from .daemonsets import DaemonSetStrategy
from .deployments import DeploymentStrategy
from .jobs import JobStrategy
from .namespaces import NamespaceStrategy
from .nodes import NodeStrategy
from .pods import PodStrategy
from .replicasets import ReplicaSetStrategy
from .replicationcontrollers import ReplicationControllerStrategy
from .resourcequotas import ResourceQuotaStrategy
from .services import ServiceStrategy
from .statefulsets import StatefulSetStrategy
from .clusterrolebindings import ClusterRoleBindingStrategy
from .clusterroles import ClusterRoleStrategy
from .configmaps import ConfigMapStrategy
from .endpoints import EndpointsStrategy
from .endpointslices import EndpointSliceStrategy
from .events import EventStrategy
from .leases import LeaseStrategy
from .rolebindings import RoleBindingStrategy
from .roles import RoleStrategy
from .secrets import SecretStrategy
from .selfsubjectaccessreviews import SelfSubjectAccessReviewStrategy
from .selfsubjectreviews import SelfSubjectReviewStrategy
from .selfsubjectrulesreviews import SelfSubjectRulesReviewStrategy
from .subjectaccessreviews import SubjectAccessReviewStrategy
from .tokenreviews import TokenReviewStrategy
from .serviceaccounts import ServiceAccountStrategy
from .store import Store
from .strategy import Strategy

if TYPE_CHECKING:
    from ..admission.chain import AdmissionChain


@dataclass
class Config:
    service_cluster_ip_range: str = "10.96.0.0/12"
    service_node_port_range: str = "30000-32767"


def strategies(config: Config) -> list[Strategy]:
    return [
        PodStrategy(), ServiceStrategy(config.service_cluster_ip_range, config.service_node_port_range),
        ReplicationControllerStrategy(), NamespaceStrategy(), NodeStrategy(), EventStrategy(), EndpointsStrategy(),
        ConfigMapStrategy(), SecretStrategy(), ServiceAccountStrategy(), ResourceQuotaStrategy(),
        DeploymentStrategy(), ReplicaSetStrategy(), DaemonSetStrategy(), StatefulSetStrategy(),
        JobStrategy(), CronJobStrategy(), LeaseStrategy(),
        RoleStrategy(), RoleBindingStrategy(), ClusterRoleStrategy(), ClusterRoleBindingStrategy(),
        EndpointSliceStrategy(), SelfSubjectAccessReviewStrategy(), SelfSubjectReviewStrategy(),
        SelfSubjectRulesReviewStrategy(), SubjectAccessReviewStrategy(), TokenReviewStrategy(),
    ]


class Registry:
    """Stores by (group, resource), plus lookups the router and discovery need."""

    def __init__(self, client: EtcdClient, config: Config,
                 admission: "Callable[[Registry], AdmissionChain] | None" = None) -> None:
        """`admission` builds the chain every store runs; it is given this registry, whose stores
        its plugins read at request time (namespaces, quotas), before the stores exist."""
        self.client = client
        self.config = config
        self.stores: dict[tuple[str, str], Store] = {}
        chain = admission(self) if admission is not None else None
        for s in strategies(config):
            self.stores[(s.group, s.resource)] = Store(client, s, chain)

    def get(self, group: str, version: str, resource: str) -> Store | None:
        st = self.stores.get((group, resource))
        if st is None or st.strategy.version != version:
            return None
        return st

    def by_kind(self, group: str, kind: str) -> Store | None:
        for st in self.stores.values():
            if st.strategy.group == group and st.strategy.kind == kind:
                return st
        return None

    def groups(self) -> dict[str, list[Strategy]]:
        out: dict[str, list[Strategy]] = {}
        for st in self.stores.values():
            out.setdefault(st.strategy.group, []).append(st.strategy)
        return out

    async def close(self) -> None:
        for st in self.stores.values():
            await st.cache.close()
