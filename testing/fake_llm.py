"""A local HTTP server that speaks the Anthropic Messages API and OpenAI chat completions.

Tests drive the real SDKs against it. It listens on 127.0.0.1:<free port>, so a Celery
worker in another process reaches it like the real API. Each test scripts it::

    server.script(tool_use("db__get_health", {"database": "x"}), text("All good."))
    server.script(error(429, retry_after_ms=10), text("ok"))
    server.respond_with(lambda body: text(f"{len(body['tools'])} tools"))

Steps are consumed in order, one per request; when the queue is empty the ``default``
step answers (a 500 that says so, unless a test set one). Every request is recorded
(``server.requests``) before it is answered, including ones the client gave up on.
Scripts can also be set over HTTP (``POST /_control/script``), for a server that runs as
a subprocess: ``python -m testing.fake_llm --port 8765 --api-key sk-test --delay-ms 200``.
"""

from __future__ import annotations

import argparse
import json
import math
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ANTHROPIC_PATH = "/v1/messages"
OPENAI_PATH = "/v1/chat/completions"

_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}


@dataclass
class Step:
    """One scripted answer. ``status`` other than 200 makes it an error response."""

    text: str = ""
    tool_uses: list[dict[str, Any]] = field(default_factory=list)  # {"name", "input", "id"?}
    status: int = 200
    message: str = ""  # the error's message
    headers: dict[str, str] = field(default_factory=dict)
    delay_ms: int = 0
    usage: dict[str, int] = field(default_factory=dict)  # canonical names, see Usage
    stop_reason: str = ""
    body: dict[str, Any] | None = None  # sent verbatim (e.g. a JSON fixture) when set


def text(answer: str, **options) -> Step:
    return Step(text=answer, **options)


def tool_use(name: str, input: dict | None = None, **options) -> Step:
    return Step(tool_uses=[{"name": name, "input": input or {}}], **options)


def tool_uses(*calls: tuple[str, dict], **options) -> Step:
    return Step(tool_uses=[{"name": name, "input": args} for name, args in calls], **options)


def error(
    status: int,
    *,
    message: str = "",
    retry_after_ms: int | None = None,
    should_retry: bool | None = None,
    **options,
) -> Step:
    headers = dict(options.pop("headers", {}))
    if retry_after_ms is not None:
        headers["retry-after-ms"] = str(retry_after_ms)
        headers["retry-after"] = str(math.ceil(retry_after_ms / 1000))
    if should_retry is not None:
        headers["x-should-retry"] = "true" if should_retry else "false"
    return Step(
        status=status, message=message or f"Scripted error {status}", headers=headers, **options
    )


def raw(body: dict, status: int = 200, **options) -> Step:
    return Step(body=body, status=status, **options)


SCRIPT_EXHAUSTED = error(
    500, message="fake LLM: the test scripted no answer for this request", should_retry=False
)

Responder = Callable[[dict], Step]


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class FakeLlmServer:
    """Start with ``with FakeLlmServer(api_key=...) as server:`` or ``start()``/``stop()``."""

    def __init__(self, *, api_key: str = "sk-ant-test-key", host: str = "127.0.0.1", port: int = 0):
        self.api_key = api_key
        self.default: Step | Responder = SCRIPT_EXHAUSTED
        self.requests: list[RecordedRequest] = []
        self._queue: deque[Step | Responder] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = ThreadingHTTPServer((host, port), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.fake = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    # --- scripting (thread-safe; callable from the test while requests are served) ---
    def script(self, *steps: Step | Responder) -> None:
        with self._lock:
            self._queue.extend(steps)

    def respond_with(self, responder: Step | Responder) -> None:
        """Answer every request not covered by the script with this step or callable."""
        with self._lock:
            self.default = responder

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self.requests.clear()
            self.default = SCRIPT_EXHAUSTED

    def requests_to(self, path: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def record(self, recorded: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(recorded)

    def next_step(self, recorded: RecordedRequest) -> Step:
        with self._lock:
            self.requests.append(recorded)
            source = self._queue.popleft() if self._queue else self.default
        return source(recorded.body) if callable(source) else source

    # --- lifecycle ---
    def start(self) -> FakeLlmServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="fake-llm", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers that are sleeping through a scripted delay
        self._httpd.shutdown()
        self._httpd.server_close()

    def sleep(self, delay_ms: int) -> None:
        self._stopping.wait(delay_ms / 1000)

    def __enter__(self) -> FakeLlmServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# --- rendering ---------------------------------------------------------------------------


def _usage(step: Step) -> dict[str, int]:
    usage = {
        "input_tokens": 10,
        "output_tokens": 5,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
    }
    return {**usage, **step.usage}


def anthropic_body(step: Step, request: dict) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": step.text}] if step.text else []
    content += [
        {
            "type": "tool_use",
            "id": call.get("id") or f"toolu_{uuid.uuid4().hex[:20]}",
            "name": call["name"],
            "input": call.get("input", {}),
        }
        for call in step.tool_uses
    ]
    usage = _usage(step)
    return {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": request.get("model", "claude-test"),
        "content": content,
        "stop_reason": step.stop_reason or ("tool_use" if step.tool_uses else "end_turn"),
        "stop_sequence": None,
        "usage": {
            "input_tokens": usage["input_tokens"],
            "output_tokens": usage["output_tokens"],
            "cache_read_input_tokens": usage["cache_read_tokens"],
            "cache_creation_input_tokens": usage["cache_write_tokens"],
        },
    }


def openai_body(step: Step, request: dict) -> dict[str, Any]:
    calls = [
        {
            "id": call.get("id") or f"call_{uuid.uuid4().hex[:20]}",
            "type": "function",
            "function": {"name": call["name"], "arguments": json.dumps(call.get("input", {}))},
        }
        for call in step.tool_uses
    ]
    message: dict[str, Any] = {"role": "assistant", "content": step.text or None}
    if calls:
        message["tool_calls"] = calls
    usage = _usage(step)
    prompt = usage["input_tokens"] + usage["cache_read_tokens"] + usage["cache_write_tokens"]
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:20]}",
        "object": "chat.completion",
        "created": 0,
        "model": request.get("model", "test-model"),
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": step.stop_reason or ("tool_calls" if calls else "stop"),
            }
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": usage["output_tokens"],
            "total_tokens": prompt + usage["output_tokens"],
            "prompt_tokens_details": {
                "cached_tokens": usage["cache_read_tokens"],
                "cache_write_tokens": usage["cache_write_tokens"],
            },
        },
    }


def error_body(path: str, status: int, message: str) -> dict[str, Any]:
    if path == OPENAI_PATH:
        kind = "invalid_request_error" if status < 500 else "server_error"
        return {"error": {"message": message, "type": kind, "param": None, "code": None}}
    return {
        "type": "error",
        "error": {"type": _ANTHROPIC_ERROR_TYPES.get(status, "api_error"), "message": message},
        "request_id": f"req_{uuid.uuid4().hex[:20]}",
    }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDKs' pooled clients expect
    # Headers and body are two writes; with Nagle on, delayed ACKs add ~40 ms per answer.
    disable_nagle_algorithm = True
    server_version = "fake-llm/1"

    @property
    def fake(self) -> FakeLlmServer:
        return self.server.fake  # type: ignore[attr-defined]

    def log_message(self, format, *args):  # quiet: tests read server.requests instead
        pass

    def do_POST(self):
        body = self._read_json()
        if self.path.startswith("/_control/"):
            return self._control(body) if self._authorized() else self._send(401, {"ok": False})
        if self.path not in (ANTHROPIC_PATH, OPENAI_PATH):
            return self._send(404, error_body(self.path, 404, f"no route {self.path}"))
        recorded = RecordedRequest(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        if not self._authorized():
            self.fake.record(recorded)  # a refused key still counts as a request seen
            return self._send(401, error_body(self.path, 401, "invalid x-api-key"))
        step = self.fake.next_step(recorded)
        if step.delay_ms:
            self.fake.sleep(step.delay_ms)
        self._answer(step, body)

    def do_GET(self):
        if self.path == "/_control/requests" and self._authorized():
            with self.fake._lock:
                recorded = [asdict(r) for r in self.fake.requests]
            return self._send(200, {"requests": recorded})
        self._send(404, error_body(self.path, 404, f"no route {self.path}"))

    def _answer(self, step: Step, request: dict) -> None:
        if step.body is not None:
            return self._send(step.status, step.body, step.headers)
        if step.status != 200:
            return self._send(
                step.status, error_body(self.path, step.status, step.message), step.headers
            )
        render = openai_body if self.path == OPENAI_PATH else anthropic_body
        self._send(200, render(step, request), step.headers)

    def _control(self, body: dict) -> None:
        if self.path == "/_control/reset":
            self.fake.reset()
        elif self.path == "/_control/script":
            self.fake.script(*(Step(**step) for step in body.get("steps", [])))
            if body.get("default"):
                self.fake.respond_with(Step(**body["default"]))
        else:
            return self._send(404, error_body(self.path, 404, f"no route {self.path}"))
        self._send(200, {"ok": True})

    def _authorized(self) -> bool:
        key = self.fake.api_key
        bearer = self.headers.get("authorization", "")
        return self.headers.get("x-api-key") == key or bearer == f"Bearer {key}"

    def _read_json(self) -> dict:
        length = int(self.headers.get("content-length") or 0)
        raw_body = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw_body or b"{}")
        except json.JSONDecodeError:
            return {"_unparsable": raw_body.decode("utf-8", "replace")}

    def _send(self, status: int, payload: dict, headers: dict | None = None) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.send_header("request-id", f"req_{uuid.uuid4().hex[:20]}")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (a timeout test); nothing left to tell it.
            self.close_connection = True


def main() -> None:
    parser = argparse.ArgumentParser(description="A scripted local Anthropic/OpenAI API server.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--api-key", default="sk-ant-test-key")
    parser.add_argument("--delay-ms", type=int, default=0, help="delay of the default answer")
    parser.add_argument("--text", default="Hello from the fake LLM.", help="the default answer")
    args = parser.parse_args()
    server = FakeLlmServer(api_key=args.api_key, port=args.port)
    server.respond_with(text(args.text, delay_ms=args.delay_ms))
    print(server.url, flush=True)
    try:
        server._httpd.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
