"""The fake registry: which images exist and what their default process does.

Images are matched by repository name without registry host or tag, so `nginx`,
`nginx:1.27-alpine` and `docker.io/library/nginx:latest` are one image. The table is what a CKA
student expects of the well-known images: servers listen on their usual ports, shells exit at
once when nothing keeps them busy. Anything else fails to pull, like a typo'd image.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Image:
    repo: str
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    ports: tuple[int, ...] = ()  # what the image's own server listens on
    env: dict[str, str] = field(default_factory=dict)
    binaries: tuple[str, ...] = ()  # programs only this image ships (the etcd image's etcdctl)

    def image_id(self, ref: str) -> str:
        return "sha256:" + hashlib.sha256(self.repo.encode()).hexdigest()


_SERVERS = {
    "nginx": (("/docker-entrypoint.sh",), ("nginx", "-g", "daemon off;"), (80,)),
    "httpd": ((), ("httpd-foreground",), (80,)),
    "redis": (("docker-entrypoint.sh",), ("redis-server",), (6379,)),
    "memcached": (("docker-entrypoint.sh",), ("memcached",), (11211,)),
    "mysql": (("docker-entrypoint.sh",), ("mysqld",), (3306,)),
    "postgres": (("docker-entrypoint.sh",), ("postgres",), (5432,)),
    "mongo": (("docker-entrypoint.sh",), ("mongod",), (27017,)),
    "rabbitmq": (("docker-entrypoint.sh",), ("rabbitmq-server",), (5672,)),
    "tomcat": ((), ("catalina.sh", "run"), (8080,)),
    "traefik/whoami": (("/whoami",), (), (80,)),
    "kodekloud/webapp-color": (("python", "app.py"), (), (8080,)),
    "kodekloud/simple-webapp": (("python", "app.py"), (), (8080,)),
    "kodekloud/simple-webapp-mysql": (("python", "app.py"), (), (8080,)),
    "hashicorp/http-echo": (("/http-echo",), (), (5678,)),
    "pause": (("/pause",), (), ()),
    "registry.k8s.io/pause": (("/pause",), (), ()),
}
_SHELLS = {
    "busybox": ("sh",), "alpine": ("/bin/sh",), "ubuntu": ("/bin/bash",), "debian": ("bash",),
    "centos": ("/bin/bash",), "fedora": ("/bin/bash",), "curlimages/curl": ("curl",),
    "python": ("python3",), "node": ("node",), "golang": ("bash",),
}

SERVER_BINARIES = {"nginx", "httpd-foreground", "redis-server", "memcached", "mysqld", "postgres", "mongod",
                   "rabbitmq-server", "catalina.sh", "/whoami", "/http-echo", "/pause", "app.py"}

REGISTRY: dict[str, Image] = {}
for repo, (ep, cmd, ports) in _SERVERS.items():
    REGISTRY[repo] = Image(repo, ep, cmd, ports)
for repo, cmd in _SHELLS.items():
    REGISTRY[repo] = Image(repo, (), cmd)
# The control plane's images, as kubeadm 1.32 pulls them. Their containers stand for processes
# that `kubeling up` runs on the host (hostNetwork static pods); see program.py's `_component`.
CONTROL_PLANE_IMAGES = {
    "etcd": ("3.5.16-0", ("etcd", "etcdctl")),
    "kube-apiserver": ("v1.32.0", ("kube-apiserver",)),
    "kube-scheduler": ("v1.32.0", ("kube-scheduler",)),
    "kube-controller-manager": ("v1.32.0", ("kube-controller-manager",)),
}
for repo, (_, bins) in CONTROL_PLANE_IMAGES.items():
    REGISTRY[repo] = Image(repo, (), (), binaries=bins)
REGISTRY["hello-world"] = Image("hello-world", (), ("/hello",))
REGISTRY["polinux/stress"] = Image("polinux/stress", (), ("stress",))
REGISTRY["vish/stress"] = Image("vish/stress", (), ("stress",))


def repository(ref: str) -> str:
    """`docker.io/library/nginx:1.27@sha256:..` -> `nginx`; keeps org paths (`kodekloud/webapp-color`)."""
    name = ref.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name = name[: len(name) - len(last)] + last.split(":", 1)[0]
    parts = name.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        if parts[0] == "registry.k8s.io" and parts[-1] == "pause":
            return "pause"
        parts = parts[1:]
    if parts[0] == "library" and len(parts) > 1:
        parts = parts[1:]
    return "/".join(parts)


def lookup(ref: str) -> Image | None:
    return REGISTRY.get(repository(ref))


def control_plane_image(component: str) -> str:
    """`etcd` -> `registry.k8s.io/etcd:3.5.16-0`: the reference kubeadm 1.32 writes into its manifests."""
    tag, _ = CONTROL_PLANE_IMAGES[component]
    return f"registry.k8s.io/{component}:{tag}"


def binaries(ref: str) -> tuple[str, ...]:
    """The programs an image ships beyond the shell's builtins (empty for unknown images)."""
    img = lookup(ref)
    return img.binaries if img else ()


def normalized(ref: str) -> str:
    """The reference as the runtime reports it (`docker.io/library/nginx:latest`)."""
    repo = repository(ref)
    tag = "latest"
    base = ref.split("@", 1)[0]
    last = base.rsplit("/", 1)[-1]
    if ":" in last:
        tag = last.split(":", 1)[1]
    host, _, path = base.partition("/")
    if path and host != "docker.io" and ("." in host or ":" in host or host == "localhost"):
        return f"{host}/{path.rsplit(':', 1)[0] if ':' in path.rsplit('/', 1)[-1] else path}:{tag}"  # registry.k8s.io/etcd:...
    prefix = "docker.io/library/" if "/" not in repo else "docker.io/"
    return f"{prefix}{repo}:{tag}"
