"""One tool call, checked and executed: the path shared by the REST endpoint and the chat loop.

Every call is re-checked here against the live policy (tool and databases) whatever
the caller — a person over REST or the model inside a chat — asked for, and the
arguments are validated against the tool's JSON schema before anything is sent.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import jsonschema

from audit.models import ToolCallStatus
from audit.services import ToolCallRecord
from core import metrics, tracing
from orchestration.mcp.catalog import Catalog
from permissions.policy.engine import Decision, PolicySnapshot, UserPolicy, decide

from .mcp.pool import get_pool
from .mcp.types import McpError, McpTimeout, ServerSpec, ToolResult

Status = ToolCallStatus

# Upstream servers learn who is calling from the tools/call request's ``_meta`` under this key
# (read by examples/identity.py in OMNI2's own servers); see docs/ARCHITECTURE.md.
IDENTITY_META_KEY = "omni2/user"


def caller_meta(user: UserPolicy) -> dict:
    """The ``_meta`` of a tools/call made for ``user``: e-mail, role and whether an admin role."""
    return {
        IDENTITY_META_KEY: {"email": user.email, "role": user.role, "is_admin": user.is_privileged}
    }


@dataclass(frozen=True)
class ToolCallOutcome:
    """What happened. ``error_code`` is None on a completed call (even a tool-reported error)."""

    mcp: str
    tool: str
    arguments: dict
    record: ToolCallRecord
    result: ToolResult | None = None
    decision: Decision | None = None
    error_code: str | None = (
        None  # not_found | permission_denied | invalid_request | mcp_unavailable | mcp_timeout
    )
    message: str = ""
    duration_ms: int = 0

    @property
    def is_error(self) -> bool:
        return self.error_code is not None or bool(self.result and self.result.is_error)

    def result_json(self):
        """The tool's answer as JSON: structured content when given, else its text."""
        if self.result is None:
            return {"error": self.message}
        if self.result.structured is not None:
            return self.result.structured
        return self.result.text


def _outcome(
    mcp,
    tool,
    arguments,
    status,
    *,
    started,
    error_code=None,
    message="",
    result=None,
    decision=None,
    result_size=0,
) -> ToolCallOutcome:
    duration = int((time.perf_counter() - started) * 1000)
    metrics.tool_call_observed(
        mcp=mcp, tool=tool, outcome=status, error_code=error_code, seconds=duration / 1000
    )
    record = ToolCallRecord(
        mcp=mcp,
        tool=tool,
        arguments=arguments,
        status=status,
        duration_ms=duration,
        result_size=result_size,
        denial_reason=message if status == Status.DENIED else "",
        error=message if status not in (Status.DENIED, Status.SUCCESS) else "",
    )
    return ToolCallOutcome(
        mcp=mcp,
        tool=tool,
        arguments=arguments,
        record=record,
        result=result,
        decision=decision,
        error_code=error_code,
        message=message,
        duration_ms=duration,
    )


def _validator(schema: dict):
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    cls.check_schema(schema)
    return cls(schema)


def arguments_problem(catalog: Catalog, mcp: str, tool: str, arguments: dict) -> str | None:
    """The first way ``arguments`` break the tool's input schema, or None."""
    validator = catalog.validators.get((mcp, tool))
    if validator is None:
        schema = catalog.tools[(mcp, tool)].input_schema
        try:
            validator = _validator(schema) if schema else False
        except (jsonschema.SchemaError, TypeError, ValueError):
            validator = False  # a server with a broken schema validates its own input
        catalog.validators[(mcp, tool)] = validator
    if validator is False:
        return None
    error = jsonschema.exceptions.best_match(validator.iter_errors(arguments))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path) or "arguments"
    return f"{where}: {error.message}"[:500]


@dataclass(frozen=True, slots=True)
class Approved:
    """A call that passed every check: where to send it, and how to turn what came back into
    its outcome (the same for the sync and the async call)."""

    spec: ServerSpec
    decision: Decision
    mcp: str
    tool: str
    arguments: dict
    started: float
    meta: dict  # the caller's identity, sent as the request's _meta

    def completed(self, result: ToolResult) -> ToolCallOutcome:
        size = len(json.dumps(result.to_json(), default=str))
        status = Status.ERROR if result.is_error else Status.SUCCESS
        return self._outcome(
            status,
            result=result,
            message=result.text[:500] if result.is_error else "",
            result_size=size,
        )

    def failed(self, exc: McpError) -> ToolCallOutcome:
        if isinstance(exc, McpTimeout):
            return self._outcome(Status.TIMEOUT, error_code="mcp_timeout", message=exc.message)
        # Unreachable, circuit open, or a protocol error from the server.
        return self._outcome(Status.UNAVAILABLE, error_code="mcp_unavailable", message=exc.message)

    def _outcome(self, status, **fields) -> ToolCallOutcome:
        return _outcome(
            self.mcp,
            self.tool,
            self.arguments,
            status,
            started=self.started,
            decision=self.decision,
            **fields,
        )


def tool_call_approve(
    *,
    snapshot: PolicySnapshot,
    catalog: Catalog,
    user: UserPolicy,
    mcp: str,
    tool: str,
    arguments: dict,
) -> Approved | ToolCallOutcome:
    """Policy, allowed databases and the input schema; a refusal is the call's outcome."""
    started = time.perf_counter()
    decision = decide(snapshot, user, mcp, tool, arguments)
    info = catalog.tools.get((mcp, tool))
    spec = catalog.servers.get(mcp)
    if decision.code == "not_available" or info is None or spec is None:
        return _outcome(
            mcp,
            tool,
            arguments,
            Status.DENIED,
            started=started,
            error_code="not_found",
            message=f"Tool {mcp}.{tool} is not available.",
            decision=decision,
        )
    if not decision.allowed:
        return _outcome(
            mcp,
            tool,
            arguments,
            Status.DENIED,
            started=started,
            error_code="permission_denied",
            message=decision.reason,
            decision=decision,
        )
    problem = arguments_problem(catalog, mcp, tool, arguments)
    if problem:
        return _outcome(
            mcp,
            tool,
            arguments,
            Status.ERROR,
            started=started,
            error_code="invalid_request",
            message=f"Invalid arguments: {problem}",
            decision=decision,
        )
    return Approved(spec, decision, mcp, tool, arguments, started, caller_meta(user))


@tracing.tool_call_span
def tool_call_execute(**call) -> ToolCallOutcome:
    """Check, then call on the pooled session; keyword arguments of ``tool_call_approve``."""
    checked = tool_call_approve(**call)
    if isinstance(checked, ToolCallOutcome):
        return checked
    try:
        return checked.completed(
            get_pool().call_tool(checked.spec, checked.tool, checked.arguments, meta=checked.meta)
        )
    except McpError as exc:
        return checked.failed(exc)


@tracing.tool_call_span
async def tool_call_aexecute(**call) -> ToolCallOutcome:
    """``tool_call_execute`` for code on an event loop: the same checks, the call awaited."""
    checked = tool_call_approve(**call)
    if isinstance(checked, ToolCallOutcome):
        return checked
    try:
        return checked.completed(
            await get_pool().acall_tool(
                checked.spec, checked.tool, checked.arguments, meta=checked.meta
            )
        )
    except McpError as exc:
        return checked.failed(exc)


def tool_call_refused(*, mcp: str, tool: str, arguments: dict, reason: str) -> ToolCallOutcome:
    """A call refused before any check ran (e.g. over the per-request cap)."""
    return _outcome(
        mcp,
        tool,
        arguments,
        Status.DENIED,
        started=time.perf_counter(),
        error_code="permission_denied",
        message=reason,
    )
