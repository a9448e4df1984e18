"""An in-process transport for unit tests of code that talks through `shared.client.Client`.

The Client's transport is `shared.rawhttp.RawHTTPClient`; a unit test replaces it (`c._http =
FakeTransport(handler)`) with this object, whose `handler(request)` answers each request with a
`rawhttp.Response` (`json_response`) or raises one of rawhttp's transport errors, so scripted
failures take exactly the paths real ones do. Integration tests use real servers instead.
"""
from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import SplitResult, urlsplit

from kubeling.shared import rawhttp


@dataclass
class FakeRequest:
    method: str
    url: SplitResult  # .hostname, .port, .path
    content: bytes = b""
    params: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[FakeRequest], "rawhttp.Response | Awaitable[rawhttp.Response]"]


def json_response(status: int, body: Any) -> rawhttp.Response:
    return rawhttp.Response(status, {"content-type": "application/json"}, json.dumps(body).encode())


class FakeTransport:
    """The part of RawHTTPClient's interface the Client uses, answered by `handler`."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler

    async def request(self, method: str, url: str, *, params: dict[str, Any] | None = None,
                      headers: dict[str, str] | None = None, content: bytes | None = None,
                      timeout: Any = None) -> rawhttp.Response:
        answer = self.handler(FakeRequest(method, urlsplit(url), content or b"", dict(params or {})))
        return await answer if inspect.isawaitable(answer) else answer

    def stream(self, method: str, url: str, **kw: Any) -> "_Stream":
        return _Stream(self.request(method, url, **kw))

    async def aclose(self) -> None:
        pass


class _Stream:
    """`async with transport.stream(...) as r`: the whole answer, iterable by lines."""

    def __init__(self, answer: Awaitable[rawhttp.Response]) -> None:
        self._answer = answer

    async def __aenter__(self) -> "_StreamedResponse":
        return _StreamedResponse(await self._answer)

    async def __aexit__(self, *exc: object) -> None:
        pass


class _StreamedResponse:
    def __init__(self, r: rawhttp.Response) -> None:
        self.status_code, self.headers, self.content = r.status_code, r.headers, r.content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)

    async def aread(self) -> bytes:
        return self.content

    async def aiter_lines(self):
        for line in self.content.decode().splitlines():
            yield line
