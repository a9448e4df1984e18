"""RBAC: a user gets exactly what Roles and ClusterRoles bound to them grant, the denial is
upstream's 403 message, subresources are separate permissions, aggregated ClusterRoles work, and
`kubectl auth can-i` (SelfSubjectAccessReview / SelfSubjectRulesReview) tells the truth."""
from __future__ import annotations

import json

from tests.support.procs import wait_until

from .conftest import SecureCluster


def _admin(secure: SecureCluster, *args: str, input: str | None = None) -> str:
    return secure.kubectl(secure.kubeconfig("admin", token="admin-token"), *args, input=input, check=True).stdout


def test_bootstrap_policy_exists(secure: SecureCluster) -> None:
    roles = json.loads(_admin(secure, "get", "clusterroles", "-o", "json"))["items"]
    names = {r["metadata"]["name"] for r in roles}
    assert {"cluster-admin", "admin", "edit", "view", "system:basic-user", "system:discovery", "system:public-info-viewer",
            "system:kube-scheduler", "system:kube-controller-manager", "system:node"} <= names
    crb = json.loads(_admin(secure, "get", "clusterrolebinding", "cluster-admin", "-o", "json"))
    assert crb["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:masters"}]


def test_role_without_the_verb_is_forbidden_with_upstreams_message(secure: SecureCluster) -> None:
    alice = secure.kubeconfig("alice", token="alice-token")
    _admin(secure, "create", "namespace", "dev")
    r = secure.kubectl(alice, "get", "pods", "-n", "dev")
    assert r.returncode != 0
    assert r.stderr.strip() == ('Error from server (Forbidden): pods is forbidden: User "alice" cannot list resource "pods" '
                                'in API group "" in the namespace "dev"')
    _admin(secure, "create", "role", "pod-reader", "-n", "dev", "--verb=get,list,watch", "--resource=pods")
    _admin(secure, "create", "rolebinding", "alice-reads", "-n", "dev", "--role=pod-reader", "--user=alice")
    _admin(secure, "run", "web", "-n", "dev", "--image=nginx")
    wait_until(lambda: secure.kubectl(alice, "get", "pods", "-n", "dev").returncode == 0, timeout=10, what="binding effective")
    assert "web" in secure.kubectl(alice, "get", "pod", "web", "-n", "dev", check=True).stdout
    r = secure.kubectl(alice, "delete", "pod", "web", "-n", "dev")
    assert r.returncode != 0
    assert ('pods "web" is forbidden: User "alice" cannot delete resource "pods" in API group "" in the namespace "dev"'
            in r.stderr)
    # the role is namespaced: nothing in another namespace
    r = secure.client("alice-token").get("/api/v1/namespaces/default/pods")
    assert r.status_code == 403
    body = r.json()
    assert body["reason"] == "Forbidden" and body["details"] == {"kind": "pods"}
    # cluster-scoped resources
    r = secure.client("alice-token").get("/api/v1/nodes")
    assert r.json()["message"] == ('nodes is forbidden: User "alice" cannot list resource "nodes" in API group "" '
                                   'at the cluster scope')
    # non-resource URLs: discovery is granted to every authenticated user, /metrics is not
    assert secure.client("alice-token").get("/apis").status_code == 200
    r = secure.client("alice-token").get("/metrics")
    assert r.status_code == 403 and r.json()["message"] == 'forbidden: User "alice" cannot get path "/metrics"'


def test_subresources_are_separate_permissions(secure: SecureCluster) -> None:
    _admin(secure, "create", "namespace", "sub")
    _admin(secure, "create", "deployment", "app", "-n", "sub", "--image=nginx", "--replicas=1")
    _admin(secure, "run", "lone", "-n", "sub", "--image=nginx")
    _admin(secure, "create", "role", "reader", "-n", "sub", "--verb=get,list", "--resource=pods,deployments.apps")
    _admin(secure, "create", "rolebinding", "alice", "-n", "sub", "--role=reader", "--user=alice")
    alice = secure.client("alice-token")
    wait_until(lambda: alice.get("/api/v1/namespaces/sub/pods/lone").status_code == 200, timeout=10, what="binding effective")
    r = alice.get("/api/v1/namespaces/sub/pods/lone/log")
    assert r.status_code == 403
    assert r.json()["message"] == ('pods "lone" is forbidden: User "alice" cannot get resource "pods/log" in API group "" '
                                   'in the namespace "sub"')
    r = alice.post("/api/v1/namespaces/sub/pods/lone/exec?command=ls&stdout=true")
    assert r.status_code == 403 and 'cannot create resource "pods/exec"' in r.json()["message"]
    r = alice.patch("/apis/apps/v1/namespaces/sub/deployments/app/scale", json={"spec": {"replicas": 2}},
                    headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 403
    assert r.json()["message"] == ('deployments.apps "app" is forbidden: User "alice" cannot patch resource "deployments/scale" '
                                   'in API group "apps" in the namespace "sub"')
    r = alice.post("/api/v1/namespaces/sub/pods/lone/binding", json={"metadata": {"name": "lone"}, "target": {"name": "somewhere"}})
    assert r.status_code == 403 and 'cannot create resource "pods/binding"' in r.json()["message"]
    # a rule for the subresource grants it
    _admin(secure, "create", "role", "scaler", "-n", "sub", "--verb=patch,get", "--resource=deployments.apps/scale")
    _admin(secure, "create", "rolebinding", "alice-scales", "-n", "sub", "--role=scaler", "--user=alice")
    wait_until(lambda: alice.patch("/apis/apps/v1/namespaces/sub/deployments/app/scale", json={"spec": {"replicas": 2}},
                                   headers={"Content-Type": "application/merge-patch+json"}).status_code == 200,
               timeout=10, what="scale granted")


def test_aggregated_cluster_roles_view_and_edit(secure: SecureCluster) -> None:
    _admin(secure, "create", "namespace", "team")
    _admin(secure, "create", "rolebinding", "alice-view", "-n", "team", "--clusterrole=view", "--user=alice")
    alice = secure.kubeconfig("alice", token="alice-token")
    wait_until(lambda: secure.kubectl(alice, "get", "deployments", "-n", "team").returncode == 0, timeout=10,
               what="view (aggregated from system:aggregate-to-view) effective")
    assert secure.kubectl(alice, "get", "secrets", "-n", "team").returncode != 0  # view never shows secrets
    assert secure.kubectl(alice, "create", "configmap", "x", "-n", "team").returncode != 0
    # a new ClusterRole labelled aggregate-to-view extends view at once
    _admin(secure, "apply", "-f", "-", input=json.dumps({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "see-secrets", "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
        "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}]}))
    wait_until(lambda: secure.kubectl(alice, "get", "secrets", "-n", "team").returncode == 0, timeout=10,
               what="aggregated rule effective")
    _admin(secure, "delete", "clusterrole", "see-secrets")


def test_kubectl_auth_can_i(secure: SecureCluster) -> None:
    _admin(secure, "create", "namespace", "cani")
    _admin(secure, "create", "role", "cm", "-n", "cani", "--verb=get,list,create", "--resource=configmaps")
    _admin(secure, "create", "rolebinding", "alice-cm", "-n", "cani", "--role=cm", "--user=alice")
    alice = secure.kubeconfig("alice", token="alice-token")
    wait_until(lambda: secure.kubectl(alice, "auth", "can-i", "create", "configmaps", "-n", "cani").stdout.strip() == "yes",
               timeout=10, what="can-i yes")
    r = secure.kubectl(alice, "auth", "can-i", "delete", "configmaps", "-n", "cani")
    assert (r.returncode, r.stdout.strip()) == (1, "no")
    assert secure.kubectl(alice, "auth", "can-i", "create", "configmaps", "-n", "default").stdout.strip() == "no"
    assert secure.kubectl(alice, "auth", "can-i", "get", "/apis").stdout.strip() == "yes"
    assert secure.kubectl(secure.kubeconfig("admin", token="admin-token"), "auth", "can-i", "*", "*").stdout.strip() == "yes"
    listed = secure.kubectl(alice, "auth", "can-i", "--list", "-n", "cani", check=True).stdout
    assert any(line.split()[:1] == ["configmaps"] and "[get list create]" in line for line in listed.splitlines()), listed
    # SubjectAccessReview: an admin may ask about someone else
    sar = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
           "spec": {"user": "alice", "resourceAttributes": {"namespace": "cani", "verb": "list", "resource": "configmaps"}}}
    r = secure.admin.post("/apis/authorization.k8s.io/v1/subjectaccessreviews", json=sar)  # type: ignore[attr-defined]
    assert r.status_code == 201 and r.json()["status"]["allowed"] is True
    sar["spec"]["resourceAttributes"]["verb"] = "delete"
    r = secure.admin.post("/apis/authorization.k8s.io/v1/subjectaccessreviews", json=sar)  # type: ignore[attr-defined]
    assert r.json()["status"]["allowed"] is False


def test_impersonation_needs_the_impersonate_verb(secure: SecureCluster) -> None:
    _admin(secure, "create", "namespace", "imp")
    _admin(secure, "create", "role", "pods", "-n", "imp", "--verb=list", "--resource=pods")
    _admin(secure, "create", "rolebinding", "alice-pods", "-n", "imp", "--role=pods", "--user=alice")
    admin = secure.kubeconfig("admin", token="admin-token")
    wait_until(lambda: secure.kubectl(admin, "auth", "can-i", "list", "pods", "-n", "imp", "--as", "alice").stdout.strip() == "yes",
               timeout=10, what="can-i --as alice")
    assert secure.kubectl(admin, "auth", "can-i", "delete", "pods", "-n", "imp", "--as", "alice").stdout.strip() == "no"
    who = json.loads(secure.kubectl(admin, "auth", "whoami", "--as", "bob", "--as-group", "devs", "-o", "json", check=True).stdout)
    assert who["status"]["userInfo"] == {"username": "bob", "groups": ["devs", "system:authenticated"]}
    r = secure.client("alice-token").get("/api/v1/namespaces/imp/pods", headers={"Impersonate-User": "kubernetes-admin"})
    assert r.status_code == 403
    assert r.json()["message"] == ('users "kubernetes-admin" is forbidden: User "alice" cannot impersonate resource "users" '
                                   'in API group "" at the cluster scope')
    r = secure.client("alice-token").get("/api/v1/namespaces/imp/pods", headers={"Impersonate-Group": "system:masters"})
    assert r.status_code == 400


def test_no_privilege_escalation_through_roles_or_bindings(secure: SecureCluster) -> None:
    _admin(secure, "create", "namespace", "esc")
    _admin(secure, "create", "role", "rbac-writer", "-n", "esc", "--verb=create,get,list",
           "--resource=roles.rbac.authorization.k8s.io,rolebindings.rbac.authorization.k8s.io,configmaps")
    _admin(secure, "create", "rolebinding", "alice-writes-rbac", "-n", "esc", "--role=rbac-writer", "--user=alice")
    alice = secure.client("alice-token")
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "cm-reader"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}]}
    wait_until(lambda: alice.post("/apis/rbac.authorization.k8s.io/v1/namespaces/esc/roles", json=role).status_code == 201,
               timeout=10, what="alice creates a role within her own rights")
    greedy = {**role, "metadata": {"name": "greedy"},
              "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]}
    r = alice.post("/apis/rbac.authorization.k8s.io/v1/namespaces/esc/roles", json=greedy)
    assert r.status_code == 403
    assert r.json()["message"] == ('roles.rbac.authorization.k8s.io "greedy" is forbidden: user "alice" (groups=["system:authenticated"]) '
                                   'is attempting to grant RBAC permissions not currently held:\n'
                                   '{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}')
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "me-admin"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
               "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"}]}
    r = alice.post("/apis/rbac.authorization.k8s.io/v1/namespaces/esc/rolebindings", json=binding)
    assert r.status_code == 403 and "is attempting to grant RBAC permissions not currently held" in r.json()["message"]
    ok = {**binding, "metadata": {"name": "bob-reads"}, "roleRef": {**binding["roleRef"], "kind": "Role", "name": "cm-reader"},
          "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "bob"}]}
    assert alice.post("/apis/rbac.authorization.k8s.io/v1/namespaces/esc/rolebindings", json=ok).status_code == 201
    assert secure.client("alice-token").get("/api/v1/namespaces/esc/secrets").status_code == 403
