"""apps/v1 kinds."""
from ..schema import A, B, I, IS, O, OPEN, S
from .core import PodTemplateSpec
from .meta import Condition, LabelSelector, toplevel

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
