"""The chat loop (SPEC §6): a question in, the right tools called, an answer out.

Claude (or an OpenAI-compatible model) is offered only the tools the user may call.
Every tool call it asks for is re-checked against the live policy before it runs,
whatever it asked; a refusal or a failure goes back to it as an error result.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction

from audit.models import Status
from audit.services import audit_record, audit_request_record
from core.metrics import llm_call
from orchestration.mcp.catalog import catalog
from permissions.policy.snapshot import policy_snapshot
from permissions.selectors import user_policy_for

from .llm import (
    LlmError,
    Usage,
    get_provider,
    model_resolve,
    tool_result_block,
    tool_results_message,
    user_message,
)
from .prompt import Toolbox, system_prompt, toolbox_for
from .threads import thread_history, thread_remember
from .toolcalls import ToolCallOutcome, tool_call_execute, tool_call_refused

RESULT_TEXT_LIMIT = 50_000  # characters of one tool result handed back to the model


@dataclass
class _Run:
    """Everything one question accumulates on its way through the loop."""

    usage: Usage = field(default_factory=Usage)
    iterations: int = 0
    outcomes: list[ToolCallOutcome] = field(default_factory=list)
    answer: str = ""
    status: str = Status.SUCCESS
    error: str = ""


def chat_prepare(*, user, model: str | None) -> tuple[str, object]:
    """Fail fast, before any work: the model must be allowed and an LLM configured."""
    role = getattr(user, "role", None)
    resolved = model_resolve(
        requested=model, role_default=getattr(role, "default_model", "") or None
    )
    return resolved, get_provider()


def chat_ask(
    *,
    user,
    message: str,
    thread_key: str | None = None,
    source: str = "api",
    model: str | None = None,
    slack: dict | None = None,
    on_progress: Callable[[str], None] | None = None,
    ip_address: str | None = None,
    request_id: str = "",
) -> dict:
    """Answer one question; always writes one audit row. Raises only for a bad model or no LLM,
    and AuditUnavailable (503) when the question cannot be recorded before it runs."""
    started = time.perf_counter()
    model_name, provider = chat_prepare(user=user, model=model)
    request_record = audit_request_record(
        user=user, source=source, message=message, ip_address=ip_address, request_id=request_id
    )
    snapshot = policy_snapshot()
    tools_catalog = catalog(snapshot)
    policy = user_policy_for(user, snapshot)
    toolbox = toolbox_for(snapshot, tools_catalog, policy)
    system = system_prompt(
        user=policy, name=getattr(user, "name", ""), toolbox=toolbox, catalog=tools_catalog
    )
    messages = thread_history(thread_key=thread_key) + [user_message(message)]
    run = _Run()
    try:
        _loop(
            run,
            provider,
            model_name,
            system,
            messages,
            toolbox,
            snapshot,
            tools_catalog,
            policy,
            on_progress,
        )
    except LlmError as exc:
        run.status, run.error = Status.ERROR, exc.message
    with transaction.atomic():  # the audit row and the thread memory share one durable commit
        log = audit_record(
            user=user,
            source=source,
            message=message,
            status=run.status,
            answer=run.answer,
            error=run.error,
            duration_ms=int((time.perf_counter() - started) * 1000),
            iterations=run.iterations,
            model=model_name,
            usage=run.usage.as_dict(),
            tool_calls=[o.record for o in run.outcomes],
            slack=slack,
            ip_address=ip_address,
            request_id=request_id,
            request_record=request_record,
        )
        if run.status != Status.ERROR:
            thread_remember(thread_key=thread_key, question=message, answer=run.answer)
    return _result(run, model_name, log)


def _loop(
    run, provider, model, system, messages, toolbox, snapshot, tools_catalog, policy, on_progress
):
    while True:
        response = llm_call(
            provider.create, model=model, system=system, messages=messages, tools=toolbox.specs
        )
        run.usage, run.iterations = run.usage + response.usage, run.iterations + 1
        messages.append(response.assistant_message())
        run.answer = response.text
        if not response.tool_uses:
            return
        if run.iterations >= settings.OMNI2_MAX_ITERATIONS:
            run.status = Status.WARNING
            run.error = f"Stopped after {run.iterations} iterations (max_iterations)."
            run.answer = response.text or "I could not finish within the allowed number of steps."
            return
        outcomes = _run_tools(
            response.tool_uses, toolbox, snapshot, tools_catalog, policy, on_progress, run
        )
        messages.append(
            tool_results_message(
                [
                    tool_result_block(use.id, _result_text(o), is_error=o.is_error)
                    for use, o in zip(response.tool_uses, outcomes, strict=True)
                ]
            )
        )


def _run_tools(uses, toolbox: Toolbox, snapshot, tools_catalog, policy, on_progress, run) -> list:
    budget = settings.OMNI2_MAX_TOOL_CALLS_PER_REQUEST - len(run.outcomes)

    def one(index_use):
        index, use = index_use
        route = toolbox.route(use.name) or ("", use.name)
        if index >= budget:
            return tool_call_refused(
                mcp=route[0],
                tool=route[1],
                arguments=dict(use.input or {}),
                reason="Too many tool calls in one request.",
            )
        return tool_call_execute(
            snapshot=snapshot,
            catalog=tools_catalog,
            user=policy,
            mcp=route[0],
            tool=route[1],
            arguments=dict(use.input or {}),
        )

    for use in uses:
        route = toolbox.route(use.name)
        if on_progress and route:
            on_progress(f"🔧 {route[0]}.{route[1]}…")
    items = list(enumerate(uses))
    if len(items) == 1:
        outcomes = [one(items[0])]
    else:
        # One turn's calls run side by side; each waits on its own server only.
        with ThreadPoolExecutor(
            max_workers=min(settings.OMNI2_TOOL_CONCURRENCY, len(items))
        ) as pool:
            outcomes = list(pool.map(one, items))
    run.outcomes.extend(outcomes)
    return outcomes


def _result_text(outcome: ToolCallOutcome) -> str:
    if outcome.error_code:
        return f"Error ({outcome.error_code}): {outcome.message}"
    value = outcome.result_json()
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text[:RESULT_TEXT_LIMIT]


def _result(run: _Run, model: str, log) -> dict:
    return {
        "success": run.status != Status.ERROR,
        "answer": run.answer,
        "error": run.error or None,
        "tool_results": [
            {
                "mcp": o.mcp,
                "tool": o.tool,
                "arguments": o.arguments,
                "result": o.result_json(),
                "is_error": o.is_error,
            }
            for o in run.outcomes
        ],
        "tools_used": list(
            dict.fromkeys(f"{o.mcp}.{o.tool}" for o in run.outcomes if not o.error_code)
        ),
        "iterations": run.iterations,
        "usage": run.usage.as_dict(),
        "cost_usd": float(log.cost_usd),
        "model": model,
        "audit_id": log.pk,
    }
