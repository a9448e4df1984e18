"""The kubelet's pod lifecycle: one worker per pod syncs the runtime towards the pod's spec,
level-triggered, and reports what it sees.

SyncPod, as upstream's kuberuntime manager does it: ensure the sandbox (and the pod IP), run
init containers one at a time in order, then start every app container; restart exited
containers as restartPolicy says, each behind its own CrashLoopBackOff; pull images first
(ErrImagePull, then ImagePullBackOff). A deleted pod's containers get SIGTERM and up to its
grace period before SIGKILL; then the kubelet removes the pod object for good (delete with
grace period 0), as the real status manager does.

Statuses reach the apiserver through the status manager (status.StatusManager): a pod worker
only records what it computed, and never waits for, or loses, a status write.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubeling.shared.client import PODS, ApiError, Client, Unavailable
from kubeling.shared.events import EventRecorder, now_rfc3339
from kubeling.shared.informer import Handlers, Informer
from kubeling.shared import quantity
from kubeling.shared.resources import pod_requests
from kubeling.shared.selectors import match_labels, match_node_selector

from . import images
from .backoff import Backoff
from .ipam import IPAM
from .program import StartError
from .prober import Prober
from .static import StaticPods, is_mirror
from .runtime import EXITED, RUNNING, Container, FakeRuntime, ImagePullError
from .status import StatusManager, conditions, container_status, get_phase, qos_class

log = logging.getLogger("kubelet")
Obj = dict[str, Any]


@dataclass
class PodRecord:
    uid: str
    pod: Obj
    sandbox_id: str = ""
    ip: str = ""
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    waiting: dict[str, tuple[str, str]] = field(default_factory=dict)  # container -> (reason, message)
    image_ids: dict[str, str] = field(default_factory=dict)
    last_status: Obj | None = None
    start_time: str = ""
    prior_restarts: dict[str, int] = field(default_factory=dict)  # from a previous agent's status
    final_phase: str = ""  # Succeeded/Failed, once reached
    admitted: bool | None = None  # kubelet admission verdict, decided on the first sync
    initialized: bool = False  # every init container succeeded once (sidecars started)
    adopted_terminal: bool = False  # finished before this agent started: never run again
    deleted: bool = False  # gone from the API: tear down and forget
    finished: bool = False  # containers stopped for good (terminal phase or deletion)


def _pod_ref(pod: Obj) -> str:
    md = pod["metadata"]
    return f"{md['name']}_{md.get('namespace', 'default')}({md.get('uid', '')})"


class Kubelet:
    def __init__(self, client: Client, node_name: str, node_ip: str, recorder: EventRecorder,
                 informer: Informer | None = None, status_manager: StatusManager | None = None) -> None:
        """`informer`: a pod informer shared by several kubelets in one process (hollow nodes),
        whose owner dispatches each pod to its node's kubelet; by default the kubelet watches
        the pods bound to its node itself. `status_manager`: likewise shared (its owner runs
        it); by default the kubelet runs its own."""
        self.client = client
        self.node_name = node_name
        self.node_ip = node_ip
        self.recorder = recorder
        self.runtime = FakeRuntime(node_name, on_exit=self._container_exited)
        self.prober = Prober(self.runtime, self._probe_changed, self._probe_failed, self._probe_kill)
        self.ipam: IPAM | None = None
        self.pods: dict[str, PodRecord] = {}  # uid -> record
        self.backoff = Backoff()
        self.image_backoff = Backoff()
        self._backoff_reported: dict[str, set[str]] = {}
        self.owns_informer = informer is None
        self.informer = informer or Informer(client, PODS, field_selector=f"spec.nodeName={node_name}")
        self.static: StaticPods | None = None
        self.node_getter: Callable[[], Obj | None] = lambda: None  # the registered Node, for admission
        if self.owns_informer:
            self.informer.add_handlers(Handlers(self.pod_seen, lambda _o, n: self.pod_seen(n), self.pod_gone))
        self.owns_status_manager = status_manager is None
        self.status_manager = status_manager or StatusManager(
            client, lambda ns, name: self.informer.get(f"{ns}/{name}"))

    # -- wiring --------------------------------------------------------------------------------

    def start(self, pod_cidr: str) -> None:
        self.ipam = IPAM(pod_cidr)
        if self.owns_status_manager:
            self.status_manager.start()
        if self.owns_informer:
            self.informer.start()

    def ready(self) -> bool:
        return self.informer.synced.is_set()

    # -- static pods (their mirrors come through the informer; the pods themselves from files) --

    def pod_seen(self, pod: Obj) -> None:
        if is_mirror(pod):
            if self.static:
                self.static.mirror_seen(pod)
            return
        self._run(pod)

    def run_static(self, pod: Obj) -> None:
        self._run(pod)

    def stop_static(self, uid: str) -> None:
        rec = self.pods.get(uid)
        if rec:
            rec.deleted = True
            rec.wake.set()

    def static_mirror_created(self, uid: str) -> None:
        """A new mirror pod has no status yet: send ours again."""
        rec = self.pods.get(uid)
        if rec:
            rec.last_status = None
            self.status_manager.resend(uid)
            rec.wake.set()

    def _run(self, pod: Obj) -> None:
        uid = pod["metadata"].get("uid", "")
        rec = self.pods.get(uid)
        if rec is None:
            rec = self.pods[uid] = PodRecord(uid, pod)
            st = pod.get("status") or {}
            rec.start_time = st.get("startTime") or ""
            rec.ip = st.get("podIP") or ""  # re-adopt the address of a pod we ran before a restart
            self._adopt(rec, st)
            rec.task = asyncio.create_task(self._worker(rec), name=f"pod-{pod['metadata'].get('name')}")
        rec.pod = pod
        rec.wake.set()

    def _adopt(self, rec: PodRecord, st: Obj) -> None:
        """A pod this node ran before the agent restarted. Its fake containers died with the old
        agent, so its sandbox is re-created (as upstream does when a sandbox is gone): the
        containers start again as restarts, keeping the pod IP; finished pods stay finished."""
        previous = (st.get("containerStatuses") or []) + (st.get("initContainerStatuses") or [])
        ran = [c for c in previous if c.get("containerID")]
        if st.get("phase") in ("Succeeded", "Failed"):
            rec.adopted_terminal = True
            rec.finished = True
            return
        if ran:
            for c in ran:
                rec.prior_restarts[c["name"]] = int(c.get("restartCount") or 0) + 1
            self.recorder.event(rec.pod, "Normal", "SandboxChanged", "Pod sandbox changed, it will be killed and re-created.")

    def pod_gone(self, pod: Obj) -> None:
        if is_mirror(pod):
            if self.static:
                self.static.mirror_gone(pod)
            return
        rec = self.pods.get(pod["metadata"].get("uid", ""))
        if rec:
            rec.deleted = True
            rec.wake.set()

    def _rec_of(self, cid: str) -> PodRecord | None:
        c = self.runtime.container_status(cid)
        return next((r for r in self.pods.values() if c and r.sandbox_id == c.sandbox_id), None)

    def _probe_changed(self, cid: str) -> None:
        rec = self._rec_of(cid)
        if rec:
            rec.wake.set()

    def _probe_failed(self, cid: str, kind: str, name: str, message: str) -> None:
        rec = self._rec_of(cid)
        if rec:
            self.recorder.event(rec.pod, "Warning", "Unhealthy", f"{kind.capitalize()} probe failed: {message}")

    async def _probe_kill(self, cid: str, name: str, kind: str) -> None:
        rec = self._rec_of(cid)
        if rec is None:
            return
        self.recorder.event(rec.pod, "Normal", "Killing", f"Container {name} failed {kind} probe, will be restarted")
        grace = (rec.pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
        await self.runtime.stop_container(cid, float(grace))

    def _container_exited(self, c: Container) -> None:
        self.prober.stop(c.id)
        for rec in self.pods.values():
            if rec.sandbox_id == c.sandbox_id:
                rec.wake.set()

    # -- the per-pod worker ------------------------------------------------------------------

    async def _worker(self, rec: PodRecord) -> None:
        while True:
            rec.wake.clear()
            try:
                delay = await self.sync_pod(rec)
            except asyncio.CancelledError:
                raise
            except (ApiError, Unavailable, OSError) as e:  # transient: the next pass tries again
                log.warning("sync pod failed; will retry", extra={"pod": _pod_ref(rec.pod), "err": str(e)[:200]})
                delay = 2.0
            except Exception:
                log.exception("sync pod failed", extra={"pod": _pod_ref(rec.pod)})
                delay = 2.0
            if rec.deleted and not rec.sandbox_id:
                self.pods.pop(rec.uid, None)
                self.status_manager.forget(rec.uid)
                return
            try:
                await asyncio.wait_for(rec.wake.wait(), delay)
            except asyncio.TimeoutError:
                pass

    async def sync_pod(self, rec: PodRecord) -> float | None:
        """One pass; returns when to look again (None = only on an event)."""
        pod = rec.pod
        md, spec = pod["metadata"], pod.get("spec") or {}
        if rec.deleted:
            await self._teardown(rec, grace=0)
            return None
        if rec.adopted_terminal:
            if md.get("deletionTimestamp"):
                try:
                    await self.client.delete(PODS, md["name"], md.get("namespace"), grace_period_seconds=0, uid=rec.uid)
                except ApiError as e:
                    if e.code not in (404, 409):
                        raise
            return None  # its final status was written by the agent that ran it
        if md.get("deletionTimestamp"):
            grace = md.get("deletionGracePeriodSeconds")
            if grace is None:
                grace = spec.get("terminationGracePeriodSeconds", 30)
            await self._kill_pod(rec, float(grace))
            await self._push_status(rec)
            try:
                await self.client.delete(PODS, md["name"], md.get("namespace"), grace_period_seconds=0, uid=rec.uid)
            except ApiError as e:
                if e.code not in (404, 409):
                    raise
            return 5.0
        if rec.admitted is None:
            rec.admitted = await self._admit(rec)
        if rec.finished:
            if rec.admitted:
                await self._push_status(rec)
            return None
        next_wake: list[float] = []
        if not rec.sandbox_id:
            await self._ensure_sandbox(rec)
        policy = spec.get("restartPolicy") or "Always"
        init_ok = await self._sync_init_containers(rec, policy, next_wake)
        if init_ok:
            for c in spec.get("containers") or []:
                await self._sync_container(rec, c, policy, next_wake, init=False)
        status = await self._push_status(rec)
        if status and status.get("phase") in ("Succeeded", "Failed"):
            # A finished pod keeps its IP in status, but its containers are gone for good; the
            # phase is final (stopping its sidecars must not make it look unfinished again).
            rec.finished = True
            rec.final_phase = status["phase"]
            await self._kill_pod(rec, 0)
        return min(next_wake) if next_wake else None

    def admission_failure(self, rec: PodRecord) -> tuple[str, str] | None:
        """The kubelet's own admission check (GeneralPredicates) for pods it is handed - also
        those bound with spec.nodeName, bypassing the scheduler: resources, pod count, selector."""
        node = self.node_getter()
        if not node or rec.pod["metadata"].get("annotations", {}).get("kubernetes.io/config.source") == "file":
            return None
        alloc = (node.get("status") or {}).get("allocatable") or {}
        spec = rec.pod.get("spec") or {}
        labels = (node.get("metadata") or {}).get("labels") or {}
        required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution")
        if not match_labels(spec.get("nodeSelector"), labels) or (required is not None and not match_node_selector(required, node)):
            return "NodeAffinity", "Pod was rejected: Predicate NodeAffinity failed: node(s) didn't match Pod's node affinity/selector"
        others = [r for r in self.pods.values() if r is not rec and r.admitted and not r.finished and not r.deleted]
        max_pods = int(alloc.get("pods") or 110)
        if len(others) + 1 > max_pods:
            return "OutOfpods", (f"Pod was rejected: Node didn't have enough resource: pods, requested: 1, "
                                 f"used: {len(others)}, capacity: {max_pods}")
        want = pod_requests(rec.pod)
        used_cpu = sum(pod_requests(r.pod).milli_cpu for r in others)
        used_mem = sum(pod_requests(r.pod).memory for r in others)
        for res, req, used, cap in (("cpu", want.milli_cpu, used_cpu, quantity.milli_value(alloc.get("cpu", 0))),
                                    ("memory", want.memory, used_mem, quantity.value(alloc.get("memory", 0)))):
            if req and req > cap - used:
                return f"OutOf{res}", (f"Pod was rejected: Node didn't have enough resource: {res}, requested: {req}, "
                                     f"used: {used}, capacity: {cap}")
        return None

    async def _admit(self, rec: PodRecord) -> bool:
        if rec.adopted_terminal or (rec.pod.get("status") or {}).get("phase") in ("Running",):
            return True  # already admitted by this node before
        failure = self.admission_failure(rec)
        if failure is None:
            return True
        reason, message = failure
        rec.finished = True
        self.recorder.event(rec.pod, "Warning", reason, message.removeprefix("Pod was rejected: "))
        status = {"phase": "Failed", "reason": reason, "message": message, "startTime": now_rfc3339()}
        self.status_manager.set(rec.pod, status)
        log.info("pod rejected at admission", extra={"pod": _pod_ref(rec.pod), "reason": reason})
        return False

    async def _ensure_sandbox(self, rec: PodRecord) -> None:
        assert self.ipam is not None
        md = rec.pod["metadata"]
        if (rec.pod.get("spec") or {}).get("hostNetwork"):
            rec.ip = self.node_ip  # the pod shares the node's network namespace
        else:
            rec.ip = self.ipam.allocate(rec.uid, rec.ip or None)
        hostname = (rec.pod.get("spec") or {}).get("hostname") or md["name"]
        rec.sandbox_id = await self.runtime.run_pod_sandbox(md["name"], md.get("namespace", "default"), rec.uid,
                                                             rec.ip, hostname, md.get("labels"))
        if not rec.start_time:
            rec.start_time = now_rfc3339()
        log.info("sandbox ready", extra={"pod": _pod_ref(rec.pod), "ip": rec.ip})

    async def _sync_init_containers(self, rec: PodRecord, policy: str, next_wake: list[float]) -> bool:
        """Run init containers in order; True once all have succeeded (or, for sidecars -
        init containers with restartPolicy Always - started). Sidecars keep being restarted for
        the pod's whole life; once the pod has initialized, nothing blocks the app containers."""
        for c in (rec.pod.get("spec") or {}).get("initContainers") or []:
            latest, _ = self._instances(rec, c["name"])
            if c.get("restartPolicy") == "Always":
                await self._sync_container(rec, c, "Always", next_wake, init=False)
                latest, _ = self._instances(rec, c["name"])
                if not rec.initialized and not (latest and latest.state == RUNNING and self.prober.started(latest.id)):
                    return False
                continue
            if latest and latest.state == EXITED and latest.exit_code == 0:
                continue
            if rec.initialized:
                continue  # a regular init container that was pruned after success: not run again
            if latest and latest.state == RUNNING:
                return False
            # an init container restarts on failure unless the pod's policy is Never
            await self._sync_container(rec, c, "OnFailure" if policy != "Never" else "Never", next_wake, init=True)
            return False
        rec.initialized = True
        return True

    def _instances(self, rec: PodRecord, name: str) -> tuple[Container | None, Container | None]:
        mine = [c for c in self.runtime.list_containers(rec.sandbox_id) if c.name == name]
        mine.sort(key=lambda c: c.attempt)
        return (mine[-1] if mine else None), (mine[-2] if len(mine) > 1 else None)

    async def _sync_container(self, rec: PodRecord, c: Obj, policy: str, next_wake: list[float], init: bool) -> None:
        name = c["name"]
        latest, previous = self._instances(rec, name)
        key = f"{rec.uid}/{name}"
        if latest and latest.state == RUNNING:
            rec.waiting.pop(name, None)
            if time.time() - latest.started_at > 2 * self.backoff.maximum:
                self.backoff.reset(key)
            return
        if latest and latest.state == EXITED:
            restart = policy == "Always" or (policy == "OnFailure" and latest.exit_code != 0)
            if not restart:
                rec.waiting.pop(name, None)
                return
            left = self.backoff.in_backoff(key)
            if left > 0:
                dur = self.backoff.current(key)
                rec.waiting[name] = ("CrashLoopBackOff",
                                     f"back-off {int(dur)}s restarting failed container={name} pod={_pod_ref(rec.pod)}")
                if name not in self._backoff_reported.setdefault(rec.uid, set()):
                    self._backoff_reported[rec.uid].add(name)
                    self.recorder.event(rec.pod, "Warning", "BackOff", f"Back-off restarting failed container {name} in pod {_pod_ref(rec.pod)}")
                next_wake.append(left)
                return
            # Not in back-off: restart now, and open the window the *next* crash will wait out
            # (upstream's doBackOff: the first restart is immediate, then 10s, 20s, ... 5m).
            self.backoff.next(key)
            self._backoff_reported.get(rec.uid, set()).discard(name)
        attempt = latest.attempt + 1 if latest else rec.prior_restarts.get(name, 0)
        if not await self._ensure_image(rec, c, next_wake):
            return
        argv = self._argv(c)
        md = rec.pod["metadata"]
        env = self._env(rec, c)
        ports = [int(p["containerPort"]) for p in c.get("ports") or [] if (p.get("protocol") or "TCP") == "TCP"]
        limit = ((c.get("resources") or {}).get("limits") or {}).get("memory")
        cid = await self.runtime.create_container(rec.sandbox_id, name, attempt, c.get("image", ""), argv, env, ports,
                                                  {"io.kubernetes.pod.name": md["name"]},
                                                  memory_limit=quantity.value(limit) if limit else 0)
        self.recorder.event(rec.pod, "Normal", "Created", f"Created container: {name}")
        try:
            await self.runtime.start_container(cid)
        except StartError as e:
            self.recorder.event(rec.pod, "Warning", "Failed", f"Error: {e}")
            rec.waiting.pop(name, None)
            next_wake.append(0.05)  # exited at once (128): the next pass applies the back-off
            self._prune(rec, name)
            return
        rec.waiting.pop(name, None)
        self.recorder.event(rec.pod, "Normal", "Started", f"Started container: {name}")
        if not init:
            self.prober.start(cid, c, rec.ip)
        self._prune(rec, name)

    def _prune(self, rec: PodRecord, name: str) -> None:
        """Keep the current and the previous instance of each container (for --previous logs)."""
        mine = sorted((c for c in self.runtime.list_containers(rec.sandbox_id) if c.name == name), key=lambda c: c.attempt)
        for old in mine[:-2]:
            self.runtime.containers.pop(old.id, None)

    async def _ensure_image(self, rec: PodRecord, c: Obj, next_wake: list[float]) -> bool:
        image = c.get("image", "")
        name = c["name"]
        policy = c.get("imagePullPolicy") or ("Always" if image.endswith(":latest") or ":" not in image.rsplit("/", 1)[-1] else "IfNotPresent")
        present = self.runtime.image_status(image)
        if present and policy != "Always":
            rec.image_ids[name] = present
            return True
        if policy == "Never" and not present:
            rec.waiting[name] = ("ErrImageNeverPull",
                                 f'Container image "{image}" is not present with pull policy of Never')
            return False
        key = f"{rec.uid}/{name}/image"
        left = self.image_backoff.in_backoff(key)
        if left > 0:
            rec.waiting[name] = ("ImagePullBackOff", f'Back-off pulling image "{image}"')
            self.recorder.event(rec.pod, "Normal", "BackOff", f'Back-off pulling image "{image}"')
            next_wake.append(left)
            return False
        self.recorder.event(rec.pod, "Normal", "Pulling", f'Pulling image "{image}"')
        started = time.monotonic()
        try:
            rec.image_ids[name] = await self.runtime.pull_image(image)
        except ImagePullError as e:
            dur = self.image_backoff.next(key)
            msg = f"rpc error: code = NotFound desc = {e}"
            rec.waiting[name] = ("ErrImagePull", msg)
            self.recorder.event(rec.pod, "Warning", "Failed", f'Failed to pull image "{image}": {msg}')
            self.recorder.event(rec.pod, "Warning", "Failed", "Error: ErrImagePull")
            # show ErrImagePull for a moment, then ImagePullBackOff until the retry (as kubectl shows)
            next_wake.append(min(dur, 2.0))
            return False
        self.image_backoff.reset(key)
        took = time.monotonic() - started
        self.recorder.event(rec.pod, "Normal", "Pulled", f'Successfully pulled image "{image}" in {took * 1000:.0f}ms')
        return True

    def _argv(self, c: Obj) -> list[str]:
        img = images.lookup(c.get("image", ""))
        command, args = c.get("command"), c.get("args")
        if command:
            return list(command) + list(args or [])
        entry = list(img.entrypoint) if img else []
        if args:
            return entry + list(args)
        return entry + (list(img.cmd) if img else [])

    def _env(self, rec: PodRecord, c: Obj) -> dict[str, str]:
        md, spec = rec.pod["metadata"], rec.pod.get("spec") or {}
        fields = {"metadata.name": md["name"], "metadata.namespace": md.get("namespace", "default"),
                  "metadata.uid": rec.uid, "spec.nodeName": self.node_name, "status.podIP": rec.ip,
                  "status.hostIP": self.node_ip, "spec.serviceAccountName": spec.get("serviceAccountName", "")}
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
        for e in c.get("env") or []:
            if "value" in e:
                env[e["name"]] = str(e.get("value") or "")
            elif ((e.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath") in fields:
                env[e["name"]] = fields[e["valueFrom"]["fieldRef"]["fieldPath"]]
        return env

    # -- stopping ------------------------------------------------------------------------------

    async def _kill_pod(self, rec: PodRecord, grace: float) -> None:
        if not rec.sandbox_id:
            return
        running = [c for c in self.runtime.list_containers(rec.sandbox_id) if c.state == RUNNING]
        for c in running:
            self.prober.stop(c.id)
        for c in running:
            self.recorder.event(rec.pod, "Normal", "Killing", f"Stopping container {c.name}")
        await asyncio.gather(*(self.runtime.stop_container(c.id, grace) for c in running))

    async def _teardown(self, rec: PodRecord, grace: float) -> None:
        await self._kill_pod(rec, grace)
        if rec.sandbox_id:
            await self.runtime.remove_pod_sandbox(rec.sandbox_id)
            rec.sandbox_id = ""
        if self.ipam:
            self.ipam.release(rec.uid)
        self.backoff.forget_prefix(rec.uid + "/")
        self._backoff_reported.pop(rec.uid, None)
        self.image_backoff.forget_prefix(rec.uid + "/")

    async def shutdown(self) -> None:
        if self.owns_informer:
            await self.informer.stop()
        if self.owns_status_manager:
            await self.status_manager.stop()
        for rec in list(self.pods.values()):
            if rec.task:
                rec.task.cancel()
        for rec in list(self.pods.values()):
            await self._kill_pod(rec, 0)

    # -- status ---------------------------------------------------------------------------------

    def compute_status(self, rec: PodRecord) -> Obj:
        pod = rec.pod
        spec = pod.get("spec") or {}
        init_statuses = []
        init_running = False
        for c in spec.get("initContainers") or []:
            latest, prev = self._instances(rec, c["name"]) if rec.sandbox_id else (None, None)
            w = rec.waiting.get(c["name"])
            if w is None and latest is None:
                w = ("PodInitializing", "") if init_running else None
            st = container_status(c, latest, prev, w, rec.image_ids.get(c["name"], ""))
            if c.get("restartPolicy") != "Always":
                st["ready"] = False  # a finished regular init container is never "ready"
                st["started"] = bool(latest and latest.state == RUNNING)
            elif latest and latest.state == RUNNING:
                st["started"] = self.prober.started(latest.id)
                st["ready"] = st["started"] and self.prober.ready(latest.id)
            init_statuses.append(st)
            if c.get("restartPolicy") == "Always":
                if not (latest and latest.state == RUNNING):
                    init_running = init_running or not rec.initialized
            elif not (latest and latest.state == EXITED and latest.exit_code == 0) and not rec.initialized:
                init_running = True
        statuses = []
        for c in spec.get("containers") or []:
            latest, prev = self._instances(rec, c["name"]) if rec.sandbox_id else (None, None)
            w = rec.waiting.get(c["name"])
            if w is None and latest is None:
                w = ("PodInitializing", "") if init_running else ("ContainerCreating", "")
            if latest and latest.state == EXITED and w is None and not rec.finished:
                policy = spec.get("restartPolicy") or "Always"
                if policy == "Always" or (policy == "OnFailure" and latest.exit_code != 0):
                    # exited and about to be restarted: kubectl shows the last termination meanwhile
                    w = None
            st = container_status(c, latest, prev, w, rec.image_ids.get(c["name"], ""))
            if latest and latest.state == RUNNING:
                st["started"] = self.prober.started(latest.id)
                st["ready"] = st["started"] and self.prober.ready(latest.id)
            statuses.append(st)
        phase = rec.final_phase or get_phase(pod, init_statuses, statuses)
        if rec.finished or (pod["metadata"].get("deletionTimestamp") and not any(
                c.state == RUNNING for c in self.runtime.list_containers(rec.sandbox_id))):
            for s in statuses + init_statuses:
                s["ready"] = False
                s["started"] = False
        now = now_rfc3339()
        status: Obj = {
            "phase": phase,
            "conditions": conditions(pod, bool(rec.sandbox_id), init_statuses, statuses, phase, now),
            "hostIP": self.node_ip, "hostIPs": [{"ip": self.node_ip}],
            "podIP": rec.ip, "podIPs": [{"ip": rec.ip}] if rec.ip else [],
            "startTime": rec.start_time or now,
            "containerStatuses": statuses,
            "qosClass": (pod.get("status") or {}).get("qosClass") or qos_class(pod),
        }
        if init_statuses:
            status["initContainerStatuses"] = init_statuses
        return status

    async def _push_status(self, rec: PodRecord) -> Obj | None:
        """Compute the pod's status and hand it to the status manager, which (re)sends it until
        the apiserver has it."""
        status = self.compute_status(rec)
        if status != rec.last_status:
            self.status_manager.set(rec.pod, status)
            rec.last_status = status
        return status
