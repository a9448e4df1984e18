"""/healthz, /livez, /readyz and /metrics, the endpoints every kubeling process serves."""
from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from .httpserver import Request, Response, text


def health_routes(ready: Callable[[], bool], registry: CollectorRegistry | None = None,
                  live: Callable[[], bool] = lambda: True) -> Callable[[Request], Response | None]:
    """A router for the standard endpoints; returns None for other paths so callers can chain."""

    def route(req: Request) -> Response | None:
        if req.path in ("/healthz", "/livez"):
            return text("ok") if live() else text("not live\n", 503)
        if req.path == "/readyz":
            return text("ok") if ready() else text("not ready\n", 503)
        if req.path == "/metrics":
            body = generate_latest(registry) if registry is not None else generate_latest()
            return Response(200, body, CONTENT_TYPE_LATEST)
        return None
    return route
