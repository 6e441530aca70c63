"""Log lines: secrets masked before anything is written, plain or JSON, with the request id.

The request id lives in a context variable: ``core.middleware.RequestIdMiddleware`` sets it for a
Django request, the gateway for a call it answers on the event loop, ``omni2.celery`` for a task
from the id its publisher carried. The audit row, the error body, the ``X-Request-ID`` answer
header and every log line of the request read the same value from here.
"""

import json
import logging
import re
import uuid
from contextvars import ContextVar, Token
from datetime import UTC, datetime

from core.tracing import current_trace_ids

_PATTERNS = [
    re.compile(r"(xox[abposr]-[A-Za-z0-9-]+)"),  # Slack tokens
    re.compile(r"(sk-(?:ant-)?[A-Za-z0-9_-]{8,})"),  # Anthropic / OpenAI keys
    re.compile(r"(omni2_[A-Za-z0-9]{8}_[A-Za-z0-9]{16,})"),  # OMNI2 API keys
    re.compile(r"(?i)(bearer\s+)([A-Za-z0-9._~+/=-]{8,})"),
]


def redact_text(text: str) -> str:
    for pattern in _PATTERNS:
        if pattern.groups == 2:
            text = pattern.sub(lambda m: m.group(1) + "[REDACTED]", text)
        else:
            text = pattern.sub("[REDACTED]", text)
    return text


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact_text(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


# --- the request id ---------------------------------------------------------------------

_request_id: ContextVar[str] = ContextVar("omni2_request_id", default="")
# What a caller may send as its own X-Request-ID: short, and nothing that could forge a log
# line or a header (no spaces, quotes or control characters). Anything else gets a new id.
_CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=@-]{1,64}")


def request_id_get() -> str:
    """The id of the request (or task) this code runs for; "" outside one."""
    return _request_id.get()


def request_id_set(value: str) -> Token:
    return _request_id.set(value)


def request_id_reset(token: Token) -> None:
    _request_id.reset(token)


def request_id_from(header: str | None) -> str:
    """The caller's ``X-Request-ID`` when it is a well-formed id, else a new one (32 hex)."""
    if header and _CLIENT_REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


# --- formatters -------------------------------------------------------------------------


class PlainFormatter(logging.Formatter):
    """Django's plain lines, with the traceback masked too (the filter sees only the message)."""

    def formatException(self, ei) -> str:
        return redact_text(super().formatException(ei))


class JsonFormatter(logging.Formatter):
    """One JSON object per line (``OMNI2_LOG_FORMAT=json``): time, level, logger, message,
    request_id, and when present the trace ids (``core.tracing``) and the masked traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact_text(record.getMessage()),
            "request_id": request_id_get() or _request_id_of(record),
            **current_trace_ids(),
        }
        if record.exc_info:
            line["exc_info"] = redact_text(self.formatException(record.exc_info))
        elif record.exc_text:
            line["exc_info"] = redact_text(record.exc_text)
        return json.dumps(line, ensure_ascii=False, default=str)


def _request_id_of(record: logging.LogRecord) -> str:
    # Django logs a 4xx/5xx answer ("Not Found: /x") after the middleware has handed the id
    # back, with the request attached to the record.
    return getattr(getattr(record, "request", None), "request_id", "")
