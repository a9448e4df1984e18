"""Who made a request: upstream's user.Info, and the well-known `system:` names."""
from __future__ import annotations

from dataclasses import dataclass, field

ANONYMOUS = "system:anonymous"
UNAUTHENTICATED = "system:unauthenticated"
AUTHENTICATED = "system:authenticated"
MASTERS = "system:masters"
NODES = "system:nodes"
NODE_PREFIX = "system:node:"
SA_PREFIX = "system:serviceaccount:"
SA_GROUP = "system:serviceaccounts"


@dataclass(frozen=True)
class UserInfo:
    """name/uid/groups as authenticated; `groups` already include system:authenticated when it applies."""

    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: dict[str, tuple[str, ...]] = field(default_factory=dict, hash=False, compare=False)

    def to_status(self) -> dict[str, object]:
        """The userInfo shape of SelfSubjectReview / TokenReview."""
        out: dict[str, object] = {"username": self.name, "groups": list(self.groups)}
        if self.uid:
            out["uid"] = self.uid
        if self.extra:
            out["extra"] = {k: list(v) for k, v in self.extra.items()}
        return out


def anonymous() -> UserInfo:
    return UserInfo(ANONYMOUS, "", (UNAUTHENTICATED,))


def with_authenticated(user: UserInfo) -> UserInfo:
    """Every authenticated user is also in system:authenticated (upstream's AuthenticatedGroupAdder)."""
    if AUTHENTICATED in user.groups or user.name == ANONYMOUS:
        return user
    return UserInfo(user.name, user.uid, (*user.groups, AUTHENTICATED), user.extra)


def node_name(user: UserInfo | None) -> str | None:
    """The node a `system:node:<name>` user in group system:nodes speaks for, else None."""
    if user is None or NODES not in user.groups or not user.name.startswith(NODE_PREFIX):
        return None
    return user.name[len(NODE_PREFIX):] or None


def service_account_user(namespace: str, name: str) -> str:
    return f"{SA_PREFIX}{namespace}:{name}"


def service_account_groups(namespace: str) -> tuple[str, ...]:
    return (SA_GROUP, f"{SA_GROUP}:{namespace}")
