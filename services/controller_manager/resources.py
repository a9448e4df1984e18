"""Where the kinds the controllers manage live in the REST tree.

shared/client.py names the kinds every component needs; the workload kinds below are the
controller-manager's own business, so they are declared here rather than in shared/.
"""
from __future__ import annotations

from kubeling.shared.client import (
                                    ENDPOINTS,
                                    ENDPOINTSLICES,
                                    EVENTS,
                                    LEASES,
                                    NAMESPACES,
                                    NODES,
                                    PODS,
                                    SERVICES,
                                    Resource,
)

REPLICASETS = Resource("apps/v1", "replicasets", True, "ReplicaSet")
DEPLOYMENTS = Resource("apps/v1", "deployments", True, "Deployment")
DAEMONSETS = Resource("apps/v1", "daemonsets", True, "DaemonSet")
STATEFULSETS = Resource("apps/v1", "statefulsets", True, "StatefulSet")
REPLICATIONCONTROLLERS = Resource("v1", "replicationcontrollers", True, "ReplicationController")
SERVICEACCOUNTS = Resource("v1", "serviceaccounts", True, "ServiceAccount")
RESOURCEQUOTAS = Resource("v1", "resourcequotas", True, "ResourceQuota")
CONFIGMAPS = Resource("v1", "configmaps", True, "ConfigMap")
SECRETS = Resource("v1", "secrets", True, "Secret")
JOBS = Resource("batch/v1", "jobs", True, "Job")
CRONJOBS = Resource("batch/v1", "cronjobs", True, "CronJob")

# (apiVersion, kind) -> Resource, for following ownerReferences.
BY_KIND: dict[tuple[str, str], Resource] = {
    (r.group_version, r.kind): r
    for r in (PODS, NODES, SERVICES, ENDPOINTS, ENDPOINTSLICES, EVENTS, LEASES, NAMESPACES, REPLICASETS,
              DEPLOYMENTS, DAEMONSETS, STATEFULSETS, REPLICATIONCONTROLLERS, SERVICEACCOUNTS, RESOURCEQUOTAS,
              CONFIGMAPS, SECRETS, JOBS, CRONJOBS)
}

__all__ = ["BY_KIND", "CONFIGMAPS", "CRONJOBS", "DAEMONSETS", "DEPLOYMENTS", "ENDPOINTS", "ENDPOINTSLICES", "EVENTS",
           "JOBS", "LEASES", "NAMESPACES", "NODES", "PODS", "REPLICASETS", "REPLICATIONCONTROLLERS", "RESOURCEQUOTAS",
           "SECRETS", "SERVICEACCOUNTS", "SERVICES", "STATEFULSETS"]
