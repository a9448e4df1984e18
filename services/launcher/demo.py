"""`kubeling demo failover`: watch a cluster heal, with timestamps.

A Deployment behind a NodePort Service is requested in a loop (through the NodePort of nodes that
are alive) while first a node agent and then the store's Raft leader are killed with SIGKILL. The
timeline shows which pods answered, when the node went NotReady, when replacement pods ran, when
the store elected a new leader, and finally that requests all succeed again. The killed
components are started again at the end, so the cluster is whole afterwards.
"""
from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter

import httpx

from kubeling.shared import flags

from . import procs
from .health import client_options
from .state import ClusterDir, Plan

NAMESPACE = "default"
NAME = "failover-demo"


class Timeline:
    def __init__(self) -> None:
        self.t0 = time.monotonic()

    def say(self, text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')} +{time.monotonic() - self.t0:6.1f}s] {text}", flush=True)


def _deployment(replicas: int) -> dict:
    labels = {"app": NAME}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": NAME, "labels": labels},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "web", "image": "nginx",
                                                           "ports": [{"containerPort": 80}]}]}}}}


def _service() -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": NAME},
            "spec": {"type": "NodePort", "selector": {"app": NAME}, "ports": [{"port": 80, "targetPort": 80}]}}


class Demo:
    def __init__(self, cdir: ClusterDir, plan: Plan, replicas: int, timeout: float) -> None:
        self.cdir = cdir
        self.plan = plan
        self.replicas = replicas
        self.timeout = timeout
        self.api = httpx.AsyncClient(base_url=plan.api_url, timeout=5.0, **client_options(cdir, plan, "api"))
        self.store = httpx.AsyncClient(timeout=1.0, **client_options(cdir, plan, "store"))
        self.web = httpx.AsyncClient(timeout=1.0, verify=False)  # plain HTTP to the NodePort
        self.log = Timeline()
        self.dead_nodes: set[str] = set()
        self.answers: Counter[str] = Counter()
        self.failures = 0
        self.node_port = 0
        self.killed_store: str | None = None

    # ---------------------------------------------------------------- cluster views

    async def pods(self) -> list[dict]:
        r = await self.api.get(f"/api/v1/namespaces/{NAMESPACE}/pods", params={"labelSelector": f"app={NAME}"})
        return r.json().get("items", [])

    @staticmethod
    def _ready(pod: dict) -> bool:
        return pod.get("status", {}).get("phase") == "Running" and not pod["metadata"].get("deletionTimestamp") and \
            any(c["type"] == "Ready" and c["status"] == "True" for c in pod.get("status", {}).get("conditions", []))

    async def node_ready(self, name: str) -> str:
        r = await self.api.get(f"/api/v1/nodes/{name}")
        conds = r.json().get("status", {}).get("conditions", [])
        return next((c["status"] for c in conds if c["type"] == "Ready"), "Unknown")

    async def store_leader(self) -> tuple[str, int] | None:
        """(leader's member name, term) as a live member sees it; names come from the member list."""
        for comp, url in zip(self.plan.of_kind("etcd"), self.plan.store_urls):
            if procs.running_pid(self.cdir, comp) is None:
                continue
            try:
                st = (await self.store.post(url + "/v3/maintenance/status", content="{}")).json()
                members = (await self.store.post(url + "/v3/cluster/member/list", content="{}")).json()["members"]
            except (httpx.HTTPError, ValueError, KeyError):
                continue
            if st.get("leader"):
                names = {m["ID"]: m["name"] for m in members}
                return names.get(st["leader"], st["leader"]), int(st.get("raftTerm", 0))
        return None

    async def wait(self, cond, what: str, timeout: float | None = None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while time.monotonic() < deadline:
            try:
                value = await cond()
                if value:
                    return value
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            await asyncio.sleep(0.25)
        raise TimeoutError(f"timed out waiting for {what}")

    # ---------------------------------------------------------------- traffic

    async def traffic(self, stop: asyncio.Event) -> None:
        """Request the NodePort every 200 ms, through the next node that is still alive."""
        i = 0
        while not stop.is_set():
            alive = [n for n in self.plan.node_ips if n not in self.dead_nodes]
            ip = self.plan.node_ips[alive[i % len(alive)]]
            i += 1
            try:
                r = await self.web.get(f"http://{ip}:{self.node_port}/")
                pod = next((ln.split(":", 1)[1].strip() for ln in r.text.splitlines() if ln.startswith("pod:")), "?")
                if pod not in self.answers:
                    self.log.say(f"request via {ip}:{self.node_port} answered by pod {pod} (first answer from it)")
                self.answers[pod] += 1
            except httpx.HTTPError:
                self.failures += 1
            await asyncio.sleep(0.2)

    # ---------------------------------------------------------------- the story

    async def run(self) -> int:
        say = self.log.say
        grace = self.plan.settings.get("node_monitor_grace_period", "40s")
        eviction = self.plan.settings.get("pod_eviction_timeout", "5m")
        say(f"cluster '{self.plan.name}': node-monitor-grace-period {grace}, pod-eviction-timeout {eviction}")
        if flags.duration(grace) + flags.duration(eviction) > 60:
            say("hint: these are upstream's defaults, so pods move after minutes; for a quick demo use "
                "`kubeling up --name demo --node-monitor-grace-period 4s --pod-eviction-timeout 5s`")
        await self.api.post("/apis/apps/v1/namespaces/default/deployments", json=_deployment(self.replicas))
        r = await self.api.post("/api/v1/namespaces/default/services", json=_service())
        svc = r.json() if r.status_code == 201 else (await self.api.get(f"/api/v1/namespaces/default/services/{NAME}")).json()
        self.node_port = svc["spec"]["ports"][0]["nodePort"]
        ready = await self.wait(lambda: self._all_ready(), f"{self.replicas} pods Running")
        say(f"deployment {NAME}: {len(ready)} pods Running on " + ", ".join(sorted({p['spec']['nodeName'] for p in ready}))
            + f"; NodePort {self.node_port}")
        stop = asyncio.Event()
        traffic = asyncio.create_task(self.traffic(stop))
        try:
            await asyncio.sleep(2)
            await self.kill_a_node(ready)
            await self.kill_the_store_leader()
        finally:
            await self.heal()  # whatever happened, put the killed components back
            stop.set()
            await traffic
        return await self.verify()

    async def _all_ready(self) -> list[dict]:
        pods = [p for p in await self.pods() if self._ready(p)]
        return pods if len(pods) >= self.replicas else []

    async def kill_a_node(self, ready: list[dict]) -> None:
        say = self.log.say
        victim = Counter(p["spec"]["nodeName"] for p in ready).most_common(1)[0][0]
        on_victim = {p["metadata"]["name"] for p in ready if p["spec"]["nodeName"] == victim}
        procs.kill(self.cdir, self.plan.get(victim))
        self.dead_nodes.add(victim)
        say(f"killed node agent {victim} (SIGKILL); its pods: {', '.join(sorted(on_victim))}")
        await self.wait(lambda: self._is(victim, "NotReady"), f"{victim} NotReady")
        say(f"{victim} is NotReady (its Lease stopped being renewed)")

        async def replaced():
            pods = [p for p in await self.pods() if self._ready(p) and p["spec"]["nodeName"] != victim]
            return pods if len(pods) >= self.replicas else []

        pods = await self.wait(replaced, "replacement pods Running on the surviving nodes",
                               flags.duration(self.plan.settings.get("pod_eviction_timeout", "5m")) + self.timeout)
        before = {p["metadata"]["name"] for p in ready}
        new = [p for p in pods if p["metadata"]["name"] not in before]
        say("replacement pods Running: " + ", ".join(f"{p['metadata']['name']} on {p['spec']['nodeName']}" for p in new))

    async def _is(self, node: str, state: str) -> bool:
        return (await self.node_ready(node)) != "True" if state == "NotReady" else (await self.node_ready(node)) == "True"

    async def kill_the_store_leader(self) -> None:
        say = self.log.say
        leader, term = await self.wait(self.store_leader, "a store leader")
        procs.kill(self.cdir, self.plan.get(leader))
        killed_at = time.monotonic()
        say(f"killed the store's Raft leader {leader} (term {term}, SIGKILL)")

        async def new_leader():
            found = await self.store_leader()
            return found if found and found[0] != leader and found[1] > term else None

        name, new_term = await self.wait(new_leader, "a new store leader")
        say(f"store elected {name} as leader (term {new_term}) {time.monotonic() - killed_at:.1f}s after the kill")
        await self.wait(self._api_writes, "the API accepting writes")
        say("the apiserver writes through the new leader")
        self.killed_store = leader

    async def _api_writes(self) -> bool:
        r = await self.api.patch(f"/apis/apps/v1/namespaces/default/deployments/{NAME}",
                                 json={"metadata": {"annotations": {"kubeling.dev/demo": str(time.time())}}},
                                 headers={"Content-Type": "application/merge-patch+json"})
        return r.status_code == 200

    async def heal(self) -> None:
        say = self.log.say
        for name in [n for n in (self.killed_store, *sorted(self.dead_nodes)) if n]:
            procs.start(self.cdir, self.plan.get(name))
            say(f"started {name} again")
        for node in sorted(self.dead_nodes):
            await self.wait(lambda n=node: self._is(n, "Ready"), f"{node} Ready")
            say(f"{node} is Ready again")
        self.dead_nodes.clear()

    async def verify(self) -> int:
        say = self.log.say
        say(f"during the drills: {sum(self.answers.values())} requests answered by {len(self.answers)} pods, "
            f"{self.failures} failed")
        ok = 0
        for i in range(30):
            ip = list(self.plan.node_ips.values())[i % len(self.plan.node_ips)]
            try:
                r = await self.web.get(f"http://{ip}:{self.node_port}/")
                ok += r.status_code == 200
            except httpx.HTTPError:
                pass
        say(f"after recovery: {ok}/30 requests succeeded through every node's NodePort")
        return 0 if ok == 30 else 1

    async def cleanup(self) -> None:
        await self.api.delete(f"/apis/apps/v1/namespaces/default/deployments/{NAME}")
        await self.api.delete(f"/api/v1/namespaces/default/services/{NAME}")
        await self.api.aclose()
        await self.store.aclose()
        await self.web.aclose()


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="kubeling demo failover", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenario", choices=["failover"])
    p.add_argument("--name", default=None, help="cluster name (default: the only cluster)")
    p.add_argument("--replicas", type=int, default=3)
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for each step")
    p.add_argument("--keep", action="store_true", help="leave the demo Deployment and Service in place")
    args = p.parse_args(argv)
    from .commands import _load

    cdir, plan = _load(args.name)
    if not plan.node_ips:
        raise SystemExit("kubeling demo: this cluster has no node agents")
    demo = Demo(cdir, plan, args.replicas, args.timeout)

    async def go() -> int:
        try:
            return await demo.run()
        except TimeoutError as e:
            demo.log.say(f"FAILED: {e}")
            return 1
        finally:
            if not args.keep:
                await demo.cleanup()

    return asyncio.run(go())
