"""core/v1 kinds."""
from ..schema import A, B, I, IS, M, O, OPEN, Q, S, TIME
from .meta import Condition, toplevel

ObjectReference = O("io.k8s.api.core.v1.ObjectReference", {
    "kind": S(), "namespace": S(), "name": S(), "uid": S(), "apiVersion": S(), "resourceVersion": S(), "fieldPath": S(),
}, "ObjectReference contains enough information to let you inspect or modify the referred object.")
LocalObjectReference = O("io.k8s.api.core.v1.LocalObjectReference", {"name": S("Name of the referent.")})

ContainerPort = O("io.k8s.api.core.v1.ContainerPort", {
    "name": S("If specified, this must be an IANA_SVC_NAME and unique within the pod."),
    "hostPort": I("Number of port to expose on the host."),
    "containerPort": I("Number of port to expose on the pod's IP address."),
    "protocol": S("Protocol for port. Must be UDP, TCP, or SCTP. Defaults to \"TCP\"."),
    "hostIP": S("What host IP to bind the external port to."),
}, "ContainerPort represents a network port in a single container.", required=("containerPort",))

EnvVar = O("io.k8s.api.core.v1.EnvVar", {
    "name": S("Name of the environment variable."), "value": S("Variable references $(VAR_NAME) are expanded."),
    "valueFrom": OPEN("io.k8s.api.core.v1.EnvVarSource", "Source for the environment variable's value."),
}, "EnvVar represents an environment variable present in a Container.", required=("name",))

ResourceRequirements = O("io.k8s.api.core.v1.ResourceRequirements", {
    "limits": M(Q(), "Limits describes the maximum amount of compute resources allowed."),
    "requests": M(Q(), "Requests describes the minimum amount of compute resources required."),
    "claims": A(OPEN(), merge_key=None, list_type="map"),
}, "ResourceRequirements describes the compute resource requirements.")

VolumeMount = O("io.k8s.api.core.v1.VolumeMount", {
    "name": S("This must match the Name of a Volume."), "readOnly": B(), "recursiveReadOnly": S(),
    "mountPath": S("Path within the container at which the volume should be mounted."),
    "subPath": S(), "mountPropagation": S(), "subPathExpr": S(),
}, "VolumeMount describes a mounting of a Volume within a container.", required=("name", "mountPath"))

HTTPGetAction = O("io.k8s.api.core.v1.HTTPGetAction", {
    "path": S(), "port": IS(), "host": S(), "scheme": S(), "httpHeaders": A(O(None, {"name": S(), "value": S()})),
})
Probe = O("io.k8s.api.core.v1.Probe", {
    "exec": O(None, {"command": A(S())}), "httpGet": HTTPGetAction,
    "tcpSocket": O(None, {"port": IS(), "host": S()}), "grpc": O(None, {"port": I(), "service": S()}),
    "initialDelaySeconds": I(), "timeoutSeconds": I(), "periodSeconds": I(), "successThreshold": I(),
    "failureThreshold": I(), "terminationGracePeriodSeconds": I(),
}, "Probe describes a health check to be performed against a container to determine whether it is alive or ready to receive traffic.")

Container = O("io.k8s.api.core.v1.Container", {
    "name": S("Name of the container specified as a DNS_LABEL."),
    "image": S("Container image name."),
    "command": A(S(), description="Entrypoint array. Not executed within a shell."),
    "args": A(S(), description="Arguments to the entrypoint."),
    "workingDir": S(),
    "ports": A(ContainerPort, merge_key="containerPort", description="List of ports to expose from the container."),
    "envFrom": A(OPEN("io.k8s.api.core.v1.EnvFromSource")),
    "env": A(EnvVar, merge_key="name", description="List of environment variables to set in the container."),
    "resources": ResourceRequirements,
    "resizePolicy": A(OPEN(), list_type="atomic"),
    "restartPolicy": S(),
    "volumeMounts": A(VolumeMount, merge_key="mountPath", description="Pod volumes to mount into the container's filesystem."),
    "volumeDevices": A(OPEN(), merge_key="devicePath"),
    "livenessProbe": Probe, "readinessProbe": Probe, "startupProbe": Probe,
    "lifecycle": OPEN("io.k8s.api.core.v1.Lifecycle"),
    "terminationMessagePath": S(), "terminationMessagePolicy": S(),
    "imagePullPolicy": S("Image pull policy. One of Always, Never, IfNotPresent."),
    "securityContext": OPEN("io.k8s.api.core.v1.SecurityContext"),
    "stdin": B(), "stdinOnce": B(), "tty": B(),
}, "A single application container that you want to run within a pod.", required=("name",))

Toleration = O("io.k8s.api.core.v1.Toleration", {
    "key": S(), "operator": S(), "value": S(), "effect": S(), "tolerationSeconds": I(),
}, "The pod this Toleration is attached to tolerates any taint that matches the triple <key,value,effect>.")

_VOLUME_SOURCES = ["hostPath", "emptyDir", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "secret", "nfs",
                   "iscsi", "glusterfs", "persistentVolumeClaim", "rbd", "flexVolume", "cinder", "cephfs", "flocker",
                   "downwardAPI", "fc", "azureFile", "configMap", "vsphereVolume", "quobyte", "azureDisk",
                   "photonPersistentDisk", "projected", "portworxVolume", "scaleIO", "storageos", "csi", "ephemeral", "image"]
Volume = O("io.k8s.api.core.v1.Volume", {"name": S("Volume's name. Must be a DNS_LABEL and unique within the pod."),
                                         **{k: OPEN() for k in _VOLUME_SOURCES}},
           "Volume represents a named volume in a pod that may be accessed by any container in the pod.", required=("name",))

PodSpec = O("io.k8s.api.core.v1.PodSpec", {
    "volumes": A(Volume, merge_key="name", strategy="merge,retainKeys", description="List of volumes that can be mounted by containers belonging to the pod."),
    "initContainers": A(Container, merge_key="name", description="List of initialization containers belonging to the pod."),
    "containers": A(Container, merge_key="name", description="List of containers belonging to the pod."),
    "ephemeralContainers": A(OPEN("io.k8s.api.core.v1.EphemeralContainer"), merge_key="name"),
    "restartPolicy": S("Restart policy for all containers within the pod. One of Always, OnFailure, Never."),
    "terminationGracePeriodSeconds": I("Optional duration in seconds the pod needs to terminate gracefully."),
    "activeDeadlineSeconds": I(),
    "dnsPolicy": S("Set DNS policy for the pod. Defaults to \"ClusterFirst\"."),
    "nodeSelector": M(S(), "NodeSelector is a selector which must be true for the pod to fit on a node."),
    "serviceAccountName": S("ServiceAccountName is the name of the ServiceAccount to use to run this pod."),
    "serviceAccount": S("DeprecatedServiceAccount is a deprecated alias for ServiceAccountName."),
    "automountServiceAccountToken": B(),
    "nodeName": S("NodeName indicates in which node this pod is scheduled."),
    "hostNetwork": B(), "hostPID": B(), "hostIPC": B(), "shareProcessNamespace": B(),
    "securityContext": OPEN("io.k8s.api.core.v1.PodSecurityContext"),
    "imagePullSecrets": A(LocalObjectReference, merge_key="name"),
    "hostname": S(), "subdomain": S(),
    "affinity": OPEN("io.k8s.api.core.v1.Affinity", "If specified, the pod's scheduling constraints"),
    "schedulerName": S(),
    "tolerations": A(Toleration, description="If specified, the pod's tolerations."),
    "hostAliases": A(O(None, {"ip": S(), "hostnames": A(S())}), merge_key="ip"),
    "priorityClassName": S(), "priority": I(),
    "dnsConfig": OPEN("io.k8s.api.core.v1.PodDNSConfig"),
    "readinessGates": A(O(None, {"conditionType": S()})),
    "runtimeClassName": S(), "enableServiceLinks": B(), "preemptionPolicy": S(),
    "overhead": M(Q()),
    "topologySpreadConstraints": A(OPEN("io.k8s.api.core.v1.TopologySpreadConstraint"), merge_key="topologyKey"),
    "setHostnameAsFQDN": B(), "os": O(None, {"name": S()}), "hostUsers": B(),
    "schedulingGates": A(O(None, {"name": S()}), merge_key="name"),
    "resourceClaims": A(OPEN(), merge_key="name", strategy="merge,retainKeys"),
    "resources": ResourceRequirements,
}, "PodSpec is a description of a pod.", required=("containers",))

PodStatus = O("io.k8s.api.core.v1.PodStatus", {
    "observedGeneration": I(),
    "phase": S("The phase of a Pod: Pending, Running, Succeeded, Failed or Unknown."),
    "conditions": A(Condition, merge_key="type"), "message": S(), "reason": S(), "nominatedNodeName": S(),
    "hostIP": S(), "hostIPs": A(O(None, {"ip": S()})), "podIP": S(), "podIPs": A(O(None, {"ip": S()}), merge_key="ip"),
    "startTime": TIME(), "initContainerStatuses": A(OPEN()), "containerStatuses": A(OPEN()),
    "qosClass": S(), "ephemeralContainerStatuses": A(OPEN()), "resize": S(), "resourceClaimStatuses": A(OPEN()),
}, "PodStatus represents information about the status of a pod.")

Pod = toplevel("io.k8s.api.core.v1.Pod",
               "Pod is a collection of containers that can run on a host. This resource is created by clients and scheduled onto hosts.",
               spec=PodSpec, status=PodStatus)

PodTemplateSpec = O("io.k8s.api.core.v1.PodTemplateSpec", {
    "metadata": Pod.props["metadata"], "spec": PodSpec,
}, "PodTemplateSpec describes the data a pod should have when created from a template")

Namespace = toplevel("io.k8s.api.core.v1.Namespace", "Namespace provides a scope for Names. Use of multiple namespaces is optional.",
                     spec=O("io.k8s.api.core.v1.NamespaceSpec", {"finalizers": A(S(), list_type="atomic")}),
                     status=O("io.k8s.api.core.v1.NamespaceStatus", {"phase": S(), "conditions": A(Condition, merge_key="type")}))

ServicePort = O("io.k8s.api.core.v1.ServicePort", {
    "name": S("The name of this port within the service."), "protocol": S("The IP protocol for this port. Supports \"TCP\", \"UDP\", and \"SCTP\"."),
    "appProtocol": S(), "port": I("The port that will be exposed by this service."),
    "targetPort": IS("Number or name of the port to access on the pods targeted by the service."),
    "nodePort": I("The port on each node on which this service is exposed when type is NodePort or LoadBalancer."),
}, "ServicePort contains information on service's port.", required=("port",))

Service = toplevel("io.k8s.api.core.v1.Service",
                   "Service is a named abstraction of software service (for example, mysql) consisting of local port that the proxy listens on, and the selector that determines which pods will answer requests sent through the proxy.",
                   spec=O("io.k8s.api.core.v1.ServiceSpec", {
                       "ports": A(ServicePort, merge_key="port", description="The list of ports that are exposed by this service."),
                       "selector": M(S(), "Route service traffic to pods with label keys and values matching this selector."),
                       "clusterIP": S(), "clusterIPs": A(S(), list_type="atomic"),
                       "type": S("type determines how the Service is exposed: ExternalName, ClusterIP, NodePort, and LoadBalancer."),
                       "externalIPs": A(S()), "sessionAffinity": S(), "loadBalancerIP": S(),
                       "loadBalancerSourceRanges": A(S()), "externalName": S(), "externalTrafficPolicy": S(),
                       "healthCheckNodePort": I(), "publishNotReadyAddresses": B(),
                       "sessionAffinityConfig": OPEN(), "ipFamilies": A(S(), list_type="atomic"), "ipFamilyPolicy": S(),
                       "allocateLoadBalancerNodePorts": B(), "loadBalancerClass": S(), "internalTrafficPolicy": S(),
                       "trafficDistribution": S(),
                   }, "ServiceSpec describes the attributes that a user creates on a service."),
                   status=O("io.k8s.api.core.v1.ServiceStatus", {
                       "loadBalancer": O(None, {"ingress": A(O(None, {"ip": S(), "hostname": S(), "ipMode": S(), "ports": A(OPEN())}))}),
                       "conditions": A(Condition, merge_key="type")}))

EndpointAddress = O("io.k8s.api.core.v1.EndpointAddress", {"ip": S(), "hostname": S(), "nodeName": S(), "targetRef": ObjectReference})
Endpoints = toplevel("io.k8s.api.core.v1.Endpoints", "Endpoints is a collection of endpoints that implement the actual service.",
                     subsets=A(O("io.k8s.api.core.v1.EndpointSubset", {
                         "addresses": A(EndpointAddress), "notReadyAddresses": A(EndpointAddress),
                         "ports": A(O(None, {"name": S(), "port": I(), "protocol": S(), "appProtocol": S()}))})))

Taint = O("io.k8s.api.core.v1.Taint", {"key": S(), "value": S(), "effect": S(), "timeAdded": TIME()}, required=("key", "effect"))
Node = toplevel("io.k8s.api.core.v1.Node", "Node is a worker node in Kubernetes.",
                spec=O("io.k8s.api.core.v1.NodeSpec", {
                    "podCIDR": S(), "podCIDRs": A(S(), strategy="merge", list_type="set"), "providerID": S(),
                    "unschedulable": B(), "taints": A(Taint), "configSource": OPEN(), "externalID": S()}),
                status=O("io.k8s.api.core.v1.NodeStatus", {
                    "capacity": M(Q()), "allocatable": M(Q()), "phase": S(),
                    "conditions": A(Condition, merge_key="type"),
                    "addresses": A(O(None, {"type": S(), "address": S()}), merge_key="type"),
                    "daemonEndpoints": OPEN(), "nodeInfo": OPEN(), "images": A(OPEN()), "volumesInUse": A(S()),
                    "volumesAttached": A(OPEN()), "config": OPEN(), "runtimeHandlers": A(OPEN()), "features": OPEN()}))

Event = toplevel("io.k8s.api.core.v1.Event", "Event is a report of an event somewhere in the cluster.",
                 involvedObject=ObjectReference, reason=S(), message=S(),
                 source=O("io.k8s.api.core.v1.EventSource", {"component": S(), "host": S()}),
                 firstTimestamp=TIME(), lastTimestamp=TIME(), count=I(), type=S(), eventTime=TIME(),
                 series=O(None, {"count": I(), "lastObservedTime": TIME()}), action=S(), related=ObjectReference,
                 reportingComponent=S(), reportingInstance=S())

ConfigMap = toplevel("io.k8s.api.core.v1.ConfigMap", "ConfigMap holds configuration data for pods to consume.",
                     data=M(S()), binaryData=M(S()), immutable=B())
Secret = toplevel("io.k8s.api.core.v1.Secret", "Secret holds secret data of a certain type.",
                  data=M(S()), stringData=M(S()), type=S(), immutable=B())
ServiceAccount = toplevel("io.k8s.api.core.v1.ServiceAccount",
                          "ServiceAccount binds together: a name, understood by users, and perhaps by peripheral systems, for an identity; a principal that can be authenticated and authorized; a set of secrets",
                          secrets=A(ObjectReference, merge_key="name"), imagePullSecrets=A(LocalObjectReference),
                          automountServiceAccountToken=B())
ResourceQuota = toplevel("io.k8s.api.core.v1.ResourceQuota", "ResourceQuota sets aggregate quota restrictions enforced per namespace",
                         spec=O("io.k8s.api.core.v1.ResourceQuotaSpec", {"hard": M(Q()), "scopes": A(S()), "scopeSelector": OPEN()}),
                         status=O("io.k8s.api.core.v1.ResourceQuotaStatus", {"hard": M(Q()), "used": M(Q())}))
ReplicationController = toplevel(
    "io.k8s.api.core.v1.ReplicationController", "ReplicationController represents the configuration of a replication controller.",
    spec=O("io.k8s.api.core.v1.ReplicationControllerSpec", {
        "replicas": I("Replicas is the number of desired replicas."), "minReadySeconds": I(),
        "selector": M(S(), "Selector is a label query over pods that should match the Replicas count."),
        "template": PodTemplateSpec}),
    status=O("io.k8s.api.core.v1.ReplicationControllerStatus", {
        "replicas": I(), "fullyLabeledReplicas": I(), "readyReplicas": I(), "availableReplicas": I(),
        "observedGeneration": I(), "conditions": A(Condition, merge_key="type")}))

Binding = toplevel("io.k8s.api.core.v1.Binding", "Binding ties one object to another; for example, a pod is bound to a node by a scheduler.",
                   target=ObjectReference)
DeleteOptions = O("io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions", {
    "apiVersion": S(), "kind": S(), "gracePeriodSeconds": I(), "preconditions": O(None, {"uid": S(), "resourceVersion": S()}),
    "orphanDependents": B(), "propagationPolicy": S(), "dryRun": A(S()), "ignoreStoreReadErrorWithClusterBreakingPotential": B()})
Eviction = toplevel("io.k8s.api.policy.v1.Eviction", "Eviction evicts a pod from its node subject to certain policies and safety constraints.",
                    deleteOptions=DeleteOptions)
Scale = toplevel("io.k8s.api.autoscaling.v1.Scale", "Scale represents a scaling request for a resource.",
                 spec=O(None, {"replicas": I()}), status=O(None, {"replicas": I(), "selector": S()}))
