"""Table columns and rows per kind, matching upstream's `pkg/printers/internalversion` columns.

kubectl prints cells verbatim, so AGE and the status strings are computed here.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..registry.objects import meta
from .duration import age, human_duration

Row = Callable[[dict[str, Any]], list[Any]]
_COLUMNS: dict[str, list[tuple[str, str, int, str]]] = {}
_ROWS: dict[str, Row] = {}

_DESCRIPTIONS = {
    "Name": "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
    "Age": "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
}


def printer(kind: str, cols: list[tuple[str, str, int] | tuple[str, str, int, str]]) -> Callable[[Row], Row]:
    def deco(fn: Row) -> Row:
        _COLUMNS[kind] = [(c[0], c[1], c[2], c[3] if len(c) > 3 else _DESCRIPTIONS.get(c[0], c[0])) for c in cols]
        _ROWS[kind] = fn
        return fn
    return deco


def columns_for(kind: str) -> list[dict[str, Any]]:
    cols = _COLUMNS.get(kind) or [("Name", "name", 0, _DESCRIPTIONS["Name"]),
                                   ("Created At", "date", 0, _DESCRIPTIONS["Age"])]
    return [{"name": n, "type": "date" if f == "date" else ("integer" if f == "int" else "string"),
             "format": "name" if f == "name" else ("" if f in ("date", "int", "") else ""),
             "description": d, "priority": p} for n, f, p, d in cols]


def row_for(kind: str, obj: dict[str, Any]) -> list[Any]:
    fn = _ROWS.get(kind)
    if fn is None:
        return [meta(obj).get("name", ""), meta(obj).get("creationTimestamp")]
    return fn(obj)


def _name(o: dict[str, Any]) -> str:
    return meta(o).get("name", "")


def _age(o: dict[str, Any]) -> str:
    return age(meta(o).get("creationTimestamp"))


def _spec(o: dict[str, Any]) -> dict[str, Any]:
    return o.get("spec") or {}


def _status(o: dict[str, Any]) -> dict[str, Any]:
    return o.get("status") or {}


def _sel_str(sel: dict[str, Any] | None) -> str:
    from ..registry.selectors import selector_from_object
    s = str(selector_from_object(sel))
    return s or "<none>"


def _map_sel(m: dict[str, str] | None) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted((m or {}).items())) or "<none>"


def _containers_images(tmpl_spec: dict[str, Any]) -> tuple[str, str]:
    cs = tmpl_spec.get("containers") or []
    return ",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs)


# --- core -----------------------------------------------------------------------------------------

@printer("Pod", [("Name", "name", 0), ("Ready", "", 0, "The aggregate readiness state of this pod for accepting traffic."),
                 ("Status", "", 0, "The aggregate status of the containers in this pod."),
                 ("Restarts", "", 0, "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
                 ("Age", "", 0), ("IP", "", 1, "The IP address assigned to the pod"),
                 ("Node", "", 1, "The name of the node where the pod is running"),
                 ("Nominated Node", "", 1, "The name of the node where the pod is nominated to run"),
                 ("Readiness Gates", "", 1, "The pod's readiness gates")])
def _pod(o: dict[str, Any]) -> list[Any]:
    spec, st = _spec(o), _status(o)
    cs = st.get("containerStatuses") or []
    total = len(spec.get("containers") or [])
    ready = sum(1 for c in cs if c.get("ready"))
    restarts = sum(int(c.get("restartCount") or 0) for c in cs)
    reason = st.get("reason") or st.get("phase") or "Pending"
    for i, c in enumerate(st.get("initContainerStatuses") or []):
        state = c.get("state") or {}
        if "terminated" in state and state["terminated"].get("exitCode", 0) == 0:
            continue
        if "waiting" in state and state["waiting"].get("reason") and state["waiting"]["reason"] != "PodInitializing":
            reason = f"Init:{state['waiting']['reason']}"
        else:
            reason = f"Init:{i}/{len(spec.get('initContainers') or [])}"
        break
    else:
        for c in reversed(cs):
            state = c.get("state") or {}
            if "waiting" in state and state["waiting"].get("reason"):
                reason = state["waiting"]["reason"]
            elif "terminated" in state:
                t = state["terminated"]
                reason = t.get("reason") or (f"Signal:{t['signal']}" if t.get("signal") else f"ExitCode:{t.get('exitCode', 0)}")
    if meta(o).get("deletionTimestamp"):
        reason = "Unknown" if st.get("reason") == "NodeLost" else "Terminating"
    restarts_cell = str(restarts)
    gates = spec.get("readinessGates") or []
    if gates:
        conds = {c.get("type"): c.get("status") for c in st.get("conditions") or []}
        gates_cell = f"{sum(1 for g in gates if conds.get(g.get('conditionType')) == 'True')}/{len(gates)}"
    else:
        gates_cell = "<none>"
    return [_name(o), f"{ready}/{total}", reason, restarts_cell, _age(o), st.get("podIP") or "<none>",
            spec.get("nodeName") or "<none>", st.get("nominatedNodeName") or "<none>", gates_cell]


@printer("Namespace", [("Name", "name", 0), ("Status", "", 0, "The status of the namespace"), ("Age", "", 0)])
def _ns(o: dict[str, Any]) -> list[Any]:
    return [_name(o), _status(o).get("phase", "Active"), _age(o)]


def _svc_ports(spec: dict[str, Any]) -> str:
    out = []
    for p in spec.get("ports") or []:
        s = f"{p.get('port')}"
        if p.get("nodePort"):
            s += f":{p['nodePort']}"
        out.append(f"{s}/{p.get('protocol', 'TCP')}")
    return ",".join(out) or "<none>"


def _svc_external(o: dict[str, Any]) -> str:
    spec = _spec(o)
    t = spec.get("type", "ClusterIP")
    ext = list(spec.get("externalIPs") or [])
    if t == "ExternalName":
        return spec.get("externalName", "")
    if t == "LoadBalancer":
        ing = [i.get("ip") or i.get("hostname") for i in ((_status(o).get("loadBalancer") or {}).get("ingress") or [])]
        ips = [i for i in ing if i] + ext
        return ",".join(ips) if ips else "<pending>"
    return ",".join(ext) if ext else "<none>"


@printer("Service", [("Name", "name", 0), ("Type", "", 0, "The type of the service."),
                     ("Cluster-IP", "", 0, "The cluster IP of the service."),
                     ("External-IP", "", 0, "The external IP of the service."),
                     ("Port(s)", "", 0, "The ports of the service."), ("Age", "", 0),
                     ("Selector", "", 1, "The selector of the service.")])
def _svc(o: dict[str, Any]) -> list[Any]:
    spec = _spec(o)
    return [_name(o), spec.get("type", "ClusterIP"), spec.get("clusterIP") or "<none>", _svc_external(o),
            _svc_ports(spec), _age(o), _map_sel(spec.get("selector"))]


@printer("Endpoints", [("Name", "name", 0), ("Endpoints", "", 0, "Endpoints of the resource."), ("Age", "", 0)])
def _ep(o: dict[str, Any]) -> list[Any]:
    eps = []
    for ss in o.get("subsets") or []:
        for a in ss.get("addresses") or []:
            for p in ss.get("ports") or [{}]:
                eps.append(f"{a.get('ip')}:{p.get('port')}" if p.get("port") else a.get("ip", ""))
    cell = ",".join(eps[:3]) + (f" + {len(eps) - 3} more..." if len(eps) > 3 else "")
    return [_name(o), cell or "<none>", _age(o)]


@printer("Node", [("Name", "name", 0), ("Status", "", 0, "The status of the node"), ("Roles", "", 0, "The roles of the node"),
                  ("Age", "", 0), ("Version", "", 0, "Kubelet Version reported by the node."),
                  ("Internal-IP", "", 1, "List of internal IPs."), ("External-IP", "", 1, "List of external IPs."),
                  ("OS-Image", "", 1, "OS image reported by the node."), ("Kernel-Version", "", 1, "Kernel version reported by the node."),
                  ("Container-Runtime", "", 1, "Container runtime and version reported by the node.")])
def _node(o: dict[str, Any]) -> list[Any]:
    st = _status(o)
    ready = "Unknown"
    for c in st.get("conditions") or []:
        if c.get("type") == "Ready":
            ready = "Ready" if c.get("status") == "True" else "NotReady"
    status = [ready]
    if _spec(o).get("unschedulable"):
        status.append("SchedulingDisabled")
    roles = sorted(k.split("/", 1)[1] for k in (meta(o).get("labels") or {}) if k.startswith("node-role.kubernetes.io/") and "/" in k)
    info = st.get("nodeInfo") or {}
    addrs = st.get("addresses") or []
    internal = ",".join(a["address"] for a in addrs if a.get("type") == "InternalIP") or "<none>"
    external = ",".join(a["address"] for a in addrs if a.get("type") == "ExternalIP") or "<none>"
    return [_name(o), ",".join(status), ",".join(roles) or "<none>", _age(o), info.get("kubeletVersion", ""),
            internal, external, info.get("osImage") or "<unknown>", info.get("kernelVersion") or "<unknown>",
            info.get("containerRuntimeVersion") or "<unknown>"]


@printer("Event", [("Last Seen", "", 0, "Time when last event occurred"), ("Type", "", 0, "Type of this event."),
                   ("Reason", "", 0, "Reason why this event was generated."), ("Object", "", 0, "The object this Event is about."),
                   ("Subobject", "", 1, "Subobject of the object"), ("Source", "", 1, "Source of this event."),
                   ("Message", "", 0, "A human-readable description of the status of this operation."),
                   ("First Seen", "", 1, "Time when first event occurred"), ("Count", "", 1, "Number of times this event occurred."),
                   ("Name", "name", 1)])
def _event(o: dict[str, Any]) -> list[Any]:
    io = o.get("involvedObject") or {}
    last = o.get("lastTimestamp") or o.get("eventTime") or meta(o).get("creationTimestamp")
    first = o.get("firstTimestamp") or o.get("eventTime") or meta(o).get("creationTimestamp")
    src = o.get("source") or {}
    source = src.get("component", "") + (f", {src['host']}" if src.get("host") else "")
    return [age(last), o.get("type", ""), o.get("reason", ""), f"{str(io.get('kind', '')).lower()}/{io.get('name', '')}",
            io.get("fieldPath", ""), source or o.get("reportingComponent", ""), o.get("message", ""), age(first),
            int(o.get("count") or 1), _name(o)]


@printer("ConfigMap", [("Name", "name", 0), ("Data", "int", 0, "Data contains the configuration data."), ("Age", "", 0)])
def _cm(o: dict[str, Any]) -> list[Any]:
    return [_name(o), len(o.get("data") or {}) + len(o.get("binaryData") or {}), _age(o)]


@printer("Secret", [("Name", "name", 0), ("Type", "", 0, "The type of the secret"), ("Data", "int", 0, "The number of data items in the secret"), ("Age", "", 0)])
def _secret(o: dict[str, Any]) -> list[Any]:
    return [_name(o), o.get("type", "Opaque"), len(o.get("data") or {}), _age(o)]


@printer("ServiceAccount", [("Name", "name", 0), ("Secrets", "int", 0, "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use."), ("Age", "", 0)])
def _sa(o: dict[str, Any]) -> list[Any]:
    return [_name(o), len(o.get("secrets") or []), _age(o)]


@printer("ResourceQuota", [("Name", "name", 0), ("Age", "", 0), ("Request", "", 0, "Request represents a minimum amount of cpu/memory that a container may consume."),
                           ("Limit", "", 0, "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.")])
def _rq(o: dict[str, Any]) -> list[Any]:
    hard = _status(o).get("hard") or _spec(o).get("hard") or {}
    used = _status(o).get("used") or {}
    req, lim = [], []
    for k in sorted(hard):
        cell = f"{k}: {used.get(k, '0')}/{hard[k]}"
        (lim if k.startswith("limits.") else req).append(cell)
    return [_name(o), _age(o), ", ".join(req), ", ".join(lim)]


_WORKLOAD_WIDE = [("Containers", "", 1, "Names of each container in the template."), ("Images", "", 1, "Images referenced by each container in the template."),
                  ("Selector", "", 1, "Label selector for pods.")]


@printer("ReplicationController", [("Name", "name", 0), ("Desired", "int", 0, "Number of desired pods."), ("Current", "int", 0, "Number of actually running pods."),
                                   ("Ready", "int", 0, "Number of pods ready."), ("Age", "", 0), *_WORKLOAD_WIDE])
def _rc(o: dict[str, Any]) -> list[Any]:
    spec, st = _spec(o), _status(o)
    c, i = _containers_images((spec.get("template") or {}).get("spec") or {})
    return [_name(o), int(spec.get("replicas", 0)), int(st.get("replicas", 0)), int(st.get("readyReplicas", 0)), _age(o),
            c, i, _map_sel(spec.get("selector"))]


@printer("ReplicaSet", [("Name", "name", 0), ("Desired", "int", 0, "Number of desired pods."), ("Current", "int", 0, "Number of actually running pods."),
                        ("Ready", "int", 0, "Number of pods ready."), ("Age", "", 0), *_WORKLOAD_WIDE])
def _rs(o: dict[str, Any]) -> list[Any]:
    spec, st = _spec(o), _status(o)
    c, i = _containers_images((spec.get("template") or {}).get("spec") or {})
    return [_name(o), int(spec.get("replicas", 0)), int(st.get("replicas", 0)), int(st.get("readyReplicas", 0)), _age(o),
            c, i, _sel_str(spec.get("selector"))]


@printer("Deployment", [("Name", "name", 0), ("Ready", "", 0, "Number of the pod with ready state"),
                        ("Up-to-date", "int", 0, "Total number of non-terminated pods targeted by this deployment that have the desired template spec."),
                        ("Available", "int", 0, "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment."),
                        ("Age", "", 0), *_WORKLOAD_WIDE])
def _deploy(o: dict[str, Any]) -> list[Any]:
    spec, st = _spec(o), _status(o)
    c, i = _containers_images((spec.get("template") or {}).get("spec") or {})
    return [_name(o), f"{int(st.get('readyReplicas', 0))}/{int(spec.get('replicas', 0))}", int(st.get("updatedReplicas", 0)),
            int(st.get("availableReplicas", 0)), _age(o), c, i, _sel_str(spec.get("selector"))]


@printer("DaemonSet", [("Name", "name", 0), ("Desired", "int", 0, "The total number of nodes that should be running the daemon pod."),
                       ("Current", "int", 0, "The number of nodes running at least one daemon pod and are supposed to."),
                       ("Ready", "int", 0, "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready."),
                       ("Up-to-date", "int", 0, "The total number of nodes that are running updated daemon pod"),
                       ("Available", "int", 0, "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available."),
                       ("Node Selector", "", 0, "NodeSelector is a selector which must be true for the pod to fit on a node."),
                       ("Age", "", 0), *_WORKLOAD_WIDE])
def _ds(o: dict[str, Any]) -> list[Any]:
    spec, st = _spec(o), _status(o)
    ts = (spec.get("template") or {}).get("spec") or {}
    c, i = _containers_images(ts)
    return [_name(o), int(st.get("desiredNumberScheduled", 0)), int(st.get("currentNumberScheduled", 0)), int(st.get("numberReady", 0)),
            int(st.get("updatedNumberScheduled", 0)), int(st.get("numberAvailable", 0)), _map_sel(ts.get("nodeSelector")),
            _age(o), c, i, _sel_str(spec.get("selector"))]


@printer("StatefulSet", [("Name", "name", 0), ("Ready", "", 0, "Number of the pod with ready state"), ("Age", "", 0),
                         ("Containers", "", 1, "Names of each container in the template."), ("Images", "", 1, "Images referenced by each container in the template.")])
def _sts(o: dict[str, Any]) -> list[Any]:
    spec, st = _spec(o), _status(o)
    c, i = _containers_images((spec.get("template") or {}).get("spec") or {})
    return [_name(o), f"{int(st.get('readyReplicas', 0))}/{int(spec.get('replicas', 1))}", _age(o), c, i]


@printer("Job", [("Name", "name", 0), ("Status", "", 0, "Status of the job."), ("Completions", "", 0, "The completion status of the job"),
                 ("Duration", "", 0, "Time required to complete the job."), ("Age", "", 0), *_WORKLOAD_WIDE])
def _job(o: dict[str, Any]) -> list[Any]:
    from ..registry.objects import now, parse_time
    spec, st = _spec(o), _status(o)
    comps = spec.get("completions")
    completions = f"{int(st.get('succeeded', 0))}/{comps}" if comps is not None else f"{int(st.get('succeeded', 0))}/1 of {spec.get('parallelism', 1)}"
    start, end = parse_time(st.get("startTime")), parse_time(st.get("completionTime"))
    duration = human_duration(((end or now()) - start).total_seconds()) if start else ""
    status = "Running"
    for cond in st.get("conditions") or []:
        if cond.get("status") == "True":
            status = {"Complete": "Complete", "Failed": "Failed", "Suspended": "Suspended", "FailureTarget": "FailureTarget",
                      "SuccessCriteriaMet": "SuccessCriteriaMet"}.get(cond.get("type", ""), status)
    if spec.get("suspend"):
        status = "Suspended"
    c, i = _containers_images((spec.get("template") or {}).get("spec") or {})
    return [_name(o), status, completions, duration, _age(o), c, i, _sel_str(spec.get("selector"))]


@printer("CronJob", [("Name", "name", 0), ("Schedule", "", 0, "The schedule in Cron format."), ("Timezone", "", 0, "The time zone name for the given schedule."),
                     ("Suspend", "", 0, "Whether the cron job is suspended."), ("Active", "int", 0, "Number of currently running jobs."),
                     ("Last Schedule", "", 0, "Information when was the last time the job was successfully scheduled."), ("Age", "", 0),
                     *_WORKLOAD_WIDE])
def _cj(o: dict[str, Any]) -> list[Any]:
    spec, st = _spec(o), _status(o)
    jt = ((spec.get("jobTemplate") or {}).get("spec") or {})
    c, i = _containers_images((jt.get("template") or {}).get("spec") or {})
    last = age(st.get("lastScheduleTime")) if st.get("lastScheduleTime") else "<none>"
    return [_name(o), spec.get("schedule", ""), spec.get("timeZone") or "<none>", "True" if spec.get("suspend") else "False",
            len(st.get("active") or []), last, _age(o), c, i, _sel_str(jt.get("selector"))]


@printer("Lease", [("Name", "name", 0), ("Holder", "", 0, "The holder of the lease."), ("Age", "", 0)])
def _lease(o: dict[str, Any]) -> list[Any]:
    return [_name(o), _spec(o).get("holderIdentity") or "", _age(o)]


def _binding_row(o: dict[str, Any]) -> list[Any]:
    ref = o.get("roleRef") or {}
    subs = o.get("subjects") or []
    users = ",".join(s.get("name", "") for s in subs if s.get("kind") == "User")
    groups = ",".join(s.get("name", "") for s in subs if s.get("kind") == "Group")
    sas = ",".join(f"{s.get('namespace', '')}/{s.get('name', '')}" for s in subs if s.get("kind") == "ServiceAccount")
    return [_name(o), f"{ref.get('kind', '')}/{ref.get('name', '')}", _age(o), users, groups, sas]


_BINDING_COLS = [("Name", "name", 0), ("Role", "", 0, "RoleRef is the reference to the role."), ("Age", "", 0),
                 ("Users", "", 1, "Users in the roleBinding"), ("Groups", "", 1, "Groups in the roleBinding"),
                 ("ServiceAccounts", "", 1, "ServiceAccounts in the roleBinding")]
printer("RoleBinding", _BINDING_COLS)(_binding_row)
printer("ClusterRoleBinding", _BINDING_COLS)(_binding_row)


def _role_row(o: dict[str, Any]) -> list[Any]:
    return [_name(o), meta(o).get("creationTimestamp")]


printer("Role", [("Name", "name", 0), ("Created At", "date", 0, _DESCRIPTIONS["Age"])])(_role_row)
printer("ClusterRole", [("Name", "name", 0), ("Created At", "date", 0, _DESCRIPTIONS["Age"])])(_role_row)


@printer("EndpointSlice", [("Name", "name", 0), ("AddressType", "", 0, "The IP protocol family for this EndpointSlice"),
                           ("Ports", "", 0, "The ports defined for this EndpointSlice."), ("Endpoints", "", 0, "Endpoints of this EndpointSlice."), ("Age", "", 0)])
def _eps(o: dict[str, Any]) -> list[Any]:
    ports = ",".join(str(p.get("port", "")) for p in o.get("ports") or []) or "<unset>"
    addrs = [a for e in o.get("endpoints") or [] for a in e.get("addresses") or []]
    cell = ",".join(addrs[:3]) + (f" + {len(addrs) - 3} more..." if len(addrs) > 3 else "")
    return [_name(o), o.get("addressType", ""), ports, cell or "<unset>", _age(o)]
