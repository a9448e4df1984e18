"""Static token authentication (`--token-auth-file`, upstream's CSV format).

Each line is `token,user,uid[,"group1,group2"]`. When the flag is given, every API request must
carry `Authorization: Bearer <token>` from the file, or it gets a 401 Status; health checks and
/version stay public, as upstream's system:public-info-viewer allows. Without the flag, requests
are anonymous and allowed. Authorization (RBAC) is not enforced yet.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass

from ..api.errors import StatusError

PUBLIC = ("/healthz", "/livez", "/readyz", "/version")


@dataclass(frozen=True)
class User:
    name: str
    uid: str
    groups: tuple[str, ...]


def load_tokens(path: str) -> dict[str, User]:
    tokens: dict[str, User] = {}
    with open(path, newline="") as f:
        for row in csv.reader(f):
            if not row or row[0].startswith("#"):
                continue
            if len(row) < 3:
                raise ValueError(f"{path}: each line needs token,user,uid: {row!r}")
            groups = tuple(g.strip() for g in row[3].split(",") if g.strip()) if len(row) > 3 else ()
            tokens[row[0].strip()] = User(row[1].strip(), row[2].strip(), groups)
    return tokens


class TokenAuthenticator:
    def __init__(self, tokens: dict[str, User] | None) -> None:
        self.tokens = tokens

    def authenticate(self, path: str, authorization: str | None) -> User | None:
        if self.tokens is None or path.rstrip("/") in PUBLIC or path.startswith(("/healthz/", "/livez/", "/readyz/")):
            return None
        scheme, _, token = (authorization or "").partition(" ")
        user = self.tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            raise StatusError(401, "Unauthorized", "Unauthorized")
        return user
