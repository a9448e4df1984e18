"""Request body decoding and response encoding (content negotiation)."""
from __future__ import annotations

import asyncio
import json
from typing import Any

import orjson
import yaml
from starlette.responses import Response

from ..api import errors
from ..api.schema import check
from ..api import bodies

MAX_BODY = 3 * 1024 * 1024
JSON = "application/json"
PROTOBUF = "application/vnd.kubernetes.protobuf"
PATCH_TYPES = {"application/json-patch+json": "json", "application/merge-patch+json": "merge",
               "application/strategic-merge-patch+json": "strategic", "application/apply-patch+yaml": "apply",
               "application/apply-patch+cbor": "apply-cbor"}


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def decode_body(raw: bytes, content_type: str | None, for_patch: bool = False) -> Any:
    """JSON (also with no Content-Type, as the Python client sends), YAML, or protobuf, bounded in
    nesting, alias expansion and numbers (bodies.py); any malformed body is a 400 Status."""
    mt = media_type(content_type)
    if mt == PROTOBUF:
        from ..protobuf.decoder import decode as decode_pb
        return decode_pb(raw)
    if for_patch:
        if mt not in PATCH_TYPES:
            raise errors.unsupported_media_type(mt)
        if PATCH_TYPES[mt] == "apply-cbor":
            raise errors.unsupported_media_type(mt)
    elif mt not in ("", JSON, "application/yaml", "text/plain", "*/*") and not mt.endswith("+json"):
        raise errors.unsupported_media_type(mt)
    if not raw.strip():
        raise errors.bad_request("the body of the request was empty")
    if mt in ("application/yaml", "application/apply-patch+yaml"):
        try:
            return bodies.load_yaml(raw)
        except bodies.BodyError as e:
            # the serializer's yaml.YAMLToJSON error, as upstream's handlers return it (a 400)
            raise errors.bad_request(str(e)) from None
    try:
        return bodies.load_json(raw)
    except bodies.BodyError as e:
        # runtime/serializer/json/meta.go SimpleMetaFactory.Interpret
        raise errors.bad_request(f"couldn't get version/kind; json parse error: {e}") from None


# Bodies above this size are decoded on a worker thread: YAML is parsed event by event in Python
# (about 2 s for 3 MiB), and even orjson needs tens of milliseconds for a large body; the event loop
# keeps serving other requests meanwhile (the GIL is handed over every few milliseconds).
INLINE_DECODE = 64 * 1024


async def decode_body_async(raw: bytes, content_type: str | None, for_patch: bool = False) -> Any:
    """decode_body, off the event loop for large bodies."""
    if len(raw) <= INLINE_DECODE:
        return decode_body(raw, content_type, for_patch)
    return await asyncio.to_thread(decode_body, raw, content_type, for_patch)


def wants_table(accept: str | None) -> bool:
    return "as=Table" in (accept or "")


def check_accept(accept: str | None) -> None:
    """Answer 406 only when the client accepts nothing we can send."""
    if not accept:
        return
    for part in accept.split(","):
        mt = part.split(";")[0].strip().lower()
        if mt in ("", "*/*", "application/*", JSON, "application/yaml", PROTOBUF, "application/json-seq"):
            return
    raise errors.not_acceptable(accept)


def respond(obj: Any, status: int = 200, accept: str | None = None, headers: dict[str, str] | None = None) -> Response:
    mt = ""
    for part in (accept or "").split(","):
        mt = part.split(";")[0].strip().lower()
        if mt in (JSON, "application/yaml", "*/*", PROTOBUF):
            break
    if mt == "application/yaml":
        return Response(yaml.safe_dump(obj, sort_keys=False), status, headers=headers, media_type="application/yaml")
    return Response(orjson.dumps(obj), status, headers=headers, media_type=JSON)


def status_response(err: errors.StatusError) -> Response:
    return Response(json.dumps(err.status()), err.code, media_type=JSON)


def success_status(details: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}


def decode_subresource(body: Any, schema: Any, kind: str, version: str = "v1") -> dict[str, Any]:
    """Bodies of binding, eviction, scale and DeleteOptions: typed like the main kinds."""
    if not isinstance(body, dict):
        raise errors.bad_request(f"{kind} in version \"{version}\" cannot be handled as a {kind}: json: cannot unmarshal into Go value of type {kind}")
    _, type_errs = check(body, schema)
    if type_errs:
        raise errors.bad_request(f"{kind} in version \"{version}\" cannot be handled as a {kind}: {type_errs[0]}")
    return body


def dry_run(req: Any) -> bool:
    """`dryRun=All` (the only value upstream accepts): validate and admit, write nothing."""
    dr = req.query_params.getlist("dryRun")
    for v in dr:
        if v != "All":
            raise errors.bad_request(f'Invalid dry run value: "{v}": supported values: "All"')
    return bool(dr)
