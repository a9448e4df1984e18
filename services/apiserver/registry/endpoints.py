"""core/v1 Endpoints, maintained by the endpoints controller."""
from __future__ import annotations

from typing import Any

from ..api.models import core
from .strategy import Strategy


class EndpointsStrategy(Strategy):
    kind, resource, singular = "Endpoints", "endpoints", "endpoints"
    short_names = ("ep",)
    schema = core.Endpoints

    def default(self, obj: dict[str, Any]) -> None:
        for ss in obj.get("subsets") or []:
            for p in ss.get("ports") or []:
                p.setdefault("protocol", "TCP")
