"""OpenTelemetry traces when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set; nothing at all otherwise.

``tracing_setup(process=...)`` runs once per process at start-up: ``omni2.asgi`` and
``omni2.wsgi`` (before Django builds its middleware) and each Celery worker process
(``omni2.celery``). When the setting is off it returns after that one check: the SDK is never
imported and the helpers below cost a global read.

When on: one tracer provider exporting over OTLP/HTTP (protobuf; the endpoint, headers and
timeouts come from the standard ``OTEL_EXPORTER_OTLP_*`` variables), and the official
instrumentations for Django (a server span per request, continuing a caller's ``traceparent``),
Celery (the trace goes on in the worker: the context travels in the task's headers) and
threading (a chat turn's tool calls run in a thread pool and keep their parent). OMNI2 adds
``omni2.llm_turn`` per model call (``core.metrics.llm_call``) and ``omni2.tool_call`` per tool
call (``tool_call_span``: attributes ``mcp``, ``tool``, ``omni2.outcome``); the anthropic and mcp
SDKs put their own spans under those (``anthropic.messages.create``, ``MCP send tools/call``).
"""

import functools
import inspect
from contextlib import nullcontext

from django.conf import settings

_tracer = None  # the SDK's tracer once tracing_setup has run with tracing on
_trace = None  # the opentelemetry.trace module, then
_NO_SPAN = nullcontext()
_FAILED = frozenset({"error", "timeout", "unavailable"})


def tracing_enabled() -> bool:
    return _tracer is not None


def tracing_setup(*, process: str) -> bool:
    """Install the provider, the exporter and the instrumentations (once); whether tracing is on.
    ``process`` ("web", "worker") becomes the resource attribute ``omni2.process``."""
    global _tracer, _trace
    if _tracer is not None or not settings.OMNI2_TRACING:
        return _tracer is not None
    # Imported only now: with tracing off, none of this is ever loaded.
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.threading import ThreadingInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create(
        {"service.name": settings.OMNI2_TRACING_SERVICE_NAME, "omni2.process": process}
    )
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    DjangoInstrumentor().instrument()
    CeleryInstrumentor().instrument()
    ThreadingInstrumentor().instrument()
    _trace, _tracer = trace, trace.get_tracer("omni2")
    return True


def span(name: str, attributes: dict):
    """A context manager: a current span ``name`` when tracing is on, else nothing."""
    if _tracer is None:
        return _NO_SPAN
    return _tracer.start_as_current_span(name, attributes=attributes)


def tool_call_span(function):
    """Decorates ``tool_call_execute``/``tool_call_aexecute`` (keyword arguments ``mcp``, ``tool``;
    they return a ``ToolCallOutcome``): with tracing on, the call runs in an ``omni2.tool_call``
    span that ends with its outcome."""
    if inspect.iscoroutinefunction(function):

        @functools.wraps(function)
        async def traced_async(**call):
            if _tracer is None:
                return await function(**call)
            with _tool_span(call) as current:
                return _ended(current, await function(**call))

        return traced_async

    @functools.wraps(function)
    def traced(**call):
        if _tracer is None:
            return function(**call)
        with _tool_span(call) as current:
            return _ended(current, function(**call))

    return traced


def _tool_span(call: dict):
    attributes = {"mcp": str(call.get("mcp", "")), "tool": str(call.get("tool", ""))}
    return _tracer.start_as_current_span("omni2.tool_call", attributes=attributes)


def _ended(current, outcome):
    status = str(outcome.record.status)
    current.set_attribute("omni2.outcome", status)
    if outcome.error_code:
        current.set_attribute("error.type", outcome.error_code)
    if status in _FAILED:
        current.set_status(_trace.StatusCode.ERROR, outcome.message[:200])
    return outcome


def annotate(**attributes) -> None:
    """Attributes for the current span (e.g. the request id on the request's span)."""
    if _tracer is not None:
        _trace.get_current_span().set_attributes(attributes)


def current_trace_ids() -> dict:
    """``{"trace_id", "span_id"}`` of the current span for a log line; {} with tracing off."""
    if _tracer is None:
        return {}
    context = _trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}"}
