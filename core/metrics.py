"""Every Prometheus metric OMNI2 exports, defined once, and the calls that update them.

prometheus_client runs in multiprocess mode: each process (uvicorn workers, Celery worker
processes, the test process) writes its figures to files under ``PROMETHEUS_MULTIPROC_DIR``
(``omni2.settings`` sets it, ``var/metrics`` by default) and ``GET /metrics`` (``omni2.metrics``)
sums the files of every process. A file is named after its process's host and pid, so web and
worker containers may share one volume; a process whose host and pid come back (a restart)
carries on from the figures of the last one, so a counter never goes backwards. ``manage.py
serve`` starts every process at once and empties the directory first (``multiprocess_dir_wipe``).

Each fact is counted in one place:

- tool calls by mcp, tool and outcome, and their duration: ``orchestration.toolcalls``, where
  every call ends (REST, the event-loop path and the chat loop alike);
- LLM requests by model and outcome: ``llm_call``, around each model call of the chat loop;
- tokens and cost by model, rate-limit refusals by role: ``audit.services``, from each audit row
  as it is written, so these figures agree with the audit table;
- Slack deliveries acknowledged: ``slackapp.views``; audit write failures: ``audit.services``;
- MCP health, breaker state and Celery queue depth: computed at scrape (``scrape_families``),
  never stored, so they need no multiprocess gauge mode.
"""

import glob
import os
import re
import socket
from collections.abc import Callable, Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    values,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from core import tracing

EXPOSITION_CONTENT_TYPE = CONTENT_TYPE_LATEST

_DIRECTORY = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
_HOST = re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname())[:40] or "host"
_identity = [f"{_HOST}-{os.getpid()}"]


def _forked() -> None:
    _identity[0] = f"{_HOST}-{os.getpid()}"


def _process_identity() -> str:
    # Read under the client's lock on every update: a list read, not a syscall and a format.
    return _identity[0]


if _DIRECTORY:
    os.register_at_fork(after_in_child=_forked)
    values.ValueClass = values.MultiProcessValue(process_identifier=_process_identity)

# --- the metrics ---------------------------------------------------------------------------

# Seconds; MCP timeouts are 30 s by default, so the top buckets keep slow calls apart.
TOOL_CALL_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

TOOL_CALLS = Counter(
    "omni2_tool_calls",
    "Tool calls by MCP server, tool and outcome (success, error, denied, timeout, unavailable).",
    ["mcp", "tool", "outcome"],
)
TOOL_CALL_SECONDS = Histogram(
    "omni2_tool_call_duration_seconds",
    "Duration of tool calls that reached their MCP server (answered or timed out).",
    ["mcp"],
    buckets=TOOL_CALL_BUCKETS,
)
LLM_REQUESTS = Counter(
    "omni2_llm_requests",
    "Model calls by model and outcome (success, or the LLM error code).",
    ["model", "outcome"],
)
LLM_TOKENS = Counter(
    "omni2_llm_tokens",
    "LLM tokens by model and kind (input, output, cache_read, cache_write).",
    ["model", "kind"],
)
LLM_COST = Counter("omni2_llm_cost_usd", "LLM cost in USD by model.", ["model"])
RATE_LIMITED = Counter(
    "omni2_rate_limited", "Requests refused by the rate limiter, by role.", ["role"]
)
SLACK_ACKNOWLEDGED = Counter(
    "omni2_slack_events_acknowledged",
    "Slack deliveries answered 200, by kind (event, command, interaction).",
    ["kind"],
)
AUDIT_WRITE_FAILURES = Counter(
    "omni2_audit_write_failures",
    "Audit writes the database refused (the request was answered 503).",
)

# A name a caller made up (an unknown server or tool) is counted under this one label, so that
# made-up names cannot grow a series each.
UNKNOWN = "(unknown)"
_TOKEN_KINDS = (
    ("input", "tokens_input"),
    ("output", "tokens_output"),
    ("cache_read", "tokens_cache_read"),
    ("cache_write", "tokens_cache_write"),
)


# --- the updates (one call at each place a fact is known) -------------------------------


def tool_call_observed(
    *, mcp: str, tool: str, outcome: str, error_code: str | None, seconds: float
) -> None:
    """One tool call's outcome; its duration when the server answered it or timed out."""
    if error_code == "not_found" or not mcp:
        mcp = tool = UNKNOWN
    TOOL_CALLS.labels(mcp, tool, outcome).inc()
    if error_code is None or error_code == "mcp_timeout":
        TOOL_CALL_SECONDS.labels(mcp).observe(seconds)


def llm_call(create: Callable, *, model: str, **request):
    """``create(model=model, **request)`` (a provider's model call), counted by outcome and,
    with tracing on, inside an ``omni2.llm_turn`` span."""
    with tracing.span("omni2.llm_turn", {"gen_ai.request.model": model}):
        try:
            response = create(model=model, **request)
        except Exception as exc:
            LLM_REQUESTS.labels(model, getattr(exc, "code", None) or "error").inc()
            raise
    LLM_REQUESTS.labels(model, "success").inc()
    return response


def audit_row_observed(row) -> None:
    """Tokens and cost by model, and a rate-limit refusal by role, from an audit row (duck-typed:
    ``status``, ``user_role``, ``model``, ``tokens_*``, ``cost_usd``)."""
    if row.status == "rate_limited":
        RATE_LIMITED.labels(row.user_role or "none").inc()
    if not row.model:
        return
    for kind, field in _TOKEN_KINDS:
        count = getattr(row, field)
        if count:
            LLM_TOKENS.labels(row.model, kind).inc(count)
    if row.cost_usd:
        LLM_COST.labels(row.model).inc(float(row.cost_usd))


# --- computed at scrape -----------------------------------------------------------------


def scrape_families(*, mcps: Iterable[dict], queues: dict[str, int]) -> list[GaugeMetricFamily]:
    """The gauges of the scrape's moment: health and breaker per enabled MCP server (rows of
    ``mcp_health_list``), and messages waiting per Celery queue."""
    up = GaugeMetricFamily(
        "omni2_mcp_up", "1 when the MCP server answered its health probe.", labels=["mcp"]
    )
    breaker = GaugeMetricFamily(
        "omni2_mcp_circuit_open",
        "1 while calls to the MCP server are skipped by its circuit breaker.",
        labels=["mcp"],
    )
    for row in mcps:
        if row["status"] == "disabled":
            continue
        up.add_metric([row["name"]], 1.0 if row["status"] == "healthy" else 0.0)
        breaker.add_metric([row["name"]], 1.0 if row["status"] == "circuit_open" else 0.0)
    depth = GaugeMetricFamily(
        "omni2_celery_queue_depth", "Tasks waiting in the Celery queue.", labels=["queue"]
    )
    for queue, count in sorted(queues.items()):
        depth.add_metric([queue], float(count))
    return [up, breaker, depth]


class _AtScrape:
    def __init__(self, collect: Callable[[], list]):
        self.collect = collect


def exposition(at_scrape: Callable[[], list] | None = None) -> bytes:
    """The text format of every process's metrics, plus what ``at_scrape`` computes now."""
    registry = CollectorRegistry()
    if _DIRECTORY:
        MultiProcessCollector(registry, path=_DIRECTORY)
    else:
        registry.register(REGISTRY)  # one process: its own registry is the whole truth
    if at_scrape is not None:
        registry.register(_AtScrape(at_scrape))
    return generate_latest(registry)


def multiprocess_dir_wipe() -> int:
    """Delete every process's figures (before starting all processes anew); how many files."""
    if not _DIRECTORY:
        return 0
    files = glob.glob(os.path.join(_DIRECTORY, "*.db"))
    for path in files:
        os.remove(path)
    return len(files)
