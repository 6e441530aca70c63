"""What the REST API does for people: direct tool calls, tool listings, chat questions."""

from __future__ import annotations

import asyncio
from contextlib import contextmanager

from audit.models import AuditRequest, Status
from audit.ratelimit import RateLimited, rate_limit_auser, rate_limit_enforce, rate_limited_audit
from audit.services import (
    audit_arecord,
    audit_arequest_record,
    audit_record,
    audit_request_of,
    audit_request_record,
)
from core.errors import ApiError
from orchestration.mcp.catalog import Catalog, catalog
from orchestration.mcp.discovery import mcp_health_list
from orchestration.mcp.health import HEALTH_MAX_AGE_SECONDS, mcp_health_public
from permissions.policy.engine import PolicySnapshot, UserPolicy, permitted_tools
from permissions.policy.snapshot import policy_snapshot
from permissions.selectors import user_policy_for

from .chat import chat_ask
from .jobs import JobsUnavailable, chat_job_submit
from .llm import LlmError
from .models import ChatJob
from .threads import thread_key_for_api
from .toolcalls import ToolCallOutcome, tool_call_aexecute, tool_call_execute

_HTTP_STATUS = {
    "not_found": 404,
    "permission_denied": 403,
    "invalid_request": 400,
    "mcp_unavailable": 502,
    "mcp_timeout": 504,
}
_AUDIT_STATUS = {"not_found": Status.DENIED, "permission_denied": Status.DENIED}


def tool_call_direct(
    *,
    user,
    mcp: str,
    tool: str,
    arguments: dict,
    source: str = "api",
    ip_address: str | None = None,
    request_id: str = "",
    recorded_request_id: int | None = None,
) -> dict:
    """``POST /api/mcp/tools/call``: record the request, rate limit, re-check, call, record the
    outcome. Raises ApiError on refusal; AuditUnavailable (503) before anything runs when the
    request cannot be recorded. ``recorded_request_id``: recorded already (by the fast path)."""
    message = f"{mcp}.{tool}"
    context = {
        "user": user,
        "source": source,
        "message": message,
        "ip_address": ip_address,
        "request_id": request_id,
    }
    if recorded_request_id is None:
        request_record = audit_request_record(mcp=mcp, tool=tool, arguments=arguments, **context)
    else:
        request_record = audit_request_of(recorded_request_id)
    rate_limit_enforce(**context, request_record=request_record)
    snapshot = policy_snapshot()
    outcome = tool_call_execute(
        snapshot=snapshot,
        catalog=catalog(snapshot),
        user=user_policy_for(user, snapshot),
        mcp=mcp,
        tool=tool,
        arguments=arguments,
    )
    log = audit_record(**_tool_call_audit(outcome, **context), request_record=request_record)
    return _tool_call_answer(outcome, log.pk)


async def tool_call_adirect(
    *,
    aio,
    user,
    user_policy: UserPolicy,
    snapshot: PolicySnapshot,
    catalog: Catalog,
    mcp: str,
    tool: str,
    arguments: dict,
    source: str = "api",
    ip_address: str | None = None,
    request_id: str = "",
) -> dict | AuditRequest:
    """``tool_call_direct`` on an event loop (``orchestration.gateway.toolcall``), for a caller whose user,
    policy and catalog the process holds compiled under ``snapshot.version``: the same record,
    limiter, checks, call and audit statement, on the async clients of ``aio`` (``orchestration.gateway.clients``),
    with no thread hop. The request record and the rate limit go out side by side.

    Returns the request record alone, with nothing counted or called, when that version is no
    longer the live one (or Redis cannot tell): the caller then takes the sync path with it."""
    message = f"{mcp}.{tool}"
    context = {
        "user": user,
        "source": source,
        "message": message,
        "ip_address": ip_address,
        "request_id": request_id,
    }
    limit, record = await asyncio.gather(
        rate_limit_auser(aio.redis, user=user, guard=aio.policy_guard(snapshot.version)),
        audit_arequest_record(aio.db, mcp=mcp, tool=tool, arguments=arguments, **context),
        return_exceptions=True,
    )
    for failure in (record, limit):
        if isinstance(failure, BaseException):
            raise failure  # AuditUnavailable: nothing runs (a hit may have been counted: probing costs)
    if limit is None:
        return record
    if not limit.allowed:
        log = await audit_arecord(
            aio.db, **rate_limited_audit(limit), **context, request_record=record
        )
        raise RateLimited(limit, audit_id=log.pk)
    outcome = await tool_call_aexecute(
        snapshot=snapshot,
        catalog=catalog,
        user=user_policy,
        mcp=mcp,
        tool=tool,
        arguments=arguments,
    )
    log = await audit_arecord(aio.db, **_tool_call_audit(outcome, **context), request_record=record)
    return _tool_call_answer(outcome, log.pk)


def _tool_call_audit(outcome: ToolCallOutcome, **context) -> dict:
    return {
        "status": _audit_status(outcome),
        "error": outcome.message if outcome.is_error else "",
        "duration_ms": outcome.duration_ms,
        "tool_calls": [outcome.record],
        "answer": "" if outcome.result is None else outcome.result.text,
        **context,
    }


def _tool_call_answer(outcome: ToolCallOutcome, audit_id: int) -> dict:
    if outcome.error_code:
        raise ApiError(
            outcome.message,
            code=outcome.error_code,
            status=_HTTP_STATUS[outcome.error_code],
            extra=_error_extra(outcome, audit_id),
        )
    return {
        "success": not outcome.result.is_error,
        "result": outcome.result_json(),
        "duration_ms": outcome.duration_ms,
        "audit_id": audit_id,
    }


def _audit_status(outcome: ToolCallOutcome) -> str:
    if outcome.error_code:
        return _AUDIT_STATUS.get(outcome.error_code, Status.ERROR)
    return Status.ERROR if outcome.result.is_error else Status.SUCCESS


def _error_extra(outcome: ToolCallOutcome, audit_id: int) -> dict:
    extra = {"audit_id": audit_id}
    if outcome.error_code == "permission_denied" and outcome.decision is not None:
        extra.update(step=outcome.decision.step, pattern=outcome.decision.pattern)
    return extra


def tools_list_for(*, user, mcp: str | None = None) -> list[dict]:
    """The tools ``user`` may call (optionally on one MCP), with their schemas."""
    snapshot = policy_snapshot()
    tools = catalog(snapshot).tools
    if mcp is not None and mcp not in snapshot.mcps:
        raise ApiError(f"No MCP server named {mcp!r}.", code="not_found", status=404)
    rows = []
    for server, name in permitted_tools(snapshot, user_policy_for(user, snapshot), mcp):
        info = tools.get((server, name))
        if info is not None:
            rows.append(
                {
                    "mcp": server,
                    "name": name,
                    "description": info.description,
                    "input_schema": info.input_schema,
                }
            )
    return rows


def servers_for(*, user, is_admin: bool) -> list[dict]:
    """Health of the servers ``user`` can use: every server, with error text, for admins; for
    others their servers with short error codes only (``health.mcp_health_public``)."""
    rows = mcp_health_list(probe=True, max_age=HEALTH_MAX_AGE_SECONDS)
    if is_admin:
        return rows
    snapshot = policy_snapshot()
    usable = {server for server, _ in permitted_tools(snapshot, user_policy_for(user, snapshot))}
    return [mcp_health_public(row) for row in rows if row["name"] in usable]


@contextmanager
def _llm_refusal_audited(*, user, message: str, ip_address: str | None, request_id: str):
    """An LLM refusal raised before the loop (none configured) is audited, then answered 503."""
    try:
        yield
    except LlmError as exc:
        audit_record(
            user=user,
            source="api",
            message=message,
            status=Status.ERROR,
            error=exc.message,
            ip_address=ip_address,
            request_id=request_id,
        )
        raise exc.as_api_error() from exc


def chat_ask_api(
    *,
    user,
    message: str,
    thread_id: str | None,
    model: str | None,
    ip_address: str | None = None,
    request_id: str = "",
) -> dict:
    """``POST /api/chat/ask``: rate limit, then the chat loop."""
    rate_limit_enforce(
        user=user, source="api", message=message, ip_address=ip_address, request_id=request_id
    )
    thread_key = thread_key_for_api(user_id=user.pk, thread_id=thread_id) if thread_id else None
    with _llm_refusal_audited(
        user=user, message=message, ip_address=ip_address, request_id=request_id
    ):
        result = chat_ask(
            user=user,
            message=message,
            thread_key=thread_key,
            source="api",
            model=model,
            ip_address=ip_address,
            request_id=request_id,
        )
    if not result["success"]:  # the LLM failed after its retries; the audit row says error
        raise ApiError(
            result["error"] or "The LLM provider failed.",
            code="llm_unavailable",
            status=502,
            extra={"audit_id": result["audit_id"]},
        )
    return result


def chat_job_submit_api(
    *,
    user,
    message: str,
    thread_id: str | None,
    model: str | None,
    ip_address: str | None = None,
    request_id: str = "",
) -> ChatJob:
    """``POST /api/chat/ask/async``: rate limit and validate now, answer in a worker."""
    rate_limit_enforce(
        user=user, source="api", message=message, ip_address=ip_address, request_id=request_id
    )
    with _llm_refusal_audited(
        user=user, message=message, ip_address=ip_address, request_id=request_id
    ):
        try:
            return chat_job_submit(user=user, message=message, thread_id=thread_id, model=model)
        except JobsUnavailable as exc:
            raise ApiError(exc.message, code="service_unavailable", status=503) from exc
