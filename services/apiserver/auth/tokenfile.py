"""Static bearer tokens (`--token-auth-file`, upstream's CSV format: token,user,uid[,"group1,group2"])."""
from __future__ import annotations

import csv

from .user import UserInfo, with_authenticated


def load_tokens(path: str) -> dict[str, UserInfo]:
    tokens: dict[str, UserInfo] = {}
    with open(path, newline="") as f:
        for row in csv.reader(f):
            if not row or row[0].startswith("#"):
                continue
            if len(row) < 3:
                raise ValueError(f"{path}: each line needs token,user,uid: {row!r}")
            groups = tuple(g.strip() for g in row[3].split(",") if g.strip()) if len(row) > 3 else ()
            if not row[0].strip() or not row[1].strip():
                raise ValueError(f"{path}: empty token or user name: {row!r}")
            tokens[row[0].strip()] = with_authenticated(UserInfo(row[1].strip(), row[2].strip(), groups))
    return tokens
