"""OpenTelemetry: a chat question asked over HTTP and answered in a Celery worker is one trace,
exported over OTLP/HTTP to a local collector (a test server decoding the protobuf): the web
request, the task's publish and run, one span per model turn and one per tool call."""

import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from django.conf import settings
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from permissions.services import api_key_create
from testing.celery_worker import database_url_for_tests, running_worker
from testing.fake_llm import text, tool_uses
from testing.fixtures.llm import fake_llm_env
from testing.mcp_servers import free_port

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

# The web process: omni2.asgi (which sets tracing up) under uvicorn, publishing to the queue of
# the test's worker.
WEB = """
import os, sys
import uvicorn
os.environ["DJANGO_SETTINGS_MODULE"] = "omni2.settings"
from omni2.asgi import application
from omni2.celery import app
app.conf.task_default_queue = sys.argv[2]
uvicorn.run(application, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


class Collector:
    """An OTLP/HTTP trace receiver: every span it was sent, with its process and attributes."""

    def __init__(self):
        self.spans: list[dict] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                collector.receive(self.path, body)
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def receive(self, path: str, body: bytes) -> None:
        assert path == "/v1/traces"
        request = ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            resource = _attributes(resource_spans.resource.attributes)
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    self.spans.append(
                        {
                            "name": span.name,
                            "trace_id": span.trace_id.hex(),
                            "span_id": span.span_id.hex(),
                            "parent_id": span.parent_span_id.hex(),
                            "attributes": _attributes(span.attributes),
                            "process": resource.get("omni2.process"),
                            "service": resource.get("service.name"),
                        }
                    )

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _attributes(pairs) -> dict:
    return {kv.key: getattr(kv.value, kv.value.WhichOneof("value")) for kv in pairs}


@pytest.fixture(scope="module")
def collector():
    server = Collector()
    yield server
    server.close()


@pytest.fixture(scope="module")
def traced(collector, fake_llm_server, django_db_setup, django_db_blocker):
    """A worker and a web server (subprocesses) exporting their spans to ``collector``."""
    env = {
        **fake_llm_env(fake_llm_server),
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
        "OTEL_BSP_SCHEDULE_DELAY": "100",  # ms: spans leave within a moment of ending
        "OTEL_SERVICE_NAME": "omni2-test",
    }
    with django_db_blocker.unblock(), running_worker(extra_env=env) as worker:
        port = free_port()
        web = subprocess.Popen(
            [sys.executable, "-c", WEB, str(port), worker.queue],
            cwd=settings.BASE_DIR,
            env={**os.environ, **env, "DATABASE_URL": database_url_for_tests()},
        )
        try:
            yield _wait_for_web(f"http://127.0.0.1:{port}", web)
        finally:
            web.terminate()
            web.wait(timeout=20)


def _wait_for_web(url: str, web: subprocess.Popen) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and web.poll() is None:
        try:
            if httpx.get(f"{url}/health", timeout=5).status_code in (200, 503):
                return url
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError("the traced web server did not start")


def ask(url: str, api_key: str) -> str:
    headers = {"Authorization": f"Bearer {api_key}"}
    response = httpx.post(
        f"{url}/api/chat/ask/async", json={"message": "health?"}, headers=headers, timeout=30
    )
    assert response.status_code == 202, response.text
    job = f"{url}/api/jobs/{response.json()['job_id']}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        body = httpx.get(job, headers=headers, timeout=30).json()
        if body["status"] in ("succeeded", "failed"):
            assert body["status"] == "succeeded", body
            return response.headers["X-Request-ID"]
        time.sleep(0.1)
    raise AssertionError("the job did not finish")


def test_a_chat_job_is_one_trace_from_the_web_request_to_the_tool_call(
    traced, collector, fake_llm, shared_mcp_servers, register_mcp, make_user
):
    register_mcp("test_mcp", shared_mcp_servers["http"])
    _, api_key = api_key_create(user=make_user(role="dba"))
    fake_llm.script(
        tool_uses(  # two calls in one turn: they run side by side in a thread pool
            ("test_mcp__get_database_health", {"database": "dev_db"}),
            ("test_mcp__get_database_health", {"database": "prod_db"}),
        ),
        text("Healthy."),
    )
    request_id = ask(traced, api_key)
    trace = _trace_of(collector, request_id)
    names = [span["name"] for span in trace]
    by_name = {span["name"]: span for span in trace}
    # The web process: the request's server span (with the request id) and the publish.
    [request] = [s for s in trace if s["attributes"].get("omni2.request_id") == request_id]
    assert request["process"] == "web" and request["parent_id"] == ""
    assert by_name["apply_async/orchestration.chat_job_run"]["process"] == "web"
    # The worker: the task, two model turns (each with the SDK's own span), two tool calls.
    run = by_name["run/orchestration.chat_job_run"]
    assert run["process"] == "worker"
    turns = [s for s in trace if s["name"] == "omni2.llm_turn"]
    assert len(turns) == 2 and names.count("anthropic.messages.create") == 2
    assert {t["attributes"]["gen_ai.request.model"] for t in turns} == {
        settings.OMNI2_DEFAULT_MODEL
    }
    calls = [s for s in trace if s["name"] == "omni2.tool_call"]
    assert len(calls) == 2
    for call in calls:
        assert call["attributes"] == {
            "mcp": "test_mcp",
            "tool": "get_database_health",
            "omni2.outcome": "success",
        }
        assert run in _ancestors(call, trace) and _ancestors(call, trace)[-1] is request
        # The MCP SDK's own span for the call nests under OMNI2's.
        assert any(
            s["parent_id"] == call["span_id"] and s["name"].startswith("MCP send tools/call")
            for s in trace
        )
    assert {s["service"] for s in trace} == {"omni2-test"}


def _trace_of(collector: Collector, request_id: str, timeout: float = 30.0) -> list[dict]:
    """Every span of the trace whose server span carries ``request_id``, once all have come."""
    deadline = time.monotonic() + timeout
    while True:
        roots = [
            s for s in collector.spans if s["attributes"].get("omni2.request_id") == request_id
        ]
        spans = [s for s in collector.spans if roots and s["trace_id"] == roots[0]["trace_id"]]
        if sum(s["name"] == "omni2.llm_turn" for s in spans) == 2 and any(
            s["name"] == "run/orchestration.chat_job_run" for s in spans
        ):
            return spans
        if time.monotonic() > deadline:
            raise AssertionError(f"spans so far: {[s['name'] for s in spans]}")
        time.sleep(0.1)


def _ancestors(span: dict, trace: list[dict]) -> list[dict]:
    by_id = {s["span_id"]: s for s in trace}
    chain = []
    while span["parent_id"] in by_id:
        span = by_id[span["parent_id"]]
        chain.append(span)
    return chain
