"""Where each benchmarked chat question's time went: wrappers around the LLM call, the MCP call,
the re-check and the durable writes, keyed by a tag the question carries in its text and tool
arguments (so 20 questions at once stay apart). Product code is untouched; ``bench/chat.py``
installs the wrappers in its own process and in the web child it starts.

Import after ``django.setup()``.
"""

import functools
import json
import math
import re
import threading
import time
from dataclasses import dataclass, field

import orchestration.chat as chat
from orchestration.llm.anthropic_provider import AnthropicProvider
from orchestration.mcp.pool import McpPool

TAG = re.compile(
    r"\bbench_[0-9a-f]{8}_[a-z]+_[0-9a-z]+\b"
)  # tags of any run: the web child has its own RUN_ID


@dataclass
class Trace:
    llm: list = field(default_factory=list)  # (name, start, end) per provider.create
    tools: list = field(default_factory=list)  # per McpPool.call_tool
    checks: list = field(
        default_factory=list
    )  # per tool_call_execute (re-check, the call, its result)
    writes: list = field(
        default_factory=list
    )  # audit_record and thread_remember: the durable commits
    chat: list = field(
        default_factory=list
    )  # chat_ask as a whole (over REST the rest is HTTP, auth, DRF)


_traces: dict[str, Trace] = {}
_traces_lock = threading.Lock()
_connects: list[float] = []  # seconds per new database connection (the web child)


def tag_in(value) -> str | None:
    """The question's tag, in its text, a message list or a tool's arguments."""
    found = TAG.search(value if isinstance(value, str) else json.dumps(value, default=str))
    return found.group(0) if found else None


def _timed(function, kind: str, tag_and_name):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            ended = time.perf_counter()
            tag, name = tag_and_name(args, kwargs)
            if tag:
                with _traces_lock:
                    getattr(_traces.setdefault(tag, Trace()), kind).append((name, started, ended))

    return wrapper


def install_timers() -> None:
    # Callers pass keywords (positions only where McpPool.call_tool is called); .get() never raises here.
    AnthropicProvider.create = _timed(
        AnthropicProvider.create, "llm", lambda a, k: (tag_in(k.get("messages")), "llm")
    )
    McpPool.call_tool = _timed(
        McpPool.call_tool,
        "tools",
        lambda a, k: (
            tag_in(a[3] if len(a) > 3 else k.get("arguments")),
            a[2] if len(a) > 2 else k.get("tool"),
        ),
    )
    chat.tool_call_execute = _timed(
        chat.tool_call_execute, "checks", lambda a, k: (tag_in(k.get("arguments")), k.get("tool"))
    )
    chat.audit_record = _timed(
        chat.audit_record, "writes", lambda a, k: (tag_in(k.get("message")), "audit")
    )
    chat.thread_remember = _timed(
        chat.thread_remember, "writes", lambda a, k: (tag_in(k.get("question")), "thread")
    )
    chat.chat_ask = _timed(chat.chat_ask, "chat", lambda a, k: (tag_in(k.get("message")), "chat"))


def union_seconds(intervals) -> float:
    total, reach = 0.0, -math.inf
    for _, start, end in sorted(intervals, key=lambda item: item[1]):
        if end > reach:
            total, reach = total + end - max(start, reach), end
    return total


@dataclass
class Sample:
    total: float
    cpu: float  # this process's CPU time over the question: all threads, so only meaningful one at a time
    llm: float
    tools: float
    writes: float
    outside_chat: float  # over REST: total minus chat_ask
    llm_calls: list
    tool_calls: list
    per_call_own: list  # tool_call_execute minus its MCP call

    @property
    def own(self) -> float:
        return self.total - self.llm - self.tools


def sample_of(trace: Trace, total: float, cpu: float = 0.0) -> Sample:
    calls = {name: end - start for name, start, end in trace.tools}
    return Sample(
        total=total,
        cpu=cpu,
        llm=union_seconds(trace.llm),
        tools=union_seconds(trace.tools),
        writes=union_seconds(trace.writes),
        outside_chat=total - union_seconds(trace.chat),
        llm_calls=[end - start for _, start, end in trace.llm],
        tool_calls=list(calls.values()),
        per_call_own=[
            end - start - calls[name] for name, start, end in trace.checks if name in calls
        ],
    )


class TraceRoute:
    """ASGI wrapper of OMNI2's app: ``GET /_bench/traces`` hands the parent this process's timings."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] != "/_bench/traces":
            return await self.app(scope, receive, send)
        with _traces_lock:
            body = json.dumps(
                {
                    "traces": {tag: vars(trace) for tag, trace in _traces.items()},
                    "connects": _connects[:],
                }
            ).encode()
            _connects.clear()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})
