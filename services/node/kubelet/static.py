"""Static pods: pods the kubelet runs from manifest files in `--pod-manifest-path` (the
`/etc/kubernetes/manifests` of a kubeadm control-plane node), with a *mirror pod* in the
apiserver so `kubectl get pods` shows them.

As upstream: a static pod is named `<name>-<node>`, its UID is a hash of the manifest, the node
and the file, and its mirror carries `kubernetes.io/config.mirror` with that hash and is owned
by the Node. Deleting the mirror pod with kubectl does not stop the pod - the kubelet creates
the mirror again; editing the file replaces the pod; removing the file stops it. The directory
is re-read every `period` seconds (upstream's --file-check-frequency, 20s by default).
"""
from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import logging
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from kubeling.shared.client import PODS, ApiError, Unavailable

if TYPE_CHECKING:
    from .kubelet import Kubelet

log = logging.getLogger("kubelet.static")
Obj = dict[str, Any]
MIRROR = "kubernetes.io/config.mirror"
HASH = "kubernetes.io/config.hash"


def is_mirror(pod: Obj) -> bool:
    return MIRROR in ((pod.get("metadata") or {}).get("annotations") or {})


def static_pod(doc: Obj, source: str, node: str) -> Obj:
    """The pod the kubelet runs for one manifest, with upstream's defaults and identity."""
    pod = copy.deepcopy(doc)
    md = pod.setdefault("metadata", {})
    spec = pod.setdefault("spec", {})
    h = hashlib.md5(json.dumps(doc, sort_keys=True).encode() + f"host:{node}file:{source}".encode()).hexdigest()
    md["name"] = f"{md.get('name', 'static')}-{node}"
    md["namespace"] = md.get("namespace") or "default"
    md["uid"] = h
    md["annotations"] = {**(md.get("annotations") or {}), HASH: h, "kubernetes.io/config.source": "file",
                         "kubernetes.io/config.seen": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
    spec["nodeName"] = node
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec["tolerations"] = (spec.get("tolerations") or []) + [{"operator": "Exists", "effect": "NoExecute"}]
    pod.setdefault("apiVersion", "v1")
    pod["kind"] = "Pod"
    pod["status"] = {}
    return pod


def read_manifests(path: Path, node: str) -> dict[str, Obj]:
    """uid -> static pod, for every readable Pod manifest (*.yaml, *.yml, *.json) in `path`."""
    out: dict[str, Obj] = {}
    if not path.is_dir():
        return out
    for f in sorted(path.iterdir()):
        if f.name.startswith(".") or f.suffix not in (".yaml", ".yml", ".json") or not f.is_file():
            continue
        try:
            doc = yaml.safe_load(f.read_text())
        except (OSError, yaml.YAMLError) as e:
            log.warning("cannot read static pod manifest", extra={"file": str(f), "err": str(e)[:200]})
            continue
        if not isinstance(doc, dict) or doc.get("kind") != "Pod":
            continue
        pod = static_pod(doc, str(f), node)
        out[pod["metadata"]["uid"]] = pod
    return out


class StaticPods:
    def __init__(self, kubelet: "Kubelet", path: str, node_uid: Callable[[], str], period: float = 2.0) -> None:
        self.kubelet = kubelet
        self.path = Path(path)
        self.node_uid = node_uid
        self.period = period
        self.pods: dict[str, Obj] = {}  # uid -> static pod
        self.mirrors: dict[str, Obj] = {}  # ns/name -> mirror pod seen in the API
        self._wake = asyncio.Event()

    # -- mirror pods seen by the kubelet's informer ---------------------------------------------

    def mirror_seen(self, pod: Obj) -> None:
        md = pod["metadata"]
        self.mirrors[f"{md.get('namespace')}/{md['name']}"] = pod
        self._wake.set()

    def mirror_gone(self, pod: Obj) -> None:
        md = pod["metadata"]
        self.mirrors.pop(f"{md.get('namespace')}/{md['name']}", None)
        self._wake.set()

    # -- the loop ------------------------------------------------------------------------------

    async def run(self) -> None:
        while True:
            try:
                await self.sync()
            except (ApiError, Unavailable, OSError) as e:
                log.warning("static pod sync failed", extra={"err": str(e)[:200]})
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), self.period)
            except asyncio.TimeoutError:
                pass

    async def sync(self) -> None:
        desired = read_manifests(self.path, self.kubelet.node_name)
        for uid in list(self.pods):
            if uid not in desired:
                log.info("static pod removed", extra={"pod": self.pods[uid]["metadata"]["name"]})
                self.kubelet.stop_static(uid)
                await self._delete_mirror(self.pods.pop(uid))
        for uid, pod in desired.items():
            if uid not in self.pods:
                log.info("static pod added", extra={"pod": pod["metadata"]["name"]})
                self.pods[uid] = pod
                self.kubelet.run_static(pod)
        for pod in self.pods.values():
            await self._ensure_mirror(pod)

    async def _ensure_mirror(self, pod: Obj) -> None:
        md = pod["metadata"]
        key = f"{md['namespace']}/{md['name']}"
        mirror = self.mirrors.get(key)
        if mirror is not None:
            mmd = mirror["metadata"]
            if (mmd.get("annotations") or {}).get(MIRROR) == md["uid"] and not mmd.get("deletionTimestamp"):
                return
            await self._delete_mirror(mirror)  # stale (file edited) or being deleted: replace it
            return  # the informer's DELETED brings us back here to create the new one
        body = copy.deepcopy(pod)
        bmd = body["metadata"]
        bmd.pop("uid", None)
        bmd["annotations"] = {**bmd["annotations"], MIRROR: md["uid"]}
        node_uid = self.node_uid()
        if node_uid:
            bmd["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": self.kubelet.node_name,
                                       "uid": node_uid, "controller": True}]
        body.pop("status", None)
        try:
            created = await self.kubelet.client.create(PODS, body)
        except ApiError as e:
            if e.code == 409:
                return  # the informer has not shown it to us yet
            raise
        self.mirrors[key] = created
        self.kubelet.static_mirror_created(md["uid"])

    async def _delete_mirror(self, mirror: Obj) -> None:
        md = mirror["metadata"]
        uid = md.get("uid") if MIRROR in (md.get("annotations") or {}) else None
        try:
            await self.kubelet.client.delete(PODS, md["name"], md.get("namespace"), grace_period_seconds=0, uid=uid)
        except ApiError as e:
            if e.code not in (404, 409):
                raise
