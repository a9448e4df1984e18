"""Unit tests of the security building blocks: JWT signing and verification, RBAC rule matching,
encryption transformers (upstream's stored format), and the 403 wording."""
from __future__ import annotations

import asyncio
import base64
import os
import time

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from kubeling.services.apiserver.auth.attributes import Attributes, resource_verb
from kubeling.services.apiserver.auth.authz import forbidden, parse_modes
from kubeling.services.apiserver.auth.jwt import JWTError, Signer, verify
from kubeling.services.apiserver.auth.rbac import rule_allows, subject_applies
from kubeling.services.apiserver.auth.serviceaccount import (
    Issuer,
    TokenInvalid,
    Verifier,
)
from kubeling.services.apiserver.auth.user import UserInfo
from kubeling.services.apiserver.storage.encryption import (
    DecryptError,
    EncryptionConfigError,
    parse_config,
)

ALICE = UserInfo("alice", "", ("devs", "system:authenticated"))


def attrs(verb: str, resource: str = "pods", sub: str = "", ns: str = "dev", name: str = "", group: str = "") -> Attributes:
    return Attributes(ALICE, verb, True, namespace=ns, api_group=group, resource=resource, subresource=sub, name=name)


@pytest.mark.parametrize("key", [ec.generate_private_key(ec.SECP256R1()), rsa.generate_private_key(65537, 2048)])
def test_jwt_round_trip_and_tamper(key) -> None:
    token = Signer(key).sign({"sub": "x", "n": 1})
    assert verify(token, [key.public_key()]) == {"sub": "x", "n": 1}
    h, p, s = token.split(".")
    with pytest.raises(JWTError):
        verify(f"{h}.{p[:-2]}AA.{s}", [key.public_key()])
    with pytest.raises(JWTError):
        verify(token, [ec.generate_private_key(ec.SECP256R1()).public_key()])
    for junk in ("", "a.b", "a.b.c", "...", "\x00.\x00.\x00"):
        with pytest.raises(JWTError):
            verify(junk, [key.public_key()])


def test_serviceaccount_tokens_are_bound_to_the_account_uid() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    issuer, verifier = Issuer(Signer(key)), Verifier([key.public_key()])
    sa = {"metadata": {"name": "robot", "uid": "u-1"}}
    token, exp = issuer.issue("dev", sa, None, 3600)
    assert exp > time.time()
    accounts = {("serviceaccounts", "dev", "robot"): sa}

    async def lookup(resource: str, ns: str, name: str):
        return accounts.get((resource, ns, name))
    user = asyncio.run(verifier.authenticate(token, lookup))
    assert user.name == "system:serviceaccount:dev:robot"
    assert user.groups == ("system:serviceaccounts", "system:serviceaccounts:dev", "system:authenticated")
    accounts[("serviceaccounts", "dev", "robot")] = {"metadata": {"name": "robot", "uid": "u-2"}}  # recreated
    with pytest.raises(TokenInvalid):
        asyncio.run(verifier.authenticate(token, lookup))
    with pytest.raises(TokenInvalid):  # another audience
        asyncio.run(Verifier([key.public_key()], audiences=["other"]).authenticate(token, lookup))


def test_rbac_rule_matching() -> None:
    r = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}
    assert rule_allows(attrs("get"), r) and rule_allows(attrs("list"), r)
    assert not rule_allows(attrs("delete"), r)
    assert not rule_allows(attrs("get", sub="log"), r)  # a subresource is its own resource
    assert rule_allows(attrs("get", sub="log"), {**r, "resources": ["pods/log"]})
    assert rule_allows(attrs("patch", "deployments", "scale", group="apps"), {"apiGroups": ["*"], "resources": ["*/scale"], "verbs": ["*"]})
    assert not rule_allows(attrs("get", group="apps"), r)
    named = {**r, "resourceNames": ["a"]}
    assert rule_allows(attrs("get", name="a"), named) and not rule_allows(attrs("get", name="b"), named)
    assert not rule_allows(attrs("list"), named)
    url = Attributes(ALICE, "get", False, path="/apis/apps")
    assert rule_allows(url, {"nonResourceURLs": ["/apis/*"], "verbs": ["get"]})
    assert not rule_allows(url, {"nonResourceURLs": ["/api"], "verbs": ["get"]})
    assert subject_applies({"kind": "Group", "name": "devs"}, ALICE, "")
    sa = UserInfo("system:serviceaccount:dev:bot")
    assert subject_applies({"kind": "ServiceAccount", "name": "bot"}, sa, "dev")
    assert not subject_applies({"kind": "ServiceAccount", "name": "bot", "namespace": "prod"}, sa, "dev")


def test_verbs_and_forbidden_message() -> None:
    assert [resource_verb("GET", False, False), resource_verb("GET", True, False), resource_verb("GET", False, True),
            resource_verb("DELETE", False, False), resource_verb("PATCH", True, False)] == ["list", "get", "watch", "deletecollection", "patch"]
    e = forbidden(attrs("list"))
    assert (e.code, e.message) == (403, 'pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "dev"')
    e = forbidden(attrs("patch", "deployments", "scale", name="web", group="apps"))
    assert e.message == ('deployments.apps "web" is forbidden: User "alice" cannot patch resource "deployments/scale" '
                         'in API group "apps" in the namespace "dev"')
    assert parse_modes("Node,RBAC") == ["Node", "RBAC"]
    with pytest.raises(ValueError):
        parse_modes("RBAC,Webhook")


def _config(provider: str, key: bytes) -> str:
    return (f"apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets, deployments.apps]\n"
            f"  providers:\n  - {provider}:\n      keys:\n      - name: k1\n        secret: {base64.b64encode(key).decode()}\n  - identity: {{}}\n")


@pytest.mark.parametrize("mode", ["aescbc", "aesgcm"])
def test_encryption_round_trip(mode: str) -> None:
    t = parse_config(_config(mode, os.urandom(32)))
    key = "/registry/secrets/ns/s"
    for data in (b"", b"x", b"{" + b"a" * 100 + b"}"):
        enc = t.to_storage(key, data)
        assert enc.startswith(f"k8s:enc:{mode}:v1:k1:".encode()) and (len(data) < 8 or data not in enc)
        assert t.from_storage(key, enc) == data
    assert t.to_storage("/registry/configmaps/ns/c", b"plain") == b"plain"
    assert t.to_storage("/registry/deployments/ns/d", b"plain").startswith(b"k8s:enc:")
    assert t.from_storage(key, b'{"old":"plaintext"}') == b'{"old":"plaintext"}'  # identity reads old data
    if mode == "aesgcm":  # the store key is authenticated data: a value moved elsewhere does not decrypt
        with pytest.raises(DecryptError):
            t.from_storage("/registry/secrets/ns/other", t.to_storage(key, b"x"))
    other = parse_config(_config(mode, os.urandom(32)))
    if mode == "aesgcm":  # authenticated: another key never decrypts
        with pytest.raises(DecryptError):
            other.from_storage(key, t.to_storage(key, b"secret"))
    else:  # aescbc is not authenticated (as upstream's): another key fails the padding, or yields garbage
        try:
            assert other.from_storage(key, t.to_storage(key, b"secret")) != b"secret"
        except DecryptError:
            pass


def test_encryption_config_errors() -> None:
    with pytest.raises(EncryptionConfigError):
        parse_config(_config("aescbc", os.urandom(7)))
    with pytest.raises(EncryptionConfigError):
        parse_config(_config("secretbox", os.urandom(32)))
    with pytest.raises(EncryptionConfigError):
        parse_config("kind: Nope\n")


def test_node_graph_and_label_rules() -> None:
    from kubeling.services.apiserver.admission.noderestriction import _node_may_set_label
    from kubeling.services.apiserver.auth.node import _pod_refs
    pod = {"spec": {"serviceAccountName": "runner", "imagePullSecrets": [{"name": "pull"}],
                    "volumes": [{"name": "a", "secret": {"secretName": "vol"}}, {"name": "b", "configMap": {"name": "cm"}},
                                {"name": "c", "projected": {"sources": [{"secret": {"name": "proj"}}]}},
                                {"name": "d", "persistentVolumeClaim": {"claimName": "data"}}],
                    "containers": [{"name": "x", "env": [{"name": "E", "valueFrom": {"secretKeyRef": {"name": "env", "key": "k"}}}],
                                    "envFrom": [{"configMapRef": {"name": "cm2"}}]}]}}
    assert _pod_refs(pod, "secrets") == {"vol", "proj", "pull", "env"}
    assert _pod_refs(pod, "configmaps") == {"cm", "cm2"}
    assert _pod_refs(pod, "persistentvolumeclaims") == {"data"}
    assert _pod_refs(pod, "serviceaccounts") == {"runner"}
    assert _pod_refs({"spec": {}}, "serviceaccounts") == {"default"}
    allowed = ["kubernetes.io/hostname", "topology.kubernetes.io/zone", "node.kubernetes.io/instance-type",
               "kubelet.kubernetes.io/x", "zone", "example.com/rack"]
    refused = ["node-restriction.kubernetes.io/pci", "node-role.kubernetes.io/control-plane", "kubernetes.io/other",
               "foo.k8s.io/x", "a.node-restriction.kubernetes.io/b"]
    assert all(_node_may_set_label(k) for k in allowed)
    assert not any(_node_may_set_label(k) for k in refused)


def test_impersonation_headers() -> None:
    from starlette.datastructures import Headers

    from kubeling.services.apiserver.api.errors import StatusError
    from kubeling.services.apiserver.auth.impersonation import impersonate
    asked: list[tuple[str, str, str]] = []

    def allow(a: Attributes) -> tuple[bool, str]:
        asked.append((a.resource, a.namespace, a.name))
        return True, ""
    h = Headers(raw=[(b"impersonate-user", b"system:serviceaccount:ns1:bot"), (b"impersonate-group", b"g1"),
                     (b"impersonate-group", b"g2")])
    user = impersonate(ALICE, h, allow)
    assert user.name == "system:serviceaccount:ns1:bot"
    assert user.groups == ("system:serviceaccounts", "system:serviceaccounts:ns1", "g1", "g2", "system:authenticated")
    assert asked == [("serviceaccounts", "ns1", "bot"), ("groups", "", "g1"), ("groups", "", "g2")]
    assert impersonate(ALICE, Headers({}), allow) is ALICE
    with pytest.raises(StatusError) as e:
        impersonate(ALICE, Headers({"impersonate-user": "root"}), lambda a: (False, ""))
    assert e.value.code == 403 and e.value.message.startswith('users "root" is forbidden: User "alice" cannot impersonate')
    with pytest.raises(StatusError):
        impersonate(ALICE, Headers({"impersonate-group": "system:masters"}), allow)


def test_authenticator_anonymous_and_wrong_credentials() -> None:
    from kubeling.services.apiserver.api.errors import StatusError
    from kubeling.services.apiserver.auth.authn import Authenticator, is_public
    tokens = {"t": UserInfo("bob", "1", ("system:authenticated",))}
    strict, lenient, open_ = Authenticator(tokens=tokens, anonymous=False), Authenticator(tokens=tokens, anonymous=True), Authenticator()
    assert asyncio.run(strict.authenticate("Bearer t", None)).name == "bob"
    for auth in (strict, lenient):
        with pytest.raises(StatusError) as e:  # a wrong credential is a 401 even where anonymous is allowed
            asyncio.run(auth.authenticate("Bearer wrong", None))
        assert e.value.code == 401
    with pytest.raises(StatusError):
        asyncio.run(strict.authenticate(None, None))
    assert asyncio.run(lenient.authenticate(None, None)).name == "system:anonymous"
    assert asyncio.run(open_.authenticate("Bearer anything", None)).groups == ("system:unauthenticated",)
    assert all(is_public(p) for p in ("/healthz", "/livez/", "/readyz/etcd", "/version"))
    assert not any(is_public(p) for p in ("/healthzz", "/api", "/versions", "/metrics"))
