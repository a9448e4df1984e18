"""apps/v1, batch/v1 and the smaller groups' kinds."""
from ..schema import A, B, I, IS, M, O, OPEN, S, TIME
from .core import ObjectReference, PodTemplateSpec
from .meta import Condition, LabelSelector, ObjectMeta, toplevel

RollingUpdate = O(None, {"maxUnavailable": IS(), "maxSurge": IS()})

Deployment = toplevel("io.k8s.api.apps.v1.Deployment", "Deployment enables declarative updates for Pods and ReplicaSets.",
                      spec=O("io.k8s.api.apps.v1.DeploymentSpec", {
                          "replicas": I("Number of desired pods. Defaults to 1."),
                          "selector": LabelSelector, "template": PodTemplateSpec,
                          "strategy": O("io.k8s.api.apps.v1.DeploymentStrategy", {"type": S(), "rollingUpdate": RollingUpdate}),
                          "minReadySeconds": I(), "revisionHistoryLimit": I(), "paused": B(), "progressDeadlineSeconds": I(),
                      }, "DeploymentSpec is the specification of the desired behavior of the Deployment.", required=("selector", "template")),
                      status=O("io.k8s.api.apps.v1.DeploymentStatus", {
                          "observedGeneration": I(), "replicas": I(), "updatedReplicas": I(), "readyReplicas": I(),
                          "availableReplicas": I(), "unavailableReplicas": I(), "terminatingReplicas": I(),
                          "conditions": A(Condition, merge_key="type"), "collisionCount": I()}))

ReplicaSet = toplevel("io.k8s.api.apps.v1.ReplicaSet", "ReplicaSet ensures that a specified number of pod replicas are running at any given time.",
                      spec=O("io.k8s.api.apps.v1.ReplicaSetSpec", {
                          "replicas": I(), "minReadySeconds": I(), "selector": LabelSelector, "template": PodTemplateSpec,
                      }, required=("selector",)),
                      status=O("io.k8s.api.apps.v1.ReplicaSetStatus", {
                          "replicas": I(), "fullyLabeledReplicas": I(), "readyReplicas": I(), "availableReplicas": I(),
                          "terminatingReplicas": I(), "observedGeneration": I(), "conditions": A(Condition, merge_key="type")}))

DaemonSet = toplevel("io.k8s.api.apps.v1.DaemonSet", "DaemonSet represents the configuration of a daemon set.",
                     spec=O("io.k8s.api.apps.v1.DaemonSetSpec", {
                         "selector": LabelSelector, "template": PodTemplateSpec,
                         "updateStrategy": O(None, {"type": S(), "rollingUpdate": RollingUpdate}),
                         "minReadySeconds": I(), "revisionHistoryLimit": I()}, required=("selector", "template")),
                     status=O("io.k8s.api.apps.v1.DaemonSetStatus", {
                         "currentNumberScheduled": I(), "numberMisscheduled": I(), "desiredNumberScheduled": I(),
                         "numberReady": I(), "observedGeneration": I(), "updatedNumberScheduled": I(),
                         "numberAvailable": I(), "numberUnavailable": I(), "collisionCount": I(),
                         "conditions": A(Condition, merge_key="type")}))

StatefulSet = toplevel("io.k8s.api.apps.v1.StatefulSet", "StatefulSet represents a set of pods with consistent identities.",
                       spec=O("io.k8s.api.apps.v1.StatefulSetSpec", {
                           "replicas": I(), "selector": LabelSelector, "template": PodTemplateSpec,
                           "volumeClaimTemplates": A(OPEN("io.k8s.api.core.v1.PersistentVolumeClaim")),
                           "serviceName": S(), "podManagementPolicy": S(),
                           "updateStrategy": O(None, {"type": S(), "rollingUpdate": O(None, {"partition": I(), "maxUnavailable": IS()})}),
                           "revisionHistoryLimit": I(), "minReadySeconds": I(),
                           "persistentVolumeClaimRetentionPolicy": OPEN(), "ordinals": OPEN()}, required=("selector", "template")),
                       status=O("io.k8s.api.apps.v1.StatefulSetStatus", {
                           "observedGeneration": I(), "replicas": I(), "readyReplicas": I(), "currentReplicas": I(),
                           "updatedReplicas": I(), "currentRevision": S(), "updateRevision": S(), "collisionCount": I(),
                           "conditions": A(Condition, merge_key="type"), "availableReplicas": I()}))

JobSpec = O("io.k8s.api.batch.v1.JobSpec", {
    "parallelism": I(), "completions": I(), "activeDeadlineSeconds": I(), "podFailurePolicy": OPEN(),
    "successPolicy": OPEN(), "backoffLimit": I(), "backoffLimitPerIndex": I(), "maxFailedIndexes": I(),
    "selector": LabelSelector, "manualSelector": B(), "template": PodTemplateSpec, "ttlSecondsAfterFinished": I(),
    "completionMode": S(), "suspend": B(), "podReplacementPolicy": S(), "managedBy": S(),
}, "JobSpec describes how the job execution will look like.", required=("template",))
Job = toplevel("io.k8s.api.batch.v1.Job", "Job represents the configuration of a single job.", spec=JobSpec,
               status=O("io.k8s.api.batch.v1.JobStatus", {
                   "conditions": A(Condition), "startTime": TIME(), "completionTime": TIME(), "active": I(),
                   "succeeded": I(), "failed": I(), "terminating": I(), "completedIndexes": S(), "failedIndexes": S(),
                   "uncountedTerminatedPods": OPEN(), "ready": I()}))
CronJob = toplevel("io.k8s.api.batch.v1.CronJob", "CronJob represents the configuration of a single cron job.",
                   spec=O("io.k8s.api.batch.v1.CronJobSpec", {
                       "schedule": S("The schedule in Cron format."), "timeZone": S(), "startingDeadlineSeconds": I(),
                       "concurrencyPolicy": S(), "suspend": B(),
                       "jobTemplate": O("io.k8s.api.batch.v1.JobTemplateSpec", {"metadata": ObjectMeta, "spec": JobSpec}),
                       "successfulJobsHistoryLimit": I(), "failedJobsHistoryLimit": I()}, required=("schedule", "jobTemplate")),
                   status=O("io.k8s.api.batch.v1.CronJobStatus", {
                       "active": A(ObjectReference), "lastScheduleTime": TIME(), "lastSuccessfulTime": TIME()}))

Lease = toplevel("io.k8s.api.coordination.v1.Lease", "Lease defines a lease concept.",
                 spec=O("io.k8s.api.coordination.v1.LeaseSpec", {
                     "holderIdentity": S(), "leaseDurationSeconds": I(), "acquireTime": TIME(), "renewTime": TIME(),
                     "leaseTransitions": I(), "strategy": S(), "preferredHolder": S()}))

PolicyRule = O("io.k8s.api.rbac.v1.PolicyRule", {
    "verbs": A(S()), "apiGroups": A(S()), "resources": A(S()), "resourceNames": A(S()), "nonResourceURLs": A(S())},
    required=("verbs",))
Subject = O("io.k8s.api.rbac.v1.Subject", {"kind": S(), "apiGroup": S(), "name": S(), "namespace": S()}, required=("kind", "name"))
RoleRef = O("io.k8s.api.rbac.v1.RoleRef", {"apiGroup": S(), "kind": S(), "name": S()}, required=("apiGroup", "kind", "name"))
Role = toplevel("io.k8s.api.rbac.v1.Role", "Role is a namespaced, logical grouping of PolicyRules.", rules=A(PolicyRule))
ClusterRole = toplevel("io.k8s.api.rbac.v1.ClusterRole", "ClusterRole is a cluster level, logical grouping of PolicyRules.",
                       rules=A(PolicyRule), aggregationRule=O(None, {"clusterRoleSelectors": A(LabelSelector)}))
RoleBinding = toplevel("io.k8s.api.rbac.v1.RoleBinding", "RoleBinding references a role, but does not contain it.",
                       subjects=A(Subject), roleRef=RoleRef)
ClusterRoleBinding = toplevel("io.k8s.api.rbac.v1.ClusterRoleBinding", "ClusterRoleBinding references a ClusterRole.",
                              subjects=A(Subject), roleRef=RoleRef)

EndpointSlice = toplevel("io.k8s.api.discovery.v1.EndpointSlice", "EndpointSlice represents a subset of the endpoints that implement a service.",
                         addressType=S(),
                         endpoints=A(O("io.k8s.api.discovery.v1.Endpoint", {
                             "addresses": A(S(), list_type="set"),
                             "conditions": O(None, {"ready": B(), "serving": B(), "terminating": B()}),
                             "hostname": S(), "targetRef": ObjectReference, "deprecatedTopology": M(S()),
                             "nodeName": S(), "zone": S(), "hints": OPEN()})),
                         ports=A(O(None, {"name": S(), "protocol": S(), "port": I(), "appProtocol": S()})))
