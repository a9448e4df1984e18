"""Authentication: anonymous and wrong credentials get upstream's 401 Status; static tokens,
X.509 client certificates and ServiceAccount tokens (kubectl create token) authenticate; forged,
expired and revoked (account deleted) ServiceAccount tokens do not."""
from __future__ import annotations

import json
import time

import httpx
from kubeling.services.apiserver.auth.jwt import Signer, b64url, load_private_key

from tests.support.procs import wait_until

from .conftest import SecureCluster, status_of

UNAUTHORIZED = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": "Unauthorized",
                "reason": "Unauthorized", "code": 401}


def test_anonymous_gets_401_except_health_and_version(secure: SecureCluster) -> None:
    anon = secure.client()
    for path in ("/api/v1/namespaces", "/api", "/apis", "/openapi/v3", "/metrics", "/api/v1/namespaces/default/secrets"):
        r = anon.get(path)
        assert r.status_code == 401, path
        assert r.json() == UNAUTHORIZED
    for path in ("/healthz", "/livez", "/readyz", "/version"):
        assert anon.get(path).status_code == 200, path


def test_wrong_token_gets_401(secure: SecureCluster) -> None:
    for header in ("Bearer nope", "Bearer", "Basic YWxpY2U6cHc=", "Bearer admin-token-but-longer", "Bearer admin-token x"):
        r = httpx.get(secure.url + "/api/v1/namespaces", headers={"Authorization": header}, verify=secure.tls)
        assert r.status_code == 401, header
        assert status_of(r)["reason"] == "Unauthorized"
    # a wrong token is refused even on a public path's neighbours, and health stays public with one
    assert httpx.get(secure.url + "/healthz", headers={"Authorization": "Bearer nope"}, verify=secure.tls).status_code == 200


def test_static_token_and_client_certificate_identities(secure: SecureCluster) -> None:
    kc = secure.kubeconfig("alice", token="alice-token")
    who = json.loads(secure.kubectl(kc, "auth", "whoami", "-o", "json", check=True).stdout)
    assert who["status"]["userInfo"]["username"] == "alice"
    assert "system:authenticated" in who["status"]["userInfo"]["groups"]
    pair = secure.ca.issue("carol", orgs=("devs", "ops"), client=True)
    kc = secure.kubeconfig("carol", cert_pem=pair.cert, key_pem=pair.key)
    who = json.loads(secure.kubectl(kc, "auth", "whoami", "-o", "json", check=True).stdout)
    assert who["status"]["userInfo"]["username"] == "carol"
    assert who["status"]["userInfo"]["groups"] == ["devs", "ops", "system:authenticated"]
    # a certificate from another CA is not accepted by the TLS layer's client verification
    from kubeling.shared.pki import CertificateAuthority
    rogue = CertificateAuthority.create("rogue").issue("kubernetes-admin", orgs=("system:masters",), client=True)
    (secure.base / "rogue.crt").write_bytes(rogue.cert)
    (secure.base / "rogue.key").write_bytes(rogue.key)
    try:
        r = secure.client(cert=(str(secure.base / "rogue.crt"), str(secure.base / "rogue.key"))).get("/api/v1/namespaces")
        assert r.status_code == 401  # never authenticated as the admin it claims to be
    except httpx.TransportError:
        pass  # or the handshake itself is refused


def _sa_token(secure: SecureCluster, name: str, *args: str) -> str:
    admin = secure.kubeconfig("admin", token="admin-token")
    return secure.kubectl(admin, "create", "token", name, *args, check=True).stdout.strip()


def _whoami(secure: SecureCluster, token: str) -> httpx.Response:
    return secure.client(token).post("/apis/authentication.k8s.io/v1/selfsubjectreviews",
                                     json={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})


def test_serviceaccount_token_request(secure: SecureCluster) -> None:
    admin = secure.kubeconfig("admin", token="admin-token")
    secure.kubectl(admin, "create", "serviceaccount", "robot", check=True)
    token = _sa_token(secure, "robot", "--duration", "15m")
    claims = json.loads(__import__("base64").urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["sub"] == "system:serviceaccount:default:robot"
    assert claims["iss"] == "https://kubernetes.default.svc.cluster.local"
    assert 890 <= claims["exp"] - claims["iat"] <= 900
    info = _whoami(secure, token).json()["status"]["userInfo"]
    assert info["username"] == "system:serviceaccount:default:robot"
    assert info["groups"] == ["system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"]
    # TokenRequest validation: upstream's 10-minute minimum
    r = secure.admin.post("/api/v1/namespaces/default/serviceaccounts/robot/token",  # type: ignore[attr-defined]
                          json={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 60}})
    assert r.status_code == 422
    assert "may not specify a duration less than 10 minutes" in r.json()["message"]
    r = secure.admin.post("/api/v1/namespaces/default/serviceaccounts/ghost/token", json={"spec": {}})  # type: ignore[attr-defined]
    assert r.status_code == 404


def test_forged_expired_and_revoked_serviceaccount_tokens(secure: SecureCluster) -> None:
    admin = secure.kubeconfig("admin", token="admin-token")
    secure.kubectl(admin, "create", "serviceaccount", "temp", check=True)
    token = _sa_token(secure, "temp")
    assert _whoami(secure, token).status_code == 201
    header, payload, sig = token.split(".")
    claims = json.loads(__import__("base64").urlsafe_b64decode(payload + "=="))
    # forged: same signature, another subject
    forged_claims = dict(claims, sub="system:serviceaccount:kube-system:default")
    forged = f"{header}.{b64url(json.dumps(forged_claims).encode())}.{sig}"
    assert _whoami(secure, forged).status_code == 401
    # forged: signed by a key the apiserver does not trust
    from cryptography.hazmat.primitives.asymmetric import ec
    assert _whoami(secure, Signer(ec.generate_private_key(ec.SECP256R1())).sign(claims)).status_code == 401
    # alg=none
    none_header = b64url(json.dumps({"alg": "none"}).encode())
    assert _whoami(secure, f"{none_header}.{payload}.").status_code == 401
    # expired: signed with the real key, but two hours old
    now = int(time.time())
    real = Signer(load_private_key(str(secure.sa_key)))
    assert _whoami(secure, real.sign(dict(claims, iat=now - 7200, nbf=now - 7200, exp=now - 3600))).status_code == 401
    assert _whoami(secure, real.sign(dict(claims, iat=now, nbf=now, exp=now + 3600))).status_code == 201
    # revoked: the account is deleted (and one recreated under the same name has another UID)
    secure.kubectl(admin, "delete", "serviceaccount", "temp", check=True)
    wait_until(lambda: _whoami(secure, token).status_code == 401, timeout=10, what="token of a deleted account refused")
    secure.kubectl(admin, "create", "serviceaccount", "temp", check=True)
    wait_until(lambda: secure.admin.get("/api/v1/namespaces/default/serviceaccounts/temp").status_code == 200,  # type: ignore[attr-defined]
               timeout=10, what="account recreated")
    assert _whoami(secure, token).status_code == 401


def test_tokenreview(secure: SecureCluster) -> None:
    admin = secure.kubeconfig("admin", token="admin-token")
    secure.kubectl(admin, "create", "serviceaccount", "reviewed", check=True)
    token = _sa_token(secure, "reviewed")
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}}
    r = secure.admin.post("/apis/authentication.k8s.io/v1/tokenreviews", json=review)  # type: ignore[attr-defined]
    assert r.status_code == 201
    st = r.json()["status"]
    assert st["authenticated"] is True and st["user"]["username"] == "system:serviceaccount:default:reviewed"
    r = secure.admin.post("/apis/authentication.k8s.io/v1/tokenreviews", json={**review, "spec": {"token": "junk"}})  # type: ignore[attr-defined]
    assert r.json()["status"]["authenticated"] is False
    # alice may not review tokens: RBAC gives that only to system:auth-delegator
    r = secure.client("alice-token").post("/apis/authentication.k8s.io/v1/tokenreviews", json=review)
    assert r.status_code == 403
    assert r.json()["message"] == ('tokenreviews.authentication.k8s.io is forbidden: User "alice" cannot create resource '
                                   '"tokenreviews" in API group "authentication.k8s.io" at the cluster scope')


def test_serviceaccount_issuer_discovery_verifies_tokens(secure: SecureCluster) -> None:
    """An outside party verifies a ServiceAccount token with nothing but the OIDC documents."""
    from cryptography.hazmat.primitives.asymmetric import ec as ec_

    from kubeling.services.apiserver.auth.jwt import verify, unb64url
    admin = secure.kubeconfig("admin", token="admin-token")
    secure.kubectl(admin, "create", "serviceaccount", "oidc", check=True)
    token = _sa_token(secure, "oidc")
    assert secure.client().get("/.well-known/openid-configuration").status_code == 401
    assert secure.client("alice-token").get("/openid/v1/jwks").status_code == 403  # only ServiceAccounts may look
    conf = secure.client(token).get("/.well-known/openid-configuration").json()
    assert conf["issuer"] == "https://kubernetes.default.svc.cluster.local"
    assert conf["jwks_uri"] == "https://kubernetes.default.svc.cluster.local/openid/v1/jwks"
    (key,) = secure.client(token).get("/openid/v1/jwks").json()["keys"]
    assert (key["kty"], key["alg"], key["crv"]) == ("EC", "ES256", "P-256")
    pub = ec_.EllipticCurvePublicNumbers(int.from_bytes(unb64url(key["x"]), "big"), int.from_bytes(unb64url(key["y"]), "big"),
                                         ec_.SECP256R1()).public_key()
    assert verify(token, [pub])["sub"] == "system:serviceaccount:default:oidc"
