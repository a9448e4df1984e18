"""The runtime's CRI-shaped state as JSON on the kubelet API (/cri/...), for `kubeling crictl`:
what `crictl` reads from containerd's CRI socket on a real node."""
from __future__ import annotations

import json
from typing import Any

from kubeling.shared.httpserver import Request, Response, text

from . import images
from .runtime import Container, FakeRuntime, PodSandbox


def _container(c: Container, sb: PodSandbox | None) -> dict[str, Any]:
    return {"id": c.id, "podSandboxId": c.sandbox_id, "metadata": {"name": c.name, "attempt": c.attempt},
            "image": {"image": c.image}, "imageRef": c.image_ref, "state": c.state,
            "createdAt": int(c.created_at * 1e9), "startedAt": int(c.started_at * 1e9),
            "finishedAt": int(c.finished_at * 1e9), "exitCode": c.exit_code, "reason": c.reason, "message": c.message,
            "labels": {"io.kubernetes.container.name": c.name, "io.kubernetes.pod.name": sb.name if sb else "",
                       "io.kubernetes.pod.namespace": sb.namespace if sb else "",
                       "io.kubernetes.pod.uid": sb.uid if sb else ""},
            "command": c.argv, "envs": [{"key": k, "value": v} for k, v in c.env.items()], "ports": c.ports}


def _sandbox(sb: PodSandbox) -> dict[str, Any]:
    return {"id": sb.id, "metadata": {"name": sb.name, "namespace": sb.namespace, "uid": sb.uid, "attempt": 0},
            "state": sb.state, "createdAt": int(sb.created_at * 1e9), "network": {"ip": sb.ip},
            "labels": sb.labels, "runtimeHandler": ""}


def handle(runtime: FakeRuntime, req: Request) -> Response | None:
    parts = req.path.strip("/").split("/")
    if parts[0] != "cri":
        return None

    def js(obj: Any) -> Response:
        return Response(200, json.dumps(obj).encode(), "application/json")
    if parts[1:] == ["containers"]:
        return js({"containers": [_container(c, runtime.sandboxes.get(c.sandbox_id)) for c in runtime.list_containers()]})
    if parts[1:] == ["pods"]:
        return js({"items": [_sandbox(sb) for sb in runtime.list_pod_sandbox()]})
    if parts[1:] == ["images"]:
        out = []
        for ref, image_id in sorted(runtime.list_images().items()):
            repo, _, tag = ref.rpartition(":")
            out.append({"id": image_id, "repoTags": [ref], "repo": repo, "tag": tag,
                        "known": images.lookup(ref) is not None})
        return js({"images": out})
    if len(parts) >= 3 and parts[1] == "containers":
        matches = [c for c in runtime.list_containers() if c.id.startswith(parts[2])]
        if len(matches) != 1:
            return text(f"container {parts[2]!r}: {'not found' if not matches else 'ambiguous prefix'}\n", 404)
        c = matches[0]
        if parts[3:] == ["logs"]:
            tail = req.arg("tail")
            lines = [ln.text for ln in c.logs]
            if tail is not None and int(tail) >= 0:
                lines = lines[len(lines) - int(tail):] if int(tail) else []
            return text("".join(ln + "\n" for ln in lines))
        if not parts[3:]:
            sb = runtime.sandboxes.get(c.sandbox_id)
            return js({"status": _container(c, sb), "info": {"sandboxID": c.sandbox_id, "pid": 0,
                                                              "runtimeType": "fake"}})
    return text("404 page not found\n", 404)
