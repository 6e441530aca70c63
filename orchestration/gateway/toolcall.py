"""``POST /api/mcp/tools/call`` on the ASGI server's own event loop (the hot path of issue 5).

Thin like a view: it parses, authenticates from this process's memo, calls
``services.tool_call_adirect`` and renders. Whatever it does not handle itself goes, untouched
and before anything is counted, to Django, which serves it through ``api.ToolCallApi`` as
always: a missing or unknown key (or one whose ``last_used_at`` is due), a key, policy or
catalog this process has not compiled under the live policy version, a body the serializer
might refuse or read differently, a host Django refuses, an HTTPS redirect, an unusual
``Accept``. So every refusal before the rate limit keeps Django's exact answer, and this path
answers the common case: a known caller's well-formed call. From the rate limit on, both
paths run the same code (``services``, ``toolcalls``, the limiter's script, the audit
statement), this one on async clients.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass

import psycopg
from django.conf import settings
from django.http.request import split_domain_port, validate_host
from rest_framework.renderers import JSONRenderer

from audit.models import AuditRequest
from core.drf import json_too_deep
from core.errors import SERVICE_UNAVAILABLE_MESSAGE, ApiError, error_body
from core.logging import request_id_from, request_id_get, request_id_set
from core.outages import outages
from orchestration.api import AUDIT_REQUEST_SCOPE_KEY, MCP_NAME, TOOL_NAME_MAX_LENGTH
from orchestration.mcp.catalog import catalog_memoised
from orchestration.services import tool_call_adirect
from permissions.policy.snapshot import policy_snapshot_memoised
from permissions.services import api_key_memoised

logger = logging.getLogger(__name__)

# How many calls each path took in this process (read by tests and the benchmark).
stats: Counter[str] = Counter()

_RENDER = JSONRenderer().render


class _Disconnected(Exception):
    pass


@dataclass(frozen=True, slots=True)
class _Call:
    api_key: str
    mcp: str
    tool: str
    arguments: dict
    ip_address: str | None
    request_id: str
    secure: bool


class ToolCallEndpoint:
    path = "/api/mcp/tools/call"

    def __init__(self, app):
        self.app = app  # omni2.asgi.Omni2Asgi: its clients and its Django

    async def __call__(self, scope, receive, send) -> None:
        clients = self.app.clients
        if clients is None:
            stats["django"] += 1
            await self.app.django_app(scope, receive, send)
            return
        try:
            body, complete = await _read_body(receive, settings.OMNI2_MAX_BODY_BYTES)
        except _Disconnected:
            return
        call = _parse(scope, body) if complete else None
        request_id_set(call.request_id if call else "")  # this task's; Django takes it over
        known = _known_caller(call) if call is not None else None
        answer = await _answer(clients, call, known) if known is not None else None
        if answer is None or isinstance(answer, AuditRequest):
            # Not ours: nothing was counted or called. A request already recorded goes on with
            # its record (a key only this process sets; no client can put it in the scope).
            if answer is not None:
                scope = {**scope, AUDIT_REQUEST_SCOPE_KEY: answer.pk}
            stats["django"] += 1
            await self.app.django_app(scope, _replay(body, complete, receive), send)
            return
        stats["fast"] += 1
        await _respond(send, *answer, secure=call.secure)


async def _answer(clients, call: _Call, known) -> tuple[int, dict, dict] | AuditRequest:
    user, user_policy, snapshot, catalog = known
    try:
        payload = await tool_call_adirect(
            aio=clients,
            user=user,
            user_policy=user_policy,
            snapshot=snapshot,
            catalog=catalog,
            mcp=call.mcp,
            tool=call.tool,
            arguments=call.arguments,
            ip_address=call.ip_address,
            request_id=call.request_id,
        )
    except ApiError as exc:
        return exc.status_code, error_body(exc.code, exc.message, **exc.extra), exc.headers
    except (psycopg.OperationalError, psycopg.InterfaceError) as exc:  # PoolTimeout included
        outages.down("the database", exc, meanwhile="requests that need it are answered 503")
        return 503, error_body("service_unavailable", SERVICE_UNAVAILABLE_MESSAGE), {}
    except Exception:
        logger.exception("Unhandled error in the fast tool-call path")
        return 500, error_body("internal_error", "Something went wrong on our side."), {}
    return payload if isinstance(payload, AuditRequest) else (200, payload, {})


def _known_caller(call: _Call):
    """(user, user policy, snapshot, catalog) when this process holds all four compiled under one
    policy version; None otherwise (Django then answers, and fills the memo). Whether that
    version is still the live one is checked with the rate limit, in the same round trip."""
    memo = api_key_memoised(raw=call.api_key)
    if memo is None:
        return None
    token, user = memo
    snapshot, catalog = policy_snapshot_memoised(token), catalog_memoised(token)
    if snapshot is None or catalog is None:
        return None
    user_policy = snapshot.users_by_id.get(user.pk)
    return None if user_policy is None else (user, user_policy, snapshot, catalog)


def _parse(scope, body: bytes) -> _Call | None:
    """The call, if the request is one Django would accept as it stands; None otherwise."""
    headers = dict(scope["headers"])
    if len(headers) != len(scope["headers"]):
        return None  # a repeated header: Django joins them, and decides what that means
    secure = _is_secure(scope, headers)
    if settings.SECURE_SSL_REDIRECT and not secure:
        return None
    host = headers.get(b"host", b"").decode("latin-1")
    if settings.USE_X_FORWARDED_HOST or not _allowed_host(host):
        return None
    if not _is_json(headers.get(b"content-type", b"")) or not _accepts_json(
        headers.get(b"accept", b"*/*")
    ):
        return None
    parts = headers.get(b"authorization", b"").decode("latin-1").split()
    if len(parts) != 2 or parts[0].lower() != "bearer":
        return None
    try:
        data = json.loads(body.decode("utf-8"), parse_constant=_no_constants)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or json_too_deep(data):
        return None
    mcp, tool, arguments = data.get("mcp"), data.get("tool"), data.get("arguments", {})
    if not (
        _clean_string(mcp, 100)
        and MCP_NAME.fullmatch(mcp)
        and _clean_string(tool, TOOL_NAME_MAX_LENGTH)
        and isinstance(arguments, dict)
    ):
        return None
    client = scope.get("client")
    return _Call(
        api_key=parts[1],
        mcp=mcp,
        tool=tool,
        arguments=arguments,
        ip_address=client[0] if client else None,
        request_id=request_id_from(headers.get(b"x-request-id", b"").decode("latin-1")),
        secure=secure,
    )


def _clean_string(value, max_length: int) -> bool:
    # What DRF's CharField keeps as it is: a str, already trimmed, not empty, no NUL.
    return (
        isinstance(value, str)
        and 0 < len(value) <= max_length
        and value == value.strip()
        and "\x00" not in value
    )


def _no_constants(name: str):
    raise ValueError(f"{name} is not JSON")  # DRF's strict JSON parser refuses NaN and Infinity


def _is_json(content_type: bytes) -> bool:
    media, _, params = content_type.decode("latin-1").partition(";")
    charset = params.strip().lower()
    return media.strip().lower() == "application/json" and charset in ("", "charset=utf-8")


def _accepts_json(accept: bytes) -> bool:
    accept = accept.decode("latin-1").lower()
    return not accept.strip() or any(
        kind in accept for kind in ("application/json", "*/*", "application/*")
    )


def _allowed_host(host: str) -> bool:
    domain, _ = split_domain_port(host)
    return bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)


def _is_secure(scope, headers: dict) -> bool:
    if settings.SECURE_PROXY_SSL_HEADER:
        name, secure_value = settings.SECURE_PROXY_SSL_HEADER
        header = name.removeprefix("HTTP_").lower().replace("_", "-").encode("latin-1")
        value = headers.get(header)
        if value is not None:
            return value.decode("latin-1").split(",", 1)[0].strip() == secure_value
    return scope.get("scheme") == "https"


async def _read_body(receive, limit: int) -> tuple[bytes, bool]:
    """The body, and whether it is all there: reading stops once it is over ``limit``."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), True
        if size > limit:
            return b"".join(chunks), False


def _replay(body: bytes, complete: bool, receive):
    """``receive`` for Django: what was read, then whatever is still on the wire."""
    replayed = False

    async def replay():
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": not complete}

    return replay


async def _respond(send, status: int, payload: dict, headers: dict, *, secure: bool) -> None:
    body = _RENDER(payload)
    # What Django's middleware and DRF put on the same answer.
    raw = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"allow", b"POST, OPTIONS"),
        (b"x-frame-options", settings.X_FRAME_OPTIONS.encode()),
    ]
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        raw.append((b"x-content-type-options", b"nosniff"))
    if settings.SECURE_REFERRER_POLICY:
        raw.append((b"referrer-policy", settings.SECURE_REFERRER_POLICY.encode()))
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        raw.append(
            (b"cross-origin-opener-policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY.encode())
        )
    if secure and settings.SECURE_HSTS_SECONDS:
        raw.append((b"strict-transport-security", _hsts().encode()))
    raw += [
        (name.lower().encode("latin-1"), str(value).encode("latin-1"))
        for name, value in {**headers, "X-Request-ID": request_id_get()}.items()
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def _hsts() -> str:
    value = f"max-age={settings.SECURE_HSTS_SECONDS}"
    if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
        value += "; includeSubDomains"
    if settings.SECURE_HSTS_PRELOAD:
        value += "; preload"
    return value
