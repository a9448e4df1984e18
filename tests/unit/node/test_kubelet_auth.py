"""The kubelet API's authn/authz filter: upstream's request -> (verb, nodes/<subresource>)
mapping, the SubjectAccessReview it sends, the decision cache and the refusal bodies."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from kubeling.services.node.kubelet.auth import (
    AlwaysAllow,
    Attributes,
    AuthorizationError,
    KubeletAuth,
    User,
    WebhookAuthorizer,
    WebhookTokenAuthenticator,
    request_attributes,
    user_from_certificate,
)
from kubeling.shared.httpserver import Request, Response, text
from kubeling.shared.pki import CertificateAuthority

ALICE = User("alice", ("devs", "system:authenticated"))


@pytest.mark.parametrize("method,path,verb,sub", [
    ("GET", "/containerLogs/default/web/c", "get", "proxy"),
    ("GET", "/exec/default/web/c", "get", "proxy"),          # a WebSocket exec is a GET
    ("POST", "/exec/default/web/c", "create", "proxy"),      # SPDY exec
    ("POST", "/run/default/web/c", "create", "proxy"),
    ("GET", "/pods", "get", "proxy"),
    ("GET", "/healthz", "get", "proxy"),
    ("GET", "/metrics", "get", "metrics"),
    ("GET", "/metrics/cadvisor", "get", "metrics"),
    ("GET", "/metricsx", "get", "proxy"),                    # a sibling path is not a subpath
    ("GET", "/stats/summary", "get", "stats"),
    ("GET", "/stats", "get", "stats"),
    ("GET", "/logs/syslog", "get", "log"),
    ("POST", "/checkpoint/default/web/c", "create", "checkpoint"),
    ("PUT", "/pods", "update", "proxy"),
    ("PATCH", "/pods", "patch", "proxy"),
    ("DELETE", "/pods", "delete", "proxy"),
    ("HEAD", "/pods", "", "proxy"),                          # upstream maps no other method to a verb
])
def test_request_attributes_follow_upstream(method: str, path: str, verb: str, sub: str) -> None:
    a = request_attributes(ALICE, method, path, "node-1")
    assert (a.verb, a.resource, a.subresource, a.name) == (verb, "nodes", sub, "node-1")


def test_certificate_user_is_cn_and_groups_are_o() -> None:
    ca = CertificateAuthority.create()
    pem = ca.issue("kube-apiserver-kubelet-client", orgs=("system:masters",), client=True).cert
    der = x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)
    assert user_from_certificate(der) == User("kube-apiserver-kubelet-client", ("system:masters", "system:authenticated"))


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_webhook_sends_upstreams_subject_access_review_and_caches_answers() -> None:
    sent: list[dict[str, Any]] = []
    answer = {"allowed": True}

    async def review(body: dict[str, Any]) -> dict[str, Any]:
        sent.append(body)
        return {**body, "status": dict(answer)}
    clock = FakeClock()
    w = WebhookAuthorizer(review, authorized_ttl=300, unauthorized_ttl=30, clock=clock)
    attrs = request_attributes(ALICE, "GET", "/exec/ns/p/c", "node-1")
    assert run(w.authorize(attrs)) is True
    assert sent[0]["kind"] == "SubjectAccessReview" and sent[0]["apiVersion"] == "authorization.k8s.io/v1"
    assert sent[0]["spec"] == {"user": "alice", "groups": ["devs", "system:authenticated"],
                               "resourceAttributes": {"verb": "get", "group": "", "version": "v1", "resource": "nodes",
                                                      "subresource": "proxy", "name": "node-1"}}
    answer["allowed"] = False
    clock.now += 299
    assert run(w.authorize(attrs)) is True and len(sent) == 1          # allowed: cached for 5 minutes
    clock.now += 2
    assert run(w.authorize(attrs)) is False and len(sent) == 2         # expired: asked again
    answer["allowed"] = True
    clock.now += 29
    assert run(w.authorize(attrs)) is False and len(sent) == 2         # denied: cached for 30 s
    clock.now += 2
    assert run(w.authorize(attrs)) is True and len(sent) == 3
    other = request_attributes(ALICE, "GET", "/stats/summary", "node-1")
    assert run(w.authorize(other)) is True and len(sent) == 4          # other attributes, own entry


def _request(path: str, cert: bytes | None = None, method: str = "GET") -> Request:
    return Request(method, path, {}, {}, peer_cert=cert)


async def _ok(req: Request) -> Response:
    return text("served")


def test_filter_refuses_anonymous_forbidden_and_undecidable_requests_in_upstreams_words() -> None:
    ca = CertificateAuthority.create()

    def der(cn: str, *orgs: str) -> bytes:
        return x509.load_pem_x509_certificate(ca.issue(cn, orgs=orgs, client=True).cert).public_bytes(Encoding.DER)

    class Decider:
        async def authorize(self, attrs: Attributes) -> bool:
            if attrs.user.name == "broken":
                raise AuthorizationError("connection refused")
            return attrs.user.name == "admin"

    guard = KubeletAuth("node-1", Decider(), anonymous=False, client_certificates=True).wrap(_ok)  # type: ignore[arg-type]
    r = run(guard(_request("/exec/default/web/c")))
    assert (r.status, r.body) == (401, b"Unauthorized")
    r = run(guard(_request("/exec/default/web/c", der("alice", "devs"))))
    assert (r.status, r.body) == (403, b"Forbidden (user=alice, verb=get, resource=nodes, subresource=proxy)")
    r = run(guard(_request("/containerLogs/default/web/c", der("broken"))))
    assert (r.status, r.body) == (500, b"Authorization error (user=broken, verb=get, resource=nodes, subresource=proxy)")
    r = run(guard(_request("/containerLogs/default/web/c", der("admin"))))
    assert (r.status, r.body) == (200, b"served")

    anonymous = KubeletAuth("node-1", Decider(), anonymous=True, client_certificates=True).wrap(_ok)  # type: ignore[arg-type]
    r = run(anonymous(_request("/pods")))
    assert (r.status, r.body) == (403, b"Forbidden (user=system:anonymous, verb=get, resource=nodes, subresource=proxy)")
    open_ = KubeletAuth("node-1", AlwaysAllow(), anonymous=True).wrap(_ok)
    assert run(open_(_request("/pods"))).status == 200


def test_token_webhook_reviews_once_per_ttl_and_refuses_wrong_tokens() -> None:
    reviews: list[str] = []

    async def review(body: dict[str, Any]) -> dict[str, Any]:
        token = body["spec"]["token"]
        reviews.append(token)
        if token == "good":
            return {"status": {"authenticated": True, "user": {"username": "bob", "groups": ["devs"]}}}
        return {"status": {"authenticated": False, "error": "invalid bearer token"}}
    clock = FakeClock()
    tokens = WebhookTokenAuthenticator(review, ttl=120, clock=clock)
    seen: list[User] = []

    class Recorder:
        async def authorize(self, attrs: Attributes) -> bool:
            seen.append(attrs.user)
            return True
    guard = KubeletAuth("node-1", Recorder(), anonymous=True, tokens=tokens).wrap(_ok)  # type: ignore[arg-type]

    def call(token: str) -> int:
        return run(guard(Request("GET", "/pods", {}, {"authorization": f"Bearer {token}"}))).status
    assert call("good") == 200 and seen[-1] == User("bob", ("devs", "system:authenticated"))
    assert call("good") == 200 and reviews == ["good"]                # cached
    assert call("bad") == 401 and call("bad") == 401 and reviews == ["good", "bad"]  # a wrong token is not anonymous
    clock.now += 121
    assert call("good") == 200 and reviews == ["good", "bad", "good"]
    assert run(guard(Request("GET", "/pods", {}, {}))).status == 200 and seen[-1].name == "system:anonymous"


def test_flags_default_to_an_open_plain_http_kubelet_and_refuse_impossible_combinations(tmp_path, capsys) -> None:
    from kubeling.services.node.main import main, parser
    from kubeling.services.node.kubelet.auth import from_flags
    args = parser().parse_args(["--node-name", "n"])
    assert (args.anonymous_auth, args.authorization_mode, args.authentication_token_webhook) == ("true", "AlwaysAllow", "false")
    assert from_flags(args, client=None) == (None, None)  # as before: nothing checked, no TLS
    with pytest.raises(SystemExit) as e:
        main(["--node-name", "n", "--client-ca-file", str(tmp_path / "ca.crt")])
    assert e.value.code == 2 and "--client-ca-file needs TLS" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["--node-name", "n", "--tls-cert-file", str(tmp_path / "missing.crt"), "--tls-private-key-file", str(tmp_path / "k")])
    assert e.value.code == 2 and "--tls-cert-file, --tls-private-key-file, --client-ca-file:" in capsys.readouterr().err
    ca = CertificateAuthority.create()
    crt, key = ca.issue("system:node:n", hosts=("127.0.0.1",), server=True).write(tmp_path, "kubelet")
    ca_path = tmp_path / "ca.crt"
    ca_path.write_bytes(ca.cert_pem)
    args = parser().parse_args(["--node-name", "n", "--tls-cert-file", str(crt), "--tls-private-key-file", str(key),
                                "--client-ca-file", str(ca_path), "--anonymous-auth=false", "--authorization-mode=Webhook",
                                "--authentication-token-webhook"])
    guard, tls = from_flags(args, client=None)
    assert tls is not None and guard is not None
    assert isinstance(guard.authorizer, WebhookAuthorizer) and guard.tokens is not None
    assert (guard.anonymous, guard.client_certificates, guard.node_name) == (False, True, "n")
