"""Admission in upstream's order: mutating plugins, then the strategy's prepare/default/validate,
then validating plugins (which may reserve), then the write, whose outcome the reservations learn.

Over HTTP against a real apiserver and store, and in-process against the same store with
recording plugins standing in for webhooks, where the phases' order is visible step by step.
"""
from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

import pytest

from kubeling.services.apiserver.admission.chain import AdmissionChain
from kubeling.services.apiserver.admission.interfaces import (AfterDelete, Attributes, FinishFunc, MutationInterface,
                                                            Operation, Reservation, ValidationInterface)
from kubeling.services.apiserver.api import errors
from kubeling.services.apiserver.api.quantity import parse_quantity
from kubeling.services.apiserver.registry.pods import PodStrategy
from kubeling.services.apiserver.registry.store import Store
from kubeling.services.apiserver.storage import EtcdClient

MERGE = {"Content-Type": "application/merge-patch+json"}


def _pod(name: str, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec}}


def _used(h: Any, ns: str, quota: str) -> dict[str, str]:
    r = h.get(f"/api/v1/namespaces/{ns}/resourcequotas/{quota}")
    assert r.status_code == 200, r.text
    return r.json()["status"]["used"]


# --- over HTTP ----------------------------------------------------------------------------------

def test_what_service_account_admission_sets_is_validated(cluster):
    """ServiceAccount admission copies the deprecated spec.serviceAccount into serviceAccountName;
    validation runs after it, so a name that is no DNS subdomain is refused, not stored."""
    r = cluster.http.post("/api/v1/namespaces/default/pods", json=_pod("sa-bad", serviceAccount="Bad_Name"))
    assert r.status_code == 422, r.text
    st = r.json()
    assert st["reason"] == "Invalid"
    assert [c["field"] for c in st["details"]["causes"]] == ["spec.serviceAccountName"]
    assert st["message"].startswith('Pod "sa-bad" is invalid: spec.serviceAccountName: Invalid value: "Bad_Name"')
    assert cluster.http.get("/api/v1/namespaces/default/pods/sa-bad").status_code == 404
    ok = cluster.http.post("/api/v1/namespaces/default/pods", json=_pod("sa-good", serviceAccount="builder"))
    assert ok.status_code == 201, ok.text
    assert ok.json()["spec"]["serviceAccountName"] == "builder"


def test_namespace_lifecycle_runs_before_validation(cluster):
    """NamespaceLifecycle is a mutating plugin upstream: a create into a missing namespace is a 404
    for the namespace even when the body is invalid too."""
    r = cluster.http.post("/api/v1/namespaces/nowhere/configmaps", json={"metadata": {"name": "Not_Valid"}})
    assert r.status_code == 404, r.text
    assert r.json()["message"] == 'namespaces "nowhere" not found'


def test_default_tolerations_come_back_on_update(cluster):
    """DefaultTolerationSeconds handles updates too (upstream's Handler(Create, Update)): a pod
    replaced without the defaults gets them again."""
    h = cluster.http
    created = h.post("/api/v1/namespaces/default/pods", json=_pod("tol")).json()
    keys = {t["key"] for t in created["spec"]["tolerations"]}
    assert keys == {"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"}
    body = copy.deepcopy(created)
    body["spec"]["tolerations"] = []
    r = h.put("/api/v1/namespaces/default/pods/tol", json=body)
    assert r.status_code == 200, r.text
    assert {t["key"] for t in r.json()["spec"]["tolerations"]} == keys


def test_quota_sees_the_defaulted_pod(cluster):
    """Quota is a validating plugin: it sees requests defaulted from limits, so a pod that sets
    only limits satisfies a requests quota and is charged its defaulted requests."""
    h = cluster.http
    assert h.post("/api/v1/namespaces", json={"metadata": {"name": "defaulted"}}).status_code == 201
    q = {"metadata": {"name": "mem"}, "spec": {"hard": {"requests.memory": "1Gi"}}}
    assert h.post("/api/v1/namespaces/defaulted/resourcequotas", json=q).status_code == 201
    pod = _pod("limited")
    pod["spec"]["containers"][0]["resources"] = {"limits": {"memory": "256Mi"}}
    r = h.post("/api/v1/namespaces/defaulted/pods", json=pod)
    assert r.status_code == 201, r.text
    assert parse_quantity(_used(h, "defaulted", "mem")["requests.memory"]) == parse_quantity("256Mi")


def test_a_refused_write_gives_back_every_quota_charge(cluster):
    """With two quotas, the first (in name order) is charged before the second refuses; the
    refusal gives the first its charge back, for a create and for an update."""
    h = cluster.http
    ns = "twoquotas"
    assert h.post("/api/v1/namespaces", json={"metadata": {"name": ns}}).status_code == 201
    for name, hard in (("a-roomy", {"configmaps": "10", "services.nodeports": "5"}),
                       ("b-tight", {"configmaps": "1", "services.nodeports": "0"})):
        r = h.post(f"/api/v1/namespaces/{ns}/resourcequotas", json={"metadata": {"name": name}, "spec": {"hard": hard}})
        assert r.status_code == 201, r.text
    assert h.post(f"/api/v1/namespaces/{ns}/configmaps", json={"metadata": {"name": "one"}}).status_code == 201
    assert _used(h, ns, "a-roomy")["configmaps"] == "1"
    r = h.post(f"/api/v1/namespaces/{ns}/configmaps", json={"metadata": {"name": "two"}})
    assert r.status_code == 403, r.text
    assert r.json()["message"].startswith('configmaps "two" is forbidden: exceeded quota: b-tight')
    assert _used(h, ns, "a-roomy")["configmaps"] == "1"
    assert _used(h, ns, "b-tight")["configmaps"] == "1"

    svc = {"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}}
    assert h.post(f"/api/v1/namespaces/{ns}/services", json=svc).status_code == 201
    r = h.patch(f"/api/v1/namespaces/{ns}/services/web", content=json.dumps({"spec": {"type": "NodePort"}}), headers=MERGE)
    assert r.status_code == 403, r.text
    assert "exceeded quota: b-tight, requested: services.nodeports=1" in r.json()["message"]
    assert _used(h, ns, "a-roomy")["services.nodeports"] == "0"
    assert h.get(f"/api/v1/namespaces/{ns}/services/web").json()["spec"]["type"] == "ClusterIP"


def test_a_create_that_is_not_written_gives_back_its_charge(cluster):
    """AlreadyExists comes from the write itself, after quota charged the object."""
    h = cluster.http
    ns = "lostwrite"
    assert h.post("/api/v1/namespaces", json={"metadata": {"name": ns}}).status_code == 201
    q = {"metadata": {"name": "q"}, "spec": {"hard": {"configmaps": "5"}}}
    assert h.post(f"/api/v1/namespaces/{ns}/resourcequotas", json=q).status_code == 201
    assert h.post(f"/api/v1/namespaces/{ns}/configmaps", json={"metadata": {"name": "same"}}).status_code == 201
    before = _used(h, ns, "q")["configmaps"]
    for _ in range(3):
        assert h.post(f"/api/v1/namespaces/{ns}/configmaps", json={"metadata": {"name": "same"}}).status_code == 409
    assert _used(h, ns, "q")["configmaps"] == before == "1"


# --- in process, against the same store -----------------------------------------------------------

class Recorder(MutationInterface, ValidationInterface, Reservation, AfterDelete):
    """Plays both phases (as upstream's ServiceAccount plugin does) and reserves, writing down
    what each phase saw; `bad_label` makes the mutating phase add an invalid label."""

    operations = frozenset({Operation.CREATE, Operation.UPDATE, Operation.DELETE})

    def __init__(self, log: list[tuple[str, Any]], bad_label: bool = False) -> None:
        self.log, self.bad_label = log, bad_label

    async def admit(self, a: Attributes) -> None:
        obj = a.obj or {}
        self.log.append(("admit", a.operation, copy.deepcopy(obj)))
        if a.operation != Operation.DELETE:
            obj["metadata"].setdefault("labels", {})["admitted"] = "no good!" if self.bad_label else "yes"

    async def validate(self, a: Attributes) -> None:
        self.log.append(("validate", a.operation, copy.deepcopy(a.obj)))

    async def reserve(self, a: Attributes) -> FinishFunc:
        self.log.append(("reserve", a.operation, None))

        async def finish(success: bool) -> None:
            self.log.append(("finish", a.operation, success))
        return finish

    async def after_delete(self, store: Store, obj: dict[str, Any]) -> None:
        self.log.append(("after_delete", None, obj["metadata"]["name"]))


class Refuser(ValidationInterface):
    operations = frozenset({Operation.CREATE})

    async def validate(self, a: Attributes) -> None:
        raise errors.forbidden("pods", a.name, "refused by a later plugin")


def _run(store_url: str, chain: AdmissionChain, steps: Any) -> None:
    async def main() -> None:
        client = EtcdClient([store_url])
        store = Store(client, PodStrategy(), chain)
        try:
            await steps(store)
        finally:
            await store.cache.close()
            await client.close()
    asyncio.run(main())


def test_the_phases_run_in_upstream_order(cluster):
    log: list[tuple[str, Any]] = []
    ns = "inprocess-order"

    async def steps(store: Store) -> None:
        created = await store.create(ns, _pod("p1"))
        assert [e[0] for e in log] == ["admit", "validate", "reserve", "finish"]
        admitted, validated = log[0][2], log[1][2]
        # mutating admission sees the request: no defaults, no server-set metadata yet
        assert "restartPolicy" not in admitted["spec"] and "uid" not in admitted["metadata"]
        # validating admission sees the object as stored: defaulted, prepared, with what admission added
        assert validated["spec"]["restartPolicy"] == "Always" and validated["metadata"]["uid"]
        assert validated["status"] == {"phase": "Pending", "qosClass": "BestEffort"}
        assert validated["metadata"]["labels"] == {"admitted": "yes"}
        assert log[3] == ("finish", Operation.CREATE, True)
        assert created["metadata"]["labels"] == {"admitted": "yes"}

        log.clear()  # a create that loses at the write: the reservation hears it
        with pytest.raises(errors.StatusError) as e:
            await store.create(ns, _pod("p1"))
        assert e.value.code == 409
        assert [e[0] for e in log] == ["admit", "validate", "reserve", "finish"] and log[-1][2] is False

        log.clear()  # an update: mutating admission sees the new object before status is restored
        body = copy.deepcopy(created)
        body["status"] = {"phase": "Running"}
        body["metadata"]["labels"] = {}
        updated, _ = await store.update(ns, "p1", lambda cur: body)
        assert [e[0] for e in log] == ["admit", "validate", "reserve", "finish"]
        assert log[0][2]["status"] == {"phase": "Running"} and log[1][2]["status"]["phase"] == "Pending"
        assert updated["metadata"]["labels"] == {"admitted": "yes"} and log[-1][2] is True

        log.clear()  # a delete: both phases see nothing new, then the object leaves the store
        await store.delete(ns, "p1", {"gracePeriodSeconds": 0})
        assert [e[0] for e in log] == ["admit", "validate", "reserve", "after_delete", "finish"]
        assert log[-1][2] is True

    _run(cluster.store_url, AdmissionChain([Recorder(log)]), steps)


def test_what_mutating_admission_adds_is_validated_before_validating_admission(cluster):
    log: list[tuple[str, Any]] = []

    async def steps(store: Store) -> None:
        with pytest.raises(errors.StatusError) as e:
            await store.create("inprocess-invalid", _pod("p2"))
        assert e.value.code == 422
        assert "metadata.labels: Invalid value: \"no good!\"" in e.value.message
        assert [e[0] for e in log] == ["admit"]  # never validated by plugins, nothing reserved
        with pytest.raises(errors.StatusError):
            await store.get("inprocess-invalid", "p2")

    _run(cluster.store_url, AdmissionChain([Recorder(log, bad_label=True)]), steps)


def test_a_later_refusal_gives_back_what_earlier_plugins_reserved(cluster):
    log: list[tuple[str, Any]] = []

    async def steps(store: Store) -> None:
        with pytest.raises(errors.StatusError) as e:
            await store.create("inprocess-refused", _pod("p3"))
        assert e.value.code == 403 and "refused by a later plugin" in e.value.message
        assert [x[0] for x in log] == ["admit", "validate", "reserve", "finish"] and log[-1][2] is False

    _run(cluster.store_url, AdmissionChain([Recorder(log), Refuser()]), steps)
