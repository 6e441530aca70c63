"""A local HTTP server that speaks the part of Slack's Web API OMNI2 uses.

Tests point ``SLACK_API_URL`` at ``server.api_url`` and drive the real ``slack_sdk``
client against it. It binds 127.0.0.1 on a free port, so a Celery worker process
reaches it too. Every call is recorded for assertions; ``fail_next`` makes the next
call(s) to a method answer 429 with ``Retry-After`` or an ``ok: false`` error.
"""

import hashlib
import hmac
import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

BOT_USER_ID = "UOMNI2BOT"
BOT_ID = "BOMNI2"
TEAM_ID = "T0OMNI2"


def sign_request(body: bytes | str, secret: str, timestamp: int | str | None = None) -> dict:
    """Headers Slack would send with ``body``, signed with ``secret`` (v0 HMAC-SHA256)."""
    raw = body.encode() if isinstance(body, str) else body
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(
        secret.encode(), b"v0:" + ts.encode() + b":" + raw, hashlib.sha256
    ).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


@dataclass
class Call:
    method: str
    params: dict
    at: float = field(default_factory=time.monotonic)


@dataclass
class Failure:
    status: int = 200
    error: str = ""
    retry_after: int = 0


class FakeSlack:
    def __init__(self, *, token: str = "xoxb-test-token"):
        self.token = token
        self._lock = threading.Lock()
        self._ts = itertools.count(1)
        self.reset()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # --- life cycle -------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def start(self) -> "FakeSlack":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reset(self) -> None:
        with self._lock:
            self.calls: list[Call] = []
            self.users: dict[str, dict] = {}
            self.messages: list[dict] = []
            self.responses: list[Call] = []
            self.uploads: dict[str, dict] = {}
            self.home_views: dict[str, list[dict]] = {}  # views.publish: user id -> views, in order
            self._failures: dict[str, list[Failure]] = {}

    # --- set-up and assertions -----------------------------------------------------
    def add_user(self, user_id: str, *, email: str | None, name: str = "") -> None:
        profile = {"email": email} if email else {}
        self.users[user_id] = {"id": user_id, "name": name or user_id.lower(), "profile": profile}

    def fail_next(
        self,
        method: str,
        *,
        status: int = 200,
        error: str = "fatal_error",
        retry_after: int = 0,
        times: int = 1,
    ) -> None:
        """The next ``times`` calls to ``method`` fail: 429 + Retry-After, or ``ok: false``."""
        with self._lock:
            self._failures.setdefault(method, []).extend(
                Failure(status, error if status == 200 else "ratelimited", retry_after)
                for _ in range(times)
            )

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def response_url(self) -> str:
        return f"{self.url}/response/{uuid.uuid4().hex}"

    def posted(self, url: str) -> list[dict]:
        """JSON bodies POSTed to one response_url."""
        with self._lock:
            return [c.params for c in self.responses if c.method == url]

    def message(self, channel: str, ts: str) -> dict | None:
        with self._lock:
            return next(
                (m for m in self.messages if m["channel"] == channel and m["ts"] == ts), None
            )

    def wait_for(self, predicate, timeout: float = 30.0, what: str = "condition"):
        """Poll ``predicate()`` until it returns something truthy; fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(
            f"fake Slack: timed out waiting for {what}; calls: {[c.method for c in self.calls]}"
        )

    # --- request handling -------------------------------------------------------------
    def _next_failure(self, method: str) -> Failure | None:
        with self._lock:
            queue = self._failures.get(method) or []
            return queue.pop(0) if queue else None

    def _record(self, method: str, params: dict) -> None:
        with self._lock:
            self.calls.append(Call(method, params))

    def _next_ts(self) -> str:
        return f"1700000000.{next(self._ts):06d}"

    def handle_api(self, method: str, params: dict, auth: str) -> tuple[int, dict, dict]:
        self._record(method, params)
        failure = self._next_failure(method)
        if failure and failure.status != 200:
            return (
                failure.status,
                {"ok": False, "error": failure.error},
                {"Retry-After": str(failure.retry_after)},
            )
        if failure:
            return 200, {"ok": False, "error": failure.error}, {}
        if auth != f"Bearer {self.token}":
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        handler = getattr(self, "api_" + method.replace(".", "_"), None)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method"}, {}
        return 200, handler(params), {}

    def api_auth_test(self, params: dict) -> dict:
        return {
            "ok": True,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "team_id": TEAM_ID,
            "user": "omni2",
            "url": "https://omni2-test.slack.com/",
        }

    def api_users_info(self, params: dict) -> dict:
        user = self.users.get(params.get("user", ""))
        return {"ok": True, "user": user} if user else {"ok": False, "error": "user_not_found"}

    def api_conversations_open(self, params: dict) -> dict:
        return {"ok": True, "channel": {"id": "D" + str(params.get("users", "")).lstrip("UW")}}

    def api_chat_postMessage(self, params: dict) -> dict:
        if not params.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        message = {
            "channel": params["channel"],
            "ts": self._next_ts(),
            "text": params.get("text", ""),
            "blocks": params.get("blocks"),
            "thread_ts": params.get("thread_ts"),
            "history": [],
        }
        with self._lock:
            self.messages.append(message)
        return {"ok": True, "channel": message["channel"], "ts": message["ts"], "message": message}

    def api_chat_update(self, params: dict) -> dict:
        message = self.message(params.get("channel", ""), params.get("ts", ""))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        with self._lock:
            message["history"].append(message["text"])
            message.update(text=params.get("text", ""), blocks=params.get("blocks"))
        return {"ok": True, "channel": message["channel"], "ts": message["ts"]}

    def api_chat_postEphemeral(self, params: dict) -> dict:
        return {"ok": True, "message_ts": self._next_ts()}

    def api_views_publish(self, params: dict) -> dict:
        view = params.get("view")
        view = json.loads(view) if isinstance(view, str) else view
        if not params.get("user_id") or not isinstance(view, dict) or view.get("type") != "home":
            return {"ok": False, "error": "invalid_arguments"}
        with self._lock:
            self.home_views.setdefault(params["user_id"], []).append(view)
        return {"ok": True, "view": {"id": "V" + uuid.uuid4().hex[:10].upper(), **view}}

    def uploads_to(self, channel: str) -> list[dict]:
        """Files completed into ``channel`` (a DM id for files sent to a person)."""
        with self._lock:
            return [u for u in self.uploads.values() if u["channel"] == channel]

    def api_files_getUploadURLExternal(self, params: dict) -> dict:
        file_id = "F" + uuid.uuid4().hex[:10].upper()
        with self._lock:
            self.uploads[file_id] = {
                "filename": params.get("filename"),
                "length": params.get("length"),
                "content": None,
                "channel": None,
                "thread_ts": None,
            }
        return {"ok": True, "file_id": file_id, "upload_url": f"{self.url}/upload/{file_id}"}

    def api_files_completeUploadExternal(self, params: dict) -> dict:
        files = params.get("files")
        files = json.loads(files) if isinstance(files, str) else files or []
        with self._lock:
            for item in files:
                upload = self.uploads.get(item.get("id"))
                if upload is None or upload["content"] is None:
                    return {"ok": False, "error": "file_not_found"}
                upload.update(
                    channel=params.get("channel_id"),
                    thread_ts=params.get("thread_ts"),
                    title=item.get("title"),
                )
        return {
            "ok": True,
            "files": [{"id": item["id"], "title": item.get("title")} for item in files],
        }

    def handle_upload(self, file_id: str, body: bytes) -> int:
        with self._lock:
            upload = self.uploads.get(file_id)
            if upload is None:
                return 404
            upload["content"] = body
        return 200

    def handle_response_url(self, path: str, payload: dict) -> None:
        with self._lock:
            self.responses.append(Call(f"{self.url}{path}", payload))


def _parse_params(handler: BaseHTTPRequestHandler, body: bytes) -> dict:
    params = dict(parse_qsl(urlsplit(handler.path).query))
    content_type = handler.headers.get("Content-Type", "")
    if "json" in content_type and body:
        params.update(json.loads(body))
    elif body:
        params.update(parse_qsl(body.decode()))
    for key in ("blocks", "attachments"):  # form posts carry these as JSON strings
        if isinstance(params.get(key), str):
            params[key] = json.loads(params[key])
    return params


def _handler_for(fake: FakeSlack):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # keep test output quiet
            pass

        def _reply(self, status: int, body: bytes, content_type: str, headers: dict | None = None):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def _dispatch(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            path = urlsplit(self.path).path
            if path.startswith("/api/"):
                params = _parse_params(self, body)
                status, payload, headers = fake.handle_api(
                    path.removeprefix("/api/"), params, self.headers.get("Authorization", "")
                )
                self._reply(status, json.dumps(payload).encode(), "application/json", headers)
            elif path.startswith("/upload/"):
                self._reply(
                    fake.handle_upload(path.removeprefix("/upload/"), body), b"OK", "text/plain"
                )
            elif path.startswith("/response/"):
                fake.handle_response_url(path, json.loads(body or b"{}"))
                self._reply(200, b"ok", "text/plain")
            else:
                self._reply(404, b"not found", "text/plain")

        do_GET = do_POST = _dispatch

    return Handler
