"""Only a request signed with our secret, within five minutes, gets past the door."""

import json
import time

import pytest

from slackapp.dedupe import delivery_state
from testing.fake_slack import sign_request

from .conftest import SIGNING_SECRET, SlackSender, event_payload

pytestmark = pytest.mark.django_db


def _flip_one_byte(body: bytes) -> bytes:
    middle = len(body) // 2
    return body[:middle] + bytes([body[middle] ^ 0x01]) + body[middle + 1 :]


def _bad_headers(body: bytes) -> dict[str, dict]:
    now = int(time.time())
    valid = sign_request(body, SIGNING_SECRET)
    return {
        "wrong secret": sign_request(body, "not-our-secret"),
        "stale timestamp": sign_request(body, SIGNING_SECRET, timestamp=now - 360),
        "future timestamp": sign_request(body, SIGNING_SECRET, timestamp=now + 360),
        "non-numeric timestamp": {**valid, "X-Slack-Request-Timestamp": "12a4"},
        "5000-digit timestamp": {**valid, "X-Slack-Request-Timestamp": "9" * 5000},
        "negative timestamp": {**valid, "X-Slack-Request-Timestamp": str(-now)},
        "malformed signature": {**valid, "X-Slack-Signature": "v0=zz" + "0" * 62},
        "5000-char signature": {**valid, "X-Slack-Signature": "v0=" + "a" * 5000},
        "missing signature": {"X-Slack-Request-Timestamp": valid["X-Slack-Request-Timestamp"]},
        "missing timestamp": {"X-Slack-Signature": valid["X-Slack-Signature"]},
        "missing both": {},
    }


@pytest.mark.parametrize("path", ["/slack/events", "/slack/commands", "/slack/interactions"])
def test_it_refuses_every_bad_signature_with_401_and_queues_nothing(
    client, fake_slack, private_queue, path
):
    payload = event_payload()
    body = json.dumps(payload).encode()
    cases = {**_bad_headers(body), "one body byte flipped": None}
    for name, headers in cases.items():
        sent = _flip_one_byte(body) if headers is None else body
        headers = sign_request(body, SIGNING_SECRET) if headers is None else headers
        response = client.post(path, data=sent, content_type="application/json", headers=headers)
        assert response.status_code == 401, name
        assert response.json()["error"]["code"] == "unauthenticated", name
    assert private_queue.count() == 0
    assert delivery_state(key=f"event:{payload['event_id']}") is None
    assert fake_slack.calls == []


def test_it_accepts_the_validly_signed_event_and_queues_one_task(slack, private_queue):
    payload = event_payload()
    response = slack.event(payload)
    assert response.status_code == 200
    assert private_queue.count() == 1
    assert delivery_state(key=f"event:{payload['event_id']}") == "pending"


def test_a_body_that_is_not_utf8_is_refused_not_crashed(client, fake_slack):
    body = b'{"type": "url_verification", "challenge": "\xff\xfe"}'
    response = client.post(
        "/slack/events",
        data=body,
        content_type="application/json",
        headers=sign_request(body, SIGNING_SECRET),
    )
    assert response.status_code == 401


def test_it_answers_503_when_no_signing_secret_is_configured(client, settings):
    settings.SLACK_SIGNING_SECRET = ""
    body = json.dumps(event_payload())
    response = client.post(
        "/slack/events",
        data=body,
        content_type="application/json",
        headers=sign_request(body, "anything"),
    )
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "slack_not_configured"


def test_a_get_is_refused_in_the_error_shape(client, fake_slack):
    response = client.get("/slack/events")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_a_signed_body_that_is_not_json_gets_400(slack):
    response = slack.post("/slack/events", "not json", "application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


def test_a_signature_made_with_another_secret_is_refused_even_if_well_formed(fake_slack):
    response = SlackSender(secret="someone-elses-secret").event(event_payload())
    assert response.status_code == 401
