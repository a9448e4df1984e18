"""services/launcher/security.py, kubelet part: the apiserver's kubelet client certificate and a
serving certificate per node, and the flags that switch the secured kubelet API on."""
from __future__ import annotations

import ssl

from cryptography import x509

from kubeling.services.launcher.security import ClusterCredentials
from kubeling.shared.pki import subject_of


def _sans(pem: bytes) -> set[str]:
    san = x509.load_pem_x509_certificate(pem).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(v) for v in san.get_values_for_type(x509.IPAddress)} | set(san.get_values_for_type(x509.DNSName))


def test_apiserver_kubelet_client_is_kubeadms_identity(tmp_path):
    creds = ClusterCredentials(tmp_path)
    creds.ensure(("127.0.1.1",), ["admin"])
    assert subject_of(creds.cert("apiserver-kubelet-client").read_bytes()) == ("kube-apiserver-kubelet-client", ("system:masters",))
    args = creds.kubelet_apiserver_args()
    assert args == ["--kubelet-client-certificate", str(creds.cert("apiserver-kubelet-client")),
                    "--kubelet-client-key", str(creds.key("apiserver-kubelet-client")),
                    "--kubelet-certificate-authority", str(creds.ca)]
    ctx = ssl.create_default_context(cafile=str(creds.ca))  # the pair loads and chains to the CA
    ctx.load_cert_chain(args[1], args[3])


def test_kubelet_serving_certificate_per_node_kept_until_the_address_changes(tmp_path):
    creds = ClusterCredentials(tmp_path)
    creds.ensure(("127.0.1.1",), ["admin"])
    args = creds.kubelet_args("node-1", "127.0.1.1", healthz_port=10248)
    crt = creds.cert("kubelet-node-1-server")
    assert args == ["--tls-cert-file", str(crt), "--tls-private-key-file", str(creds.key("kubelet-node-1-server")),
                    "--client-ca-file", str(creds.ca), "--anonymous-auth=false", "--authentication-token-webhook",
                    "--authorization-mode=Webhook",
                    "--healthz-port", "10248"]
    first = crt.read_bytes()
    assert _sans(first) == {"127.0.1.1", "node-1"}
    assert subject_of(first) == ("system:node:node-1", ("system:nodes",))
    creds.kubelet_args("node-1", "127.0.1.1")
    assert crt.read_bytes() == first  # kept
    creds.kubelet_args("node-1", "127.0.1.9")
    assert _sans(crt.read_bytes()) == {"127.0.1.9", "node-1"}  # the node moved: issued again
    assert "--healthz-port" not in creds.kubelet_args("node-2", "127.0.1.2")
