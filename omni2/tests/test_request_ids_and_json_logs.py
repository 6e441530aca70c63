"""One request id per request: the X-Request-ID answer header, the error body, the audit row and
the request's JSON log lines all carry the same one."""

import json
import logging
import os
import subprocess
import sys

import pytest
from django.conf import settings

from audit.models import AuditLog
from core.logging import JsonFormatter, RedactSecretsFilter, request_id_reset, request_id_set

pytestmark = pytest.mark.django_db

HEX32 = set("0123456789abcdef")


@pytest.fixture
def dba(shared_mcp_servers, register_mcp, authed_client):
    register_mcp("test_mcp", shared_mcp_servers["http"])
    return authed_client(role="dba")


def call_tool(client, tool, arguments, **headers):
    body = {"mcp": "test_mcp", "tool": tool, "arguments": arguments}
    return client.post("/api/mcp/tools/call", body, format="json", **headers)


def json_line(record: logging.LogRecord) -> dict:
    RedactSecretsFilter().filter(record)  # the console handler's filter, then its formatter
    return json.loads(JsonFormatter().format(record))


def test_a_callers_request_id_is_in_the_header_the_error_the_audit_row_and_the_log(dba, caplog):
    caplog.set_level(logging.WARNING, logger="django.request")
    response = call_tool(dba, "drop_table", {"name": "users"}, HTTP_X_REQUEST_ID="client-req-42")
    assert response.status_code == 403
    assert response["X-Request-ID"] == "client-req-42"
    error = response.json()["error"]
    assert error["request_id"] == "client-req-42"
    assert AuditLog.objects.get(pk=error["audit_id"]).request_id == "client-req-42"
    [logged] = [r for r in caplog.records if r.getMessage().startswith("Forbidden")]
    line = json_line(logged)
    assert line["request_id"] == "client-req-42" and line["level"] == "WARNING"
    assert line["logger"] == "django.request" and "/api/mcp/tools/call" in line["message"]


@pytest.mark.parametrize("sent", [None, "has spaces in it", "x" * 65, 'quote"d'])
def test_a_missing_or_malformed_request_id_is_replaced_by_a_new_one(dba, sent):
    headers = {} if sent is None else {"HTTP_X_REQUEST_ID": sent}
    response = call_tool(dba, "get_database_health", {"database": "dev_db"}, **headers)
    assert response.status_code == 200
    request_id = response["X-Request-ID"]
    assert len(request_id) == 32 and set(request_id) <= HEX32
    assert AuditLog.objects.get(pk=response.json()["audit_id"]).request_id == request_id


def test_two_requests_get_two_ids(dba):
    first = call_tool(dba, "get_database_health", {"database": "dev_db"})["X-Request-ID"]
    second = call_tool(dba, "get_database_health", {"database": "dev_db"})["X-Request-ID"]
    assert first != second


def test_an_error_outside_drf_carries_the_request_id_too(client):
    response = client.get("/no/such/page", HTTP_X_REQUEST_ID="lost-1")
    assert response.status_code == 404
    assert response.json()["error"] == {
        "code": "not_found",
        "message": "Not found.",
        "request_id": "lost-1",
    }


def test_a_json_line_masks_secrets_in_the_message_and_the_traceback():
    token = request_id_set("req-secret-1")
    try:
        try:
            raise RuntimeError("upstream said: Bearer abcdefghijklmnop1234")
        except RuntimeError:
            record = logging.makeLogRecord(
                {
                    "name": "omni2.test",
                    "levelno": logging.ERROR,
                    "levelname": "ERROR",
                    "msg": "key %s leaked",
                    "args": ("sk-ant-api03-0123456789abcdef",),
                    "exc_info": sys.exc_info(),
                }
            )
        line = json_line(record)
    finally:
        request_id_reset(token)
    assert line["message"] == "key [REDACTED] leaked"
    assert "RuntimeError" in line["exc_info"] and "abcdefghijklmnop1234" not in line["exc_info"]
    assert line["request_id"] == "req-secret-1"
    assert "trace_id" not in line  # tracing is off in the test process


def test_an_unknown_log_format_stops_the_start():
    env = {**os.environ, "OMNI2_LOG_FORMAT": "xml"}
    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=settings.BASE_DIR,
        env={**env, "DJANGO_SETTINGS_MODULE": "omni2.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "OMNI2_LOG_FORMAT is 'xml'; use plain or json." in done.stderr
